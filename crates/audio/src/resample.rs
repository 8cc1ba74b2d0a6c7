//! torchaudio's sinc-Hann resampler (`torchaudio.transforms.Resample(orig, new)` with its
//! defaults: `sinc_interp_hann`, `lowpass_filter_width` 6, `rolloff` 0.99), re-implemented for
//! parity (docs/reference.md §5.6 step 4, §12 q14).
//!
//! # Kernel (bit-exact)
//! `torchaudio.functional.functional._get_sinc_resample_kernel` (torchaudio 2.4 through 2.11),
//! with the rates reduced by their gcd to `o` (orig) and `n` (new):
//!
//! * `base = min(o, n) * 0.99` (f64); `width = ceil(6 * o / base)`;
//! * `idx[k] = (k - width) / o` in **f64**, for `k in 0..2*width + o`;
//! * the phase offsets come from `torch.arange(0, -n, -1)` (int64) `/ n`, which torch computes in
//!   **float32**: `t0[p] = f32(-p) / f32(n)`; it is widened to f64 when added to `idx`;
//! * `t = clamp((t0 + idx) * base, -6, 6)`; `window = cos(t * π / 6 / 2)²`; `t *= π`;
//!   `kernel = (t == 0 ? 1 : sin(t) / t) * (window * (base / o))`, finally cast to **f32**.
//!
//! The same operations in the same order are done here in f64 (`f64::sin`/`cos` against torch's
//! SLEEF: both ≤ 1 ulp in f64, invisible after the f32 cast; every kernel tested matches all bits,
//! see `tests/resample.rs`).
//!
//! # Convolution (bit-exact with torch on the CPU)
//! `_apply_sinc_resample_kernel`: the input is zero-padded by `width` on the left and
//! `width + o` on the right, convolved with stride `o` (output block `b`, phase `p` is
//! `Σ_k kernel[p][k] · padded[b·o + k]`), interleaved, and cut to `ceil(n · len / o)` samples.
//!
//! torch runs this `conv1d` as im2col + MKL `sgemm` (ATen's `Slow2d` backend, with or without
//! oneDNN). The sgemm micro-kernel accumulates each output over the taps in ascending order with
//! float32 fused multiply-adds starting from 0; that order is reproduced here, so the outputs are
//! **bit-identical** to torch 2.15 / MKL 2024.2 on the CPU (tests: every stored sample of 10 rates
//! on noise and of all lossless fixtures; the corpus test compares whole files). Taps outside a
//! phase's span are exactly ±0.0 in torch's float32 kernel (the Hann window is clamped to its
//! zero); `fma(±0, x, acc) == acc`, so skipping them changes nothing.
//!
//! Exceptions measured: with a single phase (`n == 1`: 48 → 24 kHz, 96 → 24 kHz, …) and fewer
//! than about 24,000 output samples, MKL switches to another kernel and about 70 % of the samples
//! differ by 1 ulp; MERT never sees such short signals (under 1 s yields no window). On the GPU
//! (the reference script resamples on `accelerator.device`), cuDNN's convolution is another
//! rounding order again (possibly TF32); not reproducible here.
//!
//! # Streaming
//! [`StreamingResampler`] consumes input in arbitrary chunks and produces exactly the samples of
//! the one-shot [`Resampler::resample`] (the one-shot is the streaming path fed once), holding
//! only `2·width + o` input samples between calls.

use std::f64::consts::PI;
use std::sync::Arc;

use crate::error::{AudioError, Result};

/// `lowpass_filter_width` of torchaudio's default.
const LOWPASS_FILTER_WIDTH: f64 = 6.0;
/// `rolloff` of torchaudio's default.
const ROLLOFF: f64 = 0.99;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// torchaudio's windowed-sinc kernel for one rate pair, stored per output phase as the span of
/// taps that are non-zero in float32.
#[derive(Clone, Debug)]
pub struct SincKernel {
    orig: usize,
    new: usize,
    width: usize,
    base_freq: f64,
    /// Per phase: first tap index of the stored span.
    lo: Vec<usize>,
    /// Per phase: offset of the span in `coeffs`.
    off: Vec<usize>,
    /// Per phase: span length.
    len: Vec<usize>,
    coeffs: Vec<f32>,
    /// Smallest `lo` over the phases.
    min_lo: usize,
    /// Largest `lo + len` over the phases.
    max_hi: usize,
}

impl SincKernel {
    /// Builds the kernel for `orig_freq → new_freq` (Hz, both > 0 and different).
    pub fn new(orig_freq: u32, new_freq: u32) -> Result<Self> {
        if orig_freq == 0 || new_freq == 0 {
            return Err(AudioError::InvalidArgument(format!(
                "resampling rates must be positive (got {orig_freq} -> {new_freq})"
            )));
        }
        if orig_freq == new_freq {
            return Err(AudioError::InvalidArgument(
                "no kernel for equal rates (resampling is the identity)".to_string(),
            ));
        }
        let g = gcd(u64::from(orig_freq), u64::from(new_freq));
        let orig = (u64::from(orig_freq) / g) as usize;
        let new = (u64::from(new_freq) / g) as usize;
        // Python: base_freq = min(orig, new); base_freq *= rolloff
        let base_freq = (orig.min(new) as f64) * ROLLOFF;
        // Python: math.ceil(lowpass_filter_width * orig_freq / base_freq), int * int then / float
        let width = ((6 * orig) as f64 / base_freq).ceil() as usize;
        let taps = 2 * width + orig;

        let mut lo = Vec::with_capacity(new);
        let mut off = Vec::with_capacity(new);
        let mut len = Vec::with_capacity(new);
        let mut coeffs = Vec::new();
        let half = LOWPASS_FILTER_WIDTH * orig as f64 / base_freq;
        for p in 0..new {
            // Taps with |t| < 6 lie within `half` of the phase centre; 2-3 taps of margin.
            let centre = width as f64 + orig as f64 * p as f64 / new as f64;
            let first = ((centre - half).floor() - 2.0).max(0.0) as usize;
            let last = (((centre + half).ceil() + 3.0) as usize).min(taps);
            let vals: Vec<f32> = (first..last)
                .map(|k| kernel_value(p, k, orig, new, width, base_freq))
                .collect();
            let a = vals.iter().position(|v| *v != 0.0).unwrap_or(vals.len());
            let b = vals.iter().rposition(|v| *v != 0.0).map_or(a, |i| i + 1);
            lo.push(first + a);
            off.push(coeffs.len());
            len.push(b - a);
            coeffs.extend_from_slice(&vals[a..b]);
        }
        let min_lo = lo.iter().copied().min().unwrap_or(0);
        let max_hi = lo
            .iter()
            .zip(&len)
            .map(|(l, n)| l + n)
            .max()
            .unwrap_or(0)
            .max(min_lo);
        Ok(SincKernel {
            orig,
            new,
            width,
            base_freq,
            lo,
            off,
            len,
            coeffs,
            min_lo,
            max_hi,
        })
    }

    /// The original rate divided by `gcd(orig, new)` (the convolution stride).
    pub fn orig(&self) -> usize {
        self.orig
    }

    /// The new rate divided by `gcd(orig, new)` (the number of phases).
    pub fn new_rate(&self) -> usize {
        self.new
    }

    /// torchaudio's `width` (zero padding on the left; `width + orig` on the right).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of taps of a full torchaudio kernel row, `2·width + orig`.
    pub fn taps(&self) -> usize {
        2 * self.width + self.orig
    }

    /// The stored non-zero span of phase `p`: (first tap index, coefficients).
    pub fn phase(&self, p: usize) -> Option<(usize, &[f32])> {
        let lo = *self.lo.get(p)?;
        let off = self.off[p];
        Some((lo, &self.coeffs[off..off + self.len[p]]))
    }

    /// The complete torchaudio kernel row of phase `p` (all `taps()` values, zeros included),
    /// recomputed from the formula; for tests against `kernel[p, 0, :]` of torchaudio.
    pub fn full_row(&self, p: usize) -> Vec<f32> {
        (0..self.taps())
            .map(|k| kernel_value(p, k, self.orig, self.new, self.width, self.base_freq))
            .collect()
    }
}

/// One kernel value, with torch's operation order and dtypes (see the module docs).
fn kernel_value(p: usize, k: usize, orig: usize, new: usize, width: usize, base_freq: f64) -> f32 {
    // idx = torch.arange(-width, width + orig, dtype=float64) / orig
    let idx = (k as f64 - width as f64) / orig as f64;
    // torch.arange(0, -new, -1)[:, None, None] / new: int64 / int -> float32 division
    let t0 = -(p as f32) / new as f32;
    let mut t = f64::from(t0) + idx;
    t *= base_freq;
    t = t.clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH);
    let w = (t * PI / LOWPASS_FILTER_WIDTH / 2.0).cos();
    let window = w * w; // torch.pow(x, 2) is x * x
    t *= PI;
    let scale = base_freq / orig as f64;
    let sinc = if t == 0.0 { 1.0 } else { t.sin() / t };
    (sinc * (window * scale)) as f32
}

/// Output blocks computed together (independent FMA chains for instruction-level parallelism).
const BLOCK_GROUP: usize = 8;

/// Computes output blocks `[b0, b1)` from `buf`, which holds padded positions starting at
/// `buf_pos`, and appends their samples (block-major, phases in order) to `out`, stopping at
/// global output index `limit`.
///
/// Each output is `acc = 0; for k in span: acc = fma(kernel[k], x[k], acc)` in float32, taps in
/// ascending order: the order of the float32 GEMM micro-kernel behind torch's CPU conv1d
/// (im2col + MKL sgemm), so the outputs are bit-identical to torch's whenever the kernel has
/// more than one phase (measured: 100 % of samples for 44.1, 22.05, 16, 11.025 and 8 kHz).
#[inline(always)]
fn run_blocks_generic(
    k: &SincKernel,
    buf: &[f32],
    buf_pos: u64,
    b0: u64,
    b1: u64,
    limit: u64,
    out: &mut Vec<f32>,
) {
    let n = k.new as u64;
    let o = k.orig as u64;
    let b1 = b1.min(limit.div_ceil(n).max(b0));
    let mut b = b0;
    while b < b1 {
        let g = ((b1 - b) as usize).min(BLOCK_GROUP);
        let start = out.len();
        let first_idx = b * n;
        let count = ((g as u64 * n).min(limit - first_idx)) as usize;
        out.resize(start + g * k.new, 0.0);
        for p in 0..k.new {
            let lo = k.lo[p] as u64;
            let c = &k.coeffs[k.off[p]..k.off[p] + k.len[p]];
            // Start of each block's span in `buf`.
            let base = |j: usize| ((b + j as u64) * o + lo - buf_pos) as usize;
            let mut acc = [0.0f32; BLOCK_GROUP];
            if g == BLOCK_GROUP {
                let xs: [&[f32]; BLOCK_GROUP] =
                    std::array::from_fn(|j| &buf[base(j)..base(j) + c.len()]);
                for (t, &ck) in c.iter().enumerate() {
                    for (a, x) in acc.iter_mut().zip(&xs) {
                        *a = ck.mul_add(x[t], *a);
                    }
                }
            } else {
                for (j, a) in acc.iter_mut().enumerate().take(g) {
                    let x = &buf[base(j)..base(j) + c.len()];
                    for (ck, xv) in c.iter().zip(x) {
                        *a = ck.mul_add(*xv, *a);
                    }
                }
            }
            for (j, a) in acc.iter().enumerate().take(g) {
                out[start + j * k.new + p] = *a;
            }
        }
        out.truncate(start + count);
        b += g as u64;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_blocks_fma(
    k: &SincKernel,
    buf: &[f32],
    buf_pos: u64,
    b0: u64,
    b1: u64,
    limit: u64,
    out: &mut Vec<f32>,
) {
    // Same code with hardware FMA (`mul_add` is always fused, so the results are identical;
    // without the feature it is a call to the C library's `fmaf`).
    run_blocks_generic(k, buf, buf_pos, b0, b1, limit, out)
}

fn run_blocks(
    k: &SincKernel,
    buf: &[f32],
    buf_pos: u64,
    b0: u64,
    b1: u64,
    limit: u64,
    out: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { run_blocks_fma(k, buf, buf_pos, b0, b1, limit, out) };
            return;
        }
    }
    run_blocks_generic(k, buf, buf_pos, b0, b1, limit, out)
}

/// A reusable `orig → new` resampler (identity when the rates are equal), as
/// `torchaudio.transforms.Resample(orig, new)`.
#[derive(Clone, Debug)]
pub struct Resampler {
    orig_freq: u32,
    new_freq: u32,
    kernel: Option<Arc<SincKernel>>,
}

impl Resampler {
    /// Builds the resampler (and its kernel, unless the rates are equal).
    pub fn new(orig_freq: u32, new_freq: u32) -> Result<Self> {
        if orig_freq == 0 || new_freq == 0 {
            return Err(AudioError::InvalidArgument(format!(
                "resampling rates must be positive (got {orig_freq} -> {new_freq})"
            )));
        }
        let kernel = if orig_freq == new_freq {
            None
        } else {
            Some(Arc::new(SincKernel::new(orig_freq, new_freq)?))
        };
        Ok(Resampler {
            orig_freq,
            new_freq,
            kernel,
        })
    }

    /// Source rate in Hz.
    pub fn orig_freq(&self) -> u32 {
        self.orig_freq
    }

    /// Target rate in Hz.
    pub fn new_freq(&self) -> u32 {
        self.new_freq
    }

    /// The kernel (`None` for the identity).
    pub fn kernel(&self) -> Option<&SincKernel> {
        self.kernel.as_deref()
    }

    /// Output length for `input_len` samples: `ceil(new · len / orig)` as torchaudio computes it
    /// (Python float division, then `ceil`); `input_len` for the identity.
    pub fn output_len(&self, input_len: u64) -> u64 {
        match &self.kernel {
            None => input_len,
            Some(k) => output_len(k, input_len),
        }
    }

    /// Resamples a whole signal.
    pub fn resample(&self, input: &[f32]) -> Vec<f32> {
        let mut s = self.stream();
        let mut out = Vec::with_capacity(self.output_len(input.len() as u64) as usize);
        s.push(input, &mut out);
        s.finish(&mut out);
        out
    }

    /// A streaming resampler sharing this kernel.
    pub fn stream(&self) -> StreamingResampler {
        let buf = match &self.kernel {
            Some(k) => vec![0.0; k.width],
            None => Vec::new(),
        };
        StreamingResampler {
            kernel: self.kernel.clone(),
            buf,
            buf_pos: 0,
            next_block: 0,
            in_len: 0,
            emitted: 0,
            finished: false,
        }
    }
}

/// Length of `input_len` samples resampled from `orig_freq` to `new_freq` (torchaudio's
/// `ceil(new · len / orig)` on the gcd-reduced rates; `input_len` when the rates are equal).
pub fn resampled_len(orig_freq: u32, new_freq: u32, input_len: u64) -> u64 {
    if orig_freq == new_freq || orig_freq == 0 || new_freq == 0 {
        return input_len;
    }
    let g = gcd(u64::from(orig_freq), u64::from(new_freq));
    let (o, n) = (u64::from(orig_freq) / g, u64::from(new_freq) / g);
    ((n as f64 * input_len as f64) / o as f64).ceil() as u64
}

fn output_len(k: &SincKernel, input_len: u64) -> u64 {
    // torch.ceil(torch.as_tensor(new_freq * length / orig_freq)): the product is exact in f64
    // below 2^53, the division correctly rounded as in Python.
    ((k.new as f64 * input_len as f64) / k.orig as f64).ceil() as u64
}

/// Chunk-by-chunk resampling with exactly the one-shot result (see the module docs).
///
/// Memory: the kernel plus at most `2·width + orig` buffered input samples beyond the current
/// chunk.
#[derive(Clone, Debug)]
pub struct StreamingResampler {
    kernel: Option<Arc<SincKernel>>,
    /// Padded input from padded position `buf_pos` on (`width` zeros precede the input).
    buf: Vec<f32>,
    buf_pos: u64,
    next_block: u64,
    in_len: u64,
    emitted: u64,
    finished: bool,
}

impl StreamingResampler {
    /// Feeds input samples; appends every output sample that is now final to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.in_len += input.len() as u64;
        let Some(k) = self.kernel.clone() else {
            out.extend_from_slice(input);
            self.emitted += input.len() as u64;
            return;
        };
        self.buf.extend_from_slice(input);
        let avail_end = self.buf_pos + self.buf.len() as u64;
        // Block b needs padded positions up to b·o + max_hi.
        let o = k.orig as u64;
        let max_hi = k.max_hi as u64;
        if avail_end >= max_hi {
            let last_ok = (avail_end - max_hi) / o; // largest computable block
            let b1 = last_ok + 1;
            if b1 > self.next_block {
                let before = out.len();
                run_blocks(
                    &k,
                    &self.buf,
                    self.buf_pos,
                    self.next_block,
                    b1,
                    u64::MAX,
                    out,
                );
                self.emitted += (out.len() - before) as u64;
                self.next_block = b1;
            }
        }
        self.compact(&k);
    }

    /// Drops buffered input no later block needs.
    fn compact(&mut self, k: &SincKernel) {
        let need_from = self.next_block * k.orig as u64 + k.min_lo as u64;
        if need_from > self.buf_pos {
            let drop = ((need_from - self.buf_pos) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_pos += drop as u64;
        }
    }

    /// Flushes the tail (right zero padding, final length cut). Later pushes are ignored.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let Some(k) = self.kernel.clone() else {
            return;
        };
        let o = k.orig as u64;
        let total_blocks = self.in_len / o + 1;
        let target = output_len(&k, self.in_len);
        let need_end = (total_blocks - 1) * o + k.max_hi as u64;
        let have_end = self.buf_pos + self.buf.len() as u64;
        if need_end > have_end {
            self.buf
                .resize(self.buf.len() + (need_end - have_end) as usize, 0.0);
        }
        if total_blocks > self.next_block {
            let before = out.len();
            run_blocks(
                &k,
                &self.buf,
                self.buf_pos,
                self.next_block,
                total_blocks,
                target,
                out,
            );
            self.emitted += (out.len() - before) as u64;
            self.next_block = total_blocks;
        }
        self.buf = Vec::new();
    }

    /// Input samples consumed so far.
    pub fn input_len(&self) -> u64 {
        self.in_len
    }

    /// Output samples produced so far.
    pub fn output_len(&self) -> u64 {
        self.emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_match_torchaudio_formula() {
        // 44100 -> 24000: gcd 300, o = 147, n = 80, base = 79.2, width = ceil(882 / 79.2) = 12
        let k = SincKernel::new(44100, 24000).unwrap();
        assert_eq!(
            (k.orig(), k.new_rate(), k.width(), k.taps()),
            (147, 80, 12, 171)
        );
        let k = SincKernel::new(48000, 24000).unwrap();
        assert_eq!((k.orig(), k.new_rate(), k.width()), (2, 1, 13));
    }

    #[test]
    fn stored_spans_equal_full_rows() {
        for &(a, b) in &[
            (44100u32, 24000u32),
            (22050, 24000),
            (8000, 24000),
            (48000, 24000),
        ] {
            let k = SincKernel::new(a, b).unwrap();
            for p in 0..k.new_rate() {
                let row = k.full_row(p);
                let (lo, span) = k.phase(p).unwrap();
                for (i, v) in row.iter().enumerate() {
                    if i < lo || i >= lo + span.len() {
                        assert_eq!(*v, 0.0, "{a}->{b} phase {p} tap {i}");
                    } else {
                        assert_eq!(v.to_bits(), span[i - lo].to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn output_length_is_ceil() {
        let r = Resampler::new(44100, 24000).unwrap();
        assert_eq!(r.output_len(44100), 24000);
        assert_eq!(r.output_len(1), 1);
        assert_eq!(r.output_len(0), 0);
        assert_eq!(r.resample(&[0.5; 1000]).len(), 545); // ceil(80 * 1000 / 147)
        let id = Resampler::new(24000, 24000).unwrap();
        assert_eq!(id.resample(&[0.25, -1.0]), vec![0.25, -1.0]);
    }
}
