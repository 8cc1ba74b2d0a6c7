//! Shared helpers of the parity tests: fixture paths and the goldens written by
//! `scripts/golden/gen_blip_goldens.py`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/blip")
}

pub fn image_path(name: &str) -> PathBuf {
    fixtures().join("images").join(name)
}

pub fn image_bytes(name: &str) -> Vec<u8> {
    std::fs::read(image_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn tiny_dir() -> PathBuf {
    fixtures().join("tiny")
}

pub fn goldens() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("goldens.json")).expect("goldens.json");
    serde_json::from_str(&text).expect("goldens.json parses")
}

pub struct GoldenTensors(Vec<u8>);

impl GoldenTensors {
    pub fn load() -> Self {
        GoldenTensors(
            std::fs::read(fixtures().join("goldens.safetensors")).expect("goldens.safetensors"),
        )
    }

    /// A float32 tensor: (values, shape).
    pub fn get(&self, name: &str) -> (Vec<f32>, Vec<usize>) {
        let st = safetensors::SafeTensors::deserialize(&self.0).expect("valid safetensors");
        let t = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("golden tensor {name}"));
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
        let v = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        (v, t.shape().to_vec())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("id list")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}
