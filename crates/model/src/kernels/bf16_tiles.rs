//! Products on the CPU's bf16 matrix tiles (Intel AMX-BF16): `out (+)= x · Wᵀ` with the
//! weight `W` `[out, in]` held in bfloat16 and the activations rounded to bfloat16 per
//! product, summed in f32.
//!
//! Why: the f32 products run at the machine's FMA limit (`docs/performance.md`). The tile unit
//! multiplies a `16 x 32` bf16 tile by a `32 x 16` one into 16 x 16 f32 sums in one
//! instruction, about sixteen times the f32 FMA rate per core, and the sums stay in tile
//! registers for the whole of `k`, so nothing but loads competes with it. It is used for the
//! reduced-precision models (`f16`, `bf16`, `q8_0`, ... from `clamp3 quantize`), whose
//! weights are not f32 anyway: see `docs/quantize.md` for what it does to their embeddings.
//!
//! How: [`TileWeight::pack`] rearranges the weight once, at load, into the tile unit's layout
//! (for every 16 output columns and 32 inputs, a `16 x 64`-byte tile holding two
//! consecutive inputs of each column side by side), `k` padded with zeros to a multiple of
//! 32. A product rounds `x` to bf16 once (rows padded with zeros to a multiple of 32); each
//! task owns a range of 32-column strips and, for every block of [`KC`] inputs, every
//! 32-row tile of `x` and strip, loads four 16 x 16 sums (from `out`, or zero), runs the
//! block's 32-input steps through `TDPBF16PS` and stores them back. The weight block of a
//! task's strips stays in L2 while the rows pass over it, the activation block in L1.
//!
//! Used only on x86-64 CPUs with AMX-BF16 and AVX-512 where the kernel (Linux) grants the
//! process the tile state ([`available`]); everywhere else the caller keeps its other paths.

use super::gemm::{MatMut, MatRef, Threads};
use super::pool::Buffer;

/// Inputs per tile step (one bf16 tile row is 32 values).
const STEP: usize = 32;
/// Output columns per tile.
const COLS: usize = 16;
/// Rows of `x` per tile.
const ROWS: usize = 16;
/// Inputs per cache block (`KC / STEP` tile steps between loads and stores of the sums).
const KC: usize = 1024;
/// bf16 values of one packed weight tile.
const TILE_VALUES: usize = STEP * COLS;

/// Why a weight cannot be packed for the tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The output width is not a multiple of 32 (two tiles' columns).
    #[error("{0} output columns is not a multiple of 32")]
    Columns(usize),
    /// The values are not `out · in`.
    #[error("{got} values for a [{out}, {inp}] weight")]
    Size {
        /// Output columns.
        out: usize,
        /// Inputs.
        inp: usize,
        /// Values given.
        got: usize,
    },
}

/// One 64-byte-aligned weight tile.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Tile([u16; TILE_VALUES]);

/// A weight `[out, in]` in bf16, rearranged for the tile unit (see the module docs).
#[derive(Clone)]
pub struct TileWeight {
    inputs: usize,
    outputs: usize,
    /// `inputs` rounded up to a multiple of [`STEP`], over `STEP`.
    steps: usize,
    /// Tile `(strip, step)` at `strip · steps + step`: row `i < 16`, values `2c, 2c + 1` hold
    /// inputs `32 · step + 2i, + 1` of column `16 · strip + c`.
    tiles: Vec<Tile>,
}

impl std::fmt::Debug for TileWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileWeight")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

/// `v` rounded to the nearest bfloat16 (ties to even), as its bits; a NaN stays a (quiet) NaN.
#[inline(always)]
pub fn bf16_bits(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return ((b >> 16) as u16) | 0x0040;
    }
    (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

impl TileWeight {
    /// Rounds a row-major `[outputs, inputs]` f32 weight to bf16 and rearranges it.
    pub fn pack(w: &[f32], outputs: usize, inputs: usize) -> Result<Self, PackError> {
        if !outputs.is_multiple_of(2 * COLS) {
            return Err(PackError::Columns(outputs));
        }
        if w.len() != outputs * inputs {
            return Err(PackError::Size {
                out: outputs,
                inp: inputs,
                got: w.len(),
            });
        }
        let steps = inputs.div_ceil(STEP);
        let strips = outputs / COLS;
        let mut tiles = vec![Tile([0; TILE_VALUES]); strips * steps];
        for (col, row) in w.chunks_exact(inputs.max(1)).enumerate().take(outputs) {
            let (strip, c) = (col / COLS, col % COLS);
            for (i, &v) in row.iter().enumerate() {
                let (step, j) = (i / STEP, i % STEP);
                tiles[strip * steps + step].0[(j / 2) * 2 * COLS + 2 * c + j % 2] = bf16_bits(v);
            }
        }
        Ok(TileWeight {
            inputs,
            outputs,
            steps,
            tiles,
        })
    }

    /// Inputs (`in`).
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Outputs (`out`).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.tiles.len() * TILE_VALUES * 2
    }

    /// `out = (accumulate ? out : 0) + x · Wᵀ` for `x` `[rows, in]` (contiguous columns) and
    /// `out` `[rows, out]`, with `x` rounded to bf16 and the sums in f32. Call only when
    /// [`available`] is true.
    ///
    /// Panics on shapes that disagree (a programming error: callers size the views from the
    /// weight's shape) or when the tiles are not [`available`].
    pub fn product(&self, out: MatMut<'_>, accumulate: bool, x: MatRef<'_>, threads: Threads) {
        assert!(available(), "bf16 tile product on a CPU without it");
        assert!(
            x.cols == self.inputs && out.cols == self.outputs && out.rows == x.rows,
            "bf16 tile product: shapes"
        );
        assert!(x.col_stride == 1, "bf16 tile product: contiguous columns");
        assert!(
            (x.rows == 0 || x.cols == 0 || x.in_bounds()) && out.in_bounds(),
            "bf16 tile product: views inside their slices"
        );
        let m = x.rows;
        if m == 0 || self.outputs == 0 {
            return;
        }
        if self.inputs == 0 {
            // An empty sum.
            if !accumulate {
                let MatMut {
                    data,
                    offset,
                    row_stride,
                    cols,
                    ..
                } = out;
                for r in 0..m {
                    data[offset + r * row_stride..][..cols].fill(0.0);
                }
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        self.run(out, accumulate, x, threads);
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (out, accumulate, x, threads);
    }

    #[cfg(target_arch = "x86_64")]
    fn run(&self, out: MatMut<'_>, accumulate: bool, x: MatRef<'_>, threads: Threads) {
        use rayon::prelude::*;
        let m = x.rows;
        let kp = self.steps * STEP;
        let padded = m.div_ceil(2 * ROWS) * 2 * ROWS;
        // The bf16 activations live in a pooled f32 buffer viewed as u16 (no fresh pages per
        // product).
        let mut abuf = Buffer::take((padded * kp).div_ceil(2));
        let a = {
            let v = abuf.get((padded * kp).div_ceil(2));
            // SAFETY: an f32 slice's memory viewed as u16 (no invalid values, alignment 2
            // <= 4); `v` is not used otherwise while this view lives.
            unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u16>(), padded * kp) }
        };
        round_rows(x, a, kp, threads);
        a[m * kp..].fill(0);

        let pool = match threads {
            Threads::Pool => rayon::current_num_threads().max(1),
            Threads::One => 1,
        };
        let pairs = self.outputs / (2 * COLS);
        let per_task = pairs.div_ceil(pool);
        let tasks = pairs.div_ceil(per_task);
        let p = Product {
            w: self,
            a: a.as_ptr(),
            rows: m,
            out: out.data.as_mut_ptr().wrapping_add(out.offset),
            ldo: out.row_stride,
            accumulate,
        };
        // SAFETY (both arms): `available` checked AMX-BF16, AVX-512 and the tile permission;
        // the asserts in `product` keep every row of `out` inside its slice; `a` holds
        // `padded` rows of `kp` values; tasks write disjoint column strips of `out`, which is
        // borrowed mutably for the call.
        if tasks > 1 {
            (0..tasks)
                .into_par_iter()
                .for_each(|t| unsafe { p.pairs(t * per_task, ((t + 1) * per_task).min(pairs)) });
        } else {
            unsafe { p.pairs(0, pairs) }
        }
    }
}

/// Rounds each row of `x` to bf16 into `a` (`[rows, kp]`, the columns past `x.cols` zero).
fn round_rows(x: MatRef<'_>, a: &mut [u16], kp: usize, threads: Threads) {
    use rayon::prelude::*;
    let (m, k) = (x.rows, x.cols);
    let row = |r: usize, dst: &mut [u16]| {
        let start = x.offset + r * x.row_stride;
        round_row(&x.data[start..start + k], dst);
    };
    let a = &mut a[..m * kp];
    match threads {
        Threads::Pool if m >= 16 => a
            .par_chunks_mut(kp)
            .enumerate()
            .with_min_len(8)
            .for_each(|(r, dst)| row(r, dst)),
        _ => a
            .chunks_mut(kp)
            .enumerate()
            .for_each(|(r, dst)| row(r, dst)),
    }
}

simd_fn! {
    /// One row of [`round_rows`].
    fn round_row(x: &[f32], dst: &mut [u16]) {
        let (head, tail) = dst.split_at_mut(x.len());
        for (d, &v) in head.iter_mut().zip(x) {
            *d = bf16_bits(v);
        }
        tail.fill(0);
    }
}

/// Whether the tile products can run here: an x86-64 CPU with AMX-TILE, AMX-BF16 and
/// AVX-512F, and a kernel that grants this process the tile state (Linux asks each process
/// to request it; the request is made once, on the first call).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid_count;
    if !std::is_x86_feature_detected!("avx512f") {
        return false;
    }
    // SAFETY: CPUID leaf 7 exists on every x86-64 CPU with AVX-512 (the intrinsic is safe
    // from Rust 1.94 on, unsafe before).
    #[allow(unused_unsafe)]
    let leaf7 = unsafe { __cpuid_count(7, 0) };
    let (amx_bf16, amx_tile) = (leaf7.edx & (1 << 22) != 0, leaf7.edx & (1 << 24) != 0);
    if !(amx_tile && amx_bf16) {
        return false;
    }
    /// `arch_prctl` request for permission to use an extended state component.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    /// The tile data state component.
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain system call with integer arguments; it changes only this process's
    // permitted register state (granting the tiles) or fails.
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    r == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// One product's operands, shared by the column tasks.
#[cfg(target_arch = "x86_64")]
struct Product<'w> {
    w: &'w TileWeight,
    /// `x` in bf16, `[padded rows, steps · 32]`.
    a: *const u16,
    rows: usize,
    out: *mut f32,
    ldo: usize,
    accumulate: bool,
}

// SAFETY: the pointers are only dereferenced inside `pairs`, whose callers give each task
// its own column strips of `out`; `a` is only read.
#[cfg(target_arch = "x86_64")]
unsafe impl Sync for Product<'_> {}

/// The tile configuration: `tmm0..tmm3` f32 sums (16 x 16: rows 0-15 and 16-31 of two
/// strips), `tmm4`, `tmm5` activation tiles (16 rows x 32 bf16), `tmm6`, `tmm7` weight tiles
/// (16 rows of 16 pairs).
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

#[cfg(target_arch = "x86_64")]
impl TileConfig {
    fn new() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1; // palette 1
        for tmm in 0..8 {
            c[16 + 2 * tmm..18 + 2 * tmm].copy_from_slice(&64u16.to_le_bytes());
            c[48 + tmm] = ROWS as u8;
        }
        TileConfig(c)
    }
}

#[cfg(target_arch = "x86_64")]
impl Product<'_> {
    /// Strip pairs `first..end` (columns `32 · first .. 32 · end`) for every row.
    ///
    /// # Safety
    /// As in [`TileWeight::run`]: AMX-BF16 present and permitted, operands sized as
    /// described on the fields, no other task writing these columns.
    unsafe fn pairs(&self, first: usize, end: usize) {
        use std::arch::asm;
        let w = self.w;
        let (steps, kp) = (w.steps, w.steps * STEP);
        let cols = (end - first) * 2 * COLS;
        let full = self.rows / (2 * ROWS);
        let tail_rows = self.rows - full * 2 * ROWS;
        // The last, partial pair of row tiles sums into its own 32-row buffer (the tiles
        // always load and store 16 whole rows), copied into `out` at the end.
        let mut edge = Buffer::new();
        let mut edge = if tail_rows > 0 {
            let e = edge.get(2 * ROWS * cols);
            e.fill(0.0);
            if self.accumulate {
                for r in 0..tail_rows {
                    // SAFETY: row `full · 32 + r` < rows, columns of this task's strips.
                    let src = unsafe {
                        std::slice::from_raw_parts(
                            self.out
                                .add((full * 2 * ROWS + r) * self.ldo + first * 2 * COLS),
                            cols,
                        )
                    };
                    e[r * cols..(r + 1) * cols].copy_from_slice(src);
                }
            }
            Some(e)
        } else {
            None
        };
        let edge_ptr = edge.as_mut().map(|e| e.as_mut_ptr());
        let cfg = TileConfig::new();
        // SAFETY: a valid palette-1 configuration; the tile state is permitted.
        unsafe { asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly)) };
        let row_pairs = full + usize::from(tail_rows > 0);
        for s0 in (0..steps).step_by(KC / STEP) {
            let s1 = (s0 + KC / STEP).min(steps);
            for rp in 0..row_pairs {
                // Where this row pair's sums live, and their row stride in bytes.
                let (c, ldc, load) = match edge_ptr {
                    Some(e) if rp == full => (e, cols, true),
                    _ => (
                        // SAFETY: row `rp · 32` < rows (a full pair), the task's columns.
                        unsafe { self.out.add(rp * 2 * ROWS * self.ldo + first * 2 * COLS) },
                        self.ldo,
                        self.accumulate || s0 > 0,
                    ),
                };
                // SAFETY: 32 rows of `kp` values from row `rp · 32` lie inside `a`.
                let a0 = unsafe { self.a.add(rp * 2 * ROWS * kp) };
                for pair in 0..end - first {
                    // SAFETY: the sums' four tiles are 16 rows x 16 values at `c` + 16 rows
                    // and/or 16 columns, inside `out` (full pairs) or `edge`; the activation
                    // tiles 16 rows x 32 values of `a`; the weight tiles packed tiles of `w`.
                    unsafe {
                        let c00 = c.add(pair * 2 * COLS);
                        let c01 = c00.add(COLS);
                        let c10 = c00.add(ROWS * ldc);
                        let c11 = c10.add(COLS);
                        let ldc_b = ldc * 4;
                        if load {
                            asm!(
                                "tileloadd tmm0, [{c00} + {ld} * 1]",
                                "tileloadd tmm1, [{c01} + {ld} * 1]",
                                "tileloadd tmm2, [{c10} + {ld} * 1]",
                                "tileloadd tmm3, [{c11} + {ld} * 1]",
                                c00 = in(reg) c00, c01 = in(reg) c01,
                                c10 = in(reg) c10, c11 = in(reg) c11,
                                ld = in(reg) ldc_b,
                                options(nostack, readonly),
                            );
                        } else {
                            asm!(
                                "tilezero tmm0",
                                "tilezero tmm1",
                                "tilezero tmm2",
                                "tilezero tmm3",
                                options(nostack, nomem),
                            );
                        }
                        let strip = 2 * (first + pair);
                        let b0 = w.tiles.as_ptr().add(strip * steps);
                        let b1 = w.tiles.as_ptr().add((strip + 1) * steps);
                        for s in s0..s1 {
                            asm!(
                                "tileloadd tmm4, [{a0} + {lda} * 1]",
                                "tileloadd tmm5, [{a1} + {lda} * 1]",
                                "tileloadd tmm6, [{b0} + {ldb} * 1]",
                                "tileloadd tmm7, [{b1} + {ldb} * 1]",
                                "tdpbf16ps tmm0, tmm4, tmm6",
                                "tdpbf16ps tmm1, tmm4, tmm7",
                                "tdpbf16ps tmm2, tmm5, tmm6",
                                "tdpbf16ps tmm3, tmm5, tmm7",
                                a0 = in(reg) a0.add(s * STEP),
                                a1 = in(reg) a0.add(ROWS * kp + s * STEP),
                                lda = in(reg) kp * 2,
                                b0 = in(reg) b0.add(s).cast::<u16>(),
                                b1 = in(reg) b1.add(s).cast::<u16>(),
                                ldb = in(reg) 4 * COLS,
                                options(nostack, readonly),
                            );
                        }
                        asm!(
                            "tilestored [{c00} + {ld} * 1], tmm0",
                            "tilestored [{c01} + {ld} * 1], tmm1",
                            "tilestored [{c10} + {ld} * 1], tmm2",
                            "tilestored [{c11} + {ld} * 1], tmm3",
                            c00 = in(reg) c00, c01 = in(reg) c01,
                            c10 = in(reg) c10, c11 = in(reg) c11,
                            ld = in(reg) ldc_b,
                            options(nostack),
                        );
                    }
                }
            }
        }
        // SAFETY: releases the tile state configured above.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
        if let Some(e) = edge {
            for r in 0..tail_rows {
                // SAFETY: row `full · 32 + r` < rows, columns of this task's strips; only
                // this task writes them.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        self.out
                            .add((full * 2 * ROWS + r) * self.ldo + first * 2 * COLS),
                        cols,
                    )
                };
                dst.copy_from_slice(&e[r * cols..(r + 1) * cols]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bf16(v: f32) -> f64 {
        f32::from_bits((bf16_bits(v) as u32) << 16) as f64
    }

    /// Deterministic values in [-1, 1) with some larger outliers.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let v = (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                if i % 97 == 0 {
                    8.0 * v
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn an_empty_sum_is_zero_and_nan_stays_nan() {
        assert!(f32::from_bits((bf16_bits(f32::NAN) as u32) << 16).is_nan());
        assert!(f32::from_bits((bf16_bits(f32::from_bits(0x7fff_ffff)) as u32) << 16).is_nan());
        assert!(f32::from_bits((bf16_bits(f32::from_bits(0x7f80_0001)) as u32) << 16).is_nan());
        assert_eq!(bf16_bits(f32::INFINITY), 0x7f80);
        if !available() {
            return;
        }
        let w = TileWeight::pack(&[], 32, 0).expect("packs");
        let mut out = vec![1f32; 3 * 32];
        w.product(
            MatMut::rows(&mut out, 3, 32),
            false,
            MatRef::rows(&[], 3, 0),
            Threads::One,
        );
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn rounding_to_bf16_is_to_nearest_even() {
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even (1).
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: to the even (1 + 2^-6).
        assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0 + 1e-6), 0x3f81);
        assert_eq!(bf16_bits(-2.0), 0xc000);
        assert_eq!(bf16_bits(0.0), 0);
    }

    #[test]
    fn tile_products_match_the_bf16_products_summed_exactly() {
        if !available() {
            eprintln!("skipped: no AMX-BF16 tiles on this CPU or kernel");
            return;
        }
        let _lock = super::super::pool::TEST_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Rows below, at and above one and two tiles; `k` below, at and not a multiple of
        // 32 and over one cache block; one strip pair and several (split over tasks);
        // accumulate and not; a row stride wider than the row and an output window inside a
        // wider matrix.
        for &(m, n, k) in &[
            (1, 32, 32),
            (5, 64, 40),
            (16, 32, 64),
            (33, 96, 160),
            (64, 128, 768),
            (70, 64, 1100),
        ] {
            for threads in [Threads::One, Threads::Pool] {
                for accumulate in [false, true] {
                    let w = values(n * k, (m * n + k) as u64);
                    let packed = TileWeight::pack(&w, n, k).expect("packs");
                    let ldx = k + 8;
                    let xs = values(m * ldx, 7 + m as u64);
                    let x = MatRef::strided(&xs, 3, (m, k), (ldx, 1));
                    let ldo = n + 16;
                    let start = values(m * ldo, 99);
                    let mut out = start.clone();
                    packed.product(
                        MatMut::columns(&mut out, m, ldo, 16, n),
                        accumulate,
                        x,
                        threads,
                    );
                    for r in 0..m {
                        for c in 0..ldo {
                            let got = out[r * ldo + c] as f64;
                            let before = start[r * ldo + c] as f64;
                            if !(16..16 + n).contains(&c) {
                                assert_eq!(got, before, "({r}, {c}) outside the window");
                                continue;
                            }
                            let (mut want, mut mag) = (0f64, 0f64);
                            for i in 0..k {
                                let t = bf16(xs[3 + r * ldx + i]) * bf16(w[(c - 16) * k + i]);
                                want += t;
                                mag += t.abs();
                            }
                            if accumulate {
                                want += before;
                                mag += before.abs();
                            }
                            assert!(
                                (got - want).abs() <= 1e-5 * (1.0 + mag),
                                "m {m} n {n} k {k} acc {accumulate} ({r}, {c}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn weights_that_do_not_fit_the_tiles_are_refused() {
        assert_eq!(
            TileWeight::pack(&[0.0; 16], 16, 1).unwrap_err(),
            PackError::Columns(16)
        );
        assert_eq!(
            TileWeight::pack(&[0.0; 31], 32, 1).unwrap_err(),
            PackError::Size {
                out: 32,
                inp: 1,
                got: 31
            }
        );
    }
}
