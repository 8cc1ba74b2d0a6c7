//! Pillow's bicubic resize of 8-bit images (`Image.resize(size, Image.BICUBIC)`), bit for bit.
//!
//! Hand-written for parity: BLIP's processor resizes with PIL, and no crate reproduces PIL's
//! output. Pillow (`libImaging/Resample.c`) resizes in two separable passes, horizontal then
//! vertical, each a convolution whose support is widened by the scale factor when shrinking
//! (antialiasing). The filter weights are computed in double precision, normalised to sum to
//! one, then rounded to 22-bit fixed point; each output sample is `(1 << 21) + Σ wᵢ·xᵢ` in
//! integer arithmetic, shifted right by 22 and clipped to 0..=255. The `image` crate's filters
//! (float weights, no fixed-point rounding, other support rules) differ from this by a level
//! or more on many pixels, which is why this module exists. A pass whose axis keeps its size is
//! skipped, as in Pillow.

use rayon::prelude::*;

/// Bits of the fixed-point filter weights (`PRECISION_BITS` in Pillow: 32 − 8 − 2).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's bicubic kernel (`a = −0.5`), support 2.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// The fixed-point weights of one output sample: taps start at input index `first`.
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

/// `precompute_coeffs` + `normalize_coeffs_8bpc` of Pillow for a full-image box.
fn coefficients(in_size: usize, out_size: usize) -> Vec<Taps> {
    const SUPPORT: f64 = 2.0;
    // Pillow passes the box edges as C floats: (0, in_size).
    let in0 = 0.0f64;
    let in1 = f64::from(in_size as f32);
    let scale = (in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = in0 + (xx as f64 + 0.5) * scale;
            // C's (int) truncates towards zero; the values are rounded by the + 0.5.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut k: Vec<f64> = (0..n)
                .map(|x| bicubic(((x + xmin) as f64 - center + 0.5) * ss))
                .collect();
            let ww: f64 = k.iter().fold(0.0, |a, &b| a + b);
            if ww != 0.0 {
                for v in &mut k {
                    *v /= ww;
                }
            }
            let one = f64::from(1u32 << PRECISION_BITS);
            let weights = k
                .iter()
                .map(|&v| {
                    if v < 0.0 {
                        (-0.5 + v * one) as i32
                    } else {
                        (0.5 + v * one) as i32
                    }
                })
                .collect();
            Taps {
                first: xmin,
                weights,
            }
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resizes an interleaved 8-bit image with `channels` samples a pixel from `w x h` to
/// `out_w x out_h` with Pillow's bicubic filter. `data.len()` must be `w * h * channels`.
pub fn resize_bicubic(
    data: &[u8],
    w: usize,
    h: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    debug_assert_eq!(data.len(), w * h * channels);
    let vert = (out_h != h).then(|| coefficients(h, out_h));
    // Rows of the input that the vertical pass reads (Pillow resamples only those).
    let (row0, row1) = match &vert {
        Some(t) => {
            let first = t.first().map_or(0, |t| t.first);
            let last = t.last().map_or(h, |t| t.first + t.weights.len());
            (first, last)
        }
        None => (0, h),
    };
    let horizontal: Vec<u8>;
    let (src, src_w, src_row0) = if out_w != w {
        let taps = coefficients(w, out_w);
        let mut out = vec![0u8; (row1 - row0) * out_w * channels];
        out.par_chunks_mut(out_w * channels)
            .enumerate()
            .for_each(|(r, orow)| {
                let irow = &data[(row0 + r) * w * channels..(row0 + r + 1) * w * channels];
                for (xx, t) in taps.iter().enumerate() {
                    for c in 0..channels {
                        let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                        for (x, &k) in t.weights.iter().enumerate() {
                            ss += i64::from(irow[(t.first + x) * channels + c]) * i64::from(k);
                        }
                        orow[xx * channels + c] = clip8(ss);
                    }
                }
            });
        horizontal = out;
        (&horizontal[..], out_w, row0)
    } else {
        (data, w, 0)
    };
    match vert {
        None => {
            src[(row0 - src_row0) * src_w * channels..(row1 - src_row0) * src_w * channels].to_vec()
        }
        Some(taps) => {
            let stride = src_w * channels;
            let mut out = vec![0u8; out_h * stride];
            out.par_chunks_mut(stride)
                .zip(taps.par_iter())
                .for_each(|(orow, t)| {
                    for (i, o) in orow.iter_mut().enumerate() {
                        let mut ss: i64 = 1 << (PRECISION_BITS - 1);
                        for (y, &k) in t.weights.iter().enumerate() {
                            let row = t.first + y - src_row0;
                            ss += i64::from(src[row * stride + i]) * i64::from(k);
                        }
                        *o = clip8(ss);
                    }
                });
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_a_copy() {
        let data: Vec<u8> = (0..5 * 4 * 3).map(|v| v as u8).collect();
        assert_eq!(resize_bicubic(&data, 5, 4, 3, 5, 4), data);
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(7, 384), (1000, 384), (384, 384 + 1), (1, 5), (3, 1)] {
            for t in coefficients(i, o) {
                let s: i64 = t.weights.iter().map(|&k| i64::from(k)).sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= t.weights.len() as i64,
                    "{i}->{o}: {s}"
                );
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let data = vec![77u8; 13 * 9 * 3];
        let out = resize_bicubic(&data, 13, 9, 3, 40, 3);
        assert!(out.iter().all(|&v| v == 77));
    }
}
