//! Channel mean against `torch.mean(x, dim=0, keepdim=True)` (torch 2.15, one thread, 256
//! frames: every column goes through ATen's `multi_row_sum`): bit-exact for 2 to 33 channels.

mod common;

use clamp3_audio::{mix_to_mono, mix_to_mono_into};
use common::*;

#[test]
fn channel_mean_bits() {
    let g = goldens();
    for c in g["mono"].as_array().unwrap() {
        let ch = u(c, "channels") as usize;
        let frames = u(c, "frames") as usize;
        let x = hash_signal(ch * frames, u(c, "seed"), f(c, "amp"), f(c, "dc"));
        let m = mix_to_mono(&x, ch);
        let want = b64_f32(&c["mean"]);
        assert_eq!(m.len(), want.len());
        for (i, (a, b)) in m.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{ch} channels, frame {i}");
        }
    }
}

#[test]
fn mono_input_is_unchanged_and_partial_frames_ignored() {
    let x = [0.5f32, -0.0, 0.25];
    assert_eq!(mix_to_mono(&x, 1), x.to_vec());
    let mut out = vec![9.0];
    mix_to_mono_into(&[1.0, 0.0, 0.5], 2, &mut out);
    assert_eq!(out, vec![9.0, 0.5]);
    assert!(mix_to_mono(&x, 0).is_empty());
}
