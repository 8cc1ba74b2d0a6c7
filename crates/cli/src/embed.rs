//! `clamp3 embed`.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clamp3::walk::{collect, InputFile};
use clamp3::{Embedder, Embedding, InputKind};

use crate::{EmbedArgs, Format};

/// Files embedded per library call: their segments share forward passes.
const CHUNK: usize = 32;

/// Where embeddings go.
enum Sink {
    Npy {
        root: std::path::PathBuf,
    },
    Jsonl {
        out: Box<dyn Write>,
        tmp: Option<(tempfile::NamedTempFile, std::path::PathBuf)>,
    },
}

impl Sink {
    fn open(args: &EmbedArgs) -> Result<Self> {
        Ok(match args.format {
            Format::Npy => Sink::Npy {
                root: args.out.clone(),
            },
            Format::Jsonl if args.out.as_os_str() == "-" => Sink::Jsonl {
                out: Box::new(std::io::BufWriter::new(std::io::stdout())),
                tmp: None,
            },
            Format::Jsonl => {
                let dir = match args.out.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => ".".into(),
                };
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let tmp = tempfile::Builder::new()
                    .prefix(".clamp3-")
                    .suffix(".jsonl.tmp")
                    .tempfile_in(&dir)
                    .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
                let file = tmp.reopen()?;
                Sink::Jsonl {
                    out: Box::new(std::io::BufWriter::new(file)),
                    tmp: Some((tmp, args.out.clone())),
                }
            }
        })
    }

    fn write(&mut self, input: &InputFile, kind: InputKind, e: &Embedding) -> Result<()> {
        match self {
            Sink::Npy { root } => {
                let path = root.join(&input.rel_out);
                clamp3::output::write_npy(&path, &e.npy_shape(), e.data())
                    .with_context(|| format!("writing {}", path.display()))
            }
            Sink::Jsonl { out, .. } => {
                let embedding = match e {
                    Embedding::Global(v) => json_floats(v),
                    Embedding::Sequence { data, dim, .. } => {
                        let rows: Vec<String> = data.chunks(*dim).map(json_floats).collect();
                        format!("[{}]", rows.join(","))
                    }
                };
                writeln!(
                    out,
                    "{{\"path\":{},\"modality\":\"{}\",\"shape\":{},\"embedding\":{}}}",
                    serde_json::Value::from(input.path.to_string_lossy()),
                    kind.modality().as_str(),
                    serde_json::json!(e.npy_shape()),
                    embedding
                )
                .context("writing JSON lines")
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Sink::Jsonl { mut out, tmp } = self {
            out.flush()?;
            drop(out);
            if let Some((tmp, dest)) = tmp {
                tmp.persist(&dest)
                    .map_err(|e| e.error)
                    .with_context(|| format!("writing {}", dest.display()))?;
            }
        }
        Ok(())
    }
}

/// A JSON array of f32 in their shortest round-trip form (not widened to f64 digits).
fn json_floats(v: &[f32]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|x| {
            if x.is_finite() {
                format!("{x}")
            } else {
                "null".into()
            }
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// Runs `clamp3 embed`; returns false when `--strict` and some input failed.
pub fn run(args: &EmbedArgs) -> Result<bool> {
    let model_path = clamp3::hub::resolve_model(&args.model).map_err(anyhow::Error::msg)?;
    let (files, walk_errors) = collect(&args.paths, |p| InputKind::of(p).is_some(), "npy");
    let mut failures: Vec<String> = walk_errors
        .iter()
        .map(|e| format!("{}: {}", e.path.display(), e.msg))
        .collect();

    // Plan: which files to embed, which are skipped or collide on the same output path.
    let mut todo: Vec<(&InputFile, InputKind)> = Vec::new();
    let mut claimed: HashMap<&Path, &Path> = HashMap::new();
    let mut skipped = 0usize;
    for f in &files {
        let Some(kind) = InputKind::of(&f.path) else {
            failures.push(format!(
                "{}: unsupported file type (supported: {})",
                f.path.display(),
                InputKind::EXTENSIONS.join(", ")
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
    if todo.is_empty() && failures.is_empty() && skipped == 0 {
        bail!(
            "no input files found (supported: {})",
            InputKind::EXTENSIONS.join(", ")
        );
    }

    let modalities: BTreeSet<_> = todo.iter().map(|(_, k)| k.modality()).collect();
    let mut done = 0usize;
    if !todo.is_empty() {
        let modalities: Vec<_> = modalities.into_iter().collect();
        let mut embedder = Embedder::load(&model_path, &modalities, crate::device())?;
        embedder.max_batch = args.batch.max(1);
        if todo.iter().any(|(_, k)| *k == InputKind::Audio) {
            embedder.attach_mert(args.mert.as_deref(), crate::device())?;
        }
        let mut sink = Sink::open(args)?;
        let bar = crate::progress::files_bar(todo.len());
        for chunk in todo.chunks(CHUNK) {
            let paths: Vec<&Path> = chunk.iter().map(|(f, _)| f.path.as_path()).collect();
            let results = embedder.embed_files(&paths, args.sequence);
            for ((f, kind), r) in chunk.iter().zip(results) {
                match r
                    .map_err(anyhow::Error::from)
                    .and_then(|e| sink.write(f, *kind, &e))
                {
                    Ok(()) => done += 1,
                    Err(e) => {
                        let msg = format!("{e:#}");
                        bar.suspend(|| eprintln!("error: {msg}"));
                        failures.push(msg);
                    }
                }
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        sink.finish()?;
    }
    eprintln!(
        "embedded {done} file(s){}{}",
        if skipped > 0 {
            format!(", skipped {skipped} existing")
        } else {
            String::new()
        },
        if failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed:", failures.len())
        }
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    Ok(failures.is_empty() || !args.strict)
}
