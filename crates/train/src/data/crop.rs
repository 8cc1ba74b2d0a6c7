//! The head/tail/middle crop shared by text ids, patches and audio vectors (reference
//! `random_truncate` and the crop in `M3Patchilizer.encode`).

use std::ops::Range;

use super::Rng;

/// How a sequence longer than the limit is cropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropMode {
    /// Training: head, tail or middle with probability 1/3 each; a middle crop starts
    /// uniformly in `1..=len - max_len` (never at 0, so it can coincide with the tail crop,
    /// exactly as the reference's `random.randint(1, len - max_len)`).
    Random,
    /// Evaluation: the first `max_len` items.
    Head,
}

impl CropMode {
    /// [`Random`](Self::Random) when training, [`Head`](Self::Head) otherwise.
    pub fn for_training(train: bool) -> Self {
        if train {
            CropMode::Random
        } else {
            CropMode::Head
        }
    }
}

/// The window kept of a sequence of `len` items: `0..len` when `len <= max_len` (no random
/// draw, as the reference only crops longer inputs), otherwise a crop of exactly `max_len`
/// items chosen by `mode`. Nothing is re-added after cropping: a crop can lack `<s>`, `</s>`,
/// the BOS/EOS patches or the zero vectors, as in the reference.
pub fn crop_range(len: usize, max_len: usize, rng: &mut Rng, mode: CropMode) -> Range<usize> {
    if len <= max_len {
        return 0..len;
    }
    let choice = match mode {
        CropMode::Head => 0,
        CropMode::Random => rng.below(3),
    };
    match choice {
        0 => 0..max_len,
        1 => len - max_len..len,
        _ => {
            let start = rng.range_inclusive(1, len - max_len);
            start..start + max_len
        }
    }
}

/// `v` cropped to [`crop_range`]`(v.len(), max_len, rng, mode)`.
pub fn crop<T>(mut v: Vec<T>, max_len: usize, rng: &mut Rng, mode: CropMode) -> Vec<T> {
    let r = crop_range(v.len(), max_len, rng, mode);
    v.truncate(r.end);
    v.drain(..r.start);
    v
}

/// Token ids cropped as the reference crops text ids longer than `max_len` (128): the ids
/// of the window only, `<s>`/`</s>` kept only where they fall inside it.
pub fn crop_ids(ids: Vec<u32>, max_len: usize, rng: &mut Rng, mode: CropMode) -> Vec<u32> {
    crop(ids, max_len, rng, mode)
}
