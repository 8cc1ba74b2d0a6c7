//! Audio (docs/reference.md §5.6, §6.1): a recording → normalised 5 s windows for MERT
//! ([`Recording`]), or MERT `.npy` features → checked features → the audio encoder's sequence,
//! with one zero vector before and one after as the reference's BOS/EOS stand-ins.

use clamp3_audio::{AudioSource, MertOptions, MertTrack, MertWindows};
use clamp3_model::Sequence;

use crate::error::InputCause;

/// MERT features of one recording: `rows` vectors of `dim` values, row-major, without the zero
/// BOS/EOS rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// `rows * dim` values.
    pub data: Vec<f32>,
    /// Number of vectors (5 s windows), at least 1.
    pub rows: usize,
    /// Values per vector.
    pub dim: usize,
}

impl Features {
    /// Checks features `[rows, dim]` for the model: at least one vector, all values finite.
    pub fn new(data: Vec<f32>, dim: usize) -> Result<Self, InputCause> {
        let rows = data.len().checked_div(dim).unwrap_or(0);
        if rows == 0 || data.len() != rows * dim {
            return Err(InputCause::FeatureShape {
                found: vec![1, rows, if rows == 0 { 0 } else { dim }],
                dim,
            });
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(InputCause::NonFinite);
        }
        Ok(Features { data, rows, dim })
    }

    /// The values with the zero BOS/EOS vectors around them, `[rows + 2, dim]`: added once per
    /// recording, not once per segment (docs/reference.md §6.1).
    pub fn with_special_rows(&self) -> Vec<f32> {
        clamp3_model::encode::with_special_rows(&self.data, self.dim)
    }

    /// The audio encoder's input sequence.
    pub fn into_sequence(self) -> Sequence {
        Sequence::Audio {
            features: self.with_special_rows(),
            dim: self.dim,
        }
    }
}

/// MERT features read from a `.npy` file's bytes: shape (1, N, `dim`) with N ≥ 1 and finite
/// values, as `extract_mert.py --mean_features` writes them. Any other shape is rejected (the
/// reference silently reshapes e.g. (13, N, 768) into garbage, docs/reference.md §8.9 #9).
pub fn read_features(bytes: &[u8], dim: usize) -> Result<Features, InputCause> {
    let a = clamp3_formats::npy::read_npy(bytes)?;
    match a.shape.as_slice() {
        [1, n, d] if *d == dim && *n > 0 => Features::new(a.data, dim),
        _ => Err(InputCause::FeatureShape {
            found: a.shape,
            dim,
        }),
    }
}

/// A recording ready for MERT: decoded, mixed to mono, resampled to 24 kHz and its whole-track
/// statistics computed; its normalised 5 s windows are produced on demand, in bounded memory
/// (long tracks are decoded again rather than held, see [`clamp3_audio::MertTrack`]).
#[derive(Debug)]
pub struct Recording {
    track: MertTrack,
}

impl Recording {
    /// Decodes `source` and computes its statistics.
    pub fn open(source: &AudioSource) -> Result<Self, InputCause> {
        Self::open_with(source, &MertOptions::default())
    }

    /// Decodes `source` with `opts` (a duration limit, how much of the signal to hold in
    /// memory) and computes its statistics.
    pub fn open_with(source: &AudioSource, opts: &MertOptions) -> Result<Self, InputCause> {
        Ok(Recording {
            track: MertTrack::open(source, opts)?,
        })
    }

    /// Number of 5 s windows (the number of feature vectors MERT will give).
    pub fn windows_len(&self) -> usize {
        self.track.num_windows()
    }

    /// The normalised windows, in order.
    pub fn windows(&self) -> Result<MertWindows<'_>, InputCause> {
        Ok(self.track.windows()?)
    }

    /// The underlying track.
    pub fn track(&self) -> &MertTrack {
        &self.track
    }
}
