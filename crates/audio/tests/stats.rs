//! Normalisation statistics and windows against numpy 1.26 / transformers 4.40 (goldens from
//! `scripts/golden/gen_audio_goldens.py`): all bit-exact.

mod common;

use clamp3_audio::{mert_windows, numpy_sum, window_ranges, AudioError, MertTrack, NormStats};
use common::*;

#[test]
fn numpy_sum_mean_var_bits() {
    let g = goldens();
    for c in g["stats"].as_array().unwrap() {
        let n = u(c, "n") as usize;
        let x = hash_signal(n, u(c, "seed"), f(c, "amp"), f(c, "dc"));
        let st = NormStats::compute(&x).unwrap();
        assert_eq!(
            numpy_sum(&x).to_bits() as u64,
            u(c, "sum_bits"),
            "n={n}: sum"
        );
        assert_eq!(st.mean.to_bits() as u64, u(c, "mean_bits"), "n={n}: mean");
        assert_eq!(st.var.to_bits() as u64, u(c, "var_bits"), "n={n}: var");
    }
}

#[test]
fn normalised_windows_match_feature_extractor() {
    let g = goldens();
    for c in g["norm"].as_array().unwrap() {
        let n = u(c, "n") as usize;
        let x = hash_signal(n, u(c, "seed"), f(c, "amp"), f(c, "dc"));
        let wins = mert_windows(&x).unwrap();
        let want = c["windows"].as_array().unwrap();
        assert_eq!(wins.len() as u64, u(c, "n_windows"), "n={n}: window count");
        let st = NormStats::compute(&x).unwrap();
        assert_eq!(st.mean.to_bits() as u64, u(c, "mean_bits"));
        assert_eq!(st.var.to_bits() as u64, u(c, "var_bits"));
        for (i, (w, gw)) in wins.iter().zip(want).enumerate() {
            assert_eq!(w.len() as u64, u(gw, "len"), "n={n} window {i}: length");
            let head = b64_f32(&gw["head"]);
            for (j, (a, b)) in w.iter().zip(&head).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "n={n} window {i} sample {j}");
            }
            assert_eq!(
                sha_f32(w),
                gw["sha256"].as_str().unwrap(),
                "n={n} window {i}"
            );
        }
        // The same through the track API.
        let t = MertTrack::from_signal(x).unwrap();
        let via_track: Vec<Vec<f32>> = t.windows().unwrap().map(|w| w.unwrap()).collect();
        assert_eq!(via_track, wins);
    }
}

#[test]
fn short_signals_have_no_window() {
    assert!(matches!(
        mert_windows(&vec![0.1; 23_999]),
        Err(AudioError::TooShort { samples: 23_999 })
    ));
    assert!(matches!(
        MertTrack::from_signal(Vec::new()),
        Err(AudioError::TooShort { samples: 0 })
    ));
    // 1 s exactly is one window; the last slice of 5 s + 23,999 samples is dropped.
    assert_eq!(window_ranges(24_000).unwrap().len(), 1);
    assert_eq!(window_ranges(143_999).unwrap().len(), 1);
    assert_eq!(window_ranges(144_000).unwrap().len(), 2);
}

#[test]
fn constant_signal_normalises_without_nan() {
    // var = 0: the 1e-7 keeps the division finite, as in the reference.
    let w = mert_windows(&vec![0.25; 30_000]).unwrap();
    assert!(w[0].iter().all(|v| *v == 0.0));
}
