//! Files in, embeddings out, against the PyTorch goldens: the real XLM-R tokenizer, the text
//! preparation, the patchilizer and the encoders together (tiny model, synthetic weights).
//! Needs `scripts/fetch-test-data.sh` for the tokenizer.

use std::path::{Path, PathBuf};

use clamp3::{Device, EmbedOptions, Embedder, Embedding, Input, Prepared, TextTokenizer};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Parts, Sequence};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn tokenizer() -> TextTokenizer {
    let p = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(
        p.is_file(),
        "missing {}: run scripts/fetch-test-data.sh",
        p.display()
    );
    TextTokenizer::from_file(&p).unwrap()
}

fn goldens() -> std::collections::HashMap<String, (Vec<usize>, Vec<u8>, safetensors::Dtype)> {
    let bytes = std::fs::read(repo("fixtures/model/tiny/goldens.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec(), v.dtype())))
        .collect()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn ids(b: &[u8], dtype: safetensors::Dtype) -> Vec<u32> {
    match dtype {
        safetensors::Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect(),
        safetensors::Dtype::U8 => b.iter().map(|&x| u32::from(x)).collect(),
        d => panic!("{d:?}"),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn tiny_embedder() -> Embedder {
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap(),
    )
    .unwrap();
    let model = Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
    Embedder::from_parts(model, Some(tokenizer())).unwrap()
}

#[test]
fn files_embed_like_the_reference() {
    let e = tiny_embedder();
    let g = goldens();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/model/tiny/manifest.json")).unwrap(),
    )
    .unwrap();
    let files: Vec<PathBuf> = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            repo(&format!(
                "fixtures/model/inputs/{}",
                i["file"].as_str().unwrap()
            ))
        })
        .collect();
    // Preprocessing: token ids and patches exactly equal to the reference's.
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let Prepared::Sequence(seq) = e.prepare(&Input::path(f)).unwrap() else {
            panic!("{name}: not a recording")
        };
        let got = match &seq {
            Sequence::Text(t) => t.clone(),
            Sequence::Symbolic { ids, .. } => ids.clone(),
            // Features are the input itself; their parity is the embedding below.
            Sequence::Audio { .. } => continue,
        };
        let (_, data, dtype) = g
            .get(&format!("{name}/input"))
            .unwrap_or_else(|| panic!("{name}: no preprocessing golden"));
        assert_eq!(
            got,
            ids(data, *dtype),
            "{name}: preprocessed input differs from the reference"
        );
    }
    // Embeddings of all files in one batch.
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let out = e.embed_files(&paths, &EmbedOptions::default());
    for (f, r) in files.iter().zip(out) {
        let name = f.file_name().unwrap().to_str().unwrap();
        let Embedding::Global(v) = r.unwrap() else {
            panic!()
        };
        let want = f32s(&g[&format!("{name}/global")].1);
        let c = cosine(&v, &want);
        assert!(c >= 0.999_999, "{name}: cosine {c}");
    }
}

#[test]
fn sequence_mode_shape_and_values() {
    let e = tiny_embedder();
    let g = goldens();
    let f = repo("fixtures/model/inputs/multilingual.txt");
    let opts = EmbedOptions {
        sequence: true,
        ..EmbedOptions::default()
    };
    let r = e.embed_files(&[f.as_path()], &opts).remove(0).unwrap();
    let want = &g["multilingual.txt/sequence"];
    assert_eq!(r.npy_shape(), vec![1, want.0[0], want.0[1]]);
    let w = f32s(&want.1);
    for (a, b) in r.data().chunks(32).zip(w.chunks(32)) {
        assert!(cosine(a, b) >= 0.999_999);
    }
}

#[test]
fn xlmr_tokenizer_matches_python_on_multilingual_text() {
    let t = tokenizer();
    let cases: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/tokenizer/xlmr_ids.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let want: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(t.encode(text).unwrap(), want, "{text:?}");
    }
    // The spec's test vectors (docs/reference.md §5.1).
    assert_eq!(t.encode("Hello world").unwrap(), vec![0, 35378, 8999, 2]);
    assert_eq!(
        t.encode("Das Hildebrandslied").unwrap(),
        vec![0, 1858, 165917, 43264, 7, 71516, 2]
    );
    assert_eq!(
        t.encode("人民公社实在好").unwrap(),
        vec![0, 6, 13324, 4441, 6808, 63211, 1322, 2]
    );
}

#[test]
fn bad_inputs_give_one_clear_error_each() {
    let e = tiny_embedder();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.txt", vec![], "empty text"),
        ("blank.txt", b"\n\n\n".to_vec(), "empty text"),
        (
            "garbage.txt",
            vec![0xff, 0xfe, 0x00, 0x81],
            "not valid UTF-8",
        ),
        ("empty.abc", vec![], "empty"),
        (
            "garbage.abc",
            (0..200u8).map(|i| i.wrapping_mul(37) | 0x80).collect(),
            "not valid UTF-8",
        ),
        ("empty.mtf", vec![], "empty"),
        ("empty.npy", vec![], "not a .npy file"),
        ("garbage.npy", b"\x93NUMPY garbage".to_vec(), ".npy"),
        (
            "wrong_shape.npy",
            clamp3_formats::npy::write_npy(&[13, 4, 32], &vec![0.0; 13 * 4 * 32]),
            "shape (1, N, 32)",
        ),
        (
            "wrong_dim.npy",
            clamp3_formats::npy::write_npy(&[1, 4, 16], &vec![0.0; 64]),
            "shape (1, N, 32)",
        ),
        (
            "nan.npy",
            clamp3_formats::npy::write_npy(&[1, 1, 32], &[f32::NAN; 32]),
            "NaN",
        ),
        ("song.xyz", b"x".to_vec(), "unsupported file type"),
    ];
    let mut paths = Vec::new();
    for (name, data, _) in &cases {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        paths.push(p);
    }
    let good = repo("fixtures/model/inputs/en_reel.txt");
    paths.push(good.clone());
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let out = e.embed_files(&refs, &EmbedOptions::default());
    for ((name, _, want), r) in cases.iter().zip(&out) {
        let err = r.as_ref().expect_err(name).to_string();
        assert!(err.contains(name), "error must name the file: {err}");
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The good file in the same batch still embeds.
    assert!(out.last().unwrap().is_ok());
}
