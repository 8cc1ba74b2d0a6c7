//! `clamp3`: the command-line tool over the `clamp3` library. Each subcommand's arguments are
//! one `clap::Args` struct, defined once in its module and handed to it whole.

mod apps;
mod args;
mod benchmark;
mod convert;
mod embed;
mod features;
mod index;
mod loading;
mod models;
mod probe;
mod progress;
mod quantize;
mod report;
mod serve;
mod train;

use std::process::ExitCode;

/// mimalloc keeps freed memory for reuse: candle allocates a fresh buffer for every tensor
/// operation, and with the system allocator the large ones go back to the kernel and fault in
/// again each time (a quarter of a training step was page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

/// CLaMP 3 in Rust: embed text, sheet music, MIDI and audio into one shared space.
#[derive(Debug, Parser)]
#[command(name = "clamp3", version, about, long_about = None)]
struct Cli {
    /// Where the model runs: cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, global = true, default_value = "cpu")]
    device: String,
    #[command(subcommand)]
    command: Command,
}

/// What every command may need besides its own arguments.
pub struct Ctx {
    /// The device chosen with `--device`.
    pub device: clamp3::Device,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embed files (text, ABC, MusicXML, MIDI, MTF, audio, MERT .npy) or folders of them.
    Embed(embed::EmbedArgs),
    /// A persistent, incremental index of a music collection.
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Search an index with a text (any language) or a file of any supported kind.
    Search(index::SearchArgs),
    /// Zero-shot classification: rank label texts for each input.
    Classify(apps::ClassifyArgs),
    /// The CLaMP 3 score of generated music against prompts or references (pairwise by file
    /// key, or --group for whole distributions).
    Score(apps::ScoreArgs),
    /// Retrieval evaluation: MRR and Hit@1/10/100 of paired queries and references.
    Eval(apps::EvalArgs),
    /// Linear probes on embeddings.
    #[command(subcommand)]
    Probe(probe::ProbeCommand),
    /// Local evaluation sets.
    #[command(subcommand)]
    Benchmark(benchmark::BenchmarkCommand),
    /// Contrastive training / fine-tuning (one stage per run), resumable.
    Train(train::TrainArgs),
    /// Annotate a music collection as M4-RAG-style JSONL for training, through retrieval and any
    /// OpenAI-compatible LLM server (docs/annotate.md); resumable.
    Annotate(clamp3_annotate::cli::AnnotateArgs),
    /// Extract MERT-v1-95M features (1, N, 768) from recordings, as the reference's
    /// `extract_mert.py --mean_features`: one `<file name>.npy` per input (e.g. `song.mp3.npy`).
    Features(features::FeaturesArgs),
    /// Convert MIDI to MTF or standard ABC to interleaved ABC, byte-identical to the reference.
    Convert(convert::ConvertArgs),
    /// Convert a release .pth checkpoint to .safetensors.
    ConvertWeights(models::ConvertWeightsArgs),
    /// Write a half-precision (f16, bf16) or quantised (q8_0, q6_k, q4_k; GGUF) copy of a model
    /// directory, or (--report) measure every format's fidelity and speed against f32.
    Quantize(quantize::QuantizeArgs),
    /// Download a released checkpoint and the XLM-R tokenizer (or MERT) into the model cache.
    Download(models::DownloadArgs),
    /// Show a model's configuration and checkpoint entries.
    Info(models::InfoArgs),
    /// Serve the model (and an index) over HTTP: embeddings, search, classify, score.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`clamp3 search ... | head -1`): Rust ignores SIGPIPE, so writes would fail instead.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // An interrupted command leaves no temporary file behind (the server shuts down gracefully
    // on its own signals instead).
    if !matches!(cli.command, Command::Serve(_)) {
        clamp3_util::fs::remove_temps_on_signal();
    }
    let ctx = match clamp3::parse_device(&cli.device) {
        Ok(device) => Ctx { device },
        Err(e) => {
            eprintln!("error: --device {}: {e}", cli.device);
            return ExitCode::from(2);
        }
    };
    let result = match &cli.command {
        Command::Embed(a) => embed::run(&ctx, a),
        Command::Index(c) => index::run(&ctx, c),
        Command::Search(a) => index::search(&ctx, a).map(|()| true),
        Command::Classify(a) => apps::classify(&ctx, a),
        Command::Score(a) => apps::score(&ctx, a),
        Command::Eval(a) => apps::eval(&ctx, a),
        Command::Probe(c) => probe::run(&ctx, c),
        Command::Benchmark(c) => benchmark::run(c),
        Command::Train(a) => train::run(&ctx, a),
        Command::Annotate(a) => clamp3_annotate::cli::run(a),
        Command::Features(a) => features::run(&ctx, a),
        Command::Convert(a) => convert::run(a),
        Command::ConvertWeights(a) => models::convert_weights(a).map(|()| true),
        Command::Quantize(a) => quantize::run(&ctx, a),
        Command::Download(a) => models::download(a).map(|()| true),
        Command::Info(a) => models::info(a).map(|()| true),
        Command::Serve(a) => serve::run(&ctx, a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", report::describe(&e));
            ExitCode::from(2)
        }
    }
}
