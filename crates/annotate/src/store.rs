//! The run's durable state: the output JSONL (append-only, one M4-RAG record per line) and
//! a journal beside it (`<output>.journal`, one line per finished item, written or
//! rejected). Both are fsync'd after every line, the record before its journal line, so a
//! run killed at any point resumes without redoing or losing an item: on opening, a torn
//! last line is cut off, records missing from the journal are journaled, and journaled
//! records missing from the output are done again. A lock file keeps two runs apart.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filter::{Dedup, Reason};
use crate::llm::Usage;
use crate::schema::TEXT_FIELDS;

/// Why the state could not be opened or written (the system's fault, or a damaged file).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another run holds the output.
    #[error("{0}: another annotation run is writing this output")]
    Locked(PathBuf),
    /// A complete line is not what this program writes.
    #[error(
        "{path}:{line}: not a line this program wrote ({message}); move the file away or repair it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// What became of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A record was written to the output.
    Written,
    /// The item was rejected (see the entry's reason).
    Rejected,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The item id.
    pub id: String,
    /// Written or rejected.
    pub status: Status,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The reason in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Tokens its requests used.
    #[serde(default)]
    pub tokens: Usage,
    /// Requests retried after transient failures.
    #[serde(default)]
    pub retries: u32,
    /// The answer's grounding score, when it was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounding: Option<f64>,
    /// The translation's language, or why it was dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
    /// Where the retrieved text came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// The model's answer, for rejected items (cut to 4,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Journaled when the run found the record in the output but not in the journal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

impl Entry {
    /// An entry with no details.
    pub fn new(id: &str, status: Status) -> Entry {
        Entry {
            id: id.to_string(),
            status,
            reason: None,
            detail: None,
            tokens: Usage::default(),
            retries: 0,
            grounding: None,
            translation: None,
            sources: Vec::new(),
            answer: None,
            recovered: false,
        }
    }
}

/// The open output and journal.
pub struct Store {
    out: File,
    out_path: PathBuf,
    journal: File,
    journal_path: PathBuf,
    _lock: File,
    entries: HashMap<String, Entry>,
    dedup: Dedup,
    /// Records journaled on opening because only the output had them.
    pub recovered: usize,
    /// Journaled records missing from the output, to be done again.
    pub lost: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens `path` for appending, cutting a torn last line (one without its `\n`), and calls
/// `each` with every complete line and its 1-based number (streamed: memory stays bounded
/// whatever the file's size).
fn open_lines(
    path: &Path,
    mut each: impl FnMut(usize, &str) -> Result<(), StoreError>,
) -> Result<File, StoreError> {
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))?;
    let mut reader = BufReader::new(&mut f);
    let (mut complete, mut n) = (0u64, 0usize);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let got = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if got == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        complete += got as u64;
        n += 1;
        each(n, String::from_utf8_lossy(&buf).trim_end())?;
    }
    drop(reader);
    let len = f.metadata().map_err(io(path))?.len();
    if complete < len {
        f.set_len(complete).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    f.seek(SeekFrom::End(0)).map_err(io(path))?;
    Ok(f)
}

fn append(f: &mut File, path: &Path, line: &str) -> Result<(), StoreError> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    f.write_all(&buf).map_err(io(path))?;
    f.sync_data().map_err(io(path))
}

impl Store {
    /// The journal path of an output.
    pub fn journal_path(out: &Path) -> PathBuf {
        let mut p = out.as_os_str().to_owned();
        p.push(".journal");
        PathBuf::from(p)
    }

    /// Opens (or creates) the state of output `out`, repairing it after a crash.
    /// `dedup_min_chars` is the shortest field compared for duplicates.
    pub fn open(out: &Path, dedup_min_chars: usize) -> Result<Store, StoreError> {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let lock_path = {
            let mut p = out.as_os_str().to_owned();
            p.push(".lock");
            PathBuf::from(p)
        };
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.try_lock_exclusive()
            .map_err(|_| StoreError::Locked(out.to_path_buf()))?;

        let mut dedup = Dedup::new(dedup_min_chars);
        let mut in_output: Vec<String> = Vec::new();
        let out_file = open_lines(out, |n, line| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let corrupt = |message: String| StoreError::Corrupt {
                path: out.to_path_buf(),
                line: n,
                message,
            };
            let v: Value = serde_json::from_str(line).map_err(|e| corrupt(e.to_string()))?;
            let Some(id) = v.get("id").and_then(Value::as_str) else {
                return Err(corrupt("no \"id\"".into()));
            };
            dedup.insert(
                id,
                TEXT_FIELDS
                    .iter()
                    .filter_map(|f| v.get(*f).and_then(Value::as_str)),
            );
            in_output.push(id.to_string());
            Ok(())
        })?;

        let journal_path = Self::journal_path(out);
        let mut entries = HashMap::new();
        let journal = open_lines(&journal_path, |n, line| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let e: Entry = serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
                path: journal_path.clone(),
                line: n,
                message: e.to_string(),
            })?;
            entries.insert(e.id.clone(), e);
            Ok(())
        })?;
        let mut store = Store {
            out: out_file,
            out_path: out.to_path_buf(),
            journal,
            journal_path,
            _lock: lock,
            entries,
            dedup,
            recovered: 0,
            lost: 0,
        };
        let written: std::collections::HashSet<&str> =
            in_output.iter().map(String::as_str).collect();
        let lost: Vec<String> = store
            .entries
            .values()
            .filter(|e| e.status == Status::Written && !written.contains(e.id.as_str()))
            .map(|e| e.id.clone())
            .collect();
        store.lost = lost.len();
        for id in lost {
            store.entries.remove(&id);
        }
        for id in &in_output {
            let journaled = store
                .entries
                .get(id)
                .is_some_and(|e| e.status == Status::Written);
            if !journaled {
                let mut e = Entry::new(id, Status::Written);
                e.recovered = true;
                store.journal_entry(e)?;
                store.recovered += 1;
            }
        }
        Ok(store)
    }

    fn journal_entry(&mut self, e: Entry) -> Result<(), StoreError> {
        let line = serde_json::to_string(&e).map_err(|e| StoreError::Io {
            path: self.journal_path.clone(),
            source: std::io::Error::other(e),
        })?;
        append(&mut self.journal, &self.journal_path, &line)?;
        self.entries.insert(e.id.clone(), e);
        Ok(())
    }

    /// Whether item `id` is finished (written or rejected).
    pub fn is_done(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The journal entry of `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Every journal entry (in no particular order).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The duplicate index of everything written.
    pub fn dedup(&self) -> &Dedup {
        &self.dedup
    }

    /// Appends a record (one JSON line) and then its journal entry, each fsync'd.
    pub fn write(
        &mut self,
        record_line: &str,
        texts: &[&str],
        entry: Entry,
    ) -> Result<(), StoreError> {
        append(&mut self.out, &self.out_path, record_line)?;
        self.dedup.insert(&entry.id, texts.iter().copied());
        self.journal_entry(entry)
    }

    /// Journals a rejected item.
    pub fn reject(&mut self, entry: Entry) -> Result<(), StoreError> {
        self.journal_entry(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> String {
        format!(
            "{{\"id\":\"{id}\",\"analysis\":\"An analysis of item {id} that is long enough.\"}}"
        )
    }

    #[test]
    fn torn_lines_are_cut_and_unjournaled_records_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub/out.jsonl");
        {
            let mut s = Store::open(&out, 10).unwrap();
            s.write(&rec("a"), &[], Entry::new("a", Status::Written))
                .unwrap();
            s.reject(Entry::new("r", Status::Rejected)).unwrap();
            // A second run on the same output is refused while this one holds it.
            let e = Store::open(&out, 10).err().unwrap().to_string();
            assert!(e.contains("another annotation run"), "{e}");
        }
        // A crash after the record of "b" reached the output, before its journal line,
        // while a third record was half written; and a torn journal line.
        let mut f = OpenOptions::new().append(true).open(&out).unwrap();
        writeln!(f, "{}", rec("b")).unwrap();
        write!(f, "{{\"id\":\"c\",\"anal").unwrap();
        let mut j = OpenOptions::new()
            .append(true)
            .open(Store::journal_path(&out))
            .unwrap();
        write!(j, "{{\"id\":\"c\",\"sta").unwrap();
        drop((f, j));

        let s = Store::open(&out, 10).unwrap();
        assert_eq!(s.recovered, 1);
        assert!(s.is_done("a") && s.is_done("b") && s.is_done("r"));
        assert!(!s.is_done("c"));
        assert!(s.entry("b").unwrap().recovered);
        assert_eq!(s.entry("r").unwrap().status, Status::Rejected);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, format!("{}\n{}\n", rec("a"), rec("b")));
        assert!(s
            .dedup()
            .check([("analysis", "An analysis of item b that is long enough.")])
            .is_some());
        drop(s);
        // Reopening changes nothing more.
        let s = Store::open(&out, 10).unwrap();
        assert_eq!((s.recovered, s.lost), (0, 0));
        let journal = std::fs::read_to_string(Store::journal_path(&out)).unwrap();
        assert_eq!(journal.lines().count(), 3);
    }

    #[test]
    fn journaled_records_missing_from_the_output_are_redone_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        {
            let mut s = Store::open(&out, 10).unwrap();
            s.write(&rec("a"), &[], Entry::new("a", Status::Written))
                .unwrap();
        }
        std::fs::write(&out, "").unwrap();
        let s = Store::open(&out, 10).unwrap();
        assert_eq!(s.lost, 1);
        assert!(!s.is_done("a"));
        drop(s);
        std::fs::write(&out, "not json\n").unwrap();
        let e = Store::open(&out, 10).err().unwrap().to_string();
        assert!(
            e.contains("out.jsonl:1: not a line this program wrote"),
            "{e}"
        );
    }
}
