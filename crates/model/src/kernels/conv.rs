//! 1-D convolutions over time-major signals (`[T, C]`: one row per frame), each computed as
//! GEMMs whose rows are the overlapping input windows — a window of `k` frames starting at
//! frame `t·stride` is `k·C` consecutive values — so no im2col copy is made.
//!
//! Hand-written because candle's CPU `conv1d` works channel-major (`[C, T]`), unfolds the
//! input into a `[T_out, C·k]` copy and transposes between the layers; for MERT's feature
//! encoder (7 convolutions, ~37 GFLOP per 5 s window) that ran at a fraction of the GEMM
//! rate. The weights are rearranged once, at load, from PyTorch's `[C_out, C_in, k]` to
//! `[C_out, k, C_in]` so that a window's values line up with a weight row.

use rayon::prelude::*;

use super::gemm::{linear, matmul_raw_dst, MatMut, MatRef, Threads};

/// Rearranges a PyTorch convolution weight `[c_out, c_in, k]` to `[c_out, k, c_in]`.
pub fn kernel_major(w: &[f32], c_out: usize, c_in: usize, k: usize) -> Vec<f32> {
    assert_eq!(w.len(), c_out * c_in * k, "conv weight size");
    let mut out = vec![0f32; w.len()];
    for o in 0..c_out {
        for c in 0..c_in {
            for j in 0..k {
                out[(o * k + j) * c_in + c] = w[(o * c_in + c) * k + j];
            }
        }
    }
    out
}

/// Output frames of a valid (unpadded) convolution: `(t_in - k) / stride + 1`, or 0.
pub fn out_frames(t_in: usize, k: usize, stride: usize) -> usize {
    if t_in < k || stride == 0 {
        0
    } else {
        (t_in - k) / stride + 1
    }
}

/// `out[t, o] = Σ_{j<k, c<c_in} w[o, j, c] · x[t·stride + j, c]` (+ `out` when
/// `accumulate`): a valid convolution of `x` (`[t_in, c_in]`) with a kernel-major weight
/// (see [`kernel_major`]), written to `out` (`[t_out, c_out]`, `t_out` from [`out_frames`]).
pub fn conv1d(
    out: &mut [f32],
    accumulate: bool,
    x: &[f32],
    c_in: usize,
    weight: &[f32],
    k: usize,
    stride: usize,
) {
    let t_in = x.len() / c_in;
    let t_out = out_frames(t_in, k, stride);
    let c_out = weight.len() / (k * c_in);
    assert_eq!(out.len(), t_out * c_out, "conv output size");
    let windows = MatRef::strided(x, 0, (t_out, k * c_in), (stride * c_in, 1));
    linear(
        MatMut::rows(out, t_out, c_out),
        accumulate,
        windows,
        weight,
        Threads::Pool,
    );
}

/// A grouped "same" convolution of `x` (`[t, c]`), zero-padded by `padding` frames on each
/// side, keeping the first `t` output frames: `out[t', g·cg + o] = Σ_{j, c} w[g·cg + o, j, c] ·
/// xpad[t' + j, g·cg + c]` for `groups` groups of `cg = c / groups` channels. `weight` is
/// kernel-major `[c, k, cg]`. Groups run in parallel.
pub fn grouped_conv1d_same(
    out: &mut [f32],
    x: &[f32],
    c: usize,
    groups: usize,
    weight: &[f32],
    k: usize,
    padding: usize,
) {
    assert!(groups > 0 && c.is_multiple_of(groups), "conv groups");
    let cg = c / groups;
    let t = x.len() / c;
    assert_eq!(weight.len(), c * k * cg, "grouped conv weight size");
    assert_eq!(out.len(), t * c, "grouped conv output size");
    let padded = t + 2 * padding;
    assert!(
        padded + 1 > k && padded - k + 1 >= t,
        "grouped conv: too few output frames"
    );
    // Group-major padded copies: group g is [padded, cg], so a window is contiguous.
    let mut xg = vec![0f32; groups * padded * cg];
    xg.par_chunks_mut(padded * cg)
        .enumerate()
        .for_each(|(g, dst)| {
            for (i, row) in x.chunks_exact(c).enumerate() {
                let at = (padding + i) * cg;
                dst[at..at + cg].copy_from_slice(&row[g * cg..(g + 1) * cg]);
            }
        });
    let out_ptr = SendPtr(out.as_mut_ptr());
    let out_len = out.len();
    (0..groups).into_par_iter().for_each(|g| {
        let src = &xg[g * padded * cg..(g + 1) * padded * cg];
        let windows = MatRef::strided(src, 0, (t, k * cg), (cg, 1));
        let w = MatRef::rows(&weight[g * cg * k * cg..(g + 1) * cg * k * cg], cg, k * cg).t();
        // SAFETY: group g writes columns g·cg..(g+1)·cg of every row of `out` (bounds
        // checked by the callee against `out_len`); groups are disjoint, and `out` stays
        // borrowed mutably until every task has finished.
        unsafe {
            matmul_raw_dst(
                out_ptr.get(),
                out_len,
                g * cg,
                (t, cg),
                c,
                windows,
                w,
                Threads::One,
            );
        }
    });
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only for the disjoint per-group writes described at the use site.
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

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 7919 % 997) as f32 / 997.0) - 0.5)
            .collect()
    }

    #[test]
    fn strided_conv_matches_the_definition() {
        let (t_in, c_in, c_out, k, s) = (23, 3, 4, 3, 2);
        let x = values(t_in * c_in, 1);
        let w = values(c_out * c_in * k, 2); // PyTorch layout
        let t_out = out_frames(t_in, k, s);
        let mut out = vec![0f32; t_out * c_out];
        conv1d(
            &mut out,
            false,
            &x,
            c_in,
            &kernel_major(&w, c_out, c_in, k),
            k,
            s,
        );
        for t in 0..t_out {
            for o in 0..c_out {
                let mut want = 0f64;
                for c in 0..c_in {
                    for j in 0..k {
                        want += f64::from(w[(o * c_in + c) * k + j])
                            * f64::from(x[(t * s + j) * c_in + c]);
                    }
                }
                assert!((f64::from(out[t * c_out + o]) - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn grouped_same_conv_matches_the_definition() {
        let (t, c, groups, k, pad) = (9, 6, 3, 4, 2);
        let cg = c / groups;
        let x = values(t * c, 3);
        let w = values(c * cg * k, 4); // [c, cg, k]
        let mut out = vec![0f32; t * c];
        grouped_conv1d_same(&mut out, &x, c, groups, &kernel_major(&w, c, cg, k), k, pad);
        for tt in 0..t {
            for o in 0..c {
                let g = o / cg;
                let mut want = 0f64;
                for j in 0..k {
                    let src = tt as isize + j as isize - pad as isize;
                    if src < 0 || src >= t as isize {
                        continue;
                    }
                    for ci in 0..cg {
                        want += f64::from(w[(o * cg + ci) * k + j])
                            * f64::from(x[src as usize * c + g * cg + ci]);
                    }
                }
                assert!((f64::from(out[tt * c + o]) - want).abs() < 1e-5, "{tt} {o}");
            }
        }
    }
}
