//! The training loop: shuffled epochs of contrastive batches, AdamW updates, periodic evaluation
//! (loss and text -> music retrieval MRR on held-out pairs), and checkpoints from which a killed
//! run resumes exactly (same parameters, optimiser moments, data position and random state).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;
use clamp3_model::Modality;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_tensors, save_tensors, write_atomic};
use crate::config::Precision;
use crate::config::TrainConfig;
use crate::data::{epoch_order, Pair};
use crate::optim::AdamW;
use crate::params::{Params, Part};
use crate::rng::Rng;
use crate::step::{all_finite, batch_loss, embed_batch, scaled_gradients, Batch};
use crate::tensorboard::EventWriter;
use crate::TrainError;
use clamp3_util::rank::{self, Ties};

/// Where training pairs come from.
pub trait PairSource {
    /// Number of records.
    fn len(&self) -> usize;
    /// True when there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The pair of record `index`: sampled (random crops, text dropout...) when `train`,
    /// deterministic otherwise. `None` when the record is unusable.
    fn pair(&self, index: usize, rng: &mut Rng, train: bool) -> Result<Option<Pair>, TrainError>;
}

/// Where a run stands; saved with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Updates done.
    pub step: usize,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Position in the current epoch's shuffled order.
    pub position: usize,
    /// State of the sampling random generator.
    pub rng: u64,
    /// Best evaluation loss so far.
    pub best_eval_loss: Option<f32>,
    /// Records skipped as unusable so far.
    pub skipped: u64,
    /// The float16 loss scale (only with `precision = "f16"`).
    #[serde(default)]
    pub loss_scale: Option<LossScale>,
}

/// Dynamic loss scaling as PyTorch's `GradScaler` does it: start at 2^16, halve and skip the
/// update when a gradient overflows, double after 2000 updates in a row without overflow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScale {
    /// The current factor.
    pub scale: f64,
    /// Updates since the last change.
    pub good_steps: usize,
    /// Updates skipped for overflow so far.
    pub overflows: u64,
}

impl LossScale {
    const GROWTH_INTERVAL: usize = 2000;

    fn new() -> Self {
        LossScale {
            scale: 65536.0,
            good_steps: 0,
            overflows: 0,
        }
    }

    /// Records whether the gradients of an update were finite.
    fn update(&mut self, finite: bool) {
        if finite {
            self.good_steps += 1;
            if self.good_steps >= Self::GROWTH_INTERVAL {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale = (self.scale * 0.5).max(f64::MIN_POSITIVE);
            self.good_steps = 0;
            self.overflows += 1;
        }
    }
}

/// What the loop reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An update was made.
    Step {
        /// Update number (1-based).
        step: usize,
        /// Epoch.
        epoch: usize,
        /// Batch loss.
        loss: f32,
        /// Learning rate used.
        lr: f64,
    },
    /// An evaluation finished.
    Eval(EvalResult),
    /// A checkpoint was written.
    Checkpoint(PathBuf),
}

/// Evaluation on the held-out pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// After this many updates.
    pub step: usize,
    /// Mean contrastive loss over evaluation batches.
    pub loss: f32,
    /// Text -> music mean reciprocal rank among all evaluation pairs (ties pessimistic).
    pub mrr: f64,
    /// The same for a random ranking (`H_n / n`).
    pub random_mrr: f64,
    /// Number of evaluation pairs.
    pub pairs: usize,
}

/// A training run.
pub struct Trainer<S: PairSource> {
    /// The configuration.
    pub config: TrainConfig,
    /// The parameters being trained.
    pub params: Params,
    /// The optimiser.
    pub opt: AdamW,
    /// Where the run stands.
    pub state: State,
    frozen: BTreeSet<Part>,
    modality: Modality,
    train: S,
    eval: S,
    started: Instant,
    tensorboard: Option<EventWriter>,
    tokenizer_file: Option<PathBuf>,
}

impl<S: PairSource> std::fmt::Debug for Trainer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("state", &self.state)
            .finish()
    }
}

/// Seconds since the Unix epoch, as TensorBoard stamps events.
fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

impl<S: PairSource> Trainer<S> {
    /// A run starting now from `params`.
    pub fn new(
        config: TrainConfig,
        mut params: Params,
        train: S,
        eval: S,
    ) -> Result<Self, TrainError> {
        let modality = config.modality()?;
        params.set_compute_dtype(config.train.precision.dtype());
        let loss_scale = (config.train.precision == Precision::F16).then(LossScale::new);
        let frozen: BTreeSet<Part> = config.stage.freeze.iter().copied().collect();
        let seed = config.train.seed;
        Ok(Trainer {
            opt: AdamW::new(config.optim.clone()),
            state: State {
                step: 0,
                epoch: 0,
                position: 0,
                rng: seed,
                best_eval_loss: None,
                skipped: 0,
                loss_scale,
            },
            config,
            params,
            frozen,
            modality,
            train,
            eval,
            started: Instant::now(),
            tensorboard: None,
            tokenizer_file: None,
        })
    }

    /// The tokenizer to copy into saved model directories, so that they are complete for
    /// `clamp3 embed`.
    pub fn set_tokenizer_file(&mut self, path: PathBuf) {
        self.tokenizer_file = Some(path);
    }

    fn dir(&self) -> &Path {
        &self.config.output.dir
    }

    /// The number of updates the run makes in all: `max_steps`, else the epochs times the
    /// whole batches per epoch.
    pub fn planned_steps(&self) -> usize {
        let t = &self.config.train;
        t.max_steps
            .unwrap_or(t.epochs * (self.train.len() / t.batch_size.max(1)).max(1))
    }

    /// Pairs of `source` for the records `order` lists, from position `*pos` on, until `want`
    /// pairs of the stage's modality are collected or the order ends; returns them and how
    /// many records were unusable.
    fn collect_pairs(
        &self,
        source: &S,
        order: &[usize],
        pos: &mut usize,
        want: usize,
        rng: &mut Rng,
        train: bool,
    ) -> Result<(Vec<Pair>, u64), TrainError> {
        let mut pairs = Vec::with_capacity(want.min(order.len()));
        let mut skipped = 0;
        while pairs.len() < want && *pos < order.len() {
            let i = order[*pos];
            *pos += 1;
            match source.pair(i, rng, train)? {
                Some(p) if p.music.modality() == self.modality => pairs.push(p),
                _ => skipped += 1,
            }
        }
        Ok((pairs, skipped))
    }

    /// The next contrastive batch of the epoch, or `None` when the epoch has too few pairs left.
    fn next_batch(&mut self) -> Result<Option<Batch>, TrainError> {
        let want = self.config.train.batch_size;
        let order = epoch_order(
            self.train.len(),
            self.config.train.seed,
            self.state.epoch as u64,
        );
        let mut rng = Rng::new(self.state.rng);
        let mut pos = self.state.position;
        let (pairs, skipped) =
            self.collect_pairs(&self.train, &order, &mut pos, want, &mut rng, true)?;
        self.state.skipped += skipped;
        self.state.rng = rng.state();
        self.state.position = pos;
        if pairs.len() < want {
            return Ok(None);
        }
        Ok(Some(Batch::new(pairs, self.modality)?))
    }

    /// One update; `None` when the epoch ended instead (the next call starts the next epoch).
    /// Under float16 loss scaling a batch whose gradients overflow counts as a step but leaves
    /// the parameters and the optimiser unchanged (learning rate reported as 0).
    pub fn train_step(&mut self) -> Result<Option<(f32, f64)>, TrainError> {
        let Some(batch) = self.next_batch()? else {
            self.state.epoch += 1;
            self.state.position = 0;
            return Ok(None);
        };
        let scale = self.state.loss_scale.map_or(1.0, |s| s.scale);
        // Dropout masks are a function of the step (and the item), so a resumed run draws
        // the same ones.
        let dropout = self
            .config
            .train
            .dropout
            .then(|| self.config.train.seed.rotate_left(32) ^ self.state.step as u64);
        let g = scaled_gradients(
            &self.params,
            &self.frozen,
            &batch,
            self.config.train.micro_batch,
            scale,
            dropout,
        )?;
        if let Some(ls) = &mut self.state.loss_scale {
            let finite = all_finite(&g.grads)?;
            ls.update(finite);
            if !finite {
                self.state.step += 1;
                return Ok(Some((g.loss, 0.0)));
            }
        }
        let trainable = self.params.trainable(&self.frozen);
        let lr = self.opt.update(&trainable, &g.grads)?;
        self.state.step += 1;
        Ok(Some((g.loss, lr)))
    }

    /// Loss and text -> music MRR over the evaluation pairs (deterministic sampling).
    pub fn evaluate(&self) -> Result<EvalResult, TrainError> {
        let mut rng = Rng::new(self.config.train.seed);
        let order: Vec<usize> = (0..self.eval.len()).collect();
        let (pairs, _) =
            self.collect_pairs(&self.eval, &order, &mut 0, order.len(), &mut rng, false)?;
        let n = pairs.len();
        if n < 2 {
            return Err(TrainError::Data(format!(
                "{n} usable evaluation pair(s): need at least 2"
            )));
        }
        let all = Batch::new(pairs, self.modality)?;
        let micro = self.config.train.micro_batch;
        let (t, m) = embed_batch(&self.params, &all, micro)?;
        // Loss: mean over consecutive batches of the training batch size.
        let bs = self.config.train.batch_size.min(n);
        let mut losses = Vec::new();
        for lo in (0..n).step_by(bs) {
            let hi = (lo + bs).min(n);
            if hi - lo >= 2 {
                losses.push(
                    crate::loss::clip_loss(&t.narrow(0, lo, hi - lo)?, &m.narrow(0, lo, hi - lo)?)?
                        .to_scalar::<f32>()?,
                );
            }
        }
        let loss = losses.iter().sum::<f32>() / losses.len().max(1) as f32;
        let mrr = retrieval_mrr(&t, &m)?;
        Ok(EvalResult {
            step: self.state.step,
            loss,
            mrr,
            random_mrr: rank::random_mrr(n),
            pairs: n,
        })
    }

    /// Runs until the configured epochs or `max_steps`, evaluating and checkpointing as
    /// configured, reporting through `on_event`; ends with an evaluation, a checkpoint and
    /// the final model in `<output dir>/model.safetensors` (+ config.json).
    pub fn run(&mut self, mut on_event: impl FnMut(&Event)) -> Result<State, TrainError> {
        let t = self.config.train.clone();
        std::fs::create_dir_all(self.dir()).map_err(io(self.dir()))?;
        let metrics = self.dir().join("metrics.jsonl");
        if self.config.output.tensorboard && self.tensorboard.is_none() {
            let dir = self.dir().join("tensorboard");
            let w = EventWriter::create(&dir, wall_time()).map_err(io(&dir))?;
            self.tensorboard = Some(w);
        }
        // Steps at which this run last evaluated / checkpointed, so the final ones are not
        // done twice.
        let (mut evaluated, mut saved) = (None, None);
        while self.state.epoch < t.epochs && t.max_steps.is_none_or(|m| self.state.step < m) {
            let Some((loss, lr)) = self.train_step()? else {
                continue;
            };
            let ev = Event::Step {
                step: self.state.step,
                epoch: self.state.epoch,
                loss,
                lr,
            };
            let mut line = serde_json::json!({
                "step": self.state.step, "epoch": self.state.epoch, "loss": loss, "lr": lr,
                "seconds": self.started.elapsed().as_secs_f64(),
            });
            if let Some(ls) = self.state.loss_scale {
                line["loss_scale"] = ls.scale.into();
            }
            self.log(&metrics, &line)?;
            self.scalars(&[("train/loss", loss), ("train/lr", lr as f32)])?;
            on_event(&ev);
            if t.eval_every > 0 && self.state.step.is_multiple_of(t.eval_every) {
                self.eval_and_log(&metrics, &mut on_event)?;
                evaluated = Some(self.state.step);
            }
            if t.checkpoint_every > 0 && self.state.step.is_multiple_of(t.checkpoint_every) {
                let p = self.save_checkpoint()?;
                on_event(&Event::Checkpoint(p));
                saved = Some(self.state.step);
            }
        }
        if evaluated != Some(self.state.step) {
            self.eval_and_log(&metrics, &mut on_event)?;
        }
        if saved != Some(self.state.step) {
            let p = self.save_checkpoint()?;
            on_event(&Event::Checkpoint(p));
        }
        self.save_model(self.dir())?;
        Ok(self.state.clone())
    }

    fn eval_and_log(
        &mut self,
        metrics: &Path,
        on_event: &mut impl FnMut(&Event),
    ) -> Result<(), TrainError> {
        let r = self.evaluate()?;
        if self.state.best_eval_loss.is_none_or(|b| r.loss < b) {
            self.state.best_eval_loss = Some(r.loss);
        }
        self.log(
            metrics,
            &serde_json::json!({
                "step": r.step, "eval_loss": r.loss, "eval_mrr": r.mrr, "random_mrr": r.random_mrr,
                "eval_pairs": r.pairs, "seconds": self.started.elapsed().as_secs_f64(),
            }),
        )?;
        self.scalars(&[("eval/loss", r.loss), ("eval/mrr", r.mrr as f32)])?;
        on_event(&Event::Eval(r));
        Ok(())
    }

    /// Scalars at the current step into the TensorBoard file, when one is being written.
    fn scalars(&mut self, values: &[(&str, f32)]) -> Result<(), TrainError> {
        let step = self.state.step as i64;
        if let Some(w) = self.tensorboard.as_mut() {
            let now = wall_time();
            for (tag, v) in values {
                w.scalar(tag, *v, step, now).map_err(io(w.path()))?;
            }
        }
        Ok(())
    }

    fn log(&self, path: &Path, v: &serde_json::Value) -> Result<(), TrainError> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        writeln!(f, "{v}").map_err(io(path))
    }

    /// The trained model as a model directory (`model.safetensors`, `config.json` and, when
    /// known, the `tokenizer.json`), usable by `clamp3 embed`.
    pub fn save_model(&self, dir: &Path) -> Result<(), TrainError> {
        self.params
            .save_safetensors(&dir.join("model.safetensors"))?;
        let cfg = serde_json::to_string_pretty(self.params.config())
            .map_err(|e| TrainError::Config(e.to_string()))?;
        write_atomic(&dir.join("config.json"), cfg.as_bytes())?;
        if let Some(tok) = &self.tokenizer_file {
            let dst = dir.join("tokenizer.json");
            if std::fs::canonicalize(tok).ok() != std::fs::canonicalize(&dst).ok() {
                write_atomic(&dst, &std::fs::read(tok).map_err(io(tok))?)?;
            }
        }
        Ok(())
    }

    /// Writes `<output>/checkpoints/step-N/` (model, optimiser moments, state) atomically and
    /// points `<output>/latest` at it; keeps the newest `output.keep` checkpoints.
    pub fn save_checkpoint(&mut self) -> Result<PathBuf, TrainError> {
        let root = self.dir().join("checkpoints");
        let name = format!("step-{:08}", self.state.step);
        let final_dir = root.join(&name);
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        clamp3_util::fs::sweep_stale_temps(&root);
        let guard = clamp3_util::fs::TempGuard::new(root.join(format!(
            "{}{name}{}",
            clamp3_util::fs::temp_prefix(),
            clamp3_util::fs::TEMP_SUFFIX
        )));
        let tmp = guard.path().to_path_buf();
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        self.params
            .save_safetensors(&tmp.join("model.safetensors"))?;
        save_tensors(
            &self.opt.state_tensors(),
            &tmp.join("optimizer.safetensors"),
        )?;
        let state = serde_json::json!({ "state": self.state, "optimizer_step": self.opt.step });
        std::fs::write(tmp.join("state.json"), state.to_string()).map_err(io(&tmp))?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        guard.keep();
        write_atomic(&self.dir().join("latest"), name.as_bytes())?;
        // Older checkpoints beyond `keep`.
        let mut all: Vec<_> = std::fs::read_dir(&root)
            .map_err(io(&root))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-"))
            .collect();
        all.sort();
        let keep = self.config.output.keep.max(1);
        for old in all.iter().take(all.len().saturating_sub(keep)) {
            let _ = std::fs::remove_dir_all(root.join(old));
        }
        Ok(final_dir)
    }

    /// Continues from the newest checkpoint of the output folder, if any (returns whether it
    /// did). Metrics logged after that checkpoint are dropped, as they will be redone.
    pub fn resume(&mut self) -> Result<bool, TrainError> {
        let latest = self.dir().join("latest");
        let Ok(name) = std::fs::read_to_string(&latest) else {
            return Ok(false);
        };
        let dir = self.dir().join("checkpoints").join(name.trim());
        self.params.restore(&dir.join("model.safetensors"))?;
        let text = std::fs::read_to_string(dir.join("state.json")).map_err(io(&dir))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| TrainError::Data(e.to_string()))?;
        self.state = serde_json::from_value(v["state"].clone())
            .map_err(|e| TrainError::Data(e.to_string()))?;
        let ostep = v["optimizer_step"].as_u64().unwrap_or(0) as usize;
        let moments = load_tensors(&dir.join("optimizer.safetensors"), self.params.device())?;
        self.opt.restore(ostep, moments);
        let metrics = self.dir().join("metrics.jsonl");
        if let Ok(text) = std::fs::read_to_string(&metrics) {
            let kept: String = text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s as usize <= self.state.step)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&metrics, kept).map_err(io(&metrics))?;
        }
        Ok(true)
    }
}

/// Forgets the progress of the run whose output folder is `dir` (its `latest` pointer,
/// `metrics.jsonl` and `checkpoints/`), so that the next run starts over; the trained models
/// and anything else in the folder stay.
pub fn reset_run(dir: &Path) -> Result<(), TrainError> {
    for f in ["latest", "metrics.jsonl"] {
        match std::fs::remove_file(dir.join(f)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(dir)(e)),
            _ => {}
        }
    }
    match std::fs::remove_dir_all(dir.join("checkpoints")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(dir)(e)),
        _ => Ok(()),
    }
}

/// Text -> music MRR: for each text vector, the rank of its own music vector by cosine among
/// all music vectors (ties counted against it, [`Ties::Pessimistic`]).
pub fn retrieval_mrr(text: &Tensor, music: &Tensor) -> Result<f64, TrainError> {
    let norm = |x: &Tensor| -> candle_core::Result<Tensor> {
        x.broadcast_div(&x.sqr()?.sum_keepdim(1)?.sqrt()?)
    };
    let sims = norm(text)?.matmul(&norm(music)?.t()?)?.to_vec2::<f32>()?;
    let ranks: Vec<usize> = sims
        .iter()
        .enumerate()
        .map(|(i, row)| rank::rank_of(row, i, Ties::Pessimistic))
        .collect();
    Ok(rank::mrr(&ranks))
}

/// The loss of a batch without updating anything (re-exported for evaluation tools).
pub fn loss_of(params: &Params, batch: &Batch, micro: usize) -> Result<f32, TrainError> {
    batch_loss(params, batch, micro)
}
