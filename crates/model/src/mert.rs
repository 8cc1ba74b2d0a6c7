//! MERT-v1-95M, the audio front end (CLAMP3.md §7): a HuBERT-style model that turns 24 kHz
//! waveforms into 768-d frames at 75 Hz. CLaMP 3 uses the time mean of all 13 hidden states
//! of each 5 s window, averaged over the states.
//!
//! Written on candle primitives; loads the hub's `pytorch_model.bin` or safetensors unchanged,
//! with either spelling of the positional convolution's weight norm.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::bert::LayerNorm;
use crate::ops;

/// MERT configuration (transformers' `HubertConfig` field names); defaults are MERT-v1-95M.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MertConfig {
    /// Width of the transformer.
    pub hidden_size: usize,
    /// Transformer layers (hidden states = layers + 1).
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Epsilon of every LayerNorm and of the GroupNorm.
    pub layer_norm_eps: f64,
    /// Channels of each feature-encoder convolution.
    pub conv_dim: Vec<usize>,
    /// Kernel sizes of the feature-encoder convolutions.
    pub conv_kernel: Vec<usize>,
    /// Strides of the feature-encoder convolutions.
    pub conv_stride: Vec<usize>,
    /// Whether the feature-encoder convolutions have biases.
    pub conv_bias: bool,
    /// Kernel size of the positional convolution.
    pub num_conv_pos_embeddings: usize,
    /// Groups of the positional convolution.
    pub num_conv_pos_embedding_groups: usize,
    /// `"group"`: GroupNorm after the first convolution only (the only mode MERT uses).
    pub feat_extract_norm: String,
    /// LayerNorm before the feature projection.
    pub feat_proj_layer_norm: bool,
    /// Pre-LN transformer (not supported: MERT is post-LN).
    pub do_stable_layer_norm: bool,
    /// CQT input features (a pre-training target only; not supported at inference).
    pub feature_extractor_cqt: bool,
    /// DeepNorm residual scaling (not supported: MERT-v1-95M does not use it).
    pub deepnorm: bool,
    /// Transformer activation (exact GELU).
    pub hidden_act: String,
    /// Feature-encoder activation (exact GELU).
    pub feat_extract_activation: String,
    /// Input sample rate.
    pub sample_rate: usize,
}

impl Default for MertConfig {
    fn default() -> Self {
        MertConfig {
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            layer_norm_eps: 1e-5,
            conv_dim: vec![512; 7],
            conv_kernel: vec![10, 3, 3, 3, 3, 2, 2],
            conv_stride: vec![5, 2, 2, 2, 2, 2, 2],
            conv_bias: false,
            num_conv_pos_embeddings: 128,
            num_conv_pos_embedding_groups: 16,
            feat_extract_norm: "group".into(),
            feat_proj_layer_norm: true,
            do_stable_layer_norm: false,
            feature_extractor_cqt: false,
            deepnorm: false,
            hidden_act: "gelu".into(),
            feat_extract_activation: "gelu".into(),
            sample_rate: 24_000,
        }
    }
}

impl MertConfig {
    /// Parses a MERT/HuBERT `config.json` (unknown fields ignored) and checks it is a variant
    /// this implementation computes exactly.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let c: MertConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    /// Rejects configurations whose computation is not implemented.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let n = self.conv_dim.len();
        if n == 0 || self.conv_kernel.len() != n || self.conv_stride.len() != n {
            return Err(
                "conv_dim, conv_kernel and conv_stride must have the same positive length".into(),
            );
        }
        if self.feat_extract_norm != "group" {
            return Err(format!(
                "feat_extract_norm {:?} is not supported (only \"group\")",
                self.feat_extract_norm
            ));
        }
        if self.do_stable_layer_norm || self.feature_extractor_cqt || self.deepnorm {
            return Err(
                "do_stable_layer_norm, feature_extractor_cqt and deepnorm are not supported".into(),
            );
        }
        if self.hidden_act != "gelu" || self.feat_extract_activation != "gelu" {
            return Err("only the exact GELU activation is supported".into());
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err("hidden_size must be a multiple of num_attention_heads".into());
        }
        if self.num_conv_pos_embedding_groups == 0
            || self.hidden_size % self.num_conv_pos_embedding_groups != 0
        {
            return Err("hidden_size must be a multiple of num_conv_pos_embedding_groups".into());
        }
        Ok(())
    }

    /// Frames produced for `samples` input samples (each convolution maps `n -> (n - k) / s + 1`);
    /// 0 when the input is shorter than the receptive field.
    pub fn frames(&self, samples: usize) -> usize {
        let mut n = samples;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            if n < k {
                return 0;
            }
            n = (n - k) / s + 1;
        }
        n
    }
}

fn gelu(x: &Tensor) -> Result<Tensor> {
    x.gelu_erf()
}

/// One convolution of the feature encoder.
#[derive(Debug, Clone)]
struct ConvLayer {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    /// GroupNorm with one group per channel (first layer only): weight, bias.
    norm: Option<(Tensor, Tensor)>,
}

/// The positional convolution: weight-normalised, grouped, "same" padding minus the last frame.
#[derive(Debug, Clone)]
struct PosConv {
    weight: Tensor,
    bias: Tensor,
    padding: usize,
    groups: usize,
    drop_last: bool,
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    final_norm: LayerNorm,
    heads: usize,
}

impl EncoderLayer {
    fn load(c: &MertConfig, vb: VarBuilder) -> Result<Self> {
        let h = c.hidden_size;
        let a = vb.pp("attention");
        Ok(EncoderLayer {
            q: candle_nn::linear(h, h, a.pp("q_proj"))?,
            k: candle_nn::linear(h, h, a.pp("k_proj"))?,
            v: candle_nn::linear(h, h, a.pp("v_proj"))?,
            out: candle_nn::linear(h, h, a.pp("out_proj"))?,
            norm: LayerNorm::load(h, c.layer_norm_eps, vb.pp("layer_norm"))?,
            ff_in: candle_nn::linear(
                h,
                c.intermediate_size,
                vb.pp("feed_forward.intermediate_dense"),
            )?,
            ff_out: candle_nn::linear(c.intermediate_size, h, vb.pp("feed_forward.output_dense"))?,
            final_norm: LayerNorm::load(h, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
            heads: c.num_attention_heads,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let d = h / self.heads;
        let split = |y: Tensor| -> Result<Tensor> {
            y.reshape((b, t, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        // HuBERT scales the queries before the product (by head_dim^-0.5).
        let q = split((self.q.forward(x)? * (d as f64).powf(-0.5))?)?;
        let k = split(self.k.forward(x)?)?;
        let v = split(self.v.forward(x)?)?;
        let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, h))?;
        let x = self.norm.forward(&(x + self.out.forward(&ctx)?)?)?;
        let ff = self.ff_out.forward(&gelu(&self.ff_in.forward(&x)?)?)?;
        self.final_norm.forward(&(x + ff)?)
    }
}

/// MERT: convolutional feature encoder, feature projection, positional convolution and a
/// post-LN transformer.
#[derive(Debug, Clone)]
pub struct Mert {
    config: MertConfig,
    convs: Vec<ConvLayer>,
    proj_norm: Option<LayerNorm>,
    projection: Linear,
    pos_conv: PosConv,
    norm: LayerNorm,
    layers: Vec<EncoderLayer>,
}

/// Weight-norm spellings of the positional convolution: (g, v).
const WEIGHT_NORM_KEYS: [(&str, &str); 2] = [
    ("weight_g", "weight_v"),
    (
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ),
];

impl Mert {
    /// Builds MERT from weights in the hub layout (`feature_extractor.*`, `feature_projection.*`,
    /// `encoder.*`), accepting both weight-norm spellings.
    pub fn load(config: &MertConfig, vb: VarBuilder) -> Result<Self> {
        config.validate().map_err(candle_core::Error::Msg)?;
        let c = config;
        let fe = vb.pp("feature_extractor.conv_layers");
        let mut convs = Vec::new();
        let mut in_ch = 1;
        for (i, ((&out_ch, &k), &s)) in c
            .conv_dim
            .iter()
            .zip(&c.conv_kernel)
            .zip(&c.conv_stride)
            .enumerate()
        {
            let l = fe.pp(i.to_string());
            let weight = l.get((out_ch, in_ch, k), "conv.weight")?;
            let bias = if c.conv_bias {
                Some(l.get(out_ch, "conv.bias")?)
            } else {
                None
            };
            let norm = if i == 0 {
                Some((
                    l.get(out_ch, "layer_norm.weight")?,
                    l.get(out_ch, "layer_norm.bias")?,
                ))
            } else {
                None
            };
            convs.push(ConvLayer {
                weight,
                bias,
                stride: s,
                norm,
            });
            in_ch = out_ch;
        }
        let feat = in_ch;
        let fp = vb.pp("feature_projection");
        let proj_norm = if c.feat_proj_layer_norm {
            Some(LayerNorm::load(
                feat,
                c.layer_norm_eps,
                fp.pp("layer_norm"),
            )?)
        } else {
            None
        };
        let projection = candle_nn::linear(feat, c.hidden_size, fp.pp("projection"))?;

        let pc = vb.pp("encoder.pos_conv_embed.conv");
        let (h, k, groups) = (
            c.hidden_size,
            c.num_conv_pos_embeddings,
            c.num_conv_pos_embedding_groups,
        );
        let (gk, vk) = WEIGHT_NORM_KEYS
            .iter()
            .copied()
            .find(|(g, _)| pc.contains_tensor(g))
            .unwrap_or(WEIGHT_NORM_KEYS[0]);
        let g = pc.get((1, 1, k), gk)?;
        let v = pc.get((h, h / groups, k), vk)?;
        // torch weight_norm(dim=2): w = v * (g / ||v||), the norm over everything but the kernel
        // axis (36,864 terms for MERT: summed in f64).
        let norm = v
            .to_dtype(DType::F64)?
            .sqr()?
            .sum_keepdim(1)?
            .sum_keepdim(0)?
            .sqrt()?
            .to_dtype(DType::F32)?;
        let weight = v.broadcast_mul(&(g / norm)?)?;
        let pos_conv = PosConv {
            weight,
            bias: pc.get(h, "bias")?,
            padding: k / 2,
            groups,
            drop_last: k % 2 == 0,
        };
        let enc = vb.pp("encoder");
        let layers = (0..c.num_hidden_layers)
            .map(|i| EncoderLayer::load(c, enc.pp(format!("layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Mert {
            config: c.clone(),
            convs,
            proj_norm,
            projection,
            pos_conv,
            norm: LayerNorm::load(h, c.layer_norm_eps, enc.pp("layer_norm"))?,
            layers,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MertConfig {
        &self.config
    }

    /// All hidden states for waveforms `[B, S]` (no attention mask, as the reference):
    /// `num_hidden_layers + 1` tensors of `[B, T, hidden]`, the first being the LayerNorm output
    /// after the positional convolution.
    pub fn hidden_states(&self, wave: &Tensor) -> Result<Vec<Tensor>> {
        let (b, s) = wave.dims2()?;
        if self.config.frames(s) == 0 {
            candle_core::bail!("{s} samples are shorter than MERT's receptive field");
        }
        let mut x = wave.reshape((b, 1, s))?;
        for conv in &self.convs {
            x = x.conv1d(&conv.weight, 0, conv.stride, 1, 1)?;
            if let Some(bias) = &conv.bias {
                x = x.broadcast_add(&bias.reshape((1, (), 1))?)?;
            }
            if let Some((w, bias)) = &conv.norm {
                // torch.nn.GroupNorm default eps, not the config's layer_norm_eps.
                x = ops::channel_norm(&x, w, bias, 1e-5)?;
            }
            x = gelu(&x)?;
        }
        let mut x = x.transpose(1, 2)?.contiguous()?; // [B, T, C]
        if let Some(n) = &self.proj_norm {
            x = n.forward(&x)?;
        }
        let x = self.projection.forward(&x)?;
        let p = &self.pos_conv;
        let xt = x.transpose(1, 2)?.contiguous()?;
        let mut pos = xt.conv1d(&p.weight, p.padding, 1, 1, p.groups)?;
        if p.drop_last {
            let t = pos.dim(2)?;
            pos = pos.narrow(2, 0, t - 1)?;
        }
        let pos = gelu(&pos.broadcast_add(&p.bias.reshape((1, (), 1))?)?)?;
        let mut h = self.norm.forward(&(x + pos.transpose(1, 2)?)?)?;
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        states.push(h.clone());
        for layer in &self.layers {
            h = layer.forward(&h)?;
            states.push(h.clone());
        }
        Ok(states)
    }

    /// CLaMP 3's window feature (`--mean_features`): each hidden state averaged over time, then
    /// the states averaged: `[B, hidden]`.
    pub fn window_features(&self, wave: &Tensor) -> Result<Tensor> {
        let states = self.hidden_states(wave)?;
        let means = states
            .iter()
            .map(|s| s.mean(1))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&means, 0)?.mean(0)
    }

    /// Per-state time means `[B, num_hidden_layers + 1, hidden]` (before the mean over states).
    pub fn state_means(&self, wave: &Tensor) -> Result<Tensor> {
        let states = self.hidden_states(wave)?;
        let means = states
            .iter()
            .map(|s| s.mean(1))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&means, 1)
    }
}
