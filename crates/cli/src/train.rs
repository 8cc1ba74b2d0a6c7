//! `clamp3 train`: a contrastive training stage from a `train.toml`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clamp3_train::config::TrainConfig;
use clamp3_train::trainer::Event;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Ctx;

/// Arguments of `clamp3 train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The run's configuration (see the clamp3-train `config` docs).
    #[arg(long)]
    pub config: PathBuf,
    /// Start over instead of resuming from the output folder's last checkpoint.
    #[arg(long)]
    pub fresh: bool,
    /// Stop after this many updates (overrides the configuration).
    #[arg(long, value_parser = crate::args::positive)]
    pub max_steps: Option<usize>,
}

/// Runs (or resumes) the stage described by the configuration.
pub fn run(ctx: &Ctx, a: &TrainArgs) -> Result<bool> {
    let mut cfg = TrainConfig::from_file(&a.config)?;
    if let Some(m) = a.max_steps {
        cfg.train.max_steps = Some(m);
    }
    let out = cfg.output.dir.clone();
    if a.fresh {
        clamp3_train::trainer::reset_run(&out)?;
    }
    let (mut trainer, summary) =
        clamp3_train::source::prepare(cfg, &ctx.device).context("setting up the run")?;
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
    let bar = ProgressBar::new(trainer.planned_steps() as u64);
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
