//! `clamp3 serve`: the HTTP service (the `clamp3-serve` crate) with its limits as flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clamp3_serve::logging::LogFormat;
use clamp3_serve::{Config, Limits, ModelSpec};

use crate::Ctx;

/// Log line format of `clamp3 serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// `key=value` text.
    Text,
    /// JSON lines.
    Json,
}

/// Arguments of `clamp3 serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Model directory, weights file, or saas / c2 (default: the one the index was built with).
    #[arg(long)]
    pub model: Option<String>,
    /// Index to search and update: a directory, or a PostgreSQL URL (postgresql://...);
    /// created when missing.
    #[arg(long)]
    pub index: Option<String>,
    /// MERT model directory, for recordings (default: beside the model, then the cache).
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// BLIP model directory, for images (default: <model dir>/blip, then the download cache;
    /// without it images are refused).
    #[arg(long)]
    pub blip: Option<PathBuf>,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Require `Authorization: Bearer KEY` on the API (default: $CLAMP3_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_body_mb: usize,
    /// Most inputs in one request.
    #[arg(long, default_value_t = 64)]
    pub max_inputs: usize,
    /// Longest recording, in seconds.
    #[arg(long, default_value_t = 600.0)]
    pub max_audio_seconds: f64,
    /// Largest input, in text tokens, patches or feature vectors.
    #[arg(long, default_value_t = 65_536)]
    pub max_input_tokens: usize,
    /// Seconds a request may take (then 503, and its queued inputs are dropped).
    #[arg(long, default_value_t = 300.0)]
    pub request_timeout: f64,
    /// Most inputs queued or being embedded at once (then 429).
    #[arg(long, default_value_t = 512)]
    pub max_queue: usize,
    /// Most inputs per model batch.
    #[arg(long, default_value_t = 32)]
    pub max_batch_items: usize,
    /// Most text tokens, patches and feature vectors per model batch.
    #[arg(long, default_value_t = 8192)]
    pub max_batch_tokens: usize,
    /// Most 5 s MERT windows per model batch.
    #[arg(long, default_value_t = 32)]
    pub max_batch_windows: usize,
    /// At most this many segments per encoder forward pass (grouped by length).
    #[arg(long, default_value_t = 32)]
    pub batch_segments: usize,
    /// Threads that prepare inputs (default: one per core).
    #[arg(long)]
    pub prepare_threads: Option<usize>,
    /// Log lines as text or JSON.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
}

/// `clamp3 serve`: runs until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub fn run(ctx: &Ctx, a: &ServeArgs) -> Result<bool> {
    clamp3_serve::logging::init(match a.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    });
    if !(a.request_timeout.is_finite() && a.request_timeout > 0.0) {
        bail!("--request-timeout must be a positive number of seconds");
    }
    let defaults = Limits::default();
    let limits = Limits {
        max_body_bytes: a.max_body_mb.saturating_mul(1 << 20),
        max_inputs: a.max_inputs,
        max_audio_seconds: a.max_audio_seconds,
        max_input_tokens: a.max_input_tokens,
        request_timeout: Duration::from_secs_f64(a.request_timeout),
        max_queue: a.max_queue,
        max_batch_items: a.max_batch_items,
        max_batch_tokens: a.max_batch_tokens,
        max_batch_windows: a.max_batch_windows,
        segments_per_pass: a.batch_segments,
        prepare_threads: a.prepare_threads.unwrap_or(defaults.prepare_threads),
    };
    limits
        .validate()
        .map_err(|e| anyhow::anyhow!("limits: {e}"))?;
    let api_key = a
        .api_key
        .clone()
        .or_else(|| std::env::var("CLAMP3_API_KEY").ok())
        .filter(|k| !k.is_empty());
    let model = a
        .model
        .as_deref()
        .map(clamp3::hub::resolve_model)
        .transpose()?;
    if model.is_none() && a.index.is_none() {
        bail!("give --model (or --index of an index that records its model)");
    }
    let spec = ModelSpec {
        model,
        // A released variant answers by its name; a directory by its folder name.
        model_name: a.model.clone().filter(|m| {
            clamp3::hub::Variant::parse(m).is_some() && !std::path::Path::new(m).exists()
        }),
        mert: a.mert.clone(),
        blip: a.blip.clone(),
        index: a.index.clone(),
        device: ctx.device.clone(),
    };
    clamp3_serve::run(&a.addr, spec, Config { limits, api_key })?;
    Ok(true)
}
