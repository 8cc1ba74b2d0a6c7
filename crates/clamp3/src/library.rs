//! A music collection in a persistent index, as a long-lived object: files added
//! incrementally (by content hash), searched by vector, with the search structures (the exact
//! matrix and the HNSW graph) kept in memory between queries and rebuilt only when the
//! collection changed. Thread-safe: share a [`Library`] behind an `Arc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use clamp3_index::{
    AnnParams, AnnSearcher, ExactSearcher, Index, IndexMeta, Item, NewItem, Upserted,
};
use clamp3_input::{Input, InputCause, InputKind, InputRef};
use clamp3_model::Modality;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::embedder::{EmbedOptions, Embedder};
use crate::error::{EmbedError, Error};

/// SHA-256 of `bytes` (hex).
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of a file's content (hex), read in chunks.
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
    Ok(hex(&h.finalize()))
}

/// The key of a file in the index: its absolute path, or, for a path that is not valid UTF-8,
/// `raw:` and the hex of its bytes (so that the key names exactly that file, and
/// [`Library::prune_missing`] never drops a file that exists).
pub fn item_key(path: &Path) -> String {
    match path.to_str() {
        Some(s) => s.to_string(),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                format!("raw:{}", hex(path.as_os_str().as_bytes()))
            }
            #[cfg(not(unix))]
            {
                path.to_string_lossy().into_owned()
            }
        }
    }
}

/// The file a key made by [`item_key`] names; `None` for keys that are not file paths (an
/// upload's id).
pub fn key_path(key: &str) -> Option<PathBuf> {
    if let Some(h) = key.strip_prefix("raw:") {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bytes: Option<Vec<u8>> = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect();
            return bytes.map(|b| PathBuf::from(std::ffi::OsStr::from_bytes(&b)));
        }
        #[cfg(not(unix))]
        return None;
    }
    let p = PathBuf::from(key);
    p.is_absolute().then_some(p)
}

/// Outcome of adding files to a library.
#[derive(Debug, Default)]
pub struct AddReport {
    /// Files embedded and stored for the first time.
    pub added: usize,
    /// Files whose content changed, re-embedded.
    pub updated: usize,
    /// Files already stored with the same content, skipped.
    pub unchanged: usize,
    /// Files that could not be read or embedded.
    pub failed: Vec<EmbedError>,
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Compare the query with every stored vector.
    Exact,
    /// HNSW graph search (approximate; for large collections).
    Approximate(AnnParams),
}

/// What to search for besides the query vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Number of results.
    pub k: usize,
    /// Only items of this modality.
    pub modality: Option<Modality>,
    /// Exact or approximate.
    pub mode: SearchMode,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: 10,
            modality: None,
            mode: SearchMode::Exact,
        }
    }
}

/// A search result with its stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The stored item.
    pub item: Item,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// One result as `clamp3 search --json` prints it (fields in the order printed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The stored item's metadata.
    pub metadata: serde_json::Value,
    /// Its modality.
    pub modality: String,
    /// Its path (or id).
    pub path: String,
    /// 1-based rank.
    pub rank: usize,
    /// Cosine similarity to the query, at f64 precision (the f32 score widened).
    pub score: f64,
}

/// The answer to a query, as `clamp3 search --json` prints it (and the HTTP service returns).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The query as given.
    pub query: String,
    /// Best first.
    pub results: Vec<SearchHit>,
}

impl SearchResults {
    /// The results of `query`.
    pub fn new(query: impl Into<String>, found: &[Found]) -> Self {
        SearchResults {
            query: query.into(),
            results: found
                .iter()
                .enumerate()
                .map(|(i, f)| SearchHit {
                    rank: i + 1,
                    score: f64::from(f.score),
                    path: f.item.path.clone(),
                    modality: f.item.modality.clone(),
                    metadata: f.item.metadata.clone(),
                })
                .collect(),
        }
    }
}

/// An HNSW graph with the build parameters it was made with (connectivity, expansion_add).
type Graph = ((usize, usize), Arc<AnnSearcher>);

/// The in-memory search structures of one state (generation) of the index.
struct Searchers {
    generation: u64,
    exact: ExactSearcher,
    /// The HNSW graph, built on the first approximate query, with the build parameters.
    ann: Mutex<Option<Graph>>,
}

/// The index setting that records the model an index was built with.
const MODEL_SETTING: &str = "model_path";

/// A music collection: an index directory, opened.
pub struct Library {
    dir: PathBuf,
    meta: IndexMeta,
    index: Mutex<Index>,
    searchers: RwLock<Option<Arc<Searchers>>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("dir", &self.dir)
            .field("meta", &self.meta)
            .finish()
    }
}

impl Library {
    fn from_index(index: Index) -> Self {
        Library {
            dir: index.dir().to_path_buf(),
            meta: index.meta().clone(),
            index: Mutex::new(index),
            searchers: RwLock::new(None),
        }
    }

    /// Opens an existing index directory.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        Ok(Self::from_index(Index::open(dir)?))
    }

    /// Opens the index at `dir` for `embedder`'s vectors, creating it if needed, and records
    /// where the model lives (absolute path) so that later searches can load it from anywhere.
    /// Fails if the index holds another model's vectors.
    pub fn open_for(dir: &Path, embedder: &Embedder) -> Result<Self, Error> {
        let meta = Self::meta_of(embedder);
        let index = match Index::open_or_create(dir, &meta) {
            // Built with this model's id of earlier versions: the same vectors, migrate the id.
            Err(clamp3_index::IndexError::ModelMismatch { index, .. })
                if Some(index.as_str()) == embedder.legacy_model_id() =>
            {
                let mut i = Index::open(dir)?;
                i.set_model_id(&meta.model_id)?;
                i
            }
            r => r?,
        };
        if let Some(files) = embedder.files() {
            let abs = std::fs::canonicalize(&files.weights).unwrap_or(files.weights.clone());
            index.set_setting(MODEL_SETTING, &abs.to_string_lossy())?;
        }
        Ok(Self::from_index(index))
    }

    fn meta_of(embedder: &Embedder) -> IndexMeta {
        IndexMeta {
            model_id: embedder.model_id().to_string(),
            dim: embedder.dim(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // Each write is one SQLite transaction: a panic elsewhere cannot leave the store
        // half-updated, so a poisoned lock is still usable.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Model id and dimension of the stored vectors.
    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    /// Whether `embedder` makes vectors comparable with the stored ones (same model id, or the
    /// id earlier versions gave the same model).
    pub fn check_model(&self, embedder: &Embedder) -> Result<(), Error> {
        let mut given = Self::meta_of(embedder);
        if Some(self.meta.model_id.as_str()) == embedder.legacy_model_id() {
            given.model_id = self.meta.model_id.clone();
        }
        Ok(self.meta.accepts(&given)?)
    }

    /// The model the index was built with, as recorded when files were added.
    pub fn model_path(&self) -> Result<Option<PathBuf>, Error> {
        Ok(self.lock().setting(MODEL_SETTING)?.map(PathBuf::from))
    }

    /// Number of stored items.
    pub fn len(&self) -> Result<usize, Error> {
        Ok(self.lock().len()?)
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Number of stored items per modality.
    pub fn count_by_modality(&self) -> Result<std::collections::BTreeMap<String, usize>, Error> {
        let mut by = std::collections::BTreeMap::new();
        self.lock()
            .for_each_vector(|_, m, _| *by.entry(m.to_string()).or_default() += 1)?;
        Ok(by)
    }

    /// SQLite's consistency check ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String, Error> {
        Ok(self.lock().integrity_check()?)
    }

    /// Stores `items` in one transaction (replacing items with the same key whose content
    /// changed); returns what it changed.
    pub fn upsert(&self, items: &[NewItem]) -> Result<Upserted, Error> {
        Ok(self.lock().upsert(items)?)
    }

    /// The stored content hash of `key` (a path or an id), if any.
    pub fn hash_of(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self.lock().hash_of(key)?)
    }

    /// Removes the items whose key `keep` rejects; returns how many were removed.
    pub fn prune(&self, keep: impl Fn(&str) -> bool) -> Result<usize, Error> {
        Ok(self.lock().prune(keep)?)
    }

    /// Removes the items of files that no longer exist (keys made by [`item_key`]; other keys,
    /// such as uploads' ids, are kept); returns how many were removed.
    pub fn prune_missing(&self) -> Result<usize, Error> {
        self.prune(|key| key_path(key).is_none_or(|p| p.exists()))
    }

    /// Embeds the files that are new or changed and stores them, committing every
    /// `commit_every` files so that an interrupted run keeps what it finished and the next run
    /// resumes. Each file is read once (recordings are streamed twice: to hash and to decode).
    pub fn add_files(
        &self,
        embedder: &Embedder,
        files: &[PathBuf],
        commit_every: usize,
        opts: &EmbedOptions,
        mut progress: impl FnMut(usize),
    ) -> Result<AddReport, Error> {
        self.check_model(embedder)?;
        let mut report = AddReport::default();
        for chunk in files.chunks(commit_every.max(1)) {
            let mut todo: Vec<(PathBuf, String, String, Input)> = Vec::new();
            for f in chunk {
                let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                let key = item_key(&abs);
                let read = match InputKind::of(&abs) {
                    // Recordings are hashed as a stream and decoded from the file.
                    Some(InputKind::Audio) => {
                        file_hash(&abs).map(|h| (h, Input::Path(abs.clone())))
                    }
                    Some(kind) => {
                        std::fs::read(&abs).map(|b| (content_hash(&b), Input::bytes(kind, b)))
                    }
                    None => {
                        report.failed.push(EmbedError::input_cause(
                            f.as_path().into(),
                            InputCause::Unsupported,
                        ));
                        progress(1);
                        continue;
                    }
                };
                match read {
                    Err(e) => {
                        report
                            .failed
                            .push(EmbedError::input_cause(f.as_path().into(), e));
                        progress(1);
                    }
                    Ok((hash, input)) => match self.hash_of(&key)? {
                        Some(h) if h == hash => {
                            report.unchanged += 1;
                            progress(1);
                        }
                        _ => todo.push((abs, key, hash, input)),
                    },
                }
            }
            if todo.is_empty() {
                continue;
            }
            let inputs: Vec<Input> = todo.iter().map(|t| t.3.clone()).collect();
            let mut items = Vec::new();
            for ((path, key, hash, _), r) in
                todo.iter().zip(embedder.embed_with_captions(&inputs, opts))
            {
                match r {
                    Ok((e, caption)) => {
                        let Some(vector) = e.into_global() else {
                            continue;
                        };
                        let kind = InputKind::of(path);
                        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                        let mut metadata = serde_json::json!({
                            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                            "extension": path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()),
                            "bytes": size,
                        });
                        if let Some(c) = caption {
                            metadata["caption"] = c.into();
                        }
                        items.push(NewItem {
                            path: key.clone(),
                            hash: hash.clone(),
                            modality: kind
                                .map_or("unknown", |k| k.modality().as_str())
                                .to_string(),
                            metadata,
                            vector,
                        });
                    }
                    Err(e) => report
                        .failed
                        .push(e.with_input(InputRef::Path(path.clone()))),
                }
            }
            // The store says what really changed (another writer may have added some first).
            let u = self.upsert(&items)?;
            report.added += u.inserted;
            report.updated += u.updated;
            report.unchanged += u.unchanged;
            progress(todo.len());
        }
        Ok(report)
    }

    /// The search structures for the index's current state: kept from the last query when
    /// nothing changed, else reloaded (from the cache file when current) or rebuilt.
    fn searchers(&self) -> Result<Arc<Searchers>, Error> {
        let index = self.lock();
        let generation = index.generation()?;
        if let Some(s) = self
            .searchers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| s.generation == generation)
        {
            return Ok(s.clone());
        }
        let s = Arc::new(Searchers {
            generation,
            exact: ExactSearcher::load(&index)?,
            ann: Mutex::new(None),
        });
        *self.searchers.write().unwrap_or_else(|e| e.into_inner()) = Some(s.clone());
        Ok(s)
    }

    /// The `k` stored items most similar to `query` (a raw embedding), best first.
    pub fn search(&self, query: &[f32], opts: &SearchOptions) -> Result<Vec<Found>, Error> {
        if query.len() != self.meta.dim {
            return Err(clamp3_index::IndexError::Dimension {
                expected: self.meta.dim,
                found: query.len(),
            }
            .into());
        }
        let s = self.searchers()?;
        let modality = opts.modality.map(Modality::as_str);
        let hits = match opts.mode {
            SearchMode::Exact => s.exact.search(query, opts.k, modality),
            SearchMode::Approximate(p) => {
                let mut ann = s.ann.lock().unwrap_or_else(|e| e.into_inner());
                let build = (p.connectivity, p.expansion_add);
                let graph = match ann.as_ref().filter(|(b, _)| *b == build) {
                    Some((_, g)) => g.clone(),
                    None => {
                        let g = Arc::new(AnnSearcher::load_or_build(&self.lock(), &s.exact, &p)?);
                        *ann = Some((build, g.clone()));
                        g
                    }
                };
                // The search breadth is per query; the graph is shared, so set it under the
                // lock.
                graph.set_expansion_search(p.expansion_search);
                graph.search(query, opts.k, modality)?
            }
        };
        let items = self
            .lock()
            .items(&hits.iter().map(|h| h.id).collect::<Vec<_>>())?;
        Ok(items
            .into_iter()
            .zip(hits)
            .map(|(item, h)| Found {
                item,
                score: h.score,
            })
            .collect())
    }
}

/// How a search query string is read: an existing file of a supported kind is a query by
/// example; anything else is the text itself.
pub fn query_input(query: &str) -> Input {
    let p = Path::new(query);
    if p.is_file() {
        Input::Path(p.to_path_buf())
    } else {
        Input::Text(query.to_string())
    }
}
