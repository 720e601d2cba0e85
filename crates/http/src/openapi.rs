//! The OpenAPI 3.1 document, generated from the handlers' annotations as the router registers
//! them ([`crate::api_routes`]), so the document lists exactly the routes served. The committed
//! copy is `openapi/v1.json`; a test fails when they differ.

use std::sync::OnceLock;

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "portcullis", description = "Security settings of organizations, managed and enforced."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document before the routes add their paths: title, version, bearer authentication.
pub(crate) fn base_document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::api_routes().into_openapi()
}

/// The document as pretty JSON with a final newline (the committed form), built once.
pub fn document_json() -> String {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
        text.push('\n');
        text
    })
    .clone()
}
