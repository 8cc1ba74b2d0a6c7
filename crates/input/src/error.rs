//! Why an input could not be turned into model input. Every cause here is the input's fault
//! (a bad or unsupported file, empty or malformed content): a service answers it with a 4xx.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which input an error is about: a file, or the position of an input in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRef {
    /// A file.
    Path(PathBuf),
    /// The `n`-th input (0-based) of a call that was given contents rather than files.
    Item(usize),
}

impl fmt::Display for InputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputRef::Path(p) => write!(f, "{}", p.display()),
            InputRef::Item(i) => write!(f, "input {i}"),
        }
    }
}

impl From<&Path> for InputRef {
    fn from(p: &Path) -> Self {
        InputRef::Path(p.to_path_buf())
    }
}

impl From<PathBuf> for InputRef {
    fn from(p: PathBuf) -> Self {
        InputRef::Path(p)
    }
}

impl From<usize> for InputRef {
    fn from(i: usize) -> Self {
        InputRef::Item(i)
    }
}

/// Why an input could not be turned into model input.
#[derive(Debug, thiserror::Error)]
pub enum InputCause {
    /// Reading the input file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file's extension (or the declared format) is not a supported input kind.
    #[error(
        "unsupported file type (supported: {})",
        crate::InputKind::extension_list()
    )]
    Unsupported,
    /// A text-based input is not valid UTF-8.
    #[error("not valid UTF-8 text ({0})")]
    NotUtf8(std::str::Utf8Error),
    /// A text has no non-empty line.
    #[error("empty text (no non-empty line)")]
    EmptyText,
    /// Tokenization failed on this text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// ABC/MTF could not be cut into patches.
    #[error("{0}")]
    Patch(#[from] clamp3_formats::patch::PatchError),
    /// A MIDI file could not be converted to MTF.
    #[error("MIDI: {0}")]
    Midi(#[from] clamp3_formats::mtf::MtfError),
    /// MusicXML could not be converted to ABC (where the reference's xml2abc prints nothing).
    #[error("MusicXML: {0}")]
    MusicXml(#[from] clamp3_musicxml::XmlError),
    /// Standard ABC could not be interleaved (where the reference gives up too).
    #[error("ABC interleaving: {0}")]
    Interleave(#[from] clamp3_formats::interleave::InterleaveError),
    /// A recording could not be decoded or is unusable (e.g. shorter than 1 s).
    #[error("audio: {0}")]
    Audio(#[from] clamp3_audio::AudioError),
    /// An image could not be decoded (or is too large, or of an unsupported kind).
    #[error("image: {0}")]
    Image(#[source] Box<clamp3_blip::BlipError>),
    /// A `.npy` file is malformed.
    #[error("{0}")]
    Npy(#[from] clamp3_formats::npy::NpyError),
    /// A `.npy` file does not hold (1, N, D) MERT features.
    #[error("features must have shape (1, N, {dim}) as written by MERT extraction with --mean_features, found {found:?}")]
    FeatureShape {
        /// The shape found.
        found: Vec<usize>,
        /// The feature size the model expects.
        dim: usize,
    },
    /// Features or an embedding hold NaN or infinite values.
    #[error("values contain NaN or infinity")]
    NonFinite,
    /// An embedding whose size differs from the others it is compared with.
    #[error("embedding of size {found}, the others have size {expected}")]
    VectorSize {
        /// Its size.
        found: usize,
        /// The others' size.
        expected: usize,
    },
    /// The input is larger than this tool reads.
    #[error("{what} of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// What is too large (a file, an archive member).
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// An input and why it could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{input}: {cause}")]
pub struct InputError {
    /// The input.
    pub input: InputRef,
    /// The cause.
    #[source]
    pub cause: InputCause,
}

impl InputError {
    /// An error about `input`.
    pub fn new(input: impl Into<InputRef>, cause: impl Into<InputCause>) -> Self {
        InputError {
            input: input.into(),
            cause: cause.into(),
        }
    }
}
