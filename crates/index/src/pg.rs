//! The PostgreSQL backend: the same items as the SQLite store, in a database with the pgvector
//! extension, searched by the server: exactly (a scan ordered by cosine distance) or with a
//! pgvector HNSW index (`vector_cosine_ops`), built on the first approximate query and kept
//! current by the server as items change.
//!
//! Tables (in the connection's schema, `public` unless the URL's `options` set `search_path`):
//!
//! ```text
//! clamp3_meta  (key TEXT PRIMARY KEY, value TEXT)        model_id, dim, generation, format,
//!                                                        hnsw (m ef_construction), setting.*
//! clamp3_items (id BIGSERIAL PRIMARY KEY, path TEXT UNIQUE, hash TEXT, modality TEXT,
//!               metadata JSONB, embedding vector(dim))   the raw (unnormalised) vectors
//! ```
//!
//! Every write is one transaction, so a killed writer loses at most its uncommitted batch, and
//! writers lock rows in path order (then the meta row), so concurrent writers never deadlock.

use std::collections::BTreeMap;

use pgvector::Vector;
use postgres::{Client, NoTls, Transaction};

use crate::{AnnParams, Hit, IndexError, IndexMeta, Item, NewItem, Store, Upserted};

/// Serialises schema changes (creating the tables, building the HNSW index) between clients.
const SCHEMA_LOCK: i64 = 0x636c_616d_7033; // "clamp3"

/// Times a transaction is retried after a deadlock or serialisation failure.
const RETRIES: usize = 5;

/// An index in a PostgreSQL database, connected.
pub struct PgIndex {
    location: String,
    client: Client,
    meta: IndexMeta,
}

impl std::fmt::Debug for PgIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgIndex")
            .field("location", &self.location)
            .field("meta", &self.meta)
            .finish()
    }
}

/// `url` with its password (if any) replaced by `***`, fit to print.
pub fn redact_url(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[start..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) if colon + 1 < at => {
                format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..])
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn error(location: &str, e: &postgres::Error) -> IndexError {
    let message = match e.as_db_error() {
        Some(db) => db.to_string(),
        None => {
            use std::error::Error as _;
            match e.source() {
                Some(s) => format!("{e}: {s}"),
                None => e.to_string(),
            }
        }
    };
    IndexError::Postgres {
        location: location.to_string(),
        message,
        code: e.code().map(|c| c.code().to_string()),
    }
}

fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

fn bump_generation(tx: &mut Transaction<'_>) -> Result<u64, postgres::Error> {
    let row = tx.query_one(
        "UPDATE clamp3_meta SET value = (value::bigint + 1)::text WHERE key = 'generation' RETURNING value",
        &[],
    )?;
    Ok(row.get::<_, String>(0).parse().unwrap_or(0))
}

impl PgIndex {
    fn connect(url: &str) -> Result<(String, Client), IndexError> {
        let location = redact_url(url);
        let client = Client::connect(url, NoTls).map_err(|e| error(&location, &e))?;
        Ok((location, client))
    }

    fn err(&self) -> impl Fn(postgres::Error) -> IndexError + '_ {
        |e| error(&self.location, &e)
    }

    /// Runs `f` in a transaction, retried when the server aborts it for a deadlock or a
    /// serialisation conflict with another writer.
    fn transaction<T>(
        &mut self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, IndexError> {
        let mut attempt = 0;
        loop {
            let result = (|| {
                let mut tx = self.client.transaction()?;
                let v = f(&mut tx)?;
                tx.commit()?;
                Ok(v)
            })();
            match result {
                Err(e) if retryable(&e) && attempt < RETRIES => attempt += 1,
                r => return r.map_err(|e| error(&self.location, &e)),
            }
        }
    }

    /// Connects to the database at `url` and opens its index, creating the tables (and the
    /// `vector` extension) for `meta` if there is none. Fails if the index holds another
    /// model's vectors or another dimension.
    pub fn open_or_create(url: &str, meta: &IndexMeta) -> Result<Self, IndexError> {
        let (location, mut client) = Self::connect(url)?;
        let dim = meta.dim;
        let stored = (|| -> Result<IndexMeta, postgres::Error> {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(&format!(
                "CREATE EXTENSION IF NOT EXISTS vector;
                 CREATE TABLE IF NOT EXISTS clamp3_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS clamp3_items (
                     id BIGSERIAL PRIMARY KEY,
                     path TEXT NOT NULL UNIQUE,
                     hash TEXT NOT NULL,
                     modality TEXT NOT NULL,
                     metadata JSONB NOT NULL,
                     embedding vector({dim}) NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS clamp3_items_modality ON clamp3_items (modality);
                 INSERT INTO clamp3_meta VALUES ('format', '1'), ('generation', '0'), ('dim', '{dim}')
                     ON CONFLICT (key) DO NOTHING;"
            ))?;
            tx.execute(
                "INSERT INTO clamp3_meta VALUES ('model_id', $1) ON CONFLICT (key) DO NOTHING",
                &[&meta.model_id],
            )?;
            let stored = Self::read_meta(&mut tx)?;
            tx.commit()?;
            Ok(stored)
        })()
        .map_err(|e| error(&location, &e))?;
        stored.accepts(meta)?;
        Ok(PgIndex {
            location,
            client,
            meta: stored,
        })
    }

    /// Connects to the database at `url` and opens its existing index.
    pub fn open(url: &str) -> Result<Self, IndexError> {
        let (location, mut client) = Self::connect(url)?;
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('clamp3_meta') IS NOT NULL AND to_regclass('clamp3_items') IS NOT NULL",
                &[],
            )
            .map_err(|e| error(&location, &e))?
            .get(0);
        if !exists {
            return Err(IndexError::NoIndexAt { location });
        }
        let meta = Self::read_meta(&mut client).map_err(|e| error(&location, &e))?;
        Ok(PgIndex {
            location,
            client,
            meta,
        })
    }

    fn read_meta(c: &mut impl postgres::GenericClient) -> Result<IndexMeta, postgres::Error> {
        let mut get = |k: &str| -> Result<String, postgres::Error> {
            Ok(
                c.query_opt("SELECT value FROM clamp3_meta WHERE key = $1", &[&k])?
                    .map(|r| r.get(0))
                    .unwrap_or_default(),
            )
        };
        Ok(IndexMeta {
            model_id: get("model_id")?,
            dim: get("dim")?.parse().unwrap_or(0),
        })
    }

    /// The server's and the extension's versions, e.g. `PostgreSQL 18.3, pgvector 0.8.2`.
    pub fn server_version(&mut self) -> Result<String, IndexError> {
        let row = self
            .client
            .query_one(
                "SELECT current_setting('server_version'),
                        (SELECT extversion FROM pg_extension WHERE extname = 'vector')",
                &[],
            )
            .map_err(self.err())?;
        let (pg, vector): (String, Option<String>) = (row.get(0), row.get(1));
        Ok(format!(
            "PostgreSQL {pg}, pgvector {}",
            vector.as_deref().unwrap_or("?")
        ))
    }

    fn check_query(&self, query: &[f32]) -> Result<(), IndexError> {
        if query.len() != self.meta.dim {
            return Err(IndexError::Dimension {
                expected: self.meta.dim,
                found: query.len(),
            });
        }
        Ok(())
    }

    /// The `k` items most similar to `query` (cosine), scanning every row; best first, ties
    /// in id order (as the embedded exact search).
    pub fn search_exact(
        &mut self,
        query: &[f32],
        k: usize,
        modality: Option<&str>,
    ) -> Result<Vec<Hit>, IndexError> {
        self.check_query(query)?;
        let q = Vector::from(query.to_vec());
        let k = k as i64;
        // Ordering by (distance, id) is not an index order, so this is always a full scan.
        let rows = self
            .client
            .query(
                "SELECT id, embedding <=> $1 FROM clamp3_items
                 WHERE $2::text IS NULL OR modality = $2
                 ORDER BY embedding <=> $1, id LIMIT $3",
                &[&q, &modality, &k],
            )
            .map_err(self.err())?;
        Ok(rows.iter().map(hit).collect())
    }

    /// The HNSW build parameters of the current index (`m`, `ef_construction`), if built.
    pub fn hnsw_params(&mut self) -> Result<Option<(usize, usize)>, IndexError> {
        let v = self
            .client
            .query_opt("SELECT value FROM clamp3_meta WHERE key = 'hnsw'", &[])
            .map_err(self.err())?
            .map(|r| r.get::<_, String>(0));
        Ok(v.and_then(|v| {
            let mut it = v.split(' ').map(|x| x.parse::<usize>().ok());
            Some((it.next()??, it.next()??))
        }))
    }

    /// Builds the pgvector HNSW index (`vector_cosine_ops`) with `params`' `m`
    /// (connectivity) and `ef_construction` (expansion_add), replacing one built with other
    /// parameters; nothing to do when it exists with these. Returns whether it was built.
    pub fn ensure_hnsw(&mut self, params: &AnnParams) -> Result<bool, IndexError> {
        let want = (params.connectivity, params.expansion_add);
        if self.hnsw_params()? == Some(want) {
            return Ok(false);
        }
        let (m, ef) = want;
        self.transaction(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            let current: Option<String> = tx
                .query_opt("SELECT value FROM clamp3_meta WHERE key = 'hnsw'", &[])?
                .map(|r| r.get(0));
            let stamp = format!("{m} {ef}");
            if current.as_deref() == Some(stamp.as_str()) {
                return Ok(false);
            }
            tx.batch_execute(&format!(
                "DROP INDEX IF EXISTS clamp3_items_hnsw;
                 CREATE INDEX clamp3_items_hnsw ON clamp3_items
                     USING hnsw (embedding vector_cosine_ops) WITH (m = {m}, ef_construction = {ef});"
            ))?;
            tx.execute(
                "INSERT INTO clamp3_meta VALUES ('hnsw', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&stamp],
            )?;
            Ok(true)
        })
    }

    /// The approximately `k` most similar items (cosine) through the HNSW index (built first
    /// if needed), searching with `ef_search` = `params.expansion_search`; with a modality,
    /// pgvector's iterative scan goes on until `k` matching items are found.
    pub fn search_hnsw(
        &mut self,
        query: &[f32],
        k: usize,
        modality: Option<&str>,
        params: &AnnParams,
    ) -> Result<Vec<Hit>, IndexError> {
        self.check_query(query)?;
        self.ensure_hnsw(params)?;
        let q = Vector::from(query.to_vec());
        // pgvector returns at most ef_search rows: no fewer than k (its ceiling is 1000).
        let ef = params.expansion_search.max(k).clamp(1, 1000).to_string();
        let k = k as i64;
        let modality = modality.map(str::to_string);
        self.transaction(|tx| {
            tx.execute("SELECT set_config('hnsw.ef_search', $1, true)", &[&ef])?;
            // The index, not a scan, answers an approximate query, whatever the planner's
            // estimate for a small table.
            tx.batch_execute("SET LOCAL enable_seqscan = off")?;
            let rows = if let Some(m) = &modality {
                tx.batch_execute("SET LOCAL hnsw.iterative_scan = relaxed_order")?;
                // relaxed_order may return rows slightly out of order: sort the k found.
                tx.query(
                    "SELECT id, d FROM (SELECT id, embedding <=> $1 AS d FROM clamp3_items
                         WHERE modality = $2 ORDER BY embedding <=> $1 LIMIT $3) t
                     ORDER BY d, id",
                    &[&q, m, &k],
                )?
            } else {
                tx.query(
                    "SELECT id, embedding <=> $1 FROM clamp3_items ORDER BY embedding <=> $1 LIMIT $2",
                    &[&q, &k],
                )?
            };
            Ok(rows.iter().map(hit).collect())
        })
    }

    /// Loads items in one `COPY` (fast bulk load; no conflict handling: the paths must be
    /// new). One transaction.
    pub fn copy_in(&mut self, items: &[NewItem]) -> Result<(), IndexError> {
        use postgres::binary_copy::BinaryCopyInWriter;
        use postgres::types::Type;
        let dim = self.meta.dim;
        if let Some(bad) = items.iter().find(|i| i.vector.len() != dim) {
            return Err(IndexError::Dimension {
                expected: dim,
                found: bad.vector.len(),
            });
        }
        let location = self.location.clone();
        let mut run = || -> Result<(), postgres::Error> {
            let mut tx = self.client.transaction()?;
            let vector_type = tx.prepare("SELECT $1::vector")?.params()[0].clone();
            let sink = tx.copy_in(
                "COPY clamp3_items (path, hash, modality, metadata, embedding) FROM STDIN BINARY",
            )?;
            let mut w = BinaryCopyInWriter::new(
                sink,
                &[Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB, vector_type],
            );
            for i in items {
                let v = Vector::from(i.vector.clone());
                w.write(&[&i.path, &i.hash, &i.modality, &i.metadata, &v])?;
            }
            w.finish()?;
            bump_generation(&mut tx)?;
            tx.commit()
        };
        run().map_err(|e| error(&location, &e))
    }
}

fn hit(r: &postgres::Row) -> Hit {
    let d: f64 = r.get(1);
    Hit {
        id: r.get(0),
        score: (1.0 - d) as f32,
    }
}

impl Store for PgIndex {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    fn generation(&mut self) -> Result<u64, IndexError> {
        let g: String = self
            .client
            .query_one(
                "SELECT value FROM clamp3_meta WHERE key = 'generation'",
                &[],
            )
            .map_err(self.err())?
            .get(0);
        Ok(g.parse().unwrap_or(0))
    }

    fn count(&mut self) -> Result<usize, IndexError> {
        let n: i64 = self
            .client
            .query_one("SELECT count(*) FROM clamp3_items", &[])
            .map_err(self.err())?
            .get(0);
        Ok(n as usize)
    }

    fn count_by_modality(&mut self) -> Result<BTreeMap<String, usize>, IndexError> {
        let rows = self
            .client
            .query(
                "SELECT modality, count(*) FROM clamp3_items GROUP BY modality",
                &[],
            )
            .map_err(self.err())?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as usize))
            .collect())
    }

    fn stored_hash(&mut self, path: &str) -> Result<Option<String>, IndexError> {
        Ok(self
            .client
            .query_opt("SELECT hash FROM clamp3_items WHERE path = $1", &[&path])
            .map_err(self.err())?
            .map(|r| r.get(0)))
    }

    fn stored_hashes(
        &mut self,
        paths: &[String],
    ) -> Result<std::collections::HashMap<String, String>, IndexError> {
        if paths.is_empty() {
            return Ok(Default::default());
        }
        let rows = self
            .client
            .query(
                "SELECT path, hash FROM clamp3_items WHERE path = ANY($1)",
                &[&paths],
            )
            .map_err(self.err())?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn put(&mut self, items: &[NewItem]) -> Result<Upserted, IndexError> {
        let dim = self.meta.dim;
        if let Some(bad) = items.iter().find(|i| i.vector.len() != dim) {
            return Err(IndexError::Dimension {
                expected: dim,
                found: bad.vector.len(),
            });
        }
        // One lock order for every writer: rows by path, then the meta row. The sort is
        // stable, so items with the same path are written in their order, as the SQLite
        // store's sequential upserts are (the last one is stored).
        let mut sorted: Vec<&NewItem> = items.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let vectors: Vec<Vector> = sorted
            .iter()
            .map(|i| Vector::from(i.vector.clone()))
            .collect();
        self.transaction(|tx| {
            // A row whose stored hash is the same is left alone (no row comes back); of the
            // rows written, `xmax = 0` marks an insert. Counted by the server, so another
            // writer's rows are never reported as this one's.
            let st = tx.prepare(
                "INSERT INTO clamp3_items (path, hash, modality, metadata, embedding)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (path) DO UPDATE SET hash = excluded.hash, modality = excluded.modality,
                     metadata = excluded.metadata, embedding = excluded.embedding
                 WHERE clamp3_items.hash IS DISTINCT FROM excluded.hash
                 RETURNING (xmax = 0)",
            )?;
            let mut counts = Upserted::default();
            for (i, v) in sorted.iter().zip(&vectors) {
                match tx.query_opt(&st, &[&i.path, &i.hash, &i.modality, &i.metadata, v])? {
                    None => counts.unchanged += 1,
                    Some(row) if row.get::<_, bool>(0) => counts.inserted += 1,
                    Some(_) => counts.updated += 1,
                }
            }
            if counts.inserted + counts.updated > 0 {
                bump_generation(tx)?;
            }
            Ok(counts)
        })
    }

    fn remove_unless(&mut self, keep: &dyn Fn(&str) -> bool) -> Result<usize, IndexError> {
        let paths: Vec<String> = self
            .client
            .query("SELECT path FROM clamp3_items ORDER BY path", &[])
            .map_err(self.err())?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let gone: Vec<String> = paths.into_iter().filter(|p| !keep(p)).collect();
        if gone.is_empty() {
            return Ok(0);
        }
        self.transaction(|tx| {
            tx.execute("DELETE FROM clamp3_items WHERE path = ANY($1)", &[&gone])?;
            bump_generation(tx)?;
            Ok(())
        })?;
        Ok(gone.len())
    }

    fn items_by_id(&mut self, ids: &[i64]) -> Result<Vec<Item>, IndexError> {
        let rows = self
            .client
            .query(
                "SELECT id, path, hash, modality, metadata FROM clamp3_items WHERE id = ANY($1)",
                &[&ids],
            )
            .map_err(self.err())?;
        let mut by_id: std::collections::HashMap<i64, Item> = rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                (
                    id,
                    Item {
                        id,
                        path: r.get(1),
                        hash: r.get(2),
                        modality: r.get(3),
                        metadata: r.get(4),
                    },
                )
            })
            .collect();
        ids.iter()
            .map(|id| {
                by_id.remove(id).ok_or_else(|| IndexError::Postgres {
                    location: self.location.clone(),
                    message: format!("item {id} vanished while it was being read"),
                    code: None,
                })
            })
            .collect()
    }

    fn get_setting(&mut self, key: &str) -> Result<Option<String>, IndexError> {
        Ok(self
            .client
            .query_opt(
                "SELECT value FROM clamp3_meta WHERE key = $1",
                &[&format!("setting.{key}")],
            )
            .map_err(self.err())?
            .map(|r| r.get(0)))
    }

    fn put_setting(&mut self, key: &str, value: &str) -> Result<(), IndexError> {
        self.client
            .execute(
                "INSERT INTO clamp3_meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&format!("setting.{key}"), &value],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn check(&mut self) -> Result<String, IndexError> {
        let dim = self.meta.dim as i32;
        let bad: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM clamp3_items WHERE vector_dims(embedding) <> $1",
                &[&dim],
            )
            .map_err(self.err())?
            .get(0);
        Ok(if bad == 0 {
            "ok".to_string()
        } else {
            format!("{bad} vectors of the wrong dimension")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgresql://me:secret@db.example:5432/music"),
            "postgresql://me:***@db.example:5432/music"
        );
        assert_eq!(
            redact_url("postgresql://postgres:@/postgres?host=/tmp/x"),
            "postgresql://postgres:@/postgres?host=/tmp/x"
        );
        assert_eq!(redact_url("postgres://me@host/db"), "postgres://me@host/db");
        assert_eq!(
            redact_url("postgres:///db?host=/run/pg"),
            "postgres:///db?host=/run/pg"
        );
    }
}
