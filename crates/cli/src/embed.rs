//! `clamp3 embed`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clamp3::output::Output;
use clamp3::walk::collect_excluding;
use clamp3::{EmbedOptions, Embedding, EmbeddingRecord, Input, InputKind, InputRef};

use crate::report::Failures;
use crate::Ctx;

/// Output format of `embed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One `<stem>.npy` per input, mirroring the input tree below OUT.
    Npy,
    /// One JSON line per input, written to the file OUT (`-` for stdout).
    Jsonl,
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
    /// At most this many segments per encoder forward pass.
    #[arg(long = "batch-segments", alias = "batch", default_value_t = 32, value_parser = crate::args::positive)]
    pub batch_segments: usize,
    /// At most this many positions (tokens, patches, feature vectors) per encoder forward pass,
    /// padding included; segments are grouped by length across inputs within both limits.
    #[arg(long, default_value_t = clamp3_model::BatchLimits::DEFAULT_POSITIONS, value_parser = crate::args::positive)]
    pub batch_positions: usize,
    /// 5 s windows per MERT forward pass (recordings).
    #[arg(long, default_value_t = 1, value_parser = crate::args::positive)]
    pub mert_batch: usize,
    /// MERT model directory for audio files (default: <model dir>/mert, then the download cache).
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// BLIP model directory for images (default: <model dir>/blip, then the download cache).
    #[arg(long)]
    pub blip: Option<PathBuf>,
    /// Skip inputs whose output file already exists (default: replace it).
    #[arg(long)]
    pub skip_existing: bool,
    /// Keep each input's extension in its output name (`song.mid` -> `song.mid.npy`), so that
    /// inputs differing only in their extension get their own outputs.
    #[arg(long)]
    pub keep_extension: bool,
    /// A text to embed as it is (as a `.txt` file holding it would be); repeatable. Outputs are
    /// named `text-1`, `text-2`, ...
    #[arg(long = "text", value_name = "TEXT")]
    pub texts: Vec<String>,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Embed only shard I of N (0-based, e.g. `0/4`): the inputs whose content hash falls in
    /// it, so that N machines can share one job without coordination.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<clamp3::Shard>,
    /// Files or folders (walked recursively).
    #[arg(required_unless_present = "texts")]
    pub paths: Vec<PathBuf>,
}

/// Files embedded per library call: their segments share forward passes.
const CHUNK: usize = 32;

/// One input of the job.
struct Unit {
    /// What is embedded.
    input: Input,
    /// Its name in outputs and messages.
    name: PathBuf,
    kind: InputKind,
    /// Output path below the output folder (npy format).
    rel_out: PathBuf,
}

/// Where embeddings go. Opened before the model is loaded, so an unwritable destination stops
/// the job before any work.
enum Sink {
    Npy { root: PathBuf },
    Jsonl { out: Output },
}

impl Sink {
    fn open(args: &EmbedArgs) -> Result<Self> {
        Ok(match args.format {
            Format::Npy => {
                if clamp3_util::fs::is_stdout(&args.out) {
                    bail!("--out -: standard output takes one stream; use --format jsonl");
                }
                clamp3_util::fs::check_writable_dir(&args.out)
                    .with_context(|| format!("cannot write to {}", args.out.display()))?;
                Sink::Npy {
                    root: args.out.clone(),
                }
            }
            Format::Jsonl => Sink::Jsonl {
                out: Output::create(&args.out)
                    .with_context(|| format!("cannot write {}", args.out.display()))?,
            },
        })
    }

    fn write(&mut self, unit: &Unit, e: &Embedding, caption: Option<&str>) -> Result<()> {
        match self {
            Sink::Npy { root } => {
                let path = root.join(&unit.rel_out);
                clamp3::output::write_npy(&path, &e.npy_shape(), e.data())
                    .with_context(|| format!("cannot write {}", path.display()))
            }
            Sink::Jsonl { out } => {
                let record = EmbeddingRecord {
                    path: unit.name.to_string_lossy().into_owned(),
                    modality: unit.kind.modality(),
                    shape: e.npy_shape(),
                    embedding: e,
                    caption,
                };
                serde_json::to_writer(&mut *out, &record).context("cannot write JSON lines")?;
                writeln!(out).context("cannot write JSON lines")
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Sink::Jsonl { out } = self {
            out.commit().context("cannot write JSON lines")?;
        }
        Ok(())
    }
}

/// Runs `clamp3 embed`; returns false when `--strict` and some input failed.
pub fn run(ctx: &Ctx, args: &EmbedArgs) -> Result<bool> {
    // An output folder inside an input folder is not read back as input.
    let exclude = match args.format {
        Format::Npy => vec![args.out.clone()],
        Format::Jsonl => Vec::new(),
    };
    let (files, walk_errors) =
        collect_excluding(&args.paths, |p| InputKind::of(p).is_some(), "npy", &exclude);
    let mut failures = Failures::new();
    for e in &walk_errors {
        failures.push(format!("{}: {}", e.path.display(), e.msg));
    }
    if args.format == Format::Jsonl
        && files
            .iter()
            .any(|f| clamp3_util::fs::same_file(&f.path, &args.out))
    {
        bail!("--out {} is one of the inputs", args.out.display());
    }

    // Plan: which inputs to embed, and where each one's output goes.
    let mut units: Vec<Unit> = Vec::new();
    let mut skipped = 0usize;
    for (i, t) in args.texts.iter().enumerate() {
        let name = PathBuf::from(format!("text-{}", i + 1));
        units.push(Unit {
            input: Input::Text(t.clone()),
            rel_out: name.with_extension("npy"),
            name,
            kind: InputKind::Text,
        });
    }
    for f in &files {
        let Some(kind) = InputKind::of(&f.path) else {
            failures.push(format!(
                "{}: {}",
                f.path.display(),
                clamp3::InputCause::Unsupported
            ));
            continue;
        };
        let rel_out = if args.keep_extension {
            f.rel_out_keeping_extension("npy")
        } else {
            f.rel_out.clone()
        };
        if args.format == Format::Npy && args.skip_existing && args.out.join(&rel_out).exists() {
            skipped += 1;
            continue;
        }
        units.push(Unit {
            input: Input::Path(f.path.clone()),
            name: f.path.clone(),
            kind,
            rel_out,
        });
    }
    let mut other_shards = 0usize;
    if let Some(shard) = args.shard {
        units.retain(|u| {
            let hash = match &u.input {
                Input::Text(t) => Ok(clamp3::library::content_hash(t.as_bytes())),
                Input::Path(p) => clamp3::library::file_hash(p),
                Input::Bytes { bytes, .. } => Ok(clamp3::library::content_hash(bytes)),
            };
            match hash {
                Ok(h) if shard.contains(&h) => true,
                Ok(_) => {
                    other_shards += 1;
                    false
                }
                Err(e) => {
                    failures.push(format!("{}: {e}", u.name.display()));
                    false
                }
            }
        });
    }
    if units.is_empty() && failures.is_empty() && skipped == 0 && other_shards == 0 {
        bail!(
            "no input files found (supported: {})",
            InputKind::extension_list()
        );
    }

    let mut done = 0usize;
    if !units.is_empty() {
        let mut sink = Sink::open(args)?;
        let kinds: Vec<InputKind> = units.iter().map(|u| u.kind).collect();
        let companions = clamp3::Companions {
            mert: args.mert.as_deref(),
            blip: args.blip.as_deref(),
        };
        let embedder = crate::loading::embedder_for(ctx, &args.model, &kinds, &companions)?;
        let opts = EmbedOptions {
            sequence: args.sequence,
            max_batch: args.batch_segments,
            max_positions: args.batch_positions,
            mert_batch: args.mert_batch,
        };
        // The first input that embeds claims its output name; a failed one claims nothing.
        let mut claimed: HashMap<PathBuf, PathBuf> = HashMap::new();
        let bar = crate::progress::files_bar(units.len());
        for chunk in units.chunks(CHUNK) {
            let inputs: Vec<Input> = chunk.iter().map(|u| u.input.clone()).collect();
            for (u, r) in chunk
                .iter()
                .zip(embedder.embed_with_captions(&inputs, &opts))
            {
                bar.inc(1);
                let (e, caption) = match r {
                    Ok(x) => x,
                    Err(err) => {
                        failures.push_error(err.with_input(InputRef::Path(u.name.clone())));
                        continue;
                    }
                };
                if args.format == Format::Npy {
                    if let Some(first) = claimed.get(&u.rel_out) {
                        failures.push(format!(
                            "{}: output {} is already written from {} (--keep-extension keeps both)",
                            u.name.display(),
                            u.rel_out.display(),
                            first.display()
                        ));
                        continue;
                    }
                    claimed.insert(u.rel_out.clone(), u.name.clone());
                }
                // A destination that cannot be written stops the job (what is written stays).
                sink.write(u, &e, caption.as_deref())?;
                done += 1;
            }
        }
        bar.finish_and_clear();
        sink.finish()?;
    }
    let skipped = if skipped > 0 {
        format!(", skipped {skipped} existing")
    } else {
        String::new()
    };
    let shard = match args.shard {
        Some(s) => format!(
            " (shard {}/{}; {other_shards} in other shards)",
            s.index, s.count
        ),
        None => String::new(),
    };
    failures.print(&format!("embedded {done} input(s){skipped}{shard}"));
    Ok(failures.ok(args.strict))
}
