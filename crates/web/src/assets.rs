//! The embedded stylesheet and script: compiled into the binary, nothing fetched elsewhere.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../assets/portcullis.css");
const JS: &str = include_str!("../assets/portcullis.js");

/// `GET /assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "portcullis.css" => ("text/css; charset=utf-8", CSS),
        "portcullis.js" => ("text/javascript; charset=utf-8", JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}
