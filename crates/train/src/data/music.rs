//! Music side of a training item: which file, reading and converting it (with caches), and
//! turning it into a cropped patch or feature sequence (docs/reference.md §4.4).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use clamp3_formats::patch::Patchilizer;
pub use clamp3_input::audio::Features;
use clamp3_input::symbolic::{self, MxlSelection};
use clamp3_input::{InputCause, InputKind};
use clamp3_model::Modality;
use sha2::{Digest, Sha256};

use super::crop::{crop_range, CropMode};
use super::record::music_modality;
use super::{DataError, Record, Rng, INSTRUMENT_REMOVAL_P};

/// The music file of an item. Training: a uniformly random entry among the record's files
/// of modality `kind` (the reference: `random.choice(item["filepaths"])`). Evaluation
/// (no draw): for symbolic stages the first `.abc` file, else the first symbolic file (the
/// reference: `filepaths[0]` if it ends in `.abc`, else `filepaths[1]`); for audio the first
/// `.npy` (the reference: `filepaths[0]`). `None` when the record has no file of `kind`.
pub fn pick_file<'a>(
    rec: &'a Record,
    kind: Modality,
    rng: &mut Rng,
    train: bool,
) -> Option<&'a str> {
    let files = rec.files_of(kind);
    if train {
        return rng.choose(&files).copied();
    }
    let abc = files
        .iter()
        .find(|p| InputKind::of(Path::new(p)) == Some(InputKind::Abc));
    match kind {
        Modality::Symbolic => abc.or(files.first()).copied(),
        _ => files.first().copied(),
    }
}

/// The reference's `remove_instrument_info`, exactly (docs/reference.md §4.4): lines are split
/// keeping their `\n`; the text is MTF when the first line's text before its first space is
/// `ticks_per_beat`, ABC otherwise.
///
/// - ABC: a line starting with `V:` is cut before its first ` nm=`, or, when it has none,
///   before its first ` snm=`; a cut line gets a `\n` (also when it was the last line and
///   had none). A ` snm=` *before* ` nm=` therefore survives, as in the reference.
/// - MTF: a line starting with `program_change` loses its last space-separated field (the
///   program and the `\n`), and ` 0\n` is appended.
///
/// Other lines are unchanged. An empty text is returned unchanged (the reference raises
/// `IndexError`).
pub fn remove_instrument_info(text: &str) -> String {
    let mut lines = text.split_inclusive('\n').peekable();
    let Some(first) = lines.peek() else {
        return String::new();
    };
    let mtf = first.split(' ').next() == Some("ticks_per_beat");
    let mut out = String::with_capacity(text.len());
    for line in lines {
        if !mtf && line.starts_with("V:") {
            let cut = line.find(" nm=").or_else(|| line.find(" snm="));
            match cut {
                Some(pos) => {
                    out.push_str(line.get(..pos).unwrap_or(line));
                    out.push('\n');
                }
                None => out.push_str(line),
            }
        } else if mtf && line.starts_with("program_change") {
            // `" ".join(line.split(" ")[:-1]) + " 0\n"`
            let head = line
                .rfind(' ')
                .map_or("", |pos| line.get(..pos).unwrap_or(""));
            out.push_str(head);
            out.push_str(" 0\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// A cropped symbolic item: `patches x patch_size` ids, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolicSample {
    /// Patch ids (all below 128), `patches * patch_size` of them.
    pub ids: Vec<u32>,
    /// Number of patches (at most the crop length).
    pub patches: usize,
    /// Ids per patch.
    pub patch_size: usize,
}

/// The symbolic model input of one item, from interleaved ABC or MTF text: in training,
/// [`remove_instrument_info`] with probability [`INSTRUMENT_REMOVAL_P`]; then the patches
/// with their BOS and EOS patches (`M3Patchilizer.encode(..., add_special_patches=True)`);
/// then, when there are more than `patch_length`, a crop of `patch_length` patches (random
/// head/tail/middle in training, head in evaluation) taken *after* the special patches, so a
/// crop can lack BOS or EOS (docs/reference.md §4.8 #7).
pub fn sample_symbolic(
    text: &str,
    patch_size: usize,
    patch_length: usize,
    rng: &mut Rng,
    train: bool,
) -> Result<SymbolicSample, DataError> {
    if patch_length == 0 {
        return Err(DataError::Invalid("patch length must be at least 1".into()));
    }
    let patchilizer = Patchilizer::with_patch_size(patch_size)?;
    let text: Cow<'_, str> = if train && rng.chance(INSTRUMENT_REMOVAL_P) {
        Cow::Owned(remove_instrument_info(text))
    } else {
        Cow::Borrowed(text)
    };
    let patches = patchilizer.encode(&text)?;
    let range = crop_range(
        patches.len(),
        patch_length,
        rng,
        CropMode::for_training(train),
    );
    let count = range.len();
    let rows = patches
        .rows(range)
        .ok_or_else(|| DataError::Invalid("patch crop out of range".into()))?;
    Ok(SymbolicSample {
        ids: rows.iter().map(|&b| u32::from(b)).collect(),
        patches: count,
        patch_size,
    })
}

/// A cropped audio item: `rows x dim` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSample {
    /// Feature values, `rows * dim` of them.
    pub data: Vec<f32>,
    /// Number of vectors (at most the crop length).
    pub rows: usize,
    /// Values per vector.
    pub dim: usize,
}

/// The audio model input of one item from MERT features `[N, dim]` (row-major, N >= 1): the
/// zero vectors before and after ([`Features::with_special_rows`], docs/reference.md §6.1), then,
/// when the N + 2 vectors exceed `max_len`, a crop of `max_len` (random head/tail/middle in
/// training, head in evaluation).
pub fn sample_audio(
    features: &[f32],
    dim: usize,
    max_len: usize,
    rng: &mut Rng,
    train: bool,
) -> Result<AudioSample, DataError> {
    if dim == 0 || features.is_empty() || !features.len().is_multiple_of(dim) {
        return Err(DataError::Invalid(format!(
            "audio features must be N x {dim} values with N >= 1, got {} values",
            features.len()
        )));
    }
    if max_len == 0 {
        return Err(DataError::Invalid("audio length must be at least 1".into()));
    }
    let full = Features {
        data: features.to_vec(),
        rows: features.len() / dim,
        dim,
    }
    .with_special_rows();
    let range = crop_range(
        full.len() / dim,
        max_len,
        rng,
        CropMode::for_training(train),
    );
    let rows = range.len();
    let data = full[range.start * dim..range.end * dim].to_vec();
    Ok(AudioSample { data, rows, dim })
}

/// A loaded music file.
#[derive(Debug, Clone, PartialEq)]
pub enum MusicFile {
    /// Model-format symbolic text (interleaved ABC or MTF), before instrument removal.
    Symbolic(Arc<str>),
    /// Audio features.
    Audio(Features),
}

/// Counters of a [`MusicStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Symbolic texts served from memory.
    pub memory_hits: u64,
    /// Conversions served from the cache directory.
    pub disk_hits: u64,
    /// Conversions run (MIDI, MusicXML, standard ABC).
    pub conversions: u64,
    /// Files read from the data root.
    pub reads: u64,
    /// Distinct files that failed (each is tried once; later requests fail from memory).
    pub failures: u64,
    /// Cache-directory writes that failed (the conversion is still used).
    pub cache_write_errors: u64,
    /// Symbolic texts held in memory.
    pub cached_texts: usize,
    /// Their total size in bytes.
    pub cached_bytes: usize,
}

#[derive(Default)]
struct Inner {
    texts: HashMap<String, Arc<str>>,
    failed: HashMap<String, String>,
    stats: StoreStats,
}

/// Default memory budget for cached symbolic texts (1 GiB).
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

/// Version of the cache-directory format and converters; part of every cache key, so
/// bumping it invalidates old entries.
pub const CACHE_VERSION: u32 = 1;

/// Turns a record's music file (a path relative to the data root) into model input.
///
/// - Symbolic files become model-format text: `.abc` is read as the reference reads text
///   (UTF-8, universal newlines) and interleaved when it is standard ABC; `.mtf` is read as
///   is; `.mid`/`.midi` are converted to MTF; `.xml`/`.musicxml`/`.mxl` to interleaved ABC
///   (archives recognised by content, [`MxlSelection::Lenient`] member rule, as the embedder
///   does): all through [`clamp3_input::symbolic::model_text`], the embedder's own code. Texts are kept in memory up to a byte
///   budget (then served from disk again); conversions can also be cached in a directory,
///   keyed by the SHA-256 of the file's bytes, the file kind and [`CACHE_VERSION`].
/// - `.npy` features are read with [`clamp3_formats::npy::read_npy`] and must have shape
///   (1, N, dim) with N >= 1 and finite values; they are not kept in memory.
///
/// A file that fails is remembered and counted; asking for it again fails at once with the
/// same cause. The store is `Sync`: items can be loaded from several threads.
pub struct MusicStore {
    root: PathBuf,
    cache_dir: Option<PathBuf>,
    memory_budget: usize,
    audio_dim: usize,
    inner: Mutex<Inner>,
}

impl fmt::Debug for MusicStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MusicStore")
            .field("root", &self.root)
            .field("cache_dir", &self.cache_dir)
            .field("memory_budget", &self.memory_budget)
            .field("audio_dim", &self.audio_dim)
            .field("stats", &self.stats())
            .finish()
    }
}

impl MusicStore {
    /// A store resolving paths against `root`, with the default memory budget, no cache
    /// directory and features of the release model's width (768).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MusicStore {
            root: root.into(),
            cache_dir: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            audio_dim: clamp3_model::Clamp3Config::default()
                .audio_config
                .hidden_size,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A store rooted, as in the reference, at the directory of the JSONL file.
    pub fn for_jsonl(jsonl: &Path) -> Self {
        let dir = jsonl
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::new(dir)
    }

    /// Caches conversions in `dir` (created on first write).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Keeps at most `bytes` of symbolic text in memory (0 disables the memory cache).
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Expects audio features of size `dim`.
    pub fn with_audio_dim(mut self, dim: usize) -> Self {
        self.audio_dim = dim;
        self
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The expected audio feature size.
    pub fn audio_dim(&self) -> usize {
        self.audio_dim
    }

    /// The file a record path refers to.
    pub fn resolve(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The counters so far.
    pub fn stats(&self) -> StoreStats {
        self.lock().stats
    }

    /// The files that failed and why, sorted by path.
    pub fn failures(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .lock()
            .failed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort();
        v
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the maps inconsistent (each update is one insert),
        // so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads a music file of either modality.
    pub fn load(&self, rel: &str) -> Result<MusicFile, DataError> {
        match music_modality(rel) {
            Some(Modality::Symbolic) => self.symbolic_text(rel).map(MusicFile::Symbolic),
            Some(_) => self.audio_features(rel).map(MusicFile::Audio),
            None => Err(DataError::Music {
                path: self.resolve(rel),
                cause: "not a training music file (expected .abc, .mtf, .mid, .midi, .xml, \
                        .musicxml, .mxl or .npy)"
                    .into(),
            }),
        }
    }

    fn known_failure(&self, rel: &str) -> Option<DataError> {
        self.lock().failed.get(rel).map(|cause| DataError::Music {
            path: self.resolve(rel),
            cause: cause.clone(),
        })
    }

    fn record_failure(&self, rel: &str, cause: String) -> DataError {
        let mut inner = self.lock();
        if inner.failed.insert(rel.to_owned(), cause.clone()).is_none() {
            inner.stats.failures += 1;
        }
        DataError::Music {
            path: self.resolve(rel),
            cause,
        }
    }

    /// The model-format text (interleaved ABC or MTF) of a symbolic file.
    pub fn symbolic_text(&self, rel: &str) -> Result<Arc<str>, DataError> {
        {
            let mut inner = self.lock();
            if let Some(t) = inner.texts.get(rel).cloned() {
                inner.stats.memory_hits += 1;
                return Ok(t);
            }
        }
        if let Some(e) = self.known_failure(rel) {
            return Err(e);
        }
        let path = self.resolve(rel);
        let text: Arc<str> = match self.read_symbolic(&path) {
            Ok(t) => Arc::from(t),
            Err(cause) => return Err(self.record_failure(rel, cause)),
        };
        let mut inner = self.lock();
        if inner.stats.cached_bytes.saturating_add(text.len()) <= self.memory_budget
            && !inner.texts.contains_key(rel)
        {
            inner.stats.cached_bytes += text.len();
            inner.stats.cached_texts += 1;
            inner.texts.insert(rel.to_owned(), text.clone());
        }
        Ok(text)
    }

    fn read_symbolic(&self, path: &Path) -> Result<String, String> {
        let kind = InputKind::of(path)
            .filter(|k| k.modality() == Modality::Symbolic)
            .ok_or("not a symbolic music file")?;
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        self.lock().stats.reads += 1;
        let convert = |kind| {
            symbolic::model_text(kind, &bytes, MxlSelection::Lenient).map_err(|e| e.to_string())
        };
        match kind {
            InputKind::Mtf => convert(kind),
            InputKind::Abc => {
                let text = clamp3_input::text::read(&bytes).map_err(|e| e.to_string())?;
                if symbolic::is_standard_abc(&text) {
                    self.cached("abc", "abc", &bytes, || convert(kind))
                } else {
                    Ok(text)
                }
            }
            InputKind::Midi => self.cached("midi", "mtf", &bytes, || convert(kind)),
            _ => self.cached("musicxml", "abc", &bytes, || convert(kind)),
        }
    }

    /// Runs `convert`, through the cache directory when there is one.
    fn cached(
        &self,
        tag: &str,
        ext: &str,
        bytes: &[u8],
        convert: impl FnOnce() -> Result<String, String>,
    ) -> Result<String, String> {
        let Some(dir) = &self.cache_dir else {
            self.lock().stats.conversions += 1;
            return convert();
        };
        let mut h = Sha256::new();
        h.update(format!("clamp3-train music cache v{CACHE_VERSION}\0{tag}\0").as_bytes());
        h.update(bytes);
        let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let sub = dir.join(key.get(..2).unwrap_or("00"));
        let file = sub.join(format!("{key}.{ext}"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            self.lock().stats.disk_hits += 1;
            return Ok(text);
        }
        self.lock().stats.conversions += 1;
        let text = convert()?;
        if clamp3_util::fs::write_atomic(&file, text.as_bytes()).is_err() {
            self.lock().stats.cache_write_errors += 1;
        }
        Ok(text)
    }

    /// The MERT features of a `.npy` file, shape-checked: (1, N, dim), N >= 1, all finite
    /// ([`clamp3_input::audio::read_features`], the embedder's own check).
    pub fn audio_features(&self, rel: &str) -> Result<Features, DataError> {
        if let Some(e) = self.known_failure(rel) {
            return Err(e);
        }
        let path = self.resolve(rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return Err(self.record_failure(rel, e.to_string())),
        };
        self.lock().stats.reads += 1;
        match clamp3_input::audio::read_features(&bytes, self.audio_dim) {
            Ok(f) => Ok(f),
            Err(cause) => {
                let e = self.record_failure(rel, cause.to_string());
                match cause {
                    InputCause::FeatureShape { found, dim } => Err(DataError::FeatureShape {
                        path: path.clone(),
                        found,
                        dim,
                    }),
                    _ => Err(e),
                }
            }
        }
    }
}
