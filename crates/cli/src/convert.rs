//! `clamp3 convert`: MIDI -> MTF and standard ABC -> interleaved ABC, in parallel.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clamp3::convert::Target;
use clamp3::walk::collect;
use rayon::prelude::*;

/// Runs `clamp3 convert`; returns false when `strict` and some input failed.
pub fn run(target: Target, out: &std::path::Path, paths: &[PathBuf], strict: bool) -> Result<bool> {
    let (files, walk_errors) = collect(paths, |p| target.accepts(p), target.extension());
    let mut failures: Vec<String> = walk_errors
        .iter()
        .map(|e| format!("{}: {}", e.path.display(), e.msg))
        .collect();
    if files.is_empty() && failures.is_empty() {
        bail!("no input files to convert to {}", target.extension());
    }
    // Two inputs with one output name (e.g. x.xml and x.mxl): the first found wins.
    let mut claimed: std::collections::HashMap<PathBuf, PathBuf> = std::collections::HashMap::new();
    let files: Vec<_> = files
        .into_iter()
        .filter(|f| match claimed.get(&f.rel_out) {
            Some(first) => {
                failures.push(format!(
                    "{}: output {} is already written from {}",
                    f.path.display(),
                    f.rel_out.display(),
                    first.display()
                ));
                false
            }
            None => {
                claimed.insert(f.rel_out.clone(), f.path.clone());
                true
            }
        })
        .collect();
    let bar = crate::progress::files_bar(files.len());
    let results: Vec<Result<(), String>> = files
        .par_iter()
        .map(|f| {
            let r = clamp3::convert::convert_file(&f.path, target)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    let dest = out.join(&f.rel_out);
                    clamp3::output::write_atomic(&dest, text.as_bytes())
                        .map_err(|e| format!("writing {}: {e}", dest.display()))
                });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut done = 0;
    for r in results {
        match r {
            Ok(()) => done += 1,
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "converted {done} file(s) to {}{}",
        target.extension(),
        if failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed:", failures.len())
        }
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    Ok(failures.is_empty() || !strict)
}
