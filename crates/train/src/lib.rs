//! Contrastive training of CLaMP 3 (docs/reference.md §4): text <-> one music modality per stage,
//! with parts of the model frozen, the reference's text and music sampling, symmetric InfoNCE at a
//! fixed logit scale of 1, AdamW with a warm-up that takes effect, gradient caching so that a
//! large contrastive batch fits in memory, evaluation, and resumable checkpoints.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod loss;
pub mod optim;
pub mod params;
pub mod rng;
pub mod source;
pub mod step;
pub mod tensorboard;
pub mod trainer;

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The model or its weights are unusable.
    #[error("model: {0}")]
    Model(String),
    /// A tensor computation failed.
    #[error("computation: {0}")]
    Candle(#[from] candle_core::Error),
    /// The data is unusable.
    #[error("data: {0}")]
    Data(String),
}
