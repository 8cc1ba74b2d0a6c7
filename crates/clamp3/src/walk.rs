//! Collecting input files from the paths a user gives: files as they are, folders walked
//! recursively in sorted order, with the output path of each input mirroring the tree below the
//! folder it was found in (as the reference's `--get_global` output does).

use std::path::{Path, PathBuf};

/// An input file and the path of its output relative to the output root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The input.
    pub path: PathBuf,
    /// Output path below the output root: the input's path relative to the folder it was found
    /// in (just its name for files given directly), with the extension replaced.
    pub rel_out: PathBuf,
}

/// A path that could not be walked.
#[derive(Debug)]
pub struct WalkError {
    /// The path.
    pub path: PathBuf,
    /// What went wrong.
    pub msg: String,
}

/// Inputs found under `roots`. Files inside folders are kept when `accept` says so (others are
/// skipped silently); a file named directly is always kept, so that an unsupported file given
/// by name gets its own error later rather than vanishing.
pub fn collect(
    roots: &[PathBuf],
    accept: impl Fn(&Path) -> bool,
    out_ext: &str,
) -> (Vec<InputFile>, Vec<WalkError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Err(e) => errors.push(WalkError {
                path: root.clone(),
                msg: e.to_string(),
            }),
            Ok(m) if m.is_dir() => {
                for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
                    match entry {
                        Err(e) => errors.push(WalkError {
                            path: e
                                .path()
                                .map(Path::to_path_buf)
                                .unwrap_or_else(|| root.clone()),
                            msg: e.to_string(),
                        }),
                        Ok(e) if e.file_type().is_file() && accept(e.path()) => {
                            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                            files.push(InputFile {
                                path: e.path().to_path_buf(),
                                rel_out: rel.with_extension(out_ext),
                            });
                        }
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) => {
                let name = root
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.clone());
                files.push(InputFile {
                    path: root.clone(),
                    rel_out: name.with_extension(out_ext),
                });
            }
        }
    }
    (files, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_folders_and_keeps_named_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        for f in ["a/b/x.abc", "a/y.txt", "z.mid", "README.md"] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        let single = dir.path().join("q.txt");
        std::fs::write(&single, "x").unwrap();
        let accept =
            |p: &Path| matches!(p.extension().and_then(|e| e.to_str()), Some("abc" | "txt"));
        let (files, errors) = collect(
            &[root.clone(), single.clone(), dir.path().join("nope")],
            accept,
            "npy",
        );
        assert_eq!(errors.len(), 1);
        let rels: Vec<_> = files
            .iter()
            .map(|f| f.rel_out.to_string_lossy().into_owned())
            .collect();
        assert_eq!(rels, vec!["a/b/x.npy", "a/y.npy", "q.npy"]);
        assert_eq!(files[2].path, single);
    }
}
