//! `clamp3 serve`: CLaMP 3 as an HTTP service, a thin layer over the `clamp3` library.
//!
//! - [`routes`]: OpenAI-compatible `POST /v1/embeddings`; `POST /v1/search` (the JSON of
//!   `clamp3 search --json`), `/v1/classify`, `/v1/score`; index updates; `/health`, `/info`,
//!   `/metrics`; the search page at `/`; the OpenAPI document and its interactive docs.
//! - [`queue`]: dynamic batching: inputs of concurrent requests prepared on worker threads and
//!   pooled into bounded model batches; a bounded queue (429 when full); inputs of clients that
//!   went away dropped.
//! - [`error`]: every error a JSON `{"error": {"message", "type"}}` whose status says whose
//!   fault it is.
//! - [`server`]: the router, the API key, the request timeout, metrics and request logs, and
//!   graceful shutdown.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use clamp3_serve::{AppState, Config, Engine, ModelSpec};
//! let state = Arc::new(AppState::new(Config::default()));
//! let spec = ModelSpec { model: Some("models/saas".into()), model_name: None, mert: None, blip: None,
//!                        index: None, device: clamp3::Device::Cpu };
//! state.set_engine(Engine::load(&spec, &state.config, state.metrics.clone())?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! clamp3_serve::serve(listener, state, clamp3_serve::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod error;
pub mod extract;
pub mod input;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod queue;
pub mod routes;
pub mod server;
pub mod state;

pub use config::{Config, Limits};
pub use error::{ApiError, ErrorKind};
pub use server::{router, run, serve, shutdown_signal};
pub use state::{AppState, Engine, ModelSpec};
