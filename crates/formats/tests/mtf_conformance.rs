//! MIDI -> MTF against the committed goldens of the reference conversion (mido 1.3.0).
//!
//! `fixtures/mtf/<name>.mid` with the reference's `<name>.mtf` (m3-compatible, the reference
//! setting), `fixtures/mtf/all_meta/<name>.mtf` (text-like meta messages kept), and
//! `fixtures/mtf/errors/<name>.mid`, files the reference rejects (its exception in
//! `<name>.error`). Built by `scripts/conformance/make_mtf_fixtures.sh`; sources and licences
//! in `fixtures/mtf/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

use clamp3_formats::mtf::{midi_to_mtf, midi_to_mtf_with_options, MtfOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/mtf")
}

/// Files in `dir` with extension `ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The first differing line, for a readable failure.
fn first_diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<_>, Vec<_>) = (expected.split('\n').collect(), got.split('\n').collect());
    let i = e
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    format!(
        "line {}: expected {:?}, got {:?} ({} vs {} lines)",
        i + 1,
        e.get(i),
        g.get(i),
        e.len(),
        g.len()
    )
}

#[test]
fn accepted_files_match_the_reference() {
    let dir = fixtures();
    let mids = files(&dir, "mid");
    assert!(
        mids.len() >= 40,
        "expected the committed fixtures, found {}",
        mids.len()
    );
    let mut failures = Vec::new();
    for mid in &mids {
        let expected = String::from_utf8(read(&mid.with_extension("mtf"))).unwrap_or_default();
        match midi_to_mtf(&read(mid)) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "{}: {}",
                mid.display(),
                first_diff(&expected, &got)
            )),
            Err(e) => failures.push(format!("{}: rejected: {e}", mid.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        mids.len(),
        failures.join("\n")
    );
}

#[test]
fn all_meta_mode_matches_the_reference() {
    let dir = fixtures();
    let goldens = files(&dir.join("all_meta"), "mtf");
    assert!(!goldens.is_empty());
    let options = MtfOptions {
        m3_compatible: false,
    };
    for golden in &goldens {
        let Some(name) = golden.file_name() else {
            continue;
        };
        let mid = dir.join(name).with_extension("mid");
        let expected = String::from_utf8(read(golden)).unwrap_or_default();
        match midi_to_mtf_with_options(&read(&mid), options) {
            Ok(got) => assert!(
                got == expected,
                "{}: {}",
                mid.display(),
                first_diff(&expected, &got)
            ),
            Err(e) => panic!("{}: rejected: {e}", mid.display()),
        }
    }
}

#[test]
fn rejected_files_are_rejected() {
    let dir = fixtures().join("errors");
    let mids = files(&dir, "mid");
    assert!(
        mids.len() >= 20,
        "expected the committed error fixtures, found {}",
        mids.len()
    );
    for mid in &mids {
        assert!(
            mid.with_extension("error").is_file(),
            "{}: no reference error",
            mid.display()
        );
        let result = midi_to_mtf(&read(mid));
        assert!(
            result.is_err(),
            "{}: the reference rejects it, got {:?}",
            mid.display(),
            result
        );
    }
}
