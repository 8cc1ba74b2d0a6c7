//! A music collection in a persistent index, as a long-lived object: files added
//! incrementally (by content hash), searched by vector. An index directory (SQLite) keeps its
//! search structures (the exact matrix and the HNSW graph) in memory between queries,
//! rebuilt only when the collection changed; a PostgreSQL database (a `postgresql://` URL,
//! see [`Library::connect`]) is searched by the server, exactly or through pgvector's HNSW
//! index. Thread-safe: share a [`Library`] behind an `Arc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use clamp3_index::{
    is_server_location, AnnParams, AnnSearcher, ExactSearcher, Index, IndexMeta, Item, NewItem,
    PgIndex, Store, Upserted,
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

/// The metadata stored with a file's item: its name, lower-case extension and size.
pub fn item_metadata(path: &Path, size: u64) -> serde_json::Value {
    serde_json::json!({
        "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "extension": path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()),
        "bytes": size,
    })
}

/// Outcome of importing embeddings into a library.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Items stored for the first time.
    pub added: usize,
    /// Items whose content hash changed, replaced.
    pub updated: usize,
    /// Items already stored with the same content hash, skipped.
    pub unchanged: usize,
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

/// Where a library's items live.
enum Backend {
    /// An index directory (SQLite), searched in memory: the exact matrix and the HNSW graph
    /// are kept between queries.
    Embedded {
        index: Mutex<Index>,
        searchers: RwLock<Option<Arc<Searchers>>>,
    },
    /// A PostgreSQL database with pgvector, searched by the server.
    Server { index: Mutex<PgIndex> },
}

/// A music collection: an index directory or a PostgreSQL database, opened.
pub struct Library {
    location: String,
    dir: Option<PathBuf>,
    meta: IndexMeta,
    backend: Backend,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("location", &self.location)
            .field("meta", &self.meta)
            .finish()
    }
}

// A panic elsewhere cannot leave a store half-updated (each write is one transaction), so a
// poisoned lock is still usable.
fn relock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Library {
    fn from_index(index: Index) -> Self {
        Library {
            location: index.dir().display().to_string(),
            dir: Some(index.dir().to_path_buf()),
            meta: index.meta().clone(),
            backend: Backend::Embedded {
                index: Mutex::new(index),
                searchers: RwLock::new(None),
            },
        }
    }

    fn from_server(index: PgIndex) -> Self {
        Library {
            location: Store::location(&index),
            dir: None,
            meta: Store::meta(&index).clone(),
            backend: Backend::Server {
                index: Mutex::new(index),
            },
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
        let library = Self::from_index(index);
        library.record_model(embedder)?;
        Ok(library)
    }

    /// Opens the existing index at `location`: a PostgreSQL database for a `postgresql://`
    /// (or `postgres://`) URL, else an index directory.
    pub fn connect(location: &str) -> Result<Self, Error> {
        if is_server_location(location) {
            Ok(Self::from_server(PgIndex::open(location)?))
        } else {
            Self::open(Path::new(location))
        }
    }

    /// Opens the index at `location` (as [`Library::connect`]) for `embedder`'s vectors,
    /// creating it if needed (for a database: its tables and the `vector` extension), as
    /// [`Library::open_for`].
    pub fn connect_for(location: &str, embedder: &Embedder) -> Result<Self, Error> {
        if is_server_location(location) {
            let index = PgIndex::open_or_create(location, &Self::meta_of(embedder))?;
            let library = Self::from_server(index);
            library.record_model(embedder)?;
            Ok(library)
        } else {
            Self::open_for(Path::new(location), embedder)
        }
    }

    /// Opens the index at `location` (as [`Library::connect`]) for vectors described by
    /// `meta`, creating it if needed: for vectors made elsewhere (see [`Library::import`]).
    pub fn connect_meta(location: &str, meta: &IndexMeta) -> Result<Self, Error> {
        if is_server_location(location) {
            Ok(Self::from_server(PgIndex::open_or_create(location, meta)?))
        } else {
            Ok(Self::from_index(Index::open_or_create(
                Path::new(location),
                meta,
            )?))
        }
    }

    /// Records `model` (a weights file or model directory) as the model the index's vectors
    /// come from, so that searches can load it.
    pub fn set_model_path(&self, model: &Path) -> Result<(), Error> {
        let abs = std::fs::canonicalize(model).unwrap_or(model.to_path_buf());
        let abs = abs.to_string_lossy();
        self.with_store(|s| s.put_setting(MODEL_SETTING, &abs))
    }

    /// Stores embeddings made elsewhere (e.g. read by [`crate::import::read_parquet`]),
    /// incrementally: a row whose key is stored with the same content hash is skipped. Rows
    /// are committed `commit_every` at a time. Every row must come from this index's model.
    pub fn import(
        &self,
        rows: impl IntoIterator<Item = crate::import::EmbeddingRow>,
        commit_every: usize,
    ) -> Result<ImportReport, Error> {
        let mut report = ImportReport::default();
        let mut batch: Vec<NewItem> = Vec::new();
        // The store says what really changed (another writer may have stored some first).
        let flush = |batch: &mut Vec<NewItem>, report: &mut ImportReport| -> Result<(), Error> {
            if !batch.is_empty() {
                let u = self.upsert(batch)?;
                report.added += u.inserted;
                report.updated += u.updated;
                report.unchanged += u.unchanged;
                batch.clear();
            }
            Ok(())
        };
        let rows: Vec<crate::import::EmbeddingRow> = rows.into_iter().collect();
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let stored = self.hashes_of(&keys)?;
        for row in rows {
            self.meta.accepts(&IndexMeta {
                model_id: row.model_id.clone(),
                dim: row.vector.len(),
            })?;
            if stored.get(&row.key) == Some(&row.content_hash) {
                report.unchanged += 1;
                continue;
            }
            let path = Path::new(&row.key);
            batch.push(NewItem {
                metadata: item_metadata(path, row.size.unwrap_or(0)),
                path: row.key,
                hash: row.content_hash,
                modality: row.modality,
                vector: row.vector,
            });
            if batch.len() >= commit_every.max(1) {
                flush(&mut batch, &mut report)?;
            }
        }
        flush(&mut batch, &mut report)?;
        Ok(report)
    }

    /// Imports one Parquet file of embeddings (see [`crate::import`]) as [`Library::import`],
    /// reading it row by row.
    pub fn import_parquet(&self, file: &Path, commit_every: usize) -> Result<ImportReport, Error> {
        let mut total = ImportReport::default();
        let mut chunk = Vec::new();
        let mut add = |chunk: &mut Vec<crate::import::EmbeddingRow>| -> Result<(), Error> {
            let r = self.import(chunk.drain(..), commit_every)?;
            total.added += r.added;
            total.updated += r.updated;
            total.unchanged += r.unchanged;
            Ok(())
        };
        crate::import::read_parquet(file, |row| {
            chunk.push(row);
            if chunk.len() >= commit_every.max(1) {
                add(&mut chunk)?;
            }
            Ok(())
        })?;
        add(&mut chunk)?;
        Ok(total)
    }

    fn record_model(&self, embedder: &Embedder) -> Result<(), Error> {
        if let Some(files) = embedder.files() {
            let abs = std::fs::canonicalize(&files.weights).unwrap_or(files.weights.clone());
            let abs = abs.to_string_lossy();
            self.with_store(|s| {
                // Unchanged on most runs: skip the write (and a server round trip's lock).
                if s.get_setting(MODEL_SETTING)?.as_deref() != Some(&*abs) {
                    s.put_setting(MODEL_SETTING, &abs)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn meta_of(embedder: &Embedder) -> IndexMeta {
        IndexMeta {
            model_id: embedder.model_id().to_string(),
            dim: embedder.dim(),
        }
    }

    /// Runs `f` on the store, whichever backend holds it, under its lock.
    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<T, clamp3_index::IndexError>,
    ) -> Result<T, Error> {
        Ok(match &self.backend {
            Backend::Embedded { index, .. } => f(&mut *relock(index)),
            Backend::Server { index } => f(&mut *relock(index)),
        }?)
    }

    /// The index directory; `None` for a database.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where the index lives, fit to print: the directory, or the database URL without its
    /// password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether the index lives in a database server (PostgreSQL) rather than a directory.
    pub fn is_server(&self) -> bool {
        matches!(self.backend, Backend::Server { .. })
    }

    /// The database server's and pgvector's versions; `None` for an index directory.
    pub fn server_version(&self) -> Result<Option<String>, Error> {
        match &self.backend {
            Backend::Embedded { .. } => Ok(None),
            Backend::Server { index } => Ok(Some(relock(index).server_version()?)),
        }
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
        Ok(self
            .with_store(|s| s.get_setting(MODEL_SETTING))?
            .map(PathBuf::from))
    }

    /// Number of stored items.
    pub fn len(&self) -> Result<usize, Error> {
        self.with_store(|s| s.count())
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Number of stored items per modality.
    pub fn count_by_modality(&self) -> Result<std::collections::BTreeMap<String, usize>, Error> {
        self.with_store(|s| s.count_by_modality())
    }

    /// The backend's consistency check ("ok" when sound): SQLite's integrity check, or for a
    /// database that every stored vector has the index's dimension.
    pub fn integrity_check(&self) -> Result<String, Error> {
        self.with_store(|s| s.check())
    }

    /// Stores `items` in one transaction (replacing items with the same key whose content
    /// changed); returns what it changed.
    pub fn upsert(&self, items: &[NewItem]) -> Result<Upserted, Error> {
        self.with_store(|s| s.put(items))
    }

    /// The stored content hash of `key` (a path or an id), if any.
    pub fn hash_of(&self, key: &str) -> Result<Option<String>, Error> {
        self.with_store(|s| s.stored_hash(key))
    }

    /// The stored content hashes of those of `keys` that are stored.
    pub fn hashes_of(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, String>, Error> {
        self.with_store(|s| s.stored_hashes(keys))
    }

    /// Removes the items whose key `keep` rejects; returns how many were removed.
    pub fn prune(&self, keep: impl Fn(&str) -> bool) -> Result<usize, Error> {
        self.with_store(|s| s.remove_unless(&keep))
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
            let mut read_ok: Vec<(PathBuf, String, String, Input)> = Vec::new();
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
                    Ok((hash, input)) => read_ok.push((abs, key, hash, input)),
                }
            }
            // One look-up per chunk (one round trip to a database server).
            let keys: Vec<String> = read_ok.iter().map(|r| r.1.clone()).collect();
            let stored = self.hashes_of(&keys)?;
            for (abs, key, hash, input) in read_ok {
                match stored.get(&key) {
                    Some(h) if *h == hash => {
                        report.unchanged += 1;
                        progress(1);
                    }
                    _ => todo.push((abs, key, hash, input)),
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
                        let mut metadata = item_metadata(path, size);
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

    /// The search structures of an embedded index's current state: kept from the last query
    /// when nothing changed, else reloaded (from the cache file when current) or rebuilt.
    fn searchers(
        index: &Mutex<Index>,
        cached: &RwLock<Option<Arc<Searchers>>>,
    ) -> Result<Arc<Searchers>, Error> {
        let index = relock(index);
        let generation = index.generation()?;
        if let Some(s) = cached
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
        *cached.write().unwrap_or_else(|e| e.into_inner()) = Some(s.clone());
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
        let modality = opts.modality.map(Modality::as_str);
        let hits = match &self.backend {
            Backend::Embedded { index, searchers } => {
                let s = Self::searchers(index, searchers)?;
                match opts.mode {
                    SearchMode::Exact => s.exact.search(query, opts.k, modality),
                    SearchMode::Approximate(p) => {
                        let mut ann = s.ann.lock().unwrap_or_else(|e| e.into_inner());
                        let build = (p.connectivity, p.expansion_add);
                        let graph = match ann.as_ref().filter(|(b, _)| *b == build) {
                            Some((_, g)) => g.clone(),
                            None => {
                                let g = Arc::new(AnnSearcher::load_or_build(
                                    &relock(index),
                                    &s.exact,
                                    &p,
                                )?);
                                *ann = Some((build, g.clone()));
                                g
                            }
                        };
                        // The search breadth is per query; the graph is shared, so set it
                        // under the lock.
                        graph.set_expansion_search(p.expansion_search);
                        graph.search(query, opts.k, modality)?
                    }
                }
            }
            Backend::Server { index } => {
                let mut index = relock(index);
                match opts.mode {
                    SearchMode::Exact => index.search_exact(query, opts.k, modality)?,
                    SearchMode::Approximate(p) => index.search_hnsw(query, opts.k, modality, &p)?,
                }
            }
        };
        let items =
            self.with_store(|s| s.items_by_id(&hits.iter().map(|h| h.id).collect::<Vec<_>>()))?;
        Ok(items
            .into_iter()
            .zip(hits)
            .map(|(item, h)| Found {
                item,
                score: h.score,
            })
            .collect())
    }

    /// Builds the approximate-search structure now (the HNSW graph, or the database's HNSW
    /// index) with `params`, instead of on the first approximate query.
    pub fn build_approximate(&self, params: &AnnParams) -> Result<(), Error> {
        match &self.backend {
            Backend::Embedded { index, searchers } => {
                let s = Self::searchers(index, searchers)?;
                let g = Arc::new(AnnSearcher::load_or_build(
                    &relock(index),
                    &s.exact,
                    params,
                )?);
                *s.ann.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(((params.connectivity, params.expansion_add), g));
            }
            Backend::Server { index } => {
                relock(index).ensure_hnsw(params)?;
            }
        }
        Ok(())
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
