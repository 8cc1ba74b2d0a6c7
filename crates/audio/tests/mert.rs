//! End to end: file → MERT windows, against the reference pipeline (soundfile → torch mean →
//! torchaudio Resample → Wav2Vec2FeatureExtractor → 5 s slicing) on an 11.5 s FLAC at 8 kHz:
//! bit-identical windows. The streaming (multi-pass) mode gives the same bits as the in-memory
//! mode.

mod common;

use std::sync::Arc;

use clamp3_audio::{AudioError, AudioSource, DecodeOptions, MertOptions, MertTrack};
use common::*;

fn long_golden() -> serde_json::Value {
    let g = goldens();
    g["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "flac_8000_mono_long.flac")
        .expect("long fixture")["mert"]
        .clone()
}

fn check_track(t: &MertTrack, gm: &serde_json::Value, what: &str) {
    assert_eq!(t.len(), u(gm, "n"), "{what}: 24 kHz length");
    assert_eq!(
        t.stats().mean.to_bits() as u64,
        u(gm, "mean_bits"),
        "{what}: mean"
    );
    assert_eq!(
        t.stats().var.to_bits() as u64,
        u(gm, "var_bits"),
        "{what}: var"
    );
    assert_eq!(
        t.num_windows() as u64,
        u(gm, "n_windows"),
        "{what}: windows"
    );
    let want = gm["windows"].as_array().unwrap();
    for (i, (w, gw)) in t.windows().unwrap().zip(want).enumerate() {
        let w = w.unwrap();
        assert_eq!(w.len() as u64, u(gw, "len"), "{what}: window {i} length");
        let head = b64_f32(&gw["head"]);
        let tail = b64_f32(&gw["tail"]);
        assert_eq!(
            max_abs_diff(&w[..head.len()], &head),
            0.0,
            "{what}: window {i} head"
        );
        assert_eq!(
            max_abs_diff(&w[w.len() - tail.len()..], &tail),
            0.0,
            "{what}: tail {i}"
        );
        assert_eq!(
            sha_f32(&w),
            gw["sha256"].as_str().unwrap(),
            "{what}: window {i}"
        );
    }
}

#[test]
fn long_file_windows_are_bit_exact() {
    let gm = long_golden();
    let src = AudioSource::path(fixture("flac_8000_mono_long.flac"));
    let t = MertTrack::open(&src, &MertOptions::default()).unwrap();
    assert!(t.is_in_memory());
    assert_eq!((t.source_rate(), t.source_channels()), (8000, 1));
    check_track(&t, &gm, "in memory");

    // Force the multi-pass streaming mode (limit below the track length).
    let opts = MertOptions {
        in_memory_limit: 50_000,
        ..MertOptions::default()
    };
    let t = MertTrack::open(&src, &opts).unwrap();
    assert!(!t.is_in_memory());
    check_track(&t, &gm, "streaming");

    // From memory, streaming too.
    let bytes: Arc<[u8]> = std::fs::read(fixture("flac_8000_mono_long.flac"))
        .unwrap()
        .into();
    let t = MertTrack::open(&AudioSource::Bytes(bytes, None), &opts).unwrap();
    check_track(&t, &gm, "bytes, streaming");
}

#[test]
fn streaming_equals_in_memory_on_lossy_and_stereo() {
    for name in [
        "mp3_44100_stereo.mp3",
        "ogg_44100_stereo.ogg",
        "flac_22050_stereo.flac",
    ] {
        let src = AudioSource::path(fixture(name));
        let mem = MertTrack::open(&src, &MertOptions::default()).unwrap();
        let opts = MertOptions {
            in_memory_limit: 1000,
            ..MertOptions::default()
        };
        let st = MertTrack::open(&src, &opts).unwrap();
        assert!(mem.is_in_memory() && !st.is_in_memory());
        assert_eq!(mem.stats(), st.stats(), "{name}");
        let a: Vec<Vec<f32>> = mem.windows().unwrap().map(|w| w.unwrap()).collect();
        let b: Vec<Vec<f32>> = st.windows().unwrap().map(|w| w.unwrap()).collect();
        assert_eq!(a, b, "{name}");
        assert!(!a.is_empty());
    }
}

#[test]
fn too_short_and_bad_files() {
    // 0.3 s at 8 kHz: 7200 samples at 24 kHz, no window (the reference writes nothing).
    let src = AudioSource::path(fixture("wav8_8000_mono.wav"));
    assert!(matches!(
        MertTrack::open(&src, &MertOptions::default()),
        Err(AudioError::TooShort { samples: 7200 })
    ));
    // Exactly 1 s: one window.
    let src = AudioSource::path(fixture("wav16_8000_mono.wav"));
    let t = MertTrack::open(&src, &MertOptions::default()).unwrap();
    assert_eq!(t.window_ranges().len(), 1);
    assert_eq!(
        (t.window_ranges()[0].start, t.window_ranges()[0].end),
        (0, 24_000)
    );
    // Garbage.
    let src = AudioSource::Bytes(vec![0x55u8; 1000].into(), None);
    assert!(matches!(
        MertTrack::open(&src, &MertOptions::default()),
        Err(AudioError::UnsupportedFormat(_))
    ));
    let _ = DecodeOptions::default();
}
