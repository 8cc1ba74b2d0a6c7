//! M4-RAG-style JSONL records (docs/reference.md §9.1) and their screening.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use clamp3_input::InputKind;
use clamp3_model::Modality;

use super::DataError;

/// The modality of a training music file by extension (case-insensitive): `.abc`, `.mtf`,
/// `.mid`, `.midi`, `.xml`, `.musicxml`, `.mxl` are symbolic, `.npy` (MERT features) is audio.
/// Anything else (including raw recordings, which would need MERT) is not a training music
/// file.
pub fn music_modality(path: &str) -> Option<Modality> {
    match InputKind::of(Path::new(path))? {
        InputKind::Text | InputKind::Audio => None,
        kind => Some(kind.modality()),
    }
}

/// The fields the reference samples text from, in schema order (every string or list field
/// except [`EXCLUDED_FIELDS`]; unknown string or list fields are sampled too, after these).
pub const TEXT_FIELDS: [&str; 9] = [
    "title",
    "artists",
    "region",
    "genres",
    "tags",
    "background",
    "analysis",
    "description",
    "scene",
];

/// Fields never used as text (`text_dropout`'s exclusion list).
pub const EXCLUDED_FIELDS: [&str; 4] = ["id", "filepaths", "language", "translations"];

/// A text-valued field: a string, or a list of strings (JSON nulls in the list dropped, as
/// the reference's `c is not None` filter does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Field {
    /// A single string (`title`, `background`...).
    Text(String),
    /// A list of strings (`artists`, `genres`, `tags`).
    List(Vec<String>),
}

impl Field {
    /// The field as text, or `None` when `v` is neither a string nor a list of strings
    /// and nulls (the value is returned in the error to be kept elsewhere).
    pub fn from_value(v: Value) -> Result<Field, Value> {
        match v {
            Value::String(s) => Ok(Field::Text(s)),
            Value::Array(items) if items.iter().all(|i| i.is_string() || i.is_null()) => {
                Ok(Field::List(
                    items
                        .into_iter()
                        .filter_map(|i| match i {
                            Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect(),
                ))
            }
            other => Err(other),
        }
    }

    /// The strings of the field, in order.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            Field::Text(s) => vec![s.as_str()],
            Field::List(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// The string, when the field is a single string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Field::Text(s) => Some(s),
            Field::List(_) => None,
        }
    }
}

/// One training record. Deserialisation accepts any JSON object and never fails on field
/// types: a known field whose value is not of its schema type (e.g. a numeric `title`) is
/// kept in [`extra`](Self::extra) under its name and not sampled.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Record {
    /// 1-based line of the record in its JSONL file (0 when not read from a file); used in
    /// reports, not serialised.
    #[serde(skip)]
    pub line: usize,
    /// Record id (a YouTube id in M4-RAG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Music files, relative to the data root (the JSONL's directory in the reference).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filepaths: Vec<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Field>,
    /// Artists (a list in M4-RAG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artists: Option<Field>,
    /// Country name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Field>,
    /// Language of the lyrics (never sampled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Field>,
    /// Genres (a list in M4-RAG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genres: Option<Field>,
    /// Tags (a list in M4-RAG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Field>,
    /// Background text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<Field>,
    /// Musical analysis; also the evaluation text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Field>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Field>,
    /// Scene text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scene: Option<Field>,
    /// One non-English translation: `language` plus translated fields. Entries that are
    /// not text are dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translations: Option<BTreeMap<String, Field>>,
    /// Every other field, and known fields of an unexpected type. String or list-of-string
    /// values here are sampled as text too (the reference samples every such field).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Record::from_map(Map::deserialize(d)?))
    }
}

impl Record {
    /// Builds a record from a JSON object (never fails; see the type's documentation).
    pub fn from_map(map: Map<String, Value>) -> Record {
        let mut r = Record::default();
        for (key, value) in map {
            match key.as_str() {
                "id" => match value {
                    Value::String(s) => r.id = Some(s),
                    other => {
                        r.extra.insert(key, other);
                    }
                },
                "filepaths" => match value {
                    Value::Array(items) if items.iter().all(Value::is_string) => {
                        r.filepaths = items
                            .into_iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect();
                    }
                    other => {
                        r.extra.insert(key, other);
                    }
                },
                "translations" => match value {
                    Value::Object(m) => {
                        r.translations = Some(
                            m.into_iter()
                                .filter_map(|(k, v)| Field::from_value(v).ok().map(|f| (k, f)))
                                .collect(),
                        );
                    }
                    Value::Null => {}
                    other => {
                        r.extra.insert(key, other);
                    }
                },
                name => match r.slot(name) {
                    Some(slot) => match Field::from_value(value) {
                        Ok(f) => *slot = Some(f),
                        Err(Value::Null) => {}
                        Err(other) => {
                            r.extra.insert(key, other);
                        }
                    },
                    None => {
                        r.extra.insert(key, value);
                    }
                },
            }
        }
        r
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Field>> {
        Some(match name {
            "title" => &mut self.title,
            "artists" => &mut self.artists,
            "region" => &mut self.region,
            "language" => &mut self.language,
            "genres" => &mut self.genres,
            "tags" => &mut self.tags,
            "background" => &mut self.background,
            "analysis" => &mut self.analysis,
            "description" => &mut self.description,
            "scene" => &mut self.scene,
            _ => return None,
        })
    }

    /// A typed field by name (`title`, `language`...), `None` when absent or unknown.
    pub fn field(&self, name: &str) -> Option<&Field> {
        match name {
            "title" => self.title.as_ref(),
            "artists" => self.artists.as_ref(),
            "region" => self.region.as_ref(),
            "language" => self.language.as_ref(),
            "genres" => self.genres.as_ref(),
            "tags" => self.tags.as_ref(),
            "background" => self.background.as_ref(),
            "analysis" => self.analysis.as_ref(),
            "description" => self.description.as_ref(),
            "scene" => self.scene.as_ref(),
            _ => None,
        }
    }

    /// The non-empty text candidates of the main branch: the strings of [`TEXT_FIELDS`] in
    /// that order, then of the string or list-of-string [`extra`](Self::extra) fields by
    /// name (except [`EXCLUDED_FIELDS`]). Not de-duplicated.
    pub fn text_candidates(&self) -> Vec<&str> {
        let mut out: Vec<&str> = TEXT_FIELDS
            .iter()
            .filter_map(|name| self.field(name))
            .flat_map(Field::strings)
            .collect();
        for (key, value) in &self.extra {
            if EXCLUDED_FIELDS.contains(&key.as_str()) {
                continue;
            }
            match value {
                Value::String(s) => out.push(s),
                Value::Array(items) if items.iter().all(|i| i.is_string() || i.is_null()) => {
                    out.extend(items.iter().filter_map(Value::as_str));
                }
                _ => {}
            }
        }
        out.retain(|c| !c.is_empty());
        out
    }

    /// The non-empty text candidates of the translation branch: every `translations` value
    /// except its `language` entry. Not de-duplicated.
    pub fn translation_candidates(&self) -> Vec<&str> {
        let Some(t) = &self.translations else {
            return Vec::new();
        };
        t.iter()
            .filter(|(k, _)| k.as_str() != "language")
            .flat_map(|(_, v)| v.strings())
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// Whether the main branch has a non-empty line, i.e. whether
    /// [`sample_text`](super::sample_text) always returns a text for this record.
    pub fn has_text(&self) -> bool {
        self.text_candidates().iter().any(|c| has_line(c))
    }

    /// Whether the record has an evaluation text ([`eval_text`](super::eval_text)).
    pub fn has_eval_text(&self) -> bool {
        super::eval_text(self).is_some()
    }

    /// The entries of `filepaths` that are files of modality `kind`, in order.
    pub fn files_of(&self, kind: Modality) -> Vec<&str> {
        self.filepaths
            .iter()
            .map(String::as_str)
            .filter(|p| music_modality(p) == Some(kind))
            .collect()
    }
}

/// Whether `s` has a non-empty line when split on `\n`.
pub(crate) fn has_line(s: &str) -> bool {
    s.split('\n').any(|l| !l.is_empty())
}

/// Keeps the first occurrence of each distinct string, in order.
pub(crate) fn dedup_first(v: &mut Vec<&str>) {
    let mut seen = HashSet::new();
    v.retain(|s| seen.insert(*s));
}

/// Lines parsed per parallel chunk.
const CHUNK_LINES: usize = 16_384;

/// Reads a JSONL file of records (one JSON object per line; blank lines skipped; a leading
/// byte-order mark ignored). Fails on the first malformed line, naming the file and line.
/// Records are returned in file order with [`Record::line`] set.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_jsonl_from(std::io::BufReader::with_capacity(1 << 20, file), path)
}

/// Like [`read_jsonl`], from any reader; `source` names it in errors.
pub fn read_jsonl_from(mut reader: impl BufRead, source: &Path) -> Result<Vec<Record>, DataError> {
    let mut out = Vec::new();
    let mut chunk: Vec<(usize, Vec<u8>)> = Vec::with_capacity(CHUNK_LINES);
    let mut line = 0usize;
    loop {
        let mut buf = Vec::new();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::Io {
                path: source.to_path_buf(),
                source: e,
            })?;
        if n == 0 {
            break;
        }
        line += 1;
        chunk.push((line, buf));
        if chunk.len() >= CHUNK_LINES {
            parse_chunk(&chunk, source, &mut out)?;
            chunk.clear();
        }
    }
    parse_chunk(&chunk, source, &mut out)?;
    Ok(out)
}

/// Parses lines in parallel; the error reported is the one of the earliest bad line.
fn parse_chunk(
    chunk: &[(usize, Vec<u8>)],
    source: &Path,
    out: &mut Vec<Record>,
) -> Result<(), DataError> {
    let parsed: Vec<Result<Option<Record>, DataError>> = chunk
        .par_iter()
        .map(|(line, bytes)| parse_line(*line, bytes, source))
        .collect();
    for r in parsed {
        if let Some(rec) = r? {
            out.push(rec);
        }
    }
    Ok(())
}

fn parse_line(line: usize, bytes: &[u8], source: &Path) -> Result<Option<Record>, DataError> {
    let bytes = if line == 1 {
        bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| DataError::NotUtf8 {
        path: source.to_path_buf(),
        line,
        source: e,
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| DataError::Json {
        path: source.to_path_buf(),
        line,
        source: e,
    })?;
    match value {
        Value::Object(map) => {
            let mut rec = Record::from_map(map);
            rec.line = line;
            Ok(Some(rec))
        }
        other => Err(DataError::NotObject {
            path: source.to_path_buf(),
            line,
            found: json_type(&other),
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why [`screen`] set a record aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// No non-empty line in the sampled fields ([`Record::has_text`] is false).
    NoText,
    /// No file of the stage's modality in `filepaths`.
    NoMusicFile,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::NoText => "no usable text",
            SkipReason::NoMusicFile => "no music file of the stage's modality",
        })
    }
}

/// A record [`screen`] set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its JSONL line.
    pub line: usize,
    /// Its id.
    pub id: Option<String>,
    /// Why.
    pub reason: SkipReason,
}

/// The result of [`screen`].
#[derive(Debug, Clone, Default)]
pub struct Screened {
    /// The usable records, in input order.
    pub records: Vec<Record>,
    /// The others, in input order (no text is reported before no music file).
    pub skipped: Vec<Skipped>,
}

/// Separates the records usable for a stage of modality `kind` (text to sample and at least
/// one file of that modality) from the others, which are reported rather than failing the
/// run. Whether the files themselves are readable is only known when they are loaded
/// ([`MusicStore`](super::MusicStore) counts those failures).
pub fn screen(records: Vec<Record>, kind: Modality) -> Screened {
    let mut out = Screened::default();
    for r in records {
        let reason = if !r.has_text() {
            Some(SkipReason::NoText)
        } else if r.files_of(kind).is_empty() {
            Some(SkipReason::NoMusicFile)
        } else {
            None
        };
        match reason {
            Some(reason) => out.skipped.push(Skipped {
                line: r.line,
                id: r.id.clone(),
                reason,
            }),
            None => out.records.push(r),
        }
    }
    out
}
