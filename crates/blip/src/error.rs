//! Error type of the captioner.

use std::path::{Path, PathBuf};

use crate::decode::ImageFormat;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The image bytes: another file may well work.
    Input,
    /// The model folder, its configuration, or the computation: no image will work.
    System,
}

/// Everything that can go wrong between image bytes and a caption.
///
/// No input makes this crate panic: the decoders run behind `catch_unwind`
/// ([`BlipError::DecoderPanic`]).
#[derive(Debug, thiserror::Error)]
pub enum BlipError {
    // ---- the input's fault ----
    /// The bytes are not a PNG, JPEG or WebP file. `detected` names the format when it is one
    /// the `image` crate recognises (e.g. `Gif`, `Bmp`), `None` for unknown bytes.
    #[error("unsupported image format{}: only PNG, JPEG and WebP are accepted", detected.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    UnsupportedFormat {
        /// The recognised format, if any.
        detected: Option<String>,
    },
    /// The file is shorter than its own headers say (cut off in transfer, partial download).
    #[error("truncated {format} file: {reason}")]
    Truncated {
        /// The container format.
        format: ImageFormat,
        /// The decoder's message.
        reason: String,
    },
    /// The data is not a valid image of its format.
    #[error("corrupt {format} file: {reason}")]
    Corrupt {
        /// The container format.
        format: ImageFormat,
        /// The decoder's message.
        reason: String,
    },
    /// The image's dimensions, read from its header before any pixel is decoded, exceed the
    /// limits (see [`crate::DecodeLimits`]).
    #[error("image too large: {width}x{height} pixels, the limit is {max_side} pixels a side and {max_pixels} pixels in all")]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Largest accepted width or height.
        max_side: u32,
        /// Largest accepted width x height.
        max_pixels: u64,
    },
    /// Decoding needs more memory than the decoder is allowed to allocate.
    #[error("decoding this {format} image needs more than {max_alloc} bytes of memory")]
    OutOfMemoryLimit {
        /// The container format.
        format: ImageFormat,
        /// The allocation limit in bytes.
        max_alloc: u64,
    },
    /// The image has zero width or height.
    #[error("the image is empty ({width}x{height})")]
    Empty {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// The pixels are in a layout this crate does not convert (e.g. floating point samples).
    #[error("unsupported pixel layout {layout} in a {format} file")]
    UnsupportedPixels {
        /// The container format.
        format: ImageFormat,
        /// The decoder's colour type.
        layout: String,
    },
    /// A decoder panicked on this input; the panic was caught and turned into this error.
    #[error("the {format} decoder crashed on malformed input: {message}")]
    DecoderPanic {
        /// The container format.
        format: ImageFormat,
        /// The panic message.
        message: String,
    },

    // ---- the system's fault ----
    /// A file of the model folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A model folder file is missing.
    #[error("{} is missing from the BLIP model folder", path.display())]
    MissingFile {
        /// The expected file (for weights: `model.safetensors` or `pytorch_model.bin`).
        path: PathBuf,
    },
    /// `config.json`, `preprocessor_config.json` or `tokenizer_config.json` is invalid or
    /// describes a model this crate does not implement.
    #[error("{}: {msg}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The configuration asks for a generation or preprocessing setting other than the ones
    /// implemented (greedy decoding, bicubic resize).
    #[error("{}: unsupported setting {setting} = {value} (this implementation does {supported})", path.display())]
    UnsupportedSetting {
        /// The file.
        path: PathBuf,
        /// The key.
        setting: String,
        /// Its value.
        value: String,
        /// What is implemented.
        supported: String,
    },
    /// The weights could not be loaded (missing tensor, wrong shape, unreadable file).
    #[error("BLIP weights: {0}")]
    Weights(#[from] clamp3_model::WeightsError),
    /// The weights do not fit the configuration (missing tensor, wrong shape or type).
    #[error("{}: {msg}", path.display())]
    WeightsMismatch {
        /// The weights file.
        path: PathBuf,
        /// The key and shapes involved.
        msg: String,
    },
    /// `tokenizer.json` could not be loaded, or decoding failed.
    #[error("tokenizer {}: {msg}", path.display())]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// The tokenizers crate's message.
        msg: String,
    },
    /// A tensor operation failed.
    #[error("BLIP computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

impl BlipError {
    /// Whether the image or the system is to blame.
    pub fn fault(&self) -> Fault {
        match self {
            BlipError::UnsupportedFormat { .. }
            | BlipError::Truncated { .. }
            | BlipError::Corrupt { .. }
            | BlipError::TooLarge { .. }
            | BlipError::OutOfMemoryLimit { .. }
            | BlipError::Empty { .. }
            | BlipError::UnsupportedPixels { .. }
            | BlipError::DecoderPanic { .. } => Fault::Input,
            BlipError::Io { .. }
            | BlipError::MissingFile { .. }
            | BlipError::Config { .. }
            | BlipError::UnsupportedSetting { .. }
            | BlipError::Weights(_)
            | BlipError::WeightsMismatch { .. }
            | BlipError::Tokenizer { .. }
            | BlipError::Compute(_) => Fault::System,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = BlipError> = std::result::Result<T, E>;

impl BlipError {
    /// A configuration file that cannot be used (`path`), with why.
    pub(crate) fn config(path: &Path, msg: impl Into<String>) -> Self {
        BlipError::Config {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// A configuration `setting` of `path` with a `value` this crate does not implement.
    pub(crate) fn unsupported(path: &Path, setting: &str, value: String, supported: &str) -> Self {
        BlipError::UnsupportedSetting {
            path: path.to_path_buf(),
            setting: setting.into(),
            value,
            supported: supported.into(),
        }
    }
}

/// The text of a model folder's file (a configuration, a tokenizer configuration).
pub(crate) fn read_text(path: &Path) -> Result<String, BlipError> {
    std::fs::read_to_string(path).map_err(|e| BlipError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
