//! Request extractors: the authenticated caller, the client IP, the request context, JSON bodies
//! with field-level errors, and page queries.
//!
//! Invariants: a bearer token is only ever hashed (by the service), never logged; the client IP is
//! the socket address unless the socket peer is a configured trusted proxy, in which case it is
//! the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (or the left-most
//! entry when every one is trusted; the peer itself when the header is absent). An entry is an IP
//! address as proxies write it: `192.0.2.1`, `192.0.2.1:4444`, `2001:db8::5`, `[2001:db8::5]`
//! or `[2001:db8::5]:443`. Any other entry on the walk (empty, a zone id, a leading zero in an
//! IPv4 octet, a name) refuses the request with `400 forwarded_for.invalid`: it never falls back to
//! the proxy's address, so garbage cannot get a proxy counted or blocked. Entries left of the
//! client's are the client's own words and are not read; an untrusted peer's header is ignored.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// The context of a request by `actor`: its request id and the client's user agent.
pub fn request_context(actor: impl Into<String>, parts: &Parts) -> Context {
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Context::new(actor, request_id(parts)).with_user_agent(user_agent.as_deref())
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
        let ctx = request_context(caller.actor.clone(), parts);
        Ok(Auth { caller, ctx })
    }
}

/// A context for unauthenticated endpoints (login).
pub struct Anonymous(pub Context);

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Anonymous, ApiError> {
        Ok(Anonymous(request_context("anonymous", parts)))
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
        let headers = parts.headers.get_all("x-forwarded-for");
        // A header value that is not visible ASCII cannot hold an address: the same refusal.
        let values: Vec<&str> = headers
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{fffd}"))
            .collect();
        client_ip(peer, values.into_iter(), &state.trusted_proxies)
            .map(ClientIp)
            .map_err(|ForwardedForInvalid| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "forwarded_for.invalid",
                    "The X-Forwarded-For header is not a list of IP addresses",
                )
                .detail(
                    "every entry from the right up to the client must be an IP address \
                     (192.0.2.1, 192.0.2.1:4444, 2001:db8::5, [2001:db8::5] or [2001:db8::5]:443)",
                )
            })
    }
}

/// An `X-Forwarded-For` entry a trusted proxy passed on that is not an IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardedForInvalid;

/// The client IP given the socket peer, the `X-Forwarded-For` headers and the trusted proxies
/// (see the module header for the rules).
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> Result<IpAddr, ForwardedForInvalid> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return Ok(peer);
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let ip = forwarded_ip(hop.trim()).ok_or(ForwardedForInvalid)?;
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Ok(client)
}

/// One `X-Forwarded-For` entry: an IPv4 address with an optional port, or an IPv6 address bare
/// or in brackets with an optional port. Leading zeros in IPv4 octets and IPv6 zone ids are
/// refused (the standard parsers refuse them).
fn forwarded_ip(hop: &str) -> Option<IpAddr> {
    let port = |p: &str| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    };
    if let Some(rest) = hop.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']')?;
        let ok_tail = tail.is_empty() || tail.strip_prefix(':').is_some_and(port);
        return ok_tail
            .then(|| addr.parse::<Ipv6Addr>().ok())
            .flatten()
            .map(IpAddr::V6);
    }
    if let Ok(v6) = hop.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    let (addr, p) = hop.split_once(':').unwrap_or((hop, ""));
    if hop.contains(':') && !port(p) {
        return None;
    }
    addr.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A JSON body whose errors name the field (`value.invalid` with the JSON path).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static, S: Send + Sync> FromRequest<S> for JsonBody<T> {
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
        // A typed body is an object on the wire: serde would also fill a struct from an array
        // (`[null, null]`), which no client means. Only a free JSON value (a policy section,
        // whose `password` form is a list) may be something else.
        let object = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if !object && std::any::TypeId::of::<T>() != std::any::TypeId::of::<serde_json::Value>() {
            return Err(ApiError::invalid(vec![Violation::new(
                "",
                codes::INVALID_JSON,
                "the body must be a JSON object",
            )]));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a body strictly ([`portcullis_model::from_slice`]) with the path of the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    portcullis_model::from_slice(bytes).map_err(|v| ApiError::invalid(vec![v]))
}

/// `?after=&limit=` on every list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Cursor: the `next_after` of the previous page.
    pub after: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
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

/// A query string read into `T`, a malformed one refused as `400` with serde's words.
async fn query<T: serde::de::DeserializeOwned, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, ApiError> {
    Query::<T>::from_request_parts(parts, state)
        .await
        .map(|Query(q)| q)
        .map_err(|e| {
            ApiError::invalid(vec![Violation::new("", codes::INVALID_JSON, e.body_text())])
        })
}

/// Page query extractor with problem+json errors.
pub struct Paging(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Paging, ApiError> {
        query::<PageQuery, S>(parts, state)
            .await?
            .page()
            .map(Paging)
    }
}

/// The greatest number a numbered list's cursor can name (the stores keep signed 64-bit numbers).
pub const MAX_CURSOR_NUMBER: u64 = i64::MAX as u64;

/// `?after=<number>&limit=` on the lists ordered by a number (events, mails).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberPageQuery {
    /// Only items with a greater number (the `next_after` of the previous page).
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub after: Option<u64>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A numbered page: the number after which it starts (0 for the first) and its size.
pub struct NumberPaging {
    /// Items with a greater number.
    pub after: u64,
    /// Page size.
    pub limit: u32,
}

impl<S: Send + Sync> FromRequestParts<S> for NumberPaging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<NumberPaging, ApiError> {
        let q = query::<NumberPageQuery, S>(parts, state).await?;
        let after = q.after.unwrap_or(0);
        if after > MAX_CURSOR_NUMBER {
            return Err(ApiError::invalid(vec![
                Violation::new(
                    "after",
                    codes::OUT_OF_RANGE,
                    format!("must be at most {MAX_CURSOR_NUMBER}"),
                )
                .with("max", MAX_CURSOR_NUMBER),
            ]));
        }
        Ok(NumberPaging {
            after,
            limit: page_limit(q.limit)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: the header is ignored, garbage included.
        assert_eq!(
            client_ip(ip("1.2.3.4"), ["9.9.9.9"].into_iter(), &trusted),
            Ok(ip("1.2.3.4"))
        );
        assert_eq!(
            client_ip(ip("1.2.3.4"), ["junk,"].into_iter(), &trusted),
            Ok(ip("1.2.3.4"))
        );
        // Trusted peer: right-most untrusted hop.
        assert_eq!(
            client_ip(
                ip("10.0.0.1"),
                ["6.6.6.6, 9.9.9.9, 10.0.0.2"].into_iter(),
                &trusted
            ),
            Ok(ip("9.9.9.9"))
        );
        // Entries left of the client are the client's own and are not read.
        assert_eq!(
            client_ip(ip("10.0.0.1"), ["junk, 9.9.9.9"].into_iter(), &trusted),
            Ok(ip("9.9.9.9"))
        );
        // No header: the proxy itself is the client.
        assert_eq!(
            client_ip(ip("10.0.0.1"), std::iter::empty(), &trusted),
            Ok(ip("10.0.0.1"))
        );
    }

    #[test]
    fn forwarded_for_takes_the_forms_proxies_write() {
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        for (hop, client) in [
            ("10.30.0.2", "10.30.0.2"),
            ("10.30.0.2:4444", "10.30.0.2"),
            (" 10.30.0.2:4444 ", "10.30.0.2"),
            ("2001:db8::5", "2001:db8::5"),
            ("[2001:db8::5]", "2001:db8::5"),
            ("[2001:db8::5]:443", "2001:db8::5"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ] {
            assert_eq!(
                client_ip(peer, [hop].into_iter(), &trusted),
                Ok(client.parse().unwrap()),
                "{hop}"
            );
        }
    }

    #[test]
    fn forwarded_for_garbage_is_refused_never_the_proxy() {
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        for hop in [
            "junk",
            "",
            "9.9.9.9,",
            "9.9.9.9, ",
            "fe80::1%eth0",
            "[fe80::1%eth0]:443",
            "010.009.009.009",
            "10.30.0.2:",
            "10.30.0.2:99999",
            "10.30.0.2:+80",
            "10.30.0.2:80:80",
            "[2001:db8::5]443",
            "[2001:db8::5]:",
            "[2001:db8::5",
            "[10.30.0.2]",
            "2001:db8::5:443:x",
            "unknown",
            "\u{fffd}",
        ] {
            assert_eq!(
                client_ip(peer, [hop].into_iter(), &trusted),
                Err(ForwardedForInvalid),
                "{hop:?}"
            );
        }
        // Garbage reached on the walk through trusted hops is refused too.
        assert_eq!(
            client_ip(peer, ["9.9.9.9, junk, 127.0.0.1"].into_iter(), &trusted),
            Err(ForwardedForInvalid)
        );
        // Over several header lines, the last line's last entry is the right-most.
        assert_eq!(
            client_ip(peer, ["9.9.9.9", "8.8.8.8:80"].into_iter(), &trusted),
            Ok("8.8.8.8".parse().unwrap())
        );
    }
}
