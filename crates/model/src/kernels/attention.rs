//! Multi-head scaled dot-product attention, one (item, head) pair per task.
//!
//! Hand-written because candle computes it as a batched product over `[B, heads, L, L]`
//! (materialised, then scaled, masked and normalised in three more passes, with the heads
//! split and merged by two transposing copies); its batched product ran at ~40 % of the GEMM
//! rate at 128 tokens. Here each task reads its head's queries, keys and values in place
//! from the projection output (strided views, no copies), computes the `[L, L]` scores into
//! a per-thread buffer that stays in cache, applies the mask and the softmax there, and
//! writes its share of the context straight into the `[B·L, hidden]` output.

use std::cell::RefCell;

use rayon::prelude::*;

use super::gemm::{matmul, matmul_raw_dst, MatRef, Threads};
use super::math::softmax_row;

/// Shape of one attention call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    /// Items.
    pub batch: usize,
    /// Positions per item.
    pub len: usize,
    /// Heads.
    pub heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl AttentionShape {
    /// `heads * head_dim`.
    pub fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }
}

/// Where the queries, keys and values sit in the projection output: rows of `row_stride`
/// values (one row per position, `batch * len` rows), each holding the `hidden`-wide query,
/// key and value blocks at the given column offsets.
#[derive(Debug, Clone, Copy)]
pub struct Projections<'a> {
    /// The projection output.
    pub data: &'a [f32],
    /// Distance between rows.
    pub row_stride: usize,
    /// Column of the queries.
    pub q: usize,
    /// Column of the keys.
    pub k: usize,
    /// Column of the values.
    pub v: usize,
}

thread_local! {
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `ctx[b·L + i, h·D..(h+1)·D] = softmax(scale · q_bh kᵀ_bh + bias_b) v_bh` for every item
/// `b` and head `h`. `bias`: the additive mask `[batch, len]` (0 or `f32::MIN`), or `None`.
///
/// Panics on inconsistent sizes (shapes come from checked tensors, never from input).
pub fn attention(
    ctx: &mut [f32],
    p: Projections<'_>,
    shape: AttentionShape,
    bias: Option<&[f32]>,
    scale: f32,
) {
    let AttentionShape {
        batch,
        len,
        heads,
        head_dim,
    } = shape;
    let hidden = shape.hidden();
    assert_eq!(ctx.len(), batch * len * hidden, "attention: context size");
    if let Some(b) = bias {
        assert_eq!(b.len(), batch * len, "attention: mask size");
    }
    assert!(
        p.q.max(p.k).max(p.v) + hidden <= p.row_stride
            && p.data.len() >= batch * len * p.row_stride,
        "attention: projection layout"
    );
    if batch * len == 0 || hidden == 0 {
        return;
    }
    let ctx_ptr = SendPtr(ctx.as_mut_ptr());
    let ctx_len = ctx.len();
    (0..batch * heads).into_par_iter().for_each(|task| {
        let (b, h) = (task / heads, task % heads);
        let row0 = b * len * p.row_stride;
        let view = |col: usize| {
            MatRef::strided(
                p.data,
                row0 + col + h * head_dim,
                (len, head_dim),
                (p.row_stride, 1),
            )
        };
        SCORES.with(|cell| {
            let mut s = cell.borrow_mut();
            if s.len() < len * len {
                s.resize(len * len, 0.0);
            }
            let s = &mut s[..len * len];
            matmul(
                super::gemm::MatMut::rows(s, len, len),
                false,
                view(p.q),
                view(p.k).t(),
                scale,
                Threads::One,
            );
            let bias_row = bias.map_or(&[][..], |m| &m[b * len..(b + 1) * len]);
            for row in s.chunks_exact_mut(len) {
                softmax_row(row, bias_row);
            }
            let offset = b * len * hidden + h * head_dim;
            // SAFETY: this task writes rows `b·L..(b+1)·L`, columns `h·D..(h+1)·D` of `ctx`
            // (`offset + i·hidden + j` for i < L, j < D, all below `ctx_len`); no two tasks
            // share an (item, head) pair, so their writes are disjoint, and `ctx` stays
            // borrowed mutably by this function until every task has finished.
            unsafe {
                matmul_raw_dst(
                    ctx_ptr.get(),
                    ctx_len,
                    offset,
                    (len, head_dim),
                    hidden,
                    MatRef::rows(s, len, len),
                    view(p.v),
                    Threads::One,
                );
            }
        });
    });
}

/// A raw pointer that may cross into rayon tasks (each task writes a disjoint block).
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used for the disjoint writes described at the use site.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_direct_computation_with_mask() {
        let shape = AttentionShape {
            batch: 2,
            len: 5,
            heads: 3,
            head_dim: 4,
        };
        let hidden = shape.hidden();
        let stride = 3 * hidden + 2;
        let data: Vec<f32> = (0..2 * 5 * stride)
            .map(|i| ((i * 7919 % 263) as f32 / 263.0) - 0.5)
            .collect();
        let mut bias = vec![0f32; 10];
        bias[4] = f32::MIN; // item 0: 4 real positions
        bias[8] = f32::MIN;
        bias[9] = f32::MIN; // item 1: 3 real positions
        let p = Projections {
            data: &data,
            row_stride: stride,
            q: 0,
            k: hidden + 1,
            v: 2 * hidden + 2,
        };
        let mut ctx = vec![f32::NAN; 10 * hidden];
        attention(&mut ctx, p, shape, Some(&bias), 0.5);
        for b in 0..2 {
            for h in 0..3 {
                for i in 0..5 {
                    let at = |r: usize, col: usize, d: usize| {
                        f64::from(data[(b * 5 + r) * stride + col + h * 4 + d])
                    };
                    let scores: Vec<f64> = (0..5)
                        .map(|j| {
                            let dot: f64 = (0..4).map(|d| at(i, p.q, d) * at(j, p.k, d)).sum();
                            dot * 0.5 + f64::from(bias[b * 5 + j])
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for d in 0..4 {
                        let want: f64 = (0..5).map(|j| e[j] / z * at(j, p.v, d)).sum();
                        let got = ctx[(b * 5 + i) * hidden + h * 4 + d];
                        assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
                    }
                }
            }
        }
    }
}
