//! Reading the music21 corpus: the `.abc` files of a collection, split into tunes, their
//! header fields, and the seeded selection order.

use std::path::{Path, PathBuf};

use clamp3_util::Rng;

/// One tune of a multi-tune `.abc` file, as found in the corpus.
#[derive(Debug, Clone)]
pub(crate) struct Tune {
    /// The collection (the corpus sub-folder, e.g. `essenFolksong`).
    pub collection: String,
    /// The file, relative to the corpus folder, with `/` separators (e.g.
    /// `essenFolksong/han1.abc`).
    pub file: String,
    /// 1-based position of the tune in the file.
    pub index: usize,
    /// The value of the tune's `X:` line (not unique within a file in every collection).
    pub x: String,
    /// The item id: `<collection>-<file stem>-<index:04>`, sanitised (see [`make_id`]).
    pub id: String,
    /// The tune's bytes, from its `X:` line up to the next `X:` line, untouched.
    pub bytes: Vec<u8>,
}

/// Lists the `.abc` files of one collection folder, sorted by path (deterministic).
pub(crate) fn abc_files(collection_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(collection_dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file()
            && entry
                .path()
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("abc"))
        {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Splits a multi-tune ABC file at every line that starts with `X:` (as
/// `scripts/conformance/split_abc_tunes.py`): text before the first `X:` line (file comments,
/// a preamble) is dropped; a file without any `X:` line gives no tune (abc2midi needs `X:`).
pub(crate) fn split_tunes(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"X:") {
            starts.push(pos);
        }
        pos += line.len();
    }
    let mut tunes = Vec::with_capacity(starts.len());
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(data.len());
        if let Some(t) = data.get(s..e) {
            tunes.push(t);
        }
    }
    tunes
}

/// The item id of tune `index` of `file` (relative path): `<file without .abc>-<index:04>`
/// with `/` turned into `-` and every character outside `[A-Za-z0-9.-]` replaced by `-`, so
/// that ids are file names on every platform and never contain `_` (the linear-probe tools
/// read the part of a file name before the first `_` as its label, docs/reference.md §8.7).
pub(crate) fn make_id(file: &str, index: usize) -> String {
    let stem = file
        .strip_suffix(".abc")
        .or_else(|| file.strip_suffix(".ABC"))
        .unwrap_or(file);
    let mut id: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    id.push_str(&format!("-{index:04}"));
    id
}

/// Reads every tune of every `.abc` file of one collection.
pub(crate) fn collection_tunes(
    corpus: &Path,
    collection: &str,
) -> Result<Vec<Tune>, (PathBuf, std::io::Error)> {
    let dir = corpus.join(collection);
    let files = abc_files(&dir).map_err(|e| (dir.clone(), e))?;
    let mut tunes = Vec::new();
    for path in files {
        let data = std::fs::read(&path).map_err(|e| (path.clone(), e))?;
        let rel = path
            .strip_prefix(corpus)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        for (k, bytes) in split_tunes(&data).into_iter().enumerate() {
            let index = k + 1;
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let x = String::from_utf8_lossy(first.get(2..).unwrap_or_default())
                .trim()
                .to_string();
            tunes.push(Tune {
                collection: collection.to_string(),
                id: make_id(&rel, index),
                file: rel.clone(),
                index,
                x,
                bytes: bytes.to_vec(),
            });
        }
    }
    Ok(tunes)
}

/// FNV-1a of a string: mixes the collection name into the seed, so that each collection gets
/// its own order and adding a collection does not reshuffle the others.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Fisher–Yates shuffle by rejection sampling (no modulo bias), so the selection order is the
/// same on every platform and release.
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    rng.shuffle_unbiased(items);
}

/// The candidate order: each collection's tunes shuffled with `seed ^ fnv1a(name)`, then
/// taken round-robin across the collections in the given order (one from each in turn,
/// skipping exhausted ones), so that a limited build is balanced across collections.
pub(crate) fn candidate_order(mut per_collection: Vec<Vec<Tune>>, seed: u64) -> Vec<Tune> {
    for tunes in per_collection.iter_mut() {
        let name = tunes
            .first()
            .map(|t| t.collection.clone())
            .unwrap_or_default();
        let mut rng = Rng::new(seed ^ fnv1a(&name));
        shuffle(tunes, &mut rng);
    }
    let total: usize = per_collection.iter().map(Vec::len).sum();
    let mut iters: Vec<_> = per_collection.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        for it in iters.iter_mut() {
            if let Some(t) = it.next() {
                out.push(t);
            }
        }
    }
    out
}

/// The header facts of one tune: the values of its information fields, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    /// `(field letter, value)` for every `<letter>:` line, value trimmed.
    pub all: Vec<(char, String)>,
}

impl Fields {
    /// Parses the information-field lines (`<letter>:value`) of a tune; music lines, inline
    /// fields and comments are ignored.
    pub fn parse(text: &str) -> Fields {
        let mut all = Vec::new();
        for line in text.lines() {
            let mut chars = line.chars();
            let (Some(letter), Some(':')) = (chars.next(), chars.next()) else {
                continue;
            };
            if !letter.is_ascii_alphabetic() {
                continue;
            }
            all.push((letter, chars.as_str().trim().to_string()));
        }
        Fields { all }
    }

    /// All non-empty values of field `letter`, in order.
    pub fn values(&self, letter: char) -> Vec<&str> {
        self.all
            .iter()
            .filter(|(l, v)| *l == letter && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first non-empty value of field `letter` in the header (before the first `K:`
    /// line, `K:` itself included), as header fields apply to the whole tune.
    pub fn header(&self, letter: char) -> Option<&str> {
        for (l, v) in &self.all {
            if *l == letter && !v.is_empty() {
                return Some(v.as_str());
            }
            if *l == 'K' {
                break;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_x_lines_and_drops_the_preamble() {
        let data = b"% preamble\n\nX:1\nT:a\nK:C\nabc|\n\nX:2\nT:b\nK:G\nd|\n";
        let tunes = split_tunes(data);
        assert_eq!(tunes.len(), 2);
        assert_eq!(tunes[0], b"X:1\nT:a\nK:C\nabc|\n\n");
        assert_eq!(tunes[1], b"X:2\nT:b\nK:G\nd|\n");
        assert!(split_tunes(b"T:no x\nK:C\n").is_empty());
    }

    #[test]
    fn ids_are_sanitised() {
        assert_eq!(
            make_id("essenFolksong/han1.abc", 2),
            "essenFolksong-han1-0002"
        );
        assert_eq!(make_id("a b/c_d.abc", 12), "a-b-c-d-0012");
    }

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_seed() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut Rng::new(1));
        shuffle(&mut b, &mut Rng::new(2));
        assert_ne!(a, b);
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        let mut c: Vec<u32> = (0..100).collect();
        shuffle(&mut c, &mut Rng::new(1));
        assert_eq!(a, c);
    }

    #[test]
    fn header_fields_stop_at_k() {
        let f = Fields::parse("X:1\nT: One\nT:Two\nR: reel]\nK:G\nabc|\nR:inline\n");
        assert_eq!(f.values('T'), vec!["One", "Two"]);
        assert_eq!(f.header('R'), Some("reel]"));
        assert_eq!(f.header('N'), None);
        assert_eq!(f.values('R'), vec!["reel]", "inline"]);
    }
}
