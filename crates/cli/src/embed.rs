//! `clamp3 embed`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::output::Output;
use clamp3::walk::{collect, InputFile};
use clamp3::{EmbedOptions, Embedder, Embedding, EmbeddingRecord, InputKind};

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
    /// Segments per encoder forward pass.
    #[arg(long = "batch-segments", alias = "batch", default_value_t = 8)]
    pub batch_segments: usize,
    /// 5 s windows per MERT forward pass (recordings).
    #[arg(long, default_value_t = 2)]
    pub mert_batch: usize,
    /// MERT model directory for audio files (default: <model dir>/mert, then the download cache).
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Skip inputs whose output file already exists (default: replace it).
    #[arg(long)]
    pub skip_existing: bool,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Embed only shard I of N (0-based, e.g. `0/4`): the inputs whose content hash falls in
    /// it, so that N machines can share one job without coordination.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<clamp3::Shard>,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Files embedded per library call: their segments share forward passes.
const CHUNK: usize = 32;

/// Where embeddings go.
enum Sink {
    Npy { root: PathBuf },
    Jsonl { out: Output },
}

impl Sink {
    fn open(args: &EmbedArgs) -> Result<Self> {
        Ok(match args.format {
            Format::Npy => Sink::Npy {
                root: args.out.clone(),
            },
            Format::Jsonl => Sink::Jsonl {
                out: Output::create(&args.out)
                    .with_context(|| format!("opening {} for writing", args.out.display()))?,
            },
        })
    }

    fn write(&mut self, input: &InputFile, kind: InputKind, e: &Embedding) -> Result<()> {
        match self {
            Sink::Npy { root } => {
                let path = root.join(&input.rel_out);
                clamp3::output::write_npy(&path, &e.npy_shape(), e.data())
                    .with_context(|| format!("writing {}", path.display()))
            }
            Sink::Jsonl { out } => {
                let record = EmbeddingRecord {
                    path: input.path.to_string_lossy().into_owned(),
                    modality: kind.modality(),
                    shape: e.npy_shape(),
                    embedding: e,
                };
                serde_json::to_writer(&mut *out, &record).context("writing JSON lines")?;
                writeln!(out).context("writing JSON lines")
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Sink::Jsonl { out } = self {
            out.commit().context("writing JSON lines")?;
        }
        Ok(())
    }
}

/// Runs `clamp3 embed`; returns false when `--strict` and some input failed.
pub fn run(ctx: &Ctx, args: &EmbedArgs) -> Result<bool> {
    let model_path = clamp3::hub::resolve_model(&args.model)?;
    let (files, walk_errors) = collect(&args.paths, |p| InputKind::of(p).is_some(), "npy");
    let mut failures = Failures::new();
    for e in &walk_errors {
        failures.push(format!("{}: {}", e.path.display(), e.msg));
    }

    // Plan: which files to embed, which are skipped or collide on the same output path.
    let mut todo: Vec<(&InputFile, InputKind)> = Vec::new();
    let mut claimed: HashMap<&Path, &Path> = HashMap::new();
    let mut skipped = 0usize;
    for f in &files {
        let Some(kind) = InputKind::of(&f.path) else {
            failures.push(format!(
                "{}: {}",
                f.path.display(),
                clamp3::InputCause::Unsupported
            ));
            continue;
        };
        if args.format == Format::Npy {
            if let Some(first) = claimed.get(f.rel_out.as_path()) {
                failures.push(format!(
                    "{}: output {} is already written from {}",
                    f.path.display(),
                    f.rel_out.display(),
                    first.display()
                ));
                continue;
            }
            claimed.insert(&f.rel_out, &f.path);
            if args.skip_existing && args.out.join(&f.rel_out).exists() {
                skipped += 1;
                continue;
            }
        }
        todo.push((f, kind));
    }
    let mut other_shards = 0usize;
    if let Some(shard) = args.shard {
        todo.retain(|(f, _)| match clamp3::library::file_hash(&f.path) {
            Ok(h) if shard.contains(&h) => true,
            Ok(_) => {
                other_shards += 1;
                false
            }
            Err(e) => {
                failures.push(format!("{}: {e}", f.path.display()));
                false
            }
        });
    }
    if todo.is_empty() && failures.is_empty() && skipped == 0 && other_shards == 0 {
        bail!(
            "no input files found (supported: {})",
            InputKind::extension_list()
        );
    }

    let mut done = 0usize;
    if !todo.is_empty() {
        let mut kinds: Vec<InputKind> = todo.iter().map(|(_, k)| *k).collect();
        kinds.sort();
        kinds.dedup();
        let embedder = Embedder::for_kinds(&model_path, &kinds, args.mert.as_deref(), &ctx.device)?;
        let opts = EmbedOptions {
            sequence: args.sequence,
            max_batch: args.batch_segments.max(1),
            mert_batch: args.mert_batch.max(1),
        };
        let mut sink = Sink::open(args)?;
        let bar = crate::progress::files_bar(todo.len());
        for chunk in todo.chunks(CHUNK) {
            let paths: Vec<&Path> = chunk.iter().map(|(f, _)| f.path.as_path()).collect();
            let results = embedder.embed_files(&paths, &opts);
            for ((f, kind), r) in chunk.iter().zip(results) {
                let r = match r {
                    Ok(e) => sink
                        .write(f, *kind, &e)
                        .map_err(|e| crate::report::describe(&e)),
                    Err(e) => Err(crate::report::describe_error(e)),
                };
                match r {
                    Ok(()) => done += 1,
                    Err(msg) => failures.push(msg),
                }
                bar.inc(1);
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
    failures.print(&format!("embedded {done} file(s){skipped}{shard}"));
    Ok(failures.ok(args.strict))
}
