//! Request latency per route, method and status, as a Prometheus histogram.
//!
//! Invariants: the number of series is bounded whatever clients send: a method outside the
//! standard nine is labelled `other` ([`MethodLabel::Other`]), the route is a template of the
//! router or `unmatched` ([`RouteLabel`]), and past [`MAX_SERIES`] label sets every new one goes
//! to a single overflow series (`method="other",route="overflow",status="other"`). Labels are
//! typed values, so none can be misspelled. Recording allocates only for a new series.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::http::Method;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The most label sets kept; later ones share the overflow series.
pub(crate) const MAX_SERIES: usize = 2_000;

/// The method as a metric or log label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MethodLabel {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Trace,
    Connect,
    /// Any non-standard method.
    Other,
}

impl MethodLabel {
    /// The label of `method`: a standard method's name, else `other`.
    pub(crate) fn of(method: &Method) -> MethodLabel {
        match *method {
            Method::GET => MethodLabel::Get,
            Method::HEAD => MethodLabel::Head,
            Method::POST => MethodLabel::Post,
            Method::PUT => MethodLabel::Put,
            Method::PATCH => MethodLabel::Patch,
            Method::DELETE => MethodLabel::Delete,
            Method::OPTIONS => MethodLabel::Options,
            Method::TRACE => MethodLabel::Trace,
            Method::CONNECT => MethodLabel::Connect,
            _ => MethodLabel::Other,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MethodLabel::Get => "GET",
            MethodLabel::Head => "HEAD",
            MethodLabel::Post => "POST",
            MethodLabel::Put => "PUT",
            MethodLabel::Patch => "PATCH",
            MethodLabel::Delete => "DELETE",
            MethodLabel::Options => "OPTIONS",
            MethodLabel::Trace => "TRACE",
            MethodLabel::Connect => "CONNECT",
            MethodLabel::Other => "other",
        }
    }
}

/// The route as a metric or log label.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RouteLabel {
    /// A template of the router (`/v1/orgs/{org}`).
    Template(String),
    /// No route matched.
    Unmatched,
    /// The series shared once [`MAX_SERIES`] label sets exist.
    Overflow,
}

impl RouteLabel {
    /// The label of a request whose matched template is `template`.
    pub(crate) fn of(template: Option<&str>) -> RouteLabel {
        template.map_or(RouteLabel::Unmatched, |t| {
            RouteLabel::Template(t.to_owned())
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            RouteLabel::Template(template) => template,
            RouteLabel::Unmatched => "unmatched",
            RouteLabel::Overflow => "overflow",
        }
    }
}

/// One label set: method, route and status (`None` for the overflow series).
type Labels = (MethodLabel, RouteLabel, Option<u16>);

/// Latency histograms keyed by label set.
#[derive(Default)]
pub struct HttpMetrics {
    series: Mutex<HashMap<Labels, Histogram>>,
}

impl HttpMetrics {
    /// Records one request.
    pub(crate) fn observe(
        &self,
        method: MethodLabel,
        route: RouteLabel,
        status: u16,
        seconds: f64,
    ) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let mut key: Labels = (method, route, Some(status));
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            key = (MethodLabel::Other, RouteLabel::Overflow, None);
        }
        let h = series.entry(key).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Appends the exposition, series sorted for stable output.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP portcullis_http_request_duration_seconds Request latency.\n# TYPE portcullis_http_request_duration_seconds histogram"
        );
        let Ok(series) = self.series.lock() else {
            return;
        };
        let mut rows: Vec<(String, &Histogram)> = series
            .iter()
            .map(|((method, route, status), h)| {
                let status = status.map_or_else(|| "other".to_owned(), |s| s.to_string());
                (
                    format!(
                        "method=\"{}\",route=\"{}\",status=\"{status}\"",
                        method.as_str(),
                        route.as_str()
                    ),
                    h,
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, h) in rows {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "portcullis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\nportcullis_http_request_duration_seconds_sum{{{labels}}} {}\nportcullis_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_capped_and_odd_methods_grouped() {
        let metrics = HttpMetrics::default();
        for i in 0..MAX_SERIES + 10 {
            let route = RouteLabel::of(Some(&format!("/r{i}")));
            metrics.observe(MethodLabel::of(&Method::GET), route, 200, 0.001);
        }
        for i in 0..50 {
            let method = Method::from_bytes(format!("ODD{i}").as_bytes()).unwrap();
            let route = RouteLabel::of(Some("/r0"));
            metrics.observe(MethodLabel::of(&method), route.clone(), 200, 0.001);
        }
        let mut out = String::new();
        metrics.render(&mut out);
        let counts: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("portcullis_http_request_duration_seconds_count"))
            .collect();
        assert_eq!(
            counts.len(),
            MAX_SERIES + 1,
            "the cap plus one overflow series"
        );
        assert!(out.contains("_count{method=\"other\",route=\"overflow\",status=\"other\"} 60"));
        assert!(!out.contains("ODD"));
        assert_eq!(MethodLabel::of(&Method::PATCH).as_str(), "PATCH");
        assert_eq!(RouteLabel::of(None).as_str(), "unmatched");
    }
}
