//! Training-time dropout with masks that do not depend on how a batch is split.
//!
//! transformers drops units in train mode at the embeddings, the attention probabilities and
//! each sub-layer's output; the reference trains that way. Gradient caching embeds every item
//! twice (once without a graph, then again with one, docs/reference.md §4 and `clamp3-train`'s
//! `step` module), and both passes must drop the same units, whatever micro-batch and padding
//! the item is computed in. So a mask entry is a pure function of (seed, item, site, element
//! position), drawn from a counter-based hash instead of a stateful generator. PyTorch's masks
//! come from its own generator; the distribution is the same (keep with probability `1 - p`,
//! scale the kept units by `1 / (1 - p)`), and given our masks, transformers' train-mode
//! encoders give the same loss and gradients (`scripts/golden/gen_dropout_goldens.py`).

use candle_core::{DType, Result, Tensor};
use clamp3_util::rng::mix;
use rayon::prelude::*;

/// Where in the network a mask is drawn; each site gets independent masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// After the embedding LayerNorm.
    Embeddings,
    /// On the attention probabilities of layer `n`.
    AttentionProbs(usize),
    /// After the attention output projection of layer `n`.
    AttentionOutput(usize),
    /// After the feed-forward output projection of layer `n`.
    FeedForwardOutput(usize),
}

impl Site {
    fn key(self) -> u64 {
        match self {
            Site::Embeddings => 0,
            Site::AttentionProbs(n) => 1 + 3 * n as u64,
            Site::AttentionOutput(n) => 2 + 3 * n as u64,
            Site::FeedForwardOutput(n) => 3 + 3 * n as u64,
        }
    }
}

/// The dropout of one forward pass: a seed and the global number of each input row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropout {
    /// Seed of this pass (e.g. per training step and encoder).
    pub seed: u64,
    /// Item number of each row of the batch (rows are items).
    pub items: Vec<u64>,
}

impl Dropout {
    /// A pass over rows `first..first + n` of a batch.
    pub fn rows(seed: u64, first: usize, n: usize) -> Self {
        Dropout {
            seed,
            items: (first as u64..(first + n) as u64).collect(),
        }
    }

    /// `x` (`[B, ...]`, at most three axes after the batch axis, each below 2^20) with units
    /// dropped with probability `p` and the rest scaled by `1 / (1 - p)`.
    pub fn apply(&self, x: &Tensor, site: Site, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let dims = x.dims();
        let (b, inner) = (dims[0], &dims[1..]);
        if b != self.items.len() || inner.len() > 3 || inner.iter().any(|&d| d >= 1 << 20) {
            candle_core::bail!(
                "dropout: {} rows of shape {inner:?} for {} items",
                b,
                self.items.len()
            );
        }
        let per_row: usize = inner.iter().product();
        let keep = (1.0 / (1.0 - p)) as f32;
        // Uniform in [0, 1) from the top 53 bits; kept when >= p.
        let threshold = (p * (1u64 << 53) as f64) as u64;
        let mut mask = vec![0f32; b * per_row];
        mask.par_chunks_mut(per_row.max(1))
            .zip(self.items.par_iter())
            .for_each(|(row, &item)| {
                let base = mix(mix(self.seed ^ mix(item)) ^ site.key());
                let mut index = vec![0usize; inner.len()];
                for m in row {
                    // The element's position with fixed strides, so padding does not move it.
                    let pos = index.iter().fold(0u64, |acc, &i| acc << 20 | i as u64);
                    if mix(base ^ pos) >> 11 >= threshold {
                        *m = keep;
                    }
                    for a in (0..index.len()).rev() {
                        index[a] += 1;
                        if index[a] < inner[a] {
                            break;
                        }
                        index[a] = 0;
                    }
                }
            });
        let mask = Tensor::from_vec(mask, dims, x.device())?;
        let mask = if x.dtype() == DType::F32 {
            mask
        } else {
            mask.to_dtype(x.dtype())?
        };
        x * mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn ones(shape: &[usize]) -> Tensor {
        Tensor::ones(shape, DType::F32, &Device::Cpu).unwrap()
    }

    #[test]
    fn keeps_about_one_minus_p_and_rescales() {
        let d = Dropout::rows(7, 0, 4);
        let y = d
            .apply(&ones(&[4, 50, 100]), Site::Embeddings, 0.1)
            .unwrap();
        let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
        assert!((kept - 0.9).abs() < 0.01, "kept {kept}");
        assert!(v.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.9).abs() < 1e-6));
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn masks_follow_the_item_not_the_batch_or_padding() {
        // Items 3 and 4 in one batch padded to length 6, and item 4 alone at length 5.
        let both = Dropout {
            seed: 1,
            items: vec![3, 4],
        }
        .apply(&ones(&[2, 2, 6, 6]), Site::AttentionProbs(2), 0.3)
        .unwrap();
        let alone = Dropout {
            seed: 1,
            items: vec![4],
        }
        .apply(&ones(&[1, 2, 5, 5]), Site::AttentionProbs(2), 0.3)
        .unwrap();
        let a = both
            .get(1)
            .unwrap()
            .narrow(1, 0, 5)
            .unwrap()
            .narrow(2, 0, 5)
            .unwrap();
        let b = alone.get(0).unwrap();
        assert_eq!(
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        // Other items, sites and seeds draw other masks.
        let m = |seed, item, site| {
            Dropout {
                seed,
                items: vec![item],
            }
            .apply(&ones(&[1, 64, 32]), site, 0.5)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
        };
        let base = m(1, 0, Site::AttentionOutput(0));
        assert_ne!(base, m(1, 1, Site::AttentionOutput(0)));
        assert_ne!(base, m(2, 0, Site::AttentionOutput(0)));
        assert_ne!(base, m(1, 0, Site::FeedForwardOutput(0)));
        assert_ne!(base, m(1, 0, Site::AttentionOutput(1)));
        assert_eq!(base, m(1, 0, Site::AttentionOutput(0)));
    }

    #[test]
    fn zero_probability_is_the_identity_and_bad_shapes_are_errors() {
        let x = ones(&[2, 3]);
        let y = Dropout::rows(0, 0, 2)
            .apply(&x, Site::Embeddings, 0.0)
            .unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), x.to_vec2::<f32>().unwrap());
        assert!(Dropout::rows(0, 0, 3)
            .apply(&x, Site::Embeddings, 0.1)
            .is_err());
    }
}
