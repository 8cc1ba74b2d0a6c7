//! `clamp3 index add | prune | info` and `clamp3 search`: a collection in a persistent index.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::library::{query_input, SearchMode, SearchOptions, SearchResults};
use clamp3::walk::collect;
use clamp3::{EmbedOptions, Embedder, Input, InputKind, Library, Modality};
use clamp3_index::AnnParams;

use crate::report::Failures;
use crate::Ctx;

/// A persistent, incremental index of a music collection.
#[derive(Debug, clap::Subcommand)]
pub enum IndexCommand {
    /// Embed and store new or changed files (by content hash); unchanged files are skipped.
    Add(AddArgs),
    /// Drop the entries of files that no longer exist.
    Prune(IndexDirArgs),
    /// Show what an index holds.
    Info(IndexDirArgs),
    /// Store embeddings made elsewhere, from Parquet files (e.g. the Ray job's output):
    /// columns path (or id), modality, content_hash, model_id, vector [, size]; incremental
    /// by content hash.
    Import(ImportArgs),
}

/// Arguments of `clamp3 index import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Index directory or PostgreSQL database (created if needed, for the files' model).
    #[arg(long)]
    pub index: String,
    /// The model that made the vectors, recorded for searches (its id must match the files').
    #[arg(long)]
    pub model: Option<String>,
    /// Rows stored per committed transaction.
    #[arg(long = "commit-every", default_value_t = 1000)]
    pub commit_every: usize,
    /// Parquet files, or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `clamp3 index add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Index directory (created if needed), or a PostgreSQL database with pgvector
    /// (`postgresql://USER@HOST/DB`; its tables are created if needed).
    #[arg(long)]
    pub index: String,
    /// Model directory, weights file, or saas / c2.
    #[arg(long)]
    pub model: String,
    /// MERT model directory, for audio files.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// BLIP model directory, for images.
    #[arg(long)]
    pub blip: Option<PathBuf>,
    /// Files embedded and stored per committed transaction.
    #[arg(long = "commit-every", alias = "batch", default_value_t = 32, value_parser = crate::args::positive)]
    pub commit_every: usize,
    /// At most this many segments per encoder forward pass.
    #[arg(long, default_value_t = 32, value_parser = crate::args::positive)]
    pub batch_segments: usize,
    /// At most this many positions (tokens, patches, feature vectors) per encoder forward pass,
    /// padding included; segments are grouped by length across inputs within both limits.
    #[arg(long, default_value_t = clamp3_model::BatchLimits::DEFAULT_POSITIONS, value_parser = crate::args::positive)]
    pub batch_positions: usize,
    /// Exit with status 1 if any input failed.
    #[arg(long)]
    pub strict: bool,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// An index directory or database.
#[derive(Debug, clap::Args)]
pub struct IndexDirArgs {
    /// Index directory, or a PostgreSQL database (`postgresql://...`).
    #[arg(long)]
    pub index: String,
}

/// Arguments of `clamp3 search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Index directory, or a PostgreSQL database (`postgresql://...`).
    #[arg(long)]
    pub index: String,
    /// Model (default: the one the index was built with).
    #[arg(long)]
    pub model: Option<String>,
    /// MERT model directory, for audio queries.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// BLIP model directory, for image queries.
    #[arg(long)]
    pub blip: Option<PathBuf>,
    /// Only results of this modality: text, symbolic or audio.
    #[arg(long)]
    pub modality: Option<Modality>,
    /// Number of results.
    #[arg(short = 'k', long = "top", default_value_t = 10, value_parser = crate::args::positive)]
    pub k: usize,
    /// Approximate (HNSW) search, for large indexes.
    #[arg(long)]
    pub approx: bool,
    /// HNSW search breadth, ef_search (higher: better recall, slower).
    #[arg(long, value_parser = crate::args::positive)]
    pub ef: Option<usize>,
    /// HNSW edges per node, m (used when the graph is built).
    #[arg(long, value_parser = crate::args::positive)]
    pub m: Option<usize>,
    /// HNSW build breadth, ef_construction (used when the graph is built).
    #[arg(long, value_parser = crate::args::positive)]
    pub ef_construction: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The query: a file path, else the text itself.
    pub query: String,
}

/// Runs an `index` subcommand.
pub fn run(ctx: &Ctx, c: &IndexCommand) -> Result<bool> {
    match c {
        IndexCommand::Add(a) => add(ctx, a),
        IndexCommand::Prune(a) => prune(&a.index).map(|()| true),
        IndexCommand::Info(a) => info(&a.index).map(|()| true),
        IndexCommand::Import(a) => import(a).map(|()| true),
    }
}

/// `clamp3 index import`.
fn import(a: &ImportArgs) -> Result<()> {
    let files = clamp3::import::parquet_files(&a.paths)?;
    // The index's identity comes from the first row (the index is created for it if new).
    let mut first = None;
    for f in &files {
        first = clamp3::import::first_row(f)?;
        if first.is_some() {
            break;
        }
    }
    let Some(first) = first else {
        bail!("no embeddings in the given Parquet files");
    };
    let meta = clamp3_index::IndexMeta {
        model_id: first.model_id,
        dim: first.vector.len(),
    };
    let library = Library::connect_meta(&a.index, &meta)?;
    if let Some(m) = &a.model {
        let model = clamp3::hub::resolve_model(m)?;
        let files = clamp3_model::ModelFiles::locate(&model)?;
        let id = clamp3::embedder::model_id_of(&files)?;
        library.meta().accepts(&clamp3_index::IndexMeta {
            model_id: id,
            dim: files.config.projection_dim,
        })?;
        library.set_model_path(&files.weights)?;
    }
    let mut total = clamp3::ImportReport::default();
    for f in &files {
        let r = library.import_parquet(f, a.commit_every.max(1))?;
        total.added += r.added;
        total.updated += r.updated;
        total.unchanged += r.unchanged;
    }
    eprintln!(
        "index {}: {} added, {} updated, {} unchanged from {} file(s); {} items in all",
        library.location(),
        total.added,
        total.updated,
        total.unchanged,
        files.len(),
        library.len()?
    );
    Ok(())
}

/// `clamp3 index add`.
fn add(ctx: &Ctx, a: &AddArgs) -> Result<bool> {
    let (files, walk_errors) = collect(&a.paths, |p| InputKind::of(p).is_some(), "npy");
    let mut failures = Failures::new();
    for e in &walk_errors {
        failures.push(format!("{}: {}", e.path.display(), e.msg));
    }
    let mut kinds: Vec<InputKind> = files
        .iter()
        .filter_map(|f| InputKind::of(&f.path))
        .collect();
    kinds.sort();
    kinds.dedup();
    let files: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
    if files.is_empty() && failures.is_empty() {
        bail!("no input files found");
    }
    let file_kinds: Vec<InputKind> = files.iter().filter_map(|f| InputKind::of(f)).collect();
    let companions = clamp3::Companions {
        mert: a.mert.as_deref(),
        blip: a.blip.as_deref(),
    };
    let embedder = crate::loading::embedder_for(ctx, &a.model, &file_kinds, &companions)?;
    let library = Library::connect_for(&a.index, &embedder)?;
    let opts = EmbedOptions {
        max_batch: a.batch_segments.max(1),
        max_positions: a.batch_positions,
        ..EmbedOptions::default()
    };
    let bar = crate::progress::files_bar(files.len());
    let report = library.add_files(&embedder, &files, a.commit_every.max(1), &opts, |n| {
        bar.inc(n as u64)
    })?;
    bar.finish_and_clear();
    for e in report.failed {
        failures.push_error(e);
    }
    failures.print(&format!(
        "index {}: {} added, {} updated, {} unchanged; {} items in all",
        library.location(),
        report.added,
        report.updated,
        report.unchanged,
        library.len()?
    ));
    Ok(failures.ok(a.strict))
}

/// `clamp3 index prune`: drop entries whose file is gone.
fn prune(location: &str) -> Result<()> {
    let library = Library::connect(location)?;
    let n = library.prune_missing()?;
    eprintln!(
        "removed {n} entr{} of missing files; {} items remain",
        if n == 1 { "y" } else { "ies" },
        library.len()?
    );
    Ok(())
}

/// `clamp3 index info`.
fn info(location: &str) -> Result<()> {
    let library = Library::connect(location)?;
    println!("index:     {}", library.location());
    if let Some(v) = library.server_version()? {
        println!("server:    {v}");
    }
    println!("model id:  {}", library.meta().model_id);
    if let Some(p) = library.model_path()? {
        println!("model:     {}", p.display());
    }
    println!("dimension: {}", library.meta().dim);
    println!("items:     {}", library.len()?);
    for (m, n) in library.count_by_modality()? {
        println!("  {m}: {n}");
    }
    println!("integrity: {}", library.integrity_check()?);
    Ok(())
}

/// Whether a text query looks like a file path that was meant (a supported extension or a
/// folder separator), so that searching it as text deserves a warning.
fn looks_like_a_path(q: &str) -> bool {
    let p = Path::new(q);
    !q.contains(char::is_whitespace)
        && (q.contains(std::path::MAIN_SEPARATOR) || InputKind::of(p).is_some())
}

/// `clamp3 search`.
pub fn search(ctx: &Ctx, a: &SearchArgs) -> Result<()> {
    let library = Library::connect(&a.index)?;
    let model = match &a.model {
        Some(m) => clamp3::hub::resolve_model(m)?,
        None => library
            .model_path()?
            .context("the index does not record its model: pass --model")?,
    };
    let query = query_input(&a.query);
    if let Input::Text(t) = &query {
        if looks_like_a_path(t) {
            eprintln!("warning: no file {t} exists; searching for the text \"{t}\" instead");
        }
    }
    let kind = match &query {
        Input::Path(p) => {
            InputKind::of(p).with_context(|| format!("{}: unsupported query file", p.display()))?
        }
        _ => InputKind::Text,
    };
    let companions = clamp3::Companions {
        mert: a.mert.as_deref(),
        blip: a.blip.as_deref(),
    };
    let embedder = Embedder::for_kinds_with(&model, &[kind], &companions, &ctx.device)?;
    library.check_model(&embedder)?;
    let (q, caption) = match embedder
        .embed_with_captions(std::slice::from_ref(&query), &EmbedOptions::default())
        .pop()
    {
        Some(Ok((e, caption))) => (e.into_global().unwrap_or_default(), caption),
        Some(Err(e)) => return Err(e.into()),
        None => anyhow::bail!("the query was not embedded"),
    };
    if let Some(c) = &caption {
        eprintln!("query caption: {c}");
    }
    let mode = if a.approx {
        let mut p = AnnParams::default();
        if let Some(ef) = a.ef {
            p.expansion_search = ef;
        }
        if let Some(m) = a.m {
            p.connectivity = m;
        }
        if let Some(ef) = a.ef_construction {
            p.expansion_add = ef;
        }
        SearchMode::Approximate(p)
    } else {
        SearchMode::Exact
    };
    let found = library.search(
        &q,
        &SearchOptions {
            k: a.k,
            modality: a.modality,
            mode,
        },
    )?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&SearchResults::new(&a.query, &found))?
        );
    } else {
        for (i, f) in found.iter().enumerate() {
            let caption = f.item.metadata["caption"]
                .as_str()
                .map(|c| format!("  \"{c}\""))
                .unwrap_or_default();
            println!(
                "{:>3}  {:.4}  {:<8}  {}{caption}",
                i + 1,
                f.score,
                f.item.modality,
                f.item.path
            );
        }
    }
    Ok(())
}
