#![no_main]
//! Fuzzes the M3 patchilizer (and the unidecode transliteration it calls) on arbitrary
//! text: it must never panic, and every successful result must keep the patch invariants.

use clamp3_formats::patch::{decode, Patchilizer, BOS_ID, EOS_ID};
use clamp3_formats::unidecode::unidecode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A first byte below 16 selects a small patch size (1..=16); otherwise the released 64.
    let (patch_size, body) = match data.split_first() {
        Some((&b, rest)) if b < 16 => (usize::from(b) + 1, rest),
        _ => (64, data),
    };
    let text = String::from_utf8_lossy(body);
    assert!(unidecode(&text).is_ascii());
    let Ok(p) = Patchilizer::with_patch_size(patch_size) else {
        return;
    };
    let Ok(patches) = p.encode(&text) else {
        return;
    };
    let (_, strings) = p
        .patch_strings(&text)
        .expect("encode succeeded, so splitting does");
    assert_eq!(patches.len(), strings.len() + 2);
    assert_eq!(patches.as_flat().len(), patches.len() * patch_size);
    assert!(patches.as_flat().iter().all(|&id| id < 128));
    assert!(patches.iter().all(|row| row[0] == BOS_ID));
    assert!(patches
        .patch(0)
        .expect("bos")
        .iter()
        .all(|&id| id == BOS_ID));
    let eos = patches.patch(patches.len() - 1).expect("eos");
    assert!(eos[1..].iter().all(|&id| id == EOS_ID));
    let _ = decode(&patches);
});
