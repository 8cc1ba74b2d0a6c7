//! A music collection in a persistent index: adding files incrementally (by content hash) and
//! searching it by text or by example.

use std::path::{Path, PathBuf};

use clamp3_index::{AnnParams, AnnSearcher, ExactSearcher, Index, IndexMeta, Item, NewItem};
use sha2::{Digest, Sha256};

use crate::input::{InputCause, InputError, InputKind};
use crate::{Embedder, Embedding, Error};

/// SHA-256 of a file's content (hex).
pub fn file_hash(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Outcome of adding files to an index.
#[derive(Debug, Default)]
pub struct AddReport {
    /// Files embedded and stored for the first time.
    pub added: usize,
    /// Files whose content changed, re-embedded.
    pub updated: usize,
    /// Files already stored with the same content, skipped.
    pub unchanged: usize,
    /// Files that could not be read or embedded.
    pub failed: Vec<InputError>,
}

/// Opens (or creates) the index at `dir` for the embedder's model.
pub fn open_index(dir: &Path, embedder: &Embedder) -> Result<Index, clamp3_index::IndexError> {
    let meta = IndexMeta {
        model_id: embedder.model_id().to_string(),
        dim: embedder.model().config().projection_dim,
    };
    let index = Index::open_or_create(dir, &meta)?;
    if let Some(files) = embedder.files() {
        index.set_setting("model_path", &files.weights.to_string_lossy())?;
    }
    Ok(index)
}

/// Embeds the files that are new or changed and stores them, committing every `batch` files so
/// that an interrupted run keeps what it finished and the next run resumes.
pub fn add_files(
    index: &mut Index,
    embedder: &Embedder,
    files: &[PathBuf],
    batch: usize,
    mut progress: impl FnMut(usize),
) -> Result<AddReport, Error> {
    let mut report = AddReport::default();
    let mut todo: Vec<(PathBuf, String, String, bool)> = Vec::new();
    for f in files {
        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        let key = abs.to_string_lossy().into_owned();
        match file_hash(&abs) {
            Err(e) => {
                report.failed.push(InputError::new(f, e));
                progress(1);
            }
            Ok(hash) => match index.hash_of(&key).map_err(index_error)? {
                Some(h) if h == hash => {
                    report.unchanged += 1;
                    progress(1);
                }
                old => todo.push((abs, key, hash, old.is_some())),
            },
        }
    }
    for chunk in todo.chunks(batch.max(1)) {
        let paths: Vec<&Path> = chunk.iter().map(|(p, ..)| p.as_path()).collect();
        let mut items = Vec::new();
        for ((path, key, hash, existed), r) in chunk.iter().zip(embedder.embed_files(&paths, false))
        {
            match r {
                Ok(Embedding::Global(vector)) => {
                    let kind = InputKind::of(path);
                    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    items.push(NewItem {
                        path: key.clone(),
                        hash: hash.clone(),
                        modality: kind.map_or("unknown", |k| k.modality().as_str()).to_string(),
                        metadata: serde_json::json!({
                            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                            "extension": path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()),
                            "bytes": size,
                        }),
                        vector,
                    });
                    if *existed {
                        report.updated += 1;
                    } else {
                        report.added += 1;
                    }
                }
                Ok(_) => {}
                Err(e) => report.failed.push(e),
            }
        }
        index.upsert(&items).map_err(index_error)?;
        progress(chunk.len());
    }
    Ok(report)
}

fn index_error(e: clamp3_index::IndexError) -> Error {
    Error::Index(e.to_string())
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Compare the query with every stored vector.
    Exact,
    /// HNSW graph search (approximate; for large collections).
    Approximate(AnnParams),
}

/// A search result with its stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The stored file.
    pub item: Item,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// The `k` stored items most similar to `query`, optionally of one modality only.
pub fn search(
    index: &Index,
    query: &[f32],
    k: usize,
    modality: Option<&str>,
    mode: SearchMode,
) -> Result<Vec<Found>, Error> {
    let exact = ExactSearcher::load(index).map_err(index_error)?;
    let hits = match mode {
        SearchMode::Exact => exact.search(query, k, modality),
        SearchMode::Approximate(p) => AnnSearcher::load_or_build(index, &exact, &p)
            .and_then(|a| a.search(query, k, modality))
            .map_err(index_error)?,
    };
    let items = index
        .items(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
        .map_err(index_error)?;
    Ok(items
        .into_iter()
        .zip(hits)
        .map(|(item, h)| Found {
            item,
            score: h.score,
        })
        .collect())
}

/// The embedding of a search query: a file of any supported kind, else the text itself.
pub fn query_vector(embedder: &Embedder, query: &str) -> Result<Vec<f32>, Error> {
    let p = Path::new(query);
    if p.is_file() {
        match embedder.embed_files(&[p], false).remove(0) {
            Ok(Embedding::Global(v)) => Ok(v),
            Ok(_) => Err(Error::Input(InputError::new(
                p,
                InputCause::Model("unexpected output".into()),
            ))),
            Err(e) => Err(Error::Input(e)),
        }
    } else {
        embedder.embed_text(query)
    }
}
