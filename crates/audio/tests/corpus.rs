//! Conformance over the generated corpus `testdata/audio/corpus` (git-ignored; build it with
//! `/work/venv/bin/python scripts/golden/gen_audio_goldens.py --skip-fixtures --corpus 40`):
//! full-length renders at 8 rates × 5 containers, compared with the complete oracle outputs.
//! Skipped (with a message) when the corpus is absent.
//!
//! Lossless files must match at every step (decode, mono, 24 kHz signal, statistics, windows);
//! lossy files must stay above the SNR floors of `tests/decode.rs` for the decoded audio.

mod common;

use std::path::PathBuf;

use clamp3_audio::{decode_file, AudioSource, MertOptions, MertTrack, Resampler};
use common::*;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/audio/corpus")
}

fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn bit_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Needs the generated corpus (see the module docs); run with `--ignored`.
#[test]
#[ignore = "needs testdata/audio/corpus, built by scripts/golden/gen_audio_goldens.py --corpus"]
fn corpus_conformance() {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("{}: {e} (build the corpus first)", dir.display()));
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = m["files"].as_array().unwrap();
    let (mut lossless, mut lossless_ok) = (0, 0);
    let (mut lossy, mut lossy_ok) = (0, 0);
    let mut min_snr = f64::INFINITY;
    let mut min_norm_snr = f64::INFINITY;
    let mut failures = Vec::new();
    for e in files {
        let name = e["name"].as_str().unwrap();
        let path = dir.join(name);
        let a = decode_file(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(u64::from(a.sample_rate), u(e, "rate"), "{name}");
        assert_eq!(a.channels as u64, u(e, "channels"), "{name}");
        let mono = a.to_mono();
        let r24 = Resampler::new(a.sample_rate, 24000)
            .unwrap()
            .resample(&mono);
        let want_r24 = read_f32(&path.with_file_name(format!("{name}.r24.f32")));
        let want_norm = read_f32(&path.with_file_name(format!("{name}.norm.f32")));
        let track = MertTrack::open(&AudioSource::path(&path), &MertOptions::default()).unwrap();
        let windows: Vec<f32> = track.windows().unwrap().flat_map(|w| w.unwrap()).collect();
        let n_windows_ok = track.num_windows() as u64 == u(e, "n_windows");
        if !e["lossy"].as_bool().unwrap() {
            lossless += 1;
            let checks = [
                (
                    "decode",
                    sha_f32(&a.samples) == e["decoded_sha256"].as_str().unwrap(),
                ),
                ("mono", sha_f32(&mono) == e["mono_sha256"].as_str().unwrap()),
                ("24 kHz", bit_equal(&r24, &want_r24)),
                (
                    "mean",
                    u64::from(track.stats().mean.to_bits()) == u(e, "mean_bits"),
                ),
                (
                    "var",
                    u64::from(track.stats().var.to_bits()) == u(e, "var_bits"),
                ),
                ("window count", n_windows_ok),
                (
                    "windows",
                    bit_equal(&windows, &want_norm[..windows.len().min(want_norm.len())]),
                ),
            ];
            let bad: Vec<&str> = checks.iter().filter(|c| !c.1).map(|c| c.0).collect();
            if bad.is_empty() {
                lossless_ok += 1;
            } else {
                let err = if r24.len() == want_r24.len() {
                    max_abs_diff(&r24, &want_r24)
                } else {
                    f64::NAN
                };
                failures.push(format!("{name}: {bad:?} (24 kHz max abs error {err:e})"));
            }
        } else {
            lossy += 1;
            let want = read_f32(&path.with_file_name(format!("{name}.decoded.f32")));
            let snr = snr_db(&want, &a.samples);
            let norm_snr = snr_db(&want_norm, &windows);
            min_snr = min_snr.min(snr);
            min_norm_snr = min_norm_snr.min(norm_snr);
            // Measured minimum on 40 files: 125.8 (MP3), 135.5 (Ogg), 131.8 dB (AAC).
            let floor = if name.ends_with(".mp3") { 110.0 } else { 120.0 };
            println!(
                "{name}: {} frames (oracle {}), decode SNR {snr:.1} dB, windows SNR {norm_snr:.1} dB",
                a.frames(),
                u(e, "frames")
            );
            if snr >= floor && n_windows_ok {
                lossy_ok += 1;
            } else {
                failures.push(format!(
                    "{name}: SNR {snr:.1} dB, windows ok {n_windows_ok}"
                ));
            }
        }
    }
    println!("lossless (WAV, FLAC): {lossless_ok}/{lossless} bit-exact at every step");
    println!(
        "lossy (MP3, Ogg, AAC): {lossy_ok}/{lossy} above the SNR floor; min decode SNR {min_snr:.1} dB, min windows SNR {min_norm_snr:.1} dB"
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
