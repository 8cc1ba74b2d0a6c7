//! MERT-v1-95M, the audio front end (docs/reference.md §7): a HuBERT-style model that turns 24 kHz
//! waveforms into 768-d frames at 75 Hz. CLaMP 3 uses the time mean of all 13 hidden states
//! of each 5 s window, averaged over the states.
//!
//! Written on candle primitives; loads the hub's `pytorch_model.bin` or safetensors unchanged,
//! with either spelling of the positional convolution's weight norm.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::bert::{
    kernel_weight, layer_linear, linear, run_kernel_layers, Dense, KernelLayer, LayerNorm,
};
use crate::kernels::pool::Buffer;
use crate::kernels::{self, TensorRead};
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
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err("hidden_size must be a multiple of num_attention_heads".into());
        }
        if self.num_conv_pos_embedding_groups == 0
            || !self
                .hidden_size
                .is_multiple_of(self.num_conv_pos_embedding_groups)
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

/// [`kernels::math::gelu_in_place`] over blocks in parallel.
fn gelu_parallel(x: &mut [f32]) {
    use rayon::prelude::*;
    x.par_chunks_mut(1 << 14)
        .for_each(kernels::math::gelu_in_place);
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
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    norm: LayerNorm,
    ff_in: Dense,
    ff_out: Dense,
    final_norm: LayerNorm,
    heads: usize,
}

impl EncoderLayer {
    fn load(c: &MertConfig, vb: VarBuilder) -> Result<Self> {
        let h = c.hidden_size;
        let a = vb.pp("attention");
        Ok(EncoderLayer {
            q: layer_linear(h, h, a.pp("q_proj"))?,
            k: layer_linear(h, h, a.pp("k_proj"))?,
            v: layer_linear(h, h, a.pp("v_proj"))?,
            out: layer_linear(h, h, a.pp("out_proj"))?,
            norm: LayerNorm::load(h, c.layer_norm_eps, vb.pp("layer_norm"))?,
            ff_in: layer_linear(
                h,
                c.intermediate_size,
                vb.pp("feed_forward.intermediate_dense"),
            )?,
            ff_out: layer_linear(c.intermediate_size, h, vb.pp("feed_forward.output_dense"))?,
            final_norm: LayerNorm::load(h, c.layer_norm_eps, vb.pp("final_layer_norm"))?,
            heads: c.num_attention_heads,
        })
    }

    fn kernel_layer(&self) -> KernelLayer<'_> {
        KernelLayer {
            linears: [
                &self.q,
                &self.k,
                &self.v,
                &self.out,
                &self.ff_in,
                &self.ff_out,
            ],
            norms: [&self.norm, &self.final_norm],
        }
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
    /// The convolution weights rearranged for the CPU kernels, when they can use them.
    kernel_convs: Option<KernelConvs>,
}

/// Kernel-major (`[c_out, k, c_in]`) copies of the convolution weights (see
/// [`kernels::conv`]).
#[derive(Debug, Clone)]
struct KernelConvs {
    convs: Vec<Tensor>,
    pos: Tensor,
}

impl KernelConvs {
    fn new(convs: &[ConvLayer], pos: &PosConv) -> Result<Option<Self>> {
        let rearrange = |w: &Tensor| -> Result<Option<Tensor>> {
            if !kernels::usable(w) {
                return Ok(None);
            }
            let (c_out, c_in, k) = w.dims3()?;
            let w = w.contiguous()?;
            let r = TensorRead::new(&w)?;
            let km = kernels::conv::kernel_major(r.slice(), c_out, c_in, k);
            Ok(Some(Tensor::from_vec(km, (c_out, k, c_in), w.device())?))
        };
        let mut out = Vec::with_capacity(convs.len());
        for c in convs {
            match rearrange(&c.weight)? {
                Some(t) => out.push(t),
                None => return Ok(None),
            }
        }
        Ok(rearrange(&pos.weight)?.map(|p| KernelConvs { convs: out, pos: p }))
    }
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
        let projection = linear(feat, c.hidden_size, fp.pp("projection"))?;

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
        let kernel_convs = KernelConvs::new(&convs, &pos_conv)?;
        Ok(Mert {
            kernel_convs,
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

    /// The forward pass through [`crate::kernels`] (f32 on the CPU): calls `on_state` with
    /// each hidden state (`[B·T, hidden]`, row-major) in order. `None` when a weight cannot
    /// feed the kernels.
    fn kernel_forward(
        &self,
        wave: &Tensor,
        on_state: &mut dyn FnMut(&[f32]),
    ) -> Result<Option<()>> {
        let Some(kc) = &self.kernel_convs else {
            return Ok(None);
        };
        if !kernels::usable(wave)
            || self
                .convs
                .iter()
                .any(|c| c.bias.as_ref().is_some_and(|b| !kernels::usable(b)))
        {
            return Ok(None);
        }
        let (b, s) = wave.dims2()?;
        let c = &self.config;
        let t = c.frames(s);
        let h = c.hidden_size;
        let wave = wave.contiguous()?;
        let wave_r = TensorRead::new(&wave)?;
        let conv_w: Vec<TensorRead> = kc
            .convs
            .iter()
            .map(TensorRead::new)
            .collect::<Result<_>>()?;
        let mut hidden = Vec::with_capacity(b * t * h);
        // The feature encoder, one window at a time (its buffers are the largest: 24,000
        // frames x 512 channels after the first convolution of a 5 s window).
        let (mut cur, mut next) = (Buffer::new(), Buffer::new());
        for w in wave_r.slice().chunks_exact(s) {
            let mut frames = s;
            let mut c_in = 1;
            let mut first = true;
            for (i, conv) in self.convs.iter().enumerate() {
                let (k, stride, c_out) = (c.conv_kernel[i], conv.stride, c.conv_dim[i]);
                let t_out = kernels::conv::out_frames(frames, k, stride);
                let out = next.get(t_out * c_out);
                let accumulate = match &conv.bias {
                    Some(bias) => {
                        let br = TensorRead::new(bias)?;
                        for row in out.chunks_exact_mut(c_out) {
                            row.copy_from_slice(br.slice());
                        }
                        true
                    }
                    None => false,
                };
                let input: &[f32] = if first { w } else { cur.get(frames * c_in) };
                kernels::conv::conv1d(out, accumulate, input, c_in, conv_w[i].slice(), k, stride);
                if let Some((nw, nb)) = &conv.norm {
                    let (nw, nb) = (TensorRead::new(nw)?, TensorRead::new(nb)?);
                    // torch.nn.GroupNorm default eps, not the config's layer_norm_eps.
                    kernels::norm::channel_norm_time_major(
                        out,
                        c_out,
                        nw.slice(),
                        nb.slice(),
                        1e-5,
                    );
                }
                gelu_parallel(out);
                std::mem::swap(&mut cur, &mut next);
                first = false;
                frames = t_out;
                c_in = c_out;
            }
            // Feature projection: LayerNorm over the conv channels, then the linear layer.
            let feat = cur.get(t * c_in);
            if let Some(n) = &self.proj_norm {
                let (nw, nb, eps) = n.params();
                let (nw, nb) = (TensorRead::new(nw)?, TensorRead::new(nb)?);
                kernels::norm::layer_norm_rows(feat, c_in, nw.slice(), nb.slice(), eps);
            }
            let Some((pw, transposed)) = kernel_weight(&self.projection) else {
                return Ok(None);
            };
            let pw = TensorRead::new(&pw)?;
            let start = hidden.len();
            hidden.resize(start + t * h, 0.0);
            let proj = &mut hidden[start..];
            let accumulate = match self.projection.bias() {
                Some(bias) => {
                    let br = TensorRead::new(bias)?;
                    for row in proj.chunks_exact_mut(h) {
                        row.copy_from_slice(br.slice());
                    }
                    true
                }
                None => false,
            };
            kernels::encoder::LinearRef {
                weight: kernels::encoder::WeightRef::F32 {
                    data: pw.slice(),
                    transposed,
                },
                bias: &[],
            }
            .product(
                kernels::gemm::MatMut::rows(proj, t, h),
                accumulate,
                kernels::gemm::MatRef::rows(feat, t, c_in),
            )?;
            // Positional convolution: x + GELU(conv(x) + bias), then the encoder LayerNorm.
            let p = &self.pos_conv;
            let pos = next.get(t * h);
            let pk = TensorRead::new(&kc.pos)?;
            kernels::conv::grouped_conv1d_same(
                pos,
                proj,
                h,
                p.groups,
                pk.slice(),
                c.num_conv_pos_embeddings,
                p.padding,
            );
            let pb = TensorRead::new(&p.bias)?;
            kernels::math::bias_gelu_rows(pos, pb.slice());
            kernels::norm::add_in_place(proj, pos);
            let (nw, nb, eps) = self.norm.params();
            let (nw, nb) = (TensorRead::new(nw)?, TensorRead::new(nb)?);
            kernels::norm::layer_norm_rows(proj, h, nw.slice(), nb.slice(), eps);
        }
        drop((cur, next));
        on_state(&hidden);
        let layers: Vec<KernelLayer> = self.layers.iter().map(EncoderLayer::kernel_layer).collect();
        let shape = kernels::attention::AttentionShape {
            batch: b,
            len: t,
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
        };
        Ok(run_kernel_layers(hidden, shape, None, &layers, |x| on_state(x))?.map(|_| ()))
    }

    /// Per-state time means `[B, states, hidden]` (f64 sums) through the kernels, or `None`.
    fn kernel_state_means(&self, wave: &Tensor) -> Result<Option<Vec<f32>>> {
        let (b, s) = wave.dims2()?;
        let t = self.config.frames(s);
        let h = self.config.hidden_size;
        let states = self.layers.len() + 1;
        let mut means = vec![0f32; b * states * h];
        let mut state = 0;
        let done = self.kernel_forward(wave, &mut |x: &[f32]| {
            for (item, rows) in x.chunks_exact(t * h).enumerate() {
                let mut acc = vec![0f64; h];
                for row in rows.chunks_exact(h) {
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += f64::from(v);
                    }
                }
                let out = &mut means[(item * states + state) * h..(item * states + state + 1) * h];
                for (o, a) in out.iter_mut().zip(acc) {
                    *o = (a / t as f64) as f32;
                }
            }
            state += 1;
        })?;
        Ok(done.map(|_| means))
    }

    /// All hidden states for waveforms `[B, S]` (no attention mask, as the reference):
    /// `num_hidden_layers + 1` tensors of `[B, T, hidden]`, the first being the LayerNorm output
    /// after the positional convolution.
    pub fn hidden_states(&self, wave: &Tensor) -> Result<Vec<Tensor>> {
        let (b, s) = wave.dims2()?;
        if self.config.frames(s) == 0 {
            candle_core::bail!("{s} samples are shorter than MERT's receptive field");
        }
        let (t, h) = (self.config.frames(s), self.config.hidden_size);
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        let mut failed = None;
        let done = self.kernel_forward(wave, &mut |x: &[f32]| match Tensor::from_slice(
            x,
            (b, t, h),
            wave.device(),
        ) {
            Ok(v) => states.push(v),
            Err(e) => failed = Some(e),
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if done.is_some() {
            return Ok(states);
        }
        self.candle_hidden_states(wave)
    }

    /// [`Self::hidden_states`] on candle's ops.
    fn candle_hidden_states(&self, wave: &Tensor) -> Result<Vec<Tensor>> {
        let (b, s) = wave.dims2()?;
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
        let (b, s) = wave.dims2()?;
        if self.config.frames(s) == 0 {
            candle_core::bail!("{s} samples are shorter than MERT's receptive field");
        }
        if let Some(means) = self.kernel_state_means(wave)? {
            let (n, h) = (self.layers.len() + 1, self.config.hidden_size);
            let feats: Vec<f32> = means
                .chunks_exact(n * h)
                .flat_map(|m| {
                    (0..h).map(move |j| {
                        ((0..n).map(|st| f64::from(m[st * h + j])).sum::<f64>() / n as f64) as f32
                    })
                })
                .collect();
            return Tensor::from_vec(feats, (b, h), wave.device());
        }
        let states = self.hidden_states(wave)?;
        let means = states
            .iter()
            .map(|s| s.mean(1))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&means, 0)?.mean(0)
    }

    /// Per-state time means `[B, num_hidden_layers + 1, hidden]` (before the mean over states).
    pub fn state_means(&self, wave: &Tensor) -> Result<Tensor> {
        let (b, s) = wave.dims2()?;
        if self.config.frames(s) == 0 {
            candle_core::bail!("{s} samples are shorter than MERT's receptive field");
        }
        if let Some(means) = self.kernel_state_means(wave)? {
            let (n, h) = (self.layers.len() + 1, self.config.hidden_size);
            return Tensor::from_vec(means, (b, n, h), wave.device());
        }
        let states = self.hidden_states(wave)?;
        let means = states
            .iter()
            .map(|s| s.mean(1))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&means, 1)
    }
}
