//! The breached-password sources the service can be given (`breached.*` in the
//! configuration): the offline index mapped at start, or a range endpoint asked per password.
//!
//! Invariants: the range endpoint receives only the first 5 hex characters of the password's
//! SHA-1 and compares the rest itself in this process; a request past `timeout_ms`, a status
//! other than 200, or a body that is not the range format is "unavailable" (the service then
//! applies the instance's fail mode), never a count.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_breached::BreachedIndex;
use portcullis_breached::range::{count_in_range_body, prefix_and_suffix};
use portcullis_service::{BreachedPasswords, BreachedUnavailable};

use crate::config::BreachedConfig;

/// The offline index.
struct IndexSource(BreachedIndex);

#[async_trait]
impl BreachedPasswords for IndexSource {
    async fn times_seen(&self, password: &str) -> Result<u32, BreachedUnavailable> {
        // One binary search in a mapped bucket: microseconds, no need to leave this thread.
        Ok(self.0.count_password(password))
    }

    fn offline(&self) -> bool {
        true
    }
}

/// The range endpoint as logs show it: scheme, host and port only (no user, password, path or
/// query, which could carry a credential).
fn loggable(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or("?"),
            parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<unparsable>".to_owned(),
    }
}

/// A k-anonymity range endpoint.
struct RangeSource {
    client: reqwest::Client,
    base: String,
}

#[async_trait]
impl BreachedPasswords for RangeSource {
    async fn times_seen(&self, password: &str) -> Result<u32, BreachedUnavailable> {
        let (prefix, suffix) = prefix_and_suffix(password);
        let url = format!("{}/range/{prefix}", self.base.trim_end_matches('/'));
        // Neither the prefix nor the URL's credentials go into the message (it is logged).
        let endpoint = loggable(&self.base);
        let unavailable = |what: String| BreachedUnavailable(format!("{endpoint}: {what}"));
        let response = self
            .client
            .get(&url)
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(unavailable(format!("answered {}", response.status())));
        }
        let body = response
            .text()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        count_in_range_body(&body, &suffix).map_err(|e| unavailable(e.to_string()))
    }
}

/// The configured source, if any; an index that cannot be opened is an error (the server does
/// not start with a policy source it cannot read).
pub(crate) fn open(config: &BreachedConfig) -> Result<Option<Arc<dyn BreachedPasswords>>, String> {
    if let Some(path) = &config.index_path {
        let index = BreachedIndex::open(path).map_err(|e| format!("breached.index_path: {e}"))?;
        tracing::info!(
            path = %path.display(),
            entries = index.len(),
            bytes = index.file_size(),
            "breached-password index mapped"
        );
        return Ok(Some(Arc::new(IndexSource(index))));
    }
    if let Some(base) = &config.range_url {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| format!("breached.range_url: {e}"))?;
        tracing::info!(url = %loggable(base), fail_open = config.fail_open, "breached-password range endpoint");
        return Ok(Some(Arc::new(RangeSource {
            client,
            base: base.clone(),
        })));
    }
    Ok(None)
}
