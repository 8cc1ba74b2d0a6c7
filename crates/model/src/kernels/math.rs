//! Element-wise functions written so that the compiler vectorises them (no branches, no
//! library calls): `exp` for the softmax and the exact (erf) GELU. Polynomials use
//! `mul_add`, which is fused (one rounding) on every target — an FMA instruction in the
//! vectorised versions, the library `fmaf` in the baseline one — so all versions agree.
//!
//! Hand-written because the scalar library functions dominate the forward pass otherwise
//! (candle's GELU calls `libm::erff` per element on one thread: ~3 M calls per BERT layer of
//! 1,024 tokens), and because computing GELU through `erfc` is *more* accurate than the usual
//! `0.5·x·(1 + erf(x/√2))` in f32, whose negative tail cancels.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5 · 2²³: adding it rounds a float of magnitude below 2²² to an integer held in the
/// low mantissa bits.
const ROUND: f32 = 12_582_912.0;
/// Below this `exp` is flushed to 0 (`e^-87.33` is the smallest normal f32).
const EXP_LO: f32 = -87.336_55;
const EXP_HI: f32 = 88.376_26;

/// `e^x` within 2 ulp for normal results (Cephes' `expf`: `x = n·ln2 + r`, a degree-7
/// polynomial in `r`, the exponent built from the bits of `n`). Results below the smallest
/// normal are 0; `+∞` beyond `EXP_HI`'s range saturates to `e^88.38`. Exactly 0 for the
/// additive mask's `f32::MIN`, as the library function gives.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(EXP_LO, EXP_HI);
    let k = xc.mul_add(LOG2E, ROUND);
    let n = k - ROUND;
    let r = n.mul_add(2.121_944_4e-4, n.mul_add(-0.693_359_4, xc));
    let z = r * r;
    let mut y = 1.987_569_1e-4_f32;
    y = y.mul_add(r, 1.398_199_9e-3);
    y = y.mul_add(r, 8.333_452e-3);
    y = y.mul_add(r, 4.166_579_6e-2);
    y = y.mul_add(r, 0.166_666_65);
    y = y.mul_add(r, 0.5);
    y = y.mul_add(z, r) + 1.0;
    let e = (k.to_bits().wrapping_sub(ROUND.to_bits()) as i32).wrapping_add(127) << 23;
    let v = y * f32::from_bits(e as u32);
    if x < EXP_LO {
        0.0
    } else {
        v
    }
}

/// `erfc(z)` for `z >= 0` with a relative error below 2·10⁻⁷ (the Chebyshev fit of
/// Numerical Recipes §6.2: `t·exp(-z² + P(t))`, `t = 1 / (1 + z/2)`); relative accuracy in
/// the tail is what GELU's negative side needs.
#[inline(always)]
fn erfc_nonneg(z: f32) -> f32 {
    let t = 1.0 / z.mul_add(0.5, 1.0);
    let mut p = 0.170_872_77_f32;
    p = p.mul_add(t, -0.822_152_23);
    p = p.mul_add(t, 1.488_515_9);
    p = p.mul_add(t, -1.135_204);
    p = p.mul_add(t, 0.278_868_07);
    p = p.mul_add(t, -0.186_288_06);
    p = p.mul_add(t, 0.096_784_18);
    p = p.mul_add(t, 0.374_091_96);
    p = p.mul_add(t, 1.000_023_7);
    p = p.mul_add(t, -1.265_512_2);
    t * exp((-z).mul_add(z, p))
}

/// Exact GELU, `x · Φ(x) = ½·x·erfc(-x/√2)`: absolute error below 5·10⁻⁷ (the rounding of
/// the result), relative error below 3·10⁻⁶ wherever `|GELU(x)| > 10⁻⁶`. The usual f32
/// form `½·x·(1 + erf(x/√2))` (candle's, PyTorch's) cancels at negative `x`: its relative
/// error there is ~2·10⁻⁵ at `x = -3` and grows without bound.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let u = -x * std::f32::consts::FRAC_1_SQRT_2;
    let e = erfc_nonneg(u.abs());
    let c = if u >= 0.0 { e } else { 2.0 - e };
    0.5 * x * c
}

simd_fn! {
    /// Applies [`gelu`] in place.
    pub fn gelu_in_place(x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = gelu(*v);
        }
    }
}

simd_fn! {
    /// Adds `bias` (of length `cols`) to every row of `x`, then applies [`gelu`], in place.
    pub fn bias_gelu_rows(x: &mut [f32], bias: &[f32]) {
        for row in x.chunks_exact_mut(bias.len().max(1)) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v = gelu(*v + *b);
            }
        }
    }
}

/// Independent accumulators of the row reductions: enough for one 512-bit vector.
const LANES: usize = 16;

simd_fn! {
    /// Softmax of `row + bias` in place (bias: the additive mask, or empty for none):
    /// `exp(s - max) / Σ exp(s - max)`, as PyTorch computes it.
    pub fn softmax_row(row: &mut [f32], bias: &[f32]) {
        if !bias.is_empty() {
            for (s, b) in row.iter_mut().zip(bias) {
                *s += *b;
            }
        }
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (m, v) in lanes.iter_mut().zip(c) {
                *m = if *v > *m { *v } else { *m };
            }
        }
        let mut max = f32::NEG_INFINITY;
        for &v in lanes.iter().chain(chunks.remainder()) {
            max = if v > max { v } else { max };
        }
        for v in row.iter_mut() {
            *v = exp(*v - max);
        }
        let mut sums = [0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (s, v) in sums.iter_mut().zip(c) {
                *s += *v;
            }
        }
        let sum = sums.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Taylor series / continued fraction in f64 (reference for the tests).
    fn erfc64(x: f64) -> f64 {
        // Lentz continued fraction for x > 2, series otherwise: both to ~1e-15.
        if x.abs() < 2.0 {
            let mut sum = x;
            let mut term = x;
            let mut n = 0.0;
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
        } else if x > 0.0 {
            let mut f = 0.0;
            for k in (1..200).rev() {
                f = (k as f64 / 2.0) / (x + f);
            }
            (-x * x).exp() / std::f64::consts::PI.sqrt() / (x + f)
        } else {
            2.0 - erfc64(-x)
        }
    }

    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        (f64::from(got) - want).abs() / f64::from(f32::from_bits(w.abs().to_bits() + 1) - w.abs())
    }

    #[test]
    fn gelu_is_close_to_the_exact_function_in_absolute_and_relative_terms() {
        let (mut worst_abs, mut worst_rel, mut worst_rel_erf) = (0f64, 0f64, 0f64);
        for i in -200_000..=200_000 {
            let x = i as f32 * 5e-5; // [-10, 10]
            let want = 0.5 * f64::from(x) * erfc64(-f64::from(x) / std::f64::consts::SQRT_2);
            let got = f64::from(gelu(x));
            worst_abs = worst_abs.max((got - want).abs());
            if want.abs() > 1e-6 {
                worst_rel = worst_rel.max((got - want).abs() / want.abs());
                // The usual f32 formula, for comparison (what candle computes).
                let erf = (1.0 - erfc64(-f64::from(x) / std::f64::consts::SQRT_2)) as f32;
                let usual = f64::from(0.5 * x * (1.0 + -erf));
                worst_rel_erf = worst_rel_erf.max((usual - want).abs() / want.abs());
            }
        }
        assert!(worst_abs < 5e-7, "worst abs {worst_abs}");
        assert!(worst_rel < 3e-6, "worst rel {worst_rel}");
        assert!(
            worst_rel < worst_rel_erf / 10.0,
            "{worst_rel} vs {worst_rel_erf}"
        );
        assert_eq!(gelu(0.0), 0.0);
        assert_eq!(gelu(-200.0), 0.0);
        assert_eq!(gelu(200.0), 200.0);
    }

    #[test]
    fn exp_is_within_two_ulp_and_zero_for_the_mask() {
        let mut worst = 0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max(ulps(exp(x), f64::from(x).exp()));
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(exp(f32::MIN), 0.0);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn softmax_matches_the_definition() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
        let mut bias = vec![0f32; 37];
        bias[5] = f32::MIN;
        bias[30] = f32::MIN;
        let want: Vec<f64> = {
            let s: Vec<f64> = row
                .iter()
                .zip(&bias)
                .map(|(&a, &b)| f64::from(a + b))
                .collect();
            let m = s.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
            let z: f64 = e.iter().sum();
            e.iter().map(|v| v / z).collect()
        };
        softmax_row(&mut row, &bias);
        for (g, w) in row.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 2e-7, "{g} vs {w}");
        }
        assert_eq!(row[5], 0.0);
        assert_eq!(row[30], 0.0);
    }
}
