//! The release checkpoint layout: a `torch.save` dict with `model`, `optimizer`, `lr_sched`,
//! `epoch`, ... read by the restricted unpickler; every tensor checked bit for bit and the model
//! built from it checked against PyTorch. Fixture: `fixtures/model/mini/model.pth`, written by
//! `torch.save` in `scripts/golden/gen_model_goldens.py`.

mod common;

use candle_core::Device;
use clamp3_model::load::load_model;
use clamp3_model::{synthetic, Clamp3Config, ModelFiles, Parts, Sequence, Weights};
use common::*;

fn mini_config() -> Clamp3Config {
    Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/mini/config.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn every_tensor_of_the_release_layout_is_read_exactly() {
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    let names = w.names();
    // 3 encoders (1 layer each = 16 tensors) + embeddings + poolers + projections.
    assert!(names.contains(&"text_model.embeddings.word_embeddings.weight"));
    assert!(names.contains(&"symbolic_model.patch_embedding.weight"));
    assert!(names.contains(&"audio_proj.bias"));
    assert!(names.iter().all(|n| !n.ends_with("position_ids")));
    // Only the `model` entry is the state dict: no optimizer tensors leak in.
    assert!(names
        .iter()
        .all(|n| !n.starts_with("state") && !n.contains("exp_avg")));
    for name in names {
        let (_, shape) = w.info(name).unwrap();
        let shape = shape.to_vec();
        let t = w.tensor(name, &shape, &Device::Cpu).unwrap();
        let got = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want = synthetic::tensor_values(name, got.len());
        assert_eq!(got, want, "{name}");
    }
    let info: std::collections::HashMap<String, String> = w.checkpoint_info().into_iter().collect();
    assert_eq!(info["epoch"], "10");
    assert_eq!(info["min_eval_loss"], "0.4150416124612093");
    assert_eq!(info["modality"], "audio");
}

#[test]
fn model_from_pth_matches_pytorch() {
    let files = ModelFiles::locate(&repo("fixtures/model/mini/model.pth")).unwrap();
    assert_eq!(files.config, mini_config());
    let model = files.load(Parts::ALL, &Device::Cpu).unwrap();
    let g = read_goldens("fixtures/model/mini/goldens.safetensors");
    let cfg = model.config().clone();
    let seqs = [
        (
            "text_ids",
            Sequence::Text(g["text_ids/input"].ints.iter().map(|&i| i as u32).collect()),
        ),
        (
            "patches",
            Sequence::Symbolic {
                ids: g["patches/input"].ints.iter().map(|&i| i as u32).collect(),
                patch_size: 64,
            },
        ),
        (
            "audio",
            Sequence::audio(&g["audio/input"].f32, cfg.audio_config.hidden_size),
        ),
    ];
    for (key, seq) in &seqs {
        let segs = &model.segment_features(&[seq], 3).unwrap()[0];
        let got: Vec<f32> = segs.iter().flat_map(|(_, v)| v.clone()).collect();
        assert_close(
            &format!("{key} segments"),
            &got,
            &g[&format!("{key}/segments")].f32,
            8,
            0.999_999,
            1e-5,
        );
        let global = &model.embed(&[seq], 3).unwrap()[0];
        assert_close(
            &format!("{key} global"),
            global,
            &g[&format!("{key}/global")].f32,
            8,
            0.999_999,
            1e-5,
        );
        let (states, hidden) = model.embed_states(seq, 3).unwrap();
        assert_close(
            &format!("{key} sequence"),
            &states,
            &g[&format!("{key}/sequence")].f32,
            hidden,
            0.999_999,
            1e-5,
        );
    }
}

#[test]
fn safetensors_conversion_is_lossless() {
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.safetensors");
    w.save_safetensors(&out).unwrap();
    let s = Weights::open(&out).unwrap();
    assert_eq!(s.names(), w.names());
    for name in w.names() {
        let shape = w.info(name).unwrap().1.to_vec();
        let a = w
            .tensor(name, &shape, &Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = s
            .tensor(name, &shape, &Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn wrong_shapes_and_missing_tensors_name_the_key() {
    // The mini weights under a config that expects a wider text encoder.
    let mut cfg = mini_config();
    cfg.text_config.intermediate_size = 32;
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    let err = load_model(&cfg, w, Parts::ALL, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("text_model.encoder.layer.0.intermediate.dense.weight"),
        "{err}"
    );
    assert!(err.contains("[16, 8]") && err.contains("[32, 8]"), "{err}");

    let mut cfg = mini_config();
    cfg.symbolic_config.num_hidden_layers = 2;
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    let err = load_model(&cfg, w, Parts::ALL, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing tensor `symbolic_model.base.encoder.layer.1."),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage_checkpoints_are_clear_errors() {
    let bytes = std::fs::read(repo("fixtures/model/mini/model.pth")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [
        ("truncated.pth", bytes[..bytes.len() / 2].to_vec()),
        ("head.pth", bytes[..3000].to_vec()),
        (
            "garbage.pth",
            b"PK\x03\x04 this is not a zip archive at all".to_vec(),
        ),
        (
            "random.safetensors",
            (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("empty.pth", Vec::new()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, &data).unwrap();
        let err = Weights::open(&p).unwrap_err().to_string();
        assert!(err.contains(name), "error should name the file: {err}");
        assert!(!err.is_empty());
    }
}

#[test]
fn layout_table_matches_the_torch_state_dict() {
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    let mut want: Vec<(String, Vec<usize>)> = w
        .names()
        .iter()
        .map(|n| (n.to_string(), w.info(n).unwrap().1.to_vec()))
        .collect();
    let mut got = clamp3_model::layout::release_tensors(&mini_config());
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn synthetic_safetensors_file_loads_as_a_model_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("fixtures/model/mini/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    synthetic::write_safetensors(&mini_config(), &dir.path().join("model.safetensors")).unwrap();
    let files = ModelFiles::locate(dir.path()).unwrap();
    let from_file = files.load(Parts::ALL, &Device::Cpu).unwrap();
    let g = read_goldens("fixtures/model/mini/goldens.safetensors");
    let seq = Sequence::audio(&g["audio/input"].f32, 8);
    let v = &from_file.embed(&[&seq], 4).unwrap()[0];
    assert_close(
        "synthetic file audio global",
        v,
        &g["audio/global"].f32,
        8,
        0.999_999,
        1e-5,
    );
}
