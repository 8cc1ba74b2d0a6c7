//! One training or evaluation pair per record: the one item type that goes from the data
//! source to the training step.

use clamp3_input::TextTokenizer;
use clamp3_model::{Clamp3Config, Modality};

use super::crop::{crop_ids, CropMode};
use super::music::{pick_file, sample_audio, sample_symbolic, AudioSample, SymbolicSample};
use super::text::{eval_text, sample_text};
use super::{DataError, MusicStore, Record, Rng};

/// Lengths and switches of the sampling. The lengths are the model's
/// ([`SampleConfig::for_model`]); nothing else states them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleConfig {
    /// Tokens per text item (`max_text_length`, 128).
    pub max_text_len: usize,
    /// Ids per patch (`patch_size`, 64).
    pub patch_size: usize,
    /// Patches per symbolic item (`patch_length`, 512).
    pub patch_length: usize,
    /// Vectors per audio item (`max_audio_length`, 128).
    pub max_audio_len: usize,
    /// Values per audio vector (the audio encoder's width, 768).
    pub audio_dim: usize,
    /// `TEXT_DROPOUT`: training texts come from [`sample_text`] (true, the default) or are
    /// the evaluation text, `analysis` (false; still randomly cropped in training).
    pub text_dropout: bool,
}

impl SampleConfig {
    /// The sampling lengths of a model.
    pub fn for_model(c: &Clamp3Config) -> Self {
        SampleConfig {
            max_text_len: c.max_text_length,
            patch_size: c.patch_size,
            patch_length: c.patch_length,
            max_audio_len: c.max_audio_length,
            audio_dim: c.audio_config.hidden_size,
            text_dropout: true,
        }
    }
}

impl Default for SampleConfig {
    /// The release model's lengths (the reference's `config.py`).
    fn default() -> Self {
        Self::for_model(&Clamp3Config::default())
    }
}

/// The music model input of one pair.
#[derive(Debug, Clone, PartialEq)]
pub enum Music {
    /// Patches, row-major `[P, patch_size]`.
    Patches(Vec<u32>),
    /// Feature vectors, row-major `[T, dim]`, the zero BOS/EOS vectors included (where the
    /// crop kept them).
    Features(Vec<f32>),
}

impl Music {
    /// The modality of the music.
    pub fn modality(&self) -> Modality {
        match self {
            Music::Patches(_) => Modality::Symbolic,
            Music::Features(_) => Modality::Audio,
        }
    }
}

impl From<SymbolicSample> for Music {
    fn from(s: SymbolicSample) -> Self {
        Music::Patches(s.ids)
    }
}

impl From<AudioSample> for Music {
    fn from(a: AudioSample) -> Self {
        Music::Features(a.data)
    }
}

/// One training or evaluation item: text ids and music.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// XLM-R ids, at most `max_text_len`.
    pub text: Vec<u32>,
    /// The music.
    pub music: Music,
}

/// Samples one item of a record for a stage of modality `kind`, drawing from `rng` in the
/// reference's order: text, text crop, music file, instrument removal, music crop.
/// Evaluation (`train == false`) draws nothing: `analysis` with a head crop, the first
/// (ABC) file, no instrument removal, head crop. Errors are per item (no text, no file, a
/// file that cannot be read): the caller skips and counts them.
pub fn sample_pair(
    rec: &Record,
    kind: Modality,
    store: &MusicStore,
    tokenizer: &TextTokenizer,
    cfg: &SampleConfig,
    rng: &mut Rng,
    train: bool,
) -> Result<Pair, DataError> {
    let no_text = || DataError::NoText {
        line: rec.line,
        id: rec.id.clone(),
    };
    let text = if train && cfg.text_dropout {
        sample_text(rec, rng)
    } else {
        eval_text(rec)
    }
    .ok_or_else(no_text)?;
    let ids = tokenizer
        .encode(&text)
        .map_err(|e| DataError::Tokenizer(e.to_string()))?;
    let text = crop_ids(ids, cfg.max_text_len, rng, CropMode::for_training(train));
    let file = pick_file(rec, kind, rng, train).ok_or_else(|| DataError::NoMusicFile {
        line: rec.line,
        id: rec.id.clone(),
        kind,
    })?;
    let music = match kind {
        Modality::Symbolic => {
            let t = store.symbolic_text(file)?;
            sample_symbolic(&t, cfg.patch_size, cfg.patch_length, rng, train)?.into()
        }
        _ => {
            let f = store.audio_features(file)?;
            if f.dim != cfg.audio_dim {
                return Err(DataError::FeatureShape {
                    path: store.resolve(file),
                    found: vec![1, f.rows, f.dim],
                    dim: cfg.audio_dim,
                });
            }
            sample_audio(&f.data, f.dim, cfg.max_audio_len, rng, train)?.into()
        }
    };
    Ok(Pair { text, music })
}
