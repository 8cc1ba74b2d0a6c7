//! The SQLite store: items with their raw vectors, and index-wide metadata.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::IndexError;

/// Index-wide facts, fixed when the index is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMeta {
    /// Identifies the model whose vectors the index holds.
    pub model_id: String,
    /// Vector dimension.
    pub dim: usize,
}

impl IndexMeta {
    /// Whether vectors described by `given` may go into (or be compared with) an index of this
    /// meta: the same model id and dimension. The one identity check of the project: vectors
    /// of different models are not comparable.
    pub fn accepts(&self, given: &IndexMeta) -> Result<(), IndexError> {
        if self.model_id != given.model_id {
            return Err(IndexError::ModelMismatch {
                index: self.model_id.clone(),
                given: given.model_id.clone(),
            });
        }
        if self.dim != given.dim {
            return Err(IndexError::Dimension {
                expected: self.dim,
                found: given.dim,
            });
        }
        Ok(())
    }
}

/// A stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Row id.
    pub id: i64,
    /// The file's path as given when added (absolute).
    pub path: String,
    /// SHA-256 of the file's content (hex).
    pub hash: String,
    /// `text`, `symbolic` or `audio`.
    pub modality: String,
    /// Free-form JSON metadata (file size, kind, user fields...).
    pub metadata: serde_json::Value,
}

/// A file to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// Absolute path.
    pub path: String,
    /// SHA-256 of the content (hex).
    pub hash: String,
    /// `text`, `symbolic` or `audio`.
    pub modality: String,
    /// JSON metadata.
    pub metadata: serde_json::Value,
    /// The raw (unnormalised) embedding.
    pub vector: Vec<f32>,
}

/// What [`Index::upsert`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    /// Items stored for the first time.
    pub inserted: usize,
    /// Items whose stored content (hash) changed.
    pub updated: usize,
    /// Items already stored with the same hash, left as they were.
    pub unchanged: usize,
}

/// An index directory, opened.
pub struct Index {
    dir: PathBuf,
    db: PathBuf,
    conn: Connection,
    meta: IndexMeta,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .field("meta", &self.meta)
            .finish()
    }
}

fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn unblob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Index {
    fn sql(&self) -> impl Fn(rusqlite::Error) -> IndexError + '_ {
        |e| IndexError::Sqlite {
            path: self.db.clone(),
            source: e,
        }
    }

    fn connect(dir: &Path) -> Result<(PathBuf, Connection), IndexError> {
        let db = dir.join("index.sqlite");
        let err = |e| IndexError::Sqlite {
            path: db.clone(),
            source: e,
        };
        let conn = Connection::open(&db).map_err(err)?;
        // WAL: readers never block the writer, and a killed writer leaves the last committed
        // state intact; FULL sync makes every commit durable.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        Ok((db, conn))
    }

    /// Opens the index in `dir`, creating it for `meta` if it does not exist. Fails if it
    /// exists with another model or dimension.
    pub fn open_or_create(dir: &Path, meta: &IndexMeta) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let (db, conn) = Self::connect(dir)?;
        let err = |e| IndexError::Sqlite {
            path: db.clone(),
            source: e,
        };
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS items (
                 id INTEGER PRIMARY KEY,
                 path TEXT NOT NULL UNIQUE,
                 hash TEXT NOT NULL,
                 modality TEXT NOT NULL,
                 metadata TEXT NOT NULL,
                 vector BLOB NOT NULL
             );
             CREATE INDEX IF NOT EXISTS items_modality ON items(modality);
             INSERT OR IGNORE INTO meta VALUES ('format', '1');
             INSERT OR IGNORE INTO meta VALUES ('generation', '0');
             COMMIT;",
        )
        .map_err(err)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('model_id', ?1)",
            [&meta.model_id],
        )
        .map_err(err)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('dim', ?1)",
            [meta.dim.to_string()],
        )
        .map_err(err)?;
        let stored = Self::read_meta(&conn).map_err(err)?;
        stored.accepts(meta)?;
        Ok(Index {
            dir: dir.to_path_buf(),
            db,
            conn,
            meta: stored,
        })
    }

    /// Opens an existing index.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        if !dir.join("index.sqlite").is_file() {
            return Err(IndexError::NotAnIndex {
                path: dir.to_path_buf(),
            });
        }
        let (db, conn) = Self::connect(dir)?;
        let meta = Self::read_meta(&conn).map_err(|e| IndexError::Sqlite {
            path: db.clone(),
            source: e,
        })?;
        Ok(Index {
            dir: dir.to_path_buf(),
            db,
            conn,
            meta,
        })
    }

    fn read_meta(conn: &Connection) -> rusqlite::Result<IndexMeta> {
        let get = |k: &str| -> rusqlite::Result<String> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
        };
        Ok(IndexMeta {
            model_id: get("model_id")?,
            dim: get("dim")?.parse().unwrap_or(0),
        })
    }

    /// Records that the stored vectors are those of model `model_id` (the same model under a new
    /// id scheme: a migration, never a way to mix models).
    pub fn set_model_id(&mut self, model_id: &str) -> Result<(), IndexError> {
        self.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'model_id'",
                [model_id],
            )
            .map_err(self.sql())?;
        self.meta.model_id = model_id.to_string();
        Ok(())
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Model id and dimension.
    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    /// A counter bumped by every change; caches built from the items record it.
    pub fn generation(&self) -> Result<u64, IndexError> {
        let g: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get(0)
            })
            .map_err(self.sql())?;
        Ok(g.parse().unwrap_or(0))
    }

    /// Number of stored items.
    pub fn len(&self) -> Result<usize, IndexError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
            .map_err(self.sql())?;
        Ok(n as usize)
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.len()? == 0)
    }

    /// The content hash stored for `path`, if any.
    pub fn hash_of(&self, path: &str) -> Result<Option<String>, IndexError> {
        self.conn
            .query_row("SELECT hash FROM items WHERE path = ?1", [path], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.sql())
    }

    /// Inserts or replaces items in one transaction: either all of them are stored or none.
    /// The counts come from the store itself at commit time, so concurrent writers each report
    /// what they really changed: an item whose path is already stored with the same hash is
    /// left as it is.
    pub fn upsert(&mut self, items: &[NewItem]) -> Result<Upserted, IndexError> {
        let dim = self.meta.dim;
        if let Some(bad) = items.iter().find(|i| i.vector.len() != dim) {
            return Err(IndexError::Dimension {
                expected: dim,
                found: bad.vector.len(),
            });
        }
        let db = self.db.clone();
        let err = |e| IndexError::Sqlite {
            path: db.clone(),
            source: e,
        };
        // IMMEDIATE: take the write lock before reading the stored hashes, so that another
        // writer cannot change them between the read and the write.
        let tx =
            rusqlite::Transaction::new(&mut self.conn, rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
        let mut counts = Upserted::default();
        {
            let mut current = tx
                .prepare("SELECT hash FROM items WHERE path = ?1")
                .map_err(err)?;
            let mut st = tx
                .prepare(
                    "INSERT INTO items (path, hash, modality, metadata, vector) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, modality = excluded.modality,
                         metadata = excluded.metadata, vector = excluded.vector",
                )
                .map_err(err)?;
            for i in items {
                let stored: Option<String> = current
                    .query_row([&i.path], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
                match stored {
                    Some(h) if h == i.hash => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some(_) => counts.updated += 1,
                    None => counts.inserted += 1,
                }
                st.execute(params![
                    i.path,
                    i.hash,
                    i.modality,
                    i.metadata.to_string(),
                    blob(&i.vector)
                ])
                .map_err(err)?;
            }
        }
        if counts.inserted + counts.updated > 0 {
            tx.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
                [],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(counts)
    }

    /// Removes the items whose path `keep` rejects; returns how many were removed.
    pub fn prune(&mut self, keep: impl Fn(&str) -> bool) -> Result<usize, IndexError> {
        let paths: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT path FROM items")
                .map_err(self.sql())?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(self.sql())?;
            rows.collect::<rusqlite::Result<_>>().map_err(self.sql())?
        };
        let gone: Vec<&String> = paths.iter().filter(|p| !keep(p)).collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let db = self.db.clone();
        let err = |e| IndexError::Sqlite {
            path: db.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(err)?;
        for p in &gone {
            tx.execute("DELETE FROM items WHERE path = ?1", [p])
                .map_err(err)?;
        }
        tx.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
            [],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(gone.len())
    }

    /// Items by id.
    pub fn items(&self, ids: &[i64]) -> Result<Vec<Item>, IndexError> {
        let mut st = self
            .conn
            .prepare("SELECT id, path, hash, modality, metadata FROM items WHERE id = ?1")
            .map_err(self.sql())?;
        ids.iter()
            .map(|id| {
                st.query_row([id], |r| {
                    let meta: String = r.get(4)?;
                    Ok(Item {
                        id: r.get(0)?,
                        path: r.get(1)?,
                        hash: r.get(2)?,
                        modality: r.get(3)?,
                        metadata: serde_json::from_str(&meta).unwrap_or(serde_json::Value::Null),
                    })
                })
                .map_err(self.sql())
            })
            .collect()
    }

    /// Calls `f(id, modality, vector)` for every item, in id order.
    pub fn for_each_vector(
        &self,
        mut f: impl FnMut(i64, &str, Vec<f32>),
    ) -> Result<(), IndexError> {
        let mut st = self
            .conn
            .prepare("SELECT id, modality, vector FROM items ORDER BY id")
            .map_err(self.sql())?;
        let mut rows = st.query([]).map_err(self.sql())?;
        while let Some(r) = rows.next().map_err(self.sql())? {
            let id: i64 = r.get(0).map_err(self.sql())?;
            let m: String = r.get(1).map_err(self.sql())?;
            let b: Vec<u8> = r.get(2).map_err(self.sql())?;
            f(id, &m, unblob(&b));
        }
        Ok(())
    }

    /// A free-form index-wide setting (e.g. where the model lives), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, IndexError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [format!("setting.{key}")],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }

    /// Stores a free-form index-wide setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), IndexError> {
        self.conn
            .execute(
                "INSERT INTO meta VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [format!("setting.{key}"), value.to_string()],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// SQLite's own consistency check ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String, IndexError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.sql())
    }
}
