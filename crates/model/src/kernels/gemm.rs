//! Strided matrix views over `f32` slices and a bounds-checked wrapper around `gemm::gemm`
//! (the GEMM crate candle's CPU backend uses, called directly so that products can read
//! strided or overlapping rows and accumulate into existing buffers without copies).

/// A read-only `rows x cols` matrix inside `data`: element `(i, j)` is
/// `data[offset + i * row_stride + j * col_stride]`. Rows may overlap (a convolution's
/// windows).
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// The backing values.
    pub data: &'a [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// A general strided view.
    pub fn strided(
        data: &'a [f32],
        offset: usize,
        (rows, cols): (usize, usize),
        (row_stride, col_stride): (usize, usize),
    ) -> Self {
        MatRef {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The transpose (a view, no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn last_index(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return Some(self.offset);
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)?
            .checked_add((self.cols - 1).checked_mul(self.col_stride)?)?
            .checked_add(self.offset)
    }

    pub(crate) fn in_bounds(&self) -> bool {
        self.last_index().is_some_and(|i| i < self.data.len())
    }
}

/// A mutable `rows x cols` matrix inside `data`, rows `row_stride` apart, columns contiguous.
/// Distinct elements never alias (`row_stride >= cols`).
#[derive(Debug)]
pub struct MatMut<'a> {
    /// The backing values.
    pub data: &'a mut [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows (at least `cols`).
    pub row_stride: usize,
}

impl<'a> MatMut<'a> {
    /// A dense row-major matrix.
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols,
        }
    }

    /// Columns `col..col + cols` of every row of a dense `rows x width` matrix.
    pub fn columns(
        data: &'a mut [f32],
        rows: usize,
        width: usize,
        col: usize,
        cols: usize,
    ) -> Self {
        MatMut {
            data,
            offset: col,
            rows,
            cols,
            row_stride: width,
        }
    }

    pub(crate) fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        self.row_stride >= self.cols
            && (self.rows - 1)
                .checked_mul(self.row_stride)
                .and_then(|i| i.checked_add(self.offset + self.cols - 1))
                .is_some_and(|i| i < self.data.len())
    }
}

/// How many threads a product may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only (inside an already parallel loop).
    One,
    /// Every thread of the current rayon pool.
    Pool,
}

/// `dst = (accumulate ? dst : 0) + scale * (a · b)`.
///
/// Panics if the shapes disagree or a view reaches outside its slice (a programming error,
/// never input-dependent: callers size views from tensor shapes they checked).
pub fn matmul(
    dst: MatMut<'_>,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    threads: Threads,
) {
    assert!(
        a.rows == dst.rows && b.cols == dst.cols && a.cols == b.rows,
        "gemm: shapes [{}x{}] · [{}x{}] -> [{}x{}]",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        dst.rows,
        dst.cols
    );
    assert!(
        a.in_bounds() && b.in_bounds() && dst.in_bounds(),
        "gemm: view out of bounds"
    );
    let (m, n, k) = (dst.rows, dst.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                let r = dst.offset + i * dst.row_stride;
                dst.data[r..r + n].fill(0.0);
            }
        }
        return;
    }
    if super::small_gemm::applies(m, n, &a, &b, scale) {
        super::small_gemm::matmul(dst, accumulate, a, b, threads);
        return;
    }
    let pool = rayon::current_num_threads();
    if threads == Threads::Pool && pool > 1 && n / pool >= SPLIT_MIN_COLS {
        split_columns(dst, accumulate, a, b, scale, pool);
        return;
    }
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Pool if pool > 1 => gemm::Parallelism::Rayon(0),
        Threads::Pool => gemm::Parallelism::None,
    };
    // SAFETY: every element the product reads or writes lies inside the slices (checked
    // above); `dst` is borrowed mutably, so it does not alias `a` or `b`, and its rows do
    // not overlap (`row_stride >= cols`).
    unsafe {
        gemm_call(
            dst.data.as_mut_ptr().add(dst.offset),
            dst.row_stride,
            accumulate,
            a,
            b,
            scale,
            parallelism,
        );
    }
}

/// One `gemm` call: `dst (+)= scale · a · b` into the `a.rows x b.cols` block at `dst`, rows
/// `ldo` apart (accumulating when `accumulate`).
///
/// # Safety
/// `a` and `b` lie inside their slices; `dst` points to that block, writable, and nothing
/// else reads or writes the block during the call.
unsafe fn gemm_call(
    dst: *mut f32,
    ldo: usize,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    parallelism: gemm::Parallelism,
) {
    gemm::gemm(
        a.rows,
        b.cols,
        a.cols,
        dst,
        1,
        ldo as isize,
        accumulate,
        a.data.as_ptr().add(a.offset),
        a.col_stride as isize,
        a.row_stride as isize,
        b.data.as_ptr().add(b.offset),
        b.col_stride as isize,
        b.row_stride as isize,
        1.0,
        scale,
        false,
        false,
        false,
        parallelism,
    );
}

/// The fewest output columns per thread for which [`matmul`] splits a product by columns
/// itself instead of leaving the threads to `gemm`.
const SPLIT_MIN_COLS: usize = 256;

/// `dst (+)= scale · a · b` as one single-threaded `gemm` per thread, each on its own
/// contiguous range of output columns (a multiple of 16 wide). Measured on 2 threads with
/// the weights cycled through memory, this beat `gemm`'s own parallel split on every BERT
/// shape from 128 to 1,024 rows — most where the product has 768 output columns (128 rows:
/// 162-167 → 214-239 GFLOP/s; 374 rows, MERT's window: 226 → 262; 1,024 rows: 278 → 292) —
/// and tied on 3,072 columns: `gemm` splits few-column products poorly across threads.
fn split_columns(
    dst: MatMut<'_>,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    parts: usize,
) {
    use rayon::prelude::*;
    let n = dst.cols;
    let width = n.div_ceil(parts).div_ceil(16) * 16;
    /// The destination's base pointer, shared by the column tasks.
    struct Dst(*mut f32);
    // SAFETY: each task writes only its own columns of the destination (below).
    unsafe impl Sync for Dst {}
    impl Dst {
        fn column(&self, c: usize) -> *mut f32 {
            self.0.wrapping_add(c)
        }
    }
    let out = Dst(dst.data.as_mut_ptr().wrapping_add(dst.offset));
    let ldo = dst.row_stride;
    (0..n.div_ceil(width)).into_par_iter().for_each(|t| {
        let c0 = t * width;
        // Columns c0.. of `b` (a view inside `b`'s).
        let b_cols = MatRef {
            offset: b.offset + c0 * b.col_stride,
            cols: width.min(n - c0),
            ..b
        };
        // SAFETY: the views were bounds-checked by `matmul` and this task's block (every row,
        // its columns) lies inside them; `dst` was borrowed mutably, so nothing else reads or
        // writes it, and the tasks' column ranges are disjoint.
        unsafe {
            gemm_call(
                out.column(c0),
                ldo,
                accumulate,
                a,
                b_cols,
                scale,
                gemm::Parallelism::None,
            );
        }
    });
}

/// `dst = a · b` where `dst` is the `rows x cols` block at `dst_base + offset` with rows
/// `row_stride` apart, inside an allocation of `dst_len` values (bounds checked against it).
///
/// # Safety
/// `dst_base` must point to `dst_len` writable `f32`s that nothing reads or writes during
/// the call except through this block (other threads may write other, disjoint blocks).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_raw_dst(
    dst_base: *mut f32,
    dst_len: usize,
    offset: usize,
    (rows, cols): (usize, usize),
    row_stride: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    threads: Threads,
) {
    assert!(
        a.rows == rows && b.cols == cols && a.cols == b.rows,
        "gemm: shapes"
    );
    assert!(a.in_bounds() && b.in_bounds(), "gemm: view out of bounds");
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        row_stride >= cols && offset + (rows - 1) * row_stride + cols <= dst_len,
        "gemm: view out of bounds"
    );
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Pool => gemm::Parallelism::Rayon(0),
    };
    gemm_call(
        dst_base.add(offset),
        row_stride,
        false,
        a,
        b,
        1.0,
        parallelism,
    );
}

/// `out[n, o] = x[n, i] · w[o, i]ᵀ (+ out when accumulate)`: a linear layer's product with
/// PyTorch's `[out, in]` weight layout.
pub fn linear(out: MatMut<'_>, accumulate: bool, x: MatRef<'_>, w: &[f32], threads: Threads) {
    let (o, i) = (out.cols, x.cols);
    matmul(out, accumulate, x, MatRef::rows(w, o, i).t(), 1.0, threads);
}

/// The transpose of a row-major `rows x cols` matrix (row-major `cols x rows`), by 64 x 64
/// tiles, tiles of rows in parallel.
pub fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    use rayon::prelude::*;
    assert_eq!(src.len(), rows * cols, "transpose: size");
    const TILE: usize = 64;
    let mut out = vec![0f32; rows * cols];
    if rows == 0 || cols == 0 {
        return out;
    }
    // Output rows (= source columns) in blocks of TILE, each block written by one task.
    out.par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(cb, block)| {
            let c0 = cb * TILE;
            let nc = block.len() / rows;
            for r0 in (0..rows).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    let s = &src[r * cols + c0..r * cols + c0 + nc];
                    for (j, &v) in s.iter().enumerate() {
                        block[j * rows + r] = v;
                    }
                }
            }
        });
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn naive(a: &MatRef, b: &MatRef) -> Vec<f32> {
        let mut out = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0f64;
                for k in 0..a.cols {
                    s += f64::from(a.data[a.offset + i * a.row_stride + k * a.col_stride])
                        * f64::from(b.data[b.offset + k * b.row_stride + j * b.col_stride]);
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    /// Deterministic test values in [-0.5, 0.5).
    pub(in crate::kernels) fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                    / 16_777_216.0
                    - 0.5
            })
            .collect()
    }

    #[test]
    fn strided_overlapping_rows_and_accumulation_match_a_naive_product() {
        // Overlapping rows: row i starts at 2i and is 6 long (a stride-2, width-3 convolution
        // over 2 channels).
        let src = values(64, 1);
        let a = MatRef::strided(&src, 3, (10, 6), (4, 1));
        let w = values(6 * 5, 2);
        let b = MatRef::rows(&w, 5, 6).t();
        let want = naive(&a, &b);
        let mut buf = vec![1f32; 10 * 9];
        matmul(
            MatMut::columns(&mut buf, 10, 9, 2, 5),
            true,
            a,
            b,
            1.0,
            Threads::Pool,
        );
        for i in 0..10 {
            for j in 0..9 {
                let v = buf[i * 9 + j];
                if (2..7).contains(&j) {
                    assert!((v - 1.0 - want[i * 5 + j - 2]).abs() < 1e-5);
                } else {
                    assert_eq!(v, 1.0, "untouched column");
                }
            }
        }
        let mut out = vec![7f32; 50];
        matmul(
            MatMut::rows(&mut out, 10, 5),
            false,
            a,
            b,
            0.5,
            Threads::One,
        );
        for (g, w) in out.iter().zip(&want) {
            assert!((g - 0.5 * w).abs() < 1e-5);
        }
    }

    #[test]
    fn products_split_by_columns_over_threads_match_a_naive_product() {
        // 600 columns over 2 and 3 threads (300 and 200 per thread: split and not split),
        // a weight read transposed and one read as stored, into columns of a wider buffer.
        let (m, n, k) = (130, 600, 40);
        let x = values(m * k, 4);
        let w = values(n * k, 5);
        let a = MatRef::rows(&x, m, k);
        for b in [MatRef::rows(&w, n, k).t(), MatRef::rows(&w, k, n)] {
            let want = naive(&a, &b);
            for threads in [2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                let width = n + 7;
                let mut out = vec![1f32; m * width];
                pool.install(|| {
                    matmul(
                        MatMut::columns(&mut out, m, width, 3, n),
                        true,
                        a,
                        b,
                        2.0,
                        Threads::Pool,
                    )
                });
                for i in 0..m {
                    for j in 0..width {
                        let v = out[i * width + j];
                        if (3..3 + n).contains(&j) {
                            let w = 1.0 + 2.0 * want[i * n + j - 3];
                            assert!((v - w).abs() < 1e-4, "{threads} threads at ({i}, {j})");
                        } else {
                            assert_eq!(v, 1.0, "untouched column");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let (r, c) = (70, 131);
        let src = values(r * c, 3);
        let t = transpose(&src, r, c);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(t[j * r + i], src[i * c + j]);
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let src = vec![0f32; 10];
        let mut out = vec![0f32; 4];
        let a = MatRef::strided(&src, 0, (2, 6), (5, 1));
        let b = MatRef::rows(&src, 6, 1);
        matmul(MatMut::rows(&mut out, 2, 1), false, a, b, 1.0, Threads::One);
    }
}
