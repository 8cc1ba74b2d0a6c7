//! Embeddings of a set of files: computed with a model, or read from `.npy` files that already
//! hold one (`(1, D)` global embeddings as `clamp3 embed` writes them). Used by the tools that
//! compare collections (score, eval, classify, probe).

use std::path::{Path, PathBuf};

use clamp3_input::{InputCause, InputKind};

use crate::embedder::{EmbedOptions, Embedder};
use crate::error::{EmbedError, SystemCause};
use crate::walk::collect;

/// One file and its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// The file.
    pub path: PathBuf,
    /// Its path relative to the folder it was found in (its name when given directly).
    pub rel: PathBuf,
    /// The global embedding (raw, not normalised).
    pub vector: Vec<f32>,
}

/// A `.npy` holding a `(1, D)` or `(D,)` embedding, if `path` is one.
pub fn read_embedding_npy(path: &Path) -> Option<Result<Vec<f32>, EmbedError>> {
    if InputKind::of(path) != Some(InputKind::Features) {
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Some(Err(EmbedError::input_cause(path.into(), e))),
    };
    match clamp3_formats::npy::read_npy(&bytes) {
        Ok(a) if matches!(a.shape.as_slice(), [1, _] | [_]) => {
            if a.data.iter().any(|v| !v.is_finite()) {
                return Some(Err(EmbedError::input_cause(
                    path.into(),
                    InputCause::NonFinite,
                )));
            }
            Some(Ok(a.data))
        }
        Ok(_) => None,
        Err(e) => Some(Err(EmbedError::input_cause(
            path.into(),
            InputCause::Npy(e),
        ))),
    }
}

/// The supported files under some roots, walked once: `.npy` files that already hold a global
/// embedding are read, the others wait for a model.
#[derive(Debug)]
pub struct Tree {
    files: Vec<(PathBuf, PathBuf)>,
    out: Vec<Option<Embedded>>,
    todo: Vec<usize>,
    errors: Vec<EmbedError>,
}

impl Tree {
    /// Walks `roots` (folders recursively, sorted) and reads the precomputed embeddings.
    pub fn scan(roots: &[PathBuf]) -> Self {
        let (found, walk_errors) = collect(roots, |p| InputKind::of(p).is_some(), "npy");
        let mut t = Tree {
            files: Vec::with_capacity(found.len()),
            out: Vec::with_capacity(found.len()),
            todo: Vec::new(),
            errors: walk_errors
                .into_iter()
                .map(|e| {
                    EmbedError::input_cause(e.path.as_path().into(), std::io::Error::other(e.msg))
                })
                .collect(),
        };
        for f in found {
            let rel = f
                .rel_out
                .with_extension(f.path.extension().unwrap_or_default());
            let i = t.files.len();
            t.out.push(None);
            match read_embedding_npy(&f.path) {
                Some(Ok(vector)) => {
                    t.out[i] = Some(Embedded {
                        path: f.path.clone(),
                        rel: rel.clone(),
                        vector,
                    })
                }
                Some(Err(e)) => t.errors.push(e),
                None => t.todo.push(i),
            }
            t.files.push((f.path, rel));
        }
        t
    }

    /// Number of files found.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when no file was found.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The kind of each file that needs a model (empty when every file is an embedding).
    pub fn kinds_to_embed(&self) -> Vec<InputKind> {
        self.todo
            .iter()
            .filter_map(|&i| InputKind::of(&self.files[i].0))
            .collect()
    }

    /// Embeds the files that need it with `embedder`, 32 at a time (with no embedder, they
    /// fail); returns every embedding in walk order and the files that failed. `progress`
    /// counts files.
    pub fn embed(
        mut self,
        embedder: Option<&Embedder>,
        opts: &EmbedOptions,
        mut progress: impl FnMut(usize),
    ) -> (Vec<Embedded>, Vec<EmbedError>) {
        progress(self.files.len() - self.todo.len());
        match embedder {
            None => {
                for &i in &self.todo {
                    self.errors.push(EmbedError::system(
                        self.files[i].0.as_path().into(),
                        SystemCause::NoModel,
                    ));
                }
            }
            Some(e) => {
                for chunk in self.todo.chunks(32) {
                    let paths: Vec<&Path> =
                        chunk.iter().map(|&i| self.files[i].0.as_path()).collect();
                    for (&i, r) in chunk.iter().zip(e.embed_files(&paths, opts)) {
                        match r.map(|e| e.into_global()) {
                            Ok(Some(vector)) => {
                                self.out[i] = Some(Embedded {
                                    path: self.files[i].0.clone(),
                                    rel: self.files[i].1.clone(),
                                    vector,
                                })
                            }
                            Ok(None) => {}
                            Err(err) => self.errors.push(err),
                        }
                    }
                    progress(chunk.len());
                }
            }
        }
        let mut out: Vec<Embedded> = self.out.into_iter().flatten().collect();
        // Vectors that cannot be compared with the others (another size: a different model or a
        // truncated file) are the file's fault, named, never compared over a prefix.
        if let Some(dim) = common_dim(&out) {
            out.retain(|e| {
                if e.vector.len() == dim {
                    return true;
                }
                self.errors.push(EmbedError::input_cause(
                    e.path.as_path().into(),
                    InputCause::VectorSize {
                        found: e.vector.len(),
                        expected: dim,
                    },
                ));
                false
            });
        }
        (out, self.errors)
    }
}

/// The most common vector size (the first one on a tie).
fn common_dim(v: &[Embedded]) -> Option<usize> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for e in v {
        match counts.iter_mut().find(|(d, _)| *d == e.vector.len()) {
            Some((_, n)) => *n += 1,
            None => counts.push((e.vector.len(), 1)),
        }
    }
    let best = counts.iter().map(|c| c.1).max()?;
    counts.iter().find(|c| c.1 == best).map(|c| c.0)
}

/// Embeds every supported file under `roots` (see [`Tree`]).
pub fn embed_tree(
    roots: &[PathBuf],
    embedder: Option<&Embedder>,
    opts: &EmbedOptions,
    progress: impl FnMut(usize),
) -> (Vec<Embedded>, Vec<EmbedError>) {
    Tree::scan(roots).embed(embedder, opts, progress)
}

/// The key that pairs a query with its reference, as the reference scripts define it: the
/// relative folder plus the file name up to its first dot (`sub/x.1.wav` -> `sub/x`), so
/// several queries can share one reference. Built from the path relative to the given root,
/// not from a fixed path depth (reference bug docs/reference.md §8.9 #7).
pub fn match_key(rel: &Path) -> String {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => format!("{}/{stem}", dir.to_string_lossy().replace('\\', "/")),
        None => stem.to_string(),
    }
}

/// Cosine similarity (0 for a zero vector).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    clamp3_index::cosine(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_use_the_relative_folder_and_the_name_up_to_the_first_dot() {
        assert_eq!(match_key(Path::new("x.1.wav")), "x");
        assert_eq!(match_key(Path::new("sub/dir/song.v2.mp3")), "sub/dir/song");
        assert_eq!(match_key(Path::new("sub/song.txt")), "sub/song");
        assert_eq!(match_key(Path::new(".hidden")), "");
    }
}
