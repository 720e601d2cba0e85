//! Request extractors: the authenticated caller, the client IP, the request context, JSON bodies
//! with field-level errors, and page queries.
//!
//! Invariants: a bearer token is only ever hashed (by the service), never logged; the client IP is
//! the socket address unless the socket peer is a configured trusted proxy, in which case it is
//! the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use portcullis_model::{Violation, codes};
use portcullis_service::{Caller, Context};
use portcullis_store::{MAX_PAGE, Page};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// The request id, set by the request-id middleware.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The authenticated caller and the request context for events.
pub struct Auth {
    /// Who calls.
    pub caller: Caller,
    /// Actor and request id.
    pub ctx: Context,
}

fn request_id(parts: &Parts) -> Option<String> {
    parts.extensions.get::<RequestId>().map(|r| r.0.clone())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::from(portcullis_service::ServiceError::Unauthenticated))?;
        let caller = state.service.authenticate(token).await?;
        let ctx = Context::new(caller.actor.clone(), request_id(parts));
        Ok(Auth { caller, ctx })
    }
}

/// A context for unauthenticated endpoints (login).
pub struct Anonymous(pub Context);

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Anonymous, ApiError> {
        Ok(Anonymous(Context::new("anonymous", request_id(parts))))
    }
}

/// The client's IP address.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ClientIp, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| {
                ApiError::from(portcullis_service::ServiceError::Internal(
                    "no peer address".into(),
                ))
            })?;
        Ok(ClientIp(client_ip(
            peer,
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok()),
            &state.trusted_proxies,
        )))
    }
}

/// The client IP given the socket peer, the `X-Forwarded-For` headers and the trusted proxies.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// A JSON body whose errors name the field (`value.invalid` with the JSON path).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v.starts_with("application/json") || v.contains("+json")
            });
        if !json_type {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a JSON body (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "bad_body", "The body could not be read"))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON with the path of the first error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ApiError::invalid(vec![Violation::new(
            field,
            codes::INVALID_JSON,
            err.into_inner().to_string(),
        )])
    })
}

/// `?after=&limit=` on every list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Cursor: the `next_after` of the previous page.
    pub after: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// Default page size.
pub const DEFAULT_PAGE: u32 = 50;

/// A page size: 1–500, default 50.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(vec![
            Violation::new(
                "limit",
                codes::OUT_OF_RANGE,
                format!("must be between 1 and {MAX_PAGE}"),
            )
            .with("min", 1)
            .with("max", MAX_PAGE),
        ]));
    }
    Ok(limit)
}

impl PageQuery {
    /// The validated page.
    pub fn page(&self) -> Result<Page, ApiError> {
        Ok(Page {
            after: self.after.clone(),
            limit: page_limit(self.limit)?,
        })
    }
}

/// Page query extractor with problem+json errors.
pub struct Paging(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Paging, ApiError> {
        let Query(q) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::invalid(vec![Violation::new("", codes::INVALID_JSON, e.body_text())])
            })?;
        q.page().map(Paging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(ip("1.2.3.4"), ["9.9.9.9"].into_iter(), &trusted),
            ip("1.2.3.4")
        );
        // Trusted peer: right-most untrusted hop.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                ["6.6.6.6, 9.9.9.9, 10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("9.9.9.9")
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(ip("10.0.0.1"), ["junk"].into_iter(), &trusted),
            ip("10.0.0.1")
        );
    }
}
