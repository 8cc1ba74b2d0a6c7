//! `clamp3 train`: a contrastive training stage from a `train.toml`.

use std::path::Path;

use anyhow::{Context, Result};
use clamp3_train::config::TrainConfig;
use clamp3_train::trainer::Event;
use indicatif::{ProgressBar, ProgressStyle};

/// Runs (or resumes) the stage described by `config`.
pub fn run(config: &Path, fresh: bool, max_steps: Option<usize>) -> Result<bool> {
    let mut cfg = TrainConfig::from_file(config)?;
    if let Some(m) = max_steps {
        cfg.train.max_steps = Some(m);
    }
    let out = cfg.output.dir.clone();
    if fresh {
        for p in ["latest", "metrics.jsonl"] {
            let _ = std::fs::remove_file(out.join(p));
        }
        let _ = std::fs::remove_dir_all(out.join("checkpoints"));
    }
    let (mut trainer, summary) =
        clamp3_train::source::prepare(cfg, crate::device()).context("setting up the run")?;
    eprintln!(
        "data: {} training and {} evaluation records ({} skipped: no text or no file of the stage's modality)",
        summary.train, summary.eval, summary.skipped
    );
    if trainer.resume()? {
        eprintln!(
            "resumed from {} at update {}",
            out.join("latest").display(),
            trainer.state.step
        );
    }
    let total = trainer.config.train.max_steps.unwrap_or(
        trainer.config.train.epochs * (summary.train / trainer.config.train.batch_size).max(1),
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} updates (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(trainer.state.step as u64);
    let state = trainer.run(|e| match e {
        Event::Step {
            step,
            epoch,
            loss,
            lr,
        } => {
            bar.set_position(*step as u64);
            bar.set_message(format!("epoch {epoch} loss {loss:.4} lr {lr:.2e}"));
        }
        Event::Eval(r) => say(
            &bar,
            format!(
                "update {}: eval loss {:.4}, text->music MRR {:.4} over {} pairs (random {:.4})",
                r.step, r.loss, r.mrr, r.pairs, r.random_mrr
            ),
        ),
        Event::Checkpoint(p) => say(&bar, format!("checkpoint {}", p.display())),
    })?;
    bar.finish_and_clear();
    eprintln!(
        "done: {} updates, {} epochs, best eval loss {:?}; model in {} (usable with --model)",
        state.step,
        state.epoch,
        state.best_eval_loss,
        out.display()
    );
    Ok(true)
}

/// A line above the bar, or on stderr when there is no bar (not a terminal: logs still get it).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}
