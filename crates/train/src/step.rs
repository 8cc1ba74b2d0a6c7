//! One contrastive batch: the loss and the parameter gradients, with gradient caching.
//!
//! A contrastive loss couples every item of the batch with every other one (the negatives), so
//! plain gradient accumulation over micro-batches would shrink the set of negatives to the
//! micro-batch. Instead (gradient caching, Gao et al. 2021): (1) embed the whole batch without
//! a graph, micro-batch by micro-batch; (2) compute the loss of the full batch and its gradient
//! with respect to every embedding; (3) re-embed each micro-batch with a graph and backpropagate
//! `Σ embedding · cached_gradient`. The parameter gradients equal those of the full batch
//! computed at once (up to float rounding), with the memory of one micro-batch.

use std::collections::{BTreeMap, BTreeSet};

use candle_core::{Device, Tensor};
use clamp3_model::dropout::Dropout;
use clamp3_model::{Clamp3Model, Modality, Parts};

use crate::data::{Music, Pair};
use crate::loss::{clip_loss, loss_and_vector_grads};
use crate::params::{Params, Part};
use crate::TrainError;

/// A contrastive batch: pair `i`'s text describes pair `i`'s music; every pair's music is of
/// one modality.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pairs: Vec<Pair>,
    modality: Modality,
}

impl Batch {
    /// A batch of `pairs`, all of them with music of `modality`.
    pub fn new(pairs: Vec<Pair>, modality: Modality) -> Result<Self, TrainError> {
        if let Some(p) = pairs.iter().find(|p| p.music.modality() != modality) {
            return Err(TrainError::Data(format!(
                "a {modality} batch holds a {} item",
                p.music.modality()
            )));
        }
        Ok(Batch { pairs, modality })
    }

    /// The pairs.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The music modality.
    pub fn modality(&self) -> Modality {
        self.modality
    }
}

/// Items of `width` values each (ids, patches, vectors) padded with `pad` to the longest,
/// `[n, L, width]` (or `[n, L]` for width 1), and the mask `[n, L]`.
fn pad_rows<T: candle_core::WithDType + Copy>(
    rows: &[&[T]],
    width: usize,
    pad: T,
    dev: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let l = rows.iter().map(|r| r.len() / width).max().unwrap_or(0);
    let mut data = vec![pad; rows.len() * l * width];
    let mut mask = vec![0f32; rows.len() * l];
    for (i, r) in rows.iter().enumerate() {
        data[i * l * width..i * l * width + r.len()].copy_from_slice(r);
        mask[i * l..i * l + r.len() / width]
            .iter_mut()
            .for_each(|m| *m = 1.0);
    }
    let data = if width == 1 {
        Tensor::from_vec(data, (rows.len(), l), dev)?
    } else {
        Tensor::from_vec(data, (rows.len(), l, width), dev)?
    };
    Ok((data, Tensor::from_vec(mask, (rows.len(), l), dev)?))
}

/// The dropout of items `lo..hi` for the encoder of `m` in the pass seeded `seed`: a function
/// of the item, so both passes of gradient caching drop the same units.
fn dropout(seed: Option<u64>, m: Modality, lo: usize, hi: usize) -> Option<Dropout> {
    let salt = match m {
        Modality::Text => 0x7465_7874,
        Modality::Symbolic => 0x7379_6d62,
        Modality::Audio => 0x6175_6469,
    };
    seed.map(|s| Dropout::rows(s ^ salt, lo, hi - lo))
}

/// Projected text vectors `[n, P]` of items `lo..hi` (training mode when `drop` is a seed).
fn text_vectors(
    model: &Clamp3Model,
    batch: &Batch,
    lo: usize,
    hi: usize,
    drop: Option<u64>,
) -> candle_core::Result<Tensor> {
    let pad = model.config().text_config.pad_token_id;
    let rows: Vec<&[u32]> = batch.pairs[lo..hi]
        .iter()
        .map(|p| p.text.as_slice())
        .collect();
    let (ids, mask) = pad_rows(&rows, 1, pad, model.device())?;
    let d = dropout(drop, Modality::Text, lo, hi);
    model.global_features_with(Modality::Text, &ids, &mask, d.as_ref())
}

/// Projected music vectors `[n, P]` of items `lo..hi` (training mode when `drop` is a seed).
fn music_vectors(
    model: &Clamp3Model,
    batch: &Batch,
    lo: usize,
    hi: usize,
    drop: Option<u64>,
) -> candle_core::Result<Tensor> {
    let c = model.config();
    let pairs = &batch.pairs[lo..hi];
    let (x, mask) = match batch.modality {
        Modality::Symbolic => {
            let rows: Vec<&[u32]> = pairs
                .iter()
                .map(|p| match &p.music {
                    Music::Patches(v) => v.as_slice(),
                    Music::Features(_) => &[],
                })
                .collect();
            pad_rows(&rows, c.patch_size, 0, model.device())?
        }
        _ => {
            let rows: Vec<&[f32]> = pairs
                .iter()
                .map(|p| match &p.music {
                    Music::Features(v) => v.as_slice(),
                    Music::Patches(_) => &[],
                })
                .collect();
            pad_rows(&rows, c.audio_config.hidden_size, 0.0, model.device())?
        }
    };
    let d = dropout(drop, batch.modality, lo, hi);
    model.global_features_with(batch.modality, &x, &mask, d.as_ref())
}

fn parts_for(m: Modality) -> Parts {
    Parts::of([Modality::Text, m])
}

fn frozen_all() -> BTreeSet<Part> {
    Part::ALL.into_iter().collect()
}

/// All text and music vectors of the batch without a graph, `micro` items at a time
/// (evaluation mode).
pub fn embed_batch(
    params: &Params,
    batch: &Batch,
    micro: usize,
) -> Result<(Tensor, Tensor), TrainError> {
    embed_batch_with(params, batch, micro, None)
}

/// [`embed_batch`], in training mode (dropout seeded `drop`) when given a seed.
pub fn embed_batch_with(
    params: &Params,
    batch: &Batch,
    micro: usize,
    drop: Option<u64>,
) -> Result<(Tensor, Tensor), TrainError> {
    let model = params.model(parts_for(batch.modality()), &frozen_all())?;
    let mut t = Vec::new();
    let mut m = Vec::new();
    for lo in (0..batch.len()).step_by(micro.max(1)) {
        let hi = (lo + micro.max(1)).min(batch.len());
        t.push(text_vectors(&model, batch, lo, hi, drop)?);
        m.push(music_vectors(&model, batch, lo, hi, drop)?);
    }
    Ok((Tensor::cat(&t, 0)?, Tensor::cat(&m, 0)?))
}

/// The contrastive loss of a batch (no gradients), e.g. for evaluation.
pub fn batch_loss(params: &Params, batch: &Batch, micro: usize) -> Result<f32, TrainError> {
    let (t, m) = embed_batch(params, batch, micro)?;
    Ok(clip_loss(&t, &m)?.to_scalar::<f32>()?)
}

/// Loss and gradients of one batch.
#[derive(Debug)]
pub struct Gradients {
    /// The full-batch loss.
    pub loss: f32,
    /// Gradient of every trainable parameter that received one, by state-dict key.
    pub grads: BTreeMap<String, Tensor>,
}

/// Loss and parameter gradients of `batch` with the parts in `frozen` fixed, computing at most
/// `micro` items with a graph at a time (see the module docs); evaluation mode (no dropout),
/// which makes the result deterministic and comparable with PyTorch.
pub fn gradients(
    params: &Params,
    frozen: &BTreeSet<Part>,
    batch: &Batch,
    micro: usize,
) -> Result<Gradients, TrainError> {
    scaled_gradients(params, frozen, batch, micro, 1.0, None)
}

/// [`gradients`] with the loss multiplied by `scale` before backpropagation and the gradients
/// divided by it afterwards: loss scaling, which keeps small float16 gradients from flushing
/// to zero. A gradient that overflowed comes back non-finite (see [`all_finite`]). With a
/// `dropout` seed the encoders run in training mode, with masks that depend on the seed and
/// each item only, so the result does not depend on `micro`.
pub fn scaled_gradients(
    params: &Params,
    frozen: &BTreeSet<Part>,
    batch: &Batch,
    micro: usize,
    scale: f64,
    dropout: Option<u64>,
) -> Result<Gradients, TrainError> {
    let mut g = unscaled_gradients(params, frozen, batch, micro, scale, dropout)?;
    if scale != 1.0 {
        for v in g.grads.values_mut() {
            *v = (&*v / scale)?;
        }
    }
    Ok(g)
}

/// True when every gradient value is finite.
pub fn all_finite(grads: &BTreeMap<String, Tensor>) -> Result<bool, TrainError> {
    for g in grads.values() {
        let s = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
        if !s.is_finite() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn unscaled_gradients(
    params: &Params,
    frozen: &BTreeSet<Part>,
    batch: &Batch,
    micro: usize,
    scale: f64,
    drop: Option<u64>,
) -> Result<Gradients, TrainError> {
    if batch.len() < 2 {
        return Err(TrainError::Data(
            "a contrastive batch needs at least two pairs".into(),
        ));
    }
    if micro >= batch.len() {
        return direct_gradients(params, frozen, batch, scale, drop);
    }
    let (t_all, m_all) = embed_batch_with(params, batch, micro, drop)?;
    let (loss, gt, gm) = loss_and_vector_grads(&t_all, &m_all)?;
    let (gt, gm) = if scale == 1.0 {
        (gt, gm)
    } else {
        ((gt * scale)?, (gm * scale)?)
    };
    let modality = batch.modality();
    let text_trains = !(frozen.contains(&Part::TextModel) && frozen.contains(&Part::TextProj));
    let (mm, mp) = match modality {
        Modality::Symbolic => (Part::SymbolicModel, Part::SymbolicProj),
        _ => (Part::AudioModel, Part::AudioProj),
    };
    let music_trains = !(frozen.contains(&mm) && frozen.contains(&mp));
    let model = params.model(parts_for(modality), frozen)?;
    let trainable = params.trainable(frozen);
    let mut grads: BTreeMap<String, Tensor> = BTreeMap::new();
    for lo in (0..batch.len()).step_by(micro.max(1)) {
        let hi = (lo + micro.max(1)).min(batch.len());
        let mut surrogate: Option<Tensor> = None;
        if text_trains {
            let t = text_vectors(&model, batch, lo, hi, drop)?;
            let s = (t * gt.narrow(0, lo, hi - lo)?)?.sum_all()?;
            surrogate = Some(s);
        }
        if music_trains {
            let m = music_vectors(&model, batch, lo, hi, drop)?;
            let s = (m * gm.narrow(0, lo, hi - lo)?)?.sum_all()?;
            surrogate = Some(match surrogate {
                Some(x) => (x + s)?,
                None => s,
            });
        }
        let Some(surrogate) = surrogate else { break };
        let store = surrogate.backward()?;
        for (name, var) in &trainable {
            if let Some(g) = store.get(var.as_tensor()) {
                let g = g.detach();
                let e = grads.remove(*name);
                grads.insert(
                    name.to_string(),
                    match e {
                        Some(acc) => (acc + g)?,
                        None => g,
                    },
                );
            }
        }
    }
    Ok(Gradients { loss, grads })
}

/// The whole batch in one graph (no caching needed when it fits in one micro-batch).
fn direct_gradients(
    params: &Params,
    frozen: &BTreeSet<Part>,
    batch: &Batch,
    scale: f64,
    drop: Option<u64>,
) -> Result<Gradients, TrainError> {
    let model = params.model(parts_for(batch.modality()), frozen)?;
    let t = text_vectors(&model, batch, 0, batch.len(), drop)?;
    let m = music_vectors(&model, batch, 0, batch.len(), drop)?;
    let loss = clip_loss(&t, &m)?;
    let store = if scale == 1.0 {
        loss.backward()?
    } else {
        (&loss * scale)?.backward()?
    };
    let mut grads = BTreeMap::new();
    for (name, var) in params.trainable(frozen) {
        if let Some(g) = store.get(var.as_tensor()) {
            grads.insert(name.to_string(), g.detach());
        }
    }
    Ok(Gradients {
        loss: loss.to_scalar::<f32>()?,
        grads,
    })
}
