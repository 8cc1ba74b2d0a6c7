//! Mono mixdown, bit-for-bit as `torch.mean(waveform, dim=0, keepdim=True)` on a float32
//! `(C, N)` tensor (docs/reference.md §5.6 step 2).
//!
//! On the CPU, `torch.mean` is `torch.sum(dim=0)` followed by an in-place float32 division by
//! `C`. The sum over the outer (channel) dimension runs in ATen's `multi_row_sum`: one float32
//! accumulator per column, starting at +0.0, channels added in order; from 16 channels on, a
//! 4-level cascade (level step 16) folds partial sums. That order is reproduced here.
//!
//! Exactness: for 1 to 4 channels every code path of torch adds the channels in plain order, so
//! the result is bit-identical on every machine (stereo is `(0 + l + r) / 2`). For 5 or more
//! channels torch sends the last few columns of each parallel chunk (fewer than 4 SIMD vectors,
//! so at most 31 or 63 columns per chunk, depending on AVX2/AVX-512 and on the thread count)
//! through `row_sum`, which interleaves the channels into 4 accumulators; those few samples may
//! differ from this implementation by about one float32 rounding. Measured against torch 2.15 in
//! `tests/mono.rs`.
//!
//! Mono input is returned unchanged: the reference calls `torch.mean` only when `C > 1`.

/// Sum of one frame's channel values in torch's `multi_row_sum` order (see the module docs).
#[inline]
fn torch_channel_sum(frame: &[f32]) -> f32 {
    let size = frame.len();
    if size < 16 {
        // Every cascade level is skipped below the level step: a plain ordered sum from +0.0.
        let mut acc = 0.0f32;
        for &x in frame {
            acc += x;
        }
        return acc;
    }
    // level_power = max(4, CeilLog2(size) / 4); CeilLog2(x) = ceil(log2(x)) for x > 2.
    let ceil_log2 = usize::BITS - (size - 1).leading_zeros();
    let level_power = std::cmp::max(4, ceil_log2 / 4);
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    let mut acc = [0.0f32; 4];
    let mut i = 0usize;
    while i + level_step <= size {
        for &x in &frame[i..i + level_step] {
            acc[0] += x;
        }
        i += level_step;
        for j in 1..4 {
            acc[j] += acc[j - 1];
            acc[j - 1] = 0.0;
            let mask = level_mask << (j as u32 * level_power);
            if i & mask != 0 {
                break;
            }
        }
    }
    for &x in &frame[i..] {
        acc[0] += x;
    }
    let mut total = acc[0];
    for a in &acc[1..] {
        total += *a;
    }
    total
}

/// Appends the channel mean of each interleaved frame of `interleaved` (`channels` values per
/// frame) to `out`. A trailing partial frame is ignored. `channels == 1` copies the input.
pub fn mix_to_mono_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(interleaved),
        2 => out.extend(interleaved.chunks_exact(2).map(|f| {
            let mut acc = 0.0f32;
            acc += f[0];
            acc += f[1];
            acc / 2.0
        })),
        c => {
            let denom = c as f32;
            out.extend(
                interleaved
                    .chunks_exact(c)
                    .map(|f| torch_channel_sum(f) / denom),
            );
        }
    }
}

/// The channel mean of interleaved audio as a new vector (see [`mix_to_mono_into`]).
pub fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(interleaved.len() / channels.max(1));
    mix_to_mono_into(interleaved, channels, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_is_half_sum() {
        let x = [1.0f32, 2.0, -0.25, 0.75];
        assert_eq!(mix_to_mono(&x, 2), vec![1.5, 0.25]);
    }

    #[test]
    fn cascade_matches_plain_sum_on_exact_values() {
        // Small integers add exactly in any order: the cascade must not lose or duplicate terms.
        for c in 1..70usize {
            let frame: Vec<f32> = (0..c).map(|i| i as f32).collect();
            let expect = (c * (c - 1) / 2) as f32;
            assert_eq!(torch_channel_sum(&frame), expect, "c={c}");
        }
    }
}
