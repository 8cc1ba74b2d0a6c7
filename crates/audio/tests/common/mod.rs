//! Shared helpers of the audio tests: the goldens of `fixtures/audio/goldens.json`
//! (written by `scripts/golden/gen_audio_goldens.py`) and the synthetic signal generator the
//! script mirrors.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `fixtures/audio` of the workspace.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/audio")
}

/// `fixtures/audio/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    fixture_dir().join(name)
}

/// The parsed goldens.
pub fn goldens() -> Value {
    let text = std::fs::read_to_string(fixture("goldens.json")).expect("read goldens.json");
    serde_json::from_str(&text).expect("parse goldens.json")
}

/// Decodes standard base64 (with padding).
pub fn b64_bytes(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 character {c}"),
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c) << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Decodes a base64 array of little-endian f32.
pub fn b64_f32(v: &Value) -> Vec<f32> {
    let b = b64_bytes(v.as_str().expect("base64 string"));
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// SHA-256 (hex) of f32 values as little-endian bytes.
pub fn sha_f32(x: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in x {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of raw bytes.
pub fn sha_bytes(x: &[u8]) -> String {
    Sha256::digest(x)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The counter hash of the golden script (`hash_u32`).
pub fn hash_u32(i: u64, seed: u64) -> u32 {
    let mut x = (i.wrapping_add(seed) & 0xFFFF_FFFF) as u32;
    x = x.wrapping_mul(0x9E37_79B1);
    x ^= x >> 16;
    x = x.wrapping_mul(0x85EB_CA6B);
    x ^= x >> 13;
    x = x.wrapping_mul(0xC2B2_AE35);
    x ^= x >> 16;
    x
}

/// The golden script's `hash_signal(n, seed, amp, dc)` (float32 ops in the same order).
pub fn hash_signal(n: usize, seed: u64, amp: f64, dc: f64) -> Vec<f32> {
    let (amp, dc) = (amp as f32, dc as f32);
    (0..n as u64)
        .map(|i| {
            let v = ((hash_u32(i, seed) >> 8) as f32 - 8_388_608.0) / 8_388_608.0;
            v * amp + dc
        })
        .collect()
}

/// Field as f64 / u64 / usize helpers.
pub fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("field {k}"))
}

/// Integer field.
pub fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("field {k}"))
}

/// Largest absolute difference (panics on length mismatch).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max)
}

/// Signal-to-noise ratio of `test` against `reference`, in dB.
pub fn snr_db(reference: &[f32], test: &[f32]) -> f64 {
    let n = reference.len().min(test.len());
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for i in 0..n {
        let r = f64::from(reference[i]);
        s += r * r;
        let d = r - f64::from(test[i]);
        e += d * d;
    }
    if e == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / e).log10()
    }
}

/// Compares torch's resampled segments (`len`, `head`, `mid_start`, `mid`, `tail`, `sumsq`)
/// with a full Rust output; returns the max abs error over the segments.
pub fn compare_segments(g: &Value, out: &[f32], what: &str) -> f64 {
    assert_eq!(out.len() as u64, u(g, "len"), "{what}: output length");
    let head = b64_f32(&g["head"]);
    let mid = b64_f32(&g["mid"]);
    let tail = b64_f32(&g["tail"]);
    let ms = u(g, "mid_start") as usize;
    let n = out.len();
    let mut err = max_abs_diff(&out[..head.len()], &head);
    err = err.max(max_abs_diff(&out[ms..ms + mid.len()], &mid));
    err = err.max(max_abs_diff(&out[n - tail.len()..], &tail));
    let sumsq: f64 = out.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    let rel = (sumsq - f(g, "sumsq")).abs() / f(g, "sumsq").max(1e-30);
    assert!(rel < 1e-5, "{what}: energy differs (relative {rel:e})");
    err
}
