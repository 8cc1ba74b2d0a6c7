//! `train.toml`: what to train, on what, how.
//!
//! ```toml
//! [model]
//! init = "models/saas"            # start from these weights (directory or file); omit to train
//!                                 # from scratch with the sizes of `config`
//! config = "small.json"           # config.json for a model from scratch (default: release sizes)
//! tokenizer = "tokenizer.json"    # default: <init dir>/tokenizer.json
//!
//! [data]
//! train = "data/train.jsonl"      # M4-RAG-style records (filepaths, text fields, translations)
//! eval = "data/eval.jsonl"        # optional; else `eval_split` of train is held out
//! eval_split = 0.01
//! root = "data"                   # base of `filepaths` (default: the JSONL's folder)
//!
//! [stage]
//! modality = "symbolic"           # or "audio"
//! freeze = ["audio_model", "audio_proj"]
//!
//! [optim]                         # AdamW; see optim::AdamWConfig
//! lr = 5e-5
//! warmup_steps = 1000
//!
//! [train]
//! batch_size = 64                 # pairs per contrastive batch (the negatives)
//! micro_batch = 8                 # pairs computed with a graph at a time (memory)
//! epochs = 100
//! eval_every = 200                # steps
//! checkpoint_every = 500          # steps
//! seed = 42
//! precision = "f32"               # or "bf16" / "f16": mixed precision (f32 master weights;
//!                                 # f16 with dynamic loss scaling)
//! dropout = true                  # the encoders' dropout in training (as the reference)
//!
//! [output]
//! dir = "runs/stage1"
//! keep = 2                        # checkpoints kept
//! tensorboard = true              # also <dir>/tensorboard/events.out.tfevents.* (train/loss,
//!                                 # train/lr, eval/loss, eval/mrr)
//! ```

use std::path::{Path, PathBuf};

use clamp3_model::Modality;
use serde::{Deserialize, Serialize};

use crate::optim::AdamWConfig;
use crate::params::Part;
use crate::TrainError;

/// Where the model comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Initial weights (model directory or weights file); none: from scratch.
    pub init: Option<PathBuf>,
    /// `config.json` for a model from scratch (release sizes when absent).
    pub config: Option<PathBuf>,
    /// `tokenizer.json` (default: the init model's).
    pub tokenizer: Option<PathBuf>,
}

/// The data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Training records (JSONL).
    pub train: PathBuf,
    /// Evaluation records (JSONL); default: a held-out share of `train`.
    #[serde(default)]
    pub eval: Option<PathBuf>,
    /// Share held out when `eval` is absent.
    #[serde(default = "default_eval_split")]
    pub eval_split: f64,
    /// Base folder of `filepaths` (default: the training JSONL's folder).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// Folder caching converted symbolic files (default: none).
    #[serde(default)]
    pub cache: Option<PathBuf>,
}

fn default_eval_split() -> f64 {
    0.01
}

/// The stage: which music modality, which parts frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    /// `symbolic` or `audio`.
    pub modality: String,
    /// Parts kept fixed.
    #[serde(default)]
    pub freeze: Vec<Part>,
}

/// The loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopSection {
    /// Pairs per contrastive batch.
    pub batch_size: usize,
    /// Pairs computed with a graph at a time.
    pub micro_batch: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// Stop after this many updates (default: no limit).
    pub max_steps: Option<usize>,
    /// Seed of initialisation, shuffling and sampling.
    pub seed: u64,
    /// Evaluate every this many updates (0: only at the end).
    pub eval_every: usize,
    /// Checkpoint every this many updates (0: only at the end).
    pub checkpoint_every: usize,
    /// Compute precision.
    pub precision: Precision,
    /// Train with the encoders' dropout (`hidden_dropout_prob`, `attention_probs_dropout_prob`
    /// of the model config, 0.1 in the release), as the reference does; evaluation never
    /// drops.
    pub dropout: bool,
}

/// The type the model computes in during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Mixed precision with bfloat16 matrix products (f32 range: no loss scaling needed).
    Bf16,
    /// Mixed precision with float16 matrix products and dynamic loss scaling.
    F16,
}

impl Precision {
    /// The candle type of the matrix products.
    pub fn dtype(self) -> candle_core::DType {
        match self {
            Precision::F32 => candle_core::DType::F32,
            Precision::Bf16 => candle_core::DType::BF16,
            Precision::F16 => candle_core::DType::F16,
        }
    }
}

impl Default for LoopSection {
    fn default() -> Self {
        LoopSection {
            batch_size: 32,
            micro_batch: 8,
            epochs: 100,
            max_steps: None,
            seed: 42,
            eval_every: 200,
            checkpoint_every: 500,
            precision: Precision::F32,
            dropout: true,
        }
    }
}

/// Outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSection {
    /// Run folder: checkpoints, metrics.jsonl, the final model.
    pub dir: PathBuf,
    /// Checkpoints kept (older ones are removed).
    pub keep: usize,
    /// Also write the step and eval scalars (`train/loss`, `train/lr`, `eval/loss`,
    /// `eval/mrr`) as a TensorBoard event file in `<dir>/tensorboard/`.
    pub tensorboard: bool,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            dir: PathBuf::from("runs/clamp3"),
            keep: 2,
            tensorboard: false,
        }
    }
}

/// A whole `train.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Model.
    #[serde(default)]
    pub model: ModelSection,
    /// Data.
    pub data: DataSection,
    /// Stage.
    pub stage: StageSection,
    /// Optimiser.
    #[serde(default)]
    pub optim: AdamWConfig,
    /// Loop.
    #[serde(default)]
    pub train: LoopSection,
    /// Outputs.
    #[serde(default)]
    pub output: OutputSection,
}

impl TrainConfig {
    /// Reads a TOML file; relative paths in it are taken relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut c: TrainConfig = toml::from_str(&text)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [
            &mut c.model.init,
            &mut c.model.config,
            &mut c.model.tokenizer,
            &mut c.data.eval,
            &mut c.data.root,
            &mut c.data.cache,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        fix(&mut c.data.train);
        fix(&mut c.output.dir);
        c.validate()?;
        Ok(c)
    }

    /// The music modality of the stage.
    pub fn modality(&self) -> Result<Modality, TrainError> {
        match self.stage.modality.as_str() {
            "symbolic" => Ok(Modality::Symbolic),
            "audio" => Ok(Modality::Audio),
            m => Err(TrainError::Config(format!(
                "stage.modality must be \"symbolic\" or \"audio\", not {m:?}"
            ))),
        }
    }

    /// Checks values that cannot work.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.modality()?;
        let t = &self.train;
        if t.batch_size < 2 {
            return Err(TrainError::Config(
                "train.batch_size must be at least 2 (the contrastive negatives)".into(),
            ));
        }
        if t.micro_batch == 0 {
            return Err(TrainError::Config(
                "train.micro_batch must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.data.eval_split) {
            return Err(TrainError::Config(
                "data.eval_split must be in [0, 1)".into(),
            ));
        }
        if self.optim.lr <= 0.0 {
            return Err(TrainError::Config("optim.lr must be positive".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_config_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.toml");
        std::fs::write(
            &p,
            r#"
[model]
config = "small.json"
[data]
train = "data/train.jsonl"
[stage]
modality = "audio"
freeze = ["text_model", "text_proj"]
[optim]
lr = 1e-4
warmup_steps = 10
[train]
batch_size = 16
micro_batch = 4
[output]
dir = "run"
"#,
        )
        .unwrap();
        let c = TrainConfig::from_file(&p).unwrap();
        assert_eq!(c.modality().unwrap(), Modality::Audio);
        assert_eq!(c.stage.freeze, vec![Part::TextModel, Part::TextProj]);
        assert_eq!(c.data.train, dir.path().join("data/train.jsonl"));
        assert_eq!(c.output.dir, dir.path().join("run"));
        assert_eq!(c.optim.weight_decay, 0.01);
        assert_eq!(c.train.eval_every, 200);
    }

    #[test]
    fn rejects_bad_values_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        for bad in [
            "[data]\ntrain='x'\n[stage]\nmodality='video'\n",
            "[data]\ntrain='x'\n[stage]\nmodality='audio'\n[train]\nbatch_size=1\n",
            "[data]\ntrain='x'\n[stage]\nmodality='audio'\nfreeze=['nothing']\n",
            "[data]\ntrain='x'\nbogus=1\n[stage]\nmodality='audio'\n",
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(TrainConfig::from_file(&p).is_err(), "{bad}");
        }
    }
}
