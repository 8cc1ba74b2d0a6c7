//! `unidecode` against goldens written by `scripts/gen_unidecode_table.py` from Python
//! Unidecode 1.3.6: a sample of code points across all blocks, real text in many scripts,
//! and (ignored, needs `--full-dump`) every Unicode scalar value.

use clamp3_formats::unidecode::{unidecode, unidecode_char};
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_json(rel: &str) -> serde_json::Value {
    let path = repo_root().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

#[test]
fn sampled_code_points_match_python() {
    let golden = read_json("fixtures/unidecode/sample.json");
    let pairs = golden.as_array().expect("array");
    assert!(
        pairs.len() > 3000,
        "sample unexpectedly small: {}",
        pairs.len()
    );
    let mut failures = Vec::new();
    for pair in pairs {
        let cp = pair[0].as_u64().expect("code point") as u32;
        let want = pair[1].as_str().expect("string");
        let ch = char::from_u32(cp).expect("scalar value");
        let got = unidecode_char(ch);
        if got != want {
            failures.push(format!("U+{cp:04X}: got {got:?}, want {want:?}"));
        }
        assert_eq!(unidecode(&ch.to_string()), want);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn real_text_matches_python() {
    let golden = read_json("fixtures/unidecode/texts.json");
    let pairs = golden.as_array().expect("array");
    assert!(!pairs.is_empty());
    for pair in pairs {
        let input = pair[0].as_str().expect("input");
        let want = pair[1].as_str().expect("output");
        assert_eq!(unidecode(input), want, "input {input:?}");
    }
}

#[test]
fn known_values() {
    // Values printed by Python: unidecode("北京") etc. (Unidecode 1.3.6).
    assert_eq!(unidecode("\u{5317}\u{4EB0}"), "Bei Jing ");
    assert_eq!(unidecode("Κνωσός"), "Knosos");
    assert_eq!(unidecode("\u{bd}"), " 1/2");
    assert_eq!(unidecode("a\u{2028}b"), "a\nb");
    assert_eq!(unidecode("\u{e000}x\u{10ffff}"), "x");
}

/// Every scalar value against `testdata/unidecode/full.tsv`
/// (`python scripts/gen_unidecode_table.py --full-dump`).
#[test]
#[ignore = "needs testdata/unidecode/full.tsv from scripts/gen_unidecode_table.py --full-dump"]
fn exhaustive_against_full_dump() {
    let path = repo_root().join("testdata/unidecode/full.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run `python scripts/gen_unidecode_table.py --full-dump`",
            path.display()
        )
    });
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for line in text.lines() {
        let (cp_hex, out_hex) = line.split_once('\t').expect("tab-separated line");
        let cp = u32::from_str_radix(cp_hex, 16).expect("hex code point");
        let want: Vec<u8> = (0..out_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&out_hex[i..i + 2], 16).expect("hex byte"))
            .collect();
        let ch = char::from_u32(cp).expect("scalar value");
        let got = unidecode_char(ch);
        if got.as_bytes() != want.as_slice() {
            failures.push(format!(
                "U+{cp:04X}: got {got:?}, want {:?}",
                String::from_utf8_lossy(&want)
            ));
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        0x110000 - 0x800,
        "dump must list every scalar value"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    eprintln!("unidecode: {checked}/{checked} scalar values identical to Python Unidecode");
}
