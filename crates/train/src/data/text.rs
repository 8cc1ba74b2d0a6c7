//! Text sampling (reference `text_dropout`), evaluation text, and the head/tail/middle crop
//! shared by text, patches and audio vectors (reference `random_truncate` and the crop in
//! `M3Patchilizer.encode`).

use std::ops::Range;

use clamp3::tokenizer::TextTokenizer;

use super::record::{dedup_first, has_line};
use super::{Record, Rng, LINE_KEEP_P, SEPARATOR, TRANSLATION_P};

/// How a sequence longer than the limit is cropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropMode {
    /// Training: head, tail or middle with probability 1/3 each; a middle crop starts
    /// uniformly in `1..=len - max_len` (never at 0, so it can coincide with the tail crop,
    /// exactly as the reference's `random.randint(1, len - max_len)`).
    Random,
    /// Evaluation: the first `max_len` items.
    Head,
}

impl CropMode {
    /// [`Random`](Self::Random) when training, [`Head`](Self::Head) otherwise.
    pub fn for_training(train: bool) -> Self {
        if train {
            CropMode::Random
        } else {
            CropMode::Head
        }
    }
}

/// The window kept of a sequence of `len` items: `0..len` when `len <= max_len` (no random
/// draw, as the reference only crops longer inputs), otherwise a crop of exactly `max_len`
/// items chosen by `mode`. Nothing is re-added after cropping: a crop can lack `<s>`, `</s>`,
/// the BOS/EOS patches or the zero vectors, as in the reference.
pub fn crop_range(len: usize, max_len: usize, rng: &mut Rng, mode: CropMode) -> Range<usize> {
    if len <= max_len {
        return 0..len;
    }
    let choice = match mode {
        CropMode::Head => 0,
        CropMode::Random => rng.below(3),
    };
    match choice {
        0 => 0..max_len,
        1 => len - max_len..len,
        _ => {
            let start = rng.range_inclusive(1, len - max_len);
            start..start + max_len
        }
    }
}

/// `v` cropped to [`crop_range`]`(v.len(), max_len, rng, mode)`.
pub fn crop<T>(mut v: Vec<T>, max_len: usize, rng: &mut Rng, mode: CropMode) -> Vec<T> {
    let r = crop_range(v.len(), max_len, rng, mode);
    v.truncate(r.end);
    v.drain(..r.start);
    v
}

/// Token ids cropped as the reference crops text ids longer than `max_len` (128): the ids
/// of the window only, `<s>`/`</s>` kept only where they fall inside it.
pub fn crop_ids(ids: Vec<u32>, max_len: usize, rng: &mut Rng, mode: CropMode) -> Vec<u32> {
    crop(ids, max_len, rng, mode)
}

/// The training text of a record, before tokenization (reference `text_dropout`):
///
/// 1. with probability [`TRANSLATION_P`], the candidates are the `translations` values
///    except `language` ([`Record::translation_candidates`]);
/// 2. if that branch was not drawn or has no non-empty line, the candidates are the main
///    fields ([`Record::text_candidates`]);
/// 3. candidates are de-duplicated (whole values, first occurrence kept), joined with `\n`
///    and split into lines (so lines themselves are *not* de-duplicated);
/// 4. each non-empty line is kept with probability [`LINE_KEEP_P`]; if none is kept, *all*
///    lines are, empty ones included (the reference's fallback, reproduced: such a text
///    holds `</s></s>` runs where the fields had blank lines);
/// 5. the lines are shuffled and joined with `</s>`.
///
/// `None` when the candidates drawn have no non-empty line (the reference would train on an
/// empty text); never `None` when [`Record::has_text`] holds.
pub fn sample_text(rec: &Record, rng: &mut Rng) -> Option<String> {
    let mut candidates = if rng.chance(TRANSLATION_P) {
        rec.translation_candidates()
    } else {
        Vec::new()
    };
    // Deviation (documented in the module): the branch counts as empty when it has no
    // non-empty line, not only when all its values are empty strings.
    if !candidates.iter().any(|c| has_line(c)) {
        candidates = rec.text_candidates();
    }
    // Deviation: first-occurrence order instead of `set` order; the lines are shuffled
    // below, so the sampled texts have the same distribution.
    dedup_first(&mut candidates);
    let lines: Vec<&str> = candidates.iter().flat_map(|c| c.split('\n')).collect();
    if !lines.iter().any(|l| !l.is_empty()) {
        return None;
    }
    let mut selected = Vec::with_capacity(lines.len());
    for &line in &lines {
        // Same short-circuit as `len(c) > 0 and random.random() < 0.5`: no draw for empty
        // lines.
        if !line.is_empty() && rng.chance(LINE_KEEP_P) {
            selected.push(line);
        }
    }
    if selected.is_empty() {
        selected = lines;
    }
    rng.shuffle(&mut selected);
    Some(selected.join(SEPARATOR))
}

/// The evaluation text of a record: its `analysis` field as is (no line handling: the
/// reference tokenizes `item["analysis"]` directly, newlines included). `None` when
/// `analysis` is missing, empty or a list.
pub fn eval_text(rec: &Record) -> Option<String> {
    rec.analysis
        .as_ref()
        .and_then(|f| f.as_text())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The text ids of one item, as the reference's `__getitem__` builds them: training samples
/// [`sample_text`] and crops at random, evaluation takes [`eval_text`] and crops the head;
/// both tokenize with special tokens (`<s> … </s>`, every `</s>` separator becoming id 2)
/// and crop only when longer than `max_len`. `None` when the record has no such text (or,
/// which does not happen with the XLM-R tokenizer, when tokenization fails).
pub fn text_ids(
    rec: &Record,
    tokenizer: &TextTokenizer,
    max_len: usize,
    rng: &mut Rng,
    train: bool,
) -> Option<Vec<u32>> {
    let text = if train {
        sample_text(rec, rng)?
    } else {
        eval_text(rec)?
    };
    let ids = tokenizer.encode(&text).ok()?;
    Some(crop_ids(ids, max_len, rng, CropMode::for_training(train)))
}
