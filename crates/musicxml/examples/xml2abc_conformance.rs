//! Conformance check of `clamp3_musicxml` against the reference's xml2abc outputs.
//!
//! ```text
//! cargo run --release -p clamp3-musicxml --example xml2abc_conformance -- CORPUS_ROOT ORACLE_ROOT [--show N] [--timings]
//! ```
//!
//! For every `.xml`, `.musicxml` and `.mxl` file under CORPUS_ROOT, converts it with
//! [`clamp3_musicxml::file_to_abc`] and compares the result with what
//! `scripts/conformance/xml2abc_oracle.py` stored under ORACLE_ROOT (`<name>.abc`, or
//! `<name>.error` when the reference printed nothing). A file matches when the bytes are
//! identical, or when both sides fail. Prints, per collection (top-level folder), the number
//! of matching files, then the first mismatches grouped by the kind of their first differing
//! line, and on the last line `RUST_SECONDS <s>`: the summed time of reading and converting
//! every file (one thread). Exits 1 when anything differs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: xml2abc_conformance CORPUS_ROOT ORACLE_ROOT [--show N]");
        std::process::exit(2);
    }
    let corpus = PathBuf::from(&args[1]);
    let oracle = PathBuf::from(&args[2]);
    let show: usize = args
        .iter()
        .position(|a| a == "--show")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);

    let mut files = Vec::new();
    walk(&corpus, &mut files);
    files.sort();

    #[derive(Default)]
    struct Tally {
        total: usize,
        matched: usize,
        both_failed: usize,
    }
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let mut mismatches: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seconds = 0.0f64;
    let mut timings: Vec<(f64, String)> = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&corpus).unwrap_or(path);
        let coll = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = oracle.join(rel);
        let expected_abc = std::fs::read(with_suffix(&base, ".abc")).ok();
        let expected_err = with_suffix(&base, ".error").exists();
        let t0 = Instant::now();
        let got = clamp3_musicxml::file_to_abc(path);
        let dt = t0.elapsed().as_secs_f64();
        seconds += dt;
        timings.push((dt, rel.display().to_string()));
        let tally = per.entry(coll).or_default();
        tally.total += 1;
        let name = rel.display().to_string();
        match (got, expected_abc, expected_err) {
            (Ok(text), Some(want), _) => {
                if text.as_bytes() == want.as_slice() {
                    tally.matched += 1;
                } else {
                    let want = String::from_utf8_lossy(&want).into_owned();
                    let (kind, detail) = first_difference(&want, &text);
                    mismatches
                        .entry(kind)
                        .or_default()
                        .push(format!("{name}\n{detail}"));
                }
            }
            (Err(_), None, true) => {
                tally.matched += 1;
                tally.both_failed += 1;
            }
            (Err(e), Some(_), _) => mismatches
                .entry("failure: Rust fails, reference converts".into())
                .or_default()
                .push(format!("{name}\n    {e}")),
            (Ok(_), None, true) => mismatches
                .entry("failure: reference fails, Rust converts".into())
                .or_default()
                .push(name),
            (_, None, false) => mismatches
                .entry("missing oracle output".into())
                .or_default()
                .push(name),
        }
    }

    println!(
        "{:<20} {:>7} {:>7} {:>8}  (both-failed)",
        "collection", "matched", "total", "rate"
    );
    let (mut m, mut t) = (0, 0);
    for (coll, tally) in &per {
        println!(
            "{:<20} {:>7} {:>7} {:>7.2}%  ({})",
            coll,
            tally.matched,
            tally.total,
            100.0 * tally.matched as f64 / tally.total.max(1) as f64,
            tally.both_failed
        );
        m += tally.matched;
        t += tally.total;
    }
    println!(
        "{:<20} {:>7} {:>7} {:>7.2}%",
        "ALL",
        m,
        t,
        100.0 * m as f64 / t.max(1) as f64
    );
    if !mismatches.is_empty() {
        println!("\nmismatches by kind of first differing line:");
        for (kind, list) in &mismatches {
            println!("== {kind}: {} file(s)", list.len());
            for item in list.iter().take(show) {
                println!("  {item}");
            }
        }
    }
    if args.iter().any(|a| a == "--timings") {
        timings.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!("\nslowest files:");
        for (dt, name) in timings.iter().take(10) {
            println!("  {:8.1} ms  {name}", dt * 1000.0);
        }
    }
    println!("RUST_SECONDS {seconds:.3}");
    if m != t {
        std::process::exit(1);
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out);
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            if name.ends_with(".xml") || name.ends_with(".mxl") || name.ends_with(".musicxml") {
                out.push(p);
            }
        }
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The kind of the first differing line and a short excerpt of both versions.
fn first_difference(want: &str, got: &str) -> (String, String) {
    let wl: Vec<&str> = want.split('\n').collect();
    let gl: Vec<&str> = got.split('\n').collect();
    let i = (0..wl.len().max(gl.len()))
        .find(|&i| wl.get(i) != gl.get(i))
        .unwrap_or(0);
    let w = wl.get(i).copied().unwrap_or("<none>");
    let g = gl.get(i).copied().unwrap_or("<none>");
    let in_header = !wl[..i.min(wl.len())].iter().any(|l| is_voice_start(l));
    let kind = classify(w, g, in_header);
    // Excerpt around the first differing character.
    let wc: Vec<char> = w.chars().collect();
    let gc: Vec<char> = g.chars().collect();
    let j = (0..wc.len().max(gc.len()))
        .find(|&j| wc.get(j) != gc.get(j))
        .unwrap_or(0);
    let from = j.saturating_sub(40);
    let cut = |c: &[char]| c.iter().skip(from).take(90).collect::<String>();
    (
        kind,
        format!(
            "    line {}, col {}\n    want: {}\n    got:  {}",
            i + 1,
            j + 1,
            cut(&wc),
            cut(&gc)
        ),
    )
}

fn is_voice_start(line: &str) -> bool {
    line.starts_with("V:") && !line.contains(' ')
}

fn classify(want: &str, got: &str, in_header: bool) -> String {
    let line = if want == "<none>" { got } else { want };
    if in_header {
        let field = match line.get(..2).unwrap_or("") {
            "X:" => "index",
            "T:" => "title",
            "C:" => "composer",
            "Z:" => "lyricist/rights",
            "L:" => "unit length",
            "Q:" => "tempo",
            "M:" => "meter",
            "K:" => "key",
            "V:" => "voice/clef/names",
            "I:" => "percussion map",
            _ if line.starts_with("%%score") => "%%score",
            _ => "other",
        };
        return format!("header: {field}");
    }
    if line.starts_with("w:") {
        return "body: lyrics".into();
    }
    if line.starts_with("V:") {
        return "body: voice order/count".into();
    }
    // A music line: look at what surrounds the first differing character.
    let wc: Vec<char> = want.chars().collect();
    let gc: Vec<char> = got.chars().collect();
    let j = (0..wc.len().max(gc.len()))
        .find(|&j| wc.get(j) != gc.get(j))
        .unwrap_or(0);
    let ctx: String = wc
        .iter()
        .skip(j.saturating_sub(12))
        .take(24)
        .chain(gc.iter().skip(j.saturating_sub(12)).take(24))
        .collect();
    let what = if ctx.contains("[K:") {
        "key/clef change"
    } else if ctx.contains("[M:") {
        "meter change"
    } else if ctx.contains("[Q:") {
        "tempo change"
    } else if ctx.contains("[I:") {
        "inline instruction"
    } else if ctx.contains('"') {
        "annotation/chord symbol"
    } else if ctx.contains('!') {
        "decoration/dynamics"
    } else if ctx.contains('(') && ctx.contains(':') {
        "tuplet"
    } else if ctx.contains('{') || ctx.contains('}') {
        "grace notes"
    } else if ctx.contains(":|") || ctx.contains("|:") || ctx.contains("||") || ctx.contains("|]") {
        "barline/repeat/volta"
    } else if ctx.contains('%') {
        "line wrap/bar number"
    } else {
        "notes/durations"
    };
    format!("body: {what}")
}
