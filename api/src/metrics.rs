//! Per-route HTTP metrics for `/metrics`: requests by method, route and status, and their
//! durations as histograms, kept in a `prometheus` registry of this server's own (not a
//! process-wide one: the tests run many servers in one process, each counting its own).
//!
//! The route label is the route's pattern (`/v1/listings/{id}`), never the path asked for,
//! so the number of series is bounded by the routes; a path no route matches is counted
//! under `unmatched`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

/// What a request no route matched is counted under.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Bucket bounds in seconds: 1 ms to about 8 s, doubling.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192,
];

pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    in_flight: IntGauge,
}

impl HttpMetrics {
    pub fn new() -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "otop_http_requests_total",
                "HTTP requests answered, by method, route and status.",
            ),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "otop_http_request_duration_seconds",
                "Time from a request's arrival to its reply's headers, by method and route.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let in_flight = IntGauge::new(
            "otop_http_requests_in_flight",
            "HTTP requests being answered now.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Arc::new(HttpMetrics {
            registry,
            requests,
            durations,
            in_flight,
        }))
    }

    /// The registry in Prometheus' text format (0.0.4), appended to `text`.
    pub fn encode_into(&self, text: &mut String) {
        let mut buffer = Vec::new();
        if let Err(error) =
            prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buffer)
        {
            tracing::warn!(%error, "the HTTP metrics could not be encoded");
            return;
        }
        text.push_str(&String::from_utf8_lossy(&buffer));
    }
}

/// Middleware (under the router, where the matched route is known): counts and times every
/// request, whatever it answers.
pub async fn record(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let in_flight = InFlight::enter(&metrics.in_flight);
    let response = next.run(request).await;
    drop(in_flight);
    metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .inc();
    metrics
        .durations
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// One request in the in-flight gauge, until it is dropped (also when the client goes away).
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
