//! The shared BERT encoder against *real* pretrained weights: all-MiniLM-L6-v2 (docs/data.md §7),
//! compared with transformers' BertModel. Needs `scripts/fetch-test-data.sh` (testdata/minilm).

mod common;

use candle_core::{DType, Device, Tensor};
use clamp3_model::bert::{masked_mean, Bert, Positions};
use clamp3_model::{BertConfig, Weights};
use common::*;

#[test]
fn minilm_hidden_states_and_mean_pooling_match_transformers() {
    let dir = repo("testdata/minilm");
    assert!(
        dir.join("model.safetensors").is_file(),
        "testdata/minilm is missing: run scripts/fetch-test-data.sh"
    );
    let cfg = BertConfig::from_transformers_json(
        &std::fs::read_to_string(dir.join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (cfg.hidden_size, cfg.num_hidden_layers, cfg.layer_norm_eps),
        (384, 6, 1e-12)
    );
    let w = Weights::open(&dir.join("model.safetensors")).unwrap();
    let prefix = if w.contains("bert.embeddings.word_embeddings.weight") {
        "bert"
    } else {
        ""
    };
    let vb = candle_nn::VarBuilder::from_backend(Box::new(w), DType::F32, Device::Cpu);
    let vb = if prefix.is_empty() { vb } else { vb.pp(prefix) };
    let bert = Bert::load(&cfg, Positions::Absolute, true, vb).unwrap();

    let g = read_goldens("fixtures/minilm/goldens.safetensors");
    let (b, l) = (g["input_ids"].shape[0], g["input_ids"].shape[1]);
    let ids: Vec<u32> = g["input_ids"].ints.iter().map(|&i| i as u32).collect();
    let mask: Vec<f32> = g["attention_mask"].ints.iter().map(|&i| i as f32).collect();
    let ids = Tensor::from_vec(ids, (b, l), &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(mask, (b, l), &Device::Cpu).unwrap();
    let h = bert.forward_ids(&ids, &mask).unwrap();
    let pooled = masked_mean(&h, &mask).unwrap();

    // Compare the hidden states of real (unpadded) positions only.
    let hv = h.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let m = g["attention_mask"].ints.clone();
    let (mut got, mut want) = (Vec::new(), Vec::new());
    for (pos, &keep) in m.iter().enumerate() {
        if keep == 1 {
            got.extend_from_slice(&hv[pos * 384..(pos + 1) * 384]);
            want.extend_from_slice(&g["last_hidden_state"].f32[pos * 384..(pos + 1) * 384]);
        }
    }
    assert_close(
        "MiniLM last_hidden_state",
        &got,
        &want,
        384,
        0.999_999,
        2e-5,
    );
    let pv = pooled.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_close(
        "MiniLM mean pooled",
        &pv,
        &g["mean_pooled"].f32,
        384,
        0.999_999,
        1e-5,
    );
}
