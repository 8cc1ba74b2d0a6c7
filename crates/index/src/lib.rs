//! A persistent music index: CLaMP 3 embeddings of a collection with where they came from,
//! kept in one directory, updated incrementally, and searched exactly or approximately.
//!
//! Layout of an index directory:
//!
//! ```text
//! DIR/index.sqlite         the source of truth: one row per file (path, content hash, modality,
//!                          model id, JSON metadata, the raw vector); written in transactions,
//!                          so a killed writer loses at most its uncommitted batch
//! DIR/cache/vectors.bin    normalised vectors as one matrix, rebuilt when the data changed
//! DIR/cache/hnsw.usearch   the approximate (HNSW) graph, rebuilt on demand when stale
//! ```
//!
//! The same index can live in a PostgreSQL database with pgvector instead ([`PgIndex`], for a
//! `postgresql://` location), searched by the server; [`Store`] is what both backends share.
//!
//! Vectors of different models are not comparable, so an index belongs to one model id.

mod ann;
mod backend;
mod exact;
mod pg;
mod store;

pub use ann::{AnnParams, AnnSearcher};
pub use backend::{is_server_location, Store};
pub use exact::ExactSearcher;
pub use pg::{redact_url, PgIndex};
pub use store::{Index, IndexMeta, Item, NewItem, Upserted};

/// Why an index operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The database failed.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: std::path::PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A file of the index could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The index was built with another model (its vectors are not comparable).
    #[error("the index holds vectors of model {index}, not of model {given}")]
    ModelMismatch {
        /// Model id stored in the index.
        index: String,
        /// Model id of the caller.
        given: String,
    },
    /// A vector has the wrong size.
    #[error("vector of dimension {found}, the index holds dimension {expected}")]
    Dimension {
        /// The index's dimension.
        expected: usize,
        /// The vector's.
        found: usize,
    },
    /// The directory is not an index.
    #[error("{}: not a clamp3 index (no index.sqlite)", path.display())]
    NotAnIndex {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// The PostgreSQL server refused or failed an operation.
    #[error("{location}: {message}")]
    Postgres {
        /// The database (its URL, without the password).
        location: String,
        /// The server's or the client's message.
        message: String,
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
    },
    /// The database holds no index.
    #[error("{location}: no clamp3 index in this database")]
    NoIndexAt {
        /// The database (its URL, without the password).
        location: String,
    },
    /// The approximate index failed.
    #[error("approximate index: {0}")]
    Ann(String),
}

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Row id in the index.
    pub id: i64,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// Scales `v` to unit length (left as is when it is all zeros).
pub fn normalise(v: &mut [f32]) {
    let n = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if n > 0.0 {
        let inv = (1.0 / n) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        (ab / (aa.sqrt() * bb.sqrt())) as f32
    }
}
