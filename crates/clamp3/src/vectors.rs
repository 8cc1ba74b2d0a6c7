//! Embeddings of a set of files: computed with a model, or read from `.npy` files that already
//! hold one (`(1, D)` global embeddings as `clamp3 embed` writes them). Used by the tools that
//! compare collections (score, eval, classify, probe).

use std::path::{Path, PathBuf};

use crate::input::{InputCause, InputError, InputKind};
use crate::walk::collect;
use crate::{Embedder, Embedding};

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
pub fn read_embedding_npy(path: &Path) -> Option<Result<Vec<f32>, InputError>> {
    if InputKind::of(path) != Some(InputKind::Features) {
        return None;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Some(Err(InputError::new(path, e))),
    };
    match clamp3_formats::npy::read_npy(&bytes) {
        Ok(a) if matches!(a.shape.as_slice(), [1, _] | [_]) => Some(Ok(a.data)),
        Ok(_) => None,
        Err(e) => Some(Err(InputError::new(path, InputCause::Npy(e)))),
    }
}

/// Embeds every supported file under `roots` (folders walked recursively, sorted). `.npy`
/// files holding a global embedding are read as they are; everything else needs `embedder`.
/// Returns the embeddings in walk order and the files that failed.
pub fn embed_tree(
    roots: &[PathBuf],
    embedder: Option<&Embedder>,
    mut progress: impl FnMut(usize),
) -> (Vec<Embedded>, Vec<InputError>) {
    let (files, walk_errors) = collect(roots, |p| InputKind::of(p).is_some(), "npy");
    let mut errors: Vec<InputError> = walk_errors
        .into_iter()
        .map(|e| InputError::new(&e.path, InputCause::Io(std::io::Error::other(e.msg))))
        .collect();
    let mut out: Vec<Option<Embedded>> = vec![None; files.len()];
    let mut todo = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let rel = f
            .rel_out
            .with_extension(f.path.extension().unwrap_or_default());
        match read_embedding_npy(&f.path) {
            Some(Ok(vector)) => {
                out[i] = Some(Embedded {
                    path: f.path.clone(),
                    rel,
                    vector,
                });
                progress(1);
            }
            Some(Err(e)) => {
                errors.push(e);
                progress(1);
            }
            None => todo.push((i, rel)),
        }
    }
    if !todo.is_empty() {
        match embedder {
            None => {
                for (i, _) in &todo {
                    errors.push(InputError::new(
                        &files[*i].path,
                        InputCause::Model("needs a model to be embedded (give --model)".into()),
                    ));
                }
            }
            Some(e) => {
                for chunk in todo.chunks(32) {
                    let paths: Vec<&Path> = chunk
                        .iter()
                        .map(|(i, _)| files[*i].path.as_path())
                        .collect();
                    for ((i, rel), r) in chunk.iter().zip(e.embed_files(&paths, false)) {
                        match r {
                            Ok(Embedding::Global(vector)) => {
                                out[*i] = Some(Embedded {
                                    path: files[*i].path.clone(),
                                    rel: rel.clone(),
                                    vector,
                                })
                            }
                            Ok(_) => {}
                            Err(err) => errors.push(err),
                        }
                    }
                    progress(chunk.len());
                }
            }
        }
    }
    (out.into_iter().flatten().collect(), errors)
}

/// The key that pairs a query with its reference, as the reference scripts define it: the
/// relative folder plus the file name up to its first dot (`sub/x.1.wav` -> `sub/x`), so
/// several queries can share one reference. Built from the path relative to the given root,
/// not from a fixed path depth (reference bug CLAMP3.md §8.9 #7).
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
