//! The patchilizer against the goldens in `fixtures/patches/` (written by
//! `scripts/golden/gen_patch_goldens.py`, whose oracle was checked equal to the reference
//! `M3Patchilizer` class on every input): exact ids, mode and error cases.

use clamp3_formats::patch::{
    decode, patch_to_bar, PatchError, Patchilizer, SymbolicKind, BOS_ID, EOS_ID, PATCH_SIZE,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/patches")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The golden's patches, re-padded with 0 to `patch_size` (the JSON strips trailing pads).
fn golden_patches(g: &Value, patch_size: usize) -> Vec<Vec<u8>> {
    g["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .map(|p| {
            let mut row: Vec<u8> = p
                .as_array()
                .expect("patch")
                .iter()
                .map(|v| u8::try_from(v.as_u64().expect("id")).expect("id < 256"))
                .collect();
            assert!(
                row.len() <= patch_size,
                "golden patch longer than patch_size"
            );
            row.resize(patch_size, 0);
            row
        })
        .collect()
}

#[test]
fn all_goldens_match() {
    let mut goldens: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures/patches")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    goldens.sort();
    assert!(
        goldens.len() >= 40,
        "expected the committed goldens, found {}",
        goldens.len()
    );

    let mut failures = Vec::new();
    for golden_path in &goldens {
        let g: Value = serde_json::from_str(&read(golden_path)).expect("golden JSON");
        let name = g["input"].as_str().expect("input");
        let text = read(&fixtures().join(name));
        let patch_size = g["patch_size"].as_u64().expect("patch_size") as usize;
        let patchilizer = Patchilizer::with_patch_size(patch_size).expect("patch size");
        let got = patchilizer.encode(&text);
        match g.get("error").and_then(Value::as_str) {
            Some(kind) => {
                let ok = match (kind, &got) {
                    ("empty", Err(PatchError::Empty)) => true,
                    ("lone_barline", Err(PatchError::LoneBarline { line_number, .. })) => {
                        Some(*line_number as u64) == g["line_number"].as_u64()
                    }
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{name}: want error {kind}, got {got:?}"));
                }
            }
            None => {
                let want = golden_patches(&g, patch_size);
                let patches = match got {
                    Ok(p) => p,
                    Err(e) => {
                        failures.push(format!("{name}: unexpected error {e}"));
                        continue;
                    }
                };
                if patches.to_nested() != want {
                    let first = patches
                        .iter()
                        .zip(&want)
                        .position(|(a, b)| a != b.as_slice())
                        .unwrap_or(want.len().min(patches.len()));
                    failures.push(format!(
                        "{name}: {} patches vs {} in golden; first difference at patch {first}",
                        patches.len(),
                        want.len()
                    ));
                }
                let kind = match g["kind"].as_str() {
                    Some("mtf") => SymbolicKind::Mtf,
                    _ => SymbolicKind::Abc,
                };
                assert_eq!(patchilizer.kind(&text), Ok(kind), "{name}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} goldens differ:\n{}",
        failures.len(),
        goldens.len(),
        failures.join("\n")
    );
    eprintln!("patch goldens: {0}/{0} identical", goldens.len());
}

/// docs/reference.md §5.4 lists the number of non-pad ids of every patch of its ABC example.
#[test]
fn spec_abc_example_row_lengths() {
    let text = read(&fixtures().join("spec_abc_example.abc"));
    let patches = Patchilizer::new().encode(&text).expect("encodes");
    let lengths: Vec<usize> = patches
        .iter()
        .map(|p| p.iter().rposition(|&id| id != 0).map_or(0, |i| i + 1))
        .collect();
    assert_eq!(lengths, [64, 20, 12, 8, 6, 35, 11, 32, 21, 20, 13, 64]);
    let bars: Vec<String> = patches.iter().map(patch_to_bar).collect();
    assert_eq!(bars[2], "Q:1/4=120\n"); // the L:1/8 line is gone
    assert_eq!(bars[7], "[V:1]!mf!\"^Allegro\" d2 (GA Bc|");
    assert_eq!(bars[10], "[V:2]B,6|]\n");
}

/// docs/reference.md §5.4 MTF example: the first `note_on` run has 60 characters (62 ids).
#[test]
fn spec_mtf_example_merge_rule() {
    let text = read(&fixtures().join("spec_mtf_example.mtf"));
    let p = Patchilizer::new();
    assert_eq!(p.kind(&text), Ok(SymbolicKind::Mtf));
    let (_, strings) = p.patch_strings(&text).expect("encodes");
    assert_eq!(strings.len(), 12);
    assert_eq!(
        strings[6],
        "note_on 0 0 60 80\t240 0 60 0\t0 0 64 80\t240 0 64 0\t0 0 67 80\n"
    );
    assert_eq!(strings[6].len(), 60);
    assert_eq!(strings[11], "end_of_track 0");
    let patches = p.encode(&text).expect("encodes");
    assert_eq!(patches.len(), 14);
    assert_eq!(patches.patch_size(), PATCH_SIZE);
    assert!(patches.patch(0).expect("bos").iter().all(|&i| i == BOS_ID));
    let eos = patches.patch(13).expect("eos");
    assert_eq!(eos[0], BOS_ID);
    assert!(eos[1..].iter().all(|&i| i == EOS_ID));
    let decoded = decode(&patches);
    assert!(decoded.starts_with("ticks_per_beat 480\ntime_signature"));
    assert!(decoded.ends_with("end_of_track 0"));
}

/// Flat/tensor views agree with the nested patches.
#[test]
fn flat_views() {
    let text = read(&fixtures().join("spec_abc_example.abc"));
    let patches = Patchilizer::new().encode(&text).expect("encodes");
    assert_eq!(patches.as_flat().len(), patches.len() * PATCH_SIZE);
    assert_eq!(patches.to_u32_vec().len(), patches.as_flat().len());
    let nested: Vec<u8> = patches.to_nested().concat();
    assert_eq!(nested, patches.as_flat());
    assert_eq!(
        patches.rows(1..3),
        Some(&patches.as_flat()[PATCH_SIZE..3 * PATCH_SIZE])
    );
    assert_eq!(patches.rows(0..patches.len() + 1), None);
    assert_eq!(patches.patch(patches.len()), None);
}
