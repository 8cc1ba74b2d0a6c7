//! Patchilizer speed and large-corpus conformance.
//!
//! ```text
//! cargo run --release -p clamp3-formats --example patch_bench -- <dir> \
//!     [--expected <expected.tsv>] [--repeat N]
//! ```
//!
//! Encodes every file under `<dir>/{abc,mtf,random}` (see `scripts/golden/patch_corpus.py`),
//! compares each result with `expected.tsv` (patch count and FNV-1a 64 digest of the flat
//! ids, written by the Python oracle), prints matched/total per sub-folder, then times
//! `repeat` passes over the abc/ and mtf/ files and prints patches per second
//! (compare with `patch_corpus.py time`).

use clamp3_formats::patch::{PatchError, Patchilizer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// FNV-1a 64, the digest `patch_corpus.py` writes.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Same line format as `expected.tsv` after the file name.
fn result_line(p: &Patchilizer, text: &str) -> String {
    match p.encode(text) {
        Ok(patches) => format!("{}\t{:016x}", patches.len(), fnv1a(patches.as_flat())),
        Err(PatchError::Empty) => "0\terror:empty".to_string(),
        Err(PatchError::LoneBarline { line_number, .. }) => {
            format!("0\terror:lone_barline:{line_number}")
        }
        Err(e) => format!("0\terror:{e}"),
    }
}

fn files(dir: &Path, sub: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir.join(sub)) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: patch_bench <dir> [--expected F] [--repeat N]")?,
    );
    let mut expected_path = None;
    let mut repeat = 5usize;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--expected" => expected_path = it.next().cloned(),
            "--repeat" => repeat = it.next().ok_or("--repeat N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let expected: HashMap<String, String> = match &expected_path {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        None => HashMap::new(),
    };

    let p = Patchilizer::new();
    let mut timed_texts = Vec::new();
    for sub in ["abc", "mtf", "random"] {
        let list = files(&dir, sub)?;
        let (mut matched, mut compared) = (0usize, 0usize);
        for path in &list {
            let text = String::from_utf8(std::fs::read(path)?)?;
            let key = format!(
                "{sub}/{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("")
            );
            if let Some(want) = expected.get(&key) {
                compared += 1;
                let got = result_line(&p, &text);
                if &got == want {
                    matched += 1;
                } else {
                    println!("MISMATCH {key}: got {got}, want {want}");
                }
            }
            if sub != "random" {
                timed_texts.push(text);
            }
        }
        if !expected.is_empty() {
            println!(
                "{sub}: {matched}/{compared} match the Python oracle ({} files)",
                list.len()
            );
        }
    }

    let mut patches = 0usize;
    let start = Instant::now();
    for _ in 0..repeat {
        for text in &timed_texts {
            if let Ok(ps) = p.encode(text) {
                patches += ps.len();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rust: {} files x {repeat}, {patches} patches in {secs:.3} s = {:.0} patches/s",
        timed_texts.len(),
        patches as f64 / secs
    );
    Ok(())
}
