//! Items to annotate: what is known about each piece before retrieval (title, artists, music
//! files, other facts), read from a JSONL file or a folder of music files.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// Why items could not be read (always the input's fault, except for I/O errors).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSONL line is not a JSON object.
    #[error("{path}:{line}: not a JSON object: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A JSONL item has neither an `id` nor a `filepaths` entry to name it by.
    #[error("{path}:{line}: the item has no \"id\" and no \"filepaths\" to derive one from")]
    NoId {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A field has a type the item format does not allow.
    #[error("{path}:{line}: field \"{field}\" must be {expected}")]
    FieldType {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The field.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// Two items share an id (resumption is keyed by id, so ids must be unique).
    #[error("{path}: item id \"{id}\" appears twice ({first} and {second})")]
    DuplicateId {
        /// The input.
        path: PathBuf,
        /// The id.
        id: String,
        /// Where it first appeared (line or file).
        first: String,
        /// Where it appeared again.
        second: String,
    },
    /// The input is neither a file nor a folder.
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
}

/// One piece of music to annotate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    /// Unique id (the resumption key; copied to the record's `id`).
    pub id: String,
    /// Title, when known.
    pub title: Option<String>,
    /// Artists or composers, when known.
    pub artists: Vec<String>,
    /// Music files, copied to the record's `filepaths`.
    pub filepaths: Vec<String>,
    /// Other known facts by name (`region`, `genre`, `key`, `meter`, `notes`, existing text...),
    /// given to the model as ground truth and used as retrieved text for grounding.
    pub facts: BTreeMap<String, String>,
    /// Where the item was read (`file:line` or a path), for messages.
    pub origin: String,
}

impl Item {
    /// The known facts as `name: value` lines (title and artists first).
    pub fn facts_text(&self) -> String {
        let mut out = String::new();
        if let Some(t) = &self.title {
            out.push_str(&format!("title: {t}\n"));
        }
        if !self.artists.is_empty() {
            out.push_str(&format!("artists: {}\n", self.artists.join("; ")));
        }
        for (k, v) in &self.facts {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out
    }
}

/// Reads items from `path`: a JSONL file (one object per line) or a folder of music files.
/// `out_dir` is the directory of the output JSONL: music files found in a folder are
/// referred to relative to it (the trainer resolves `filepaths` against the JSONL's folder).
pub fn read_items(path: &Path, out_dir: &Path) -> Result<Vec<Item>, InputError> {
    Items::open(path, out_dir)?.collect()
}

/// Reads a JSONL file of items. Each line is an object with optional `id` (string; default:
/// the first `filepaths` entry), `title`, `artists` (string or list), `filepaths` (string or
/// list) and any other fields, which become [`Item::facts`] (strings, numbers, booleans, or
/// lists of them). Blank lines are skipped.
pub fn read_jsonl(path: &Path) -> Result<Vec<Item>, InputError> {
    Items::jsonl(path)?.collect()
}

/// The items of an input, read one at a time (memory holds one item and the ids seen, which
/// must be unique: a repeated id is an error).
pub struct Items {
    source: ItemSource,
    path: PathBuf,
    seen: HashMap<String, String>,
    failed: bool,
}

enum ItemSource {
    Jsonl {
        lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
        line: usize,
    },
    Folder {
        files: std::vec::IntoIter<PathBuf>,
        out_abs: PathBuf,
    },
}

impl Items {
    /// The items of a JSONL file or a folder of music files (see [`read_items`]).
    pub fn open(path: &Path, out_dir: &Path) -> Result<Items, InputError> {
        if path.is_dir() {
            Items::folder(path, out_dir)
        } else if path.is_file() {
            Items::jsonl(path)
        } else {
            Err(InputError::Missing(path.to_path_buf()))
        }
    }

    /// The items of a JSONL file (see [`read_jsonl`]).
    pub fn jsonl(path: &Path) -> Result<Items, InputError> {
        let file = std::fs::File::open(path).map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Items {
            source: ItemSource::Jsonl {
                lines: std::io::BufReader::new(file).lines(),
                line: 0,
            },
            path: path.to_path_buf(),
            seen: HashMap::new(),
            failed: false,
        })
    }

    /// The items of a folder of music files (see [`read_folder`]); the file list is read
    /// here, each file when its item is reached.
    pub fn folder(dir: &Path, out_dir: &Path) -> Result<Items, InputError> {
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.map_err(|e| InputError::Io {
                path: e.path().unwrap_or(dir).to_path_buf(),
                source: e.into(),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let ext = entry
                .path()
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if ext.is_some_and(|e| MUSIC_EXTENSIONS.contains(&e.as_str())) {
                files.push(entry.into_path());
            }
        }
        Ok(Items {
            source: ItemSource::Folder {
                files: files.into_iter(),
                out_abs: absolute(out_dir),
            },
            path: dir.to_path_buf(),
            seen: HashMap::new(),
            failed: false,
        })
    }

    fn next_item(&mut self) -> Option<Result<(Item, String), InputError>> {
        let path = self.path.clone();
        match &mut self.source {
            ItemSource::Jsonl { lines, line } => loop {
                let text = match lines.next()? {
                    Ok(t) => t,
                    Err(source) => return Some(Err(InputError::Io { path, source })),
                };
                *line += 1;
                let n = *line;
                let text = text.trim_start_matches('\u{feff}').trim();
                if text.is_empty() {
                    continue;
                }
                let json = |message: String| InputError::Json {
                    path: path.clone(),
                    line: n,
                    message,
                };
                return Some(match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(map)) => {
                        item_from_map(map, &path, n).map(|i| (i, format!("line {n}")))
                    }
                    Ok(_) => Err(json("the line is valid JSON but not an object".into())),
                    Err(e) => Err(json(e.to_string())),
                });
            },
            ItemSource::Folder { files, out_abs } => {
                let file = files.next()?;
                let origin = file.display().to_string();
                Some(folder_item(&path, &file, out_abs).map(|i| (i, origin)))
            }
        }
    }
}

impl Iterator for Items {
    type Item = Result<Item, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = match self.next_item()? {
            Ok((item, origin)) => match self.seen.insert(item.id.clone(), origin.clone()) {
                Some(first) => Err(InputError::DuplicateId {
                    path: self.path.clone(),
                    id: item.id,
                    first,
                    second: origin,
                }),
                None => Ok(item),
            },
            Err(e) => Err(e),
        };
        self.failed = r.is_err();
        Some(r)
    }
}

fn item_from_map(
    map: serde_json::Map<String, Value>,
    path: &Path,
    line: usize,
) -> Result<Item, InputError> {
    let bad = |field: &str, expected| InputError::FieldType {
        path: path.to_path_buf(),
        line,
        field: field.to_string(),
        expected,
    };
    let mut item = Item {
        origin: format!("{}:{line}", path.display()),
        ..Item::default()
    };
    let mut id = None;
    for (key, value) in map {
        match key.as_str() {
            "id" => match value {
                Value::String(s) if !s.trim().is_empty() => id = Some(s),
                Value::Number(n) => id = Some(n.to_string()),
                _ => return Err(bad("id", "a non-empty string")),
            },
            "title" => match value {
                Value::String(s) => item.title = non_empty(s),
                Value::Null => {}
                _ => return Err(bad("title", "a string")),
            },
            "artists" => item.artists = strings(value).ok_or_else(|| bad("artists", LIST))?,
            "filepaths" => item.filepaths = strings(value).ok_or_else(|| bad("filepaths", LIST))?,
            _ => {
                if let Some(text) = fact_text(&value) {
                    item.facts.insert(key, text);
                } else if !value.is_null() {
                    return Err(InputError::FieldType {
                        path: path.to_path_buf(),
                        line,
                        field: key,
                        expected: "text, a number, a boolean, or a list of them",
                    });
                }
            }
        }
    }
    item.id = match id.or_else(|| item.filepaths.first().cloned()) {
        Some(id) => id,
        None => {
            return Err(InputError::NoId {
                path: path.to_path_buf(),
                line,
            })
        }
    };
    Ok(item)
}

const LIST: &str = "a string or a list of strings";

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn strings(v: Value) -> Option<Vec<String>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::String(s) => Some(non_empty(s).into_iter().collect()),
        Value::Array(items) => items
            .into_iter()
            .filter(|i| !i.is_null())
            .map(|i| match i {
                Value::String(s) => Some(s.trim().to_string()),
                _ => None,
            })
            .filter(|s| s.as_ref().is_none_or(|s| !s.is_empty()))
            .collect(),
        _ => None,
    }
}

fn fact_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) => None,
                    other => fact_text(other),
                })
                .collect();
            parts.map(|p| p.join("; ")).filter(|s| !s.is_empty())
        }
        _ => None,
    }
}

/// Music file extensions a folder input takes as items (the trainer's symbolic and audio
/// inputs).
pub const MUSIC_EXTENSIONS: [&str; 8] =
    ["abc", "mtf", "mid", "midi", "xml", "musicxml", "mxl", "npy"];

/// Reads a folder of music files: every file with a [`MUSIC_EXTENSIONS`] extension (below the
/// folder, in path order) is one item, with id = its path below the folder without the
/// extension. Facts come from a sidecar `<stem>.json` object beside the file (same fields as
/// a JSONL item) and, for ABC files, from the first tune's header (`T:` title, `C:`
/// composer, `O:` origin, `A:` area, `R:` rhythm, `M:` meter, `K:` key, `N:` notes, `H:`
/// history, `B:`/`S:` source). The sidecar wins where both give a field.
pub fn read_folder(dir: &Path, out_dir: &Path) -> Result<Vec<Item>, InputError> {
    Items::folder(dir, out_dir)?.collect()
}

fn folder_item(dir: &Path, file: &Path, out_abs: &Path) -> Result<Item, InputError> {
    let rel = file.strip_prefix(dir).unwrap_or(file).with_extension("");
    let id = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let mut item = Item {
        id,
        origin: file.display().to_string(),
        filepaths: vec![relative_to(&absolute(file), out_abs)],
        ..Item::default()
    };
    let is_abc = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("abc"));
    if is_abc {
        let bytes = std::fs::read(file).map_err(|source| InputError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        abc_header(&String::from_utf8_lossy(&bytes), &mut item);
    }
    let sidecar = file.with_extension("json");
    if sidecar.is_file() {
        let text = std::fs::read_to_string(&sidecar).map_err(|source| InputError::Io {
            path: sidecar.clone(),
            source,
        })?;
        let mut map = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(InputError::Json {
                    path: sidecar,
                    line: 1,
                    message: "not an object".into(),
                })
            }
            Err(e) => {
                return Err(InputError::Json {
                    path: sidecar,
                    line: e.line(),
                    message: e.to_string(),
                })
            }
        };
        // The id comes from the file's path, whatever the sidecar says.
        map.insert("id".into(), Value::String(item.id.clone()));
        let side = item_from_map(map, &sidecar, 1)?;
        if side.title.is_some() {
            item.title = side.title;
        }
        if !side.artists.is_empty() {
            item.artists = side.artists;
        }
        item.facts.extend(side.facts);
    }
    if item.title.is_none() {
        item.title = file
            .file_stem()
            .map(|s| s.to_string_lossy().replace(['_', '-'], " "));
    }
    Ok(item)
}

/// Fills `item` from the header of the first tune of an ABC text (up to its `K:` line).
pub fn abc_header(text: &str, item: &mut Item) {
    let mut in_tune = false;
    let mut titles = Vec::new();
    let mut notes = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        let Some((field, value)) = header_field(line) else {
            if in_tune && line.trim().is_empty() {
                break;
            }
            continue;
        };
        if field == 'X' {
            if in_tune {
                break;
            }
            in_tune = true;
            continue;
        }
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        let name = match field {
            'T' => {
                titles.push(value);
                continue;
            }
            'C' => {
                item.artists.push(value);
                continue;
            }
            'N' => {
                notes.push(value);
                continue;
            }
            'O' => "origin",
            'A' => "area",
            'R' => "rhythm",
            'M' => "meter",
            'H' => "history",
            'B' => "book",
            'S' => "source",
            'K' => {
                item.facts.insert("key".into(), value);
                break;
            }
            _ => continue,
        };
        item.facts
            .entry(name.to_string())
            .and_modify(|v| {
                v.push_str("; ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut titles = titles.into_iter();
    if let Some(t) = titles.next() {
        item.title = Some(t);
    }
    let alt: Vec<String> = titles.collect();
    if !alt.is_empty() {
        item.facts.insert("other titles".into(), alt.join("; "));
    }
    if !notes.is_empty() {
        item.facts.insert("notes".into(), notes.join(" "));
    }
}

fn header_field(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let c = chars.next()?;
    if !c.is_ascii_alphabetic() || chars.next()? != ':' {
        return None;
    }
    Some((c, &line[2..]))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `target` as a `/`-separated path relative to `base` (both absolute), with `..` steps
/// where `target` is not below `base`.
pub fn relative_to(target: &Path, base: &Path) -> String {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), b.len() - common).collect();
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abc_header_of_the_first_tune() {
        let abc = "%comment\nX:1\nT:Ritter und Magd\nT:Variante\nO:Europa, Mitteleuropa, Deutschland\nR:Ballade\nN:Aus dem Elsass\nM:3/4\nL:1/8\nK:G\nGAB|c2\nX:2\nT:Other\nK:D\n";
        let mut item = Item::default();
        abc_header(abc, &mut item);
        assert_eq!(item.title.as_deref(), Some("Ritter und Magd"));
        assert_eq!(item.facts["other titles"], "Variante");
        assert_eq!(item.facts["origin"], "Europa, Mitteleuropa, Deutschland");
        assert_eq!(item.facts["rhythm"], "Ballade");
        assert_eq!(item.facts["notes"], "Aus dem Elsass");
        assert_eq!(item.facts["meter"], "3/4");
        assert_eq!(item.facts["key"], "G");
        assert!(!item.facts.contains_key("L"));
    }

    #[test]
    fn jsonl_items_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("items.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"a\",\"title\":\"T\",\"artists\":\"X\",\"year\":1850,\"genres\":[\"reel\",\"jig\"]}\n\n{\"filepaths\":[\"m/b.abc\"]}\n",
        )
        .unwrap();
        let items = read_jsonl(&p).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].artists, vec!["X"]);
        assert_eq!(items[0].facts["year"], "1850");
        assert_eq!(items[0].facts["genres"], "reel; jig");
        assert_eq!(items[1].id, "m/b.abc");

        std::fs::write(&p, "{\"id\":\"a\"}\n{\"id\":\"a\"}\n").unwrap();
        let e = read_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains("\"a\" appears twice (line 1 and line 2)"), "{e}");
        std::fs::write(&p, "{\"id\":\"a\"}\n{\"title\":\"t\"}\n").unwrap();
        let e = read_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains(":2: the item has no \"id\""), "{e}");
        std::fs::write(&p, "{\"id\":\"a\",\"artists\":{\"x\":1}}\n").unwrap();
        let e = read_jsonl(&p).unwrap_err().to_string();
        assert!(
            e.contains(":1: field \"artists\" must be a string or a list"),
            "{e}"
        );
        std::fs::write(&p, "[1]\n").unwrap();
        let e = read_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains(":1: not a JSON object"), "{e}");
    }

    #[test]
    fn folder_items_are_relative_to_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let music = dir.path().join("music/sub");
        std::fs::create_dir_all(&music).unwrap();
        std::fs::write(music.join("a.abc"), "X:1\nT:Tune A\nC:Anon\nK:C\nCDE\n").unwrap();
        std::fs::write(music.join("b.mid"), b"MThd").unwrap();
        std::fs::write(
            music.join("b.json"),
            "{\"title\":\"Tune B\",\"region\":\"Ireland\"}",
        )
        .unwrap();
        std::fs::write(music.join("notes.txt"), "not music").unwrap();
        let items = read_items(&dir.path().join("music"), &dir.path().join("out")).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].id, "sub/a");
        assert_eq!(items[0].title.as_deref(), Some("Tune A"));
        assert_eq!(items[0].artists, vec!["Anon"]);
        assert_eq!(items[0].filepaths, vec!["../music/sub/a.abc"]);
        assert_eq!(items[1].title.as_deref(), Some("Tune B"));
        assert_eq!(items[1].facts["region"], "Ireland");
        let inside = read_items(&dir.path().join("music"), dir.path()).unwrap();
        assert_eq!(inside[1].filepaths, vec!["music/sub/b.mid"]);
        // Two files with one stem are one id twice.
        std::fs::write(music.join("a.mid"), b"MThd").unwrap();
        let e = read_items(&dir.path().join("music"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("item id \"sub/a\" appears twice"), "{e}");
    }
}
