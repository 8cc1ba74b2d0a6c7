//! `clamp3 features`: recordings -> MERT features, one `.npy` per file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clamp3::audio::Recording;
use clamp3::mert::FeatureExtractor;
use clamp3::walk::collect;
use clamp3::InputKind;

use crate::report::Failures;
use crate::Ctx;

/// Arguments of `clamp3 features`.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {
    /// MERT model directory (config.json + weights); default: the download cache.
    #[arg(long)]
    pub mert: Option<PathBuf>,
    /// Output folder; the input tree is mirrored below it.
    #[arg(long)]
    pub out: PathBuf,
    /// 5 s windows per MERT forward pass (one window, 374 frames, already keeps the products
    /// at full speed; two measured 8 % slower).
    #[arg(long = "mert-batch", alias = "batch", default_value_t = 1, value_parser = crate::args::positive)]
    pub mert_batch: usize,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Audio files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `clamp3 features`; returns false when `strict` and some input failed.
pub fn run(ctx: &Ctx, a: &FeaturesArgs) -> Result<bool> {
    let (files, walk_errors) = collect(
        &a.paths,
        |p| InputKind::of(p) == Some(InputKind::Audio),
        "npy",
    );
    let mut failures = Failures::new();
    for e in &walk_errors {
        failures.push(format!("{}: {}", e.path.display(), e.msg));
    }
    if files.is_empty() && failures.is_empty() {
        bail!("no audio files found");
    }
    clamp3_util::fs::check_writable_dir(&a.out)
        .with_context(|| format!("cannot write to {}", a.out.display()))?;
    let dir = clamp3::hub::locate_mert(a.mert.as_deref(), None)?;
    let extractor = FeatureExtractor::load(&dir, &ctx.device)?;
    let bar = crate::progress::files_bar(files.len());
    let mut done = 0;
    for f in &files {
        // The reference names features after the whole file name: song.mp3 -> song.mp3.npy.
        let name = f
            .path
            .file_name()
            .map(|n| format!("{}.npy", n.to_string_lossy()))
            .unwrap_or_default();
        let dest = a.out.join(f.rel_out.with_file_name(name));
        let r = Recording::open(&clamp3::audio::AudioSource::path(&f.path))
            .map_err(|c| format!("{}: {c}", f.path.display()))
            .and_then(|rec| {
                extractor
                    .extract(&rec, a.mert_batch)
                    .map_err(|c| format!("{}: {c}", f.path.display()))
            });
        bar.inc(1);
        match r {
            Ok(feat) => {
                // A destination that cannot be written stops the job.
                clamp3::output::write_npy(&dest, &[1, feat.rows, feat.dim], &feat.data)
                    .with_context(|| format!("cannot write {}", dest.display()))?;
                done += 1;
            }
            Err(msg) => failures.push(msg),
        }
    }
    bar.finish_and_clear();
    failures.print(&format!("extracted features of {done} file(s)"));
    Ok(failures.ok(a.strict))
}
