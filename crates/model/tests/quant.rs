//! Half-precision and quantised weights (`clamp3_model::quant`): the files convert, load through
//! the same API, keep the embeddings close to the f32 model's (bounds from the values measured
//! on these inputs, with margin: docs/quantize.md), get their own fingerprint, and broken files
//! are refused with clear errors.
//!
//! Two models: the tiny CLaMP 3 of the goldens (synthetic weights, real inputs from
//! `fixtures/model/inputs`) and, when `testdata/minilm` is present, all-MiniLM-L6-v2 (real
//! pretrained BERT weights) on its golden sentences.

mod common;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use clamp3_model::bert::{masked_mean, Bert, Positions};
use clamp3_model::quant::{self, Format, Recipe};
use clamp3_model::{
    synthetic, BertConfig, Clamp3Config, Clamp3Model, ModelFiles, Parts, Sequence, StoredType,
    Weights,
};
use common::*;

fn tiny_config() -> Clamp3Config {
    Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap(),
    )
    .unwrap()
}

/// The tiny model's f32 weights on disk (a model directory), once per test process.
fn tiny_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let d = DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let cfg = tiny_config();
        std::fs::copy(
            repo("fixtures/model/tiny/config.json"),
            d.path().join("config.json"),
        )
        .unwrap();
        synthetic::write_safetensors(&cfg, &d.path().join("model.safetensors")).unwrap();
        d
    });
    d.path().to_path_buf()
}

/// Converts the tiny model with `recipe` into a new directory (config copied).
fn convert_tiny(recipe: &Recipe, out: &Path) -> quant::Summary {
    let w = Weights::open(&tiny_dir().join("model.safetensors")).unwrap();
    std::fs::create_dir_all(out).unwrap();
    std::fs::copy(tiny_dir().join("config.json"), out.join("config.json")).unwrap();
    quant::convert(
        &w,
        recipe,
        &out.join(recipe.file_name()),
        &[("clamp3.recipe", "test")],
    )
    .unwrap()
}

fn load(dir: &Path) -> Clamp3Model {
    ModelFiles::locate(dir)
        .unwrap()
        .load(Parts::ALL, &Device::Cpu)
        .unwrap()
}

/// The real inputs of the goldens, as model sequences, with their modality.
fn inputs(cfg: &Clamp3Config) -> Vec<(String, Sequence)> {
    let goldens = read_goldens("fixtures/model/tiny/goldens.safetensors");
    let text = std::fs::read_to_string(repo("fixtures/model/tiny/manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let file = i["file"].as_str().unwrap();
            let ids = || -> Vec<u32> {
                goldens[&format!("{file}/input")]
                    .ints
                    .iter()
                    .map(|&x| x as u32)
                    .collect()
            };
            let m = i["modality"].as_str().unwrap().to_string();
            let seq = match m.as_str() {
                "text" => Sequence::Text(ids()),
                "symbolic" => Sequence::Symbolic {
                    ids: ids(),
                    patch_size: cfg.patch_size,
                },
                _ => {
                    let bytes =
                        std::fs::read(repo(&format!("fixtures/model/inputs/{file}"))).unwrap();
                    let a = clamp3_formats::npy::read_npy(&bytes).unwrap();
                    Sequence::audio(&a.data, *a.shape.last().unwrap())
                }
            };
            (m, seq)
        })
        .collect()
}

/// Per modality: (min, mean) cosine of `model`'s global vectors to `reference`'s.
fn fidelity(
    reference: &Clamp3Model,
    model: &Clamp3Model,
    inputs: &[(String, Sequence)],
) -> std::collections::BTreeMap<String, (f64, f64)> {
    let refs: Vec<&Sequence> = inputs.iter().map(|(_, s)| s).collect();
    let want = reference.embed(&refs, 4).unwrap();
    let got = model.embed(&refs, 4).unwrap();
    let mut per: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for ((m, _), (w, g)) in inputs.iter().zip(want.iter().zip(&got)) {
        per.entry(m.clone()).or_default().push(cosine(w, g));
    }
    per.into_iter()
        .map(|(m, c)| {
            let min = c.iter().copied().fold(f64::INFINITY, f64::min);
            (m, (min, c.iter().sum::<f64>() / c.len() as f64))
        })
        .collect()
}

/// Lowest cosine to f32 allowed per (format, modality) on the tiny model: the measured
/// minimum (printed by the test, recorded in docs/quantize.md) less a margin.
fn tiny_bound(format: Format, modality: &str) -> f64 {
    // Measured minimum over the three modalities (tests/quant.rs output, 2026-12-03):
    // f16 0.99999996, bf16 0.999996, q8_0 0.999984, q4_k 0.9961 (symbolic).
    match (format, modality) {
        (Format::F16, _) => 0.999_99,
        (Format::Bf16, _) => 0.999_9,
        (Format::Q8_0, _) => 0.999_9,
        (Format::Q4K, _) => 0.99,
        (Format::Q6K, _) => 0.999,
        (Format::F32, _) => 1.0,
    }
}

#[test]
fn every_format_loads_and_stays_close_to_f32_on_the_tiny_model() {
    let cfg = tiny_config();
    let inputs = inputs(&cfg);
    let reference = load(&tiny_dir());
    let f32_size = std::fs::metadata(tiny_dir().join("model.safetensors"))
        .unwrap()
        .len();
    for format in [Format::F16, Format::Bf16, Format::Q8_0, Format::Q4K] {
        let tmp = tempfile::tempdir().unwrap();
        let recipe = Recipe::uniform(format);
        let summary = convert_tiny(&recipe, tmp.path());
        let model = load(tmp.path());
        let fid = fidelity(&reference, &model, &inputs);
        eprintln!(
            "tiny {format}: {:.2} MB ({:.3}x f32), {:?}; {fid:?}",
            summary.bytes as f64 / 1e6,
            summary.bytes as f64 / f32_size as f64,
            summary.by_type
        );
        assert_eq!(fid.len(), 3, "all three modalities measured");
        for (m, (min, _)) in &fid {
            let bound = tiny_bound(format, m);
            assert!(
                *min >= bound,
                "{format} {m}: min cosine {min:.6} below {bound}"
            );
            assert!(
                *min < 1.0 - 1e-9,
                "{format} {m}: the weights did not change"
            );
        }
        // The word-embedding table is the biggest tensor: stored in the format chosen.
        let w = Weights::open(&summary.file).unwrap();
        let table = w
            .stored_type("text_model.embeddings.word_embeddings.weight")
            .unwrap();
        let want = match format {
            Format::F16 => StoredType::Plain(clamp3_model::weights::Dtype::F16),
            Format::Bf16 => StoredType::Plain(clamp3_model::weights::Dtype::BF16),
            Format::Q8_0 => StoredType::Block(candle_core::quantized::GgmlDType::Q8_0),
            // Rows of 32: too short for Q4_K's 256-wide super-blocks.
            Format::Q4K => StoredType::Block(candle_core::quantized::GgmlDType::Q4_0),
            Format::F32 | Format::Q6K => unreachable!(),
        };
        assert_eq!(table, want);
        // LayerNorms and biases stay f32.
        assert_eq!(
            w.stored_type("text_model.embeddings.LayerNorm.weight"),
            Some(StoredType::Plain(clamp3_model::weights::Dtype::F32))
        );
        let ratio = summary.bytes as f64 / f32_size as f64;
        let most = match format {
            Format::F16 | Format::Bf16 => 0.51,
            Format::Q8_0 => 0.28,
            _ => 0.16,
        };
        assert!(ratio <= most, "{format}: {ratio:.3} of the f32 size");
    }
}

#[test]
fn a_mixed_recipe_stores_the_feed_forward_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = Recipe {
        base: Format::Q8_0,
        ffn: Some(Format::Q4K),
        embeddings: None,
    };
    assert_eq!(recipe.name(), "q8_0-ffn-q4_k");
    let summary = convert_tiny(&recipe, tmp.path());
    let w = Weights::open(&summary.file).unwrap();
    let q = |n: &str| w.stored_type(n).unwrap();
    use candle_core::quantized::GgmlDType as G;
    assert_eq!(
        q("text_model.encoder.layer.0.attention.self.query.weight"),
        StoredType::Block(G::Q8_0)
    );
    assert_eq!(
        q("text_model.encoder.layer.0.attention.output.dense.weight"),
        StoredType::Block(G::Q8_0)
    );
    // [48, 32]: rows of 32, Q4_0; [32, 48]: rows of 48 split into no 32-blocks, f16.
    assert_eq!(
        q("text_model.encoder.layer.0.intermediate.dense.weight"),
        StoredType::Block(G::Q4_0)
    );
    assert_eq!(
        q("text_model.encoder.layer.0.output.dense.weight"),
        StoredType::Plain(clamp3_model::weights::Dtype::F16)
    );
    let model = load(tmp.path());
    let cfg = tiny_config();
    let fid = fidelity(&load(&tiny_dir()), &model, &inputs(&cfg));
    eprintln!("tiny q8_0-ffn-q4_k: {fid:?}");
    // Measured: 0.99994 (text), 0.99998 (symbolic, audio).
    for (m, (min, _)) in &fid {
        assert!(*min >= 0.999, "{m}: {min}");
    }
}

#[test]
fn fingerprints_tell_precisions_apart() {
    let f32_print = Weights::open(&tiny_dir().join("model.safetensors"))
        .unwrap()
        .fingerprint()
        .unwrap();
    let mut seen = vec![f32_print];
    for format in [Format::F16, Format::Bf16, Format::Q8_0, Format::Q4K] {
        let tmp = tempfile::tempdir().unwrap();
        let s = convert_tiny(&Recipe::uniform(format), tmp.path());
        let p = Weights::open(&s.file).unwrap().fingerprint().unwrap();
        assert!(!seen.contains(&p), "{format}: fingerprint not distinct");
        // Stable: the same file gives the same fingerprint.
        assert_eq!(p, Weights::open(&s.file).unwrap().fingerprint().unwrap());
        seen.push(p);
    }
}

#[test]
fn converting_a_quantised_file_again_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = convert_tiny(&Recipe::uniform(Format::Q8_0), tmp.path());
    let w = Weights::open(&s.file).unwrap();
    let err = quant::convert(
        &w,
        &Recipe::uniform(Format::Q4K),
        &tmp.path().join("again.gguf"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("already quantised"), "{err}");
    assert!(!tmp.path().join("again.gguf").exists());
    assert_eq!(
        Format::parse("q5_k").unwrap_err().to_string(),
        "unknown format `q5_k` (f32, f16, bf16, q8_0, q6_k or q4_k)"
    );
}

#[test]
fn broken_quantised_files_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = convert_tiny(&Recipe::uniform(Format::Q8_0), tmp.path());
    let bytes = std::fs::read(&s.file).unwrap();
    // Truncated: in the tensor data, and in the header.
    for (cut, what) in [(bytes.len() - 1000, "truncated"), (40, "GGUF")] {
        let p = tmp.path().join(format!("cut{cut}.gguf"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let err = Weights::open(&p).unwrap_err().to_string();
        assert!(err.contains(what) && err.contains("cut"), "{cut}: {err}");
    }
    // A quantised file with the configuration of another size: the shapes disagree.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(&s.file, other.path().join("model.gguf")).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap(),
    )
    .unwrap();
    cfg["text_config"]["hidden_size"] = 64.into();
    cfg["symbolic_config"]["hidden_size"] = 64.into();
    cfg["audio_config"]["hidden_size"] = 64.into();
    std::fs::write(other.path().join("config.json"), cfg.to_string()).unwrap();
    let err = ModelFiles::locate(other.path())
        .unwrap()
        .load(Parts::ALL, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has shape") && err.contains("expected"),
        "{err}"
    );
    // Blocks that do not fit the shape: a tensor header edited to another width.
    let p = tmp.path().join("bad_shape.gguf");
    let mut b = bytes.clone();
    let name = b"text_model.embeddings.word_embeddings.weight";
    let at = b.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    // n_dims (u32), then the innermost dimension (u64): 32 -> 33.
    b[at + 4..at + 12].copy_from_slice(&33u64.to_le_bytes());
    std::fs::write(&p, &b).unwrap();
    let err = Weights::open(&p).unwrap_err().to_string();
    assert!(
        err.contains("word_embeddings") && err.contains("blocks"),
        "{err}"
    );
    // `general.alignment` edited to 1: the data offsets move (tensors then read shifted bytes
    // or reach past the end): an error or wrong values, never a panic. (Misaligned blocks
    // themselves: the unit test in `quant.rs`.)
    let mut b = bytes.clone();
    let key = b"general.alignment";
    let at = b.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    // value type (u32), then the u32 value.
    b[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.gguf");
    std::fs::write(&p, &b).unwrap();
    std::fs::copy(
        repo("fixtures/model/tiny/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    if let Ok(files) = ModelFiles::locate(dir.path()) {
        let _ = files.load(Parts::ALL, &Device::Cpu);
    }
    if let Ok(w) = Weights::open(&p) {
        for name in w.names() {
            let shape = w.info(name).unwrap().1.to_vec();
            let _ = w.tensor(name, &shape, &Device::Cpu);
        }
    }
}

/// all-MiniLM-L6-v2's numerics under each format: mean-pooled sentence vectors against the
/// f32 model's.
#[test]
fn minilm_sentence_vectors_stay_close_to_f32() {
    let dir = repo("testdata/minilm");
    assert!(
        dir.join("model.safetensors").is_file(),
        "testdata/minilm is missing: run scripts/fetch-test-data.sh"
    );
    let cfg = BertConfig::from_transformers_json(
        &std::fs::read_to_string(dir.join("config.json")).unwrap(),
    )
    .unwrap();
    let g = read_goldens("fixtures/minilm/goldens.safetensors");
    let (b, l) = (g["input_ids"].shape[0], g["input_ids"].shape[1]);
    let ids: Vec<u32> = g["input_ids"].ints.iter().map(|&i| i as u32).collect();
    let mask: Vec<f32> = g["attention_mask"].ints.iter().map(|&i| i as f32).collect();
    let ids = Tensor::from_vec(ids, (b, l), &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(mask, (b, l), &Device::Cpu).unwrap();
    // `Forward::Quantised`: the layers' products and the vocabulary lookup on the GGML blocks;
    // `Tiles`: the layers' weights in bf16 on the CPU's tiles (as `ModelFiles::load` does where
    // it has them); `Dequantised`: everything dequantised to f32 at load.
    let pooled = |w: Weights, path: Forward| -> Vec<f32> {
        let prefix = w.contains("bert.embeddings.word_embeddings.weight");
        let w = std::sync::Arc::new(w);
        let _lock = MATMUL_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        quant::set_quantized_matmul(path == Forward::Quantised);
        quant::set_tile_products(path == Forward::Tiles);
        let _scope = (path != Forward::Dequantised).then(|| quant::QuantizedLoad::enter(w.clone()));
        let vb = candle_nn::VarBuilder::from_backend(Box::new(Shared(w)), DType::F32, Device::Cpu);
        let vb = if prefix { vb.pp("bert") } else { vb };
        let bert = Bert::load(&cfg, Positions::Absolute, true, vb).unwrap();
        quant::set_quantized_matmul(false);
        quant::set_tile_products(true);
        let h = bert.forward_ids(&ids, &mask).unwrap();
        masked_mean(&h, &mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let src = Weights::open(&dir.join("model.safetensors")).unwrap();
    let want = pooled(
        Weights::open(&dir.join("model.safetensors")).unwrap(),
        Forward::Dequantised,
    );
    // Bounds: the measured minimum (in the comment) less a margin. MiniLM is 384 wide: its
    // 384-long rows fall back from Q4_K to Q4_0 (only the 1536-long ones are Q4_K).
    let q = |base, ffn, embeddings| Recipe {
        base,
        ffn,
        embeddings,
    };
    // Measured minimum: dequantised; quantised forward; bf16 tiles (where the CPU has them).
    for (recipe, bound) in [
        (Recipe::uniform(Format::F16), 0.999_99), // 1.000000 (f32 products on the tiles' CPUs too)
        (Recipe::uniform(Format::Bf16), 0.999_9), // 0.999992; tiles 0.999986
        (Recipe::uniform(Format::Q8_0), 0.999),   // 0.999860; 0.999530; tiles 0.999844
        (Recipe::uniform(Format::Q4K), 0.95),     // 0.969411; 0.969085; tiles 0.969258
        (q(Format::Q8_0, Some(Format::Q4K), None), 0.97), // 0.982251; 0.981847; tiles 0.982326
        (q(Format::Q4K, None, Some(Format::Q8_0)), 0.95), // 0.971440; 0.970825; tiles 0.971392
        (Recipe::uniform(Format::Q6K), 0.998),    // 0.999545; 0.999144; tiles 0.999531
        (q(Format::Q4K, Some(Format::Q6K), None), 0.97), // 0.985560; 0.985393; tiles 0.985582
    ] {
        let format = recipe.name();
        let tmp = tempfile::tempdir().unwrap();
        let s = quant::convert(&src, &recipe, &tmp.path().join(recipe.file_name()), &[]).unwrap();
        for path in [Forward::Dequantised, Forward::Quantised, Forward::Tiles] {
            if path == Forward::Quantised && !recipe.is_gguf() {
                continue;
            }
            if path == Forward::Tiles && !clamp3_model::kernels::bf16_tiles::available() {
                eprintln!("minilm {format}: no bf16 tiles on this CPU, their row skipped");
                continue;
            }
            let got = pooled(Weights::open(&s.file).unwrap(), path);
            let cos: Vec<f64> = got
                .chunks(cfg.hidden_size)
                .zip(want.chunks(cfg.hidden_size))
                .map(|(a, b)| cosine(a, b))
                .collect();
            let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
            let mean = cos.iter().sum::<f64>() / cos.len() as f64;
            let path = match path {
                Forward::Quantised => "quantised forward",
                Forward::Tiles => "bf16 tiles",
                Forward::Dequantised => "dequantised",
            };
            eprintln!(
                "minilm {format} ({path}): {} sentences, min {min:.6}, mean {mean:.6}, {:.1} MB",
                cos.len(),
                s.bytes as f64 / 1e6
            );
            assert!(
                min >= bound,
                "{format} {path}: min cosine {min:.6} below {bound}"
            );
        }
    }
}

/// How a test loads a reduced-precision model's layer products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forward {
    /// Dequantised to f32 at load.
    Dequantised,
    /// candle's quantised product on the GGML blocks.
    Quantised,
    /// bf16 on the CPU's matrix tiles.
    Tiles,
}

/// [`Weights`] behind an `Arc`, for a `VarBuilder` and a [`quant::QuantizedLoad`] at once.
struct Shared(std::sync::Arc<Weights>);

impl candle_nn::var_builder::SimpleBackend for Shared {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0.get(s, name, h, dtype, dev)
    }
    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.get_unchecked(name, dtype, dev)
    }
    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_tensor(name)
    }
}

/// Serialises the tests that switch [`quant::set_quantized_matmul`] (a process-wide setting).
static MATMUL_SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The quantised forward (products on the GGML blocks, activations quantised on the fly)
/// against the same weights dequantised to f32: close, and not identical (so the quantised
/// path did run).
#[test]
fn the_quantised_forward_agrees_with_the_dequantised_weights() {
    let cfg = tiny_config();
    let inputs = inputs(&cfg);
    for format in [Format::Q8_0, Format::Q4K] {
        let tmp = tempfile::tempdir().unwrap();
        convert_tiny(&Recipe::uniform(format), tmp.path());
        let _lock = MATMUL_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        quant::set_quantized_matmul(true);
        let fast = load(tmp.path());
        quant::set_quantized_matmul(false);
        let plain = load(tmp.path());
        let fid = fidelity(&plain, &fast, &inputs);
        eprintln!("tiny {format} quantised forward vs dequantised: {fid:?}");
        for (m, (min, _)) in &fid {
            // Measured: q8_0 >= 0.99999, q4_k >= 0.9999 (8-bit activations).
            assert!(*min >= 0.999_9, "{format} {m}: {min}");
            assert!(
                *min < 1.0 - 1e-12,
                "{format} {m}: the quantised path did not run"
            );
        }
    }
}

/// The bf16 tile products (the default for bf16 and block-quantised models on CPUs with
/// AMX-BF16) against the same weights dequantised to f32: close, and not identical (so the
/// tiles ran), for every modality of the tiny model; f16 models keep f32 products.
#[test]
fn the_tile_forward_agrees_with_the_dequantised_weights() {
    if !clamp3_model::kernels::bf16_tiles::available() {
        eprintln!("skipped: no AMX-BF16 tiles on this CPU or kernel");
        return;
    }
    let cfg = tiny_config();
    let inputs = inputs(&cfg);
    for format in [Format::F16, Format::Bf16, Format::Q8_0, Format::Q4K] {
        let tmp = tempfile::tempdir().unwrap();
        convert_tiny(&Recipe::uniform(format), tmp.path());
        let _lock = MATMUL_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        quant::set_tile_products(true);
        let tiles = load(tmp.path());
        quant::set_tile_products(false);
        let plain = load(tmp.path());
        quant::set_tile_products(true);
        let fid = fidelity(&plain, &tiles, &inputs);
        eprintln!("tiny {format} bf16 tiles vs dequantised: {fid:?}");
        assert_eq!(fid.len(), 3, "all three modalities measured");
        for (m, (min, _)) in &fid {
            if format == Format::F16 {
                assert!(*min > 1.0 - 1e-12, "f16 {m}: {min}, not the f32 products");
                continue;
            }
            // Measured: >= 0.9999997 for every format and modality (bf16 activations).
            assert!(*min >= 0.999_9, "{format} {m}: {min}");
            assert!(*min < 1.0 - 1e-12, "{format} {m}: the tiles did not run");
        }
    }
}

/// A CPU load reads the word-embedding table in place from the mapped file (no copy), in
/// whatever type the file stores it: the text vectors are bit for bit those of the same
/// weights decoded into memory (a `VarBuilder` over the weights without the loading scope),
/// for f32, half-precision and block-quantised tables alike (the layers' products in f32 on
/// both sides).
#[test]
fn a_table_read_in_place_gives_the_decoded_tables_values() {
    let cfg = tiny_config();
    let texts: Vec<(String, Sequence)> = inputs(&cfg)
        .into_iter()
        .filter(|(m, _)| m == "text")
        .collect();
    assert!(!texts.is_empty());
    let refs: Vec<&Sequence> = texts.iter().map(|(_, s)| s).collect();
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = vec![(Format::F32, tiny_dir())];
    for format in [Format::F16, Format::Bf16, Format::Q8_0, Format::Q4K] {
        let dir = tmp.path().join(format.name());
        convert_tiny(&Recipe::uniform(format), &dir);
        dirs.push((format, dir));
    }
    let _lock = MATMUL_SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    quant::set_tile_products(false);
    for (format, dir) in &dirs {
        let mapped = load(dir);
        let files = ModelFiles::locate(dir).unwrap();
        let w = Weights::open(&files.weights).unwrap();
        let vb = candle_nn::VarBuilder::from_backend(Box::new(w), DType::F32, Device::Cpu);
        let in_memory = Clamp3Model::load(&cfg, Parts::ALL, vb).unwrap();
        assert_eq!(
            mapped.embed(&refs, 4).unwrap(),
            in_memory.embed(&refs, 4).unwrap(),
            "{format}"
        );
    }
    quant::set_tile_products(true);
}
