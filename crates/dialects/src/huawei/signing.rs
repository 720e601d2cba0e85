//! AK/SK request signatures, `SDK-HMAC-SHA256` (`docs/dialects/huawei.md`, authentication).
//!
//! canonical request = METHOD, canonical URI (each path segment percent-encoded except
//! unreserved characters, always ending in `/`), canonical query (sorted `k=v` joined by `&`),
//! the signed headers as `name:trimmed-value` lines, the signed header names, and the hex
//! SHA-256 of the body, joined by newlines; string to sign = `SDK-HMAC-SHA256`, `X-Sdk-Date`
//! and the hex SHA-256 of the canonical request; signature = hex HMAC-SHA256(secret, string).
//!
//! Invariants: the signature is compared in constant time; the body hash covers the exact
//! bytes received; a header named in `SignedHeaders` but absent fails the check.

use axum::http::{HeaderMap, Method};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

/// The parts of an `Authorization: SDK-HMAC-SHA256 ...` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAuthorization {
    /// The access key id.
    pub access: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// The algorithm name in the header and the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Parses the header value; `None` when it is not an `SDK-HMAC-SHA256` authorization.
pub fn parse_authorization(value: &str) -> Option<SignedAuthorization> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let mut access = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=')?;
        match key.trim() {
            "Access" => access = Some(val.trim().to_owned()),
            "SignedHeaders" => {
                signed = Some(val.trim().split(';').map(str::to_ascii_lowercase).collect())
            }
            "Signature" => signature = Some(val.trim().to_owned()),
            _ => {}
        }
    }
    Some(SignedAuthorization {
        access: access?,
        signed_headers: signed?,
        signature: signature?,
    })
}

/// Every byte but the unreserved `A-Z a-z 0-9 - _ . ~` is percent-encoded.
const SIGNED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment or query part as the signer writes it: decoded, then encoded again.
fn encode(text: &str) -> String {
    let raw: Vec<u8> = percent_decode_str(text).collect();
    percent_encode(&raw, SIGNED).to_string()
}

fn canonical_uri(path: &str) -> String {
    let mut uri: String = path.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let plus = |s: &str| s.replace('+', " ");
            (encode(&plus(k)), encode(&plus(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string to sign of a request, or `None` when a signed header is missing.
#[allow(clippy::too_many_arguments)]
pub fn string_to_sign(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
    sdk_date: &str,
) -> Option<String> {
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let value = headers.get(name.as_str())?.to_str().ok()?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        signed_headers.join(";"),
        hex::encode(Sha256::digest(body)),
    );
    Some(format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    ))
}

/// Whether `signature` (hex) is the HMAC of `string_to_sign` under `secret`; constant time.
pub fn signature_matches(secret: &[u8], string_to_sign: &str, signature: &str) -> bool {
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// The signature of `string_to_sign` (tests and clients).
pub fn sign(secret: &[u8], string_to_sign: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_parts() {
        assert_eq!(
            canonical_uri("/v3.0/OS-SECURITYPOLICY/domains/d1/login-policy"),
            "/v3.0/OS-SECURITYPOLICY/domains/d1/login-policy/"
        );
        assert_eq!(canonical_uri("/a%20b/c~d"), "/a%20b/c~d/");
        assert_eq!(canonical_query(Some("b=2&a=1&c")), "a=1&b=2&c=");
        assert_eq!(canonical_query(None), "");
        let auth = parse_authorization(
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=content-type;host;x-sdk-date, Signature=ab12",
        )
        .unwrap();
        assert_eq!(auth.access, "AK1");
        assert_eq!(auth.signed_headers, ["content-type", "host", "x-sdk-date"]);
        assert!(parse_authorization("Bearer x").is_none());
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-sdk-date", "20260101T000000Z".parse().unwrap());
        let signed = vec!["host".to_owned(), "x-sdk-date".to_owned()];
        let sts = string_to_sign(
            &Method::PUT,
            "/p",
            None,
            &headers,
            &signed,
            b"{}",
            "20260101T000000Z",
        )
        .unwrap();
        assert!(sts.starts_with("SDK-HMAC-SHA256\n20260101T000000Z\n"));
        let signature = sign(b"secret", &sts);
        assert!(signature_matches(b"secret", &sts, &signature));
        assert!(!signature_matches(b"other", &sts, &signature));
        let other_body = string_to_sign(
            &Method::PUT,
            "/p",
            None,
            &headers,
            &signed,
            b"{ }",
            "20260101T000000Z",
        )
        .unwrap();
        assert!(!signature_matches(b"secret", &other_body, &signature));
        assert!(!signature_matches(b"secret", &sts, "zz"));
        let missing = vec!["x-missing".to_owned()];
        assert!(string_to_sign(&Method::PUT, "/p", None, &headers, &missing, b"", "d").is_none());
    }
}
