//! The post-LN BERT encoder shared by the three CLaMP 3 encoders (docs/reference.md §3.2), with the
//! two embedding front ends: token ids (BERT / XLM-R) and ready-made input vectors (M3, audio).
//!
//! Written on candle primitives rather than `candle-transformers`' BERT because two encoders
//! take `inputs_embeds`, and because training needs differentiable LayerNorm/softmax: when a
//! weight is a trainable variable the composed (differentiable) forms are used, otherwise the
//! fused inference kernels.
//!
//! Mixed precision: the compute type is the `VarBuilder`'s dtype (f32 for inference and plain
//! training; bf16/f16 for mixed-precision training). As under PyTorch autocast, the matrix
//! products and element-wise work run in that type while LayerNorm (its parameters loaded as
//! f32), softmax, pooling and the additive mask stay in f32-range arithmetic.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::BertConfig;
use crate::dropout::{Dropout, Site};
use crate::{kernels, ops};

/// LayerNorm over the last axis.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of size `size`.
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let f32_param = |name: &str, init: f64| {
            vb.get_with_hints_dtype(size, name, candle_nn::Init::Const(init), DType::F32)
        };
        Ok(LayerNorm {
            weight: f32_param("weight", 1.0)?,
            bias: f32_param("bias", 0.0)?,
            eps,
        })
    }

    /// Scale, shift and epsilon.
    pub(crate) fn params(&self) -> (&Tensor, &Tensor, f64) {
        (&self.weight, &self.bias, self.eps)
    }

    /// Normalises `x` over its last axis (in f32; the result has `x`'s dtype).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.dtype() != DType::F32 {
            return self.forward(&x.to_dtype(DType::F32)?)?.to_dtype(x.dtype());
        }
        if x.track_op() || self.weight.track_op() || self.bias.track_op() {
            let mean = x.mean_keepdim(D::Minus1)?;
            let xc = x.broadcast_sub(&mean)?;
            let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
            let xn = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
            xn.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
        } else {
            ops::layer_norm(x, &self.weight, &self.bias, self.eps)
        }
    }
}

/// Softmax over the last axis; differentiable when `x` is tracked.
fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if x.track_op() {
        candle_nn::ops::softmax(x, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

/// A linear layer. For inference on the CPU (a plain f32 weight) the weight is stored
/// transposed, `[in, out]` contiguous, under candle's `[out, in]` view: the GEMM then reads it
/// as it wants it instead of repacking all of it for every product, which dominates products
/// over few rows (measured 2-4x faster at 20 rows, the same at 512). candle's ops see the
/// same `[out, in]` tensor as before; trainable weights are left as they are.
pub(crate) fn linear(i: usize, o: usize, vb: VarBuilder) -> Result<Linear> {
    let lin = candle_nn::linear(i, o, vb)?;
    if !kernels::usable(lin.weight()) {
        return Ok(lin);
    }
    let w = lin.weight().contiguous()?;
    let wt = {
        let r = kernels::TensorRead::new(&w)?;
        kernels::gemm::transpose(r.slice(), o, i)
    };
    let wt = Tensor::from_vec(wt, (i, o), w.device())?;
    Ok(Linear::new(wt.t()?, lin.bias().cloned()))
}

/// A transformer layer's linear: candle's (f32, or trainable) or, for a model loaded from
/// block-quantised weights for inference on the CPU, candle's quantised product (`QMatMul`:
/// Q8_0/Q4_K weights times activations quantised on the fly).
#[derive(Debug, Clone)]
pub(crate) enum Dense {
    /// An ordinary linear layer (see [`linear`]).
    Plain(Linear),
    /// Quantised weight `[out, in]` and f32 bias `[out]`.
    Quantized {
        weight: std::sync::Arc<candle_core::quantized::QMatMul>,
        bias: Tensor,
    },
    /// A reduced-precision weight held in bf16 for the CPU's matrix tiles
    /// ([`kernels::bf16_tiles`]) and f32 bias `[out]`.
    Tiles {
        weight: std::sync::Arc<kernels::bf16_tiles::TileWeight>,
        bias: Tensor,
    },
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Dense::Plain(l) => l.forward(x),
            Dense::Quantized { weight, bias } => {
                weight.forward(&x.contiguous()?)?.broadcast_add(bias)
            }
            Dense::Tiles { weight, bias } => tile_forward(weight, bias, x),
        }
    }
}

/// `x · Wᵀ + b` on the bf16 tiles for any `x` `[.., in]` (the op-by-op forward's path).
fn tile_forward(
    weight: &kernels::bf16_tiles::TileWeight,
    bias: &Tensor,
    x: &Tensor,
) -> Result<Tensor> {
    use kernels::gemm::{MatMut, MatRef, Threads};
    let (i, o) = (weight.inputs(), weight.outputs());
    let mut dims = x.dims().to_vec();
    if dims.last() != Some(&i) {
        candle_core::bail!("linear: input {:?}, weight has {i} inputs", x.dims())
    }
    let rows = x.elem_count() / i.max(1);
    let x = x.to_dtype(DType::F32)?.contiguous()?;
    let mut out = vec![0f32; rows * o];
    {
        let r = kernels::TensorRead::new(&x)?;
        weight.product(
            MatMut::rows(&mut out, rows, o),
            false,
            MatRef::rows(r.slice(), rows, i),
            Threads::Pool,
        );
    }
    if let Some(last) = dims.last_mut() {
        *last = o;
    }
    Tensor::from_vec(out, dims, x.device())?.broadcast_add(bias)
}

/// A transformer layer's linear: quantised when the weights being loaded store it in GGML
/// blocks (inside [`crate::quant::QuantizedLoad`]) and [`crate::quant::quantized_matmul`] is
/// on, else [`linear`] (dequantised to f32).
pub(crate) fn layer_linear(i: usize, o: usize, vb: VarBuilder) -> Result<Dense> {
    let name = format!("{}.weight", vb.prefix());
    let q = if crate::quant::quantized_matmul() {
        crate::quant::scoped_block_tensor(&name, &[o, i])?
    } else {
        None
    };
    if let Some(q) = q {
        let bias = vb.get(o, "bias")?;
        let weight = candle_core::quantized::QMatMul::from_qtensor(q)?;
        return Ok(Dense::Quantized {
            weight: std::sync::Arc::new(weight),
            bias,
        });
    }
    if o.is_multiple_of(32)
        && vb.device().is_cpu()
        && crate::quant::tile_products()
        && crate::quant::scoped_tile_format(&name)
    {
        // Dequantised to f32 by the VarBuilder, rounded to bf16 and packed; the f32 copy is
        // dropped here.
        let w = vb.get((o, i), "weight")?.contiguous()?;
        let bias = vb.get(o, "bias")?;
        let packed = {
            let r = kernels::TensorRead::new(&w)?;
            kernels::bf16_tiles::TileWeight::pack(r.slice(), o, i)
                .map_err(candle_core::Error::wrap)?
        };
        return Ok(Dense::Tiles {
            weight: std::sync::Arc::new(packed),
            bias,
        });
    }
    Ok(Dense::Plain(linear(i, o, vb)?))
}

/// A linear layer's weight for the kernels: the contiguous tensor and whether it is stored
/// `[in, out]` (see [`linear`]).
pub(crate) fn kernel_weight(lin: &Linear) -> Option<(Tensor, bool)> {
    let w = lin.weight();
    if w.is_contiguous() {
        return Some((w.clone(), false));
    }
    let t = w.t().ok()?;
    t.is_contiguous().then_some((t, true))
}

/// Multi-head self-attention followed by the output projection, residual and LayerNorm.
#[derive(Debug, Clone)]
struct Attention {
    query: Dense,
    key: Dense,
    value: Dense,
    output: Dense,
    norm: LayerNorm,
    heads: usize,
    head_dim: usize,
    layer: usize,
    attention_p: f64,
    hidden_p: f64,
}

impl Attention {
    fn load(c: &BertConfig, layer: usize, vb: VarBuilder) -> Result<Self> {
        let h = c.hidden_size;
        let s = vb.pp("self");
        let o = vb.pp("output");
        Ok(Attention {
            query: layer_linear(h, h, s.pp("query"))?,
            key: layer_linear(h, h, s.pp("key"))?,
            value: layer_linear(h, h, s.pp("value"))?,
            output: layer_linear(h, h, o.pp("dense"))?,
            norm: LayerNorm::load(h, c.layer_norm_eps, o.pp("LayerNorm"))?,
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
            layer,
            attention_p: c.attention_probs_dropout_prob,
            hidden_p: c.hidden_dropout_prob,
        })
    }

    /// `x`: [B, L, H]; `mask_bias`: [B, 1, 1, L] additive (0 or f32::MIN).
    fn forward(&self, x: &Tensor, mask_bias: &Tensor, drop: Option<&Dropout>) -> Result<Tensor> {
        let (b, l, h) = x.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, l, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?;
        let probs = if scores.dtype() == DType::F32 {
            softmax_last_dim(&scores.broadcast_add(mask_bias)?)?
        } else {
            // Mixed precision: mask and normalise in f32, multiply the values in low precision.
            let s32 = scores.to_dtype(DType::F32)?.broadcast_add(mask_bias)?;
            softmax_last_dim(&s32)?.to_dtype(scores.dtype())?
        };
        let probs = match drop {
            Some(d) => d.apply(&probs, Site::AttentionProbs(self.layer), self.attention_p)?,
            None => probs,
        };
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, l, h))?;
        let mut out = self.output.forward(&ctx)?;
        if let Some(d) = drop {
            out = d.apply(&out, Site::AttentionOutput(self.layer), self.hidden_p)?;
        }
        self.norm.forward(&(out + x)?)
    }
}

/// One post-LN transformer layer.
#[derive(Debug, Clone)]
struct Layer {
    attention: Attention,
    intermediate: Dense,
    output: Dense,
    norm: LayerNorm,
    index: usize,
    hidden_p: f64,
}

impl Layer {
    fn load(c: &BertConfig, index: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Layer {
            attention: Attention::load(c, index, vb.pp("attention"))?,
            intermediate: layer_linear(
                c.hidden_size,
                c.intermediate_size,
                vb.pp("intermediate.dense"),
            )?,
            output: layer_linear(c.intermediate_size, c.hidden_size, vb.pp("output.dense"))?,
            norm: LayerNorm::load(c.hidden_size, c.layer_norm_eps, vb.pp("output.LayerNorm"))?,
            index,
            hidden_p: c.hidden_dropout_prob,
        })
    }

    /// The layer's parameters for the CPU kernels.
    fn kernel_layer(&self) -> KernelLayer<'_> {
        let a = &self.attention;
        KernelLayer {
            linears: [
                &a.query,
                &a.key,
                &a.value,
                &a.output,
                &self.intermediate,
                &self.output,
            ],
            norms: [&a.norm, &self.norm],
        }
    }

    fn forward(&self, x: &Tensor, mask_bias: &Tensor, drop: Option<&Dropout>) -> Result<Tensor> {
        let x = self.attention.forward(x, mask_bias, drop)?;
        let h = self.intermediate.forward(&x)?.gelu_erf()?;
        let mut h = self.output.forward(&h)?;
        if let Some(d) = drop {
            h = d.apply(&h, Site::FeedForwardOutput(self.index), self.hidden_p)?;
        }
        self.norm.forward(&(h + x)?)
    }
}

/// A post-LN layer's parameters as candle tensors (`query`, `key`, `value`, attention
/// output, intermediate, output; the two LayerNorms), for [`run_kernel_layers`].
pub(crate) struct KernelLayer<'t> {
    pub(crate) linears: [&'t Dense; 6],
    pub(crate) norms: [&'t LayerNorm; 2],
}

/// How a kernel layer's linear is stored: f32 (`[in, out]` when `transposed`) or quantised.
#[derive(Clone, Copy)]
enum KernelWeight<'t> {
    F32 { transposed: bool },
    Quantized(&'t candle_core::quantized::QMatMul),
    Tiles(&'t kernels::bf16_tiles::TileWeight),
}

impl<'t> KernelLayer<'t> {
    /// The tensors in [`Self::view`]'s order (a quantised linear's place for the weight holds
    /// its bias again) and how each weight is stored, when every one can feed the kernels.
    fn tensors(&self) -> Option<(Vec<Tensor>, [KernelWeight<'t>; 6])> {
        let mut all = Vec::with_capacity(16);
        let mut kinds = [KernelWeight::F32 { transposed: false }; 6];
        for (i, lin) in self.linears.iter().enumerate() {
            match lin {
                Dense::Plain(lin) => {
                    let (w, t) = kernel_weight(lin)?;
                    all.push(w);
                    all.push(lin.bias()?.clone());
                    kinds[i] = KernelWeight::F32 { transposed: t };
                }
                Dense::Quantized { weight, bias } => {
                    all.push(bias.clone());
                    all.push(bias.clone());
                    kinds[i] = KernelWeight::Quantized(weight);
                }
                Dense::Tiles { weight, bias } => {
                    all.push(bias.clone());
                    all.push(bias.clone());
                    kinds[i] = KernelWeight::Tiles(weight);
                }
            }
        }
        for n in self.norms {
            all.push(n.weight.clone());
            all.push(n.bias.clone());
        }
        all.iter().all(kernels::usable).then_some((all, kinds))
    }

    /// The kernels' view of the values locked in `g` (from [`Self::tensors`]).
    fn view<'a>(
        &self,
        g: &'a [kernels::TensorRead<'a>],
        kinds: [KernelWeight<'a>; 6],
    ) -> kernels::encoder::LayerRef<'a> {
        use kernels::encoder::{LayerRef, LinearRef, NormRef, WeightRef};
        let lin = |i: usize| LinearRef {
            weight: match kinds[i] {
                KernelWeight::F32 { transposed } => WeightRef::F32 {
                    data: g[2 * i].slice(),
                    transposed,
                },
                KernelWeight::Quantized(q) => WeightRef::Quantized(q),
                KernelWeight::Tiles(w) => WeightRef::Bf16Tiles(w),
            },
            bias: g[2 * i + 1].slice(),
        };
        let norm = |i: usize| NormRef {
            weight: g[12 + 2 * i].slice(),
            bias: g[13 + 2 * i].slice(),
            eps: self.norms[i].eps,
        };
        LayerRef {
            query: lin(0),
            key: lin(1),
            value: lin(2),
            output: lin(3),
            attention_norm: norm(0),
            intermediate: lin(4),
            feed_forward_output: lin(5),
            output_norm: norm(1),
        }
    }
}

/// Runs post-LN `layers` over `x` (`[batch·len, hidden]`) with the CPU kernels, calling
/// `on_state` with the hidden states after each layer. `None` when some parameter cannot
/// feed the kernels (the caller then uses candle's ops).
pub(crate) fn run_kernel_layers(
    mut x: Vec<f32>,
    shape: kernels::attention::AttentionShape,
    bias: Option<&[f32]>,
    layers: &[KernelLayer<'_>],
    mut on_state: impl FnMut(&[f32]),
) -> Result<Option<Vec<f32>>> {
    let Some(tensors) = layers
        .iter()
        .map(KernelLayer::tensors)
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    let guards = tensors
        .iter()
        .map(|(ts, _)| {
            ts.iter()
                .map(kernels::TensorRead::new)
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let mut ws = kernels::encoder::Workspace::new();
    for ((layer, g), (_, kinds)) in layers.iter().zip(&guards).zip(&tensors) {
        kernels::encoder::layer_forward(&mut x, shape, bias, &layer.view(g, *kinds), &mut ws)?;
        on_state(&x);
    }
    Ok(Some(x))
}

/// How position ids are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// `0..L` (BERT).
    Absolute,
    /// `cumsum(id != pad) * (id != pad) + pad` from the token ids (RoBERTa / XLM-R).
    FromIds {
        /// The padding id.
        pad: u32,
    },
}

/// RoBERTa position ids computed on the ids' device, as candle's XLM-R does (no read-back):
/// the running count of real tokens (exact in f32 below 2^24), zero at the padding, + pad.
fn positions_on_device(ids: &Tensor, pad: u32) -> Result<Tensor> {
    let real = ids.ne(pad)?.to_dtype(DType::F32)?;
    let pos = ((real.cumsum(1)? * &real)? + f64::from(pad))?;
    pos.to_dtype(DType::U32)
}

/// The word-embedding table: f32 in memory (training, other devices), or, for CPU inference,
/// read in place from the memory-mapped weights in whatever type they store it (f32, half
/// precision, GGML blocks), a lookup decoding only the rows it reads (the XLM-R vocabulary has
/// 250k rows).
#[derive(Debug, Clone)]
enum WordTable {
    F32(Tensor),
    Mapped(crate::quant::MappedTable),
}

impl WordTable {
    fn dims(&self) -> Result<(usize, usize)> {
        match self {
            WordTable::F32(t) => t.dims2(),
            WordTable::Mapped(m) => Ok(m.dims()),
        }
    }

    /// Rows `ids` (flat u32, each checked below the vocabulary size) as `[n, hidden]`.
    fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            WordTable::F32(t) => t.index_select(ids, 0),
            WordTable::Mapped(m) => {
                let ids_device = ids.device().clone();
                let ids = ids.to_vec1::<u32>()?;
                let n = ids.len();
                Tensor::from_vec(m.rows(&ids)?, (n, m.dims().1), &Device::Cpu)?
                    .to_device(&ids_device)
            }
        }
    }
}

/// Embedding layer: (input + token-type row 0) + position, then LayerNorm, in transformers'
/// order of additions.
#[derive(Debug, Clone)]
pub struct Embeddings {
    word: Option<WordTable>,
    position: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
    positions: Positions,
}

impl Embeddings {
    /// Loads the embedding tables; the word table only when `with_words` (the M3 and audio
    /// encoders never use theirs).
    pub fn load(
        c: &BertConfig,
        positions: Positions,
        with_words: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let word = if !with_words {
            None
        } else if let Some(m) = crate::quant::scoped_mapped_table(
            &format!("{}.word_embeddings.weight", vb.prefix()),
            &[c.vocab_size, c.hidden_size],
        )? {
            Some(WordTable::Mapped(m))
        } else {
            Some(WordTable::F32(vb.get(
                (c.vocab_size, c.hidden_size),
                "word_embeddings.weight",
            )?))
        };
        let position = vb.get(
            (c.max_position_embeddings, c.hidden_size),
            "position_embeddings.weight",
        )?;
        let token_type = vb
            .get(
                (c.type_vocab_size, c.hidden_size),
                "token_type_embeddings.weight",
            )?
            .narrow(0, 0, 1)?;
        Ok(Embeddings {
            word,
            position,
            token_type,
            norm: LayerNorm::load(c.hidden_size, c.layer_norm_eps, vb.pp("LayerNorm"))?,
            positions,
        })
    }

    fn position_ids(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, l) = ids.dims2()?;
        match self.positions {
            Positions::Absolute => Tensor::arange(0u32, l as u32, ids.device())?
                .unsqueeze(0)?
                .repeat((b, 1)),
            Positions::FromIds { pad } if !ids.device().is_cpu() => positions_on_device(ids, pad),
            Positions::FromIds { pad } => {
                let rows = ids.to_vec2::<u32>()?;
                let mut out = Vec::with_capacity(b * l);
                for row in rows {
                    let mut count = 0u32;
                    for id in row {
                        if id != pad {
                            count += 1;
                            out.push(count + pad);
                        } else {
                            out.push(pad);
                        }
                    }
                }
                Tensor::from_vec(out, (b, l), ids.device())
            }
        }
    }

    fn finish(&self, x: Tensor, position_ids: &Tensor) -> Result<Tensor> {
        let x = x.to_dtype(self.position.dtype())?;
        let (b, l, h) = x.dims3()?;
        let max = self.position.dim(0)?;
        if l > max {
            candle_core::bail!("sequence of {l} positions exceeds the {max} position embeddings");
        }
        if let Some(out) = self.finish_with_kernels(&x, position_ids)? {
            return Ok(out);
        }
        let pos = self
            .position
            .index_select(&position_ids.flatten_all()?, 0)?
            .reshape((b, l, h))?;
        let x = x.broadcast_add(&self.token_type)?;
        self.norm.forward(&(x + pos)?)
    }

    /// [`Self::finish`] in one pass over the rows on the CPU (the same additions in the same
    /// order, then the same LayerNorm); `None` when a tensor cannot feed the kernels.
    fn finish_with_kernels(&self, x: &Tensor, position_ids: &Tensor) -> Result<Option<Tensor>> {
        let (nw, nb, eps) = self.norm.params();
        if ![x, &self.position, &self.token_type, nw, nb]
            .iter()
            .all(|t| kernels::usable(t))
        {
            return Ok(None);
        }
        let (b, l, h) = x.dims3()?;
        let ids = position_ids.flatten_all()?.to_vec1::<u32>()?;
        let rows = self.position.dim(0)?;
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= rows) {
            candle_core::bail!("position {bad} beyond the {rows} position embeddings");
        }
        let mut out = x.flatten_all()?.to_vec1::<f32>()?;
        let token_type = self.token_type.contiguous()?;
        let (table, tt) = (
            kernels::TensorRead::new(&self.position)?,
            kernels::TensorRead::new(&token_type)?,
        );
        let (nw, nb) = (kernels::TensorRead::new(nw)?, kernels::TensorRead::new(nb)?);
        let (table, tt, nw, nb) = (table.slice(), tt.slice(), nw.slice(), nb.slice());
        use rayon::prelude::*;
        out.par_chunks_mut(h)
            .zip(ids.par_iter())
            .with_min_len(16)
            .for_each(|(row, &id)| {
                let pos = &table[id as usize * h..(id as usize + 1) * h];
                for ((v, &t), &p) in row.iter_mut().zip(tt).zip(pos) {
                    *v = (*v + t) + p;
                }
                kernels::norm::layer_norm_row(row, nw, nb, eps);
            });
        Ok(Some(Tensor::from_vec(out, (b, l, h), x.device())?))
    }

    /// Embeds token ids `[B, L]` (u32). Ids outside the vocabulary are an error; checking
    /// them reads the maximum id back from the device (free on the CPU).
    pub fn forward_ids(&self, ids: &Tensor) -> Result<Tensor> {
        self.forward_ids_inner(ids, false)
    }

    /// [`Self::forward_ids`]; with `checked` (every id already checked on the host, as
    /// `Clamp3Model::embed` does) a non-CPU device computes it without reading anything back.
    pub(crate) fn forward_ids_inner(&self, ids: &Tensor, checked: bool) -> Result<Tensor> {
        let Some(word) = &self.word else {
            candle_core::bail!("this encoder has no word embeddings")
        };
        let (b, l) = ids.dims2()?;
        let (vocab, hidden) = word.dims()?;
        let vocab = vocab as u32;
        if (!checked || ids.device().is_cpu())
            && ids.flatten_all()?.max(0)?.to_scalar::<u32>()? >= vocab
        {
            candle_core::bail!("token id out of range for a vocabulary of {vocab}");
        }
        let x = word.lookup(&ids.flatten_all()?)?.reshape((b, l, hidden))?;
        let pos = self.position_ids(ids)?;
        if let Positions::FromIds { pad } = self.positions {
            // Positions run to at most pad + L: only a sequence that long needs the check.
            if pad as usize + l >= self.position.dim(0)? {
                let max_pos = pos.flatten_all()?.max(0)?.to_scalar::<u32>()? as usize;
                if max_pos >= self.position.dim(0)? {
                    candle_core::bail!("sequence too long for the position embeddings");
                }
            }
        }
        self.finish(x, &pos)
    }

    /// Embeds input vectors `[B, L, H]` (positions `0..L`).
    pub fn forward_embeds(&self, x: &Tensor) -> Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        let pos = Tensor::arange(0u32, l as u32, x.device())?
            .unsqueeze(0)?
            .repeat((b, 1))?;
        self.finish(x.clone(), &pos)
    }
}

/// A BERT model without pooler: embeddings + post-LN layers.
#[derive(Debug, Clone)]
pub struct Bert {
    /// The embedding front end.
    pub embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    hidden_p: f64,
}

impl Bert {
    /// Loads `embeddings.*` and `encoder.layer.{i}.*` under `vb`.
    pub fn load(
        c: &BertConfig,
        positions: Positions,
        with_words: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let embeddings = Embeddings::load(c, positions, with_words, vb.pp("embeddings"))?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| Layer::load(c, i, vb.pp(format!("encoder.layer.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            embeddings,
            layers,
            heads: c.num_attention_heads,
            hidden_p: c.hidden_dropout_prob,
        })
    }

    /// Runs the layers over embedded input `x` [B, L, H] with padding mask `mask` [B, L]
    /// (1 = real, 0 = pad; f32): the last hidden states. With `drop`, in training mode (the
    /// embedding dropout included).
    pub fn encode(&self, x: Tensor, mask: &Tensor, drop: Option<&Dropout>) -> Result<Tensor> {
        if drop.is_none() && kernels::usable(&x) && kernels::usable(mask) {
            if let Some(out) = self.encode_with_kernels(&x, mask)? {
                return Ok(out);
            }
        }
        let bias = mask_bias(mask)?;
        let mut x = match drop {
            Some(d) => d.apply(&x, Site::Embeddings, self.hidden_p)?,
            None => x,
        };
        for layer in &self.layers {
            x = layer.forward(&x, &bias, drop)?;
        }
        Ok(x)
    }

    /// The layers through [`crate::kernels`] (f32 inference on the CPU); `None` when a weight
    /// cannot feed them (tracked, another dtype or device), so the caller uses candle's ops.
    fn encode_with_kernels(&self, x: &Tensor, mask: &Tensor) -> Result<Option<Tensor>> {
        let (b, l, h) = x.dims3()?;
        if mask.dims2()? != (b, l) {
            candle_core::bail!("mask of shape {:?} for input {:?}", mask.dims(), x.dims());
        }
        // transformers' additive mask: (1 - m) * f32::MIN; none at all when nothing is padded
        // (adding zeros changes no score).
        let bias: Option<Vec<f32>> = {
            let m = kernels::TensorRead::new(mask)?;
            if m.slice().iter().all(|&v| v == 1.0) {
                None
            } else {
                Some(m.slice().iter().map(|&v| (1.0 - v) * f32::MIN).collect())
            }
        };
        let layers: Vec<KernelLayer> = self.layers.iter().map(Layer::kernel_layer).collect();
        let shape = kernels::attention::AttentionShape {
            batch: b,
            len: l,
            heads: self.heads,
            head_dim: h / self.heads,
        };
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        run_kernel_layers(xs, shape, bias.as_deref(), &layers, |_| {})?
            .map(|out| Tensor::from_vec(out, (b, l, h), x.device()))
            .transpose()
    }

    /// Last hidden states for token ids (evaluation mode).
    pub fn forward_ids(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_ids_with(ids, mask, None)
    }

    /// Last hidden states for token ids, in training mode with `drop`.
    pub fn forward_ids_with(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        let x = self.embeddings.forward_ids(ids)?;
        self.encode(x, mask, drop)
    }

    /// Last hidden states for input vectors (evaluation mode).
    pub fn forward_embeds(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_embeds_with(x, mask, None)
    }

    /// Last hidden states for input vectors, in training mode with `drop`.
    pub fn forward_embeds_with(
        &self,
        x: &Tensor,
        mask: &Tensor,
        drop: Option<&Dropout>,
    ) -> Result<Tensor> {
        let x = self.embeddings.forward_embeds(x)?;
        self.encode(x, mask, drop)
    }
}

/// `(1 - mask) * f32::MIN`, shaped [B, 1, 1, L]: transformers' extended attention mask.
pub fn mask_bias(mask: &Tensor) -> Result<Tensor> {
    let (b, l) = mask.dims2()?;
    let m = mask.to_dtype(DType::F32)?;
    let inv = (m.ones_like()? - m)?;
    (inv * f64::from(f32::MIN))?.reshape((b, 1, 1, l))
}

/// Mean of `hidden` [B, L, H] over the positions where `mask` [B, L] is 1 (in f32).
pub fn masked_mean(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let hidden = hidden.to_dtype(DType::F32)?;
    let m = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    sum.broadcast_div(&m.sum(1)?)
}

/// A float mask of ones for `lengths` padded to `max_len`: [B, max_len].
pub fn length_mask(lengths: &[usize], max_len: usize, device: &Device) -> Result<Tensor> {
    let mut m = vec![0f32; lengths.len() * max_len];
    for (row, &n) in lengths.iter().enumerate() {
        for v in &mut m[row * max_len..row * max_len + n.min(max_len)] {
            *v = 1.0;
        }
    }
    Tensor::from_vec(m, (lengths.len(), max_len), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_position_ids_equal_the_host_computation() {
        let c = BertConfig {
            hidden_size: 8,
            max_position_embeddings: 40,
            num_attention_heads: 2,
            ..BertConfig::xlm_roberta_base()
        };
        let vb = crate::synthetic::var_builder(&Device::Cpu);
        let e = Embeddings::load(&c, Positions::FromIds { pad: 1 }, false, vb).unwrap();
        let ids = Tensor::new(&[[0u32, 7, 9, 2, 1, 1], [0, 5, 1, 8, 2, 1]], &Device::Cpu).unwrap();
        let host = e.position_ids(&ids).unwrap().to_vec2::<u32>().unwrap();
        let device = positions_on_device(&ids, 1)
            .unwrap()
            .to_vec2::<u32>()
            .unwrap();
        assert_eq!(host, vec![vec![2, 3, 4, 5, 1, 1], vec![2, 3, 1, 4, 5, 1]]);
        assert_eq!(device, host);
    }
}
