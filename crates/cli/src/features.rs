//! `clamp3 features`: recordings -> MERT features, one `.npy` per file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clamp3::features::FeatureExtractor;
use clamp3::walk::collect;
use clamp3::InputKind;
use clamp3_audio::AudioSource;

/// Runs `clamp3 features`; returns false when `strict` and some input failed.
pub fn run(
    mert: Option<&Path>,
    out: &Path,
    batch: usize,
    paths: &[PathBuf],
    strict: bool,
) -> Result<bool> {
    let (files, walk_errors) =
        collect(paths, |p| InputKind::of(p) == Some(InputKind::Audio), "npy");
    let mut failures: Vec<String> = walk_errors
        .iter()
        .map(|e| format!("{}: {}", e.path.display(), e.msg))
        .collect();
    if files.is_empty() && failures.is_empty() {
        bail!("no audio files found");
    }
    let dir = mert.map_or_else(clamp3::hub::mert_dir, Path::to_path_buf);
    let mut extractor = FeatureExtractor::load(&dir, crate::device()).with_context(|| {
        format!(
            "loading MERT-v1-95M from {} (pass --mert DIR or run `clamp3 download mert`)",
            dir.display()
        )
    })?;
    extractor.batch = batch.max(1);
    let bar = crate::progress::files_bar(files.len());
    let mut done = 0;
    for f in &files {
        // The reference names features after the whole file name: song.mp3 -> song.mp3.npy.
        let name = f
            .path
            .file_name()
            .map(|n| format!("{}.npy", n.to_string_lossy()))
            .unwrap_or_default();
        let dest = out.join(f.rel_out.with_file_name(name));
        let r = extractor
            .extract(&AudioSource::path(&f.path))
            .map_err(|c| format!("{}: {c}", f.path.display()))
            .and_then(|(feat, n)| {
                clamp3::output::write_npy(&dest, &[1, n, extractor.hidden_size()], &feat)
                    .map_err(|err| format!("writing {}: {err}", dest.display()))
            });
        match r {
            Ok(()) => done += 1,
            Err(msg) => {
                bar.suspend(|| eprintln!("error: {msg}"));
                failures.push(msg);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "extracted features of {done} file(s){}",
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
