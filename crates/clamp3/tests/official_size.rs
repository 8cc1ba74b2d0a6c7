//! The official architecture (docs/reference.md §2: 12 layers, 768 wide, 457,896,960 parameters)
//! with synthetic weights against PyTorch, for one input of each kind: the code paths the released
//! checkpoints take, at their real size. Goldens: `gen_model_goldens.py --official`.

use std::path::{Path, PathBuf};

use clamp3::{Device, EmbedOptions, Embedder, Embedding, TextTokenizer};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Parts};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn official_size_model_matches_pytorch_on_every_input_kind() {
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh");
    let cfg = Clamp3Config::default();
    let model = Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
    let e = Embedder::from_parts(model, Some(TextTokenizer::from_file(&tok).unwrap())).unwrap();
    let bytes = std::fs::read(repo("fixtures/model/official/goldens.safetensors")).unwrap();
    let g = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = [
        "en_reel.txt",
        "multilingual.txt",
        "bach_bwv66_6.abc",
        "essen_han1_tune3.mtf",
        "features_official.npy",
    ];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| repo(&format!("fixtures/model/inputs/{n}")))
        .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    for (name, r) in names
        .iter()
        .zip(e.embed_files(&refs, &EmbedOptions::default()))
    {
        let Embedding::Global(v) = r.unwrap() else {
            panic!()
        };
        let want: Vec<f32> = g
            .tensor(&format!("{name}/global"))
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(v.len(), 768);
        let dot: f64 = v
            .iter()
            .zip(&want)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let n = |x: &[f32]| x.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
        let cos = dot / (n(&v) * n(&want));
        let err = v
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: cosine {cos:.9}, max abs err {err:.2e}");
        assert!(cos >= 0.999_999, "{name}: cosine {cos}");
        assert!(err <= 1e-4, "{name}: max abs err {err}");
    }
}
