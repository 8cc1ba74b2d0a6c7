//! MERT against transformers' HubertModel in the MERT configuration (synthetic weights), on
//! real rendered audio: every hidden state's time mean and the CLaMP 3 window features, for a
//! small model loaded from the hub's file layouts (both weight-norm spellings) and for the
//! official size. Goldens: `scripts/golden/gen_mert_goldens.py`.

mod common;

use candle_core::{DType, Device, Tensor};
use clamp3_model::mert::{Mert, MertConfig};
use clamp3_model::{synthetic, Weights};
use common::*;

/// 16-bit mono PCM samples of a canonical 44-byte-header WAV, as float32 / 32768.
fn wav_samples(rel: &str) -> Vec<f32> {
    let b = std::fs::read(repo(rel)).unwrap();
    assert_eq!(&b[..4], b"RIFF");
    b[44..]
        .chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect()
}

/// Wav2Vec2FeatureExtractor's zero-mean unit-variance normalisation of the whole track.
fn normalise(x: &[f32]) -> Vec<f32> {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let inv = 1.0 / (var + 1e-7).sqrt();
    x.iter()
        .map(|&v| ((f64::from(v) - mean) * inv) as f32)
        .collect()
}

/// 5 s windows, the last kept when it has at least 1 s.
fn windows(x: &[f32]) -> Vec<&[f32]> {
    let mut w: Vec<&[f32]> = x.chunks(120_000).collect();
    if w.last().is_some_and(|l| l.len() < 24_000) {
        w.pop();
    }
    w
}

fn check(model: &Mert, tag: &str, g: &std::collections::HashMap<String, Golden>, min_cos: f64) {
    let x = normalise(&wav_samples("fixtures/mert/input_24k.wav"));
    let h = model.config().hidden_size;
    let states = model.config().num_hidden_layers + 1;
    let want_means = &g[&format!("{tag}/state_means")]; // [13, N, H]
    let want_feat = &g[&format!("{tag}/features")]; // [1, N, H]
    let ws = windows(&x);
    assert_eq!(want_feat.shape, vec![1, ws.len(), h]);
    for (i, w) in ws.iter().enumerate() {
        let t = Tensor::from_slice(w, (1, w.len()), &Device::Cpu).unwrap();
        let means = model
            .state_means(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want: Vec<f32> = (0..states)
            .flat_map(|s| {
                want_means.f32[(s * ws.len() + i) * h..(s * ws.len() + i + 1) * h].to_vec()
            })
            .collect();
        assert_close(
            &format!("{tag} window {i} state means"),
            &means,
            &want,
            h,
            min_cos,
            1e-4,
        );
        let feat = model
            .window_features(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_close(
            &format!("{tag} window {i} feature"),
            &feat,
            &want_feat.f32[i * h..(i + 1) * h],
            h,
            min_cos,
            1e-5,
        );
    }
}

#[test]
fn whole_track_normalisation_matches_the_feature_extractor() {
    let g = read_goldens("fixtures/mert/goldens.safetensors");
    let x = normalise(&wav_samples("fixtures/mert/input_24k.wav"));
    assert_close(
        "normalised head",
        &x[..1000],
        &g["normalized/head"].f32,
        1000,
        0.999_999_9,
        1e-5,
    );
    assert_close(
        "normalised tail",
        &x[x.len() - 1000..],
        &g["normalized/tail"].f32,
        1000,
        0.999_999_9,
        1e-5,
    );
}

#[test]
fn tiny_mert_from_both_hub_layouts_matches_transformers() {
    let cfg = MertConfig::from_json(
        &std::fs::read_to_string(repo("fixtures/mert/tiny/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg.conv_dim, vec![16; 7]);
    let g = read_goldens("fixtures/mert/goldens.safetensors");
    for file in ["pytorch_model.bin", "model.safetensors"] {
        let w = Weights::open(&repo(&format!("fixtures/mert/tiny/{file}"))).unwrap();
        let vb = candle_nn::VarBuilder::from_backend(Box::new(w), DType::F32, Device::Cpu);
        let model = Mert::load(&cfg, vb).unwrap();
        check(&model, "tiny", &g, 0.999_999);
    }
}

#[test]
fn official_size_mert_matches_transformers() {
    let g = read_goldens("fixtures/mert/goldens.safetensors");
    let model = Mert::load(&MertConfig::default(), synthetic::var_builder(&Device::Cpu)).unwrap();
    check(&model, "official", &g, 0.999_999);
}

#[test]
fn frame_counts_follow_the_conv_stack() {
    let c = MertConfig::default();
    assert_eq!(c.frames(120_000), 374);
    assert_eq!(c.frames(24_000), 74);
    assert_eq!(c.frames(399), 0);
    assert_eq!(c.frames(400), 1);
}
