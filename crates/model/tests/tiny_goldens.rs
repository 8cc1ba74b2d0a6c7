//! Parity of the three encoders with the PyTorch reference (transformers 4.40 BERT/XLM-R and the
//! reference's segment logic), on a tiny model with synthetic weights and real inputs.
//! Goldens: `scripts/golden/gen_model_goldens.py` -> `fixtures/model/tiny/`.

mod common;

use candle_core::Device;
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Modality, Parts, Sequence};
use common::*;

/// f32 tolerances: per-vector cosine and max abs error against PyTorch.
const MIN_COS: f64 = 0.999_999;
const MAX_ERR: f32 = 1e-5;

fn tiny() -> (Clamp3Config, Clamp3Model) {
    let text = std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap();
    let cfg = Clamp3Config::from_json(&text).unwrap();
    let model = Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
    (cfg, model)
}

struct Input {
    file: String,
    modality: String,
    length: usize,
    weights: Vec<usize>,
    has_sequence: bool,
}

fn manifest() -> Vec<Input> {
    let text = std::fs::read_to_string(repo("fixtures/model/tiny/manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Input {
            file: i["file"].as_str().unwrap().to_string(),
            modality: i["modality"].as_str().unwrap().to_string(),
            length: i["length"].as_u64().unwrap() as usize,
            weights: i["segment_weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_u64().unwrap() as usize)
                .collect(),
            has_sequence: i["has_sequence"].as_bool().unwrap(),
        })
        .collect()
}

fn sequence(
    input: &Input,
    goldens: &std::collections::HashMap<String, Golden>,
    cfg: &Clamp3Config,
) -> Sequence {
    match input.modality.as_str() {
        "text" => Sequence::Text(
            goldens[&format!("{}/input", input.file)]
                .ints
                .iter()
                .map(|&i| i as u32)
                .collect(),
        ),
        "symbolic" => Sequence::Symbolic {
            ids: goldens[&format!("{}/input", input.file)]
                .ints
                .iter()
                .map(|&i| i as u32)
                .collect(),
            patch_size: cfg.patch_size,
        },
        _ => {
            let bytes =
                std::fs::read(repo(&format!("fixtures/model/inputs/{}", input.file))).unwrap();
            let a = clamp3_formats::npy::read_npy(&bytes).unwrap();
            Sequence::audio(&a.data, *a.shape.last().unwrap())
        }
    }
}

#[test]
fn segment_and_global_vectors_match_pytorch() {
    let (cfg, model) = tiny();
    let goldens = read_goldens("fixtures/model/tiny/goldens.safetensors");
    let inputs = manifest();
    assert!(inputs.len() >= 10);
    let seqs: Vec<Sequence> = inputs.iter().map(|i| sequence(i, &goldens, &cfg)).collect();
    for (i, s) in inputs.iter().zip(&seqs) {
        assert_eq!(s.len(), i.length, "{}: sequence length", i.file);
    }
    // All inputs in one call: segments of many inputs and modalities batched together.
    let refs: Vec<&Sequence> = seqs.iter().collect();
    let per_input = model.segment_features(&refs, 4).unwrap();
    let globals = model.embed(&refs, 4).unwrap();
    let p = cfg.projection_dim;
    for ((input, segs), global) in inputs.iter().zip(&per_input).zip(&globals) {
        let want_segs = &goldens[&format!("{}/segments", input.file)];
        assert_eq!(
            segs.len(),
            input.weights.len(),
            "{}: segment count",
            input.file
        );
        let weights: Vec<usize> = segs.iter().map(|(s, _)| s.weight).collect();
        assert_eq!(weights, input.weights, "{}: segment weights", input.file);
        let got: Vec<f32> = segs.iter().flat_map(|(_, v)| v.clone()).collect();
        assert_close(
            &format!("{} segments", input.file),
            &got,
            &want_segs.f32,
            p,
            MIN_COS,
            MAX_ERR,
        );
        let want = &goldens[&format!("{}/global", input.file)];
        assert_close(
            &format!("{} global", input.file),
            global,
            &want.f32,
            p,
            MIN_COS,
            MAX_ERR,
        );
    }
}

#[test]
fn sequence_mode_matches_pytorch() {
    let (cfg, model) = tiny();
    let goldens = read_goldens("fixtures/model/tiny/goldens.safetensors");
    let mut checked = 0;
    for input in manifest().iter().filter(|i| i.has_sequence) {
        let seq = sequence(input, &goldens, &cfg);
        let (states, hidden) = model.embed_states(&seq, 2).unwrap();
        let want = &goldens[&format!("{}/sequence", input.file)];
        assert_eq!(want.shape, vec![input.length, hidden], "{}", input.file);
        assert_close(
            &format!("{} sequence", input.file),
            &states,
            &want.f32,
            hidden,
            MIN_COS,
            MAX_ERR,
        );
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn batch_size_does_not_change_results() {
    let (cfg, model) = tiny();
    let goldens = read_goldens("fixtures/model/tiny/goldens.safetensors");
    let inputs = manifest();
    let seqs: Vec<Sequence> = inputs.iter().map(|i| sequence(i, &goldens, &cfg)).collect();
    let refs: Vec<&Sequence> = seqs.iter().collect();
    let one = model.embed(&refs, 1).unwrap();
    let many = model.embed(&refs, 16).unwrap();
    for (a, b) in one.iter().zip(&many) {
        assert!(cosine(a, b) > 0.999999, "batching changed a result");
    }
}

#[test]
fn unloaded_encoder_is_an_error() {
    let text = std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap();
    let cfg = Clamp3Config::from_json(&text).unwrap();
    let model = Clamp3Model::load(
        &cfg,
        Parts::of([Modality::Text]),
        synthetic::var_builder(&Device::Cpu),
    )
    .unwrap();
    let s = Sequence::audio(&[0.0; 32], 32);
    let err = model.embed(&[&s], 1).unwrap_err().to_string();
    assert!(err.contains("audio encoder was not loaded"), "{err}");
}
