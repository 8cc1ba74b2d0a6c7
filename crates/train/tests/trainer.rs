//! The training loop on the mini model with in-memory pairs: the loss goes down, frozen parts
//! stay bit-identical, and a run stopped and resumed from its checkpoint ends bit-identical to
//! an uninterrupted one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use clamp3_model::{Clamp3Config, Weights};
use clamp3_train::config::{
    DataSection, LoopSection, ModelSection, OutputSection, Precision, StageSection, TrainConfig,
};
use clamp3_train::data::{Music, Pair};
use clamp3_train::optim::AdamWConfig;
use clamp3_train::params::{Params, Part};
use clamp3_train::rng::Rng;
use clamp3_train::trainer::{LossScale, PairSource, Trainer};
use clamp3_train::TrainError;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Pairs whose text and music share a hidden class, so there is something to learn; random
/// crops of the music when training (exercising the sampling random state).
struct Pairs(Vec<(Vec<u32>, Vec<u32>)>);

impl PairSource for Pairs {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn pair(&self, i: usize, rng: &mut Rng, train: bool) -> Result<Option<Pair>, TrainError> {
        let (t, p) = &self.0[i];
        let patches = p.len() / 64;
        let keep = if train {
            patches - rng.below(2)
        } else {
            patches
        };
        Ok(Some(Pair {
            text: t.clone(),
            music: Music::Patches(p[..keep * 64].to_vec()),
        }))
    }
}

fn pairs(n: usize, seed: u64) -> Pairs {
    let mut rng = Rng::new(seed);
    Pairs(
        (0..n)
            .map(|i| {
                let class = i % 4;
                let mut text = vec![0u32];
                text.extend((0..6).map(|_| 10 + (class * 100 + rng.below(30)) as u32));
                text.push(2);
                let mut p = Vec::new();
                for _ in 0..(3 + rng.below(3)) {
                    let mut patch = vec![1u32];
                    patch.extend((0..10).map(|_| (40 + class * 20 + rng.below(8)) as u32));
                    patch.resize(64, 0);
                    p.extend(patch);
                }
                (text, p)
            })
            .collect(),
    )
}

fn mini_params() -> Params {
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/mini/config.json")).unwrap(),
    )
    .unwrap();
    Params::load(
        &cfg,
        &Weights::open(&repo("fixtures/model/mini/model.pth")).unwrap(),
        &Device::Cpu,
    )
    .unwrap()
}

fn config(dir: &Path, freeze: Vec<Part>, max_steps: usize) -> TrainConfig {
    config_lr(dir, freeze, max_steps, 3e-3)
}

fn config_lr(dir: &Path, freeze: Vec<Part>, max_steps: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        model: ModelSection::default(),
        data: DataSection {
            train: dir.join("unused.jsonl"),
            eval: None,
            eval_split: 0.0,
            root: None,
            cache: None,
        },
        stage: StageSection {
            modality: "symbolic".into(),
            freeze,
        },
        optim: AdamWConfig {
            lr,
            warmup_steps: 2,
            ..Default::default()
        },
        train: LoopSection {
            batch_size: 8,
            micro_batch: 3,
            epochs: 1000,
            max_steps: Some(max_steps),
            seed: 7,
            eval_every: 0,
            checkpoint_every: 0,
            precision: Precision::F32,
            dropout: true,
        },
        output: OutputSection {
            dir: dir.to_path_buf(),
            keep: 2,
            tensorboard: true,
        },
    }
}

fn snapshot(p: &Params) -> BTreeMap<String, Vec<f32>> {
    p.vars()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_few_steps_lower_the_loss_and_frozen_parts_do_not_change() {
    let dir = tempfile::tempdir().unwrap();
    // Without dropout, so that 40 steps of the mini model move the loss clearly.
    let mut cfg = config_lr(dir.path(), vec![Part::TextModel], 40, 5e-3);
    cfg.train.dropout = false;
    let mut tr = Trainer::new(cfg, mini_params(), pairs(24, 1), pairs(24, 1)).unwrap();
    let before = snapshot(&tr.params);
    let start = tr.evaluate().unwrap();
    let mut losses = Vec::new();
    tr.run(|e| {
        if let clamp3_train::trainer::Event::Step { loss, .. } = e {
            losses.push(*loss);
        }
    })
    .unwrap();
    let end = tr.evaluate().unwrap();
    eprintln!(
        "eval loss {} -> {}, MRR {} -> {} (random {})",
        start.loss, end.loss, start.mrr, end.mrr, end.random_mrr
    );
    assert!(
        end.loss < start.loss - 0.1,
        "eval loss {} -> {}",
        start.loss,
        end.loss
    );
    assert!(end.mrr > start.mrr, "MRR {} -> {}", start.mrr, end.mrr);
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(last < first, "training loss {first} -> {last}");
    let after = snapshot(&tr.params);
    for (k, v) in &after {
        let changed = v != &before[k];
        match Part::of(k) {
            Some(Part::TextModel) | Some(Part::AudioModel) | Some(Part::AudioProj) => {
                assert!(!changed, "{k} changed")
            }
            _ => {}
        }
        if k == "symbolic_proj.weight" || k == "text_proj.weight" {
            assert!(changed, "{k} did not change");
        }
    }
    // The run folder holds a usable model directory and the metrics log.
    assert!(
        dir.path().join("model.safetensors").is_file() && dir.path().join("config.json").is_file()
    );
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.lines().filter(|l| l.contains("\"loss\"")).count(),
        40
    );
    assert!(metrics.contains("eval_mrr"));
    // The TensorBoard file holds the same scalars (the byte format is checked against
    // TensorBoard's writer in tests/tensorboard.rs).
    let tb: Vec<_> = std::fs::read_dir(dir.path().join("tensorboard"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(tb.len(), 1);
    let records = tfrecords(&std::fs::read(tb[0].path()).unwrap());
    let with = |tag: &str| {
        records
            .iter()
            .filter(|r| contains(r, tag.as_bytes()))
            .count()
    };
    assert_eq!(with("brain.Event:2"), 1);
    assert_eq!(with("train/loss"), 40);
    assert_eq!(with("train/lr"), 40);
    assert_eq!(with("eval/loss"), 1);
    assert_eq!(with("eval/mrr"), 1);
    assert_eq!(records.len(), 83);
}

/// The payloads of a TFRecord file (length, length CRC, data, data CRC).
fn tfrecords(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let n = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) as usize;
        out.push(bytes[i + 12..i + 12 + n].to_vec());
        i += 12 + n + 4;
    }
    assert_eq!(i, bytes.len());
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn resume_after_interruption_continues_bit_for_bit() {
    // With dropout on (the default): its masks must be redrawn identically after a resume.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Uninterrupted: 7 updates.
    let mut full = Trainer::new(
        config(a.path(), vec![], 7),
        mini_params(),
        pairs(20, 3),
        pairs(8, 4),
    )
    .unwrap();
    full.run(|_| {}).unwrap();
    // Interrupted after 3 updates (the run ends with a checkpoint), then a fresh process
    // resumes from it and continues to 7.
    let mut first = Trainer::new(
        config(b.path(), vec![], 3),
        mini_params(),
        pairs(20, 3),
        pairs(8, 4),
    )
    .unwrap();
    first.run(|_| {}).unwrap();
    drop(first);
    let mut second = Trainer::new(
        config(b.path(), vec![], 7),
        mini_params(),
        pairs(20, 3),
        pairs(8, 4),
    )
    .unwrap();
    assert!(second.resume().unwrap());
    assert_eq!(second.state.step, 3);
    second.run(|_| {}).unwrap();
    assert_eq!(second.state, full.state);
    let (x, y) = (snapshot(&full.params), snapshot(&second.params));
    for (k, v) in &x {
        assert!(v == &y[k], "{k} differs after resuming");
    }
    // Metrics: one loss line per update, none duplicated by the resumed run.
    let m = std::fs::read_to_string(b.path().join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = m
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("loss").is_some())
        .map(|v| v["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=7).collect::<Vec<_>>());
}

#[test]
fn mixed_precision_training_lowers_the_loss_with_f32_master_weights() {
    for precision in [Precision::Bf16, Precision::F16] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config_lr(dir.path(), vec![], 25, 5e-3);
        cfg.train.precision = precision;
        let mut tr = Trainer::new(cfg, mini_params(), pairs(24, 1), pairs(24, 1)).unwrap();
        let start = tr.evaluate().unwrap();
        tr.run(|_| {}).unwrap();
        let end = tr.evaluate().unwrap();
        eprintln!(
            "{precision:?}: eval loss {} -> {}, MRR {} -> {}",
            start.loss, end.loss, start.mrr, end.mrr
        );
        assert!(
            end.loss < start.loss - 0.1,
            "{precision:?}: eval loss {} -> {}",
            start.loss,
            end.loss
        );
        // Master weights and the saved model stay f32.
        assert!(tr
            .params
            .vars()
            .values()
            .all(|v| v.dtype() == candle_core::DType::F32));
        let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        assert_eq!(
            metrics.contains("loss_scale"),
            precision == Precision::F16,
            "{precision:?}"
        );
        let ls = tr.state.loss_scale;
        assert_eq!(ls.is_some(), precision == Precision::F16);
        if let Some(ls) = ls {
            assert_eq!(ls.overflows, 0, "no overflow expected at the initial scale");
            assert_eq!(ls.good_steps, 25);
        }
    }
}

#[test]
fn f16_overflow_skips_the_update_and_halves_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), vec![], 1);
    cfg.train.precision = Precision::F16;
    let mut tr = Trainer::new(cfg, mini_params(), pairs(24, 1), pairs(24, 1)).unwrap();
    // A scale far beyond float16's range makes every backward pass overflow.
    tr.state.loss_scale = Some(LossScale {
        scale: 1e30,
        good_steps: 7,
        overflows: 0,
    });
    let before = snapshot(&tr.params);
    let (_, lr) = tr.train_step().unwrap().unwrap();
    assert_eq!(lr, 0.0, "a skipped update reports no learning rate");
    assert_eq!(tr.state.step, 1);
    assert_eq!(tr.opt.step, 0, "the optimiser did not move");
    let ls = tr.state.loss_scale.unwrap();
    assert_eq!((ls.scale, ls.good_steps, ls.overflows), (5e29, 0, 1));
    assert!(snapshot(&tr.params) == before, "parameters changed");
    // Back at a sane scale the next update goes through.
    tr.state.loss_scale = Some(LossScale {
        scale: 1024.0,
        ..ls
    });
    let (_, lr) = tr.train_step().unwrap().unwrap();
    assert!(lr > 0.0);
    assert!(snapshot(&tr.params) != before);
}

#[test]
fn dropout_is_on_in_training_steps_and_off_in_evaluation() {
    let make = |dropout: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), vec![], 1);
        cfg.train.dropout = dropout;
        (
            Trainer::new(cfg, mini_params(), pairs(20, 3), pairs(8, 4)).unwrap(),
            dir,
        )
    };
    let (mut on, _a) = make(true);
    let (mut off, _b) = make(false);
    assert_eq!(on.evaluate().unwrap(), off.evaluate().unwrap());
    let (l_on, _) = on.train_step().unwrap().unwrap();
    let (l_off, _) = off.train_step().unwrap().unwrap();
    assert_ne!(l_on, l_off, "dropout did not change the training loss");
}
