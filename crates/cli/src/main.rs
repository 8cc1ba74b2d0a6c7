//! `clamp3`: the command-line tool over the `clamp3` library.

mod convert;
mod embed;
mod features;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

/// CLaMP 3 in Rust: embed text, sheet music, MIDI and audio into one shared space.
#[derive(Debug, Parser)]
#[command(name = "clamp3", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of `embed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One `<stem>.npy` per input, mirroring the input tree below OUT.
    Npy,
    /// One JSON line per input, written to the file OUT (`-` for stdout).
    Jsonl,
}

/// Target of `convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvertTo {
    /// MIDI text format.
    Mtf,
    /// Interleaved ABC.
    Abc,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embed files (.txt, .abc, .mtf, .npy, .mid) or folders of them.
    Embed(EmbedArgs),
    /// Extract MERT-v1-95M features (1, N, 768) from recordings, as the reference's
    /// `extract_mert.py --mean_features`: one `<file name>.npy` per input (e.g. `song.mp3.npy`).
    Features {
        /// MERT model directory (config.json + weights); default: the download cache.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Output folder; the input tree is mirrored below it.
        #[arg(long)]
        out: PathBuf,
        /// 5 s windows per MERT forward pass.
        #[arg(long, default_value_t = 2)]
        batch: usize,
        /// Exit with status 1 if any input failed (failures are always listed).
        #[arg(long)]
        strict: bool,
        /// Audio files or folders (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Convert MIDI to MTF or standard ABC to interleaved ABC, byte-identical to the reference.
    Convert {
        /// Output format: `mtf` (from .mid/.midi) or `abc` (interleaved, from standard .abc or
        /// MusicXML .xml/.musicxml/.mxl).
        #[arg(long, value_enum)]
        to: ConvertTo,
        /// With `--to abc`: stop after MusicXML -> standard ABC (the reference's xml2abc step),
        /// before interleaving.
        #[arg(long)]
        standard_abc: bool,
        /// Output folder; the input tree is mirrored below it.
        #[arg(long)]
        out: PathBuf,
        /// Exit with status 1 if any input failed (failures are always listed).
        #[arg(long)]
        strict: bool,
        /// Files or folders (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Convert a release .pth checkpoint to .safetensors.
    ConvertWeights {
        /// The .pth (or any supported weights file) to read.
        input: PathBuf,
        /// The .safetensors file to write.
        output: PathBuf,
    },
    /// Download a released checkpoint and the XLM-R tokenizer (or MERT) into the model cache.
    Download {
        /// saas (best for audio, default), c2 (best for symbolic music), or mert (MERT-v1-95M,
        /// needed for audio files; CC BY-NC 4.0).
        #[arg(default_value = "saas")]
        variant: String,
        /// Download again even if the files are present.
        #[arg(long)]
        force: bool,
    },
    /// Show a model's configuration and checkpoint entries.
    Info {
        /// Model directory, weights file, or `saas` / `c2`.
        #[arg(long)]
        model: String,
    },
}

/// Arguments of `clamp3 embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// Model directory (config.json, tokenizer.json, weights), a weights file, or `saas` / `c2`
    /// for a downloaded release.
    #[arg(long)]
    pub model: String,
    /// Output folder (npy) or file (jsonl; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Npy)]
    pub format: Format,
    /// Per-position hidden states (1, L, hidden) instead of the global (1, D) vector.
    #[arg(long)]
    pub sequence: bool,
    /// Segments per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// MERT model directory for audio files (default: <model dir>/mert, then the download cache).
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Skip inputs whose output file already exists (default: replace it).
    #[arg(long)]
    pub skip_existing: bool,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => embed::run(&args),
        Command::Convert {
            to,
            out,
            strict,
            standard_abc,
            paths,
        } => {
            let target = match (to, standard_abc) {
                (ConvertTo::Mtf, false) => clamp3::convert::Target::Mtf,
                (ConvertTo::Abc, false) => clamp3::convert::Target::Abc,
                (ConvertTo::Abc, true) => clamp3::convert::Target::StandardAbc,
                (ConvertTo::Mtf, true) => {
                    eprintln!("error: --standard-abc goes with --to abc");
                    return ExitCode::from(2);
                }
            };
            convert::run(target, &out, &paths, strict)
        }
        Command::Features {
            mert,
            out,
            batch,
            strict,
            paths,
        } => features::run(mert.as_deref(), &out, batch, &paths, strict),
        Command::ConvertWeights { input, output } => convert_weights(&input, &output).map(|_| true),
        Command::Download { variant, force } => download(&variant, force).map(|_| true),
        Command::Info { model } => info(&model).map(|_| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn convert_weights(input: &std::path::Path, output: &std::path::Path) -> Result<()> {
    let w = clamp3_model::Weights::open(input)?;
    w.save_safetensors(output)?;
    eprintln!("wrote {} tensors to {}", w.len(), output.display());
    Ok(())
}

fn download(variant: &str, force: bool) -> Result<()> {
    let (dir, files, what) = if variant.eq_ignore_ascii_case("mert") {
        eprintln!("note: the MERT-v1-95M weights are licensed CC BY-NC 4.0 (non-commercial use)");
        (clamp3::hub::mert_dir(), clamp3::hub::mert_files(), "mert")
    } else {
        let v = clamp3::hub::Variant::parse(variant)
            .with_context(|| format!("unknown variant `{variant}` (saas, c2 or mert)"))?;
        (clamp3::hub::variant_dir(v), v.files(), v.name())
    };
    for (url, name) in files {
        let dest = dir.join(&name);
        if dest.is_file() && !force {
            eprintln!(
                "{} is present (use --force to fetch it again)",
                dest.display()
            );
            continue;
        }
        let mut bar = progress::DownloadBar::default();
        let sum = clamp3::hub::download(&url, &dest, &mut bar)?;
        std::fs::write(dest.with_extension("checksum"), format!("{sum}  {name}\n"))
            .with_context(|| format!("writing checksum next to {}", dest.display()))?;
        eprintln!("{} verified ({sum})", dest.display());
    }
    eprintln!("`{what}` is ready in {}", dir.display());
    Ok(())
}

fn info(model: &str) -> Result<()> {
    let path = clamp3::hub::resolve_model(model).map_err(anyhow::Error::msg)?;
    let files = clamp3_model::ModelFiles::locate(&path)?;
    println!("weights:   {}", files.weights.display());
    println!(
        "tokenizer: {}",
        files
            .tokenizer
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string())
    );
    println!(
        "config:    {}",
        serde_json::to_string_pretty(&files.config)?
    );
    let w = clamp3_model::Weights::open(&files.weights)?;
    println!("tensors:   {}", w.len());
    for (k, v) in w.checkpoint_info() {
        println!("{k}: {v}");
    }
    Ok(())
}
