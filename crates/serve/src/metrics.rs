//! Prometheus metrics of one server (its own registry, so that several servers in one process
//! count apart): requests and latencies per route, queue depth, batch sizes, inputs per
//! modality, dropped inputs and errors.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    /// The route's path pattern (`/v1/embeddings`), or `other` for unknown paths.
    pub route: String,
    /// The HTTP status code.
    pub status: u16,
}

/// Labels of a per-route histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The route's path pattern.
    pub route: String,
}

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorType {
    /// The error's `type`.
    pub r#type: String,
}

/// Labels of the input counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModalityLabel {
    /// text, symbolic or audio.
    pub modality: String,
}

/// Every metric of a server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, per route and status.
    pub requests: Family<RouteStatus, Counter>,
    /// Request latency, per route.
    pub latency: Family<Route, Histogram>,
    /// Errors answered, per type.
    pub errors: Family<ErrorType, Counter>,
    /// Inputs embedded, per modality.
    pub inputs: Family<ModalityLabel, Counter>,
    /// Inputs accepted and not yet answered (queued, being prepared or embedded).
    pub queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    /// Inputs per model batch.
    pub batch_inputs: Histogram,
    /// Encoder units (tokens, patches, feature vectors) per model batch.
    pub batch_units: Histogram,
    /// Time one model batch takes.
    pub batch_seconds: Histogram,
    /// Time an input waits from acceptance to its batch.
    pub queue_seconds: Histogram,
    /// Inputs dropped because their client went away (or their request timed out).
    pub dropped: Counter<u64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("clamp3");
        let requests = Family::<RouteStatus, Counter>::default();
        let latency = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 18))
        });
        let errors = Family::<ErrorType, Counter>::default();
        let inputs = Family::<ModalityLabel, Counter>::default();
        let queue_depth = Gauge::default();
        let batch_inputs = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let batch_units = Histogram::new(exponential_buckets(8.0, 2.0, 14));
        let batch_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let queue_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 18));
        let dropped = Counter::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        registry.register(
            "request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register("errors", "Error answers, by type", errors.clone());
        registry.register("inputs", "Inputs embedded, by modality", inputs.clone());
        registry.register(
            "queue_depth",
            "Inputs accepted and not yet answered",
            queue_depth.clone(),
        );
        registry.register(
            "batch_inputs",
            "Inputs per model batch",
            batch_inputs.clone(),
        );
        registry.register(
            "batch_units",
            "Encoder units (tokens, patches, feature vectors) per model batch",
            batch_units.clone(),
        );
        registry.register(
            "batch_duration_seconds",
            "Time one model batch takes",
            batch_seconds.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time from accepting an input to its model batch",
            queue_seconds.clone(),
        );
        registry.register(
            "inputs_dropped",
            "Inputs dropped from the queue because their client went away",
            dropped.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            errors,
            inputs,
            queue_depth,
            batch_inputs,
            batch_units,
            batch_seconds,
            queue_seconds,
            dropped,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
