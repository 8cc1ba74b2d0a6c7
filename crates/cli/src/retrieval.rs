//! `clamp3 index`, `search`, `classify`, `score`, `eval`: the applications over embeddings.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::eval::Ties;
use clamp3::library::{self, SearchMode};
use clamp3::vectors::{embed_tree, Embedded};
use clamp3::walk::collect;
use clamp3::{Embedder, InputKind, Modality};
use clamp3_index::{AnnParams, Index};

/// Loads a model with the encoders `kinds` need (and MERT when they include recordings).
pub fn load_embedder(model: &str, kinds: &[InputKind], mert: Option<&Path>) -> Result<Embedder> {
    let path = clamp3::hub::resolve_model(model).map_err(anyhow::Error::msg)?;
    let modalities: BTreeSet<Modality> = kinds.iter().map(|k| k.modality()).collect();
    let modalities: Vec<Modality> = modalities.into_iter().collect();
    let mut e = Embedder::load(&path, &modalities, crate::device())?;
    if kinds.contains(&InputKind::Audio) {
        e.attach_mert(mert, crate::device())?;
    }
    Ok(e)
}

/// The input kinds found under `roots` (for deciding which encoders to load).
fn kinds_under(roots: &[PathBuf]) -> Vec<InputKind> {
    let (files, _) = collect(roots, |p| InputKind::of(p).is_some(), "npy");
    let mut kinds: Vec<InputKind> = Vec::new();
    for f in files {
        if let Some(k) = InputKind::of(&f.path) {
            // `.npy` embeddings need no encoder; `.npy` features do (the audio one).
            if k == InputKind::Features && clamp3::vectors::read_embedding_npy(&f.path).is_some() {
                continue;
            }
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
    }
    kinds
}

fn print_failures(what: &str, done: usize, failures: &[String]) {
    eprintln!(
        "{what} {done} file(s){}",
        if failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed:", failures.len())
        }
    );
    for f in failures {
        eprintln!("  {f}");
    }
}

/// `clamp3 index add`.
pub fn index_add(
    index_dir: &Path,
    model: &str,
    mert: Option<&Path>,
    batch: usize,
    paths: &[PathBuf],
    strict: bool,
) -> Result<bool> {
    let (files, walk_errors) = collect(paths, |p| InputKind::of(p).is_some(), "npy");
    let mut failures: Vec<String> = walk_errors
        .iter()
        .map(|e| format!("{}: {}", e.path.display(), e.msg))
        .collect();
    let mut kinds = Vec::new();
    for f in &files {
        match InputKind::of(&f.path) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => failures.push(format!("{}: unsupported file type", f.path.display())),
        }
    }
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| InputKind::of(&f.path).is_some())
        .map(|f| f.path)
        .collect();
    if files.is_empty() && failures.is_empty() {
        bail!("no input files found");
    }
    let embedder = load_embedder(model, &kinds, mert)?;
    let mut index = library::open_index(index_dir, &embedder)?;
    let bar = crate::progress::files_bar(files.len());
    let report = library::add_files(&mut index, &embedder, &files, batch.max(1), |n| {
        bar.inc(n as u64)
    })?;
    bar.finish_and_clear();
    failures.extend(report.failed.iter().map(|e| e.to_string()));
    eprintln!(
        "index {}: {} added, {} updated, {} unchanged; {} items in all",
        index_dir.display(),
        report.added,
        report.updated,
        report.unchanged,
        index.len()?
    );
    if !failures.is_empty() {
        eprintln!("{} file(s) failed:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
    }
    Ok(failures.is_empty() || !strict)
}

/// `clamp3 index prune`: drop entries whose file is gone.
pub fn index_prune(index_dir: &Path) -> Result<()> {
    let mut index = Index::open(index_dir)?;
    let n = index.prune(|p| Path::new(p).exists())?;
    eprintln!(
        "removed {n} entr{} of missing files; {} items remain",
        if n == 1 { "y" } else { "ies" },
        index.len()?
    );
    Ok(())
}

/// `clamp3 index info`.
pub fn index_info(index_dir: &Path) -> Result<()> {
    let index = Index::open(index_dir)?;
    let mut by_modality = std::collections::BTreeMap::<String, usize>::new();
    index.for_each_vector(|_, m, _| *by_modality.entry(m.to_string()).or_default() += 1)?;
    println!("index:     {}", index_dir.display());
    println!("model id:  {}", index.meta().model_id);
    if let Some(p) = index.setting("model_path")? {
        println!("model:     {p}");
    }
    println!("dimension: {}", index.meta().dim);
    println!("items:     {}", index.len()?);
    for (m, n) in by_modality {
        println!("  {m}: {n}");
    }
    println!("integrity: {}", index.integrity_check()?);
    Ok(())
}

/// Options of `clamp3 search`.
pub struct SearchArgs<'a> {
    pub index: &'a Path,
    pub model: Option<&'a str>,
    pub mert: Option<&'a Path>,
    pub query: &'a str,
    pub modality: Option<&'a str>,
    pub k: usize,
    pub approx: bool,
    pub ef: Option<usize>,
    pub json: bool,
}

/// `clamp3 search`.
pub fn search(a: &SearchArgs) -> Result<()> {
    let index = Index::open(a.index)?;
    let model = match a.model {
        Some(m) => m.to_string(),
        None => index
            .setting("model_path")?
            .context("the index does not record its model: pass --model")?,
    };
    let kind = if Path::new(a.query).is_file() {
        InputKind::of(Path::new(a.query))
            .with_context(|| format!("{}: unsupported query file", a.query))?
    } else {
        InputKind::Text
    };
    let embedder = load_embedder(&model, &[kind], a.mert)?;
    if embedder.model_id() != index.meta().model_id {
        bail!(
            "model {} is not the one the index was built with ({}); pass the same --model",
            embedder.model_id(),
            index.meta().model_id
        );
    }
    if let Some(m) = a.modality {
        m.parse::<Modality>().map_err(anyhow::Error::msg)?;
    }
    let q = library::query_vector(&embedder, a.query)?;
    let mode = if a.approx {
        let mut p = AnnParams::default();
        if let Some(ef) = a.ef {
            p.expansion_search = ef;
        }
        SearchMode::Approximate(p)
    } else {
        SearchMode::Exact
    };
    let found = library::search(&index, &q, a.k, a.modality, mode)?;
    if a.json {
        let results: Vec<serde_json::Value> = found
            .iter()
            .enumerate()
            .map(|(i, f)| {
                serde_json::json!({
                    "rank": i + 1, "score": f.score, "path": f.item.path,
                    "modality": f.item.modality, "metadata": f.item.metadata,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"query": a.query, "results": results})
        );
    } else {
        for (i, f) in found.iter().enumerate() {
            println!(
                "{:>3}  {:.4}  {:<8}  {}",
                i + 1,
                f.score,
                f.item.modality,
                f.item.path
            );
        }
    }
    Ok(())
}

/// Embeds `roots` (model loaded only if some file needs it).
pub fn embed_roots(
    roots: &[PathBuf],
    model: Option<&str>,
    mert: Option<&Path>,
    what: &str,
) -> Result<(Vec<Embedded>, Vec<String>)> {
    let kinds = kinds_under(roots);
    let embedder = match (model, kinds.is_empty()) {
        (_, true) => None,
        (Some(m), false) => Some(load_embedder(m, &kinds, mert)?),
        (None, false) => bail!("{what} holds files that need a model to be embedded: pass --model"),
    };
    let (files, _) = collect(roots, |p| InputKind::of(p).is_some(), "npy");
    let bar = crate::progress::files_bar(files.len());
    let (emb, errors) = embed_tree(roots, embedder.as_ref(), |n| bar.inc(n as u64));
    bar.finish_and_clear();
    Ok((emb, errors.iter().map(|e| e.to_string()).collect()))
}

/// `clamp3 classify`.
pub fn classify(
    model: &str,
    mert: Option<&Path>,
    labels: Vec<String>,
    paths: &[PathBuf],
    top: usize,
    json: bool,
) -> Result<bool> {
    if labels.is_empty() {
        bail!("no labels: give --labels \"a,b,c\" or --labels-file");
    }
    let mut kinds = kinds_under(paths);
    if !kinds.contains(&InputKind::Text) {
        kinds.push(InputKind::Text);
    }
    let e = load_embedder(model, &kinds, mert)?;
    let vectors = labels
        .iter()
        .map(|l| e.embed_text(l))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = clamp3::classify::Labels {
        names: labels,
        vectors,
    };
    let (emb, failures) = {
        let (files, _) = collect(paths, |p| InputKind::of(p).is_some(), "npy");
        let bar = crate::progress::files_bar(files.len());
        let (emb, errors) = embed_tree(paths, Some(&e), |n| bar.inc(n as u64));
        bar.finish_and_clear();
        (
            emb,
            errors.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
    };
    let mut out = std::io::stdout().lock();
    for item in &emb {
        let ranking = labels.rank(&item.vector);
        if json {
            let r: Vec<serde_json::Value> = ranking
                .iter()
                .take(top)
                .map(|(l, s)| serde_json::json!({"label": l, "score": s}))
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"path": item.path, "labels": r})
            )?;
        } else {
            let r: Vec<String> = ranking
                .iter()
                .take(top)
                .map(|(l, s)| format!("{l} {s:.4}"))
                .collect();
            writeln!(out, "{}\t{}", item.path.display(), r.join("\t"))?;
        }
    }
    print_failures("classified", emb.len(), &failures);
    Ok(failures.is_empty())
}

/// Options of `clamp3 score`.
pub struct ScoreArgs<'a> {
    pub queries: &'a Path,
    pub references: &'a Path,
    pub model: Option<&'a str>,
    pub mert: Option<&'a Path>,
    pub group: bool,
    pub out: Option<&'a Path>,
    pub allow_unmatched: bool,
}

/// The query and the reference folder embedded (score and eval), with both folders' failures.
fn embed_pair(
    queries: &Path,
    references: &Path,
    model: Option<&str>,
    mert: Option<&Path>,
) -> Result<(Vec<Embedded>, Vec<Embedded>, Vec<String>)> {
    let (q, mut failures) = embed_roots(&[queries.to_path_buf()], model, mert, "the query folder")?;
    let (r, f2) = embed_roots(
        &[references.to_path_buf()],
        model,
        mert,
        "the reference folder",
    )?;
    failures.extend(f2);
    Ok((q, r, failures))
}

/// `clamp3 score`.
pub fn score(a: &ScoreArgs) -> Result<bool> {
    let (q, r, failures) = embed_pair(a.queries, a.references, a.model, a.mert)?;
    if q.is_empty() || r.is_empty() {
        bail!(
            "nothing to score: {} queries, {} references",
            q.len(),
            r.len()
        );
    }
    if a.group {
        println!(
            "group score: {:.4}  ({} queries, {} references)",
            clamp3::score::group(&q, &r),
            q.len(),
            r.len()
        );
        print_failures("scored", q.len() + r.len(), &failures);
        return Ok(failures.is_empty());
    }
    let p = clamp3::score::pairwise(&q, &r);
    if let Some(dir) = a.out {
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
    print_failures("scored", q.len() + r.len(), &failures);
    Ok(failures.is_empty() && (p.unmatched.is_empty() || a.allow_unmatched))
}

/// Options of `clamp3 eval`.
pub struct EvalArgs<'a> {
    pub queries: &'a Path,
    pub references: &'a Path,
    pub model: Option<&'a str>,
    pub mert: Option<&'a Path>,
    pub ties: Ties,
    pub out: Option<&'a Path>,
}

/// `clamp3 eval` on two folders of paired files.
pub fn eval(a: &EvalArgs) -> Result<bool> {
    let (q, r, failures) = embed_pair(a.queries, a.references, a.model, a.mert)?;
    if !failures.is_empty() {
        print_failures("embedded", q.len() + r.len(), &failures);
        bail!("some files could not be embedded; every query needs its reference");
    }
    report_eval(&q, &r, a.ties, a.out)
}

/// Prints metrics as the reference does (and the tie rule), writes the ranks.
pub fn report_eval(q: &[Embedded], r: &[Embedded], ties: Ties, out: Option<&Path>) -> Result<bool> {
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

/// Options of `clamp3 eval --jsonl`.
pub struct JsonlEvalArgs<'a> {
    pub jsonl: &'a Path,
    pub text_field: &'a str,
    pub music: &'a str,
    pub model: &'a str,
    pub mert: Option<&'a Path>,
    pub ties: Ties,
    pub out: Option<&'a Path>,
}

/// `clamp3 eval --jsonl`: text -> music retrieval on a WikiMT-X-style JSONL file. Each record
/// gives a query (its `text_field`) and its music: the ABC text of `leadsheet`, or a file named
/// by another field (relative to the JSONL's folder), e.g. `abc`, `mtf`, `audio`.
pub fn eval_jsonl(a: &JsonlEvalArgs) -> Result<bool> {
    let text = std::fs::read_to_string(a.jsonl)
        .with_context(|| format!("reading {}", a.jsonl.display()))?;
    let base = a.jsonl.parent().unwrap_or(Path::new("."));
    let mut records = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", a.jsonl.display(), n + 1))?;
        records.push((n + 1, v));
    }
    let mut kinds = vec![InputKind::Text];
    if a.music == "leadsheet" {
        kinds.push(InputKind::Abc);
    } else {
        for (_, r) in &records {
            if let Some(k) = r[a.music]
                .as_str()
                .and_then(|p| InputKind::of(Path::new(p)))
            {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
        }
    }
    let e = load_embedder(a.model, &kinds, a.mert)?;
    let bar = crate::progress::files_bar(records.len());
    let (mut q, mut r, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    for (line, rec) in &records {
        bar.inc(1);
        let id = rec["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("line{line}"));
        let Some(query) = rec[a.text_field].as_str().filter(|t| !t.trim().is_empty()) else {
            failures.push(format!(
                "{}:{line}: no `{}` text",
                a.jsonl.display(),
                a.text_field
            ));
            continue;
        };
        let music = if a.music == "leadsheet" {
            match rec["leadsheet"].as_str() {
                Some(abc) => e
                    .symbolic_sequence(
                        &clamp3::convert::abc_for_model(abc).map_err(|c| anyhow::anyhow!("{c}"))?,
                    )
                    .map_err(|c| anyhow::anyhow!("{c}"))
                    .and_then(|s| Ok(e.embed_sequences(&[&s])?.remove(0))),
                None => Err(anyhow::anyhow!("no `leadsheet`")),
            }
        } else {
            match rec[a.music].as_str() {
                Some(p) => {
                    let path = base.join(p);
                    match e.embed_files(&[path.as_path()], false).remove(0) {
                        Ok(clamp3::Embedding::Global(v)) => Ok(v),
                        Ok(_) => Err(anyhow::anyhow!("unexpected output")),
                        Err(err) => Err(err.into()),
                    }
                }
                None => Err(anyhow::anyhow!("no `{}` path", a.music)),
            }
        };
        let music = match music {
            Ok(v) => v,
            Err(err) => {
                failures.push(format!("{}:{line}: {err:#}", a.jsonl.display()));
                continue;
            }
        };
        let key = PathBuf::from(id.replace('.', "_"));
        q.push(Embedded {
            path: PathBuf::from(format!("{id}#{}", a.text_field)),
            rel: key.clone(),
            vector: e.embed_text(query)?,
        });
        r.push(Embedded {
            path: PathBuf::from(format!("{id}#{}", a.music)),
            rel: key,
            vector: music,
        });
    }
    bar.finish_and_clear();
    if !failures.is_empty() {
        eprintln!("{} record(s) skipped:", failures.len());
        for f in failures.iter().take(20) {
            eprintln!("  {f}");
        }
    }
    report_eval(&q, &r, a.ties, a.out)
}
