//! Training data of CLaMP 3 (docs/reference.md §4.2-§4.4, §9.1): M4-RAG-style JSONL records in, one
//! [`Pair`] (sampled text token ids and music model input) per record out; the training step
//! pads pairs into batches.
//!
//! Modules: `record` (JSONL records, screening), `text` (text sampling), `music` (the music
//! file: choosing, loading through `clamp3-input`, sampling), `crop` (the crop shared by all
//! three), `pair` (one pair per record), `split` (train/evaluation split and epoch order).
//!
//! The sampling *logic* is the reference's (`code/train_clamp3_symbolic.py`,
//! `code/train_clamp3_audio.py`, `remove_instrument_info` and `M3Patchilizer.encode` in
//! `code/utils.py`); the random numbers come from [`crate::rng::Rng`], so the draws differ
//! from Python's. Per training item, the draws happen in the reference's order:
//!
//! 1. text ([`sample_text`]): translations with p = 0.5; candidates de-duplicated; lines kept
//!    with p = 0.5 each (all of them when none survives); shuffled; joined with `</s>`;
//! 2. text crop ([`crop_range`]) when the ids exceed 128: head, tail or middle, one third
//!    each (evaluation: `analysis`, head crop);
//! 3. music file: a random entry of `filepaths` ([`pick_file`]);
//! 4. symbolic: `remove_instrument_info` with p = 0.9 ([`remove_instrument_info`]), patches
//!    with BOS/EOS, then the crop to 512 patches (*after* the special patches,
//!    docs/reference.md §4.8 #7); audio: the two zero vectors, then the crop to 128 vectors.
//!
//! Where this module deviates from the reference, and why (each place is also noted where it
//! happens):
//!
//! - **Random stream**: splitmix64 ([`Rng`]) instead of Python's Mersenne Twister; same
//!   decisions, same probabilities, different values. One generator is threaded through the
//!   items of a batch in order; its state is saved with every checkpoint, so a resumed run
//!   draws the same values.
//! - **De-duplication order**: candidates are de-duplicated keeping the first occurrence (the
//!   reference's `set` order depends on the hash seed, §4.8 #6). The lines are shuffled
//!   afterwards, so the distribution of sampled texts is the same. Likewise the candidate
//!   fields are visited in schema order, then unknown fields by name, rather than in the
//!   record's key order.
//! - **No text**: a record whose drawn candidates have no non-empty line gives `None` (the
//!   reference trains on the empty string, i.e. `<s></s>`); the translation branch counts as
//!   empty when its values have no non-empty line (the reference: when all values are empty
//!   strings; the two differ only for values made of newlines). [`screen`] reports such
//!   records up front.
//! - **Ill-typed fields**: a field is text when it is a string or a list of strings (nulls
//!   skipped); anything else is kept in [`Record::extra`] and never sampled (the reference
//!   ignores numbers and crashes on lists holding numbers). A missing or non-object
//!   `translations` makes the translation branch empty (the reference raises `KeyError`).
//! - **Music file choice** is restricted to the files of the stage's modality (the reference
//!   chooses among all `filepaths`); evaluation takes the first `.abc` file, else the first
//!   file of the modality (the reference: `filepaths[0]` if it is `.abc`, else
//!   `filepaths[1]`; audio: `filepaths[0]`).
//! - **Music formats**: MIDI, MusicXML and standard ABC are converted natively (and cached);
//!   the reference reads pre-converted `.abc`/`.mtf` only. `.npy` features must have shape
//!   (1, N, D) (the reference reshapes anything, docs/reference.md §6.1).
//! - **Evaluation text** must be a non-empty string `analysis` (the reference raises
//!   `KeyError` without one and tokenizes an empty one).
//! - **JSONL**: blank lines and a byte-order mark are skipped (the reference's `json.loads`
//!   fails on them).
//! - **Split**: at least one evaluation item (the reference's `int(n * 0.01)` is 0 below
//!   100 records, leaving an empty evaluation set); the reference's truncation of both sets
//!   to whole batches is left to the trainer.
//! - **Padding**: the training step pads each micro-batch to its longest item, where the
//!   reference pads to 128 / 512 / 128 always; masked positions contribute exact zeros, so the
//!   results are the same, faster.
//! - `remove_instrument_info` of an empty text returns it unchanged (the reference raises
//!   `IndexError`; the patchilizer then rejects the empty text).

mod crop;
mod music;
mod pair;
mod record;
mod split;
mod text;

use std::path::PathBuf;

use clamp3_model::Modality;

pub use crop::{crop, crop_ids, crop_range, CropMode};
pub use music::{
    pick_file, remove_instrument_info, sample_audio, sample_symbolic, AudioSample, Features,
    MusicFile, MusicStore, StoreStats, SymbolicSample, CACHE_VERSION, DEFAULT_MEMORY_BUDGET,
};
pub use pair::{sample_pair, Music, Pair, SampleConfig};
pub use record::{
    music_modality, read_jsonl, read_jsonl_from, screen, Field, Record, Screened, SkipReason,
    Skipped, EXCLUDED_FIELDS, TEXT_FIELDS,
};
pub use split::{epoch_order, eval_count, split, split_indices};
pub use text::{eval_text, sample_text};

pub use crate::rng::Rng;

/// Share of the records held out for evaluation when no evaluation file is given
/// (`EVAL_SPLIT`).
pub const EVAL_SPLIT: f64 = 0.01;
/// Probability of sampling the text from `translations` (`text_dropout`).
pub const TRANSLATION_P: f64 = 0.5;
/// Probability of keeping each text line (`TEXT_DROPOUT`).
pub const LINE_KEEP_P: f64 = 0.5;
/// Probability of applying [`remove_instrument_info`] to a symbolic training item.
pub const INSTRUMENT_REMOVAL_P: f64 = 0.9;
/// The separator the reference joins text lines with (`tokenizer.sep_token`).
pub const SEPARATOR: &str = "</s>";

/// Why data could not be read or sampled. Every variant names the file (and line) it
/// concerns where there is one; none of them is raised by a panic.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSONL line is not valid JSON.
    #[error("{}:{line}: invalid JSON: {source}", path.display())]
    Json {
        /// The JSONL file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// A JSONL line holds JSON that is not an object.
    #[error("{}:{line}: a record must be a JSON object, found {found}", path.display())]
    NotObject {
        /// The JSONL file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The JSON type found.
        found: &'static str,
    },
    /// A JSONL line is not valid UTF-8.
    #[error("{}:{line}: not valid UTF-8 ({source})", path.display())]
    NotUtf8 {
        /// The JSONL file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The decoder's message.
        source: std::str::Utf8Error,
    },
    /// A music file could not be turned into model input (unsupported kind, conversion
    /// failure, malformed `.npy`...).
    #[error("{}: {cause}", path.display())]
    Music {
        /// The music file.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
    /// A `.npy` file does not hold (1, N, D) features with N >= 1 and the expected D.
    #[error("{}: features must have shape (1, N, {dim}) with N >= 1, found {found:?}", path.display())]
    FeatureShape {
        /// The `.npy` file.
        path: PathBuf,
        /// The shape found.
        found: Vec<usize>,
        /// The expected feature size.
        dim: usize,
    },
    /// Symbolic text could not be cut into patches.
    #[error("symbolic input cannot be cut into patches: {0}")]
    Patch(#[from] clamp3_formats::patch::PatchError),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A record has no text to sample (see [`screen`]).
    #[error("record at line {line} (id {id:?}): no usable text")]
    NoText {
        /// 1-based JSONL line of the record (0 if it was not read from a file).
        line: usize,
        /// The record's id.
        id: Option<String>,
    },
    /// A record has no file of the stage's modality in `filepaths`.
    #[error("record at line {line} (id {id:?}): no {kind} file in filepaths")]
    NoMusicFile {
        /// 1-based JSONL line of the record.
        line: usize,
        /// The record's id.
        id: Option<String>,
        /// The modality looked for.
        kind: Modality,
    },
    /// An argument or a set of samples is inconsistent (a zero length, mixed patch sizes,
    /// a sample longer than the padding length...).
    #[error("{0}")]
    Invalid(String),
}
