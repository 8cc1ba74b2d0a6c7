//! Embedding throughput at the official model size (synthetic weights), per modality, with peak
//! memory, beside the same job in PyTorch when it is installed.
//!
//!     cargo bench -p clamp3 --bench embed
//!     CLAMP3_BENCH_PYTHON=venv/bin/python cargo bench -p clamp3 --bench embed   # with PyTorch
//!
//! The PyTorch side (`scripts/bench/embed_torch.py`) runs the reference procedure (one segment
//! at a time, padded to the full segment length) and, for an engine-to-engine comparison, the
//! same with padding only to the input's length. Needs `scripts/fetch-test-data.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clamp3::{Device, Embedder, Sequence, TextTokenizer};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Modality, Parts};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Deterministic pseudo-random features `[n, 768]` for the audio inputs.
fn features(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n * 768)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / 16_777_216.0 - 0.5) * 2.0
        })
        .collect()
}

fn main() {
    let threads = std::env::var("BENCH_THREADS").unwrap_or_else(|_| "2".into());
    std::env::set_var("RAYON_NUM_THREADS", &threads);
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh first");
    let t = Instant::now();
    let cfg = Clamp3Config::default();
    let model =
        Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).expect("model");
    let e = Embedder::from_parts(
        model,
        Some(TextTokenizer::from_file(&tok).expect("tokenizer")),
    )
    .expect("embedder");
    let load_s = t.elapsed().as_secs_f64();

    // The fixed input set: real texts and scores from the fixtures, synthetic MERT features.
    let inputs = repo("fixtures/model/inputs");
    let mut seqs: Vec<Sequence> = Vec::new();
    let multilingual = std::fs::read_to_string(inputs.join("multilingual.txt")).expect("fixture");
    let titles = std::fs::read_to_string(inputs.join("essen_titles_long.txt")).expect("fixture");
    for line in multilingual
        .lines()
        .chain(titles.lines().step_by(10))
        .filter(|l| !l.is_empty())
    {
        seqs.push(e.preparer().text(line).expect("text"));
    }
    seqs.push(e.preparer().text(&titles).expect("text"));
    for f in [
        "bach_bwv66_6.abc",
        "bach_nonascii.abc",
        "essen_han1_tune3.abc",
        "beethoven_op18no1_mvmt1.abc",
        "essen_han1_tune3.mtf",
        "openttd_boogi_marabi.mtf",
    ] {
        let text = std::fs::read_to_string(inputs.join(f)).expect("fixture");
        seqs.push(e.preparer().symbolic(&text).expect("patches"));
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut audio_files = Vec::new();
    for (i, n) in [24usize, 60, 36, 130, 12, 48].into_iter().enumerate() {
        let f = features(i as u64 + 1, n);
        let p = tmp.path().join(format!("a{i}.npy"));
        clamp3::output::write_npy(&p, &[1, n, 768], &f).expect("write");
        audio_files.push(p);
        seqs.push(Sequence::audio(&f, 768));
    }

    println!("CLaMP 3 embedding benchmark: official size (457.9M parameters), synthetic weights, {threads} threads");
    println!("model build: {load_s:.2} s");
    println!(
        "{:<9} {:>6} {:>9} {:>10} {:>10} {:>12} {:>12} {:>9} {:>9}",
        "modality",
        "items",
        "segments",
        "rust s",
        "items/s",
        "torch-ref s",
        "torch-dyn s",
        "x ref",
        "x dyn"
    );
    let torch = torch_results(&seqs, &audio_files);
    for m in Modality::ALL {
        let batch: Vec<&Sequence> = seqs.iter().filter(|s| s.modality() == m).collect();
        let segs: usize = batch
            .iter()
            .map(|s| s.len().div_ceil(e.model().segment_length(m)))
            .sum();
        e.model().embed(&batch[..1], 8).expect("warm-up");
        let t = Instant::now();
        e.model().embed(&batch, 8).expect("embed");
        let dt = t.elapsed().as_secs_f64();
        let (tr, td) = torch
            .as_ref()
            .and_then(|v| {
                let r = &v["modalities"][m.as_str()];
                Some((
                    r["reference"]["seconds"].as_f64()?,
                    r["dynamic"]["seconds"].as_f64()?,
                ))
            })
            .unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<9} {:>6} {:>9} {:>10.3} {:>10.2} {:>12.3} {:>12.3} {:>9.2} {:>9.2}",
            m.as_str(),
            batch.len(),
            segs,
            dt,
            batch.len() as f64 / dt,
            tr,
            td,
            tr / dt,
            td / dt
        );
    }
    println!("peak memory: rust {:.0} MB", peak_rss_mb());
    match &torch {
        Some(v) => println!(
            "peak memory: torch {:.0} MB (x ref = PyTorch seconds / Rust seconds with the reference procedure; x dyn = without padding to the segment length)",
            v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
        ),
        None => println!("PyTorch not available: set CLAMP3_BENCH_PYTHON to a python with torch + transformers 4.40 for the comparison"),
    }
}

/// Runs the PyTorch side on the same prepared inputs, if a Python with torch is available.
fn torch_results(seqs: &[Sequence], audio_files: &[PathBuf]) -> Option<serde_json::Value> {
    let python = std::env::var("CLAMP3_BENCH_PYTHON").ok()?;
    let mut items = Vec::new();
    let mut audio = audio_files.iter();
    for s in seqs {
        items.push(match s {
            Sequence::Text(ids) => serde_json::json!({"modality": "text", "data": ids}),
            Sequence::Symbolic { ids, patch_size } => serde_json::json!({
                "modality": "symbolic",
                "data": ids.chunks(*patch_size).collect::<Vec<_>>()
            }),
            Sequence::Audio { .. } => {
                serde_json::json!({"modality": "audio", "data": audio.next()?.to_string_lossy()})
            }
        });
    }
    let dir = tempfile::tempdir().ok()?;
    let list = dir.path().join("items.json");
    std::fs::write(&list, serde_json::to_vec(&items).ok()?).ok()?;
    let script = repo("scripts/bench/embed_torch.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(Path::new(&list))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last()?).ok()
}
