//! `clamp3 annotate`: the command-line front end of the [pipeline](crate::pipeline).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::item::Items;
use crate::llm::Structured;
use crate::pipeline::{Event, Pipeline};
use crate::store::Store;

/// Arguments of `clamp3 annotate`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnnotateArgs {
    /// Items to annotate: a JSONL file (objects with id, title, artists, filepaths and any
    /// other known facts) or a folder of music files (ABC headers and <stem>.json sidecars
    /// give the facts).
    pub input: PathBuf,
    /// Output M4-RAG JSONL, appended to; OUT.journal beside it records finished items, so
    /// running the same command again resumes.
    #[arg(long, short)]
    pub out: PathBuf,
    /// TOML configuration file (see docs/annotate.md); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    pub url: Option<String>,
    /// Model name (default: the first model the server lists).
    #[arg(long)]
    pub model: Option<String>,
    /// API key (default: the configuration's, else the OPENAI_API_KEY environment variable).
    #[arg(long)]
    pub api_key: Option<String>,
    /// How the answer is constrained to the record schema.
    #[arg(long, value_enum)]
    pub structured: Option<Structured>,
    /// Seconds before a request is abandoned and retried.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Retries of a request on timeouts, connection failures, 429 and 5xx.
    #[arg(long)]
    pub retries: Option<u32>,
    /// Most tokens per answer.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Sampling seed sent to the server.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder of saved pages: DIR/<id>/* or DIR/<id>.html|.htm|.txt.
    #[arg(long)]
    pub pages: Option<PathBuf>,
    /// Base URL of a SearxNG-compatible JSON search API.
    #[arg(long)]
    pub search_url: Option<String>,
    /// Search results fetched per item.
    #[arg(long)]
    pub search_results: Option<usize>,
    /// Language of the annotation (ISO 639-1 code or English name).
    #[arg(long)]
    pub language: Option<String>,
    /// Languages to translate into, comma-separated (one per record, picked by item id).
    #[arg(long, value_delimiter = ',')]
    pub translate: Vec<String>,
    /// Least fraction of content words found in the sources (0 disables the check).
    #[arg(long)]
    pub min_grounding: Option<f64>,
    /// Items processed at once.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Process at most this many items not yet finished.
    #[arg(long)]
    pub limit: Option<usize>,
}

impl AnnotateArgs {
    /// The configuration: the file's (or the defaults), with the flags applied.
    pub fn config(&self) -> Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        let s = &mut c.server;
        if let Some(v) = &self.url {
            s.url = v.clone();
        }
        if let Some(v) = &self.model {
            s.model = v.clone();
        }
        if let Some(v) = &self.api_key {
            s.api_key = Some(v.clone());
        }
        if s.api_key.is_none() {
            s.api_key = std::env::var("OPENAI_API_KEY")
                .ok()
                .filter(|k| !k.is_empty());
        }
        if let Some(v) = self.structured {
            s.structured = v;
        }
        if let Some(v) = self.timeout {
            s.timeout_secs = v;
        }
        if let Some(v) = self.retries {
            s.retry.retries = v;
        }
        if let Some(v) = self.max_tokens {
            s.max_tokens = v;
        }
        if let Some(v) = self.temperature {
            s.temperature = v;
        }
        if self.seed.is_some() {
            s.seed = self.seed;
        }
        let r = &mut c.retrieval;
        if self.pages.is_some() {
            r.pages = self.pages.clone();
        }
        if self.search_url.is_some() {
            r.search_url = self.search_url.clone();
        }
        if let Some(v) = self.search_results {
            r.search_results = v;
        }
        if let Some(v) = &self.language {
            c.generation.language = v.clone();
        }
        if !self.translate.is_empty() {
            c.generation.translate = self.translate.clone();
        }
        if let Some(v) = self.min_grounding {
            c.filters.min_grounding = v;
        }
        if let Some(v) = self.jobs {
            c.run.jobs = v;
        }
        if self.limit.is_some() {
            c.run.limit = self.limit;
        }
        c.validate()?;
        Ok(c)
    }
}

/// The summary file written beside the output after every run.
pub fn summary_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".summary.json");
    PathBuf::from(p)
}

/// Runs (or resumes) an annotation job. `Ok(true)` when every item is finished (written
/// or rejected), `Ok(false)` when some are left for a later run (the server failed).
pub fn run(args: &AnnotateArgs) -> Result<bool> {
    let config = args.config()?;
    let out_dir = match args.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Settings and input are checked before anything is written.
    let min_chars = config.filters.min_text_chars;
    let mut pipeline = Pipeline::new(config)?;
    let first_pass = Items::open(&args.input, &out_dir)?;
    let mut store = Store::open(&args.out, min_chars)?;
    // A first pass checks the whole input and counts what is left; the second streams it.
    let (total, pending) = Pipeline::count_pending(first_pass, &store)?;
    if store.recovered > 0 || store.lost > 0 {
        eprintln!(
            "{}: {} records journaled after a crash, {} journaled records missing (redone)",
            args.out.display(),
            store.recovered,
            store.lost
        );
    }
    pipeline.connect().context("connecting to the LLM server")?;
    eprintln!(
        "annotating with model \"{}\" at {}",
        pipeline.client().model(),
        pipeline.client().endpoint()
    );
    let bar = ProgressBar::hidden();
    let items = Items::open(&args.input, &out_dir)?;
    let summary = pipeline.run_stream(items, total, pending, &mut store, |e| match e {
        Event::Start {
            pending,
            done_before,
        } => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(*pending as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} items (eta {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            say(
                &bar,
                format!("{pending} items to annotate ({done_before} finished before)"),
            );
        }
        Event::Item { id, rejected } => {
            bar.inc(1);
            match rejected {
                None => {
                    if bar.is_hidden() {
                        eprintln!("{id}: written");
                    }
                }
                Some(why) => say(&bar, format!("{id}: rejected: {why}")),
            }
        }
        Event::Stopping { id, error } => say(
            &bar,
            format!("{id}: {error}; stopping (finishing the items in flight)"),
        ),
    })?;
    bar.finish_and_clear();
    eprint!("{summary}");
    let path = summary_path(&args.out);
    let json = serde_json::to_string_pretty(&summary)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(summary.complete())
}

/// A line above the bar, or on stderr when there is no bar (logs still get it).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}
