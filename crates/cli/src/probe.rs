//! `clamp3 probe train` / `probe predict`: linear probes on embeddings.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::probe::{label_from_name, split, Example, Probe, TrainOptions};
use clamp3::vectors::Embedded;

use crate::report::Failures;
use crate::Ctx;

/// Linear probes on embeddings.
#[derive(Debug, clap::Subcommand)]
pub enum ProbeCommand {
    /// Train a probe on labelled files or embeddings (labels from `<label>_<name>` file names).
    Train(TrainArgs),
    /// Predict labels: prints (or writes) {path: label}.
    Predict(PredictArgs),
}

/// Arguments of `clamp3 probe train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Folder of training files.
    #[arg(long)]
    pub data: PathBuf,
    /// Folder of evaluation files (default: a held-out share of --data).
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Share of --data held out when --eval is absent (between 0 and 1).
    #[arg(long, default_value_t = 0.2, value_parser = crate::args::share)]
    pub eval_share: f64,
    /// Where labels come from.
    #[arg(long, value_enum, default_value_t = LabelFrom::Name)]
    pub label_from: LabelFrom,
    /// Model (needed unless the folders hold (1, D) .npy embeddings).
    #[arg(long)]
    pub model: Option<String>,
    /// MERT model directory, for audio.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Output probe file (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the training data.
    #[arg(long, default_value_t = 200, value_parser = crate::args::positive)]
    pub epochs: usize,
    /// AdamW learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = crate::args::positive_f32)]
    pub lr: f32,
    /// Examples per update.
    #[arg(long = "batch-size", alias = "batch", default_value_t = 32, value_parser = crate::args::positive)]
    pub batch_size: usize,
    /// Undersample each class to the smallest one in every epoch.
    #[arg(long)]
    pub balance: bool,
    /// Seed of splitting and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Arguments of `clamp3 probe predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Probe file from `probe train`.
    #[arg(long)]
    pub probe: PathBuf,
    /// Model (needed unless the inputs are (1, D) .npy embeddings).
    #[arg(long)]
    pub model: Option<String>,
    /// MERT model directory, for audio.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs a `probe` subcommand.
pub fn run(ctx: &Ctx, c: &ProbeCommand) -> Result<bool> {
    match c {
        ProbeCommand::Train(a) => train(ctx, a).map(|()| true),
        ProbeCommand::Predict(a) => predict(ctx, a),
    }
}

/// Where a file's label comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFrom {
    /// The file name up to its first `_` (`<label>_<name>.npy`, the reference's convention).
    Name,
    /// The name of the folder holding the file.
    Folder,
}

fn label_of(e: &Embedded, from: LabelFrom) -> Result<String> {
    let l = match from {
        LabelFrom::Name => e
            .path
            .file_name()
            .and_then(|n| label_from_name(&n.to_string_lossy()).map(str::to_string)),
        LabelFrom::Folder => e
            .path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
    };
    l.with_context(|| {
        format!(
            "{}: no label (expected <label>_<name>, or use --label-from folder)",
            e.path.display()
        )
    })
}

fn examples(emb: Vec<Embedded>, from: LabelFrom, labels: &[String]) -> Result<Vec<Example>> {
    emb.into_iter()
        .map(|e| {
            let l = label_of(&e, from)?;
            let i = labels.iter().position(|x| *x == l).with_context(|| {
                format!(
                    "{}: label `{l}` does not occur in the training data",
                    e.path.display()
                )
            })?;
            Ok((e.vector, i))
        })
        .collect()
}

/// `clamp3 probe train`.
fn train(ctx: &Ctx, a: &TrainArgs) -> Result<()> {
    let opts = TrainOptions {
        epochs: a.epochs,
        lr: a.lr,
        batch_size: a.batch_size,
        balance: a.balance,
        seed: a.seed,
        ..Default::default()
    };
    let embed = |dir: &Path, what: &str| -> Result<Vec<Embedded>> {
        let mut failures = Failures::new();
        let emb = crate::apps::embed_roots(
            ctx,
            &[dir.to_path_buf()],
            a.model.as_deref(),
            a.mert.as_deref(),
            what,
            &mut failures,
        )?;
        if !failures.is_empty() {
            failures.print(&format!("embedded {} file(s)", emb.len()));
            bail!("{} file(s) could not be embedded", failures.len());
        }
        Ok(emb)
    };
    let data = embed(&a.data, "the data folder")?;
    let mut labels: Vec<String> = data
        .iter()
        .map(|e| label_of(e, a.label_from))
        .collect::<Result<_>>()?;
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        bail!("need at least two labels, found {labels:?}");
    }
    let data = examples(data, a.label_from, &labels)?;
    let (train, eval) = match &a.eval {
        Some(dir) => (
            data,
            examples(embed(dir, "the evaluation folder")?, a.label_from, &labels)?,
        ),
        None => split(data, a.eval_share, opts.seed),
    };
    eprintln!(
        "training on {} examples, evaluating on {}, {} classes",
        train.len(),
        eval.len(),
        labels.len()
    );
    let probe = Probe::train(labels, &train, &eval, &opts);
    let m = probe.eval.context("no epoch was run")?;
    clamp3::output::write_atomic(&a.out, serde_json::to_string(&probe)?.as_bytes())?;
    println!("accuracy: {:.4}", m.accuracy);
    println!("macro-F1: {:.4}", m.macro_f1);
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

/// `clamp3 probe predict`: prints `{path: label}` as the reference's inference script writes it.
fn predict(ctx: &Ctx, a: &PredictArgs) -> Result<bool> {
    let probe = &a.probe;
    let p: Probe = serde_json::from_str(
        &std::fs::read_to_string(probe).with_context(|| format!("reading {}", probe.display()))?,
    )
    .with_context(|| format!("{}: not a probe file", probe.display()))?;
    p.check()
        .map_err(|e| anyhow::anyhow!("{}: not a usable probe: {e}", probe.display()))?;
    let mut failures = Failures::new();
    let emb = crate::apps::embed_roots(
        ctx,
        &a.paths,
        a.model.as_deref(),
        a.mert.as_deref(),
        "the inputs",
        &mut failures,
    )?;
    let mut map = serde_json::Map::new();
    for e in &emb {
        if e.vector.len() != p.dim {
            bail!(
                "{}: embedding of size {}, the probe takes {}",
                e.path.display(),
                e.vector.len(),
                p.dim
            );
        }
        map.insert(
            e.path.to_string_lossy().into_owned(),
            serde_json::Value::from(p.labels[p.predict(&e.vector)].clone()),
        );
    }
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(map))?;
    match &a.out {
        Some(o) => clamp3::output::write_atomic(o, text.as_bytes())?,
        None => println!("{text}"),
    }
    if !failures.is_empty() {
        failures.print(&format!("predicted {} file(s)", emb.len()));
    }
    Ok(failures.ok(a.strict))
}
