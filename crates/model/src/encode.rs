//! Whole inputs in, embeddings out: segmenting (CLAMP3.md §6), batching segments of many
//! inputs into one forward pass, and combining the segment outputs.
//!
//! Segments are padded to the longest segment of their batch rather than to the full segment
//! length as the reference does: padded positions are masked with `f32::MIN` and contribute
//! exact zeros, so the results agree with the reference to float rounding while short inputs
//! cost far less.

use candle_core::{Result, Tensor};

use crate::bert::{length_mask, masked_mean};
use crate::clamp3::{Clamp3Model, Modality};
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
    /// after, once per file, as the reference does (CLAMP3.md §6.1).
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
/// stand-ins, `[N + 2, dim]`: added once per recording, not once per segment (CLAMP3.md §6.1).
pub fn with_special_rows(features: &[f32], dim: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(features.len() + 2 * dim);
    v.extend(std::iter::repeat_n(0f32, dim));
    v.extend_from_slice(features);
    v.extend(std::iter::repeat_n(0f32, dim));
    v
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

    /// Per-segment global vectors of every input, computed `max_batch` segments at a time.
    /// Returns, per input, its segments and their `[projection_dim]` vectors.
    pub fn segment_features(&self, seqs: &[&Sequence], max_batch: usize) -> Result<SegmentVectors> {
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
            // Longest first, so that each batch pads as little as possible.
            work.sort_by_key(|w| std::cmp::Reverse(w.seg.len));
            for chunk in work.chunks(max_batch.max(1)) {
                let refs: Vec<&Work> = chunk.iter().collect();
                let (input, mask) = self.batch_tensors(seqs, &refs)?;
                let vecs = self.global_features(m, &input, &mask)?.to_vec2::<f32>()?;
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
    /// (CLAMP3.md §6.3). Inputs may mix modalities.
    pub fn embed(&self, seqs: &[&Sequence], max_batch: usize) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .segment_features(seqs, max_batch)?
            .into_iter()
            .map(|segs| {
                let (s, v): (Vec<Segment>, Vec<Vec<f32>>) = segs.into_iter().unzip();
                let refs: Vec<&[f32]> = v.iter().map(|x| x.as_slice()).collect();
                combine_global(&refs, &s)
            })
            .collect())
    }

    /// Sequence mode (CLAMP3.md §6.4): the pre-projection last hidden states of every item,
    /// row-major `[L, hidden]`, stitched from the segments.
    pub fn embed_states(&self, seq: &Sequence, max_batch: usize) -> Result<(Vec<f32>, usize)> {
        self.check(seq)?;
        let m = seq.modality();
        let segs = segments(seq.len(), self.segment_length(m));
        let mut states: Vec<Vec<f32>> = Vec::with_capacity(segs.len());
        let mut hidden = 0;
        let work: Vec<Work> = segs.iter().map(|&seg| Work { input: 0, seg }).collect();
        for chunk in work.chunks(max_batch.max(1)) {
            let refs: Vec<&Work> = chunk.iter().collect();
            let (input, mask) = self.batch_tensors(&[seq], &refs)?;
            let h = self.hidden_states(m, &input, &mask)?;
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
