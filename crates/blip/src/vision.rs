//! BLIP's vision encoder (`BlipVisionModel`): a pre-LN ViT with a class token and learned
//! position embeddings, ending in `post_layernorm`. Its `last_hidden_state` is what the text
//! decoder cross-attends to.
//!
//! Written on candle primitives (not `candle-transformers`' BLIP) to reuse the workspace's
//! PyTorch-accurate LayerNorm, to share the text decoder's cross-attention key/value cache
//! design, and to avoid compiling candle-transformers for one model.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use clamp3_model::bert::LayerNorm;

use crate::config::VisionConfig;

/// Softmax over the last axis (candle's fused kernel).
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax_last_dim(x)
}

struct Attention {
    qkv: Linear,
    projection: Linear,
    heads: usize,
    head_dim: usize,
    scale: f64,
}

impl Attention {
    fn load(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let head_dim = d / cfg.num_attention_heads;
        Ok(Attention {
            qkv: candle_nn::linear(d, 3 * d, vb.pp("qkv"))?,
            projection: candle_nn::linear(d, d, vb.pp("projection"))?,
            heads: cfg.num_attention_heads,
            head_dim,
            // `head_dim ** -0.5`, multiplied after q·kᵀ as in BlipAttention.
            scale: (head_dim as f64).powf(-0.5),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((b, t, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = (q.matmul(&k.t()?)? * self.scale)?;
        let probs = softmax(&scores)?;
        let ctx = probs
            .matmul(&v)?
            .permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((b, t, d))?;
        self.projection.forward(&ctx)
    }
}

struct Layer {
    layer_norm1: LayerNorm,
    attn: Attention,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl Layer {
    fn load(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        Ok(Layer {
            layer_norm1: LayerNorm::load(d, eps, vb.pp("layer_norm1"))?,
            attn: Attention::load(cfg, vb.pp("self_attn"))?,
            layer_norm2: LayerNorm::load(d, eps, vb.pp("layer_norm2"))?,
            fc1: candle_nn::linear(d, cfg.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: candle_nn::linear(cfg.intermediate_size, d, vb.pp("mlp").pp("fc2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = (self.attn.forward(&self.layer_norm1.forward(x)?)? + x)?;
        let h = self
            .fc1
            .forward(&self.layer_norm2.forward(&x)?)?
            .gelu_erf()?;
        self.fc2.forward(&h)? + x
    }
}

/// The vision transformer.
pub struct VisionModel {
    cfg: VisionConfig,
    /// Conv2d weight flattened to `(hidden, 3 · patch · patch)`, in `(c, y, x)` order.
    patch_weight: Tensor,
    patch_bias: Tensor,
    class_embedding: Tensor,
    position_embedding: Tensor,
    layers: Vec<Layer>,
    post_layernorm: LayerNorm,
}

impl VisionModel {
    /// Loads the weights under `vision_model.` of a `BlipForConditionalGeneration` state dict.
    pub fn load(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let p = cfg.patch_size;
        let emb = vb.pp("embeddings");
        let patch_weight = emb
            .pp("patch_embedding")
            .get((d, 3, p, p), "weight")?
            .reshape((d, 3 * p * p))?;
        let patch_bias = emb.pp("patch_embedding").get(d, "bias")?;
        let class_embedding = emb.get((1, 1, d), "class_embedding")?.reshape((1, d))?;
        let position_embedding = emb
            .get((1, cfg.tokens(), d), "position_embedding")?
            .reshape((cfg.tokens(), d))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(cfg, vb.pp("encoder").pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let post_layernorm = LayerNorm::load(d, cfg.layer_norm_eps, vb.pp("post_layernorm"))?;
        Ok(VisionModel {
            cfg: cfg.clone(),
            patch_weight,
            patch_bias,
            class_embedding,
            position_embedding,
            layers,
            post_layernorm,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VisionConfig {
        &self.cfg
    }

    /// `last_hidden_state` (after `post_layernorm`) for pixels `(batch, 3, size, size)`:
    /// `(batch, tokens, hidden)`.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = pixels.dims4()?;
        let (p, g, d) = (self.cfg.patch_size, self.cfg.grid(), self.cfg.hidden_size);
        if c != 3 || h != self.cfg.image_size || w != self.cfg.image_size {
            candle_core::bail!(
                "pixel tensor is {b}x{c}x{h}x{w}, the vision model takes Nx3x{0}x{0}",
                self.cfg.image_size
            );
        }
        // The stride-p p×p convolution as a matrix product over the unfolded patches.
        let patches = pixels
            .reshape((b, 3, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * g * g, 3 * p * p))?;
        let patch_embeds = patches
            .matmul(&self.patch_weight.t()?)?
            .broadcast_add(&self.patch_bias)?
            .reshape((b, g * g, d))?;
        let cls = self.class_embedding.unsqueeze(0)?.repeat((b, 1, 1))?;
        let mut x = Tensor::cat(&[&cls, &patch_embeds], 1)?
            .broadcast_add(&self.position_embedding.unsqueeze(0)?)?;
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        self.post_layernorm.forward(&x)
    }
}
