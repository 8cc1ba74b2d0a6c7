//! `clamp3 probe train` / `probe predict`: linear probes on embeddings.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::probe::{label_from_name, split, Example, Probe, TrainOptions};
use clamp3::vectors::Embedded;

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

/// Options of `probe train`.
pub struct TrainArgs<'a> {
    pub data: &'a Path,
    pub eval: Option<&'a Path>,
    pub eval_share: f64,
    pub model: Option<&'a str>,
    pub mert: Option<&'a Path>,
    pub label_from: LabelFrom,
    pub out: &'a Path,
    pub opts: TrainOptions,
}

/// `clamp3 probe train`.
pub fn train(a: &TrainArgs) -> Result<()> {
    let embed = |dir: &Path, what: &str| -> Result<Vec<Embedded>> {
        let (emb, failures) =
            crate::retrieval::embed_roots(&[dir.to_path_buf()], a.model, a.mert, what)?;
        if let Some(f) = failures.first() {
            bail!("{} file(s) could not be embedded, e.g. {f}", failures.len());
        }
        Ok(emb)
    };
    let data = embed(a.data, "the data folder")?;
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
    let (train, eval) = match a.eval {
        Some(dir) => (
            data,
            examples(embed(dir, "the evaluation folder")?, a.label_from, &labels)?,
        ),
        None => split(data, a.eval_share, a.opts.seed),
    };
    eprintln!(
        "training on {} examples, evaluating on {}, {} classes",
        train.len(),
        eval.len(),
        labels.len()
    );
    let probe = Probe::train(labels, &train, &eval, &a.opts);
    let m = probe.eval.context("no epoch was run")?;
    clamp3::output::write_atomic(a.out, serde_json::to_string(&probe)?.as_bytes())?;
    println!("accuracy: {:.4}", m.accuracy);
    println!("macro-F1: {:.4}", m.macro_f1);
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

/// `clamp3 probe predict`: prints `{path: label}` as the reference's inference script writes it.
pub fn predict(
    probe: &Path,
    model: Option<&str>,
    mert: Option<&Path>,
    paths: &[PathBuf],
    out: Option<&Path>,
) -> Result<bool> {
    let p: Probe = serde_json::from_str(
        &std::fs::read_to_string(probe).with_context(|| format!("reading {}", probe.display()))?,
    )
    .with_context(|| format!("{}: not a probe file", probe.display()))?;
    let (emb, failures) = crate::retrieval::embed_roots(paths, model, mert, "the inputs")?;
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
    match out {
        Some(o) => clamp3::output::write_atomic(o, text.as_bytes())?,
        None => println!("{text}"),
    }
    for f in &failures {
        eprintln!("  {f}");
    }
    Ok(failures.is_empty())
}
