//! Goldens for standard ABC -> interleaved ABC (`fixtures/abc`, made by
//! `scripts/conformance/pick_abc_fixtures.py` from the reference oracle's results).
//!
//! - `<name>.abc` + `<name>.interleaved.abc`: the output must be byte-identical, and the
//!   printed warnings must equal `<name>.warnings` (absent: none).
//! - `errors/<name>.abc` + `errors/<name>.error`: the reference writes no output; Rust must
//!   fail, for the same reason as the reference's message says.

use std::fs;
use std::path::{Path, PathBuf};

use clamp3_formats::interleave::{
    interleave_abc, interleave_abc_with_warnings, InterleaveError, Stage, VoiceProblem,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/abc")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".abc") && !n.ends_with(".interleaved.abc")
        })
        .collect();
    v.sort();
    v
}

fn sibling(p: &Path, ext: &str) -> PathBuf {
    p.with_extension(ext)
}

#[test]
fn converted_inputs_match_the_reference_byte_for_byte() {
    let files = inputs(&fixtures());
    assert!(files.len() >= 30, "only {} goldens", files.len());
    let mut failures = Vec::new();
    for input in &files {
        let text = String::from_utf8(fs::read(input).unwrap()).expect("fixture is UTF-8");
        let expected = fs::read(sibling(input, "interleaved.abc")).unwrap();
        let expected_warnings = fs::read_to_string(sibling(input, "warnings")).unwrap_or_default();
        match interleave_abc_with_warnings(&text) {
            Ok(out) => {
                if out.abc.as_bytes() != expected.as_slice() {
                    failures.push(format!("{}: output differs", input.display()));
                }
                let warnings: String = out.warnings.iter().map(|w| format!("{w}\n")).collect();
                if warnings != expected_warnings {
                    failures.push(format!(
                        "{}: warnings {warnings:?}, reference {expected_warnings:?}",
                        input.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: fails: {e}", input.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether the Rust error is the failure the reference's printed message names.
fn same_failure(reference: &str, e: &InterleaveError) -> bool {
    use InterleaveError as E;
    if reference.starts_with("empty file") {
        matches!(e, E::EmptyInput)
    } else if reference.contains("tunebody index not found.") {
        matches!(e, E::NoBody)
    } else if let Some(rest) = reference
        .lines()
        .find_map(|l| l.strip_prefix("Error in stripping empty bars: "))
    {
        let problem = match rest {
            "list index out of range" => {
                vec![VoiceProblem::NoMusic, VoiceProblem::MissingRightBarline]
            }
            "Unequal bar elements" => vec![VoiceProblem::UnequalBarElements],
            _ => vec![],
        };
        matches!(e, E::Voice { stage: Stage::StripEmptyBars, problem: p, .. } if problem.contains(p))
    } else if reference.contains("Failed to strip") && reference.contains("Empty piece.") {
        matches!(e, E::EmptyPiece)
    } else if reference.contains("Failed to strip") {
        matches!(e, E::UnequalBarCounts { .. })
    } else if let Some(chord) = reference
        .lines()
        .find_map(|l| l.strip_prefix("Illegal symbol in [] "))
    {
        matches!(e, E::IllegalChordSymbol { chord: c } if c == chord)
    } else if reference.contains("Error in rotating: list index out of range") {
        matches!(
            e,
            E::MissingBar {
                stage: Stage::Rotate,
                ..
            }
        )
    } else if reference.ends_with("Unequal bar elements\n") {
        matches!(
            e,
            E::Voice {
                stage: Stage::AlignmentCheck,
                problem: VoiceProblem::UnequalBarElements,
                ..
            }
        )
    } else if reference.ends_with("list index out of range\n") {
        matches!(
            e,
            E::MissingBar {
                stage: Stage::AlignmentCheck,
                ..
            } | E::Voice {
                stage: Stage::AlignmentCheck,
                problem: VoiceProblem::NoMusic | VoiceProblem::MissingRightBarline,
                ..
            }
        )
    } else {
        false
    }
}

#[test]
fn failing_inputs_fail_like_the_reference() {
    let files = inputs(&fixtures().join("errors"));
    assert!(files.len() >= 15, "only {} error fixtures", files.len());
    let mut failures = Vec::new();
    for input in &files {
        let text = String::from_utf8(fs::read(input).unwrap()).expect("fixture is UTF-8");
        let reference = fs::read_to_string(sibling(input, "error")).unwrap();
        match interleave_abc(&text) {
            Ok(_) => failures.push(format!("{}: converts, reference fails", input.display())),
            Err(e) if !same_failure(&reference, &e) => failures.push(format!(
                "{}: fails with `{e}`, reference: {reference:?}",
                input.display()
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
