//! Whole inputs in, embeddings out: segmenting (docs/reference.md §6), batching segments of many
//! inputs into one forward pass, and combining the segment outputs.
//!
//! Segments are padded to the longest segment of their batch rather than to the full segment
//! length as the reference does: padded positions are masked with `f32::MIN` and contribute
//! exact zeros, so the results agree with the reference to float rounding while short inputs
//! cost far less.
//!
//! Batches are formed per encoder from the segments of all inputs sorted by length, bounded
//! by [`BatchLimits`]: an item count, a position budget (tokens, patches or vectors, padding
//! included, as TEI's `max_batch_tokens`), and a padding bound, so that a short segment is
//! never padded to a long one (a 12-patch score beside a 512-patch one runs in its own batch).

use candle_core::{Result, Tensor};

use crate::bert::{length_mask, masked_mean};
use crate::clamp3::{Clamp3Model, Modality};
use crate::config::PATCH_VOCAB;
use crate::segment::{combine_global, combine_sequence, segments, Segment};

/// A full input sequence, special items included, ready to be cut into segments.
#[derive(Debug, Clone, PartialEq)]
pub enum Sequence {
    /// XLM-R token ids, `<s>` and `</s>` included.
    Text(Vec<u32>),
    /// M3 patches, row-major `[P, patch_size]`, BOS and EOS patches included.
    Symbolic {
        /// Patch ids, `P * patch_size` of them.
        ids: Vec<u32>,
        /// Ids per patch.
        patch_size: usize,
    },
    /// Feature vectors, row-major `[T, dim]`, the zero BOS/EOS stand-ins included.
    Audio {
        /// `T * dim` values.
        features: Vec<f32>,
        /// Values per vector.
        dim: usize,
    },
}

impl Sequence {
    /// An audio sequence from MERT features `[N, dim]`: adds one zero vector before and one
    /// after, once per file, as the reference does (docs/reference.md §6.1).
    pub fn audio(features: &[f32], dim: usize) -> Self {
        Sequence::Audio {
            features: with_special_rows(features, dim),
            dim,
        }
    }

    /// Which encoder reads it.
    pub fn modality(&self) -> Modality {
        match self {
            Sequence::Text(_) => Modality::Text,
            Sequence::Symbolic { .. } => Modality::Symbolic,
            Sequence::Audio { .. } => Modality::Audio,
        }
    }

    /// Number of items (tokens, patches or vectors).
    pub fn len(&self) -> usize {
        match self {
            Sequence::Text(ids) => ids.len(),
            Sequence::Symbolic { ids, patch_size } => ids.len() / patch_size.max(&1),
            Sequence::Audio { features, dim } => features.len() / dim.max(&1),
        }
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// MERT features `[N, dim]` with one zero vector before and one after, the reference's BOS/EOS
/// stand-ins, `[N + 2, dim]`: added once per recording, not once per segment
/// (docs/reference.md §6.1).
pub fn with_special_rows(features: &[f32], dim: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(features.len() + 2 * dim);
    v.extend(std::iter::repeat_n(0f32, dim));
    v.extend_from_slice(features);
    v.extend(std::iter::repeat_n(0f32, dim));
    v
}

/// How segments are grouped into forward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// At most this many segments per forward pass (at least 1).
    pub max_items: usize,
    /// At most this many positions per forward pass, padding included (a single segment
    /// longer than this still runs, alone). Bounds the memory of one pass.
    pub max_positions: usize,
}

impl BatchLimits {
    /// Default position budget: four 512-patch segments, thirty-two 128-token texts.
    pub const DEFAULT_POSITIONS: usize = 2048;

    /// At most `max_items` segments, the default position budget.
    pub fn items(max_items: usize) -> Self {
        BatchLimits {
            max_items,
            ..Self::default()
        }
    }
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_items: 32,
            max_positions: Self::DEFAULT_POSITIONS,
        }
    }
}

/// Padding a batch may carry, as a fraction of its real positions: short segments are not
/// padded to much longer ones.
const MAX_PADDING: f64 = 0.125;

/// The cost of one forward pass besides its positions, in positions: what a batch must save
/// in padding or gain in size to be worth splitting or merging.
const PASS_COST: usize = 32;

/// Splits segment lengths sorted longest first into consecutive batches within `limits`,
/// each holding at most `max_items` segments and `max_positions` padded positions (`count ×
/// longest`; a longer single segment runs alone) with padding at most [`MAX_PADDING`] of its
/// real positions. Among such splits it takes the cheapest, counting each batch as its
/// padded positions plus [`PASS_COST`] (dynamic programming over the sorted lengths), so
/// segments of equal length share batches and a short one is never padded to a long one.
pub fn plan_batches(sorted_lengths: &[usize], limits: &BatchLimits) -> Vec<std::ops::Range<usize>> {
    debug_assert!(sorted_lengths.windows(2).all(|w| w[0] >= w[1]));
    let n = sorted_lengths.len();
    let max_items = limits.max_items.max(1);
    // best[i]: cheapest cost of batching the first i segments, and where its last batch starts.
    let mut best: Vec<(usize, usize)> = vec![(usize::MAX, 0); n + 1];
    best[0] = (0, 0);
    for end in 1..=n {
        let mut real = 0usize;
        for start in (end.saturating_sub(max_items)..end).rev() {
            real += sorted_lengths[start];
            let count = end - start;
            let padded = count * sorted_lengths[start];
            if count > 1
                && (padded > limits.max_positions
                    || (padded - real) as f64 > MAX_PADDING * real as f64)
            {
                // Longer (earlier) segments only make the batch worse.
                break;
            }
            let cost = best[start].0.saturating_add(padded + PASS_COST);
            if cost < best[end].0 {
                best[end] = (cost, start);
            }
        }
    }
    let mut out = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = best[end].1;
        out.push(start..end);
        end = start;
    }
    out.reverse();
    out
}

/// Per input: its segments with their `[projection_dim]` vectors.
pub type SegmentVectors = Vec<Vec<(Segment, Vec<f32>)>>;

/// One segment of one input, scheduled into a batch.
struct Work {
    input: usize,
    seg: Segment,
}

impl Clamp3Model {
    /// Segment length of a modality (`max_text_length`, `patch_length`, `max_audio_length`).
    pub fn segment_length(&self, m: Modality) -> usize {
        let c = self.config();
        match m {
            Modality::Text => c.max_text_length,
            Modality::Symbolic => c.patch_length,
            Modality::Audio => c.max_audio_length,
        }
    }

    fn check(&self, s: &Sequence) -> Result<()> {
        if s.is_empty() {
            candle_core::bail!("empty {} input", s.modality());
        }
        let c = self.config();
        match s {
            Sequence::Symbolic { patch_size, .. } if *patch_size != c.patch_size => {
                candle_core::bail!(
                    "patches of {patch_size} ids, the model expects {}",
                    c.patch_size
                )
            }
            Sequence::Audio { dim, .. } if *dim != c.audio_config.hidden_size => {
                candle_core::bail!(
                    "audio features of dimension {dim}, the model expects {}",
                    c.audio_config.hidden_size
                )
            }
            // Ids are checked here, on the host, so that the forward pass need not read them
            // back from a GPU to check them.
            Sequence::Text(ids) => match ids
                .iter()
                .find(|&&i| i as usize >= c.text_config.vocab_size)
            {
                Some(bad) => candle_core::bail!(
                    "token id {bad} out of range for a vocabulary of {}",
                    c.text_config.vocab_size
                ),
                None => Ok(()),
            },
            Sequence::Symbolic { ids, .. } => {
                match ids.iter().find(|&&i| i as usize >= PATCH_VOCAB) {
                    Some(bad) => candle_core::bail!("patch id {bad} is not below {PATCH_VOCAB}"),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Builds the padded input tensor and mask for segments of inputs of one modality.
    fn batch_tensors(&self, seqs: &[&Sequence], work: &[&Work]) -> Result<(Tensor, Tensor)> {
        let dev = self.device();
        let max_len = work.iter().map(|w| w.seg.len).max().unwrap_or(0);
        let lengths: Vec<usize> = work.iter().map(|w| w.seg.len).collect();
        let mask = length_mask(&lengths, max_len, dev)?;
        let b = work.len();
        let input = match seqs[work[0].input] {
            Sequence::Text(_) => {
                let pad = self.config().text_config.pad_token_id;
                let mut ids = vec![pad; b * max_len];
                for (row, w) in work.iter().enumerate() {
                    if let Sequence::Text(t) = seqs[w.input] {
                        ids[row * max_len..row * max_len + w.seg.len]
                            .copy_from_slice(&t[w.seg.start..w.seg.start + w.seg.len]);
                    }
                }
                Tensor::from_vec(ids, (b, max_len), dev)?
            }
            Sequence::Symbolic { patch_size, .. } => {
                let s = *patch_size;
                let mut ids = vec![0u32; b * max_len * s];
                for (row, w) in work.iter().enumerate() {
                    if let Sequence::Symbolic { ids: p, .. } = seqs[w.input] {
                        let src = &p[w.seg.start * s..(w.seg.start + w.seg.len) * s];
                        ids[row * max_len * s..row * max_len * s + src.len()].copy_from_slice(src);
                    }
                }
                Tensor::from_vec(ids, (b, max_len, s), dev)?
            }
            Sequence::Audio { dim, .. } => {
                let d = *dim;
                let mut x = vec![0f32; b * max_len * d];
                for (row, w) in work.iter().enumerate() {
                    if let Sequence::Audio { features, .. } = seqs[w.input] {
                        let src = &features[w.seg.start * d..(w.seg.start + w.seg.len) * d];
                        x[row * max_len * d..row * max_len * d + src.len()].copy_from_slice(src);
                    }
                }
                Tensor::from_vec(x, (b, max_len, d), dev)?
            }
        };
        Ok((input, mask))
    }

    /// Per-segment global vectors of every input, at most `max_batch` segments per forward
    /// pass (and the default position budget: see [`Self::segment_features_with`]).
    pub fn segment_features(&self, seqs: &[&Sequence], max_batch: usize) -> Result<SegmentVectors> {
        self.segment_features_with(seqs, &BatchLimits::items(max_batch))
    }

    /// Per-segment global vectors of every input, the segments of all inputs grouped by
    /// length into forward passes within `limits`. Returns, per input, its segments and
    /// their `[projection_dim]` vectors.
    pub fn segment_features_with(
        &self,
        seqs: &[&Sequence],
        limits: &BatchLimits,
    ) -> Result<SegmentVectors> {
        let mut out: SegmentVectors = vec![Vec::new(); seqs.len()];
        for m in Modality::ALL {
            let mut work = Vec::new();
            for (i, s) in seqs.iter().enumerate() {
                if s.modality() != m {
                    continue;
                }
                self.check(s)?;
                for seg in segments(s.len(), self.segment_length(m)) {
                    work.push(Work { input: i, seg });
                }
            }
            // Longest first (stable: equal lengths keep the input order), then batches of
            // similar lengths.
            work.sort_by_key(|w| std::cmp::Reverse(w.seg.len));
            let lengths: Vec<usize> = work.iter().map(|w| w.seg.len).collect();
            for range in plan_batches(&lengths, limits) {
                let chunk = &work[range];
                let refs: Vec<&Work> = chunk.iter().collect();
                let (input, mask) = self.batch_tensors(seqs, &refs)?;
                let vecs = self
                    .global_features_of_checked(m, &input, &mask)?
                    .to_vec2::<f32>()?;
                for (w, v) in chunk.iter().zip(vecs) {
                    out[w.input].push((w.seg, v));
                }
            }
        }
        for segs in &mut out {
            segs.sort_by_key(|(s, _)| s.start);
        }
        Ok(out)
    }

    /// One global embedding per input: the length-weighted average of its segment vectors
    /// (docs/reference.md §6.3). Inputs may mix modalities. At most `max_batch` segments per
    /// forward pass, within the default position budget ([`Self::embed_with`]).
    pub fn embed(&self, seqs: &[&Sequence], max_batch: usize) -> Result<Vec<Vec<f32>>> {
        self.embed_with(seqs, &BatchLimits::items(max_batch))
    }

    /// [`Self::embed`] with explicit batch limits.
    pub fn embed_with(&self, seqs: &[&Sequence], limits: &BatchLimits) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .segment_features_with(seqs, limits)?
            .into_iter()
            .map(|segs| {
                let (s, v): (Vec<Segment>, Vec<Vec<f32>>) = segs.into_iter().unzip();
                let refs: Vec<&[f32]> = v.iter().map(|x| x.as_slice()).collect();
                combine_global(&refs, &s)
            })
            .collect())
    }

    /// Sequence mode (docs/reference.md §6.4): the pre-projection last hidden states of every item,
    /// row-major `[L, hidden]`, stitched from the segments.
    pub fn embed_states(&self, seq: &Sequence, max_batch: usize) -> Result<(Vec<f32>, usize)> {
        self.embed_states_with(seq, &BatchLimits::items(max_batch))
    }

    /// [`Self::embed_states`] with explicit batch limits.
    pub fn embed_states_with(
        &self,
        seq: &Sequence,
        limits: &BatchLimits,
    ) -> Result<(Vec<f32>, usize)> {
        self.check(seq)?;
        let m = seq.modality();
        let segs = segments(seq.len(), self.segment_length(m));
        let mut states: Vec<Vec<f32>> = Vec::with_capacity(segs.len());
        let mut hidden = 0;
        let work: Vec<Work> = segs.iter().map(|&seg| Work { input: 0, seg }).collect();
        // Segments in order (all full length but possibly the last, for a sequence shorter
        // than one segment): batches of consecutive segments.
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < work.len() {
            let mut end = start + 1;
            while end < work.len()
                && work[end].seg.len == work[start].seg.len
                && end - start < limits.max_items.max(1)
                && (end - start + 1) * work[start].seg.len <= limits.max_positions
            {
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        for range in ranges {
            let chunk = &work[range];
            let refs: Vec<&Work> = chunk.iter().collect();
            let (input, mask) = self.batch_tensors(&[seq], &refs)?;
            let h = self.hidden_states_of_checked(m, &input, &mask)?;
            hidden = h.dim(2)?;
            for (row, w) in chunk.iter().enumerate() {
                let rows = h.get(row)?.narrow(0, 0, w.seg.len)?;
                states.push(rows.flatten_all()?.to_vec1::<f32>()?);
            }
        }
        let refs: Vec<&[f32]> = states.iter().map(|x| x.as_slice()).collect();
        Ok((combine_sequence(&refs, &segs, hidden), hidden))
    }

    /// Mean-pooled, unprojected states of one batch (for encoders used on their own, e.g.
    /// tests against plain BERT models).
    pub fn pooled(&self, m: Modality, input: &Tensor, mask: &Tensor) -> Result<Tensor> {
        masked_mean(&self.hidden_states(m, input, mask)?, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cover(n: usize, batches: &[std::ops::Range<usize>]) {
        let mut next = 0;
        for b in batches {
            assert_eq!(b.start, next, "batches are consecutive");
            assert!(b.end > b.start, "no empty batch");
            next = b.end;
        }
        assert_eq!(next, n, "every segment is in a batch");
    }

    #[test]
    fn equal_lengths_are_grouped_rather_than_padded() {
        // Greedy filling would put 5 with the first 4 and leave the second 4 alone.
        assert_eq!(
            plan_batches(&[5, 4, 4], &BatchLimits::items(8)),
            vec![0..1, 1..3]
        );
        // A little padding is cheaper than one more pass.
        let b = plan_batches(&[130, 128, 128, 128, 128], &BatchLimits::items(8));
        assert_eq!(b, vec![0..5]);
    }

    #[test]
    fn a_short_segment_is_not_padded_to_a_long_one() {
        let lengths = [512, 512, 300, 12, 12, 11, 10];
        let b = plan_batches(&lengths, &BatchLimits::items(8));
        check_cover(lengths.len(), &b);
        assert_eq!(b, vec![0..2, 2..3, 3..7]);
    }

    #[test]
    fn equal_lengths_fill_up_to_the_item_count_and_the_position_budget() {
        let lengths = [128; 20];
        let b = plan_batches(
            &lengths,
            &BatchLimits {
                max_items: 8,
                max_positions: 4096,
            },
        );
        assert_eq!(b, vec![0..8, 8..16, 16..20]);
        let b = plan_batches(
            &lengths,
            &BatchLimits {
                max_items: 64,
                max_positions: 1000,
            },
        );
        assert!(b.iter().all(|r| r.len() * 128 <= 1000));
        check_cover(20, &b);
        // A segment longer than the budget still runs, alone.
        assert_eq!(
            plan_batches(&[5000, 4], &BatchLimits::items(8)),
            vec![0..1, 1..2]
        );
        assert_eq!(
            plan_batches(&[], &BatchLimits::items(8)),
            Vec::<std::ops::Range<usize>>::new()
        );
    }

    #[test]
    fn padding_stays_within_its_bound() {
        let lengths: Vec<usize> = (1..=300).rev().map(|i| i * 3 % 512 + 1).collect::<Vec<_>>();
        let mut sorted = lengths.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        let limits = BatchLimits::items(16);
        let b = plan_batches(&sorted, &limits);
        check_cover(sorted.len(), &b);
        for r in b {
            let real: usize = sorted[r.clone()].iter().sum();
            let padded = r.len() * sorted[r.start];
            assert!(r.len() <= 16 && (r.len() == 1 || padded <= limits.max_positions));
            assert!((padded - real) as f64 <= MAX_PADDING * real as f64, "{r:?}");
        }
    }
}
