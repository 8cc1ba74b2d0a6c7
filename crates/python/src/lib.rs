//! The `clamp3` Python package's native module (`clamp3._native`): [`Model`] (an
//! [`clamp3::Embedder`]) and [`Index`] (a [`clamp3::Library`], an index directory or a
//! PostgreSQL database), thin layers over the Rust library. Every call that computes releases
//! the GIL, so Python threads embed in parallel; errors become `clamp3.InputError` (the
//! input's fault) or `clamp3.ModelError` (the system's), both `clamp3.Error`, naming the input.

// The library's `Error` leaves each GIL-free closure once per call, to become a Python
// exception: its size costs nothing here.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clamp3::library::{query_input, SearchMode, SearchOptions, SearchResults};
use clamp3::{
    EmbedError, EmbedOptions, Embedder, Fault, Input, InputKind, InputRef, Library, Modality,
};
use clamp3_index::AnnParams;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

pyo3::create_exception!(
    clamp3,
    Error,
    PyException,
    "Base class of every clamp3 error."
);
pyo3::create_exception!(
    clamp3,
    InputError,
    Error,
    "The input's fault: unreadable, unsupported, empty, malformed (fix the input). \
     `.input` names it: a path, or the position in the list given."
);
pyo3::create_exception!(
    clamp3,
    ModelError,
    Error,
    "The system's fault: a model file, a missing encoder or MERT, the index or the database."
);

/// A Python exception for a library error, of the class its fault says.
fn raise(fault: Fault, message: String, input: Option<&InputRef>) -> PyErr {
    let err = match fault {
        Fault::Input => InputError::new_err(message),
        Fault::System => ModelError::new_err(message),
    };
    if let Some(input) = input {
        Python::attach(|py| {
            let value: Py<PyAny> = match input {
                InputRef::Path(p) => p
                    .to_string_lossy()
                    .into_owned()
                    .into_pyobject(py)
                    .map(|v| v.into_any().unbind()),
                InputRef::Item(i) => i.into_pyobject(py).map(|v| v.into_any().unbind()),
            }
            .expect("a str or int converts");
            let _ = err.value(py).setattr("input", value);
        });
    }
    err
}

fn library_error(e: clamp3::Error) -> PyErr {
    match e {
        clamp3::Error::Embed(e) => embed_error(e),
        e => raise(e.fault(), e.to_string(), None),
    }
}

fn embed_error(e: EmbedError) -> PyErr {
    let input = e.input().clone();
    raise(e.fault(), e.to_string(), Some(&input))
}

/// A loaded CLaMP 3 model: text, sheet music (ABC, MusicXML), MIDI/MTF and audio (recordings
/// with MERT-v1-95M, or MERT features) into one embedding space.
///
/// `Model(model, device="cpu", mert=None)`: `model` is a model directory, a weights file, or
/// `"saas"` / `"c2"` for a release downloaded with `clamp3 download`. Recordings need MERT:
/// `mert` names its directory (default: `<model dir>/mert`, then the download cache; without
/// one, recordings fail with `ModelError`). `modalities` (e.g. `["symbolic"]`) loads only those
/// encoders (default: all three). Thread-safe: share one `Model` between threads.
#[pyclass(frozen, module = "clamp3")]
struct Model {
    embedder: Arc<Embedder>,
    /// Segments per encoder forward pass.
    batch: usize,
}

impl Model {
    /// Embeds `inputs` without the GIL; one row per input, or the first input's error.
    fn embed_inputs<'py>(
        &self,
        py: Python<'py>,
        inputs: Vec<Input>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let embedder = self.embedder.clone();
        let opts = EmbedOptions {
            max_batch: self.batch,
            ..EmbedOptions::default()
        };
        let dim = embedder.dim();
        let n = inputs.len();
        let flat = py.detach(move || -> Result<Vec<f32>, EmbedError> {
            let mut flat = Vec::with_capacity(n * dim);
            for r in embedder.embed(&inputs, &opts) {
                // Sequence mode is off, so every embedding is global.
                flat.extend(r?.into_global().unwrap_or_default());
            }
            Ok(flat)
        });
        let flat = flat.map_err(embed_error)?;
        let array = Array2::from_shape_vec((n, dim), flat)
            .map_err(|e| ModelError::new_err(format!("embedding shape: {e}")))?;
        Ok(array.into_pyarray(py))
    }
}

fn kind_of_format(format: &str, position: usize) -> PyResult<InputKind> {
    InputKind::from_extension(format.trim_start_matches('.')).ok_or_else(|| {
        raise(
            Fault::Input,
            format!(
                "input {position}: unsupported format `{format}` (supported: {})",
                InputKind::extension_list()
            ),
            Some(&InputRef::Item(position)),
        )
    })
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (model, device = "cpu", mert = None, batch = 32, modalities = None, blip = None))]
    fn new(
        py: Python<'_>,
        model: PathBuf,
        device: &str,
        mert: Option<PathBuf>,
        batch: usize,
        modalities: Option<Vec<String>>,
        blip: Option<PathBuf>,
    ) -> PyResult<Self> {
        let device =
            clamp3::parse_device(device).map_err(|e| ModelError::new_err(e.to_string()))?;
        let modalities: Vec<Modality> = modalities
            .unwrap_or_default()
            .iter()
            .filter_map(|m| self::modality(Some(m)).transpose())
            .collect::<PyResult<_>>()?;
        let wants_audio = modalities.is_empty() || modalities.contains(&Modality::Audio);
        // Images are captioned and embedded as text.
        let wants_images = modalities.is_empty() || modalities.contains(&Modality::Text);
        let name = model.to_string_lossy().into_owned();
        let embedder = py
            .detach(move || -> Result<Embedder, clamp3::Error> {
                let path = clamp3::hub::resolve_model(&name)?;
                let mut e = Embedder::load(&path, &modalities, &device)?;
                let dir = e.files().map(|f| f.dir.clone());
                match clamp3::hub::locate_mert(mert.as_deref(), dir.as_deref()) {
                    Ok(m) if wants_audio => e.attach_mert(&m, &device)?,
                    Ok(_) => {}
                    // Asked for: its absence is an error. Else recordings fail when given.
                    Err(err) if mert.is_some() => return Err(err),
                    Err(_) => {}
                }
                match clamp3::hub::locate_blip(blip.as_deref(), dir.as_deref()) {
                    Ok(b) if wants_images => e.attach_blip(&b, &device)?,
                    Ok(_) => {}
                    // As MERT: asked for, its absence is an error; else images fail when given.
                    Err(err) if blip.is_some() => return Err(err),
                    Err(_) => {}
                }
                Ok(e)
            })
            .map_err(library_error)?;
        Ok(Model {
            embedder: Arc::new(embedder),
            batch: batch.max(1),
        })
    }

    /// Identifies the model's weights and configuration: vectors of different ids are not
    /// comparable.
    #[getter]
    fn model_id(&self) -> &str {
        self.embedder.model_id()
    }

    /// Size of the embeddings (768 for the released models).
    #[getter]
    fn dim(&self) -> usize {
        self.embedder.dim()
    }

    /// Whether MERT is loaded (recordings can be embedded).
    #[getter]
    fn has_mert(&self) -> bool {
        self.embedder.mert().is_some()
    }

    /// Whether BLIP is loaded (images can be embedded: captioned, then as text).
    #[getter]
    fn has_blip(&self) -> bool {
        self.embedder.has_blip()
    }

    /// Embeds texts (any language; as the content of a `.txt` file): float32 `(n, dim)`.
    fn embed_text<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.embed_inputs(py, texts.into_iter().map(Input::Text).collect())
    }

    /// Embeds files of any supported kind (by extension): float32 `(n, dim)`, the vectors
    /// `clamp3 embed` writes.
    fn embed_files<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        self.embed_inputs(py, paths.into_iter().map(Input::Path).collect())
    }

    /// Embeds contents given as bytes; `formats[i]` is the i-th input's format, a file
    /// extension (`"abc"`, `"mid"`, `"mxl"`, `"xml"`, `"mtf"`, `"txt"`, `"wav"`, `"npy"`...).
    /// float32 `(n, dim)`.
    fn embed_bytes<'py>(
        &self,
        py: Python<'py>,
        data: Vec<Vec<u8>>,
        formats: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        if data.len() != formats.len() {
            return Err(InputError::new_err(format!(
                "{} inputs but {} formats",
                data.len(),
                formats.len()
            )));
        }
        let inputs = data
            .into_iter()
            .zip(&formats)
            .enumerate()
            .map(|(i, (bytes, f))| Ok(Input::bytes(kind_of_format(f, i)?, bytes)))
            .collect::<PyResult<Vec<_>>>()?;
        self.embed_inputs(py, inputs)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(model_id={:?}, dim={}, mert={}, blip={})",
            self.embedder.model_id(),
            self.embedder.dim(),
            self.embedder.mert().is_some(),
            self.embedder.has_blip()
        )
    }
}

/// A music collection in a persistent index: a directory (SQLite, searched in memory) or a
/// PostgreSQL database with pgvector (`"postgresql://user@host/db"`, searched by the server).
///
/// `Index(location, model=None)`: with a `Model`, the index is created if needed for that
/// model's vectors (another model's index is refused); without, it must exist. Thread-safe.
#[pyclass(frozen, module = "clamp3")]
struct Index {
    library: Arc<Library>,
    model: Option<Py<Model>>,
}

fn modality(m: Option<&str>) -> PyResult<Option<Modality>> {
    m.map(|m| {
        m.parse::<Modality>().map_err(|_| {
            InputError::new_err(format!("unknown modality `{m}` (text, symbolic, audio)"))
        })
    })
    .transpose()
}

#[pymethods]
impl Index {
    #[new]
    #[pyo3(signature = (location, model = None))]
    fn new(py: Python<'_>, location: PathBuf, model: Option<Py<Model>>) -> PyResult<Self> {
        let loc = location.to_string_lossy().into_owned();
        let embedder = model.as_ref().map(|m| m.get().embedder.clone());
        let library = py
            .detach(move || match embedder {
                Some(e) => Library::connect_for(&loc, &e),
                None => Library::connect(&loc),
            })
            .map_err(library_error)?;
        Ok(Index {
            library: Arc::new(library),
            model,
        })
    }

    /// Where the index lives (a directory, or the database URL without its password).
    #[getter]
    fn location(&self) -> &str {
        self.library.location()
    }

    /// The model id of the stored vectors.
    #[getter]
    fn model_id(&self) -> &str {
        &self.library.meta().model_id
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let l = self.library.clone();
        py.detach(move || l.len()).map_err(library_error)
    }

    /// Embeds and stores files (folders are walked) that are new or changed (by content hash;
    /// unchanged files are skipped), committing every `commit_every` files. Needs the `Model` given to `Index`.
    /// Returns `{"added", "updated", "unchanged", "failed": [messages]}`; a bad file does not
    /// stop the others.
    #[pyo3(signature = (paths, commit_every = 32))]
    fn add<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        commit_every: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = self.model.as_ref().ok_or_else(|| {
            ModelError::new_err("adding files needs the Index to be opened with a Model")
        })?;
        let (embedder, batch) = (model.get().embedder.clone(), model.get().batch);
        let library = self.library.clone();
        let report = py
            .detach(move || {
                let opts = EmbedOptions {
                    max_batch: batch,
                    ..EmbedOptions::default()
                };
                // Folders are walked as `clamp3 index add` walks them.
                let (files, walk_errors) =
                    clamp3::walk::collect(&paths, |p| InputKind::of(p).is_some(), "npy");
                let files: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
                let report =
                    library.add_files(&embedder, &files, commit_every.max(1), &opts, |_| {})?;
                let mut failed: Vec<String> = walk_errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path.display(), e.msg))
                    .collect();
                failed.extend(report.failed.iter().map(|e| e.to_string()));
                Ok::<_, clamp3::Error>((report, failed))
            })
            .map_err(library_error)?;
        let (report, failed) = report;
        let json = serde_json::json!({
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": failed,
        });
        json_to_py(py, &json.to_string())
    }

    /// The `k` stored items most similar to `query`: a text, a file path (a query by example)
    /// or a vector (float32, the model's dimension). Returns what `clamp3 search --json`
    /// prints: `{"query": ..., "results": [{"metadata", "modality", "path", "rank", "score"}]}`.
    /// `approx=True` searches the HNSW graph (the database's pgvector HNSW index), with
    /// `ef` (ef_search), `m` and `ef_construction` as in `clamp3 search`.
    #[pyo3(signature = (query, k = 10, modality = None, approx = false, ef = None, m = None, ef_construction = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
        k: usize,
        modality: Option<&str>,
        approx: bool,
        ef: Option<usize>,
        m: Option<usize>,
        ef_construction: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode = if approx {
            let mut p = AnnParams::default();
            p.expansion_search = ef.unwrap_or(p.expansion_search);
            p.connectivity = m.unwrap_or(p.connectivity);
            p.expansion_add = ef_construction.unwrap_or(p.expansion_add);
            SearchMode::Approximate(p)
        } else {
            SearchMode::Exact
        };
        let opts = SearchOptions {
            k,
            modality: self::modality(modality)?,
            mode,
        };
        enum Query {
            Vector(Vec<f32>),
            Input(String, Input),
        }
        let q = if let Ok(text) = query.extract::<String>() {
            Query::Input(text.clone(), query_input(&text))
        } else if let Ok(p) = query.extract::<PathBuf>() {
            let s = p.to_string_lossy().into_owned();
            Query::Input(s, Input::Path(p))
        } else {
            let v: PyReadonlyArray1<f32> = query.extract().map_err(|_| {
                InputError::new_err("the query is a text, a file path or a 1-d float32 array")
            })?;
            Query::Vector(v.as_slice()?.to_vec())
        };
        let embedder = self.model.as_ref().map(|m| m.get().embedder.clone());
        let library = self.library.clone();
        let json = py
            .detach(move || -> Result<String, clamp3::Error> {
                let (label, vector) = match q {
                    Query::Vector(v) => (String::new(), v),
                    Query::Input(label, input) => {
                        let e = embedder.ok_or_else(|| {
                            clamp3::Error::Embed(EmbedError::System {
                                input: InputRef::Item(0),
                                cause: clamp3::SystemCause::NoModel,
                            })
                        })?;
                        library.check_model(&e)?;
                        (label, e.embed_one(&input)?)
                    }
                };
                let found = library.search(&vector, &opts)?;
                Ok(serde_json::to_string(&SearchResults::new(label, &found)).unwrap_or_default())
            })
            .map_err(library_error)?;
        json_to_py(py, &json)
    }

    fn __repr__(&self) -> String {
        format!("Index({:?})", self.library.location())
    }
}

fn json_to_py<'py>(py: Python<'py>, json: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (json,))
}

/// The shard (of `count`) that an input with SHA-256 `content_hash` (hex) belongs to, as
/// `clamp3 embed --shard I/N` splits a job.
#[pyfunction]
fn shard_of(content_hash: &str, count: u64) -> u64 {
    clamp3::shard::shard_of(content_hash, count)
}

/// SHA-256 of `data` (hex): the content hash the index stores.
#[pyfunction]
fn content_hash(py: Python<'_>, data: Vec<u8>) -> String {
    py.detach(move || clamp3::library::content_hash(&data))
}

/// SHA-256 of a file's content (hex), as `clamp3 index add` computes it.
#[pyfunction]
fn file_hash(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let p = path.clone();
    py.detach(move || clamp3::library::file_hash(Path::new(&p)))
        .map_err(|e| {
            raise(
                Fault::Input,
                format!("{}: {e}", path.display()),
                Some(&InputRef::Path(path)),
            )
        })
}

/// The modality (`text`, `symbolic`, `audio`) of a file by its extension, or `None`.
#[pyfunction]
fn modality_of(path: PathBuf) -> Option<&'static str> {
    InputKind::of(&path).map(|k| k.modality().as_str())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Model>()?;
    m.add_class::<Index>()?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add_function(wrap_pyfunction!(shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(content_hash, m)?)?;
    m.add_function(wrap_pyfunction!(file_hash, m)?)?;
    m.add_function(wrap_pyfunction!(modality_of, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
