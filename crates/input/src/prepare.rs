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
use crate::text::{self, TextLimits, TextTokenizer};

/// What one input may cost: a text is cut after [`TextLimits::max_tokens`] ids (the rest is not
/// read); any other file is refused above `max_file_bytes` (recordings are streamed and have
/// no size limit; their windows are produced one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Text reading.
    pub text: TextLimits,
    /// Largest symbolic or feature file read (64 MiB by default; the largest score of the
    /// music21 corpus is about 11 MB).
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            text: TextLimits::default(),
            max_file_bytes: 64 << 20,
        }
    }
}

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
    /// An image's caption and its token ids.
    Caption {
        /// The caption BLIP wrote.
        text: String,
        /// Its token ids.
        sequence: Sequence,
    },
}

impl Prepared {
    /// The encoder that reads it.
    pub fn modality(&self) -> Modality {
        match self {
            Prepared::Sequence(s) | Prepared::Caption { sequence: s, .. } => s.modality(),
            Prepared::Recording(_) => Modality::Audio,
        }
    }

    /// Its size in the encoder's units (tokens, patches, feature vectors including the two
    /// zero rows), known before running any model.
    pub fn len(&self) -> usize {
        match self {
            Prepared::Sequence(s) | Prepared::Caption { sequence: s, .. } => s.len(),
            Prepared::Recording(r) => r.windows_len() + 2,
        }
    }

    /// The caption, for an image.
    pub fn caption(&self) -> Option<&str> {
        match self {
            Prepared::Caption { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The sequence the encoders read, when it is ready (not for a recording before MERT).
    pub fn sequence(&self) -> Option<&Sequence> {
        match self {
            Prepared::Sequence(s) | Prepared::Caption { sequence: s, .. } => Some(s),
            Prepared::Recording(_) => None,
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
    /// An image, but this preparer has no captioner (BLIP is not loaded).
    #[error("no BLIP captioner is loaded, so images cannot be prepared")]
    NoCaptioner,
    /// The captioner failed (its model or the computation, not the image).
    #[error(transparent)]
    Captioner(Box<clamp3_blip::BlipError>),
}

/// Prepares inputs of every kind for one model: its tokenizer, its patch size, its feature
/// width, and the member rule for `.mxl` archives. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Preparer {
    tokenizer: Option<Arc<TextTokenizer>>,
    captioner: Option<Arc<clamp3_blip::Captioner>>,
    patchilizer: Patchilizer,
    audio_dim: usize,
    mxl: MxlSelection,
    limits: Limits,
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
            captioner: None,
            patchilizer: Patchilizer::with_patch_size(patch_size)?,
            audio_dim,
            mxl: MxlSelection::Lenient,
            limits: Limits::default(),
            recordings: MertOptions::default(),
        })
    }

    /// Captions images with `captioner`.
    pub fn with_captioner(mut self, captioner: Arc<clamp3_blip::Captioner>) -> Self {
        self.captioner = Some(captioner);
        self
    }

    /// The captioner, if images can be prepared.
    pub fn captioner(&self) -> Option<&clamp3_blip::Captioner> {
        self.captioner.as_deref()
    }

    /// The caption of image bytes and its token ids.
    fn image(&self, bytes: &[u8]) -> Result<Prepared, PrepareError> {
        let captioner = self.captioner.as_deref().ok_or(PrepareError::NoCaptioner)?;
        self.tokenizer_or_err()?;
        let text = crate::image::caption(captioner, bytes).map_err(|e| match e {
            crate::image::CaptionError::Input(c) => PrepareError::Input(c),
            crate::image::CaptionError::System(e) => PrepareError::Captioner(e),
        })?;
        let sequence = self.text(&text)?;
        Ok(Prepared::Caption { text, sequence })
    }

    /// Uses `limits` for every input.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
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
        self.text_from(content.as_bytes())
    }

    /// The token ids of the text a reader yields (read as far as the limits need).
    fn text_from(&self, reader: impl std::io::Read) -> Result<Sequence, PrepareError> {
        let tok = self.tokenizer_or_err()?;
        Ok(Sequence::Text(text::ids_from_reader(
            tok,
            reader,
            &self.limits.text,
        )?))
    }

    fn check_size(&self, size: u64) -> Result<(), InputCause> {
        if size > self.limits.max_file_bytes {
            return Err(InputCause::TooLarge {
                what: "file",
                size,
                limit: self.limits.max_file_bytes,
            });
        }
        Ok(())
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
        if !matches!(kind, InputKind::Text | InputKind::Audio) {
            self.check_size(bytes.len() as u64)?;
        }
        Ok(match kind {
            InputKind::Text => Prepared::Sequence(self.text_from(bytes)?),
            InputKind::Abc | InputKind::Mtf | InputKind::Midi | InputKind::MusicXml => {
                Prepared::Sequence(self.symbolic(&symbolic::model_text(kind, bytes, self.mxl)?)?)
            }
            InputKind::Features => {
                Prepared::Sequence(audio::read_features(bytes, self.audio_dim)?.into_sequence())
            }
            InputKind::Audio => {
                Prepared::Recording(Recording::open_with(&recording(), &self.recordings)?)
            }
            InputKind::Image => self.image(bytes)?,
        })
    }

    /// Prepares one input. Texts and recordings are streamed from files; other files are read
    /// whole, up to the size limit.
    pub fn prepare(&self, input: &Input) -> Result<Prepared, PrepareError> {
        match input {
            Input::Text(t) => Ok(Prepared::Sequence(self.text(t)?)),
            Input::Bytes { kind, bytes } => {
                self.prepare_source(*kind, bytes, || AudioSource::Bytes(bytes.clone(), None))
            }
            Input::Path(p) => {
                let kind = InputKind::of(p).ok_or(InputCause::Unsupported)?;
                match kind {
                    InputKind::Audio => Ok(Prepared::Recording(Recording::open_with(
                        &AudioSource::path(p),
                        &self.recordings,
                    )?)),
                    InputKind::Text => {
                        let tok = self.tokenizer_or_err()?;
                        let f = std::fs::File::open(p).map_err(InputCause::Io)?;
                        Ok(Prepared::Sequence(Sequence::Text(text::ids_from_reader(
                            tok,
                            f,
                            &self.limits.text,
                        )?)))
                    }
                    _ => {
                        let size = std::fs::metadata(p).map_err(InputCause::Io)?.len();
                        self.check_size(size)?;
                        let bytes = std::fs::read(p).map_err(InputCause::Io)?;
                        self.prepare_source(kind, &bytes, || AudioSource::path(p))
                    }
                }
            }
        }
    }
}
