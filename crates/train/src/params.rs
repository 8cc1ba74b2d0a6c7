//! The trainable parameters of a CLaMP 3 model: every tensor of the release layout as a candle
//! `Var`, loaded from a checkpoint or initialised as the reference does, and models built on
//! them with any of the six parts frozen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use candle_core::{DType, Device, Shape, Tensor, Var};
use clamp3_model::config::PATCH_VOCAB;
use clamp3_model::layout::release_tensors;
use clamp3_model::{Clamp3Config, Clamp3Model, Parts, Weights};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::TrainError;

/// The six separately trainable parts (the reference's `set_trainable` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// XLM-R.
    TextModel,
    /// Text projection.
    TextProj,
    /// M3 patch encoder.
    SymbolicModel,
    /// Symbolic projection.
    SymbolicProj,
    /// Audio BERT.
    AudioModel,
    /// Audio projection.
    AudioProj,
}

impl Part {
    /// All parts.
    pub const ALL: [Part; 6] = [
        Part::TextModel,
        Part::TextProj,
        Part::SymbolicModel,
        Part::SymbolicProj,
        Part::AudioModel,
        Part::AudioProj,
    ];

    /// The part a state-dict key belongs to.
    pub fn of(key: &str) -> Option<Part> {
        let head = key.split('.').next()?;
        Some(match head {
            "text_model" => Part::TextModel,
            "text_proj" => Part::TextProj,
            "symbolic_model" => Part::SymbolicModel,
            "symbolic_proj" => Part::SymbolicProj,
            "audio_model" => Part::AudioModel,
            "audio_proj" => Part::AudioProj,
            _ => return None,
        })
    }
}

/// Every tensor of a release-layout model, as variables.
pub struct Params {
    config: Clamp3Config,
    device: Device,
    compute_dtype: DType,
    vars: BTreeMap<String, Var>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("tensors", &self.vars.len())
            .finish()
    }
}

/// The reference's initialisation of a fresh model: BERT/XLM-R `_init_weights` (normal(0, 0.02)
/// for linear and embedding weights, zero biases, LayerNorm 1/0) and normal(0, 0.02) for the
/// patch embedding and the projections; padding rows of word embeddings zeroed.
fn init_values(name: &str, shape: &[usize], config: &Clamp3Config, rng: &mut Rng) -> Vec<f32> {
    let n: usize = shape.iter().product();
    if name.ends_with("LayerNorm.weight") {
        return vec![1.0; n];
    }
    if name.ends_with(".bias") {
        return vec![0.0; n];
    }
    // Box-Muller normal(0, 0.02).
    let mut v: Vec<f32> = (0..n)
        .map(|_| {
            let (u1, u2) = (rng.f64().max(1e-300), rng.f64());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * 0.02) as f32
        })
        .collect();
    if name == "text_model.embeddings.word_embeddings.weight" {
        let pad = config.text_config.pad_token_id as usize;
        let h = shape[1];
        if let Some(row) = v.get_mut(pad * h..(pad + 1) * h) {
            row.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    v
}

impl Params {
    /// A fresh model of `config`, initialised as the reference initialises one (seeded).
    pub fn init(config: &Clamp3Config, seed: u64, device: &Device) -> Result<Self, TrainError> {
        let mut rng = Rng::new(seed);
        let mut vars = BTreeMap::new();
        for (name, shape) in release_tensors(config) {
            let v = init_values(&name, &shape, config, &mut rng);
            vars.insert(name, Var::from_vec(v, shape, device)?);
        }
        Ok(Params {
            config: config.clone(),
            device: device.clone(),
            compute_dtype: DType::F32,
            vars,
        })
    }

    /// Every tensor of a checkpoint (release `.pth` or safetensors), checked against `config`.
    pub fn load(
        config: &Clamp3Config,
        weights: &Weights,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut vars = BTreeMap::new();
        for (name, shape) in release_tensors(config) {
            let t = weights
                .tensor(&name, &shape, device)
                .map_err(|e| TrainError::Model(e.to_string()))?;
            vars.insert(name, Var::from_tensor(&t)?);
        }
        Ok(Params {
            config: config.clone(),
            device: device.clone(),
            compute_dtype: DType::F32,
            vars,
        })
    }

    /// The model configuration.
    pub fn config(&self) -> &Clamp3Config {
        &self.config
    }

    /// The device the variables live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The variables by state-dict key.
    pub fn vars(&self) -> &BTreeMap<String, Var> {
        &self.vars
    }

    /// The variables of the parts not in `frozen`.
    pub fn trainable(&self, frozen: &BTreeSet<Part>) -> Vec<(&str, &Var)> {
        self.vars
            .iter()
            .filter(|(k, _)| Part::of(k).is_some_and(|p| !frozen.contains(&p)))
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }

    /// The type the model computes in: f32, or bf16/f16 for mixed precision (the variables
    /// and the optimiser stay f32; LayerNorm, softmax, pooling and the loss run in f32).
    pub fn set_compute_dtype(&mut self, dtype: DType) {
        self.compute_dtype = dtype;
    }

    /// See [`Params::set_compute_dtype`].
    pub fn compute_dtype(&self) -> DType {
        self.compute_dtype
    }

    /// A model over these variables: frozen parts read detached copies (no gradient flows or
    /// is computed for them), the others the tracked variables.
    pub fn model(&self, parts: Parts, frozen: &BTreeSet<Part>) -> Result<Clamp3Model, TrainError> {
        let backend = VarBackend {
            vars: self
                .vars
                .iter()
                .map(|(k, v)| {
                    let t = if Part::of(k).is_some_and(|p| frozen.contains(&p)) {
                        v.as_tensor().detach()
                    } else {
                        v.as_tensor().clone()
                    };
                    (k.clone(), t)
                })
                .collect(),
        };
        let vb = candle_nn::VarBuilder::from_backend(
            Box::new(backend),
            self.compute_dtype,
            self.device.clone(),
        );
        Ok(Clamp3Model::load(&self.config, parts, vb)?)
    }

    /// Writes every tensor in the release key layout (loadable by `clamp3 embed` and by the
    /// reference after `torch.load(safetensors)`), atomically.
    pub fn save_safetensors(&self, path: &Path) -> Result<(), TrainError> {
        let tensors: Vec<(String, Tensor)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        crate::checkpoint::save_tensors(&tensors, path)
    }

    /// Replaces every value from a safetensors file written by [`Params::save_safetensors`].
    pub fn restore(&mut self, path: &Path) -> Result<(), TrainError> {
        let w = Weights::open(path).map_err(|e| TrainError::Model(e.to_string()))?;
        for (name, var) in &self.vars {
            let shape = var.shape().dims().to_vec();
            let t = w
                .tensor(name, &shape, &self.device)
                .map_err(|e| TrainError::Model(e.to_string()))?;
            var.set(&t)?;
        }
        Ok(())
    }

    /// Checks the patch-embedding width implied by the configuration.
    pub fn patch_columns(&self) -> usize {
        self.config.patch_size * PATCH_VOCAB
    }
}

/// Hands the variables (or their detached copies) to the model builder, cast to the requested
/// type (a differentiable cast: gradients reach the f32 variables).
struct VarBackend {
    vars: BTreeMap<String, Tensor>,
}

impl candle_nn::var_builder::SimpleBackend for VarBackend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self
            .vars
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("missing parameter `{name}`")))?;
        if t.shape() != &s {
            candle_core::bail!(
                "parameter `{name}` has shape {:?}, expected {:?}",
                t.dims(),
                s.dims()
            );
        }
        t.to_dtype(dtype)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.vars
            .get(name)
            .map(|t| t.to_dtype(dtype))
            .transpose()?
            .ok_or_else(|| candle_core::Error::Msg(format!("missing parameter `{name}`")))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}
