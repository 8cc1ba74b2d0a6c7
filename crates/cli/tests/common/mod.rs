//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clamp3_model::{synthetic, Clamp3Config};

pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

pub fn clamp3() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clamp3"))
}

/// Runs `clamp3 ARGS...` to completion.
pub fn run(args: &[&OsStr]) -> Output {
    clamp3().args(args).output().unwrap()
}

/// An argument as an `OsStr`, so that strings and paths mix in one `run` call.
pub fn os<T: AsRef<OsStr> + ?Sized>(s: &T) -> &OsStr {
    s.as_ref()
}

/// A finished command's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `v` as a `(1, len)` `.npy` embedding file, creating its folder.
pub fn write_vec(p: &Path, v: &[f32]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, clamp3_formats::npy::write_npy(&[1, v.len()], v)).unwrap();
}

/// A model directory: the tiny config, synthetic weights, the real XLM-R tokenizer.
pub fn tiny_model_dir(dir: &Path) -> PathBuf {
    let m = dir.join("tiny-model");
    std::fs::create_dir_all(&m).unwrap();
    let cfg_text = std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap();
    std::fs::write(m.join("config.json"), &cfg_text).unwrap();
    let cfg = Clamp3Config::from_json(&cfg_text).unwrap();
    synthetic::write_safetensors(&cfg, &m.join("model.safetensors")).unwrap();
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh");
    std::fs::copy(tok, m.join("tokenizer.json")).unwrap();
    m
}

pub fn golden_global(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(repo("fixtures/model/tiny/goldens.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v = st.tensor(&format!("{name}/global")).unwrap();
    v.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn read_npy(p: &Path) -> clamp3_formats::npy::NpyArray {
    clamp3_formats::npy::read_npy(
        &std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}
