//! Request latency per route, method and status, as a Prometheus histogram.
//!
//! Invariant: recording a request allocates only when a new series appears (route names come
//! from the router, so the number of series is bounded).

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

/// The histograms of one route, by method and status.
type RouteSeries = HashMap<(Method, u16), Histogram>;

/// Latency histograms keyed by route, then (method, status).
#[derive(Default)]
pub struct HttpMetrics {
    series: Mutex<HashMap<String, RouteSeries>>,
}

impl HttpMetrics {
    /// Records one request.
    pub fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        if !series.contains_key(route) {
            series.insert(route.to_owned(), HashMap::new());
        }
        let Some(by_route) = series.get_mut(route) else {
            return;
        };
        let h = by_route.entry((method.clone(), status)).or_default();
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
            .flat_map(|(route, by)| {
                by.iter().map(move |((method, status), h)| {
                    (
                        format!("method=\"{method}\",route=\"{route}\",status=\"{status}\""),
                        h,
                    )
                })
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
