//! Whole-track normalisation statistics, bit-for-bit as transformers 4.40's
//! `Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm` computes them with numpy 1.26 on a float32
//! array (docs/reference.md §5.6 step 5):
//!
//! ```text
//! normed = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
//! ```
//!
//! numpy's float32 `sum` runs through the ufunc machinery in buffers of 8192 elements (the default
//! `np.getbufsize()`): `acc = 0; for each 8192-chunk: acc = acc + pairwise_sum(chunk)`. The
//! pairwise summation (`pairwise_sum` in `loops_utils.h`) sums blocks of at most 128 values with
//! 8 interleaved float32 accumulators and splits larger ranges at `n/2` rounded down to a
//! multiple of 8. Then
//!
//! * `mean = f32(f64(sum) / N)` (a float32 scalar divided by an int gives float64 in numpy 1.x);
//! * `var`: `arrmean = sum / f32(N)` in float32 (array ufunc, value-based casting), then
//!   `sum((x - arrmean)²)` pairwise in float32, then `f32(f64(ss) / N)`;
//! * `denominator = f32(sqrt(f64(var) + 1e-7))` (numpy float32 scalar + Python float is float64;
//!   dividing the float32 array by it casts it back to float32);
//! * `normed[i] = (x[i] - mean) / denominator` in float32.
//!
//! Everything here is exact given the same float32 input (tested against numpy in
//! `tests/stats.rs`, including a length above 2^24 where `f32(N)` rounds). [`NumpySum`] computes
//! the same sum over data arriving in pieces of any size (it buffers 8192 values), so a long track
//! can be normalised in bounded memory with identical results.

use crate::error::{AudioError, Result};

/// numpy's `PW_BLOCKSIZE`.
const BLOCK: usize = 128;

/// Sum of one leaf block (≤ 128 values), numpy order.
#[inline]
fn leaf_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0f32;
        for &x in a {
            res += x;
        }
        return res;
    }
    let mut r = [0.0f32; 8];
    r.copy_from_slice(&a[..8]);
    let full = n - n % 8;
    let mut i = 8;
    while i < full {
        for j in 0..8 {
            r[j] += a[i + j];
        }
        i += 8;
    }
    let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    while i < n {
        res += a[i];
        i += 1;
    }
    res
}

/// Where numpy splits a range of `n > 128` values.
#[inline]
fn split(n: usize) -> usize {
    let n2 = n / 2;
    n2 - n2 % 8
}

fn pairwise(a: &[f32]) -> f32 {
    if a.len() <= BLOCK {
        return leaf_sum(a);
    }
    let n2 = split(a.len());
    pairwise(&a[..n2]) + pairwise(&a[n2..])
}

/// numpy's reduction buffer size (`np.getbufsize()`, default 8192 elements).
pub const NUMPY_BUFSIZE: usize = 8192;

/// `np.sum` of a contiguous float32 array (see the module docs).
pub fn numpy_sum(a: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for chunk in a.chunks(NUMPY_BUFSIZE) {
        acc += pairwise(chunk);
    }
    acc
}

/// [`numpy_sum`] over values that arrive in pieces: push any slices, then [`NumpySum::finish`].
#[derive(Clone, Debug)]
pub struct NumpySum {
    acc: f32,
    buf: Vec<f32>,
    count: u64,
}

impl Default for NumpySum {
    fn default() -> Self {
        Self::new()
    }
}

impl NumpySum {
    /// An empty sum.
    pub fn new() -> Self {
        NumpySum {
            acc: 0.0,
            buf: Vec::with_capacity(NUMPY_BUFSIZE),
            count: 0,
        }
    }

    /// Adds values (in order).
    pub fn push(&mut self, mut x: &[f32]) {
        self.count += x.len() as u64;
        while !x.is_empty() {
            if self.buf.is_empty() && x.len() >= NUMPY_BUFSIZE {
                let (chunk, rest) = x.split_at(NUMPY_BUFSIZE);
                self.acc += pairwise(chunk);
                x = rest;
                continue;
            }
            let take = (NUMPY_BUFSIZE - self.buf.len()).min(x.len());
            self.buf.extend_from_slice(&x[..take]);
            x = &x[take..];
            if self.buf.len() == NUMPY_BUFSIZE {
                self.acc += pairwise(&self.buf);
                self.buf.clear();
            }
        }
    }

    /// Number of values pushed.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum.
    pub fn finish(&self) -> f32 {
        if self.buf.is_empty() {
            self.acc
        } else {
            self.acc + pairwise(&self.buf)
        }
    }
}

/// The whole-track statistics of the 24 kHz mono signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormStats {
    /// Number of samples N.
    pub len: u64,
    /// `x.mean()` as numpy returns it (float32).
    pub mean: f32,
    /// `x.var()` (population) as numpy returns it (float32).
    pub var: f32,
}

impl NormStats {
    /// Computes the statistics of a signal held in memory (numpy-exact).
    pub fn compute(x: &[f32]) -> Result<Self> {
        if x.is_empty() {
            return Err(AudioError::TooShort { samples: 0 });
        }
        let s = numpy_sum(x);
        let arrmean = arrmean_f32(s, x.len() as u64);
        let mut ss = 0.0f32;
        for chunk in x.chunks(NUMPY_BUFSIZE) {
            ss += pairwise_sq_dev(chunk, arrmean);
        }
        Ok(Self::from_sums(x.len() as u64, s, ss))
    }

    /// Builds the statistics from numpy's two float32 sums: `sum(x)` and
    /// `sum((x - arrmean)²)` with `arrmean` from [`NormStats::arrmean`] (see [`squared_deviations`]).
    pub fn from_sums(len: u64, sum: f32, sum_sq_dev: f32) -> Self {
        let n = len as f64;
        NormStats {
            len,
            mean: (f64::from(sum) / n) as f32,
            var: (f64::from(sum_sq_dev) / n) as f32,
        }
    }

    /// numpy's float32 mean used *inside* `var` (`true_divide(sum, N)` on a float32 array),
    /// which the squared deviations are taken from.
    pub fn arrmean(len: u64, sum: f32) -> f32 {
        arrmean_f32(sum, len)
    }

    /// `f32(sqrt(var + 1e-7))`, the divisor of the normalisation.
    pub fn denominator(&self) -> f32 {
        (f64::from(self.var) + 1e-7).sqrt() as f32
    }

    /// Appends the normalised values of `x` to `out`: `(x - mean) / denominator` in float32.
    pub fn normalize_into(&self, x: &[f32], out: &mut Vec<f32>) {
        let d = self.denominator();
        let m = self.mean;
        out.extend(x.iter().map(|&v| (v - m) / d));
    }

    /// Normalises `x` in place.
    pub fn normalize_in_place(&self, x: &mut [f32]) {
        let d = self.denominator();
        let m = self.mean;
        for v in x {
            *v = (*v - m) / d;
        }
    }
}

fn arrmean_f32(sum: f32, len: u64) -> f32 {
    // float32 array / intp scalar: the ufunc loop is float32, so N is cast to float32 first.
    sum / len as f32
}

/// `(x - arrmean)²` in float32, element by element (numpy's `arr - arrmean`, then `x * x`).
pub fn squared_deviations(x: &[f32], arrmean: f32, out: &mut Vec<f32>) {
    out.extend(x.iter().map(|&v| {
        let d = v - arrmean;
        d * d
    }));
}

/// Pairwise sum of squared deviations over one buffer chunk.
fn pairwise_sq_dev(x: &[f32], arrmean: f32) -> f32 {
    if x.len() <= BLOCK {
        let mut tmp = [0.0f32; BLOCK];
        for (t, &v) in tmp.iter_mut().zip(x) {
            let d = v - arrmean;
            *t = d * d;
        }
        return leaf_sum(&tmp[..x.len()]);
    }
    let n2 = split(x.len());
    pairwise_sq_dev(&x[..n2], arrmean) + pairwise_sq_dev(&x[n2..], arrmean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_sum_equals_slice_sum() {
        let x: Vec<f32> = (0..30_007)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.3)
            .collect();
        for step in [1usize, 7, 128, 8191, 8192, 10_000, 40_000] {
            let mut s = NumpySum::new();
            for c in x.chunks(step) {
                s.push(c);
            }
            assert_eq!(s.finish().to_bits(), numpy_sum(&x).to_bits(), "step {step}");
            assert_eq!(s.count(), x.len() as u64);
        }
    }

    #[test]
    fn small_sums_are_plain() {
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(numpy_sum(&[]), 0.0);
        let st = NormStats::compute(&[1.0, 3.0]).unwrap();
        assert_eq!((st.mean, st.var), (2.0, 1.0));
    }
}
