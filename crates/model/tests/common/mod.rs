//! Shared helpers for the model parity tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

/// `<repo>/<rel>`.
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A golden tensor: shape and values (floats as f32, integers as i64).
pub struct Golden {
    pub shape: Vec<usize>,
    pub f32: Vec<f32>,
    pub ints: Vec<i64>,
}

/// Reads every tensor of a goldens `.safetensors` file.
pub fn read_goldens(rel: &str) -> HashMap<String, Golden> {
    let path = repo(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let (f, i) = match view.dtype() {
            safetensors::Dtype::F32 => (
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                vec![],
            ),
            safetensors::Dtype::I64 => (
                vec![],
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            safetensors::Dtype::U8 => (vec![], data.iter().map(|&b| i64::from(b)).collect()),
            d => panic!("unexpected dtype {d:?} for {name}"),
        };
        out.insert(
            name,
            Golden {
                shape: view.shape().to_vec(),
                f32: f,
                ints: i,
            },
        );
    }
    out
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += f64::from(*x) * f64::from(*y);
        aa += f64::from(*x) * f64::from(*x);
        bb += f64::from(*y) * f64::from(*y);
    }
    ab / (aa.sqrt() * bb.sqrt())
}

pub fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts per-vector cosine >= `min_cos` and max abs error <= `max_err` for rows of `dim`.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], dim: usize, min_cos: f64, max_err: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst_cos = 1f64;
    for (g, w) in got.chunks(dim).zip(want.chunks(dim)) {
        worst_cos = worst_cos.min(cosine(g, w));
    }
    let err = max_abs(got, want);
    eprintln!("{what}: worst cosine {worst_cos:.9}, max abs err {err:.3e}");
    assert!(
        worst_cos >= min_cos,
        "{what}: cosine {worst_cos} < {min_cos}"
    );
    assert!(err <= max_err, "{what}: max abs error {err} > {max_err}");
}
