//! One post-LN transformer layer (BERT, XLM-R and MERT's encoder layers) on `f32` slices:
//!
//! ```text
//! h = LayerNorm(x + W_o·attention(W_q·x + b_q, W_k·x + b_k, W_v·x + b_v) + b_o)
//! x = LayerNorm(h + W_2·GELU(W_1·h + b_1) + b_2)
//! ```
//!
//! Five products at GEMM speed; the biases are written into the products' destinations
//! before they accumulate (the residual together with the bias), GELU is applied with the
//! first feed-forward bias in one pass, and every intermediate lives in a [`Workspace`]
//! that is reused across layers and forwards instead of a fresh allocation per op.

use rayon::prelude::*;

use super::attention::{attention, AttentionShape, Projections};
use super::gemm::{linear, matmul, MatMut, MatRef, Threads};
use super::math::bias_gelu_rows;
use super::norm::layer_norm_rows;
use super::pool::Buffer;

/// A linear layer's weight.
#[derive(Debug, Clone, Copy)]
pub enum WeightRef<'a> {
    /// f32 values.
    F32 {
        /// Row-major `[out, in]` (PyTorch's layout), or `[in, out]` when `transposed`.
        data: &'a [f32],
        /// Whether `data` is stored `[in, out]`.
        transposed: bool,
    },
    /// GGML blocks `[out, in]` multiplied by candle's quantised product (the activations are
    /// quantised on the fly; `docs/quantize.md`).
    Quantized(&'a candle_core::quantized::QMatMul),
    /// A weight rounded to bf16 and rearranged for the CPU's bf16 matrix tiles (activations
    /// rounded to bf16 per product; [`super::bf16_tiles`]).
    Bf16Tiles(&'a super::bf16_tiles::TileWeight),
}

/// A linear layer's weight and bias `[out]`.
#[derive(Debug, Clone, Copy)]
pub struct LinearRef<'a> {
    /// The weight.
    pub weight: WeightRef<'a>,
    /// `[out]`.
    pub bias: &'a [f32],
}

impl LinearRef<'_> {
    /// `out (+)= x · Wᵀ` for `x` `[rows, in]` (dense rows). Errors only from the quantised
    /// product.
    pub fn product(
        &self,
        out: MatMut<'_>,
        accumulate: bool,
        x: MatRef<'_>,
    ) -> candle_core::Result<()> {
        match self.weight {
            WeightRef::F32 {
                data,
                transposed: true,
            } => {
                let (i, o) = (x.cols, out.cols);
                matmul(
                    out,
                    accumulate,
                    x,
                    MatRef::rows(data, i, o),
                    1.0,
                    Threads::Pool,
                );
            }
            WeightRef::F32 { data, .. } => linear(out, accumulate, x, data, Threads::Pool),
            WeightRef::Quantized(q) => quantized_product(q, out, accumulate, x)?,
            WeightRef::Bf16Tiles(w) => w.product(out, accumulate, x, Threads::Pool),
        }
        Ok(())
    }
}

/// `out (+)= x · Wᵀ` through candle's quantised product: `x` goes in as a tensor (one copy of
/// the activations, small beside the product) and the result is added into `out`'s rows.
fn quantized_product(
    q: &candle_core::quantized::QMatMul,
    out: MatMut<'_>,
    accumulate: bool,
    x: MatRef<'_>,
) -> candle_core::Result<()> {
    use candle_core::Module;
    assert!(
        x.col_stride == 1 && x.row_stride == x.cols,
        "quantised product: dense input rows"
    );
    let (rows, cols, n) = (x.rows, x.cols, out.cols);
    let xs = &x.data[x.offset..x.offset + rows * cols];
    let t = candle_core::Tensor::from_slice(xs, (rows, cols), &candle_core::Device::Cpu)?;
    let y = q.forward(&t)?;
    let y = crate::kernels::TensorRead::new(&y)?;
    let y = y.slice();
    let MatMut {
        data,
        offset,
        row_stride,
        ..
    } = out;
    data[offset..]
        .par_chunks_mut(row_stride)
        .zip(y.par_chunks(n))
        .with_min_len(16)
        .for_each(|(row, src)| {
            let dst = &mut row[..n];
            if accumulate {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            } else {
                dst.copy_from_slice(src);
            }
        });
    Ok(())
}

/// A LayerNorm's parameters.
#[derive(Debug, Clone, Copy)]
pub struct NormRef<'a> {
    /// Scale.
    pub weight: &'a [f32],
    /// Shift.
    pub bias: &'a [f32],
    /// Epsilon.
    pub eps: f64,
}

/// The parameters of one layer.
#[derive(Debug, Clone, Copy)]
pub struct LayerRef<'a> {
    /// Query projection.
    pub query: LinearRef<'a>,
    /// Key projection.
    pub key: LinearRef<'a>,
    /// Value projection.
    pub value: LinearRef<'a>,
    /// Attention output projection.
    pub output: LinearRef<'a>,
    /// LayerNorm after the attention block.
    pub attention_norm: NormRef<'a>,
    /// First feed-forward projection (`[intermediate, hidden]`).
    pub intermediate: LinearRef<'a>,
    /// Second feed-forward projection (`[hidden, intermediate]`).
    pub feed_forward_output: LinearRef<'a>,
    /// LayerNorm after the feed-forward block.
    pub output_norm: NormRef<'a>,
}

/// The intermediate buffers of a forward pass, reused across its layers and (through
/// [`super::pool`]) across passes.
#[derive(Debug, Default)]
pub struct Workspace {
    qkv: Buffer,
    ctx: Buffer,
    h: Buffer,
    inter: Buffer,
}

impl Workspace {
    /// An empty workspace (buffers come from the pool on first use).
    pub fn new() -> Self {
        Self::default()
    }
}

/// Copies `bias` into every `bias.len()`-wide block at column `col` of the rows of a
/// `width`-wide matrix (plus `add`'s row when given, for a residual).
fn prefill(dst: &mut [f32], width: usize, col: usize, bias: &[f32], add: Option<&[f32]>) {
    let n = bias.len();
    match add {
        None => dst.par_chunks_mut(width).with_min_len(32).for_each(|row| {
            row[col..col + n].copy_from_slice(bias);
        }),
        Some(a) => dst
            .par_chunks_mut(width)
            .zip(a.par_chunks(n))
            .with_min_len(32)
            .for_each(|(row, r)| {
                for ((d, &x), &b) in row[col..col + n].iter_mut().zip(r).zip(bias) {
                    *d = x + b;
                }
            }),
    }
}

/// Runs one layer over `x` (`[batch·len, hidden]`, row-major) in place. `bias`: the
/// additive attention mask `[batch, len]` (0 or `f32::MIN`), or `None` for no mask.
///
/// Panics on sizes that disagree with `shape` (programming errors); errors only from a
/// quantised product.
pub fn layer_forward(
    x: &mut [f32],
    shape: AttentionShape,
    bias: Option<&[f32]>,
    p: &LayerRef<'_>,
    ws: &mut Workspace,
) -> candle_core::Result<()> {
    let hidden = shape.hidden();
    let rows = shape.batch * shape.len;
    let inter_w = p.intermediate.bias.len();
    assert_eq!(x.len(), rows * hidden, "layer: input size");
    let size = |w: WeightRef<'_>| match w {
        WeightRef::F32 { data, .. } => data.len(),
        WeightRef::Bf16Tiles(w) => w.inputs() * w.outputs(),
        WeightRef::Quantized(q) => match q {
            candle_core::quantized::QMatMul::QTensor(t) => t.shape().elem_count(),
            candle_core::quantized::QMatMul::Tensor(t)
            | candle_core::quantized::QMatMul::TensorF16(t) => t.elem_count(),
        },
    };
    assert!(
        size(p.query.weight) == hidden * hidden
            && size(p.intermediate.weight) == inter_w * hidden
            && size(p.feed_forward_output.weight) == hidden * inter_w,
        "layer: weight sizes"
    );
    let scale = 1.0 / (shape.head_dim as f32).sqrt();

    // Q, K and V side by side in one [rows, 3·hidden] buffer.
    let qkv = ws.qkv.get(rows * 3 * hidden);
    for (i, lin) in [p.query, p.key, p.value].iter().enumerate() {
        prefill(qkv, 3 * hidden, i * hidden, lin.bias, None);
        lin.product(
            MatMut::columns(qkv, rows, 3 * hidden, i * hidden, hidden),
            true,
            MatRef::rows(x, rows, hidden),
        )?;
    }
    let ctx = ws.ctx.get(rows * hidden);
    attention(
        ctx,
        Projections {
            data: qkv,
            row_stride: 3 * hidden,
            q: 0,
            k: hidden,
            v: 2 * hidden,
        },
        shape,
        bias,
        scale,
    );

    // h = LayerNorm(x + b_o + W_o·ctx)
    let h = ws.h.get(rows * hidden);
    prefill(h, hidden, 0, p.output.bias, Some(x));
    p.output.product(
        MatMut::rows(h, rows, hidden),
        true,
        MatRef::rows(ctx, rows, hidden),
    )?;
    let n = p.attention_norm;
    layer_norm_rows(h, hidden, n.weight, n.bias, n.eps);

    // x = LayerNorm(h + b_2 + W_2·GELU(W_1·h + b_1))
    let inter = ws.inter.get(rows * inter_w);
    p.intermediate.product(
        MatMut::rows(inter, rows, inter_w),
        false,
        MatRef::rows(h, rows, hidden),
    )?;
    inter
        .par_chunks_mut(inter_w * 8)
        .for_each(|block| bias_gelu_rows(block, p.intermediate.bias));
    prefill(x, hidden, 0, p.feed_forward_output.bias, Some(h));
    p.feed_forward_output.product(
        MatMut::rows(x, rows, hidden),
        true,
        MatRef::rows(inter, rows, inter_w),
    )?;
    let n = p.output_norm;
    layer_norm_rows(x, hidden, n.weight, n.bias, n.eps);
    Ok(())
}

/// Multiply-adds of one layer's forward over `rows = batch·len` positions (products only):
/// `flops = 2 ·` this.
pub fn layer_macs(shape: AttentionShape, intermediate: usize) -> u64 {
    let (b, l, h) = (shape.batch as u64, shape.len as u64, shape.hidden() as u64);
    let rows = b * l;
    rows * (4 * h * h + 2 * h * intermediate as u64) + 2 * b * l * l * h
}
