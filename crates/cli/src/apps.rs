//! `clamp3 classify`, `score`, `eval`: the applications over sets of embeddings.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clamp3::classify::{Classification, Labels};
use clamp3::eval::jsonl::{EvalRecords, LEADSHEET};
use clamp3::eval::Ties;
use clamp3::vectors::{Embedded, Tree};
use clamp3::{EmbedOptions, Embedder, InputKind};

use crate::report::Failures;
use crate::Ctx;

/// Tie rule of `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TiesArg {
    /// Ties count against the query (default).
    Pessimistic,
    /// The reference scripts' rule: ties resolved in favour of the correct reference.
    Optimistic,
}

impl From<TiesArg> for Ties {
    fn from(t: TiesArg) -> Self {
        match t {
            TiesArg::Pessimistic => Ties::Pessimistic,
            TiesArg::Optimistic => Ties::Optimistic,
        }
    }
}

/// Arguments of `clamp3 classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// Model directory, weights file, or saas / c2.
    #[arg(long)]
    pub model: String,
    /// MERT model directory, for audio inputs.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// BLIP model directory, for images.
    #[arg(long)]
    pub blip: Option<PathBuf>,
    /// Comma-separated labels, e.g. "jazz,folk,classical".
    #[arg(long)]
    pub labels: Option<String>,
    /// A file with one label (text, any language) per line.
    #[arg(long)]
    pub labels_file: Option<PathBuf>,
    /// Labels shown per input.
    #[arg(long, default_value_t = 5, value_parser = crate::args::positive)]
    pub top: usize,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Files or folders to classify.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `clamp3 score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// Folder of queries (e.g. generated music).
    pub queries: PathBuf,
    /// Folder of references (prompts or reference music); paired by folder + name up to the
    /// first dot.
    pub references: PathBuf,
    /// Model (needed unless both folders hold (1, D) .npy embeddings).
    #[arg(long)]
    pub model: Option<String>,
    /// MERT model directory, for audio.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Distribution-level score: cosine of the mean vectors.
    #[arg(long)]
    pub group: bool,
    /// Folder for pairwise_similarities.jsonl and unmatched_files.jsonl.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --strict: still exit 0 when some files have no counterpart.
    #[arg(long)]
    pub allow_unmatched: bool,
    /// Exit with status 1 if any input failed or, unless --allow-unmatched, has no counterpart
    /// (both are always listed).
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `clamp3 eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Folder of queries (paired with references by folder + name up to the first dot).
    pub queries: Option<PathBuf>,
    /// Folder of references.
    pub references: Option<PathBuf>,
    /// A WikiMT-X-style JSONL file instead of two folders.
    #[arg(long, conflicts_with_all = ["queries", "references"])]
    pub jsonl: Option<PathBuf>,
    /// JSONL mode: the text field used as query (background, analysis, description, scene).
    #[arg(long, default_value = "description")]
    pub text_field: String,
    /// JSONL mode: `leadsheet` (ABC in the record) or a field holding a file path (abc, mtf,
    /// midi, audio), relative to the JSONL file.
    #[arg(long, default_value = LEADSHEET)]
    pub music: String,
    /// Model (needed unless both folders hold (1, D) .npy embeddings).
    #[arg(long)]
    pub model: Option<String>,
    /// MERT model directory, for audio.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// How a tie with the correct reference is ranked.
    #[arg(long, value_enum, default_value_t = TiesArg::Pessimistic)]
    pub ties: TiesArg,
    /// Write the rank of every query (JSON lines) here (`-` for stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit with status 1 if any input failed (failures are always listed; their pairs are left
    /// out of the evaluation).
    #[arg(long)]
    pub strict: bool,
}

/// A model for inputs of the kinds `kinds` (one per input; see [`crate::loading`]).
fn load(ctx: &Ctx, model: &str, kinds: &[InputKind], mert: Option<&Path>) -> Result<Embedder> {
    let companions = clamp3::Companions { mert, blip: None };
    crate::loading::embedder_for(ctx, model, kinds, &companions)
}

/// Embeds a walked tree with a progress bar; failures as messages.
fn embed_scanned(
    tree: Tree,
    embedder: Option<&Embedder>,
    failures: &mut Failures,
) -> Vec<Embedded> {
    let bar = crate::progress::files_bar(tree.len());
    let (emb, errors) = tree.embed(embedder, &EmbedOptions::default(), |n| bar.inc(n as u64));
    bar.finish_and_clear();
    for e in errors {
        failures.push_error(e);
    }
    emb
}

/// Embeds `roots`, loading a model only if some file needs one.
pub fn embed_roots(
    ctx: &Ctx,
    roots: &[PathBuf],
    model: Option<&str>,
    mert: Option<&Path>,
    what: &str,
    failures: &mut Failures,
) -> Result<Vec<Embedded>> {
    let tree = Tree::scan(roots);
    let kinds = tree.kinds_to_embed();
    let embedder = match (model, kinds.is_empty()) {
        (_, true) => None,
        (Some(m), false) => Some(load(ctx, m, &kinds, mert)?),
        (None, false) => bail!("{what} holds files that need a model to be embedded: pass --model"),
    };
    Ok(embed_scanned(tree, embedder.as_ref(), failures))
}

/// `clamp3 classify`.
pub fn classify(ctx: &Ctx, a: &ClassifyArgs) -> Result<bool> {
    let mut names = a
        .labels
        .as_deref()
        .map(clamp3::classify::parse_label_list)
        .unwrap_or_default();
    if let Some(f) = &a.labels_file {
        let t = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        names.extend(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    if names.is_empty() {
        bail!("no labels: give --labels \"a,b,c\" or --labels-file");
    }
    let tree = Tree::scan(&a.paths);
    let mut kinds = tree.kinds_to_embed();
    kinds.push(InputKind::Text);
    let companions = clamp3::Companions {
        mert: a.mert.as_deref(),
        blip: a.blip.as_deref(),
    };
    let e = crate::loading::embedder_for(ctx, &a.model, &kinds, &companions)?;
    let labels = Labels::embed(names, &e)?;
    let mut failures = Failures::new();
    let emb = embed_scanned(tree, Some(&e), &mut failures);
    let mut out = std::io::stdout().lock();
    for item in &emb {
        let ranking = labels.rank(&item.vector);
        if a.json {
            let c = Classification::new(&item.path, &ranking, a.top);
            writeln!(out, "{}", serde_json::to_string(&c)?)?;
        } else {
            let r: Vec<String> = ranking
                .iter()
                .take(a.top)
                .map(|(l, s)| format!("{l} {s:.4}"))
                .collect();
            writeln!(out, "{}\t{}", item.path.display(), r.join("\t"))?;
        }
    }
    failures.print(&format!("classified {} file(s)", emb.len()));
    Ok(failures.ok(a.strict))
}

/// The query and the reference folder embedded (score and eval), with both folders' failures.
fn embed_pair(
    ctx: &Ctx,
    queries: &Path,
    references: &Path,
    model: Option<&str>,
    mert: Option<&Path>,
    failures: &mut Failures,
) -> Result<(Vec<Embedded>, Vec<Embedded>)> {
    let q = embed_roots(
        ctx,
        &[queries.to_path_buf()],
        model,
        mert,
        "the query folder",
        failures,
    )?;
    let r = embed_roots(
        ctx,
        &[references.to_path_buf()],
        model,
        mert,
        "the reference folder",
        failures,
    )?;
    Ok((q, r))
}

/// `clamp3 score`.
pub fn score(ctx: &Ctx, a: &ScoreArgs) -> Result<bool> {
    let mut failures = Failures::new();
    let (q, r) = embed_pair(
        ctx,
        &a.queries,
        &a.references,
        a.model.as_deref(),
        a.mert.as_deref(),
        &mut failures,
    )?;
    if q.is_empty() || r.is_empty() {
        bail!(
            "nothing to score: {} queries, {} references",
            q.len(),
            r.len()
        );
    }
    let summary = format!("scored {} file(s)", q.len() + r.len());
    if a.group {
        println!(
            "group score: {:.4}  ({} queries, {} references)",
            clamp3::score::group(&q, &r),
            q.len(),
            r.len()
        );
        failures.print(&summary);
        return Ok(failures.ok(a.strict));
    }
    let p = clamp3::score::pairwise(&q, &r);
    if let Some(dir) = &a.out {
        let pairs: String = p
            .pairs
            .iter()
            .map(|x| format!("{}\n", serde_json::to_string(x).unwrap_or_default()))
            .collect();
        clamp3::output::write_atomic(&dir.join("pairwise_similarities.jsonl"), pairs.as_bytes())?;
        let un: String = p
            .unmatched
            .iter()
            .map(|x| format!("{}\n", serde_json::json!({"file": x})))
            .collect();
        clamp3::output::write_atomic(&dir.join("unmatched_files.jsonl"), un.as_bytes())?;
    }
    println!("pairwise score: {:.4}  ({} pairs)", p.score, p.pairs.len());
    if !p.unmatched.is_empty() {
        eprintln!(
            "{} file(s) without a counterpart (same folder and name up to the first dot):",
            p.unmatched.len()
        );
        for u in p.unmatched.iter().take(20) {
            eprintln!("  {u}");
        }
    }
    failures.print(&summary);
    Ok(failures.ok(a.strict) && (!a.strict || p.unmatched.is_empty() || a.allow_unmatched))
}

/// `clamp3 eval`: two folders of paired files, or a WikiMT-X-style JSONL file.
pub fn eval(ctx: &Ctx, a: &EvalArgs) -> Result<bool> {
    let ties = Ties::from(a.ties);
    match (&a.jsonl, &a.queries, &a.references) {
        (Some(jsonl), _, _) => {
            let model = a
                .model
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("--jsonl needs --model"))?;
            eval_jsonl(ctx, jsonl, model, a, ties)
        }
        (None, Some(qdir), Some(rdir)) => {
            let mut failures = Failures::new();
            let (mut q, mut r) = embed_pair(
                ctx,
                qdir,
                rdir,
                a.model.as_deref(),
                a.mert.as_deref(),
                &mut failures,
            )?;
            if !failures.is_empty() {
                // A pair is evaluated only when both of its files embedded.
                let keys = |v: &[Embedded]| -> std::collections::HashSet<String> {
                    v.iter()
                        .map(|e| clamp3::vectors::match_key(&e.rel))
                        .collect()
                };
                let (qk, rk) = (keys(&q), keys(&r));
                let dropped = q.len() + r.len();
                q.retain(|e| rk.contains(&clamp3::vectors::match_key(&e.rel)));
                r.retain(|e| qk.contains(&clamp3::vectors::match_key(&e.rel)));
                let dropped = dropped - q.len() - r.len();
                failures.print(&format!(
                    "embedded {} file(s); {dropped} file(s) left out with their failed counterpart",
                    q.len() + r.len()
                ));
            }
            let ok = report_eval(&q, &r, ties, a.out.as_deref())?;
            Ok(ok && failures.ok(a.strict))
        }
        _ => bail!("give QUERIES REFERENCES folders or --jsonl FILE"),
    }
}

/// `clamp3 eval --jsonl`.
fn eval_jsonl(ctx: &Ctx, jsonl: &Path, model: &str, a: &EvalArgs, ties: Ties) -> Result<bool> {
    let records = EvalRecords::read(jsonl)?;
    let e = load(ctx, model, &records.kinds(&a.music), a.mert.as_deref())?;
    let bar = crate::progress::files_bar(records.records.len());
    let pairs = records.embed(&a.text_field, &a.music, &e, &EmbedOptions::default(), |n| {
        bar.inc(n as u64)
    });
    bar.finish_and_clear();
    let mut failures = Failures::new();
    for f in &pairs.skipped {
        failures.push(f);
    }
    if !failures.is_empty() {
        failures.print(&format!("embedded {} record(s)", pairs.queries.len()));
    }
    let ok = report_eval(&pairs.queries, &pairs.references, ties, a.out.as_deref())?;
    Ok(ok && failures.ok(a.strict))
}

/// Prints metrics as the reference does (and the tie rule), writes the ranks.
fn report_eval(q: &[Embedded], r: &[Embedded], ties: Ties, out: Option<&Path>) -> Result<bool> {
    let (m, ranks) = clamp3::eval::evaluate(q, r, ties)?;
    println!("Total query features: {}", m.queries);
    println!("Total reference features: {}", m.references);
    println!("Ties: {}", ties.name());
    println!("MRR: {:.4}", m.mrr);
    println!("Hit@1: {:.4}", m.hit1);
    println!("Hit@10: {:.4}", m.hit10);
    println!("Hit@100: {:.4}", m.hit100);
    println!(
        "Random-ranking MRR: {:.4}",
        clamp3::eval::random_mrr(m.references)
    );
    if let Some(p) = out {
        let lines: String = ranks
            .iter()
            .map(|x| format!("{}\n", serde_json::to_string(x).unwrap_or_default()))
            .collect();
        clamp3::output::write_atomic(p, lines.as_bytes())?;
    }
    Ok(true)
}
