//! Collecting input files from the paths a user gives: files as they are, folders walked
//! recursively in sorted order, with the output path of each input mirroring the tree below the
//! folder it was found in (as the reference's `--get_global` output does).

use std::path::{Path, PathBuf};

/// An input file and the path of its output relative to the output root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The input.
    pub path: PathBuf,
    /// The input's path relative to the folder it was found in (just its name for files given
    /// directly).
    pub rel: PathBuf,
    /// Output path below the output root: `rel` with the extension replaced.
    pub rel_out: PathBuf,
}

impl InputFile {
    /// The output path below the output root keeping the input's extension: `rel` with `.ext`
    /// appended (`song.mid` -> `song.mid.npy`), so inputs that differ only in their extension
    /// get different outputs.
    pub fn rel_out_keeping_extension(&self, ext: &str) -> PathBuf {
        let mut name = self.rel.as_os_str().to_os_string();
        name.push(".");
        name.push(ext);
        PathBuf::from(name)
    }
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
    collect_excluding(roots, accept, out_ext, &[])
}

/// [`collect`], skipping everything below the folders `exclude` (e.g. an output folder inside
/// an input folder, which must not be read back as input). Symlinks inside folders are followed;
/// a symlink loop or a broken link is reported, never skipped silently.
pub fn collect_excluding(
    roots: &[PathBuf],
    accept: impl Fn(&Path) -> bool,
    out_ext: &str,
    exclude: &[PathBuf],
) -> (Vec<InputFile>, Vec<WalkError>) {
    let exclude: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let excluded = |p: &Path| {
        !exclude.is_empty()
            && std::fs::canonicalize(p).is_ok_and(|c| exclude.iter().any(|x| c.starts_with(x)))
    };
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Err(e) => errors.push(WalkError {
                path: root.clone(),
                msg: e.to_string(),
            }),
            Ok(m) if m.is_dir() => {
                let walk = walkdir::WalkDir::new(root)
                    .follow_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| !(e.file_type().is_dir() && excluded(e.path())));
                for entry in walk {
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
                                rel: rel.to_path_buf(),
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
                    rel: name,
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
        assert_eq!(
            files[0].rel_out_keeping_extension("npy"),
            PathBuf::from("a/b/x.abc.npy")
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_loops_reported_and_outputs_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(dir.path().join("real.abc"), "x").unwrap();
        std::fs::write(root.join("out/old.abc"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.abc"), root.join("linked.abc")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
        let accept = |p: &Path| p.extension().is_some_and(|e| e == "abc");
        let (files, errors) = collect_excluding(
            std::slice::from_ref(&root),
            accept,
            "npy",
            &[root.join("out")],
        );
        let rels: Vec<_> = files
            .iter()
            .map(|f| f.rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            rels,
            vec!["linked.abc"],
            "linked file found, output folder skipped"
        );
        assert_eq!(errors.len(), 1, "the loop is reported: {errors:?}");
        assert!(errors[0].msg.contains("loop"), "{}", errors[0].msg);
    }
}
