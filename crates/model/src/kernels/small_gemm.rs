//! Products with few rows — a short segment's linear layers, `x [m, k] · W [k, n]` with `m` a
//! few dozen positions and the weight stored `[in, out]` as the forward keeps it.
//!
//! Why: the `gemm` crate packs the weight into blocks for every product and splits the work
//! in ways tuned for large products; with few rows the packing costs as much as the product.
//! Measured on the project's 2-core AVX-512 machines with the weights cycled through memory
//! as in a forward pass (`docs/performance.md`), a 24-row product of BERT-base's shapes ran at
//! 42-54 GFLOP/s through `gemm` and 80-90 here, a 96-row one at 90-134 against 150-185; from
//! 100 rows on `gemm` is as fast or faster and keeps them.
//!
//! How: each task owns a range of output columns. It walks `k` in blocks of [`KB`] weight
//! rows; for every block, every tile of [`MR`] rows of `x` sweeps the task's columns 64 at a
//! time (four 16-lane registers), `MR x 64` sums held in registers over the block. The
//! weight block a task touches (`KB` rows of its columns) stays in L1/L2 while all the rows of
//! `x` pass over it, and is read in place, row after row: nothing is packed or copied.

use super::gemm::{MatMut, MatRef, Threads};

/// Rows of `x` per register tile.
const MR: usize = 6;
/// Output columns per register tile (four 16-lane registers).
const NR: usize = 64;
/// Weight rows per block (the `k` step between loads and stores of the sums).
const KB: usize = 64;
/// The widest column range one task owns.
const TASK_COLS: usize = 384;

/// Whether `dst = a · b` goes through this kernel: at most 96 rows, `k >= 256` (a linear
/// layer, not an attention product), a multiple of 64 output columns, `a`'s rows and `b`'s
/// rows contiguous (activations times an `[in, out]` weight), no scaling, and a CPU with
/// AVX-512 — the shapes where it measured faster than `gemm`.
pub(crate) fn applies(m: usize, n: usize, a: &MatRef<'_>, b: &MatRef<'_>, scale: f32) -> bool {
    m <= 96
        && a.cols >= 256
        && n.is_multiple_of(NR)
        && a.col_stride == 1
        && b.col_stride == 1
        && scale == 1.0
        && avx512()
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512() -> bool {
    false
}

/// `dst = (accumulate ? dst : 0) + a · b` for a shape [`applies`] accepted. The views were
/// bounds-checked by the caller.
pub(crate) fn matmul(
    dst: MatMut<'_>,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    threads: Threads,
) {
    #[cfg(target_arch = "x86_64")]
    {
        use rayon::prelude::*;
        let pool = match threads {
            Threads::Pool => rayon::current_num_threads().max(1),
            Threads::One => 1,
        };
        let (m, n, k) = (dst.rows, dst.cols, a.cols);
        // At most TASK_COLS columns per task, and at least one task per thread.
        let per_thread = n.div_ceil(pool).div_ceil(NR) * NR;
        let task_cols = per_thread.clamp(NR, TASK_COLS);
        let p = Product {
            out: dst.data.as_mut_ptr().wrapping_add(dst.offset),
            ldo: dst.row_stride,
            x: a.data.as_ptr().wrapping_add(a.offset),
            ldx: a.row_stride,
            w: b.data.as_ptr().wrapping_add(b.offset),
            ldw: b.row_stride,
            m,
            n,
            k,
            accumulate,
        };
        let tasks = n.div_ceil(task_cols);
        // SAFETY (both arms): `applies` checked AVX-512; the caller checked that every
        // element of the three views lies inside its slice; `dst` is borrowed mutably, so
        // nothing else reads or writes it, and the tasks write disjoint column ranges.
        if pool > 1 && tasks > 1 {
            (0..tasks)
                .into_par_iter()
                .for_each(|t| unsafe { p.columns(t * task_cols, task_cols) });
        } else {
            unsafe { p.columns(0, n) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dst, accumulate, a, b, threads);
        unreachable!("small_gemm::applies is false off x86-64");
    }
}

/// One product's raw operands, shared by the column tasks.
#[cfg(target_arch = "x86_64")]
struct Product {
    out: *mut f32,
    ldo: usize,
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
}

// SAFETY: the pointers are only dereferenced inside `columns`, whose callers give each task
// its own columns of `out`; `x` and `w` are only read.
#[cfg(target_arch = "x86_64")]
unsafe impl Sync for Product {}

#[cfg(target_arch = "x86_64")]
impl Product {
    /// Output columns `c0..c0 + cols` (clipped to `n`; `c0` and `n` multiples of [`NR`]),
    /// every row.
    ///
    /// # Safety
    /// AVX-512F is available, the views are in bounds, and no other thread touches these
    /// columns of `out`.
    unsafe fn columns(&self, c0: usize, cols: usize) {
        let c1 = (c0 + cols).min(self.n);
        let mut k0 = 0;
        while k0 < self.k {
            let kb = KB.min(self.k - k0);
            let load = self.accumulate || k0 > 0;
            let mut i = 0;
            while i < self.m {
                let mr = MR.min(self.m - i);
                let mut j = c0;
                while j < c1 {
                    tile(
                        self.out.add(i * self.ldo + j),
                        self.ldo,
                        self.x.add(i * self.ldx + k0),
                        self.ldx,
                        self.w.add(k0 * self.ldw + j),
                        self.ldw,
                        kb,
                        mr,
                        load,
                    );
                    j += NR;
                }
                i += MR;
            }
            k0 += KB;
        }
    }
}

/// `c[0..mr, 0..64] = (load ? c : 0) + x[0..mr, 0..kb] · w[0..kb, 0..64]`, the sums in
/// registers (`mr <= MR`).
///
/// # Safety
/// As for [`Product::columns`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    c: *mut f32,
    ldc: usize,
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    kb: usize,
    mr: usize,
    load: bool,
) {
    use std::arch::x86_64::*;
    const V: usize = NR / 16;
    let mut acc = [[_mm512_setzero_ps(); V]; MR];
    if load {
        for (r, row) in acc.iter_mut().enumerate() {
            if r < mr {
                for (v, a) in row.iter_mut().enumerate() {
                    *a = _mm512_loadu_ps(c.add(r * ldc + v * 16));
                }
            }
        }
    }
    for kk in 0..kb {
        let mut wv = [_mm512_setzero_ps(); V];
        for (v, wr) in wv.iter_mut().enumerate() {
            *wr = _mm512_loadu_ps(w.add(kk * ldw + v * 16));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            if r < mr {
                let xv = _mm512_set1_ps(*x.add(r * ldx + kk));
                for (a, &wr) in row.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(xv, wr, *a);
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        if r < mr {
            for (v, &a) in row.iter().enumerate() {
                _mm512_storeu_ps(c.add(r * ldc + v * 16), a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm::tests::values;
    use super::super::gemm::{matmul, MatMut, MatRef, Threads};

    #[test]
    fn few_row_products_match_a_naive_product_at_every_edge() {
        // Row counts that leave partial register tiles, `k` that leaves a partial block,
        // column counts that leave a partial task; strided rows in all three; accumulation.
        for &(m, n, k) in &[
            (1, 64, 256),
            (5, 128, 300),
            (13, 448, 257),
            (24, 768, 768),
            (95, 192, 512),
        ] {
            let (ldx, ldw) = (k + 16, n + 64);
            let x = values(m * ldx, 1);
            let w = values(k * ldw, 2);
            let a = MatRef::strided(&x, 0, (m, k), (ldx, 1));
            let b = MatRef::strided(&w, 0, (k, n), (ldw, 1));
            assert!(super::applies(m, n, &a, &b, 1.0) || !super::avx512());
            let want: Vec<f64> = (0..m * n)
                .map(|e| {
                    let (i, j) = (e / n, e % n);
                    (0..k)
                        .map(|t| f64::from(x[i * ldx + t]) * f64::from(w[t * ldw + j]))
                        .sum()
                })
                .collect();
            for threads in [Threads::One, Threads::Pool] {
                let width = n + 3;
                let mut out = vec![2f32; m * width];
                matmul(
                    MatMut::columns(&mut out, m, width, 1, n),
                    true,
                    a,
                    b,
                    1.0,
                    threads,
                );
                for i in 0..m {
                    for j in 0..width {
                        let got = f64::from(out[i * width + j]);
                        if (1..=n).contains(&j) {
                            let w = 2.0 + want[i * n + j - 1];
                            assert!((got - w).abs() < 1e-4, "({m}, {n}, {k}) at ({i}, {j})");
                        } else {
                            assert_eq!(got, 2.0, "untouched column");
                        }
                    }
                }
                let mut out = vec![9f32; m * n];
                matmul(MatMut::rows(&mut out, m, n), false, a, b, 1.0, threads);
                for (g, w) in out.iter().zip(&want) {
                    assert!((f64::from(*g) - w).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn shapes_outside_the_measured_range_stay_on_gemm() {
        let x = vec![0f32; 512 * 768];
        let w = vec![0f32; 3072 * 768];
        let b = MatRef::rows(&w, 768, 3072);
        let x_rows = |m, k| MatRef::rows(&x, m, k);
        let refused = [
            // More rows than the kernel measured faster on.
            (128, 3072, x_rows(128, 768), b, 1.0),
            // An attention product (k = 64), a width that is not a multiple of 64, a scale.
            (24, 64, x_rows(24, 64), MatRef::rows(&w, 64, 64), 1.0),
            (24, 100, x_rows(24, 768), MatRef::rows(&w, 768, 100), 1.0),
            (24, 3072, x_rows(24, 768), b, 0.5),
            // A weight stored `[out, in]` (rows of `b` not contiguous).
            (
                24,
                3072,
                x_rows(24, 768),
                MatRef::rows(&w, 3072, 768).t(),
                1.0,
            ),
        ];
        for (m, n, a, b, scale) in refused {
            assert!(
                !super::applies(m, n, &a, &b, scale),
                "({m}, {n}) scale {scale}"
            );
        }
    }
}
