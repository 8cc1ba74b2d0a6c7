//! What a server is started with: its limits and batching bounds, and its API key.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

/// The limits that keep one request (or many) from exhausting the server, and the bounds of a
/// model batch. Every field is a command-line flag of `clamp3 serve`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Limits {
    /// Largest request body, in bytes (413 above; base64 uploads are 4/3 of the file size).
    pub max_body_bytes: usize,
    /// Most inputs in one request (413 above).
    pub max_inputs: usize,
    /// Longest recording, in seconds (413 above; decoding stops at the limit).
    pub max_audio_seconds: f64,
    /// Largest input in the encoder's units (text tokens, patches, feature vectors) (413
    /// above).
    pub max_input_tokens: usize,
    /// How long a request may take before it is answered 503 and its queued inputs dropped.
    #[serde(serialize_with = "secs")]
    #[schema(value_type = f64)]
    pub request_timeout: Duration,
    /// Most inputs waiting or being embedded at once, over all requests (429 above).
    pub max_queue: usize,
    /// Most inputs in one model batch.
    pub max_batch_items: usize,
    /// Most encoder units (text tokens, patches, feature vectors) in one model batch, as
    /// text-embeddings-inference's `max_batch_tokens` (an input larger than this is embedded
    /// alone).
    pub max_batch_tokens: usize,
    /// Most MERT windows (5 s of audio each) in one model batch.
    pub max_batch_windows: usize,
    /// At most this many segments per encoder forward pass, grouped by length across inputs (as `clamp3 index add --batch-segments`).
    pub segments_per_pass: usize,
    /// Threads that prepare inputs (decode, convert, tokenise) while the model computes.
    pub prepare_threads: usize,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 << 20,
            max_inputs: 64,
            max_audio_seconds: 600.0,
            max_input_tokens: 65_536,
            request_timeout: Duration::from_secs(300),
            max_queue: 512,
            max_batch_items: 32,
            max_batch_tokens: 8192,
            max_batch_windows: 32,
            segments_per_pass: 32,
            prepare_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl Limits {
    /// Checks that the limits can be met together (e.g. a request of `max_inputs` fits in the
    /// queue).
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_inputs", self.max_inputs),
            ("max_input_tokens", self.max_input_tokens),
            ("max_queue", self.max_queue),
            ("max_batch_items", self.max_batch_items),
            ("max_batch_tokens", self.max_batch_tokens),
            ("max_batch_windows", self.max_batch_windows),
            ("segments_per_pass", self.segments_per_pass),
            ("prepare_threads", self.prepare_threads),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if self.max_inputs > self.max_queue {
            return Err(format!(
                "max_inputs ({}) is larger than max_queue ({}): such a request could never be queued",
                self.max_inputs, self.max_queue
            ));
        }
        if !(self.max_audio_seconds.is_finite() && self.max_audio_seconds > 0.0) {
            return Err("max_audio_seconds must be a positive number".into());
        }
        if self.request_timeout.is_zero() {
            return Err("request_timeout must be positive".into());
        }
        Ok(())
    }
}

/// A server's settings besides the model and the index.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The limits.
    pub limits: Limits,
    /// When set, every API route needs `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
}
