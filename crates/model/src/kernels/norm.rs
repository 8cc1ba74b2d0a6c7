//! LayerNorm over rows and GroupNorm with one group per channel, with moments accumulated in
//! f64 by two passes.
//!
//! Hand-written because candle-nn's fused CPU LayerNorm computes the variance as
//! `E[x²] − E[x]²` in f32, which cancels badly when a row's mean is large against its spread
//! (post-LN BERT residuals can be like that); PyTorch computes the moments stably. Eight
//! independent f64 accumulators let the compiler vectorise the sums; with 29 spare bits the
//! order of the additions does not show in the f32 result.

#[inline(always)]
fn sum64(row: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f64::from(v);
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(v)).sum();
    acc.iter().sum::<f64>() + tail
}

#[inline(always)]
fn centred_sq_sum64(row: &[f32], mean: f64) -> f64 {
    let mut acc = [0f64; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let d = f64::from(v) - mean;
            *a += d * d;
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| {
            let d = f64::from(v) - mean;
            d * d
        })
        .sum();
    acc.iter().sum::<f64>() + tail
}

simd_fn! {
    /// LayerNorm of one row in place: `(x - mean) / sqrt(var + eps) · weight + bias`, the
    /// moments in f64, the affine step in f32 as PyTorch does.
    pub fn layer_norm_row(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f64) {
        let n = row.len() as f64;
        let mean = sum64(row) / n;
        let var = centred_sq_sum64(row, mean) / n;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, &w), &b) in row.iter_mut().zip(weight).zip(bias) {
            let xn = ((f64::from(*v) - mean) * inv) as f32;
            *v = xn * w + b;
        }
    }
}

simd_fn! {
    /// `row += add`, element-wise (a residual connection).
    pub fn add_in_place(row: &mut [f32], add: &[f32]) {
        for (v, &a) in row.iter_mut().zip(add) {
            *v += a;
        }
    }
}

/// LayerNorm of every `width`-long row of `x` in place, rows in parallel.
pub fn layer_norm_rows(x: &mut [f32], width: usize, weight: &[f32], bias: &[f32], eps: f64) {
    use rayon::prelude::*;
    assert!(width > 0 && weight.len() == width && bias.len() == width);
    x.par_chunks_mut(width)
        .with_min_len(16)
        .for_each(|row| layer_norm_row(row, weight, bias, eps));
}

simd_fn! {
    /// `acc[c] += x[c]` (or `(x[c] - mean[c])²`) in f64.
    fn add_row64(acc: &mut [f64], row: &[f32], mean: Option<&[f64]>) {
        match mean {
            None => {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += f64::from(v);
                }
            }
            Some(m) => {
                for ((a, &v), &mu) in acc.iter_mut().zip(row).zip(m) {
                    let d = f64::from(v) - mu;
                    *a += d * d;
                }
            }
        }
    }
}

/// GroupNorm with one group per channel over a time-major `[T, C]` block: each column
/// normalised over time, then scaled and shifted per channel, in place (MERT's first
/// convolution). f64 moments by two passes, as [`layer_norm_row`].
pub fn channel_norm_time_major(
    x: &mut [f32],
    channels: usize,
    weight: &[f32],
    bias: &[f32],
    eps: f64,
) {
    use rayon::prelude::*;
    assert!(channels > 0 && weight.len() == channels && bias.len() == channels);
    let t = x.len() / channels;
    if t == 0 {
        return;
    }
    // Column sums over blocks of rows in parallel (vectorised along the channels).
    let block = t.div_ceil(rayon::current_num_threads().max(1) * 4).max(64) * channels;
    let merge = |mut a: Vec<f64>, b: Vec<f64>| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    };
    let sums = x
        .par_chunks(block)
        .map(|rows| {
            let mut acc = vec![0f64; channels];
            for row in rows.chunks_exact(channels) {
                add_row64(&mut acc, row, None);
            }
            acc
        })
        .reduce(|| vec![0f64; channels], merge);
    let mean: Vec<f64> = sums.iter().map(|s| s / t as f64).collect();
    let sq = x
        .par_chunks(block)
        .map(|rows| {
            let mut acc = vec![0f64; channels];
            for row in rows.chunks_exact(channels) {
                add_row64(&mut acc, row, Some(&mean));
            }
            acc
        })
        .reduce(|| vec![0f64; channels], merge);
    let inv: Vec<f64> = sq
        .iter()
        .map(|s| 1.0 / (s / t as f64 + eps).sqrt())
        .collect();
    x.par_chunks_mut(channels).with_min_len(64).for_each(|row| {
        for (c, v) in row.iter_mut().enumerate() {
            *v = ((f64::from(*v) - mean[c]) * inv[c]) as f32 * weight[c] + bias[c];
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_is_stable_for_a_large_mean() {
        // A row whose mean is far larger than its spread: E[x²] - E[x]² in f32 would give 0
        // or a negative variance here.
        let mut row: Vec<f32> = (0..768).map(|i| 3000.0 + (i % 7) as f32 * 0.01).collect();
        let x64: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let mean = x64.iter().sum::<f64>() / 768.0;
        let var = x64.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 768.0;
        let w = vec![1.5f32; 768];
        let b = vec![0.25f32; 768];
        layer_norm_row(&mut row, &w, &b, 1e-12);
        for (g, x) in row.iter().zip(&x64) {
            let want = ((x - mean) / (var + 1e-12).sqrt()) * 1.5 + 0.25;
            assert!((f64::from(*g) - want).abs() < 1e-4, "{g} vs {want}");
        }
    }

    #[test]
    fn channel_norm_normalises_each_column_over_time() {
        let (t, c) = (1000, 3);
        let mut x: Vec<f32> = (0..t * c)
            .map(|i| ((i * 37 % 101) as f32) * (1 + i % c) as f32)
            .collect();
        let orig = x.clone();
        channel_norm_time_major(&mut x, c, &[1.0, 2.0, 1.0], &[0.0, 0.0, 5.0], 1e-5);
        for ch in 0..c {
            let col: Vec<f64> = (0..t).map(|i| f64::from(orig[i * c + ch])).collect();
            let m = col.iter().sum::<f64>() / t as f64;
            let v = col.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / t as f64;
            for i in 0..t {
                let want =
                    (col[i] - m) / (v + 1e-5).sqrt() * [1.0, 2.0, 1.0][ch] + [0.0, 0.0, 5.0][ch];
                assert!((f64::from(x[i * c + ch]) - want).abs() < 1e-5);
            }
        }
    }
}
