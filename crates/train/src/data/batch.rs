//! One training pair per record, and padded batches as flat buffers with shapes (the
//! trainer turns them into tensors).

use clamp3::tokenizer::TextTokenizer;

use super::music::{pick_file, sample_audio, sample_symbolic, AudioSample, SymbolicSample};
use super::text::{crop_ids, eval_text, sample_text, CropMode};
use super::{
    DataError, MusicKind, MusicStore, Record, Rng, AUDIO_DIM, MAX_AUDIO_LENGTH, MAX_TEXT_LENGTH,
    PATCH_LENGTH, PATCH_SIZE, TEXT_PAD_ID,
};

/// Lengths and switches of the sampling (the reference's `config.py` values by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleConfig {
    /// Tokens per text item (`MAX_TEXT_LENGTH`, 128).
    pub max_text_len: usize,
    /// Ids per patch (`PATCH_SIZE`, 64).
    pub patch_size: usize,
    /// Patches per symbolic item (`PATCH_LENGTH`, 512).
    pub patch_length: usize,
    /// Vectors per audio item (`MAX_AUDIO_LENGTH`, 128).
    pub max_audio_len: usize,
    /// Values per audio vector (768).
    pub audio_dim: usize,
    /// `TEXT_DROPOUT`: training texts come from [`sample_text`] (true, the default) or are
    /// the evaluation text, `analysis` (false; still randomly cropped in training).
    pub text_dropout: bool,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            max_text_len: MAX_TEXT_LENGTH,
            patch_size: PATCH_SIZE,
            patch_length: PATCH_LENGTH,
            max_audio_len: MAX_AUDIO_LENGTH,
            audio_dim: AUDIO_DIM,
            text_dropout: true,
        }
    }
}

/// The music of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum MusicSample {
    /// Cropped patches.
    Symbolic(SymbolicSample),
    /// Cropped feature vectors.
    Audio(AudioSample),
}

impl MusicSample {
    /// Number of patches or vectors.
    pub fn len(&self) -> usize {
        match self {
            MusicSample::Symbolic(s) => s.patches,
            MusicSample::Audio(a) => a.rows,
        }
    }

    /// True when there are no patches or vectors (never for sampled items).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One training or evaluation item: text ids and music.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// XLM-R ids, at most `max_text_len`.
    pub text: Vec<u32>,
    /// The music.
    pub music: MusicSample,
}

/// Samples one item of a record for a stage of modality `kind`, drawing from `rng` in the
/// reference's order: text, text crop, music file, instrument removal, music crop.
/// Evaluation (`train == false`) draws nothing: `analysis` with a head crop, the first
/// (ABC) file, no instrument removal, head crop. Errors are per item (no text, no file, a
/// file that cannot be read): the caller skips and counts them.
pub fn sample_pair(
    rec: &Record,
    kind: MusicKind,
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
    let ids = tokenizer.encode(&text).map_err(DataError::Tokenizer)?;
    let text = crop_ids(ids, cfg.max_text_len, rng, CropMode::for_training(train));
    let file = pick_file(rec, kind, rng, train).ok_or_else(|| DataError::NoMusicFile {
        line: rec.line,
        id: rec.id.clone(),
        kind,
    })?;
    let music = match kind {
        MusicKind::Symbolic => {
            let t = store.symbolic_text(file)?;
            MusicSample::Symbolic(sample_symbolic(
                &t,
                cfg.patch_size,
                cfg.patch_length,
                rng,
                train,
            )?)
        }
        MusicKind::Audio => {
            let f = store.audio_features(file)?;
            if f.dim != cfg.audio_dim {
                return Err(DataError::FeatureShape {
                    path: store.resolve(file),
                    found: vec![1, f.rows, f.dim],
                    dim: cfg.audio_dim,
                });
            }
            MusicSample::Audio(sample_audio(&f.data, f.dim, cfg.max_audio_len, rng, train)?)
        }
    };
    Ok(Pair { text, music })
}

/// How far a batch is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// To the configured maximum lengths (128 tokens, 512 patches, 128 vectors), as the
    /// reference does.
    Fixed,
    /// To the longest item of the batch (the same masked results, less compute).
    Longest,
}

/// Text ids `[batch, len]` padded with [`TEXT_PAD_ID`], and the mask `[batch, len]` (1.0 on
/// real tokens, 0.0 on padding).
#[derive(Debug, Clone, PartialEq)]
pub struct TextBatch {
    /// Ids, row-major.
    pub ids: Vec<u32>,
    /// Mask, row-major.
    pub mask: Vec<f32>,
    /// Number of items.
    pub batch: usize,
    /// Padded length.
    pub len: usize,
}

impl TextBatch {
    /// `(batch, len)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.batch, self.len)
    }
}

/// Patches `[batch, patches, patch_size]` padded with all-zero patches, and the mask
/// `[batch, patches]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolicBatch {
    /// Patch ids, row-major.
    pub ids: Vec<u32>,
    /// Mask, row-major.
    pub mask: Vec<f32>,
    /// Number of items.
    pub batch: usize,
    /// Padded number of patches.
    pub patches: usize,
    /// Ids per patch.
    pub patch_size: usize,
}

impl SymbolicBatch {
    /// `(batch, patches, patch_size)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.batch, self.patches, self.patch_size)
    }
}

/// Feature vectors `[batch, rows, dim]` padded with zero vectors, and the mask
/// `[batch, rows]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBatch {
    /// Values, row-major.
    pub features: Vec<f32>,
    /// Mask, row-major.
    pub mask: Vec<f32>,
    /// Number of items.
    pub batch: usize,
    /// Padded number of vectors.
    pub rows: usize,
    /// Values per vector.
    pub dim: usize,
}

impl AudioBatch {
    /// `(batch, rows, dim)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.batch, self.rows, self.dim)
    }
}

/// The music half of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum MusicBatch {
    /// Patches.
    Symbolic(SymbolicBatch),
    /// Feature vectors.
    Audio(AudioBatch),
}

/// A padded batch of pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The texts.
    pub text: TextBatch,
    /// The music.
    pub music: MusicBatch,
}

fn too_long(what: &str, n: usize, len: usize) -> DataError {
    DataError::Invalid(format!(
        "a {what} item has {n} positions, more than the padding length {len}"
    ))
}

/// Pads text ids to `len` (every item must fit).
pub fn text_batch<T: AsRef<[u32]>>(samples: &[T], len: usize) -> Result<TextBatch, DataError> {
    let mut ids = Vec::with_capacity(samples.len() * len);
    let mut mask = Vec::with_capacity(samples.len() * len);
    for s in samples {
        let s = s.as_ref();
        if s.len() > len {
            return Err(too_long("text", s.len(), len));
        }
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(TEXT_PAD_ID, len - s.len()));
        mask.extend(std::iter::repeat_n(1f32, s.len()));
        mask.extend(std::iter::repeat_n(0f32, len - s.len()));
    }
    Ok(TextBatch {
        ids,
        mask,
        batch: samples.len(),
        len,
    })
}

/// Pads symbolic items to `patches` patches (every item must fit; all must share one patch
/// size; an empty batch gets [`PATCH_SIZE`]).
pub fn symbolic_batch(
    samples: &[&SymbolicSample],
    patches: usize,
) -> Result<SymbolicBatch, DataError> {
    let patch_size = samples.first().map_or(PATCH_SIZE, |s| s.patch_size);
    let row = patches * patch_size;
    let mut ids = Vec::with_capacity(samples.len() * row);
    let mut mask = Vec::with_capacity(samples.len() * patches);
    for s in samples {
        if s.patch_size != patch_size || s.ids.len() != s.patches * s.patch_size {
            return Err(DataError::Invalid(format!(
                "inconsistent symbolic sample: {} ids for {} patches of {} (batch patch size {patch_size})",
                s.ids.len(),
                s.patches,
                s.patch_size
            )));
        }
        if s.patches > patches {
            return Err(too_long("symbolic", s.patches, patches));
        }
        ids.extend_from_slice(&s.ids);
        ids.extend(std::iter::repeat_n(0u32, row - s.ids.len()));
        mask.extend(std::iter::repeat_n(1f32, s.patches));
        mask.extend(std::iter::repeat_n(0f32, patches - s.patches));
    }
    Ok(SymbolicBatch {
        ids,
        mask,
        batch: samples.len(),
        patches,
        patch_size,
    })
}

/// Pads audio items to `rows` vectors (every item must fit; all must share one size; an
/// empty batch gets [`AUDIO_DIM`]).
pub fn audio_batch(samples: &[&AudioSample], rows: usize) -> Result<AudioBatch, DataError> {
    let dim = samples.first().map_or(AUDIO_DIM, |s| s.dim);
    let row = rows * dim;
    let mut features = Vec::with_capacity(samples.len() * row);
    let mut mask = Vec::with_capacity(samples.len() * rows);
    for s in samples {
        if s.dim != dim || s.data.len() != s.rows * s.dim {
            return Err(DataError::Invalid(format!(
                "inconsistent audio sample: {} values for {} vectors of {} (batch size {dim})",
                s.data.len(),
                s.rows,
                s.dim
            )));
        }
        if s.rows > rows {
            return Err(too_long("audio", s.rows, rows));
        }
        features.extend_from_slice(&s.data);
        features.extend(std::iter::repeat_n(0f32, row - s.data.len()));
        mask.extend(std::iter::repeat_n(1f32, s.rows));
        mask.extend(std::iter::repeat_n(0f32, rows - s.rows));
    }
    Ok(AudioBatch {
        features,
        mask,
        batch: samples.len(),
        rows,
        dim,
    })
}

/// Pads pairs into one batch. All pairs must have the same music modality (an empty slice
/// is an error: its modality is unknown).
pub fn collate(pairs: &[Pair], cfg: &SampleConfig, padding: Padding) -> Result<Batch, DataError> {
    let first = pairs
        .first()
        .ok_or_else(|| DataError::Invalid("cannot collate an empty batch".into()))?;
    let texts: Vec<&[u32]> = pairs.iter().map(|p| p.text.as_slice()).collect();
    let text_len = match padding {
        Padding::Fixed => cfg.max_text_len,
        Padding::Longest => texts.iter().map(|t| t.len()).max().unwrap_or(0),
    };
    let text = text_batch(&texts, text_len)?;
    let mixed = || DataError::Invalid("a batch mixes symbolic and audio items".into());
    let music = match &first.music {
        MusicSample::Symbolic(_) => {
            let items = pairs
                .iter()
                .map(|p| match &p.music {
                    MusicSample::Symbolic(s) => Ok(s),
                    MusicSample::Audio(_) => Err(mixed()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let len = match padding {
                Padding::Fixed => cfg.patch_length,
                Padding::Longest => items.iter().map(|s| s.patches).max().unwrap_or(0),
            };
            MusicBatch::Symbolic(symbolic_batch(&items, len)?)
        }
        MusicSample::Audio(_) => {
            let items = pairs
                .iter()
                .map(|p| match &p.music {
                    MusicSample::Audio(a) => Ok(a),
                    MusicSample::Symbolic(_) => Err(mixed()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let len = match padding {
                Padding::Fixed => cfg.max_audio_len,
                Padding::Longest => items.iter().map(|a| a.rows).max().unwrap_or(0),
            };
            MusicBatch::Audio(audio_batch(&items, len)?)
        }
    };
    Ok(Batch { text, music })
}
