//! CLaMP 3 in Rust: text, sheet music (ABC, MusicXML), performance (MIDI/MTF) and audio
//! (recordings or MERT features) embedded into one 768-dimensional space, with the same numbers
//! as the reference implementation.
//!
//! ```no_run
//! use clamp3::{EmbedOptions, Embedder, Input, InputKind, Modality};
//! let embedder = Embedder::load("models/saas".as_ref(), &[Modality::Text], &clamp3::Device::Cpu)?;
//! let v = embedder.embed_text("a lively Irish reel")?;
//! assert_eq!(v.len(), 768);
//! // Any kind of input, from bytes, in one batch:
//! let abc = std::fs::read("tune.abc")?;
//! let out = embedder.embed(&[Input::bytes(InputKind::Abc, abc)], &EmbedOptions::default());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The layers below: [`clamp3_input`] prepares every modality from bytes (one module each),
//! [`clamp3_model`] holds the encoders, [`clamp3_index`] the persistent index. This crate holds
//! the [`Embedder`] (prepare, then embed in batches), the applications on embeddings (search
//! through a [`Library`], classification, scoring, evaluation, linear probes) and the model
//! [`hub`] (release files, cache, downloads).

pub mod classify;
pub mod convert;
pub mod embedder;
pub mod error;
pub mod eval;
pub mod hub;
pub mod import;
pub mod library;
pub mod mert;
pub mod output;
pub mod probe;
pub mod score;
pub mod shard;
pub mod vectors;
pub mod walk;

/// Recordings: decoding and MERT windows ([`clamp3_input::audio`]), and where audio comes from.
pub mod audio {
    pub use clamp3_audio::{AudioError, AudioSource, MertOptions};
    pub use clamp3_input::audio::{read_features, Features, Recording};
}

pub use candle_core::Device;
pub use clamp3_input::{
    Input, InputCause, InputError, InputKind, InputRef, Prepared, TextTokenizer,
};
pub use clamp3_model::{Clamp3Config, Modality, Sequence};
pub use embedder::{
    Cause, Companions, EmbedOptions, Embedder, Embedding, EmbeddingRecord, MissingPart,
};
pub use error::{EmbedError, Error, Fault, SystemCause};
pub use library::{Found, ImportReport, Library, SearchMode, SearchOptions, SearchResults};
pub use shard::Shard;

/// Why a device name could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device `{0}` (cpu, cuda, cuda:N)")]
    Unknown(String),
    /// CUDA could not be used (not built in, no GPU, driver error).
    #[error("cannot use CUDA device {index}: {cause}")]
    Cuda {
        /// The device number.
        index: usize,
        /// The cause (its first line).
        cause: String,
    },
}

/// The device named by `s`: `cpu`, `cuda` or `cuda:N` (CUDA needs the `cuda` build feature).
pub fn parse_device(s: &str) -> Result<Device, DeviceError> {
    let cuda = |n: usize| {
        Device::new_cuda(n).map_err(|e| {
            // candle appends a backtrace when RUST_BACKTRACE is set: keep the cause line.
            let e = e.to_string();
            DeviceError::Cuda {
                index: n,
                cause: e.lines().next().unwrap_or_default().to_string(),
            }
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
            None => Err(DeviceError::Unknown(s.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_or_fail_clearly() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        let err = parse_device("gpu").unwrap_err().to_string();
        assert!(err.contains("unknown device `gpu`"), "{err}");
        assert!(parse_device("cuda:x").is_err());
        // Without the `cuda` feature (or without a GPU) CUDA is an error, never a panic.
        if !cfg!(feature = "cuda") {
            assert!(parse_device("cuda").is_err());
            assert!(parse_device("cuda:1").is_err());
        }
    }
}
