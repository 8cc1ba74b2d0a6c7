//! CLaMP 3 in Rust: text, sheet music (ABC), performance (MIDI/MTF) and audio (MERT features)
//! embedded into one 768-dimensional space, with the same numbers as the reference
//! implementation.
//!
//! ```no_run
//! use clamp3::{Embedder, Modality};
//! let embedder = Embedder::load("models/saas".as_ref(), &[Modality::Text], &clamp3::Device::Cpu)?;
//! let v = embedder.embed_text("a lively Irish reel")?;
//! assert_eq!(v.len(), 768);
//! # Ok::<(), clamp3::Error>(())
//! ```
//!
//! The model itself lives in [`clamp3_model`], the input formats in [`clamp3_formats`]; this
//! crate ties them to files.

pub mod benchmark;
pub mod classify;
pub mod convert;
pub mod embed;
pub mod eval;
pub mod features;
pub mod hub;
pub mod input;
pub mod library;
pub mod output;
pub mod probe;
pub mod score;
pub mod tokenizer;
pub mod vectors;
pub mod walk;

pub use candle_core::Device;
pub use clamp3_model::{Clamp3Config, Modality, Sequence};
pub use embed::{Embedder, Embedding};
pub use input::{InputError, InputKind};

/// Errors of the library's file-to-embedding operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be turned into a model input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] clamp3_model::ModelError),
    /// The tokenizer could not be loaded.
    #[error("{}: cannot load tokenizer: {msg}", path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: std::path::PathBuf,
        /// The cause.
        msg: String,
    },
    /// Text input but the model directory has no `tokenizer.json`.
    #[error("{}: no tokenizer.json in the model directory (text needs the XLM-R tokenizer; `clamp3 download` fetches it)", dir.display())]
    NoTokenizer {
        /// The model directory.
        dir: std::path::PathBuf,
    },
    /// The index failed.
    #[error("index: {0}")]
    Index(String),
    /// The computation failed.
    #[error("model computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

/// The device named by `s`: `cpu`, `cuda` or `cuda:N` (CUDA needs the `cuda` build feature).
pub fn parse_device(s: &str) -> Result<Device, String> {
    let cuda = |n: usize| {
        Device::new_cuda(n).map_err(|e| {
            // candle appends a backtrace when RUST_BACKTRACE is set: keep the cause line.
            let e = e.to_string();
            let cause = e.lines().next().unwrap_or_default();
            format!("cannot use CUDA device {n} (`--device {s}`): {cause}")
        })
    };
    match s {
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        _ => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => cuda(n),
            None => Err(format!("unknown device `{s}` (cpu, cuda, cuda:N)")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_or_fail_clearly() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        let err = parse_device("gpu").unwrap_err();
        assert!(err.contains("unknown device `gpu`"), "{err}");
        assert!(parse_device("cuda:x").is_err());
        // Without the `cuda` feature (or without a GPU) CUDA is an error, never a panic.
        if !cfg!(feature = "cuda") {
            assert!(parse_device("cuda").is_err());
            assert!(parse_device("cuda:1").is_err());
        }
    }
}
