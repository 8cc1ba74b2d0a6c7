//! Text sampling (reference `text_dropout`) and the evaluation text.

use super::record::{dedup_first, has_line};
use super::{Record, Rng, LINE_KEEP_P, SEPARATOR, TRANSLATION_P};

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
