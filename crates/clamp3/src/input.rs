//! Input files: which kind a file is, and why one could not be used.

use std::fmt;
use std::path::{Path, PathBuf};

use clamp3_model::Modality;

/// The kinds of input file the embedder reads, told apart by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// `.txt`: text in any language; lines are de-duplicated and joined with `</s>`.
    Text,
    /// `.abc`: interleaved ABC, or standard ABC (interleaved on the fly).
    Abc,
    /// `.mtf`: MIDI text format.
    Mtf,
    /// `.npy`: MERT-v1-95M features of shape (1, N, D).
    Features,
    /// `.mid`, `.midi`: Standard MIDI Files (converted to MTF on the fly).
    Midi,
    /// MusicXML (`.xml`, `.musicxml`, compressed `.mxl`): converted to ABC as the reference's
    /// xml2abc does, then interleaved.
    MusicXml,
    /// Audio recordings (`.wav`, `.flac`, `.mp3`, `.ogg`, `.m4a`, `.aiff`...), turned into MERT
    /// features on the fly.
    Audio,
}

impl InputKind {
    /// The kind of `path`, from its extension (case-insensitive); `None` if unsupported.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" => InputKind::Text,
            "abc" => InputKind::Abc,
            "mtf" => InputKind::Mtf,
            "npy" => InputKind::Features,
            "mid" | "midi" => InputKind::Midi,
            "xml" | "musicxml" | "mxl" => InputKind::MusicXml,
            "wav" | "wave" | "flac" | "mp3" | "ogg" | "oga" | "m4a" | "mp4" | "aac" | "alac"
            | "aif" | "aiff" | "aifc" | "caf" | "mka" | "webm" | "opus" => InputKind::Audio,
            _ => return None,
        })
    }

    /// The encoder that reads this kind.
    pub fn modality(self) -> Modality {
        match self {
            InputKind::Text => Modality::Text,
            InputKind::Abc | InputKind::Mtf | InputKind::Midi | InputKind::MusicXml => {
                Modality::Symbolic
            }
            InputKind::Features | InputKind::Audio => Modality::Audio,
        }
    }

    /// Every supported extension.
    pub const EXTENSIONS: &'static [&'static str] = &[
        "txt", "abc", "mtf", "npy", "mid", "midi", "xml", "musicxml", "mxl", "wav", "flac", "mp3",
        "ogg", "m4a", "aiff",
    ];
}

/// Why an input file could not be turned into model input.
#[derive(Debug, thiserror::Error)]
pub enum InputCause {
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The extension is not a supported input kind.
    #[error("unsupported file type (supported: {})", InputKind::EXTENSIONS.join(", "))]
    Unsupported,
    /// A text-based input is not valid UTF-8.
    #[error("not valid UTF-8 text ({0})")]
    NotUtf8(std::str::Utf8Error),
    /// A `.txt` file has no non-empty line.
    #[error("empty text (no non-empty line)")]
    EmptyText,
    /// Tokenization failed.
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
    /// An audio file could not be decoded or is unusable (e.g. shorter than 1 s).
    #[error("audio: {0}")]
    Audio(#[from] clamp3_audio::AudioError),
    /// Audio input, but no MERT model is loaded.
    #[error("audio needs the MERT-v1-95M model: put it in <model dir>/mert, pass --mert DIR, or run `clamp3 download mert`")]
    NoMert,
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
    /// The input holds a value the model cannot take (e.g. NaN features).
    #[error("{0}")]
    Invalid(String),
    /// The model failed on this input.
    #[error("model: {0}")]
    Model(String),
}

/// An input file and why it failed.
#[derive(Debug, thiserror::Error)]
pub struct InputError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub cause: InputCause,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.cause)
    }
}

impl InputError {
    /// An error for `path`.
    pub fn new(path: &Path, cause: impl Into<InputCause>) -> Self {
        InputError {
            path: path.to_path_buf(),
            cause: cause.into(),
        }
    }
}
