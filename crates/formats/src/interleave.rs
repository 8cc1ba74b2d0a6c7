//! Standard ABC -> interleaved ABC (the reference's interleaving, docs/reference.md §5.3).
//!
//! Reproduces `preprocessing/abc/batch_interleaved_abc.py` of the reference (with the
//! abctoolkit 0.0.4 functions it calls) for one file's content: the same output text byte for
//! byte, the same warnings it only prints, and an error wherever the reference writes no
//! output (it gives up, or an exception makes it skip the file).
//!
//! Steps, in the reference's order (each is a faithful re-implementation, quirks included):
//! 1. read the text as Python's text mode does (`\r\n` and `\r` become `\n`), split it into
//!    lines and drop whitespace-only lines (`str.strip()`, Python's whitespace set);
//! 2. drop lines starting with `X:`, `T:`, `C:`, `W:`, `w:`, `Z:` or `%%MIDI`;
//! 3. the body starts at the last line that is `V:1` after stripping; remove trailing
//!    `%<digits>` bar-number comments from body lines;
//! 4. in lines that do not start with `<letter>:` or `%`: remove `\"`, and remove every `"..."`
//!    that contains a barline (in that case the `\"` removal is lost: reference behaviour);
//! 5. split voices into bars (`strip_empty_bars`), drop empty bars at both ends, re-wrap
//!    (as in the reference, music after a voice's last barline is dropped, or is an error
//!    when the voice starts with a barline; and the re-wrapped text is parsed again, so a bar
//!    text that held `:` + newline + `:` then holds the barline `::`);
//! 6. alignment check (`check_alignment_unrotated`): warnings, and one way to fail (a chord
//!    with characters other than notes and accidentals, e.g. `[C2E2]`, raises);
//! 7. rotate: one output line per bar, `[V:n]bar` for each voice.
//!
//! Python's character classes (`str.strip`, `isalpha`, `isnumeric`, the `\d` of `re`, `int()`
//! digits) come from tables generated with the oracle's Python 3.11 (Unicode 14.0); the
//! reference environment's Python 3.10 uses Unicode 13.0, so the two can differ only on
//! characters added in Unicode 14.

mod duration;
mod parse;
mod py_unicode_tables;
mod pystr;
mod rational;

use std::fmt;

use duration::BarDuration;
use parse::{ParseError, Voice};
use pystr::strip;
use std::borrow::Cow;

/// Why the reference gives no output for an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterleaveError {
    /// The input is empty (the reference's batch driver only takes files of size > 0).
    #[error("empty input")]
    EmptyInput,
    /// The bytes are not UTF-8 (the reference reads files as strict UTF-8 and skips the file
    /// on `UnicodeDecodeError`).
    #[error("input is not UTF-8 (invalid byte at offset {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// No line reads exactly `V:1` (after stripping), so there is no tune body
    /// (abctoolkit: "tunebody index not found.").
    #[error("no tune body: no line is exactly `V:1`")]
    NoBody,
    /// abctoolkit could not split a voice into bars and barlines.
    #[error("{stage}: voice `{voice}`: {problem}")]
    Voice {
        /// The step of the reference that failed.
        stage: Stage,
        /// The voice's `V:` line, stripped.
        voice: String,
        /// What was wrong with it.
        problem: VoiceProblem,
    },
    /// The voices have different numbers of bars ("Unequal bar numbers.").
    #[error("voice `{voice}` has {bars} bars but `V:1` has {expected}: the voices do not align")]
    UnequalBarCounts {
        /// The first voice (in order) whose bar count differs from `V:1`'s.
        voice: String,
        /// Its number of bars.
        bars: usize,
        /// `V:1`'s number of bars.
        expected: usize,
    },
    /// No voice has a bar with notes ("Empty piece.").
    #[error("empty piece: no voice has a bar with notes")]
    EmptyPiece,
    /// A chord holds a character other than note letters, `_ = ^ ' ,`, `[ ] -` (e.g. a
    /// length inside the brackets, `[C2E2]`): abctoolkit's duration check raises "Illegal
    /// symbol in []" and the reference skips the file.
    #[error("alignment check: illegal symbol in chord `{chord}`")]
    IllegalChordSymbol {
        /// The chord, brackets included.
        chord: String,
    },
    /// A voice has fewer bars than `V:1` where the reference indexes them.
    #[error("{stage}: voice `{voice}` has no bar {bar}")]
    MissingBar {
        /// The step of the reference that failed.
        stage: Stage,
        /// The voice's `V:` line, stripped.
        voice: String,
        /// The 0-based bar index.
        bar: usize,
    },
}

/// The step of the reference pipeline in which a voice failed to parse or lacked a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `strip_empty_bars` (first parse of the voices).
    StripEmptyBars,
    /// `check_alignment_unrotated` (parse of the re-wrapped voices; `rotate_abc` parses the
    /// same lines, so its parse errors are reported here).
    AlignmentCheck,
    /// `rotate_abc` (writing the bars out).
    Rotate,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::StripEmptyBars => "stripping empty bars",
            Stage::AlignmentCheck => "alignment check",
            Stage::Rotate => "rotating",
        })
    }
}

/// Why abctoolkit could not split a voice into bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoiceProblem {
    /// The voice has no text at all (IndexError in abctoolkit).
    #[error("the voice has no music")]
    NoMusic,
    /// Text without any barline, or a similar shape ("Unequal bar elements").
    #[error("unequal numbers of bars and barlines")]
    UnequalBarElements,
    /// The voice starts with a barline but does not end with one (IndexError in abctoolkit).
    #[error("the last bar has no right barline")]
    MissingRightBarline,
}

/// A warning that the reference only prints; the output is written all the same.
///
/// `Display` gives the text the reference prints (the driver's own messages without the
/// file path it puts in front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterleaveWarning {
    /// The voices' barlines differ ("Unequal barlines.").
    UnequalBarlines,
    /// abctoolkit could not compute a bar's duration; `reason` is Python's exception message.
    BarDurationUnknown {
        /// The bar text.
        bar: String,
        /// `str()` of the exception the reference caught.
        reason: String,
    },
    /// A voice's bar has another duration than `V:1`'s ("Odd bar duration").
    OddBarDuration {
        /// The voice's `V:` line, stripped.
        voice: String,
        /// The 0-based bar index.
        bar: usize,
    },
    /// The re-wrapped voices have different bar counts ("Unequal bar number").
    UnequalBarNumber,
    /// Some bar durations differ or could not be computed ("Unequal bar duration (unaligned)").
    UnequalBarDuration,
}

impl fmt::Display for InterleaveWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnequalBarlines => f.write_str("Unequal barlines."),
            Self::BarDurationUnknown { bar, reason } => write!(f, "{bar} {reason}"),
            // print('Odd bar duration ', symbol, ' bar ', i): print's separators included
            Self::OddBarDuration { voice, bar } => {
                write!(f, "Odd bar duration  {voice}  bar  {bar}")
            }
            Self::UnequalBarNumber => f.write_str("Unequal bar number"),
            Self::UnequalBarDuration => f.write_str("Unequal bar duration (unaligned)"),
        }
    }
}

/// The interleaved ABC of one input with the warnings the reference printed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interleaved {
    /// The output file's text.
    pub abc: String,
    /// The warnings, in the order the reference prints them.
    pub warnings: Vec<InterleaveWarning>,
}

/// Convert one standard-ABC file's text to interleaved ABC, exactly as the reference.
///
/// `abc` is the file's whole text (any line endings). Returns the text the reference writes
/// to the output `.abc` file, or the reason it writes none.
pub fn interleave_abc(abc: &str) -> Result<String, InterleaveError> {
    interleave_abc_with_warnings(abc).map(|r| r.abc)
}

/// [`interleave_abc_with_warnings`] for a file's raw bytes: strict UTF-8 decoding, as the
/// reference's `open(path, encoding='utf-8')` (a BOM is kept as U+FEFF, like Python's `utf-8`
/// codec does).
pub fn interleave_abc_bytes(abc: &[u8]) -> Result<Interleaved, InterleaveError> {
    match std::str::from_utf8(abc) {
        Ok(text) => interleave_abc_with_warnings(text),
        Err(e) => Err(InterleaveError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        }),
    }
}

/// [`interleave_abc`], also returning the warnings the reference prints.
pub fn interleave_abc_with_warnings(abc: &str) -> Result<Interleaved, InterleaveError> {
    if abc.is_empty() {
        return Err(InterleaveError::EmptyInput);
    }
    let text = universal_newlines(abc);
    let mut lines: Vec<String> = text
        .split_inclusive('\n')
        .filter(|l| !strip(l).is_empty())
        .filter(|l| !INFO_FIELDS.iter().any(|f| l.starts_with(f)))
        .map(str::to_string)
        .collect();

    // remove_bar_no_annotations
    let body = parse::body_start(&lines).ok_or(InterleaveError::NoBody)?;
    for line in lines.iter_mut().skip(body) {
        if let Some(cleaned) = pystr::remove_bar_number_comment(line) {
            *line = cleaned;
        }
    }

    // the driver's loop over escaped quotes and annotations that contain barlines
    for line in lines.iter_mut() {
        clean_quotes(line);
    }

    let mut warnings = Vec::new();
    let stripped = strip_empty_bars(&lines, &mut warnings)?;
    // check_alignment_unrotated and rotate_abc both parse the same re-wrapped lines: parse
    // once (a parse error is the alignment check's, which comes first).
    let parts = parse::parts(&stripped).map_err(|e| voice_error(Stage::AlignmentCheck, e))?;
    let voices = parts
        .voices()
        .map_err(|e| voice_error(Stage::AlignmentCheck, e))?;
    check_alignment(&voices, &mut warnings)?;
    let abc = rotate(parts.metadata, &voices)?;
    Ok(Interleaved { abc, warnings })
}

/// The `info_fields` the reference removes.
const INFO_FIELDS: [&str; 7] = ["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"];

/// Python's universal newlines (text-mode reading): `\r\n` and lone `\r` become `\n`.
fn universal_newlines(s: &str) -> Cow<'_, str> {
    if !s.contains('\r') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The driver's per-line cleanup: `if not (re.search(r'^[A-Za-z]:', line) or
/// line.startswith('%'))`, remove `\"`; then for each `"..."` of the *original* line and each
/// barline it contains, remove that quote from the line, which then replaces the line (so
/// the `\"` removal is dropped when any quote holds a barline).
fn clean_quotes(line: &mut String) {
    let is_field = matches!(line.as_bytes(), [c, b':', ..] if c.is_ascii_alphabetic());
    if is_field || line.starts_with('%') || !line.contains('"') {
        return; // without `"` neither step changes anything
    }
    let original = line.clone();
    let mut result = original.replace("\\\"", "");
    let mut current = original.clone();
    for quote in pystr::find_quotes(&original) {
        for barline in pystr::BARLINES {
            if quote.contains(barline) {
                current = current.replace(quote, "");
                result.clone_from(&current);
            }
        }
    }
    *line = result;
}

fn voice_error(stage: Stage, e: ParseError) -> InterleaveError {
    match e {
        ParseError::NoBody => InterleaveError::NoBody,
        ParseError::Voice { voice, problem } => InterleaveError::Voice {
            stage,
            voice,
            problem,
        },
    }
}

/// Python slice `v[a:b]` for non-negative bounds.
fn slice<T: Clone>(v: &[T], a: usize, b: usize) -> Vec<T> {
    let b = b.min(v.len());
    if a >= b {
        Vec::new()
    } else {
        v[a..b].to_vec()
    }
}

/// abctoolkit `strip_empty_bars`: the re-wrapped lines.
fn strip_empty_bars(
    lines: &[String],
    warnings: &mut Vec<InterleaveWarning>,
) -> Result<Vec<String>, InterleaveError> {
    let parts = parse::parts(lines).map_err(|e| voice_error(Stage::StripEmptyBars, e))?;
    let voices = parts
        .voices()
        .map_err(|e| voice_error(Stage::StripEmptyBars, e))?;
    let Some(v1) = voices.first() else {
        return Err(InterleaveError::NoBody);
    };
    let barlines_equal = voices
        .iter()
        .all(|v| v.left == v1.left && v.right == v1.right);
    if !barlines_equal {
        warnings.push(InterleaveWarning::UnequalBarlines);
    }
    if let Some(v) = voices.iter().find(|v| v.texts.len() != v1.texts.len()) {
        return Err(InterleaveError::UnequalBarCounts {
            voice: v.symbol.to_string(),
            bars: v.texts.len(),
            expected: v1.texts.len(),
        });
    }

    // union over voices of the non-empty bar ranges
    let mut left_all = v1.texts.len();
    let mut right_all = 0usize; // exclusive; the reference starts from -1 + 1
    let mut any_right = false;
    for v in &voices {
        let (l, r) = find_valid_bar_index(&v.texts);
        left_all = left_all.min(l);
        if !any_right || r > right_all {
            right_all = r;
            any_right = true;
        }
    }
    // `left >= right` with the reference's initial right of -1 when there are no voices
    if !any_right || left_all >= right_all {
        return Err(InterleaveError::EmptyPiece);
    }
    let (lo, hi) = (left_all, right_all);

    let mut out = parts.metadata.to_vec();
    for v in &voices {
        let first_left = v.left.first().cloned().unwrap_or_default();
        let mut left = vec![first_left];
        left.extend(slice(&v.left, lo + 1, hi));
        let mut right = slice(&v.right, lo, hi - 1);
        right.push(v.right.last().cloned().unwrap_or_default());
        let texts = slice(&v.texts, lo, hi);

        out.push(format!("{}\n", v.symbol));
        let mut line = format!("{}{} ", v.prefix, left.first().map_or("", |l| &**l));
        let mut line_len = 0usize;
        let mut k = 0;
        while k < texts.len() {
            let r = right.get(k).map_or("", |r| &**r);
            // bar = text + ' ' + right + ' '; Python len() counts code points
            let bar_len = texts[k].chars().count() + r.chars().count() + 2;
            if line_len == 0 || line_len + bar_len <= 100 {
                line.push_str(&texts[k]);
                line.push(' ');
                line.push_str(r);
                line.push(' ');
                line_len += bar_len;
                k += 1;
            } else {
                line.push('\n');
                out.push(std::mem::replace(&mut line, " ".to_string()));
                line_len = 0;
            }
        }
        if !strip(&line).is_empty() {
            line.push('\n');
            out.push(line);
        }
    }
    Ok(out)
}

/// abctoolkit `find_valid_bar_index`: (first bar with a letter other than rests `zZxX`, one
/// past the last bar with a note letter `A-G a-g`), both after removing decorations and text
/// annotations (and, on the right, inline fields).
fn find_valid_bar_index(texts: &[Cow<'_, str>]) -> (usize, usize) {
    let left = texts
        .iter()
        .position(|t| {
            let t = pystr::sub_exclaims(t);
            let t = pystr::remove_quote_text_annotations(&t);
            t.chars()
                .any(|c| pystr::is_alpha(c) && !matches!(c, 'Z' | 'z' | 'X' | 'x'))
        })
        .unwrap_or(texts.len());
    let right = texts
        .iter()
        .rposition(|t| {
            let t = pystr::sub_exclaims(t);
            let t = pystr::remove_square_bracket_information_field(&t);
            let t = pystr::remove_quote_text_annotations(&t);
            t.chars().any(|c| matches!(c, 'A'..='G' | 'a'..='g'))
        })
        .map_or(0, |i| i + 1);
    (left, right)
}

/// abctoolkit `check_alignment_unrotated` plus the driver's prints.
fn check_alignment(
    voices: &[Voice<'_>],
    warnings: &mut Vec<InterleaveWarning>,
) -> Result<(), InterleaveError> {
    let Some(v1) = voices.first() else {
        return Err(InterleaveError::NoBody);
    };
    let bar_no_equal = voices.iter().all(|v| v.texts.len() == v1.texts.len());
    let mut bar_dur_equal = true;
    let mut scratch = duration::Scratch::default();
    let mut duration =
        |bar: &str, warnings: &mut Vec<InterleaveWarning>| match duration::bar_duration(
            bar,
            &mut scratch,
        ) {
            Err(chord) => Err(InterleaveError::IllegalChordSymbol { chord }),
            Ok(BarDuration::Known(d)) => Ok(Some(d)),
            Ok(BarDuration::Unknown { reason }) => {
                warnings.push(InterleaveWarning::BarDurationUnknown {
                    bar: bar.to_string(),
                    reason,
                });
                Ok(None)
            }
        };
    for (i, bar) in v1.texts.iter().enumerate() {
        let Some(reference) = duration(bar, warnings)? else {
            bar_dur_equal = false;
            break;
        };
        for v in voices.iter().filter(|v| v.symbol != "V:1") {
            let text = v.texts.get(i).ok_or_else(|| InterleaveError::MissingBar {
                stage: Stage::AlignmentCheck,
                voice: v.symbol.to_string(),
                bar: i,
            })?;
            if duration(text, warnings)?.as_ref() != Some(&reference) {
                warnings.push(InterleaveWarning::OddBarDuration {
                    voice: v.symbol.to_string(),
                    bar: i,
                });
                bar_dur_equal = false;
            }
        }
    }
    if !bar_no_equal {
        warnings.push(InterleaveWarning::UnequalBarNumber);
    }
    if !bar_dur_equal {
        warnings.push(InterleaveWarning::UnequalBarDuration);
    }
    Ok(())
}

/// abctoolkit `rotate_abc`, joined: metadata lines, then one line per bar index with
/// `[<voice>]<bar><right barline>` for every voice (bar 0 also with prefix and left barline).
fn rotate(metadata: &[String], voices: &[Voice<'_>]) -> Result<String, InterleaveError> {
    let missing = |v: &Voice, bar: usize| InterleaveError::MissingBar {
        stage: Stage::Rotate,
        voice: v.symbol.to_string(),
        bar,
    };
    let mut out = String::new();
    for line in metadata {
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push('\n');
        }
    }
    let n_bars = voices.first().map_or(0, |v| v.texts.len());
    for v in voices {
        let (Some(l), Some(t), Some(r)) = (v.left.first(), v.texts.first(), v.right.first()) else {
            return Err(missing(v, 0));
        };
        out.push('[');
        out.push_str(v.symbol);
        out.push(']');
        out.push_str(&v.prefix);
        out.push_str(l);
        out.push_str(t);
        out.push_str(r);
    }
    out.push('\n');
    for i in 1..n_bars {
        for v in voices {
            let (Some(t), Some(r)) = (v.texts.get(i), v.right.get(i)) else {
                return Err(missing(v, i));
            };
            out.push('[');
            out.push_str(v.symbol);
            out.push(']');
            out.push_str(t);
            out.push_str(r);
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHORALE: &str = "X:1\nT:Title\n%%score [ 1 | 2 ]\nL:1/8\nM:4/4\nK:F\n\
        V:1 treble nm=\"Soprano\"\nV:2 bass nm=\"Bass\"\nV:1\n cB | A2 B2 !fermata!c2 e2 | c8 |] %3\n\
        V:2\n E2 | F2 E2 E2 E2 | C8 |] %3\n";

    // Expected outputs below were produced with the reference pipeline (abctoolkit 0.0.4).
    #[test]
    fn two_voice_piece() {
        let out = interleave_abc_with_warnings(CHORALE).unwrap();
        assert_eq!(
            out.abc,
            "%%score [ 1 | 2 ]\nL:1/8\nM:4/4\nK:F\nV:1 treble nm=\"Soprano\"\nV:2 bass nm=\"Bass\"\n\
             [V:1]cB|[V:2]E2|\n[V:1]A2 B2 !fermata!c2 e2|[V:2]F2 E2 E2 E2|\n[V:1]c8|][V:2]C8|]\n"
        );
        assert_eq!(out.warnings, vec![]);
    }

    #[test]
    fn bytes_are_decoded_strictly() {
        assert_eq!(
            interleave_abc_bytes(b"K:C\nV:1\nab|\xff\n"),
            Err(InterleaveError::NotUtf8 { valid_up_to: 11 })
        );
        assert_eq!(
            interleave_abc_bytes(b"").map(|r| r.abc),
            Err(InterleaveError::EmptyInput)
        );
        assert_eq!(
            interleave_abc_bytes(b"K:C\nV:1\nab|\n").map(|r| r.abc),
            Ok("K:C\n[V:1]ab|\n".to_string())
        );
    }

    #[test]
    fn crlf_is_read_as_python_text_mode() {
        let crlf = CHORALE.replace('\n', "\r\n");
        assert_eq!(interleave_abc(&crlf), interleave_abc(CHORALE));
        let cr = CHORALE.replace('\n', "\r");
        assert_eq!(interleave_abc(&cr), interleave_abc(CHORALE));
    }

    #[test]
    fn failures() {
        assert_eq!(interleave_abc(""), Err(InterleaveError::EmptyInput));
        assert_eq!(
            interleave_abc("X:1\nK:C\nabc|\n"),
            Err(InterleaveError::NoBody)
        );
        assert_eq!(
            interleave_abc("K:C\nV:1\nabc|def|\nV:2\nabc|\n"),
            Err(InterleaveError::UnequalBarCounts {
                voice: "V:2".into(),
                bars: 1,
                expected: 2
            })
        );
        assert_eq!(
            interleave_abc("K:C\nV:1\nz4|x4|\n"),
            Err(InterleaveError::EmptyPiece)
        );
        assert_eq!(
            interleave_abc("K:C\nV:1\n[C2E2] z|\n"),
            Err(InterleaveError::IllegalChordSymbol {
                chord: "[C2E2]".into()
            })
        );
        assert_eq!(
            interleave_abc("K:C\nV:1\nabc\n"),
            Err(InterleaveError::Voice {
                stage: Stage::StripEmptyBars,
                voice: "V:1".into(),
                problem: VoiceProblem::UnequalBarElements
            })
        );
    }

    #[test]
    fn warnings_in_print_order() {
        let out = interleave_abc_with_warnings("K:C\nV:1\nA2 B2|c4|]\nV:2\nA2|c4:|\n").unwrap();
        let printed: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            printed,
            vec![
                "Unequal barlines.",
                "Odd bar duration  V:2  bar  0",
                "Unequal bar duration (unaligned)"
            ]
        );
    }

    #[test]
    fn quote_with_barline_keeps_escaped_quotes() {
        // the driver's loop: once a quote holds a barline, the line without that quote
        // replaces the one without `\"`
        let out =
            interleave_abc_with_warnings("K:C\nV:1\nA\\\"B \"^x|y\" c|d \"^q\" \\\"|\n").unwrap();
        assert_eq!(out.abc, "K:C\n[V:1]A\\\"B \"^x|\n");
        let printed: Vec<String> = out.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            printed,
            vec![
                r#"A\"B "^x Invalid literal for Fraction: '\\'"#,
                "Unequal bar duration (unaligned)"
            ]
        );
    }

    #[test]
    fn voices_body_and_fields() {
        // a repeated voice keeps its first position and its last text
        assert_eq!(
            interleave_abc("K:C\nV:1\nab|\nV:2\ncd|\nV:2\nef|\n").unwrap(),
            "K:C\n[V:1]ab|[V:2]ef|\n"
        );
        // the body starts at the last `V:1`: earlier music stays in the metadata
        assert_eq!(
            interleave_abc("K:C\nV:1\nab|\nV:1\ncd|\n").unwrap(),
            "K:C\nV:1\nab|\n[V:1]cd|\n"
        );
        // Python-whitespace-only lines go (U+001C is whitespace in Python, not in Rust)
        assert_eq!(
            interleave_abc("K:C\n\u{1c} \nV:1\nab|\n").unwrap(),
            "K:C\n[V:1]ab|\n"
        );
        // information fields and lyrics go, wherever they are
        assert_eq!(
            interleave_abc("X:1\nT:t\nw:la\nK:C\nV:1\nab|\nW:x\n").unwrap(),
            "K:C\n[V:1]ab|\n"
        );
        // bar-number comments go
        assert_eq!(
            interleave_abc("K:C\nV:1\nab|cd|%12\n").unwrap(),
            "K:C\n[V:1]ab|\n[V:1]cd|\n"
        );
    }

    #[test]
    fn empty_leading_bars_are_stripped_keeping_prefix_and_first_barline() {
        assert_eq!(
            interleave_abc("K:C\nV:1\n[K:G] |: z4 | ab :|1 c2 :|2 de |]\n").unwrap(),
            "K:C\n[V:1][K:G]|:ab:|1\n[V:1]c2:|2\n[V:1]de|]\n"
        );
    }
}
