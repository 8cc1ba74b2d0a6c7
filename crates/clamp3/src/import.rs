//! Embeddings made elsewhere (a distributed job, e.g. the Ray job of the Python package) read
//! from Parquet, to be stored in an index by [`crate::Library::import`].
//!
//! One row per input, the columns by name (others are ignored):
//!
//! | column | type | |
//! |---|---|---|
//! | `path` | string | the input file, absolute: the index key (null: `id` is the key) |
//! | `id` | string | the job's id of the input |
//! | `modality` | string | `text`, `symbolic` or `audio` |
//! | `content_hash` | string | SHA-256 of the input's bytes (hex), as [`crate::library::content_hash`] |
//! | `model_id` | string | [`crate::Embedder::model_id`] of the model that made the vector |
//! | `vector` | list of float32 | the raw global embedding |
//! | `size` | int64, optional | the input's size in bytes (stored in the item's metadata) |
//! | `error` | string, optional | set when the job could not embed the input: the row is skipped |
//!
//! The record reader of the `parquet` crate reads it row by row (memory stays at one row
//! group); Snappy-compressed or uncompressed files (pyarrow's default is Snappy).

use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use crate::error::Error;

/// One embedding read from a Parquet file.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRow {
    /// The index key: the path, or the id when there is no path.
    pub key: String,
    /// `text`, `symbolic` or `audio`.
    pub modality: String,
    /// SHA-256 of the input's bytes (hex).
    pub content_hash: String,
    /// The model that made the vector.
    pub model_id: String,
    /// The raw global embedding.
    pub vector: Vec<f32>,
    /// The input's size in bytes, when recorded.
    pub size: Option<u64>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn text(f: &Field) -> Option<String> {
    match f {
        Field::Str(s) => Some(s.clone()),
        Field::Bytes(b) => std::str::from_utf8(b.data()).ok().map(str::to_string),
        _ => None,
    }
}

fn floats(f: &Field) -> Option<Vec<f32>> {
    let list = match f {
        Field::ListInternal(l) => l,
        _ => return None,
    };
    list.elements()
        .iter()
        .map(|e| match e {
            Field::Float(x) => Some(*x),
            Field::Double(x) => Some(*x as f32),
            _ => None,
        })
        .collect()
}

/// The first row of the Parquet file at `path` (`None` when it has no rows).
pub fn first_row(path: &Path) -> Result<Option<EmbeddingRow>, Error> {
    let mut first = None;
    read_rows(path, Some(1), |r| {
        first = Some(r);
        Ok(())
    })?;
    Ok(first)
}

/// Calls `f` with every row of the Parquet file at `path`, in order; returns how many rows.
/// A malformed row is an error naming the file and the row.
pub fn read_parquet(
    path: &Path,
    f: impl FnMut(EmbeddingRow) -> Result<(), Error>,
) -> Result<usize, Error> {
    read_rows(path, None, f)
}

fn read_rows(
    path: &Path,
    limit: Option<usize>,
    mut f: impl FnMut(EmbeddingRow) -> Result<(), Error>,
) -> Result<usize, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(path, e.to_string()))?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| bad(path, e.to_string()))?;
    let mut n = 0usize;
    for (i, row) in rows.enumerate() {
        if n >= limit.unwrap_or(usize::MAX) {
            break;
        }
        let row = row.map_err(|e| bad(path, format!("row {i}: {e}")))?;
        let mut cols: std::collections::HashMap<&str, &Field> = std::collections::HashMap::new();
        for (name, field) in row.get_column_iter() {
            cols.insert(name.as_str(), field);
        }
        let get = |name: &str| cols.get(name).copied().and_then(text);
        // The job could not embed this input: nothing to store (a re-run retries it).
        if get("error").is_some() {
            continue;
        }
        let need = |name: &str| {
            get(name).ok_or_else(|| bad(path, format!("row {i}: no string `{name}` column")))
        };
        let key = get("path")
            .or_else(|| get("id"))
            .ok_or_else(|| bad(path, format!("row {i}: neither `path` nor `id` is set")))?;
        let vector = cols
            .get("vector")
            .copied()
            .and_then(floats)
            .ok_or_else(|| bad(path, format!("row {i}: no list-of-float `vector` column")))?;
        let size = match cols.get("size") {
            Some(Field::Long(v)) => u64::try_from(*v).ok(),
            Some(Field::Int(v)) => u64::try_from(*v).ok(),
            Some(Field::ULong(v)) => Some(*v),
            _ => None,
        };
        f(EmbeddingRow {
            key,
            modality: need("modality")?,
            content_hash: need("content_hash")?,
            model_id: need("model_id")?,
            vector,
            size,
        })?;
        n += 1;
    }
    Ok(n)
}

/// The Parquet files among `paths`: files as given, folders walked for `*.parquet` (sorted).
pub fn parquet_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .into_iter()
                .filter_map(Result::ok)
                .map(|e| e.into_path())
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "parquet"))
                .collect();
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Error::Io {
                path: p.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    Ok(out)
}
