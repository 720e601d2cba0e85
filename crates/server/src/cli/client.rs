//! The HTTP side of the client commands: one [`Client`] per run, its requests to a running
//! server, the paging of lists, and [`CliError`], every way a command fails.
//!
//! Invariants: the token is only ever put in the `Authorization` header (it is never part of an
//! error, a log line or any output, and [`Client`]'s `Debug` hides it); every path segment a
//! caller passes goes through [`segment`] (percent-encoded, `/` as `%2F`); a non-2xx answer is
//! always an error ([`CliError::Problem`]), read as RFC 9457 problem+json when it is one.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

/// Largest page the server serves (`limit` 1–500).
pub(crate) const MAX_PAGE: usize = 500;

/// One violated rule of a `400 validation_failed` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemViolation {
    /// The field path (`max_password_attempts`, `sections.lockout.window`).
    pub field: String,
    /// The stable code (`value.too_small`).
    pub code: String,
    /// The human message.
    pub message: String,
}

/// Why a client command failed. Every variant exits with status 1.
#[derive(Debug)]
pub enum CliError {
    /// The server answered a non-2xx status.
    Problem {
        /// HTTP status.
        status: u16,
        /// The problem's stable `code` (`http_error` when the body was no problem document).
        code: String,
        /// The problem's `title`.
        title: String,
        /// The problem's `detail`.
        detail: Option<String>,
        /// Every violation of a `validation_failed` answer.
        violations: Vec<ProblemViolation>,
        /// A hint the command adds (what the failure means for it).
        hint: Option<String>,
    },
    /// The server could not be reached, or answered something unreadable.
    Transport(String),
    /// Bad input: arguments, files, standard input.
    Input(String),
    /// Writing the output failed (a closed pipe, a full disk).
    Output(std::io::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Output(e)
    }
}

impl CliError {
    /// Adds a hint to a server's problem (other errors are kept as they are).
    pub(crate) fn with_hint(self, text: String) -> CliError {
        match self {
            CliError::Problem {
                status,
                code,
                title,
                detail,
                violations,
                hint: _,
            } => CliError::Problem {
                status,
                code,
                title,
                detail,
                violations,
                hint: Some(text),
            },
            other => other,
        }
    }

    /// The HTTP status of a server's problem.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            CliError::Problem { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Writes the error as the CLI shows it: `error: <status> <code>: <text>`, then one line
    /// per violation.
    pub fn report(&self, w: &mut dyn Write) -> std::io::Result<()> {
        match self {
            CliError::Problem {
                status,
                code,
                title,
                detail,
                violations,
                hint,
            } => {
                let text = match detail {
                    Some(detail) if !detail.is_empty() && detail != title => {
                        format!("{title}: {detail}")
                    }
                    _ => title.clone(),
                };
                writeln!(w, "error: {status} {code}: {text}")?;
                for v in violations {
                    writeln!(w, "  {}: {} — {}", v.field, v.code, v.message)?;
                }
                if let Some(hint) = hint {
                    writeln!(w, "{hint}")?;
                }
                Ok(())
            }
            CliError::Transport(text) | CliError::Input(text) => writeln!(w, "error: {text}"),
            CliError::Output(e) => writeln!(w, "error: writing the output: {e}"),
        }
    }
}

/// A JSON answer: status, `ETag` (without its quotes) and body (`null` when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) etag: Option<String>,
    pub(crate) body: Value,
}

/// The HTTP client of one command run.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Percent-encodes one path segment: everything but unreserved characters and `:` (`/` becomes
/// `%2F`, so `10.0.0.0/8` stays one segment).
pub(crate) fn segment(text: &str) -> String {
    /// Every byte but the unreserved ones and `:` (which IPv6 addresses read better with).
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b':');
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

fn transport(base: &str, e: &reqwest::Error) -> CliError {
    // reqwest's text names the URL and the cause, never a header.
    let mut text = format!("cannot reach the server at {base}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    CliError::Transport(text)
}

fn problem(status: u16, body: &[u8]) -> CliError {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_owned();
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let violations = value
        .get("violations")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|v| ProblemViolation {
                    field: v
                        .get("field")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    code: v
                        .get("code")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    message: v
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    CliError::Problem {
        status,
        code: text("code").unwrap_or_else(|| "http_error".to_owned()),
        title: text("title").unwrap_or(reason),
        detail: text("detail"),
        violations,
        hint: None,
    }
}

impl Client {
    /// A client of the server at `base` (`http://` or `https://`), with an optional bearer token.
    pub fn new(base: &str, token: Option<String>) -> Result<Client, CliError> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::Input(format!(
                "--url must start with http:// or https:// (got `{base}`)"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("portcullis-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// Sends one request; a non-2xx answer is an error.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, CliError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(version) = if_match {
            request = request.header(reqwest::header::IF_MATCH, format!("\"{version}\""));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport(&self.base, &e))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start_matches("W/").trim_matches('"').to_owned());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(&self.base, &e))?;
        if !(200..300).contains(&status) {
            return Err(problem(status, &bytes));
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| CliError::Transport(format!("the server's answer is not JSON: {e}")))?
        };
        Ok(Reply { etag, body })
    }

    /// `GET`, answering the body.
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, CliError> {
        Ok(self.send(Method::GET, path, query, None, None).await?.body)
    }

    /// `POST` of a JSON body (or none), answering the body.
    pub(crate) async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        Ok(self.send(Method::POST, path, &[], body, None).await?.body)
    }

    /// `PUT` of a JSON body, answering the body.
    pub(crate) async fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        Ok(self
            .send(Method::PUT, path, &[], Some(body), None)
            .await?
            .body)
    }

    /// `DELETE`, answering the body (`null` for 204).
    pub(crate) async fn delete(&self, path: &str) -> Result<Value, CliError> {
        Ok(self.send(Method::DELETE, path, &[], None, None).await?.body)
    }

    /// Every item of a paged list (`{items, next_after}`), following `next_after`, or the first
    /// `limit` items.
    pub(crate) async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        limit: Option<usize>,
    ) -> Result<Vec<Value>, CliError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let want = match limit {
                Some(n) => n.saturating_sub(items.len()).min(MAX_PAGE),
                None => MAX_PAGE,
            };
            if want == 0 {
                return Ok(items);
            }
            let mut page_query: Vec<(&str, String)> = query.to_vec();
            page_query.push(("limit", want.to_string()));
            if let Some(cursor) = &after {
                page_query.push(("after", cursor.clone()));
            }
            let page = self.get(path, &page_query).await?;
            let Some(page_items) = page.get("items").and_then(Value::as_array) else {
                return Err(CliError::Transport(format!(
                    "the answer of {path} has no `items` list"
                )));
            };
            items.extend(page_items.iter().cloned());
            after = match page.get("next_after") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            // A page may be short, even empty, and still have a next one (the session lists
            // leave out sessions that have ended): only a missing cursor ends the list.
            if after.is_none() {
                return Ok(items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded_but_colons_stay() {
        assert_eq!(segment("10.0.0.0/8"), "10.0.0.0%2F8");
        assert_eq!(segment("2001:db8::/64"), "2001:db8::%2F64");
        assert_eq!(segment("acme"), "acme");
        assert_eq!(segment("a b%"), "a%20b%25");
    }

    #[test]
    fn a_problem_is_reported_with_its_violations() {
        let body = br#"{"type":"about:blank","title":"Validation failed","status":400,
            "code":"validation_failed","detail":"2 violations",
            "violations":[{"field":"password","code":"password.too_short","message":"too short"}]}"#;
        let mut out = Vec::new();
        problem(400, body).report(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: 400 validation_failed: Validation failed: 2 violations\n  password: password.too_short — too short\n"
        );
        let mut out = Vec::new();
        problem(502, b"<html>").report(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: 502 http_error: Bad Gateway\n"
        );
    }

    #[test]
    fn the_token_is_not_in_the_debug_form() {
        let client = Client::new("http://localhost:1", Some("secret-token".into())).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("secret-token"));
    }
}
