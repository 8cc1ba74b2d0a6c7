//! `clamp3 benchmark build`: a local WikiMT-X-style evaluation set.

use std::path::PathBuf;

use anyhow::Result;
use clamp3_benchmark::{BuildOptions, Progress};

/// Local evaluation sets.
#[derive(Debug, clap::Subcommand)]
pub enum BenchmarkCommand {
    /// Build a WikiMT-X-style set from the music21 corpus: per tune interleaved ABC, MIDI, MTF,
    /// rendered audio (optional) and text from its metadata, listed in benchmark.jsonl.
    Build(BuildArgs),
}

/// Arguments of `clamp3 benchmark build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The music21 `corpus` folder (scripts/benchmark/fetch_corpus.sh fetches it into
    /// testdata/music21/corpus).
    #[arg(long, default_value = "testdata/music21/corpus")]
    pub corpus: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of tunes (default: every tune that converts).
    #[arg(long, value_parser = crate::args::positive)]
    pub limit: Option<usize>,
    /// Comma-separated corpus collections (default: essenFolksong, oneills1850,
    /// ryansMammoth, airdsAirs, miscFolk).
    #[arg(long)]
    pub collections: Option<String>,
    /// Render audio with fluidsynth.
    #[arg(long)]
    pub audio: bool,
    /// Soundfont for rendering (default: TimGM6mb).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Audio sample rate in Hz.
    #[arg(long, default_value_t = 24_000, value_parser = crate::args::sample_rate)]
    pub sample_rate: u32,
    /// Seed of the tune selection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs a `benchmark` subcommand.
pub fn run(c: &BenchmarkCommand) -> Result<bool> {
    let BenchmarkCommand::Build(a) = c;
    let mut o = BuildOptions::new(a.corpus.clone(), a.out.clone());
    o.limit = a.limit;
    if let Some(c) = &a.collections {
        o.collections = c
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
    }
    o.audio = a.audio;
    o.soundfont = a.soundfont.clone();
    o.sample_rate = a.sample_rate;
    o.seed = a.seed;
    let bar = indicatif::ProgressBar::new(o.limit.unwrap_or(0) as u64);
    let report = clamp3_benchmark::build(&o, &|p: &Progress| {
        bar.set_length(p.target as u64);
        bar.set_position(p.built as u64);
    })?;
    bar.finish_and_clear();
    eprintln!("{}", report.summary());
    eprintln!("wrote {}", o.out.join("benchmark.jsonl").display());
    Ok(true)
}
