//! Request latency per route, method and status, as a Prometheus histogram
//! (`prometheus-client`'s `Family` of histograms, encoded with the service's metrics).
//!
//! Invariants: the number of series is bounded whatever clients send: a method outside the
//! standard nine is labelled `other` ([`MethodLabel::Other`]), the route is a template of the
//! router or `unmatched` ([`RouteLabel`]), and past [`MAX_SERIES`] label sets every new one goes
//! to a single overflow series (`method="other",route="overflow",status="other"`). Labels are
//! typed values, so none can be misspelled.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::http::Method;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

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

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// A status code as a label (`None`: the overflow series' `other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct StatusLabel(Option<u16>);

impl EncodeLabelValue for StatusLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        match self.0 {
            Some(status) => write!(encoder, "{status}"),
            None => encoder.write_str("other"),
        }
    }
}

/// One label set, in the order the exposition writes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Labels {
    method: MethodLabel,
    route: RouteLabel,
    status: StatusLabel,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Latency histograms keyed by label set.
pub struct HttpMetrics {
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    /// The label sets that have a series (the cap's count).
    seen: Mutex<HashSet<Labels>>,
}

impl Default for HttpMetrics {
    fn default() -> HttpMetrics {
        HttpMetrics {
            latency: Family::new_with_constructor(latency_histogram),
            seen: Mutex::new(HashSet::new()),
        }
    }
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
        let mut labels = Labels {
            method,
            route,
            status: StatusLabel(Some(status)),
        };
        {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            if !seen.contains(&labels) {
                if seen.len() >= MAX_SERIES {
                    labels = Labels {
                        method: MethodLabel::Other,
                        route: RouteLabel::Overflow,
                        status: StatusLabel(None),
                    };
                } else {
                    seen.insert(labels.clone());
                }
            }
        }
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// Registers the histograms (the same ones: they share their values).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "portcullis_http_request_duration_seconds",
            "Request latency",
            self.latency.clone(),
        );
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
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
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
