//! The library's errors, each saying whose fault it is: the input's (a bad, unsupported, empty
//! or too long input: a client error) or the system's (a model part missing, a failed
//! computation, a broken model directory or index: a server error).

use std::path::PathBuf;

use clamp3_input::{InputCause, InputError, InputRef};
use clamp3_model::Modality;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The input's: fix the input (HTTP 4xx).
    Input,
    /// The system's: the model, its files, the index or the machine (HTTP 5xx).
    System,
}

/// Why the system could not embed an input that may well be fine.
#[derive(Debug, thiserror::Error)]
pub enum SystemCause {
    /// The encoder of this modality is not loaded.
    #[error("the {0} encoder is not loaded")]
    NotLoaded(Modality),
    /// A text input, but the model has no tokenizer.
    #[error("no XLM-R tokenizer is loaded")]
    NoTokenizer,
    /// A recording, but MERT-v1-95M is not loaded.
    #[error("recordings need the MERT-v1-95M model, which is not loaded")]
    NoMert,
    /// An image, but BLIP is not loaded.
    #[error("images need the BLIP captioning model, which is not loaded")]
    NoBlip,
    /// Captioning failed (BLIP's model or computation, not the image).
    #[error("captioning failed: {0}")]
    Caption(#[source] Box<clamp3_blip::BlipError>),
    /// The input needs a model to be embedded, and none is loaded.
    #[error("needs a model to be embedded, and none is loaded")]
    NoModel,
    /// The model computation failed.
    #[error("model computation failed: {0}")]
    Compute(#[source] candle_core::Error),
}

/// Why one input could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The input's fault.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The system's fault.
    #[error("{input}: {cause}")]
    System {
        /// The input.
        input: InputRef,
        /// The cause.
        #[source]
        cause: SystemCause,
    },
}

impl EmbedError {
    /// Which input the error is about.
    pub fn input(&self) -> &InputRef {
        match self {
            EmbedError::Input(e) => &e.input,
            EmbedError::System { input, .. } => input,
        }
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            EmbedError::Input(_) => Fault::Input,
            EmbedError::System { .. } => Fault::System,
        }
    }

    /// The same error about another input (e.g. a request's index instead of a batch slot).
    pub fn with_input(self, input: InputRef) -> Self {
        match self {
            EmbedError::Input(e) => EmbedError::Input(InputError {
                input,
                cause: e.cause,
            }),
            EmbedError::System { cause, .. } => EmbedError::System { input, cause },
        }
    }

    pub(crate) fn input_cause(input: InputRef, cause: impl Into<InputCause>) -> Self {
        EmbedError::Input(InputError::new(input, cause))
    }

    pub(crate) fn system(input: InputRef, cause: SystemCause) -> Self {
        EmbedError::System { input, cause }
    }
}

/// Errors of the library's operations other than embedding one input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be embedded.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The model's files could not be found or loaded.
    #[error(transparent)]
    Model(#[from] clamp3_model::ModelError),
    /// The tokenizer file could not be loaded.
    #[error(transparent)]
    Tokenizer(#[from] clamp3_input::text::TokenizerError),
    /// Text needs the XLM-R tokenizer, and the model directory has none.
    #[error("{}: no tokenizer.json in the model directory (text needs the XLM-R tokenizer)", dir.display())]
    NoTokenizer {
        /// The model directory.
        dir: PathBuf,
    },
    /// No MERT-v1-95M model where it was looked for.
    #[error("MERT-v1-95M not found (looked in {})", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    MertNotFound {
        /// The folders looked in, in order.
        searched: Vec<PathBuf>,
    },
    /// No BLIP model where it was looked for.
    #[error("BLIP (blip-image-captioning-base) not found (looked in {})", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    BlipNotFound {
        /// The folders looked in, in order.
        searched: Vec<PathBuf>,
    },
    /// The BLIP model could not be loaded.
    #[error(transparent)]
    Blip(#[from] clamp3_blip::BlipError),
    /// The MERT model's feature width is not the audio encoder's.
    #[error("MERT hidden_size {mert} does not match the audio encoder's {audio}")]
    MertWidth {
        /// MERT's width.
        mert: usize,
        /// The audio encoder's input width.
        audio: usize,
    },
    /// A model name or path could not be resolved.
    #[error(transparent)]
    Hub(#[from] crate::hub::HubError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] clamp3_index::IndexError),
    /// A computation outside one input failed.
    #[error("model computation failed: {0}")]
    Compute(#[from] candle_core::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A data file (e.g. evaluation JSONL) is malformed.
    #[error("{}: {message}", path.display())]
    Data {
        /// The file (and line, in the message).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Embed(e) => e.fault(),
            Error::Data { .. } => Fault::Input,
            Error::Index(clamp3_index::IndexError::Dimension { .. }) => Fault::Input,
            _ => Fault::System,
        }
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
