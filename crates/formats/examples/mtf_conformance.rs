//! MIDI -> MTF conformance check against the reference's output (docs/reference.md §5.5).
//!
//! ```text
//! cargo run --release -p clamp3-formats --example mtf_conformance -- \
//!     <corpora_root> <oracle_root> [--all-meta] [--show N] [corpus ...]
//! ```
//!
//! `<corpora_root>/<corpus>/...` holds MIDI files (built by
//! `scripts/conformance/build_midi_corpora.sh`); `<oracle_root>/<corpus>/...` mirrors it with
//! the reference's `<stem>.mtf` or `<stem>.error` (written by
//! `scripts/conformance/mtf_oracle.py`). Every file is converted with
//! [`clamp3_formats::mtf::midi_to_mtf`] and compared byte for byte: a file passes when both
//! sides give the same text, or both reject it. Prints per corpus `matched/total` with the
//! text and error agreement, the first mismatches with a short diff, and the Rust time (file
//! read + conversion, summed over files) as `rust_seconds <float>`. Exits non-zero on any
//! mismatch.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clamp3_formats::mtf::{midi_to_mtf_with_options, MtfOptions};

/// Every `*.mid` / `*.midi` file below `dir` (the reference's suffix test), sorted.
fn midi_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_type()?.is_dir() {
            midi_files(&path, out)?;
        } else {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".mid") || name.ends_with(".midi") {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// The oracle files for `file`: `<oracle>/<relative dir>/<stem>.mtf|.error`, where the stem
/// drops the last extension (the reference's naming).
fn oracle_paths(file: &Path, corpus_root: &Path, oracle_root: &Path) -> (PathBuf, PathBuf) {
    let rel = file.strip_prefix(corpus_root).unwrap_or(file);
    let dir = oracle_root.join(rel.parent().unwrap_or(Path::new("")));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = match name.rfind('.') {
        Some(i) => name[..i].to_string(),
        None => String::new(),
    };
    (
        dir.join(format!("{stem}.mtf")),
        dir.join(format!("{stem}.error")),
    )
}

/// A few lines around the first difference.
fn short_diff(expected: &str, got: &str) -> String {
    let e: Vec<&str> = expected.split('\n').collect();
    let g: Vec<&str> = got.split('\n').collect();
    let first = e
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    let mut s = format!(
        "    first difference at line {} (expected {} lines, got {})\n",
        first + 1,
        e.len(),
        g.len()
    );
    for i in first.saturating_sub(1)..(first + 3) {
        let a = e.get(i).copied();
        let b = g.get(i).copied();
        if a.is_none() && b.is_none() {
            break;
        }
        let mark = if a == b { ' ' } else { '!' };
        s += &format!(
            "    {mark} {:>6} expected: {}\n",
            i + 1,
            a.unwrap_or("<none>")
        );
        if a != b {
            s += &format!(
                "    {mark} {:>6} got:      {}\n",
                i + 1,
                b.unwrap_or("<none>")
            );
        }
    }
    s
}

#[derive(Default)]
struct Tally {
    total: usize,
    text_total: usize,
    text_match: usize,
    err_total: usize,
    err_agree: usize,
    missing_oracle: usize,
    time: Duration,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut options = MtfOptions::default();
    let mut show = 5usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--all-meta" => options.m3_compatible = false,
            "--show" => show = args.next().and_then(|v| v.parse().ok()).unwrap_or(show),
            _ => positional.push(a),
        }
    }
    if positional.len() < 2 {
        eprintln!("usage: mtf_conformance <corpora_root> <oracle_root> [--all-meta] [--show N] [corpus ...]");
        return ExitCode::from(2);
    }
    let corpora_root = PathBuf::from(&positional[0]);
    let oracle_root = PathBuf::from(&positional[1]);
    let mut corpora: Vec<String> = positional[2..].to_vec();
    if corpora.is_empty() {
        let Ok(rd) = fs::read_dir(&corpora_root) else {
            eprintln!("cannot read {}", corpora_root.display());
            return ExitCode::from(2);
        };
        corpora = rd
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        corpora.sort();
    }

    let mut all_ok = true;
    let mut grand = Tally::default();
    for corpus in &corpora {
        let root = corpora_root.join(corpus);
        let oroot = oracle_root.join(corpus);
        let mut files = Vec::new();
        if let Err(e) = midi_files(&root, &mut files) {
            eprintln!("{corpus}: cannot list {}: {e}", root.display());
            all_ok = false;
            continue;
        }
        let mut t = Tally::default();
        let mut shown = 0usize;
        for file in &files {
            t.total += 1;
            let start = Instant::now();
            let result = fs::read(file).map(|bytes| midi_to_mtf_with_options(&bytes, options));
            t.time += start.elapsed();
            let result = match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", file.display());
                    all_ok = false;
                    continue;
                }
            };
            let (mtf_path, err_path) = oracle_paths(file, &root, &oroot);
            let verdict: Option<String> = if let Ok(expected) = fs::read_to_string(&mtf_path) {
                t.text_total += 1;
                match &result {
                    Ok(got) if *got == expected => {
                        t.text_match += 1;
                        None
                    }
                    Ok(got) => Some(format!("text differs\n{}", short_diff(&expected, got))),
                    Err(e) => Some(format!("reference converts it, Rust rejects it: {e}")),
                }
            } else if let Ok(reason) = fs::read_to_string(&err_path) {
                t.err_total += 1;
                match &result {
                    Err(_) => {
                        t.err_agree += 1;
                        None
                    }
                    Ok(_) => Some(format!("reference rejects it ({reason}), Rust converts it")),
                }
            } else {
                t.missing_oracle += 1;
                Some(format!("no oracle output ({})", mtf_path.display()))
            };
            if let Some(v) = verdict {
                all_ok = false;
                if shown < show {
                    shown += 1;
                    println!("  MISMATCH {}: {v}", file.display());
                }
            }
        }
        let matched = t.text_match + t.err_agree;
        println!(
            "{corpus:<10} matched {matched}/{}  texts {}/{}  errors agree {}/{}{}  rust {:.3}s",
            t.total,
            t.text_match,
            t.text_total,
            t.err_agree,
            t.err_total,
            if t.missing_oracle > 0 {
                format!("  missing oracle {}", t.missing_oracle)
            } else {
                String::new()
            },
            t.time.as_secs_f64()
        );
        grand.total += t.total;
        grand.text_total += t.text_total;
        grand.text_match += t.text_match;
        grand.err_total += t.err_total;
        grand.err_agree += t.err_agree;
        grand.time += t.time;
    }
    println!(
        "{:<10} matched {}/{}  texts {}/{}  errors agree {}/{}",
        "ALL",
        grand.text_match + grand.err_agree,
        grand.total,
        grand.text_match,
        grand.text_total,
        grand.err_agree,
        grand.err_total
    );
    println!("rust_seconds {:.6}", grand.time.as_secs_f64());
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
