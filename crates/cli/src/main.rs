//! `clamp3`: the command-line tool over the `clamp3` library.

mod convert;
mod embed;
mod features;
mod probe;
mod progress;
mod retrieval;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// mimalloc keeps freed memory for reuse: candle allocates a fresh buffer for every tensor
/// operation, and with the system allocator the large ones go back to the kernel and fault in
/// again each time (a quarter of a training step was page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand, ValueEnum};

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

static DEVICE: std::sync::OnceLock<clamp3::Device> = std::sync::OnceLock::new();

/// The device chosen with `--device`.
pub fn device() -> &'static clamp3::Device {
    DEVICE.get_or_init(|| clamp3::Device::Cpu)
}

/// Output format of `embed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One `<stem>.npy` per input, mirroring the input tree below OUT.
    Npy,
    /// One JSON line per input, written to the file OUT (`-` for stdout).
    Jsonl,
}

/// Tie rule of `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TiesArg {
    /// Ties count against the query (default).
    Pessimistic,
    /// The reference scripts' rule: ties resolved in favour of the correct reference.
    Optimistic,
}

#[derive(Debug, Subcommand)]
enum IndexCommand {
    /// Embed and store new or changed files (by content hash); unchanged files are skipped.
    Add {
        /// Index directory (created if needed).
        #[arg(long)]
        index: PathBuf,
        /// Model directory, weights file, or saas / c2.
        #[arg(long)]
        model: String,
        /// MERT model directory, for audio files.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Files per committed batch.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Exit with status 1 if any input failed.
        #[arg(long)]
        strict: bool,
        /// Files or folders (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Drop the entries of files that no longer exist.
    Prune {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
    },
    /// Show what an index holds.
    Info {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ProbeCommand {
    /// Train a probe on labelled files or embeddings (labels from `<label>_<name>` file names).
    Train {
        /// Folder of training files.
        #[arg(long)]
        data: PathBuf,
        /// Folder of evaluation files (default: a held-out share of --data).
        #[arg(long)]
        eval: Option<PathBuf>,
        /// Share of --data held out when --eval is absent.
        #[arg(long, default_value_t = 0.2)]
        eval_share: f64,
        /// Where labels come from.
        #[arg(long, value_enum, default_value_t = probe::LabelFrom::Name)]
        label_from: probe::LabelFrom,
        /// Model (needed unless the folders hold (1, D) .npy embeddings).
        #[arg(long)]
        model: Option<String>,
        /// MERT model directory, for audio.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Output probe file (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Passes over the training data.
        #[arg(long, default_value_t = 200)]
        epochs: usize,
        /// AdamW learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f32,
        /// Examples per update.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Undersample each class to the smallest one in every epoch.
        #[arg(long)]
        balance: bool,
        /// Seed of splitting and shuffling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Predict labels: prints (or writes) {path: label}.
    Predict {
        /// Probe file from `probe train`.
        #[arg(long)]
        probe: PathBuf,
        /// Model (needed unless the inputs are (1, D) .npy embeddings).
        #[arg(long)]
        model: Option<String>,
        /// MERT model directory, for audio.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Write the JSON here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchmarkCommand {
    /// Build a WikiMT-X-style set from the music21 corpus: per tune interleaved ABC, MIDI, MTF,
    /// rendered audio (optional) and text from its metadata, listed in benchmark.jsonl.
    Build {
        /// The music21 `corpus` folder (scripts/benchmark/fetch_corpus.sh fetches it into
        /// testdata/music21/corpus).
        #[arg(long, default_value = "testdata/music21/corpus")]
        corpus: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Number of tunes (default: every tune that converts).
        #[arg(long)]
        limit: Option<usize>,
        /// Comma-separated corpus collections (default: essenFolksong, oneills1850,
        /// ryansMammoth, airdsAirs, miscFolk).
        #[arg(long)]
        collections: Option<String>,
        /// Render audio with fluidsynth.
        #[arg(long)]
        audio: bool,
        /// Soundfont for rendering (default: TimGM6mb).
        #[arg(long)]
        soundfont: Option<PathBuf>,
        /// Audio sample rate in Hz.
        #[arg(long, default_value_t = 24_000)]
        sample_rate: u32,
        /// Seed of the tune selection.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
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
    /// Embed files (text, ABC, MusicXML, MIDI, MTF, audio, MERT .npy) or folders of them.
    Embed(EmbedArgs),
    /// A persistent, incremental index of a music collection.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Search an index with a text (any language) or a file of any supported kind.
    Search {
        /// Index directory.
        #[arg(long)]
        index: PathBuf,
        /// Model (default: the one the index was built with).
        #[arg(long)]
        model: Option<String>,
        /// MERT model directory, for audio queries.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Only results of this modality: text, symbolic or audio.
        #[arg(long)]
        modality: Option<String>,
        /// Number of results.
        #[arg(short = 'k', long = "top", default_value_t = 10)]
        k: usize,
        /// Approximate (HNSW) search, for large indexes.
        #[arg(long)]
        approx: bool,
        /// HNSW search breadth (higher: better recall, slower).
        #[arg(long)]
        ef: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The query: a file path, else the text itself.
        query: String,
    },
    /// Zero-shot classification: rank label texts for each input.
    Classify {
        /// Model directory, weights file, or saas / c2.
        #[arg(long)]
        model: String,
        /// MERT model directory, for audio inputs.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Comma-separated labels, e.g. "jazz,folk,classical".
        #[arg(long)]
        labels: Option<String>,
        /// A file with one label (text, any language) per line.
        #[arg(long)]
        labels_file: Option<PathBuf>,
        /// Labels shown per input.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Files or folders to classify.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// The CLaMP 3 score of generated music against prompts or references (pairwise by file
    /// key, or --group for whole distributions).
    Score {
        /// Folder of queries (e.g. generated music).
        queries: PathBuf,
        /// Folder of references (prompts or reference music); paired by folder + name up to the
        /// first dot.
        references: PathBuf,
        /// Model (needed unless both folders hold (1, D) .npy embeddings).
        #[arg(long)]
        model: Option<String>,
        /// MERT model directory, for audio.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// Distribution-level score: cosine of the mean vectors.
        #[arg(long)]
        group: bool,
        /// Folder for pairwise_similarities.jsonl and unmatched_files.jsonl.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 0 even when some files have no counterpart.
        #[arg(long)]
        allow_unmatched: bool,
    },
    /// Retrieval evaluation: MRR and Hit@1/10/100 of paired queries and references.
    Eval {
        /// Folder of queries (paired with references by folder + name up to the first dot).
        queries: Option<PathBuf>,
        /// Folder of references.
        references: Option<PathBuf>,
        /// A WikiMT-X-style JSONL file instead of two folders.
        #[arg(long, conflicts_with_all = ["queries", "references"])]
        jsonl: Option<PathBuf>,
        /// JSONL mode: the text field used as query (background, analysis, description, scene).
        #[arg(long, default_value = "description")]
        text_field: String,
        /// JSONL mode: `leadsheet` (ABC in the record) or a field holding a file path (abc, mtf,
        /// midi, audio), relative to the JSONL file.
        #[arg(long, default_value = "leadsheet")]
        music: String,
        /// Model (needed unless both folders hold (1, D) .npy embeddings).
        #[arg(long)]
        model: Option<String>,
        /// MERT model directory, for audio.
        #[arg(long)]
        mert: Option<PathBuf>,
        /// How a tie with the correct reference is ranked.
        #[arg(long, value_enum, default_value_t = TiesArg::Pessimistic)]
        ties: TiesArg,
        /// Write the rank of every query (JSON lines) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Linear probes on embeddings.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Local evaluation sets.
    #[command(subcommand)]
    Benchmark(BenchmarkCommand),
    /// Contrastive training / fine-tuning (one stage per run), resumable.
    Train {
        /// The run's configuration (see the clamp3-train `config` docs).
        #[arg(long)]
        config: PathBuf,
        /// Start over instead of resuming from the output folder's last checkpoint.
        #[arg(long)]
        fresh: bool,
        /// Stop after this many updates (overrides the configuration).
        #[arg(long)]
        max_steps: Option<usize>,
    },
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
    match clamp3::parse_device(&cli.device) {
        Ok(d) => {
            let _ = DEVICE.set(d);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
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
        Command::Index(IndexCommand::Add {
            index,
            model,
            mert,
            batch,
            strict,
            paths,
        }) => retrieval::index_add(&index, &model, mert.as_deref(), batch, &paths, strict),
        Command::Index(IndexCommand::Prune { index }) => {
            retrieval::index_prune(&index).map(|_| true)
        }
        Command::Index(IndexCommand::Info { index }) => retrieval::index_info(&index).map(|_| true),
        Command::Search {
            index,
            model,
            mert,
            modality,
            k,
            approx,
            ef,
            json,
            query,
        } => retrieval::search(&retrieval::SearchArgs {
            index: &index,
            model: model.as_deref(),
            mert: mert.as_deref(),
            query: &query,
            modality: modality.as_deref(),
            k,
            approx,
            ef,
            json,
        })
        .map(|_| true),
        Command::Classify {
            model,
            mert,
            labels,
            labels_file,
            top,
            json,
            paths,
        } => {
            let mut names = labels
                .as_deref()
                .map(clamp3::classify::parse_label_list)
                .unwrap_or_default();
            if let Some(f) = labels_file {
                match std::fs::read_to_string(&f) {
                    Ok(t) => names.extend(
                        t.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_string),
                    ),
                    Err(e) => {
                        eprintln!("error: {}: {e}", f.display());
                        return ExitCode::from(2);
                    }
                }
            }
            retrieval::classify(&model, mert.as_deref(), names, &paths, top, json)
        }
        Command::Score {
            queries,
            references,
            model,
            mert,
            group,
            out,
            allow_unmatched,
        } => retrieval::score(&retrieval::ScoreArgs {
            queries: &queries,
            references: &references,
            model: model.as_deref(),
            mert: mert.as_deref(),
            group,
            out: out.as_deref(),
            allow_unmatched,
        }),
        Command::Eval {
            queries,
            references,
            jsonl,
            text_field,
            music,
            model,
            mert,
            ties,
            out,
        } => {
            let ties = match ties {
                TiesArg::Pessimistic => clamp3::eval::Ties::Pessimistic,
                TiesArg::Optimistic => clamp3::eval::Ties::Optimistic,
            };
            match (jsonl, queries, references, model.as_deref()) {
                (Some(jsonl), _, _, Some(model)) => {
                    retrieval::eval_jsonl(&retrieval::JsonlEvalArgs {
                        jsonl: &jsonl,
                        text_field: &text_field,
                        music: &music,
                        model,
                        mert: mert.as_deref(),
                        ties,
                        out: out.as_deref(),
                    })
                }
                (Some(_), _, _, None) => Err(anyhow::anyhow!("--jsonl needs --model")),
                (None, Some(q), Some(r), model) => retrieval::eval(&retrieval::EvalArgs {
                    queries: &q,
                    references: &r,
                    model,
                    mert: mert.as_deref(),
                    ties,
                    out: out.as_deref(),
                }),
                _ => Err(anyhow::anyhow!(
                    "give QUERIES REFERENCES folders or --jsonl FILE"
                )),
            }
        }
        Command::Probe(ProbeCommand::Train {
            data,
            eval,
            eval_share,
            label_from,
            model,
            mert,
            out,
            epochs,
            lr,
            batch,
            balance,
            seed,
        }) => probe::train(&probe::TrainArgs {
            data: &data,
            eval: eval.as_deref(),
            eval_share,
            model: model.as_deref(),
            mert: mert.as_deref(),
            label_from,
            out: &out,
            opts: clamp3::probe::TrainOptions {
                epochs,
                lr,
                batch_size: batch,
                balance,
                seed,
                ..Default::default()
            },
        })
        .map(|_| true),
        Command::Probe(ProbeCommand::Predict {
            probe: p,
            model,
            mert,
            out,
            paths,
        }) => probe::predict(
            &p,
            model.as_deref(),
            mert.as_deref(),
            &paths,
            out.as_deref(),
        ),
        Command::Benchmark(BenchmarkCommand::Build {
            corpus,
            out,
            limit,
            collections,
            audio,
            soundfont,
            sample_rate,
            seed,
        }) => {
            let mut o = clamp3::benchmark::BuildOptions::new(corpus, out);
            o.limit = limit;
            if let Some(c) = collections {
                o.collections = c
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
            }
            o.audio = audio;
            o.soundfont = soundfont;
            o.sample_rate = sample_rate;
            o.seed = seed;
            benchmark_build(&o)
        }
        Command::Train {
            config,
            fresh,
            max_steps,
        } => train::run(&config, fresh, max_steps),
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

fn benchmark_build(o: &clamp3::benchmark::BuildOptions) -> Result<bool> {
    let bar = indicatif::ProgressBar::new(o.limit.unwrap_or(0) as u64);
    let report = clamp3::benchmark::build(o, &|p: &clamp3::benchmark::Progress| {
        bar.set_length(p.target as u64);
        bar.set_position(p.built as u64);
    })?;
    bar.finish_and_clear();
    eprintln!("{}", report.summary());
    eprintln!("wrote {}", o.out.join("benchmark.jsonl").display());
    Ok(true)
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
