//! The contrastive loss and every parameter's gradient against PyTorch (the reference's
//! ClipLoss on the mini model), for a symbolic stage and an audio stage with the text side
//! frozen, at several micro-batch sizes (gradient caching must not change the result), and
//! freezing, on real ABC/MTF patches. Goldens: `scripts/golden/gen_train_goldens.py`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use candle_core::Device;
use clamp3_model::Modality;
use clamp3_model::{Clamp3Config, Weights};
use clamp3_train::data::{Music, Pair};
use clamp3_train::params::{Params, Part};
use clamp3_train::step::{gradients, scaled_gradients, Batch};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

struct G {
    shape: Vec<usize>,
    f: Vec<f32>,
    i: Vec<i64>,
}

fn goldens() -> std::collections::HashMap<String, G> {
    goldens_in("fixtures/train/goldens.safetensors")
}

fn goldens_in(file: &str) -> std::collections::HashMap<String, G> {
    let bytes = std::fs::read(repo(file)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| {
            let d = v.data();
            let (f, i) = match v.dtype() {
                safetensors::Dtype::F32 => (
                    d.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    vec![],
                ),
                _ => (
                    vec![],
                    d.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
            };
            (
                n,
                G {
                    shape: v.shape().to_vec(),
                    f,
                    i,
                },
            )
        })
        .collect()
}

fn mini() -> Params {
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/mini/config.json")).unwrap(),
    )
    .unwrap();
    let w = Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap();
    Params::load(&cfg, &w, &Device::Cpu).unwrap()
}

/// Unpadded rows of a padded golden batch.
fn rows<T: Copy>(data: &[T], mask: &G, width: usize) -> Vec<Vec<T>> {
    let (n, l) = (mask.shape[0], mask.shape[1]);
    (0..n)
        .map(|r| {
            let len = mask.i[r * l..(r + 1) * l]
                .iter()
                .filter(|&&m| m == 1)
                .count();
            data[r * l * width..(r * l + len) * width].to_vec()
        })
        .collect()
}

fn batch(g: &std::collections::HashMap<String, G>, stage: &str) -> Batch {
    let ids: Vec<u32> = g[&format!("{stage}/text_ids")]
        .i
        .iter()
        .map(|&x| x as u32)
        .collect();
    let text = rows(&ids, &g[&format!("{stage}/text_mask")], 1);
    let mm = &g[&format!("{stage}/music_mask")];
    let (music, modality): (Vec<Music>, Modality) = if stage == "symbolic" {
        let p: Vec<u32> = g["symbolic/music"].i.iter().map(|&x| x as u32).collect();
        let m = rows(&p, mm, 64).into_iter().map(Music::Patches).collect();
        (m, Modality::Symbolic)
    } else {
        let m = rows(&g["audio/music"].f, mm, 8)
            .into_iter()
            .map(Music::Features)
            .collect();
        (m, Modality::Audio)
    };
    let pairs = text
        .into_iter()
        .zip(music)
        .map(|(text, music)| Pair { text, music })
        .collect();
    Batch::new(pairs, modality).unwrap()
}

fn check(stage: &str, frozen: &BTreeSet<Part>) {
    compare(&goldens(), &mini(), stage, frozen, None);
}

/// The loss and gradients of `params` on the golden batch of `stage` against the goldens, at
/// micro-batch sizes 1, 2 and 4 (training mode with dropout seed `dropout`, if any).
fn compare(
    g: &std::collections::HashMap<String, G>,
    params: &Params,
    stage: &str,
    frozen: &BTreeSet<Part>,
    dropout: Option<u64>,
) {
    let b = batch(g, stage);
    let want_loss = g[&format!("{stage}/loss")].f[0];
    let prefix = format!("{stage}/grad/");
    let want: Vec<(&str, &G)> = g
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|n| (n, v)))
        .collect();
    assert!(want.len() >= 20);
    for micro in [1, 2, 4] {
        let out = scaled_gradients(params, frozen, &b, micro, 1.0, dropout).unwrap();
        assert!(
            (out.loss - want_loss).abs() < 1e-5,
            "{stage} micro {micro}: loss {} vs {want_loss}",
            out.loss
        );
        // Same set of parameters receives a gradient (frozen ones none).
        let got: BTreeSet<&str> = out.grads.keys().map(String::as_str).collect();
        let exp: BTreeSet<&str> = want.iter().map(|(n, _)| *n).collect();
        let extra: Vec<_> = got.difference(&exp).collect();
        assert!(
            extra.iter().all(|n| out.grads[**n]
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                == 0.0),
            "{stage}: unexpected gradients for {extra:?}"
        );
        let mut worst = 0f32;
        let mut worst_cos = 1f64;
        for (name, w) in &want {
            let gr = out
                .grads
                .get(*name)
                .unwrap_or_else(|| panic!("{stage} micro {micro}: no gradient for {name}"));
            let v = gr.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(v.len(), w.f.len(), "{name}");
            let scale = w.f.iter().fold(0f32, |m, x| m.max(x.abs()));
            let err = v
                .iter()
                .zip(&w.f)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            // Tolerance relative to the gradient's own size, with an absolute floor for the
            // parameters whose gradient is itself at rounding level.
            assert!(
                err <= 1e-4 * scale + 1e-9,
                "{stage} micro {micro}: {name} max abs err {err} (scale {scale})"
            );
            if scale > 1e-6 {
                worst = worst.max(err / scale);
                let dot: f64 = v
                    .iter()
                    .zip(&w.f)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                let n = |x: &[f32]| x.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
                let cos = dot / (n(&v) * n(&w.f));
                worst_cos = worst_cos.min(cos);
                assert!(
                    cos >= 0.999_99,
                    "{stage} micro {micro}: {name} gradient cosine {cos}"
                );
            }
        }
        eprintln!(
            "{stage} micro {micro}: loss {} (torch {want_loss}); gradients: worst relative error {worst:.2e}, worst cosine {worst_cos:.7}",
            out.loss
        );
    }
}

#[test]
fn symbolic_stage_gradients_match_pytorch() {
    check("symbolic", &BTreeSet::new());
}

#[test]
fn audio_stage_with_frozen_text_matches_pytorch() {
    check(
        "audio",
        &[Part::TextModel, Part::TextProj].into_iter().collect(),
    );
}

/// Mixed precision (bf16, and f16 with a 2^16 loss scale) against the f32 PyTorch goldens: the
/// same loss and gradients up to low-precision rounding.
#[test]
fn mixed_precision_gradients_track_the_f32_goldens() {
    let g = goldens();
    for (dtype, scale) in [
        (candle_core::DType::BF16, 1.0),
        (candle_core::DType::F16, 65536.0),
    ] {
        for (stage, frozen) in [
            ("symbolic", BTreeSet::new()),
            (
                "audio",
                [Part::TextModel, Part::TextProj].into_iter().collect(),
            ),
        ] {
            let mut params = mini();
            params.set_compute_dtype(dtype);
            let b = batch(&g, stage);
            let want_loss = g[&format!("{stage}/loss")].f[0];
            let prefix = format!("{stage}/grad/");
            let out = scaled_gradients(&params, &frozen, &b, 2, scale, None).unwrap();
            let (mut dot, mut nn, mut ww) = (0f64, 0f64, 0f64);
            let mut worst_cos = 1f64;
            for (k, w) in g.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                let name = &k[prefix.len()..];
                let v = out.grads[name]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                assert!(v.iter().all(|x| x.is_finite()), "{dtype:?} {stage}: {name}");
                let (mut d, mut a, mut c) = (0f64, 0f64, 0f64);
                for (x, y) in v.iter().zip(&w.f) {
                    let (x, y) = (f64::from(*x), f64::from(*y));
                    d += x * y;
                    a += x * x;
                    c += y * y;
                }
                (dot, nn, ww) = (dot + d, nn + a, ww + c);
                // Per tensor, where the gradient is not itself at rounding level. The
                // projection biases' gradients are sums over the batch that nearly cancel
                // (norm ~2e-4), so their relative rounding error is the largest.
                let norm = c.sqrt();
                if norm > 1e-4 {
                    let cos = d / (a.sqrt() * norm);
                    worst_cos = worst_cos.min(cos);
                    let floor = if norm > 1e-3 { 0.99 } else { 0.9 };
                    assert!(
                        cos > floor,
                        "{dtype:?} {stage}: {name} cosine {cos} (norm {norm})"
                    );
                }
            }
            let cos = dot / (nn.sqrt() * ww.sqrt());
            eprintln!(
                "{dtype:?} {stage}: loss {} (torch f32 {want_loss}), all-gradient cosine {cos:.6}, worst tensor {worst_cos:.5}",
                out.loss
            );
            assert!(
                (out.loss - want_loss).abs() < 2e-2 * want_loss.abs().max(1.0),
                "{dtype:?} {stage}: loss {} vs {want_loss}",
                out.loss
            );
            let floor = if dtype == candle_core::DType::BF16 {
                0.9995
            } else {
                0.99999
            };
            assert!(cos > floor, "{dtype:?} {stage}: gradient cosine {cos}");
        }
    }
}

fn flat(g: &std::collections::BTreeMap<String, candle_core::Tensor>) -> Vec<f64> {
    g.values()
        .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .map(f64::from)
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn dropout_masks_do_not_depend_on_the_micro_batch() {
    // Gradient caching re-embeds each item; with dropout both passes must drop the same units,
    // so the gradients at every micro-batch size equal the whole batch's in one graph.
    let g = goldens();
    let params = mini();
    let b = batch(&g, "symbolic");
    let frozen = BTreeSet::from([Part::AudioModel, Part::AudioProj]);
    let whole = scaled_gradients(&params, &frozen, &b, b.len(), 1.0, Some(5)).unwrap();
    let eval = gradients(&params, &frozen, &b, b.len()).unwrap();
    assert_ne!(whole.loss, eval.loss, "dropout changed nothing");
    let want = flat(&whole.grads);
    for micro in [1, 2, 3] {
        let out = scaled_gradients(&params, &frozen, &b, micro, 1.0, Some(5)).unwrap();
        assert!(
            (out.loss - whole.loss).abs() < 1e-5,
            "micro {micro}: loss {} vs {}",
            out.loss,
            whole.loss
        );
        assert_eq!(out.grads.len(), whole.grads.len());
        let got = flat(&out.grads);
        let cos = cosine(&got, &want);
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!("micro {micro}: cosine {cos:.9}, max abs diff {max:.2e}");
        assert!(cos > 0.999_999, "micro {micro}: cosine {cos}");
    }
    // Another seed draws other masks.
    let other = scaled_gradients(&params, &frozen, &b, 2, 1.0, Some(6)).unwrap();
    assert_ne!(other.loss, whole.loss);
    // Dropout perturbs but does not scramble the gradient of the mini model.
    let c = cosine(&want, &flat(&eval.grads));
    assert!(
        c > 0.3 && c < 0.99999,
        "train vs eval mode gradient cosine {c}"
    );
}

/// Training mode against PyTorch: transformers' encoders with their dropout modules drawing
/// the same masks as ours (`scripts/golden/gen_dropout_goldens.py`), on a two-layer model, so
/// that where dropout sits and how it scales match the reference's train mode.
#[test]
fn dropout_gradients_match_pytorch_with_the_same_masks() {
    let g = goldens_in("fixtures/train/dropout_goldens.safetensors");
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/train/dropout_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg.text_config.num_hidden_layers, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    clamp3_model::synthetic::write_safetensors(&cfg, &path).unwrap();
    let params = Params::load(&cfg, &Weights::open(&path).unwrap(), &Device::Cpu).unwrap();
    compare(&g, &params, "symbolic", &BTreeSet::new(), Some(5));
    let text = BTreeSet::from([Part::TextModel, Part::TextProj]);
    compare(&g, &params, "audio", &text, Some(5));
    // The masks matter: in evaluation mode the same model's gradients are far from these.
    let b = batch(&g, "symbolic");
    let eval = gradients(&params, &BTreeSet::new(), &b, 4).unwrap();
    let want = &g["symbolic/grad/symbolic_proj.weight"].f;
    let got = eval.grads["symbolic_proj.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let c = cosine(
        &got.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
        &want.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
    );
    assert!(
        c < 0.999,
        "eval-mode gradient cosine {c}: dropout had no effect"
    );
}
