//! The resampler against torchaudio (goldens from `scripts/golden/gen_audio_goldens.py`).
//!
//! * kernels: every value of torchaudio's float32 kernel, bit for bit, for 16 rate pairs;
//! * outputs on full-band noise (the hardest case) at 10 rates, about 1 s each: bit-identical to
//!   torch's float32 conv1d on the CPU (torch 2.15, MKL 2024.2; the stored head, middle and tail
//!   segments of 1024 samples, plus the energy of the whole output);
//! * the streaming form equals the one-shot form bit for bit, for any chunking.

mod common;

use clamp3_audio::{resampled_len, Resampler, SincKernel};
use common::*;

#[test]
fn kernels_are_bit_exact() {
    let g = goldens();
    for kg in g["kernels"].as_array().unwrap() {
        let orig = u(kg, "orig") as u32;
        let k = SincKernel::new(orig, 24000).unwrap();
        assert_eq!(k.width() as u64, u(kg, "width"), "{orig}: width");
        assert_eq!(k.taps() as u64, u(kg, "taps"), "{orig}: taps");
        assert_eq!(k.new_rate() as u64, u(kg, "phases"), "{orig}: phases");
        let mut spans = Vec::new();
        let mut vals = Vec::new();
        for p in 0..k.new_rate() {
            let (lo, v) = k.phase(p).unwrap();
            spans.extend_from_slice(&(lo as u32).to_le_bytes());
            spans.extend_from_slice(&(v.len() as u32).to_le_bytes());
            vals.extend_from_slice(v);
        }
        if let Some(gv) = kg.get("vals") {
            // Small kernels: value by value, for a readable failure.
            let want = b64_f32(gv);
            let los = kg["lo"].as_array().unwrap();
            let lens = kg["len"].as_array().unwrap();
            let mut at = 0usize;
            for p in 0..k.new_rate() {
                let (lo, v) = k.phase(p).unwrap();
                assert_eq!(
                    lo as u64,
                    los[p].as_u64().unwrap(),
                    "{orig}: phase {p} start"
                );
                assert_eq!(
                    v.len() as u64,
                    lens[p].as_u64().unwrap(),
                    "{orig}: phase {p} len"
                );
                for (i, x) in v.iter().enumerate() {
                    assert_eq!(
                        x.to_bits(),
                        want[at + i].to_bits(),
                        "{orig}: phase {p} tap {}",
                        lo + i
                    );
                }
                at += v.len();
            }
        }
        assert_eq!(
            sha_bytes(&spans),
            kg["spans_sha256"].as_str().unwrap(),
            "{orig}: spans"
        );
        assert_eq!(
            sha_f32(&vals),
            kg["vals_sha256"].as_str().unwrap(),
            "{orig}: values"
        );
        // The zero taps outside the spans: torch has -0.0 where the product underflows from
        // below; the formula must give the same signs.
        if k.taps() * k.new_rate() < 2_000_000 {
            let neg_zero: u64 = (0..k.new_rate())
                .map(|p| {
                    k.full_row(p)
                        .iter()
                        .filter(|v| **v == 0.0 && v.is_sign_negative())
                        .count() as u64
                })
                .sum();
            assert_eq!(neg_zero, u(kg, "neg_zero_count"), "{orig}: -0.0 taps");
        }
    }
}

#[test]
fn noise_matches_torchaudio() {
    let g = goldens();
    let mut worst = 0.0f64;
    for c in g["resample"].as_array().unwrap() {
        let orig = u(c, "orig") as u32;
        let x = hash_signal(u(c, "n_in") as usize, u(c, "seed"), f(c, "amp"), f(c, "dc"));
        let r = Resampler::new(orig, 24000).unwrap();
        let out = r.resample(&x);
        assert_eq!(out.len() as u64, resampled_len(orig, 24000, x.len() as u64));
        let err = compare_segments(c, &out, &format!("noise {orig}"));
        println!("noise {orig} Hz -> 24000: max abs error {err:.3e}");
        assert_eq!(
            err, 0.0,
            "{orig}: not bit-identical to torchaudio (max abs error {err:e})"
        );
        worst = worst.max(err);
    }
    println!("worst max abs error on noise: {worst:.3e}");
}

#[test]
fn streaming_equals_one_shot() {
    for &orig in &[44100u32, 48000, 22050, 8000, 11025, 96000, 2999, 24000] {
        let x = hash_signal(orig as usize / 2 + 777, 5, 0.8, 0.01);
        let r = Resampler::new(orig, 24000).unwrap();
        let one = r.resample(&x);
        // Chunk sizes from 1 sample up, in a deterministic pseudo-random pattern.
        for pattern in 0..4u64 {
            let mut s = r.stream();
            let mut out = Vec::new();
            let mut i = 0usize;
            let mut step = 0u64;
            while i < x.len() {
                let len = match pattern {
                    0 => 1,
                    1 => 147,
                    _ => 1 + (hash_u32(step, pattern) % 5000) as usize,
                };
                let end = (i + len).min(x.len());
                s.push(&x[i..end], &mut out);
                i = end;
                step += 1;
            }
            s.finish(&mut out);
            assert_eq!(out.len(), one.len(), "{orig} pattern {pattern}: length");
            for (j, (a, b)) in out.iter().zip(&one).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{orig} pattern {pattern}: sample {j}"
                );
            }
            assert_eq!(s.output_len(), one.len() as u64);
        }
    }
}

#[test]
fn tiny_and_empty_inputs() {
    let r = Resampler::new(44100, 24000).unwrap();
    assert!(r.resample(&[]).is_empty());
    assert_eq!(r.resample(&[1.0]).len(), 1);
    let up = Resampler::new(8000, 24000).unwrap();
    assert_eq!(up.resample(&[1.0, 0.0]).len(), 6);
    assert!(Resampler::new(0, 24000).is_err());
}
