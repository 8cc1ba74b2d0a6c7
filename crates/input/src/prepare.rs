//! An input of any kind → its prepared model input: the dispatch to the modality modules.

use std::path::PathBuf;
use std::sync::Arc;

use clamp3_audio::{AudioSource, MertOptions};
use clamp3_formats::patch::Patchilizer;
use clamp3_model::{Modality, Sequence};

use crate::audio::{self, Recording};
use crate::error::InputCause;
use crate::kind::InputKind;
use crate::symbolic::{self, MxlSelection};
use crate::text::{self, TextTokenizer};

/// One input to embed, independent of where it came from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A text, embedded exactly as a `.txt` file with that content.
    Text(String),
    /// The content of a file of `kind` (e.g. an upload).
    Bytes {
        /// What the bytes are.
        kind: InputKind,
        /// The content.
        bytes: Arc<[u8]>,
    },
    /// A file on disk; its kind comes from its extension. Recordings are streamed from it,
    /// never read whole.
    Path(PathBuf),
}

impl Input {
    /// The kind of the input, when it is known (`None` for a file with an unsupported
    /// extension).
    pub fn kind(&self) -> Option<InputKind> {
        match self {
            Input::Text(_) => Some(InputKind::Text),
            Input::Bytes { kind, .. } => Some(*kind),
            Input::Path(p) => InputKind::of(p),
        }
    }

    /// A file input.
    pub fn path(p: impl Into<PathBuf>) -> Self {
        Input::Path(p.into())
    }

    /// An input of `kind` with content `bytes`.
    pub fn bytes(kind: InputKind, bytes: impl Into<Arc<[u8]>>) -> Self {
        Input::Bytes {
            kind,
            bytes: bytes.into(),
        }
    }
}

/// A prepared input: what the encoders read, or, for a recording, its windows still to run
/// through MERT.
#[derive(Debug)]
pub enum Prepared {
    /// The full input sequence (token ids, patches or features with their zero rows).
    Sequence(Sequence),
    /// A recording, decoded and normalised, waiting for MERT.
    Recording(Recording),
}

impl Prepared {
    /// The encoder that reads it.
    pub fn modality(&self) -> Modality {
        match self {
            Prepared::Sequence(s) => s.modality(),
            Prepared::Recording(_) => Modality::Audio,
        }
    }

    /// Its size in the encoder's units (tokens, patches, feature vectors including the two
    /// zero rows), known before running any model.
    pub fn len(&self) -> usize {
        match self {
            Prepared::Sequence(s) => s.len(),
            Prepared::Recording(r) => r.windows_len() + 2,
        }
    }

    /// True when empty (never for a successfully prepared input).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why [`Preparer::prepare`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The input's fault.
    #[error(transparent)]
    Input(#[from] InputCause),
    /// A text input, but this preparer has no tokenizer (the text encoder is not loaded).
    #[error("no XLM-R tokenizer is loaded, so text cannot be prepared")]
    NoTokenizer,
}

/// Prepares inputs of every kind for one model: its tokenizer, its patch size, its feature
/// width, and the member rule for `.mxl` archives. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Preparer {
    tokenizer: Option<Arc<TextTokenizer>>,
    patchilizer: Patchilizer,
    audio_dim: usize,
    mxl: MxlSelection,
    recordings: MertOptions,
}

impl Preparer {
    /// A preparer for a model with `patch_size`-id patches and `audio_dim`-value features;
    /// `tokenizer` is needed for text only. Archives are read with [`MxlSelection::Lenient`].
    pub fn new(
        tokenizer: Option<Arc<TextTokenizer>>,
        patch_size: usize,
        audio_dim: usize,
    ) -> Result<Self, InputCause> {
        Ok(Preparer {
            tokenizer,
            patchilizer: Patchilizer::with_patch_size(patch_size)?,
            audio_dim,
            mxl: MxlSelection::Lenient,
            recordings: MertOptions::default(),
        })
    }

    /// Uses `selection` for `.mxl` archives.
    pub fn with_mxl_selection(mut self, selection: MxlSelection) -> Self {
        self.mxl = selection;
        self
    }

    /// Opens recordings with `opts` (e.g. a duration limit, or a smaller in-memory limit so
    /// that long recordings are decoded again per pass instead of held).
    pub fn with_recording_options(mut self, opts: MertOptions) -> Self {
        self.recordings = opts;
        self
    }

    /// The options recordings are opened with.
    pub fn recording_options(&self) -> &MertOptions {
        &self.recordings
    }

    /// The tokenizer, if text can be prepared.
    pub fn tokenizer(&self) -> Option<&TextTokenizer> {
        self.tokenizer.as_deref()
    }

    /// The patchilizer.
    pub fn patchilizer(&self) -> &Patchilizer {
        &self.patchilizer
    }

    /// Width of the audio features.
    pub fn audio_dim(&self) -> usize {
        self.audio_dim
    }

    fn tokenizer_or_err(&self) -> Result<&TextTokenizer, PrepareError> {
        self.tokenizer.as_deref().ok_or(PrepareError::NoTokenizer)
    }

    /// The token ids of a text with the content of a `.txt` file.
    pub fn text(&self, content: &str) -> Result<Sequence, PrepareError> {
        Ok(Sequence::Text(text::ids(
            self.tokenizer_or_err()?,
            content,
        )?))
    }

    /// The patches of model text (interleaved ABC or MTF).
    pub fn symbolic(&self, model_text: &str) -> Result<Sequence, PrepareError> {
        Ok(symbolic::patches(&self.patchilizer, model_text)?)
    }

    /// Prepares the content of an input of `kind`.
    pub fn prepare_bytes(&self, kind: InputKind, bytes: &[u8]) -> Result<Prepared, PrepareError> {
        self.prepare_source(kind, bytes, || AudioSource::Bytes(Arc::from(bytes), None))
    }

    fn prepare_source(
        &self,
        kind: InputKind,
        bytes: &[u8],
        recording: impl FnOnce() -> AudioSource,
    ) -> Result<Prepared, PrepareError> {
        Ok(Prepared::Sequence(match kind {
            InputKind::Text => self.text(&text::read(bytes)?)?,
            InputKind::Abc | InputKind::Mtf | InputKind::Midi | InputKind::MusicXml => {
                self.symbolic(&symbolic::model_text(kind, bytes, self.mxl)?)?
            }
            InputKind::Features => audio::read_features(bytes, self.audio_dim)?.into_sequence(),
            InputKind::Audio => {
                return Ok(Prepared::Recording(Recording::open_with(
                    &recording(),
                    &self.recordings,
                )?))
            }
        }))
    }

    /// Prepares one input. A file is read whole, except a recording, which is streamed.
    pub fn prepare(&self, input: &Input) -> Result<Prepared, PrepareError> {
        match input {
            Input::Text(t) => Ok(Prepared::Sequence(self.text(t)?)),
            Input::Bytes { kind, bytes } => {
                self.prepare_source(*kind, bytes, || AudioSource::Bytes(bytes.clone(), None))
            }
            Input::Path(p) => {
                let kind = InputKind::of(p).ok_or(InputCause::Unsupported)?;
                if kind == InputKind::Audio {
                    return Ok(Prepared::Recording(Recording::open_with(
                        &AudioSource::path(p),
                        &self.recordings,
                    )?));
                }
                let bytes = std::fs::read(p).map_err(InputCause::Io)?;
                self.prepare_source(kind, &bytes, || AudioSource::path(p))
            }
        }
    }
}
