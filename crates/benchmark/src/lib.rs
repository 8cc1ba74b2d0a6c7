//! Local benchmark builder: a WikiMT-X-style evaluation set made from the music21 corpus.
//!
//! CLaMP 3 is evaluated on WikiMT-X (docs/reference.md §9.2): (sheet music, audio, text) triplets
//! with four text types. WikiMT-X itself cannot be downloaded here, so [`build`] makes an
//! analogous set from the folk-tune collections of the music21 corpus (docs/data.md §1, fetched
//! by `scripts/benchmark/fetch_corpus.sh`), with one item per tune:
//!
//! | Output | Made by |
//! |---|---|
//! | `abc/<id>.abc` | interleaved ABC, natively ([`clamp3_formats::interleave::interleave_abc`]) from the tune after the preparation below |
//! | `midi/<id>.mid` | the external `abc2midi` (Debian `abcmidi`) on the tune's own, untouched text |
//! | `mtf/<id>.mtf` | natively ([`clamp3_formats::mtf::midi_to_mtf`]) from that MIDI |
//! | `audio/<id>.wav` | with [`BuildOptions::audio`]: `fluidsynth -ni -q -r <rate> -F <wav> <sf2> <mid>` (Debian `fluidsynth`; stereo 16-bit) |
//! | `text/<id>.txt` | the `description` text, one line (for folder-pair evaluation against `abc/`, `mtf/`, `audio/`) |
//! | `benchmark.jsonl` | one [`Record`] per item, WikiMT-X-style |
//! | `failures.jsonl` | one [`FailureRecord`] per tune that was tried and skipped |
//! | `manifest.json` | the options and the per-collection counts of the build ([`Manifest`]) |
//!
//! **Tunes.** Every `.abc` file of each collection (sorted by path) is split at its `X:`
//! lines (text before the first one is dropped); tune `k` of `<collection>/<file>.abc` gets
//! the id `<collection>-<file>-<k:04>` (characters outside `[A-Za-z0-9.-]` become `-`).
//!
//! **Selection** (deterministic for a seed): each collection's tunes are shuffled with
//! SplitMix64 seeded by `seed ^ FNV-1a(collection name)`, then taken round-robin across the
//! collections in the order given. Candidates are converted in that order; a tune that
//! fails a step is skipped, counted by [`FailureCause`], and the next candidate takes its
//! place, until [`BuildOptions::limit`] items are built (or the candidates run out). A tune
//! whose interleaved ABC equals an earlier item's is skipped as a duplicate (the Essen
//! collections hold repeated tunes), so no two items have the same sheet music.
//!
//! **Sheet music preparation** (before interleaving; layout only, the notes are never
//! changed; details in `music::prepare_sheet`): the descriptive information fields
//! (`A: B: D: F: G: H: N: O: R: S: Z: r:`), lyrics and plain `%` comment lines are removed,
//! because the text is made from them (WikiMT-X lead sheets come from MusicXML and carry no
//! such fields; the reference interleaver itself drops `X: T: C: W: w: Z:` and `%%MIDI`).
//! The body is regrouped voice by voice under lines `V:<id>`, so that every tune has a line
//! that is exactly `V:1` after its `K:` line: the reference interleaver finds the tune body
//! at the last such line, and the single-voice folk tunes, which have none, would all fail
//! (the conformance corpus `music21_v1` inserts `V:1` after `K:` for the same reason, see
//! scripts/conformance/build_abc_corpora.sh). Each voice's consecutive music lines are
//! joined into one line (`\` continuations and comments removed), barlines that only spaces
//! separate are merged and unusual barline spellings (`:||`, `[|]`) rewritten, and a voice
//! that ends without a barline gets a final `|`: unchanged, the reference silently drops
//! the music after a repeat sign at a line break (most O'Neill's and Ryan's tunes) and the
//! last bar of most Essen tunes, or fails on them. On the whole default corpus (12,947
//! tunes) this builds 12,767 items; the 180 skipped are 94 duplicates, 84 tunes with a
//! chord holding a note length (`[C2E2]`, which the reference's duration check rejects)
//! and 2 that abc2midi rejects. On all 12,767 prepared sheets the native interleaving is
//! byte-identical to the Python reference (`scripts/conformance/interleave_oracle.py`), and
//! all 12,767 MTF files to the mido oracle (`scripts/conformance/mtf_oracle.py`).
//!
//! The MIDI is made from the unmodified tune (abc2midi reads `R:hornpipe` etc. as
//! performance hints); its text meta events are dropped by the MTF conversion
//! (`m3_compatible`, docs/reference.md §5.5).
//!
//! **Text** (module `text`): the four WikiMT-X text types are written with fixed English
//! templates from the tune's header fields (`T:` title, `C:` composer, `O:` origin, `R:`
//! genre or rhythm, `K:`, `M:`, `L:`, `Q:`, `N:` notes, `S:` source), its collection, and
//! facts measured on the converted music (bars, notes, pitch range, MIDI duration):
//! `background` = title, place, composer credit, collection, source and the collection's
//! notes; `analysis` = key, metre, note length, tempo, genre, bars, voices, notes, range,
//! duration; `description` = mood word, genre, place, key, metre, size and range, with no
//! title or composer (as WikiMT-X withholds them); `scene` = the title, a fixed setting
//! sentence for the genre's mood, the place, and mood words from the mode and metre. Original-language
//! strings (German regions, genres and notes; pinyin, Gaelic, Dutch titles...) are quoted
//! alongside the English glosses. No fact is invented; the glossaries are fixed tables.
//!
//! **Re-running** the build with the same options gives the same files: every file is
//! written atomically ([`clamp3_util::fs::write_atomic`]) and only when its content changed;
//! an existing WAV is kept when it is a complete WAV at the requested rate, its MIDI file is
//! unchanged, and the previous build (its `manifest.json`) used the same soundfont and rate.
//! With [`BuildOptions::prune`], files of a previous build (a folder with `manifest.json`)
//! that are not part of the new one are removed, so the folders match `benchmark.jsonl`.

mod corpus;
mod music;
mod text;
mod tools;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clamp3_formats::interleave::{interleave_abc, InterleaveError};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use corpus::{Fields, Tune};
use tools::ToolFailure;

/// The collections built by default: the music21 corpus folders of single-line folk tunes
/// with metadata (docs/data.md §1.2). `josquin` (one voice part per tune) and
/// `nottingham-dataset` (2 tunes, no metadata) are left out.
pub const DEFAULT_COLLECTIONS: &[&str] = &[
    "essenFolksong",
    "oneills1850",
    "ryansMammoth",
    "airdsAirs",
    "miscFolk",
];

/// The default soundfont (Debian `timgm6mb-soundfont`, 6 MB: fast to load per file).
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

/// The larger General MIDI soundfont (Debian `fluid-soundfont-gm`, 142 MB), for better sound.
pub const FLUIDR3_SOUNDFONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

/// The default audio sample rate: MERT's input rate (docs/reference.md §5.6), so no resampling.
pub const DEFAULT_SAMPLE_RATE: u32 = 24_000;

/// What to build and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The music21 `corpus` folder (the one holding `essenFolksong/`, `oneills1850/`...).
    pub corpus: PathBuf,
    /// The output folder (created if missing).
    pub out: PathBuf,
    /// The corpus sub-folders to take tunes from, in round-robin order.
    pub collections: Vec<String>,
    /// How many items to build; `None` builds every tune that converts.
    pub limit: Option<usize>,
    /// Seed of the selection order.
    pub seed: u64,
    /// Whether to render `audio/<id>.wav` with fluidsynth.
    pub audio: bool,
    /// The soundfont for rendering; `None` means [`DEFAULT_SOUNDFONT`].
    pub soundfont: Option<PathBuf>,
    /// Sample rate of the rendered audio, in Hz.
    pub sample_rate: u32,
    /// Parallel conversions and renders; 0 means one per available core.
    pub jobs: usize,
    /// The `abc2midi` program (a name looked up in `PATH`, or a path).
    pub abc2midi: PathBuf,
    /// The `fluidsynth` program (a name looked up in `PATH`, or a path).
    pub fluidsynth: PathBuf,
    /// Remove files of a previous build in `out` that are not part of this one.
    pub prune: bool,
}

impl BuildOptions {
    /// Options with the defaults: [`DEFAULT_COLLECTIONS`], no limit, seed 0, no audio,
    /// [`DEFAULT_SOUNDFONT`], [`DEFAULT_SAMPLE_RATE`], one job per core, the tools from
    /// `PATH`, pruning on.
    pub fn new(corpus: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        BuildOptions {
            corpus: corpus.into(),
            out: out.into(),
            collections: DEFAULT_COLLECTIONS.iter().map(|c| c.to_string()).collect(),
            limit: None,
            seed: 0,
            audio: false,
            soundfont: None,
            sample_rate: DEFAULT_SAMPLE_RATE,
            jobs: 0,
            abc2midi: PathBuf::from("abc2midi"),
            fluidsynth: PathBuf::from("fluidsynth"),
            prune: true,
        }
    }

    /// The soundfont used when rendering.
    pub fn soundfont_path(&self) -> PathBuf {
        self.soundfont
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOUNDFONT))
    }
}

/// Errors that stop a build. Tunes that fail a step do not stop it: they are counted by
/// [`FailureCause`] in the [`BuildReport`].
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    /// The corpus folder does not exist.
    #[error("{}: music21 corpus folder not found (run scripts/benchmark/fetch_corpus.sh, or pass the `music21/corpus` folder of the music21 wheel)", path.display())]
    CorpusNotFound {
        /// The folder given.
        path: PathBuf,
    },
    /// A collection folder does not exist or holds no `.abc` file.
    #[error("{}: collection `{name}` not found or without .abc files in the corpus", path.display())]
    CollectionNotFound {
        /// The collection name.
        name: String,
        /// Its folder.
        path: PathBuf,
    },
    /// An external program could not be started.
    #[error("{}: cannot run {tool} ({source}); install the Debian package `{package}` (apt-get install {package})", program.display())]
    ToolMissing {
        /// The program's role (`abc2midi`, `fluidsynth`).
        tool: &'static str,
        /// The program as given in the options.
        program: PathBuf,
        /// The Debian package that provides it.
        package: &'static str,
        /// The spawn error.
        source: std::io::Error,
    },
    /// The soundfont file does not exist.
    #[error("{}: soundfont not found (install `timgm6mb-soundfont` for TimGM6mb.sf2 or `fluid-soundfont-gm` for FluidR3_GM.sf2)", path.display())]
    SoundfontNotFound {
        /// The soundfont path.
        path: PathBuf,
    },
    /// An external program failed on this many tunes in a row: it is broken (a bad soundfont,
    /// a wrong build), not the tunes, so the build stops instead of working through the corpus.
    #[error("{tool} failed on {count} tunes in a row, last: {last}")]
    ToolFailing {
        /// The program's role (`abc2midi`, `fluidsynth`).
        tool: &'static str,
        /// Consecutive failures.
        count: usize,
        /// The last failure, with the program's last output lines.
        last: String,
    },
    /// The options are inconsistent.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file of the output could not be read back.
    #[error("{}: line {line}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The cause.
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BenchmarkError + '_ {
    move |source| BenchmarkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why a tune was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCause {
    /// The tune's bytes are not UTF-8.
    NotUtf8,
    /// Another tune already has this id (two file names that sanitise alike).
    DuplicateId,
    /// Interleaving: no `V:1` line could be placed (the tune has no `K:` line).
    InterleaveNoBody,
    /// Interleaving: a voice could not be split into bars and barlines.
    InterleaveVoice,
    /// Interleaving: the voices have different numbers of bars.
    InterleaveUnequalBars,
    /// Interleaving: no bar holds notes.
    InterleaveEmptyPiece,
    /// Interleaving: a chord holds a length or another illegal symbol (`[C2E2]`).
    InterleaveIllegalChord,
    /// Interleaving: a voice lacks a bar the reference indexes.
    InterleaveMissingBar,
    /// Interleaving: another reason (e.g. an empty tune).
    InterleaveOther,
    /// The interleaved ABC does not patchilize (`M3Patchilizer.encode`).
    Patchilize,
    /// abc2midi failed or wrote no MIDI file.
    Abc2midi,
    /// The MIDI does not convert to MTF.
    Mtf,
    /// The MIDI has no sounding note.
    NoNotes,
    /// The interleaved ABC equals that of an item built earlier.
    DuplicateMusic,
    /// fluidsynth failed or wrote no complete WAV file.
    Audio,
}

impl FailureCause {
    /// The cause's name as written in the JSON outputs (kebab case).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCause::NotUtf8 => "not-utf8",
            FailureCause::DuplicateId => "duplicate-id",
            FailureCause::InterleaveNoBody => "interleave-no-body",
            FailureCause::InterleaveVoice => "interleave-voice",
            FailureCause::InterleaveUnequalBars => "interleave-unequal-bars",
            FailureCause::InterleaveEmptyPiece => "interleave-empty-piece",
            FailureCause::InterleaveIllegalChord => "interleave-illegal-chord",
            FailureCause::InterleaveMissingBar => "interleave-missing-bar",
            FailureCause::InterleaveOther => "interleave-other",
            FailureCause::Patchilize => "patchilize",
            FailureCause::Abc2midi => "abc2midi",
            FailureCause::Mtf => "mtf",
            FailureCause::NoNotes => "no-notes",
            FailureCause::DuplicateMusic => "duplicate-music",
            FailureCause::Audio => "audio",
        }
    }

    fn of_interleave(e: &InterleaveError) -> Self {
        match e {
            InterleaveError::NoBody => FailureCause::InterleaveNoBody,
            InterleaveError::Voice { .. } => FailureCause::InterleaveVoice,
            InterleaveError::UnequalBarCounts { .. } => FailureCause::InterleaveUnequalBars,
            InterleaveError::EmptyPiece => FailureCause::InterleaveEmptyPiece,
            InterleaveError::IllegalChordSymbol { .. } => FailureCause::InterleaveIllegalChord,
            InterleaveError::MissingBar { .. } => FailureCause::InterleaveMissingBar,
            _ => FailureCause::InterleaveOther,
        }
    }
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an item comes from in the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The `.abc` file, relative to the corpus folder (`essenFolksong/han1.abc`).
    pub file: String,
    /// 1-based position of the tune in the file.
    pub tune: usize,
    /// The tune's `X:` value.
    pub x: String,
}

/// One line of `benchmark.jsonl`: a WikiMT-X-style record (docs/reference.md §9.2 fields
/// `title`, `artists`, `genre`, `leadsheet`, `background`, `analysis`, `description`,
/// `scene`, plus the facts and the relative paths of this set's files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The item id (also every file's stem).
    pub id: String,
    /// The first `T:` value, if any.
    pub title: Option<String>,
    /// The other `T:` values.
    pub alternative_titles: Vec<String>,
    /// The `C:` values (composer or credit as written); empty when none.
    pub artists: Vec<String>,
    /// The `R:` value (genre or rhythm, in the corpus's language), if any.
    pub genre: Option<String>,
    /// English glosses of the genre (fixed glossary).
    pub genre_en: Vec<String>,
    /// The `O:` value (origin, in German for the Essen tunes), if any.
    pub region: Option<String>,
    /// The origin in English, most specific part first.
    pub region_en: Option<String>,
    /// The `K:` value.
    pub key: Option<String>,
    /// The `M:` value.
    pub meter: Option<String>,
    /// The collection (corpus folder).
    pub collection: String,
    /// The corpus file and tune number.
    pub source: Source,
    /// Bars of the interleaved ABC.
    pub bars: usize,
    /// Voices of the interleaved ABC.
    pub voices: usize,
    /// Sounding notes of the MIDI.
    pub notes: usize,
    /// Lowest and highest MIDI note as pitch names (`C4` = MIDI 60).
    pub pitch_range: Option<[String; 2]>,
    /// MIDI duration in seconds, to 0.1 s.
    pub duration_seconds: f64,
    /// The interleaved ABC text (the content of `abc`).
    pub leadsheet: String,
    /// History and context.
    pub background: String,
    /// Musical structure.
    pub analysis: String,
    /// General description, without title or composer.
    pub description: String,
    /// Imagery and mood.
    pub scene: String,
    /// `abc/<id>.abc`.
    pub abc: String,
    /// `mtf/<id>.mtf`.
    pub mtf: String,
    /// `midi/<id>.mid`.
    pub midi: String,
    /// `audio/<id>.wav`, or `None` when audio was not rendered.
    pub audio: Option<String>,
    /// `text/<id>.txt` (the description).
    pub text: String,
    /// The symbolic files (`abc`, `mtf`), as M4-RAG's `filepaths`: the set is directly a
    /// training set for `clamp3 train` (symbolic stage).
    #[serde(default)]
    pub filepaths: Vec<String>,
}

/// One line of `failures.jsonl`: a tune that was tried and skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The id the item would have had.
    pub id: String,
    /// The collection.
    pub collection: String,
    /// The corpus file and tune number.
    pub source: Source,
    /// The cause.
    pub cause: FailureCause,
    /// The detailed message (the converter's or tool's own).
    pub message: String,
}

/// Counts for one collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CollectionReport {
    /// The collection.
    pub name: String,
    /// Tunes in the corpus.
    pub available: usize,
    /// Tunes tried (built or failed).
    pub considered: usize,
    /// Items built.
    pub built: usize,
    /// Tunes skipped, by cause.
    pub failed: BTreeMap<FailureCause, usize>,
}

/// `manifest.json`: what a build was made with and what it holds (no timings, so that the
/// same options give the same file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format, 1.
    pub format: u32,
    /// The collections, in order.
    pub collections: Vec<String>,
    /// The limit.
    pub limit: Option<usize>,
    /// The seed.
    pub seed: u64,
    /// Whether audio was rendered.
    pub audio: bool,
    /// The soundfont (when audio was rendered).
    pub soundfont: Option<PathBuf>,
    /// The sample rate (when audio was rendered).
    pub sample_rate: Option<u32>,
    /// Items built.
    pub built: usize,
    /// Counts per collection.
    pub per_collection: Vec<CollectionReport>,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// The output folder.
    pub out: PathBuf,
    /// `benchmark.jsonl`.
    pub jsonl: PathBuf,
    /// `failures.jsonl`.
    pub failures: PathBuf,
    /// `manifest.json`.
    pub manifest: PathBuf,
    /// Counts per collection, in the options' order.
    pub collections: Vec<CollectionReport>,
    /// Items built.
    pub built: usize,
    /// Tunes tried.
    pub considered: usize,
    /// Output files written (new or changed).
    pub files_written: usize,
    /// Output files already present with the right content.
    pub files_unchanged: usize,
    /// WAV files rendered.
    pub audio_rendered: usize,
    /// WAV files kept from a previous build.
    pub audio_reused: usize,
    /// Stale files of a previous build removed.
    pub removed_stale: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl BuildReport {
    /// Tunes skipped, all causes.
    pub fn failed(&self) -> usize {
        self.collections
            .iter()
            .flat_map(|c| c.failed.values())
            .sum()
    }

    /// A plain-text table of the counts.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{:<16} {:>9} {:>10} {:>6}  failed\n",
            "collection", "available", "considered", "built"
        );
        for c in &self.collections {
            let failed: Vec<String> = c.failed.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!(
                "{:<16} {:>9} {:>10} {:>6}  {}\n",
                c.name,
                c.available,
                c.considered,
                c.built,
                failed.join(" ")
            ));
        }
        s.push_str(&format!(
            "built {} of {} considered; files written {}, unchanged {}; audio rendered {}, reused {}; stale removed {}; {:.1} s\n",
            self.built,
            self.considered,
            self.files_written,
            self.files_unchanged,
            self.audio_rendered,
            self.audio_reused,
            self.removed_stale,
            self.seconds
        ));
        s
    }
}

/// Progress of a build, reported after every tune tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Items built so far.
    pub built: usize,
    /// Items wanted (the limit, or every tune).
    pub target: usize,
    /// Tunes tried so far.
    pub considered: usize,
    /// Tunes skipped so far.
    pub failed: usize,
}

/// Reads `benchmark.jsonl` (or any file of [`Record`] lines).
pub fn read_records(path: &Path) -> Result<Vec<Record>, BenchmarkError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| BenchmarkError::Json {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// A tune converted in memory (phase A), waiting for audio and writing (phase B).
struct Converted {
    record: Record,
    midi: Vec<u8>,
    mtf: String,
}

/// A skipped tune.
struct Failure {
    cause: FailureCause,
    message: String,
}

impl Failure {
    fn new(cause: FailureCause, message: impl Into<String>) -> Self {
        Failure {
            cause,
            message: message.into(),
        }
    }
}

/// Relative output paths of an item.
fn rel_paths(id: &str) -> [String; 5] {
    [
        format!("abc/{id}.abc"),
        format!("midi/{id}.mid"),
        format!("mtf/{id}.mtf"),
        format!("text/{id}.txt"),
        format!("audio/{id}.wav"),
    ]
}

fn tool_missing(
    tool: &'static str,
    program: &Path,
    package: &'static str,
    e: std::io::Error,
) -> BenchmarkError {
    BenchmarkError::ToolMissing {
        tool,
        program: program.to_path_buf(),
        package,
        source: e,
    }
}

/// Consecutive failures of one external program after which the build stops.
const MAX_TOOL_STREAK: usize = 8;

/// Counts the external programs' failures in a row (any success or other failure resets it).
#[derive(Default)]
struct ToolStreak {
    tool: Option<&'static str>,
    count: usize,
}

impl ToolStreak {
    fn see(&mut self, failure: Option<&Failure>) -> Result<(), BenchmarkError> {
        let tool = failure.and_then(|f| match f.cause {
            FailureCause::Abc2midi => Some("abc2midi"),
            FailureCause::Audio => Some("fluidsynth"),
            _ => None,
        });
        match tool {
            Some(t) if self.tool == Some(t) => self.count += 1,
            Some(t) => {
                self.tool = Some(t);
                self.count = 1;
            }
            None => {
                self.tool = None;
                self.count = 0;
            }
        }
        match (self.tool, failure) {
            (Some(tool), Some(f)) if self.count >= MAX_TOOL_STREAK => {
                Err(BenchmarkError::ToolFailing {
                    tool,
                    count: self.count,
                    last: f.message.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Phase A: everything but audio, in memory. `Err` only for errors that stop the build.
fn convert(tune: &Tune, opts: &BuildOptions) -> Result<Result<Converted, Failure>, BenchmarkError> {
    let text = match std::str::from_utf8(&tune.bytes) {
        Ok(t) => t,
        Err(e) => return Ok(Err(Failure::new(FailureCause::NotUtf8, e.to_string()))),
    };
    let sheet = music::prepare_sheet(text);
    let leadsheet = match interleave_abc(&sheet) {
        Ok(abc) => abc,
        Err(e) => {
            return Ok(Err(Failure::new(
                FailureCause::of_interleave(&e),
                e.to_string(),
            )))
        }
    };
    if let Err(e) = clamp3_formats::patch::Patchilizer::new().encode(&leadsheet) {
        return Ok(Err(Failure::new(FailureCause::Patchilize, e.to_string())));
    }
    let midi = match tools::abc2midi(&opts.abc2midi, &tune.bytes) {
        Ok(m) => m,
        Err(ToolFailure::Spawn(e)) => {
            return Err(tool_missing("abc2midi", &opts.abc2midi, "abcmidi", e))
        }
        Err(e) => return Ok(Err(Failure::new(FailureCause::Abc2midi, e.to_string()))),
    };
    let mtf = match clamp3_formats::mtf::midi_to_mtf(&midi) {
        Ok(m) => m,
        Err(e) => return Ok(Err(Failure::new(FailureCause::Mtf, e.to_string()))),
    };
    let stats = music::mtf_stats(&mtf);
    if stats.notes == 0 {
        return Ok(Err(Failure::new(
            FailureCause::NoNotes,
            "the MIDI file has no note_on with a velocity above 0",
        )));
    }
    let (bars, voices) = music::bars_and_voices(&leadsheet);
    let range = stats
        .range
        .map(|(lo, hi)| (music::note_name(lo), music::note_name(hi)));
    let facts = text::Facts::from_fields(
        &Fields::parse(text),
        &tune.collection,
        &tune.file,
        text::MusicFacts {
            bars,
            voices,
            notes: stats.notes,
            range: range.clone(),
            seconds: stats.seconds,
        },
    );
    let [abc, midi_path, mtf_path, text_path, audio_path] = rel_paths(&tune.id);
    let record = Record {
        id: tune.id.clone(),
        title: facts.title.clone(),
        alternative_titles: facts.alt_titles.clone(),
        artists: facts.artists.clone(),
        genre: facts.genre.clone(),
        genre_en: facts.genre_en.iter().map(|g| g.to_string()).collect(),
        region: facts.region.clone(),
        region_en: facts.place.clone(),
        key: facts.key.clone(),
        meter: facts.meter.clone(),
        collection: tune.collection.clone(),
        source: Source {
            file: tune.file.clone(),
            tune: tune.index,
            x: tune.x.clone(),
        },
        bars,
        voices,
        notes: stats.notes,
        pitch_range: range.map(|(lo, hi)| [lo, hi]),
        duration_seconds: (stats.seconds * 10.0).round() / 10.0,
        leadsheet,
        background: facts.background(),
        analysis: facts.analysis(),
        description: facts.description(),
        scene: facts.scene(),
        filepaths: vec![abc.clone(), mtf_path.clone()],
        abc,
        mtf: mtf_path,
        midi: midi_path,
        audio: opts.audio.then_some(audio_path),
        text: text_path,
    };
    Ok(Ok(Converted { record, midi, mtf }))
}

/// File counters of phase B.
#[derive(Default)]
struct WriteStats {
    written: AtomicUsize,
    unchanged: AtomicUsize,
    rendered: AtomicUsize,
    reused: AtomicUsize,
}

/// Writes `bytes` to `path` unless it already holds exactly them.
fn write_if_changed(path: &Path, bytes: &[u8], stats: &WriteStats) -> Result<(), BenchmarkError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        stats.unchanged.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    clamp3_util::fs::write_atomic(path, bytes).map_err(io_err(path))?;
    stats.written.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Phase B: audio (when asked), then the item's files. `Ok(Err)` when the render failed
/// (nothing is written for the item then).
fn finish(
    item: &Converted,
    opts: &BuildOptions,
    reuse_audio: bool,
    stats: &WriteStats,
) -> Result<Result<(), Failure>, BenchmarkError> {
    let out = &opts.out;
    let r = &item.record;
    let midi_file = out.join(&r.midi);
    if let Some(audio) = &r.audio {
        let wav = out.join(audio);
        let unchanged_midi = std::fs::read(&midi_file).is_ok_and(|m| m == item.midi);
        if reuse_audio && unchanged_midi && tools::wav_is_complete(&wav, opts.sample_rate) {
            stats.reused.fetch_add(1, Ordering::Relaxed);
        } else {
            let soundfont = opts.soundfont_path();
            let mut rendered = Ok(());
            let written = clamp3_util::fs::write_atomic_via_path(&wav, |tmp| {
                rendered = tools::fluidsynth(
                    &opts.fluidsynth,
                    &soundfont,
                    opts.sample_rate,
                    &item.midi,
                    tmp,
                );
                rendered
                    .as_ref()
                    .map_err(|_| std::io::Error::other("fluidsynth failed"))
                    .map(|_| ())
            });
            match rendered {
                Ok(()) => written.map_err(io_err(&wav))?,
                Err(ToolFailure::Spawn(e)) => {
                    return Err(tool_missing(
                        "fluidsynth",
                        &opts.fluidsynth,
                        "fluidsynth",
                        e,
                    ))
                }
                Err(e) => return Ok(Err(Failure::new(FailureCause::Audio, e.to_string()))),
            }
            stats.rendered.fetch_add(1, Ordering::Relaxed);
        }
    }
    write_if_changed(&out.join(&r.abc), r.leadsheet.as_bytes(), stats)?;
    write_if_changed(&midi_file, &item.midi, stats)?;
    write_if_changed(&out.join(&r.mtf), item.mtf.as_bytes(), stats)?;
    write_if_changed(
        &out.join(&r.text),
        format!("{}\n", r.description).as_bytes(),
        stats,
    )?;
    Ok(Ok(()))
}

/// Builds (or brings up to date) the benchmark set described by `opts`; `progress` is
/// called after every tune tried (from worker threads).
pub fn build(
    opts: &BuildOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<BuildReport, BenchmarkError> {
    let start = Instant::now();
    if opts.collections.is_empty() {
        return Err(BenchmarkError::InvalidOptions("no collection given".into()));
    }
    if opts.audio && opts.sample_rate == 0 {
        return Err(BenchmarkError::InvalidOptions("sample rate 0".into()));
    }
    if !opts.corpus.is_dir() {
        return Err(BenchmarkError::CorpusNotFound {
            path: opts.corpus.clone(),
        });
    }
    tools::probe(&opts.abc2midi, "-ver")
        .map_err(|e| tool_missing("abc2midi", &opts.abc2midi, "abcmidi", e))?;
    if opts.audio {
        let sf = opts.soundfont_path();
        if !sf.is_file() {
            return Err(BenchmarkError::SoundfontNotFound { path: sf });
        }
        tools::probe(&opts.fluidsynth, "--version")
            .map_err(|e| tool_missing("fluidsynth", &opts.fluidsynth, "fluidsynth", e))?;
    }

    // the tunes, per collection
    let mut per_collection = Vec::new();
    let mut reports: Vec<CollectionReport> = Vec::new();
    for name in &opts.collections {
        let dir = opts.corpus.join(name);
        if !dir.is_dir() {
            return Err(BenchmarkError::CollectionNotFound {
                name: name.clone(),
                path: dir,
            });
        }
        let tunes = corpus::collection_tunes(&opts.corpus, name)
            .map_err(|(path, source)| BenchmarkError::Io { path, source })?;
        if tunes.is_empty() {
            return Err(BenchmarkError::CollectionNotFound {
                name: name.clone(),
                path: dir,
            });
        }
        reports.push(CollectionReport {
            name: name.clone(),
            available: tunes.len(),
            ..Default::default()
        });
        per_collection.push(tunes);
    }
    let candidates = corpus::candidate_order(per_collection, opts.seed);
    let target = opts.limit.unwrap_or(candidates.len());

    // the previous build, if any
    let out = &opts.out;
    let manifest_path = out.join("manifest.json");
    let previous: Option<Manifest> = std::fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let had_previous = manifest_path.exists();
    let reuse_audio = previous.as_ref().is_some_and(|p| {
        p.audio
            && p.soundfont.as_deref() == Some(opts.soundfont_path().as_path())
            && p.sample_rate == Some(opts.sample_rate)
    });
    for sub in ["abc", "midi", "mtf", "text", "audio"] {
        if sub == "audio" && !opts.audio {
            continue;
        }
        let d = out.join(sub);
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }

    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.jobs
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| BenchmarkError::InvalidOptions(format!("thread pool: {e}")))?;

    let index_of: BTreeMap<&str, usize> = opts
        .collections
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut records: Vec<Record> = Vec::new();
    let mut failures: Vec<FailureRecord> = Vec::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut seen_music: HashSet<String> = HashSet::new();
    let stats = WriteStats::default();
    let considered = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let built = AtomicUsize::new(0);
    let report_progress = || {
        progress(&Progress {
            built: built.load(Ordering::Relaxed),
            target,
            considered: considered.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
        })
    };
    let mut fail = |tune: &Tune, f: Failure, reports: &mut Vec<CollectionReport>| {
        if let Some(r) = index_of
            .get(tune.collection.as_str())
            .and_then(|&i| reports.get_mut(i))
        {
            *r.failed.entry(f.cause).or_insert(0) += 1;
        }
        failures.push(FailureRecord {
            id: tune.id.clone(),
            collection: tune.collection.clone(),
            source: Source {
                file: tune.file.clone(),
                tune: tune.index,
                x: tune.x.clone(),
            },
            cause: f.cause,
            message: f.message,
        });
    };

    // Consecutive failures of an external program (results are seen in candidate order).
    let mut streak = ToolStreak::default();
    let mut cursor = 0;
    while records.len() < target && cursor < candidates.len() {
        let need = target - records.len();
        let end = cursor.saturating_add(need).min(candidates.len());
        let batch = candidates.get(cursor..end).unwrap_or_default();
        cursor = end;
        // phase A, in parallel; results in candidate order
        let converted: Vec<Result<Result<Converted, Failure>, BenchmarkError>> =
            pool.install(|| {
                batch
                    .par_iter()
                    .map(|t| {
                        let r = convert(t, opts);
                        if !matches!(r, Ok(Ok(_))) {
                            considered.fetch_add(1, Ordering::Relaxed);
                            failed.fetch_add(1, Ordering::Relaxed);
                            report_progress();
                        }
                        r
                    })
                    .collect()
            });
        let mut pending: Vec<(&Tune, Converted)> = Vec::new();
        for (tune, result) in batch.iter().zip(converted) {
            if let Some(r) = index_of
                .get(tune.collection.as_str())
                .and_then(|&i| reports.get_mut(i))
            {
                r.considered += 1;
            }
            match result? {
                Err(f) => {
                    streak.see(Some(&f))?;
                    fail(tune, f, &mut reports)
                }
                Ok(c) => {
                    streak.see(None)?;
                    if !seen_ids.insert(c.record.id.clone()) {
                        considered.fetch_add(1, Ordering::Relaxed);
                        failed.fetch_add(1, Ordering::Relaxed);
                        report_progress();
                        fail(
                            tune,
                            Failure::new(
                                FailureCause::DuplicateId,
                                format!("id {} is taken", c.record.id),
                            ),
                            &mut reports,
                        );
                    } else if !seen_music.insert(c.record.leadsheet.clone()) {
                        considered.fetch_add(1, Ordering::Relaxed);
                        failed.fetch_add(1, Ordering::Relaxed);
                        report_progress();
                        fail(
                            tune,
                            Failure::new(
                                FailureCause::DuplicateMusic,
                                "the interleaved ABC equals an earlier item's",
                            ),
                            &mut reports,
                        );
                    } else {
                        pending.push((tune, c));
                    }
                }
            }
        }
        // phase B, in parallel
        let finished: Vec<Result<Result<(), Failure>, BenchmarkError>> = pool.install(|| {
            pending
                .par_iter()
                .map(|(_, c)| {
                    let r = finish(c, opts, reuse_audio, &stats);
                    considered.fetch_add(1, Ordering::Relaxed);
                    if matches!(r, Ok(Ok(()))) {
                        built.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    report_progress();
                    r
                })
                .collect()
        });
        for ((tune, c), result) in pending.into_iter().zip(finished) {
            match result? {
                Err(f) => {
                    streak.see(Some(&f))?;
                    fail(tune, f, &mut reports)
                }
                Ok(()) => {
                    streak.see(None)?;
                    if let Some(r) = index_of
                        .get(tune.collection.as_str())
                        .and_then(|&i| reports.get_mut(i))
                    {
                        r.built += 1;
                    }
                    records.push(c.record);
                }
            }
        }
    }

    // the index files
    let mut jsonl = String::new();
    for r in &records {
        jsonl.push_str(&to_json_line(r));
    }
    let jsonl_path = out.join("benchmark.jsonl");
    write_if_changed(&jsonl_path, jsonl.as_bytes(), &stats)?;
    let mut fjsonl = String::new();
    for f in &failures {
        fjsonl.push_str(&to_json_line(f));
    }
    let failures_path = out.join("failures.jsonl");
    write_if_changed(&failures_path, fjsonl.as_bytes(), &stats)?;
    let manifest = Manifest {
        format: 1,
        collections: opts.collections.clone(),
        limit: opts.limit,
        seed: opts.seed,
        audio: opts.audio,
        soundfont: opts.audio.then(|| opts.soundfont_path()),
        sample_rate: opts.audio.then_some(opts.sample_rate),
        built: records.len(),
        per_collection: reports.clone(),
    };
    let mut mjson = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    mjson.push('\n');
    write_if_changed(&manifest_path, mjson.as_bytes(), &stats)?;

    let removed_stale = if opts.prune {
        prune(out, &records, had_previous)?
    } else {
        0
    };

    Ok(BuildReport {
        out: out.clone(),
        jsonl: jsonl_path,
        failures: failures_path,
        manifest: manifest_path,
        built: records.len(),
        considered: reports.iter().map(|r| r.considered).sum(),
        collections: reports,
        files_written: stats.written.into_inner(),
        files_unchanged: stats.unchanged.into_inner(),
        audio_rendered: stats.rendered.into_inner(),
        audio_reused: stats.reused.into_inner(),
        removed_stale,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One JSON line. Serialising these plain structs cannot fail (string keys, finite
/// numbers: durations are finite sums), so an empty line would only mark a bug.
fn to_json_line<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Removes this builder's leftover temporary files (`.clamp3-*`) from the item folders and,
/// when `out` held a previous build, the item files that are not part of this build.
fn prune(out: &Path, records: &[Record], had_previous: bool) -> Result<usize, BenchmarkError> {
    let mut keep: HashSet<String> = HashSet::new();
    for r in records {
        keep.insert(r.abc.clone());
        keep.insert(r.midi.clone());
        keep.insert(r.mtf.clone());
        keep.insert(r.text.clone());
        if let Some(a) = &r.audio {
            keep.insert(a.clone());
        }
    }
    let mut removed = 0;
    for (sub, ext) in [
        ("abc", "abc"),
        ("midi", "mid"),
        ("mtf", "mtf"),
        ("text", "txt"),
        ("audio", "wav"),
    ] {
        let dir = out.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let leftover = name.starts_with(".clamp3-");
            let stale = had_previous
                && name.ends_with(&format!(".{ext}"))
                && !keep.contains(&format!("{sub}/{name}"));
            if leftover || stale {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
