//! Conformance of [`clamp3_formats::interleave`] with the reference, byte for byte.
//!
//! ```text
//! cargo run --release -p clamp3-formats --example interleave_conformance -- \
//!     testdata/corpora/abc testdata/oracle/interleave [--show N]
//! ```
//!
//! For every input under the corpora root (the files abctoolkit's `find_all_abc` finds: names
//! ending in `.abc` or `txt`), compares the Rust result with the oracle's
//! (`scripts/conformance/interleave_oracle.py`): `<stem>.abc` must be byte-identical, a
//! `<stem>.error` must be matched by an error. Also compares the printed warnings
//! (`<stem>.log`) and the kind of failure. Prints per corpus (first path component) the
//! counts, the first mismatches with a short diff, and the time spent in the Rust converter
//! (`RUST_SECONDS`, file reading excluded). Exits with status 1 on any output or failure
//! mismatch.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clamp3_formats::interleave::{interleave_abc_bytes, InterleaveError, Interleaved, Stage};

#[derive(Default)]
struct Counts {
    total: usize,
    ref_ok: usize,
    ok_identical: usize,
    ref_err: usize,
    err_agree: usize,
    warn_agree: usize,
    kind_agree: usize,
    missing: usize,
    seconds: f64,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            let name = path.to_string_lossy();
            if name.ends_with(".abc") || name.ends_with("txt") {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// Coarse kind of a reference failure, from what the oracle recorded.
fn reference_kind(printed: &str) -> &'static str {
    if printed.starts_with("empty file") {
        "empty input"
    } else if printed.contains("codec can't decode") {
        "not UTF-8"
    } else if printed.contains("tunebody index not found.") {
        "no body"
    } else if printed.contains("Error in stripping empty bars:") {
        "voice parse (strip)"
    } else if printed.contains("Failed to strip") && printed.contains("Empty piece.") {
        "empty piece"
    } else if printed.contains("Failed to strip") {
        "unequal bar counts"
    } else if printed.contains("Illegal symbol in []") {
        "illegal chord"
    } else if printed.contains("Error in rotating:") {
        "rotate"
    } else {
        "alignment check"
    }
}

fn rust_kind(e: &InterleaveError) -> &'static str {
    match e {
        InterleaveError::EmptyInput => "empty input",
        InterleaveError::NotUtf8 { .. } => "not UTF-8",
        InterleaveError::NoBody => "no body",
        InterleaveError::Voice {
            stage: Stage::StripEmptyBars,
            ..
        } => "voice parse (strip)",
        InterleaveError::UnequalBarCounts { .. } => "unequal bar counts",
        InterleaveError::EmptyPiece => "empty piece",
        InterleaveError::IllegalChordSymbol { .. } => "illegal chord",
        InterleaveError::Voice {
            stage: Stage::Rotate,
            ..
        }
        | InterleaveError::MissingBar {
            stage: Stage::Rotate,
            ..
        } => "rotate",
        InterleaveError::Voice { .. } | InterleaveError::MissingBar { .. } => "alignment check",
    }
}

fn short_diff(expected: &str, got: &str) -> String {
    let (mut e, mut g) = (expected.split_inclusive('\n'), got.split_inclusive('\n'));
    let mut n = 1;
    loop {
        match (e.next(), g.next()) {
            (None, None) => return "identical".into(),
            (a, b) if a == b => n += 1,
            (a, b) => {
                let cut = |s: Option<&str>| {
                    s.map_or("<end>".to_string(), |s| {
                        s.chars().take(160).collect::<String>()
                    })
                };
                return format!(
                    "line {n}:\n      ref:  {:?}\n      rust: {:?}",
                    cut(a),
                    cut(b)
                );
            }
        }
    }
}

enum Outcome {
    Ok(Interleaved),
    Err(InterleaveError),
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut show = 10usize;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--show" {
            show = it.next().and_then(|s| s.parse().ok()).unwrap_or(show);
        } else {
            pos.push(PathBuf::from(a));
        }
    }
    let (Some(corpora), Some(oracle)) = (pos.first(), pos.get(1)) else {
        eprintln!("usage: interleave_conformance CORPORA_ROOT ORACLE_ROOT [--show N]");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    if let Err(e) = collect(corpora, &mut files) {
        eprintln!("cannot read {}: {e}", corpora.display());
        std::process::exit(2);
    }
    files.sort();

    let mut per: BTreeMap<String, Counts> = BTreeMap::new();
    let mut rust_time = Duration::ZERO;
    let mut slowest: Vec<(Duration, PathBuf)> = Vec::new();
    let mut shown = 0usize;
    let mut output_mismatches = 0usize;
    let mut warning_mismatches_shown = 0usize;
    for path in &files {
        let rel = path.strip_prefix(corpora).unwrap_or(path);
        let corpus = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = oracle.join(rel.with_extension(""));
        let with_ext = |ext: &str| {
            let mut s = stem.clone().into_os_string();
            s.push(ext);
            PathBuf::from(s)
        };
        let Ok(bytes) = fs::read(path) else {
            eprintln!("cannot read {}", path.display());
            continue;
        };
        let expected_ok = fs::read(with_ext(".abc")).ok();
        let expected_err = fs::read_to_string(with_ext(".error")).ok();
        let expected_log = fs::read_to_string(with_ext(".log")).unwrap_or_default();

        let t0 = Instant::now();
        let outcome = match interleave_abc_bytes(&bytes) {
            Ok(r) => Outcome::Ok(r),
            Err(e) => Outcome::Err(e),
        };
        let elapsed = t0.elapsed();
        rust_time += elapsed;
        slowest.push((elapsed, rel.to_path_buf()));
        if slowest.len() > 64 {
            slowest.sort_by_key(|e| std::cmp::Reverse(e.0));
            slowest.truncate(5);
        }

        let c = per.entry(corpus).or_default();
        c.total += 1;
        c.seconds += elapsed.as_secs_f64();
        let mut report = |what: String| {
            if shown < show {
                println!("MISMATCH {}: {what}", rel.display());
                shown += 1;
            }
        };
        match (&expected_ok, &expected_err, &outcome) {
            (Some(exp), _, Outcome::Ok(r)) => {
                c.ref_ok += 1;
                if exp.as_slice() == r.abc.as_bytes() {
                    c.ok_identical += 1;
                } else {
                    output_mismatches += 1;
                    report(format!(
                        "output differs, {}",
                        short_diff(&String::from_utf8_lossy(exp), &r.abc)
                    ));
                }
                let ours: String = r.warnings.iter().map(|w| format!("{w}\n")).collect();
                if ours == expected_log {
                    c.warn_agree += 1;
                } else if warning_mismatches_shown < show {
                    warning_mismatches_shown += 1;
                    println!(
                        "WARNINGS {}: ref {:?} rust {:?}",
                        rel.display(),
                        expected_log.chars().take(300).collect::<String>(),
                        ours.chars().take(300).collect::<String>()
                    );
                }
            }
            (Some(_), _, Outcome::Err(e)) => {
                c.ref_ok += 1;
                output_mismatches += 1;
                report(format!("reference converts, Rust fails: {e}"));
            }
            (None, Some(printed), Outcome::Ok(_)) => {
                c.ref_err += 1;
                output_mismatches += 1;
                report(format!(
                    "reference fails ({}), Rust converts",
                    printed.trim_end().replace('\n', " / ")
                ));
            }
            (None, Some(printed), Outcome::Err(e)) => {
                c.ref_err += 1;
                c.err_agree += 1;
                if reference_kind(printed) == rust_kind(e) {
                    c.kind_agree += 1;
                } else {
                    report(format!(
                        "both fail, differently: ref {:?} ({}), rust {:?} ({e})",
                        reference_kind(printed),
                        printed.trim_end().replace('\n', " / "),
                        rust_kind(e)
                    ));
                }
            }
            (None, None, _) => {
                c.missing += 1;
                report("no oracle result".into());
            }
        }
    }

    println!();
    println!(
        "{:<22} {:>15} {:>17} {:>17} {:>15} {:>15} {:>9}",
        "corpus",
        "matched/total",
        "identical/ref-ok",
        "fail-agree/ref-f",
        "warnings-agree",
        "fail-kind-agree",
        "seconds"
    );
    let mut all = Counts::default();
    for (name, c) in &per {
        println!(
            "{:<22} {:>15} {:>17} {:>17} {:>15} {:>15} {:>9.3}",
            name,
            format!("{}/{}", c.ok_identical + c.err_agree, c.total),
            format!("{}/{}", c.ok_identical, c.ref_ok),
            format!("{}/{}", c.err_agree, c.ref_err),
            format!("{}/{}", c.warn_agree, c.ref_ok),
            format!("{}/{}", c.kind_agree, c.ref_err),
            c.seconds,
        );
        all.total += c.total;
        all.ref_ok += c.ref_ok;
        all.ok_identical += c.ok_identical;
        all.ref_err += c.ref_err;
        all.err_agree += c.err_agree;
        all.warn_agree += c.warn_agree;
        all.kind_agree += c.kind_agree;
        all.missing += c.missing;
    }
    println!(
        "{:<22} {:>15} {:>17} {:>17} {:>15} {:>15} {:>9.3}",
        "ALL",
        format!("{}/{}", all.ok_identical + all.err_agree, all.total),
        format!("{}/{}", all.ok_identical, all.ref_ok),
        format!("{}/{}", all.err_agree, all.ref_err),
        format!("{}/{}", all.warn_agree, all.ref_ok),
        format!("{}/{}", all.kind_agree, all.ref_err),
        rust_time.as_secs_f64(),
    );
    if all.missing > 0 {
        println!("{} input(s) without an oracle result", all.missing);
    }
    println!(
        "Rust wall time in interleave_abc: {:.3} s for {} files",
        rust_time.as_secs_f64(),
        all.total
    );
    slowest.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (d, p) in slowest.iter().take(5) {
        println!(
            "  slowest: {:>9.3} ms  {}",
            d.as_secs_f64() * 1e3,
            p.display()
        );
    }
    println!("RUST_SECONDS {:.4}", rust_time.as_secs_f64());
    if output_mismatches > 0 || all.missing > 0 {
        std::process::exit(1);
    }
}
