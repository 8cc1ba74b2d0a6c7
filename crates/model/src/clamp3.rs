//! The CLaMP 3 model: three encoders, masked mean pooling and one projection each
//! (docs/reference.md §3).

use std::fmt;
use std::str::FromStr;

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use crate::bert::{masked_mean, Bert, Positions};
use crate::config::{BertConfig, Clamp3Config, PATCH_VOCAB};
use crate::dropout::Dropout;

/// The three kinds of input the model embeds (serialised as `text`, `symbolic`, `audio`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Text in any of XLM-R's languages.
    Text,
    /// Symbolic music: interleaved ABC or MTF, as M3 patches.
    Symbolic,
    /// Audio, as MERT-v1-95M feature vectors.
    Audio,
}

impl Modality {
    /// All modalities, in checkpoint order.
    pub const ALL: [Modality; 3] = [Modality::Text, Modality::Symbolic, Modality::Audio];

    /// Lower-case name (`text`, `symbolic`, `audio`).
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Symbolic => "symbolic",
            Modality::Audio => "audio",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Modality {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "text" => Ok(Modality::Text),
            "symbolic" => Ok(Modality::Symbolic),
            "audio" => Ok(Modality::Audio),
            _ => Err(format!("unknown modality `{s}` (text, symbolic or audio)")),
        }
    }
}

/// The M3 patch encoder: a patch embedding computed as a gather-sum, then BERT.
#[derive(Debug, Clone)]
pub struct PatchEncoder {
    /// `patch_embedding.weight` transposed: row `j * 128 + c` is the column of id `c` at
    /// position `j`.
    table: Tensor,
    bias: Tensor,
    patch_size: usize,
    /// The BERT over patch embeddings.
    pub base: Bert,
}

impl PatchEncoder {
    fn load(c: &BertConfig, patch_size: usize, vb: VarBuilder) -> Result<Self> {
        let h = c.hidden_size;
        let pe = vb.pp("patch_embedding");
        // Kept in f32 under mixed precision too: the sum of `patch_size` rows is accumulated
        // in f32 and cast to the compute type by the embedding layer.
        let f32_param = |s: candle_core::Shape, name: &str| {
            pe.get_with_hints_dtype(s, name, Default::default(), candle_core::DType::F32)
        };
        let w = f32_param((h, patch_size * PATCH_VOCAB).into(), "weight")?;
        // Transposed once so that each (position, id) column is a contiguous row to gather;
        // the copy is differentiable, so a trainable weight keeps its gradient.
        let table = w.t()?.contiguous()?;
        Ok(PatchEncoder {
            table,
            bias: f32_param(h.into(), "bias")?,
            patch_size,
            base: Bert::load(c, Positions::Absolute, false, vb.pp("base"))?,
        })
    }

    /// `bias + Σ_j W[:, j·128 + id_j]` for patches `[B, P, patch_size]` (u32 ids < 128): the
    /// reference's one-hot + Linear without materialising the one-hot tensor.
    pub fn embed_patches(&self, patches: &Tensor) -> Result<Tensor> {
        self.embed_patches_inner(patches, false)
    }

    /// [`Self::embed_patches`]; with `checked` (every id already checked on the host) a
    /// non-CPU device computes it without reading the ids back.
    fn embed_patches_inner(&self, patches: &Tensor, checked: bool) -> Result<Tensor> {
        let (b, p, s) = patches.dims3()?;
        if s != self.patch_size {
            candle_core::bail!(
                "patches have {s} ids, the model expects {}",
                self.patch_size
            );
        }
        if !patches.device().is_cpu() || self.table.track_op() {
            // On the device: row of (position j, id) = j * 128 + id, then gather and sum.
            if !checked {
                let max = patches.flatten_all()?.max(0)?.to_scalar::<u32>()?;
                if max as usize >= PATCH_VOCAB {
                    candle_core::bail!("patch id {max} is not below {PATCH_VOCAB}");
                }
            }
            return self.embed_patches_gathered(patches);
        }
        let ids = patches.flatten_all()?.to_vec1::<u32>()?;
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= PATCH_VOCAB) {
            candle_core::bail!("patch id {bad} is not below {PATCH_VOCAB}");
        }
        let h = self.bias.dim(0)?;
        let rows: Vec<u32> = ids
            .iter()
            .enumerate()
            .map(|(k, &id)| ((k % s) * PATCH_VOCAB) as u32 + id)
            .collect();
        {
            // On the CPU: accumulate the table rows of each patch in place, reading the table
            // straight from its storage.
            let (storage, layout) = self.table.storage_and_layout();
            let candle_core::Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("patch table is not on the CPU")
            };
            let (start, end) = layout
                .contiguous_offsets()
                .ok_or_else(|| candle_core::Error::Msg("patch table is not contiguous".into()))?;
            let table = &cpu.as_slice::<f32>()?[start..end];
            let bias = self.bias.to_vec1::<f32>()?;
            let mut out = vec![0f32; b * p * h];
            use rayon::prelude::*;
            out.par_chunks_mut(h)
                .zip(rows.par_chunks(s))
                .for_each(|(o, patch_rows)| {
                    for &r in patch_rows {
                        let row = &table[r as usize * h..(r as usize + 1) * h];
                        for (acc, w) in o.iter_mut().zip(row) {
                            *acc += *w;
                        }
                    }
                    for (acc, bb) in o.iter_mut().zip(&bias) {
                        *acc += *bb;
                    }
                });
            drop(storage);
            Tensor::from_vec(out, (b, p, h), patches.device())
        }
    }

    /// The patch embedding by candle ops on the patches' device (differentiable, no
    /// read-back): row of (position j, id) = `j * 128 + id`, gathered and summed.
    fn embed_patches_gathered(&self, patches: &Tensor) -> Result<Tensor> {
        let (b, p, s) = patches.dims3()?;
        let h = self.bias.dim(0)?;
        let offsets = (Tensor::arange(0u32, s as u32, patches.device())? * PATCH_VOCAB as f64)?;
        let rows = patches
            .broadcast_add(&offsets.reshape((1, 1, s))?)?
            .flatten_all()?;
        let gathered = self.table.index_select(&rows, 0)?.reshape((b * p, s, h))?;
        gathered
            .sum(1)?
            .reshape((b, p, h))?
            .broadcast_add(&self.bias)
    }

    /// Last hidden states for patches `[B, P, patch_size]` and mask `[B, P]`.
    pub fn forward(&self, patches: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_with(patches, mask, None)
    }

    /// [`Self::forward`], in training mode with `drop`.
    pub fn forward_with(
        &self,
        patches: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        self.forward_inner(patches, mask, drop, false)
    }

    fn forward_inner(
        &self,
        patches: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
        checked: bool,
    ) -> Result<Tensor> {
        let x = self.embed_patches_inner(patches, checked)?;
        self.base.forward_embeds_with(&x, mask, drop)
    }
}

/// What a model was loaded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// Load the text encoder.
    pub text: bool,
    /// Load the symbolic encoder.
    pub symbolic: bool,
    /// Load the audio encoder.
    pub audio: bool,
}

impl Parts {
    /// Every encoder.
    pub const ALL: Parts = Parts {
        text: true,
        symbolic: true,
        audio: true,
    };

    /// Only the encoders of the given modalities.
    pub fn of(modalities: impl IntoIterator<Item = Modality>) -> Self {
        let mut p = Parts {
            text: false,
            symbolic: false,
            audio: false,
        };
        for m in modalities {
            match m {
                Modality::Text => p.text = true,
                Modality::Symbolic => p.symbolic = true,
                Modality::Audio => p.audio = true,
            }
        }
        p
    }

    /// Whether `m` is included.
    pub fn has(&self, m: Modality) -> bool {
        match m {
            Modality::Text => self.text,
            Modality::Symbolic => self.symbolic,
            Modality::Audio => self.audio,
        }
    }
}

/// CLaMP 3: text (XLM-R), symbolic (M3) and audio encoders with their projections.
///
/// Loads only the encoders asked for (see [`Parts`]); asking a missing one for output is an
/// error.
#[derive(Debug, Clone)]
pub struct Clamp3Model {
    config: Clamp3Config,
    device: Device,
    text: Option<(Bert, Linear)>,
    symbolic: Option<(PatchEncoder, Linear)>,
    audio: Option<(Bert, Linear)>,
}

impl Clamp3Model {
    /// Builds the model from release-layout tensors (`text_model.*`, `text_proj.*`,
    /// `symbolic_model.*`, `symbolic_proj.*`, `audio_model.*`, `audio_proj.*`).
    pub fn load(config: &Clamp3Config, parts: Parts, vb: VarBuilder) -> Result<Self> {
        let p = config.projection_dim;
        let text = if parts.text {
            let c = &config.text_config;
            let bert = Bert::load(
                c,
                Positions::FromIds {
                    pad: c.pad_token_id,
                },
                true,
                vb.pp("text_model"),
            )?;
            Some((
                bert,
                candle_nn::linear(c.hidden_size, p, vb.pp("text_proj"))?,
            ))
        } else {
            None
        };
        let symbolic = if parts.symbolic {
            let c = &config.symbolic_config;
            let enc = PatchEncoder::load(c, config.patch_size, vb.pp("symbolic_model"))?;
            Some((
                enc,
                candle_nn::linear(c.hidden_size, p, vb.pp("symbolic_proj"))?,
            ))
        } else {
            None
        };
        let audio = if parts.audio {
            let c = &config.audio_config;
            let bert = Bert::load(c, Positions::Absolute, false, vb.pp("audio_model"))?;
            Some((
                bert,
                candle_nn::linear(c.hidden_size, p, vb.pp("audio_proj"))?,
            ))
        } else {
            None
        };
        Ok(Clamp3Model {
            config: config.clone(),
            device: vb.device().clone(),
            text,
            symbolic,
            audio,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Clamp3Config {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Which encoders are loaded.
    pub fn parts(&self) -> Parts {
        Parts {
            text: self.text.is_some(),
            symbolic: self.symbolic.is_some(),
            audio: self.audio.is_some(),
        }
    }

    fn missing(m: Modality) -> candle_core::Error {
        candle_core::Error::Msg(format!("the {m} encoder was not loaded"))
    }

    /// Last hidden states (pre-projection) of one segment batch.
    ///
    /// `input` is `[B, L]` u32 token ids (text), `[B, P, patch_size]` u32 patches (symbolic)
    /// or `[B, T, D]` f32 feature vectors (audio); `mask` is `[B, L]` f32 (1 = real).
    pub fn hidden_states(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        self.hidden_states_with(modality, input, mask, None)
    }

    /// [`Self::hidden_states`], in training mode (dropout) with `drop`.
    pub fn hidden_states_with(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        self.hidden_states_inner(modality, input, mask, drop, false)
    }

    /// [`Self::hidden_states`] for input whose ids were checked on the host (see
    /// [`crate::bert::Embeddings::forward_ids`]).
    pub(crate) fn hidden_states_of_checked(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        self.hidden_states_inner(modality, input, mask, None, true)
    }

    /// [`Self::global_features`] for input whose ids were checked on the host.
    pub(crate) fn global_features_of_checked(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        let h = self.hidden_states_of_checked(modality, input, mask)?;
        self.project(modality, &masked_mean(&h, mask)?)
    }

    fn hidden_states_inner(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
        checked: bool,
    ) -> Result<Tensor> {
        match modality {
            Modality::Text => {
                let (bert, _) = self.text.as_ref().ok_or_else(|| Self::missing(modality))?;
                let x = bert.embeddings.forward_ids_inner(input, checked)?;
                bert.encode(x, mask, drop)
            }
            Modality::Symbolic => {
                let (enc, _) = self
                    .symbolic
                    .as_ref()
                    .ok_or_else(|| Self::missing(modality))?;
                enc.forward_inner(input, mask, drop, checked)
            }
            Modality::Audio => {
                let (bert, _) = self.audio.as_ref().ok_or_else(|| Self::missing(modality))?;
                bert.forward_embeds_with(input, mask, drop)
            }
        }
    }

    /// Projects pooled states `[B, H]` into the shared space `[B, projection_dim]`.
    pub fn project(&self, modality: Modality, pooled: &Tensor) -> Result<Tensor> {
        let proj = match modality {
            Modality::Text => self.text.as_ref().map(|t| &t.1),
            Modality::Symbolic => self.symbolic.as_ref().map(|t| &t.1),
            Modality::Audio => self.audio.as_ref().map(|t| &t.1),
        }
        .ok_or_else(|| Self::missing(modality))?;
        // Under mixed precision the projection runs in the compute type; vectors are f32.
        proj.forward(&pooled.to_dtype(proj.weight().dtype())?)?
            .to_dtype(candle_core::DType::F32)
    }

    /// One vector per segment: `proj(masked_mean(last_hidden))`, `[B, projection_dim]`.
    pub fn global_features(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        self.global_features_with(modality, input, mask, None)
    }

    /// [`Self::global_features`], in training mode (dropout) with `drop`.
    pub fn global_features_with(
        &self,
        modality: Modality,
        input: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        let h = self.hidden_states_with(modality, input, mask, drop)?;
        self.project(modality, &masked_mean(&h, mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_patch_embedding_equals_the_cpu_accumulation() {
        let c = BertConfig {
            hidden_size: 16,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            intermediate_size: 24,
            ..BertConfig::clamp3_symbolic()
        };
        let enc = PatchEncoder::load(&c, 4, crate::synthetic::var_builder(&Device::Cpu)).unwrap();
        let ids: Vec<u32> = (0..2 * 3 * 4).map(|i| (i * 37 % 128) as u32).collect();
        let patches = Tensor::from_vec(ids, (2, 3, 4), &Device::Cpu).unwrap();
        let cpu = enc
            .embed_patches(&patches)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let dev = enc
            .embed_patches_gathered(&patches)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (a, b) in cpu.iter().zip(&dev) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let bad = Tensor::from_vec(vec![128u32; 4], (1, 1, 4), &Device::Cpu).unwrap();
        assert!(enc.embed_patches(&bad).is_err());
    }
}
