//! `clamp3 convert`: MIDI -> MTF and standard ABC / MusicXML -> interleaved ABC, in parallel.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clamp3::convert::Target;
use clamp3::walk::collect;
use rayon::prelude::*;

use crate::report::Failures;

/// Target of `convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    /// MIDI text format.
    Mtf,
    /// Interleaved ABC.
    Abc,
}

/// Arguments of `clamp3 convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Output format: `mtf` (from .mid/.midi) or `abc` (interleaved, from standard .abc or
    /// MusicXML .xml/.musicxml/.mxl).
    #[arg(long, value_enum)]
    pub to: ConvertTo,
    /// With `--to abc`: stop after MusicXML -> standard ABC (the reference's xml2abc step),
    /// before interleaving.
    #[arg(long)]
    pub standard_abc: bool,
    /// Output folder; the input tree is mirrored below it.
    #[arg(long)]
    pub out: PathBuf,
    /// Exit with status 1 if any input failed (failures are always listed).
    #[arg(long)]
    pub strict: bool,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `clamp3 convert`; returns false when `strict` and some input failed.
pub fn run(a: &ConvertArgs) -> Result<bool> {
    let target = match (a.to, a.standard_abc) {
        (ConvertTo::Mtf, false) => Target::Mtf,
        (ConvertTo::Abc, false) => Target::Abc,
        (ConvertTo::Abc, true) => Target::StandardAbc,
        (ConvertTo::Mtf, true) => bail!("--standard-abc goes with --to abc"),
    };
    let (files, walk_errors) = collect(&a.paths, |p| target.accepts(p), target.extension());
    let mut failures = Failures::new();
    for e in &walk_errors {
        failures.push(format!("{}: {}", e.path.display(), e.msg));
    }
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
    clamp3_util::fs::check_writable_dir(&a.out)
        .with_context(|| format!("cannot write to {}", a.out.display()))?;
    let bar = crate::progress::files_bar(files.len());
    // Per file: Ok(Ok) written, Ok(Err) the input failed, Err the destination failed, which
    // stops the job (what is written stays).
    let results: Vec<Result<Result<(), String>>> = files
        .par_iter()
        .map(|f| {
            let r = match target.convert_file(&f.path) {
                Ok(text) => {
                    let dest = a.out.join(&f.rel_out);
                    clamp3::output::write_atomic(&dest, text.as_bytes())
                        .with_context(|| format!("cannot write {}", dest.display()))
                        .map(Ok)
                }
                Err(e) => Ok(Err(crate::report::describe_error(e))),
            };
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut done = 0;
    for r in results {
        match r? {
            Ok(()) => done += 1,
            Err(e) => failures.push(e),
        }
    }
    failures.print(&format!(
        "converted {done} file(s) to {}",
        target.extension()
    ));
    Ok(failures.ok(a.strict))
}
