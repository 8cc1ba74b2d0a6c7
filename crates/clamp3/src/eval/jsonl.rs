//! Text → music retrieval on a WikiMT-X-style JSONL file (docs/reference.md §9.2): each record
//! gives a query (one of its text fields) and its music (the ABC text of `leadsheet`, or a file
//! named by another field, relative to the JSONL file's folder).

use std::path::{Path, PathBuf};

use clamp3_input::{Input, InputKind};
use serde_json::{Map, Value};

use crate::embedder::{EmbedOptions, Embedder};
use crate::error::Error;
use crate::vectors::Embedded;

/// The field that holds ABC text rather than a file path.
pub const LEADSHEET: &str = "leadsheet";

/// One record of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRecord {
    /// 1-based line number.
    pub line: usize,
    /// `id`, else `line<N>`.
    pub id: String,
    /// Every field.
    pub fields: Map<String, Value>,
}

/// A WikiMT-X-style JSONL file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRecords {
    /// The file.
    pub path: PathBuf,
    /// Its records (blank lines skipped).
    pub records: Vec<EvalRecord>,
}

/// Queries and references embedded, with the records that could not be used.
#[derive(Debug, Default)]
pub struct EvalPairs {
    /// One text embedding per usable record.
    pub queries: Vec<Embedded>,
    /// Its music, with the same key.
    pub references: Vec<Embedded>,
    /// `file:line: cause` of each record skipped.
    pub skipped: Vec<String>,
}

impl EvalRecords {
    /// Reads `path`; a line that is not a JSON object is an error naming the line.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut records = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Map<String, Value> =
                serde_json::from_str(line).map_err(|e| Error::Data {
                    path: path.to_path_buf(),
                    message: format!("line {}: not a JSON object ({e})", n + 1),
                })?;
            let id = fields
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("line{}", n + 1));
            records.push(EvalRecord {
                line: n + 1,
                id,
                fields,
            });
        }
        Ok(EvalRecords {
            path: path.to_path_buf(),
            records,
        })
    }

    fn base(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The input kinds an evaluation with music field `music` embeds (text included), so that
    /// the right encoders can be loaded.
    pub fn kinds(&self, music: &str) -> Vec<InputKind> {
        let mut kinds = vec![InputKind::Text];
        if music == LEADSHEET {
            kinds.push(InputKind::Abc);
        } else {
            for r in &self.records {
                if let Some(k) = r
                    .fields
                    .get(music)
                    .and_then(Value::as_str)
                    .and_then(|p| InputKind::of(Path::new(p)))
                {
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
            }
        }
        kinds
    }

    /// Embeds each record's `text_field` text and its `music`, `chunk` records per batch;
    /// `progress` counts records.
    pub fn embed(
        &self,
        text_field: &str,
        music: &str,
        embedder: &Embedder,
        opts: &EmbedOptions,
        mut progress: impl FnMut(usize),
    ) -> EvalPairs {
        let mut out = EvalPairs::default();
        let where_ = |r: &EvalRecord| format!("{}:{}", self.path.display(), r.line);
        for chunk in self.records.chunks(32) {
            let mut usable: Vec<(&EvalRecord, Input, Input)> = Vec::new();
            for r in chunk {
                let Some(text) = r
                    .fields
                    .get(text_field)
                    .and_then(Value::as_str)
                    .filter(|t| !t.trim().is_empty())
                else {
                    out.skipped
                        .push(format!("{}: no `{text_field}` text", where_(r)));
                    continue;
                };
                let music_input = match r.fields.get(music).and_then(Value::as_str) {
                    Some(abc) if music == LEADSHEET => {
                        Input::bytes(InputKind::Abc, abc.as_bytes().to_vec())
                    }
                    Some(p) => Input::Path(self.base().join(p)),
                    None => {
                        let what = if music == LEADSHEET { "" } else { " path" };
                        out.skipped
                            .push(format!("{}: no `{music}`{what}", where_(r)));
                        continue;
                    }
                };
                usable.push((r, Input::Text(text.to_string()), music_input));
            }
            let inputs: Vec<Input> = usable
                .iter()
                .flat_map(|(_, t, m)| [t.clone(), m.clone()])
                .collect();
            let mut results = embedder.embed(&inputs, opts).into_iter();
            for (r, _, _) in &usable {
                let (t, m) = (results.next(), results.next());
                let (Some(t), Some(m)) = (t, m) else { break };
                match (t, m) {
                    (Ok(t), Ok(m)) => {
                        let (Some(t), Some(m)) = (t.into_global(), m.into_global()) else {
                            continue;
                        };
                        let key = PathBuf::from(r.id.replace('.', "_"));
                        out.queries.push(Embedded {
                            path: PathBuf::from(format!("{}#{text_field}", r.id)),
                            rel: key.clone(),
                            vector: t,
                        });
                        out.references.push(Embedded {
                            path: PathBuf::from(format!("{}#{music}", r.id)),
                            rel: key,
                            vector: m,
                        });
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        // A file names itself; text and ABC in the record are the record's.
                        let cause = match (&e, e.input()) {
                            (_, clamp3_input::InputRef::Path(_)) => e.to_string(),
                            (crate::EmbedError::Input(i), _) => i.cause.to_string(),
                            (crate::EmbedError::System { cause, .. }, _) => cause.to_string(),
                        };
                        out.skipped.push(format!("{}: {cause}", where_(r)));
                    }
                }
            }
            progress(chunk.len());
        }
        out
    }
}
