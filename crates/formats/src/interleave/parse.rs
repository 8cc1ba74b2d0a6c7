//! abctoolkit 0.0.4 `extract_barline_and_bartext_dict`: metadata lines and, per voice, the
//! prefix, left barlines, bar texts and right barlines. Reproduced step by step, including
//! the quirks that decide what the reference outputs or where it raises.

use std::borrow::Cow;
use std::collections::HashMap;

use super::pystr::{self, is_decimal, strip, BARLINES};
use super::VoiceProblem;

/// One voice of the tune body, as abctoolkit splits it (borrowing from [`Parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Voice<'a> {
    /// The stripped `V:` line that starts the voice (`V:1`, `V:2 clef=bass`, ...).
    pub symbol: &'a str,
    /// Leading inline fields (e.g. `[K:G]`) before the first barline, else empty.
    pub prefix: Cow<'a, str>,
    pub left: Vec<Cow<'a, str>>,
    pub texts: Vec<Cow<'a, str>>,
    pub right: Vec<Cow<'a, str>>,
}

/// abctoolkit `extract_metadata_and_parts`: the metadata lines and each voice's text.
#[derive(Debug, Clone)]
pub(crate) struct Parts<'l> {
    /// Lines before the body (each with its `\n`).
    pub metadata: &'l [String],
    /// (symbol, text) in Python dict order: first appearance of each symbol; a repeated
    /// symbol keeps its first position and takes the last text.
    pub parts: Vec<(&'l str, String)>,
}

/// Why parsing failed: no body, or a voice that abctoolkit cannot split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    NoBody,
    Voice {
        voice: String,
        problem: VoiceProblem,
    },
}

/// Index of the last line whose stripped text is exactly `V:1` (`extract_metadata_and_tunebody`).
pub(crate) fn body_start<S: AsRef<str>>(lines: &[S]) -> Option<usize> {
    lines.iter().rposition(|l| strip(l.as_ref()) == "V:1")
}

/// `extract_metadata_and_parts(abc_lines)`.
pub(crate) fn parts<'l>(lines: &'l [String]) -> Result<Parts<'l>, ParseError> {
    let start = body_start(lines).ok_or(ParseError::NoBody)?;
    let (metadata, body) = lines.split_at(start);

    // voices start at lines beginning with `V:`
    let mut parts: Vec<(&'l str, String)> = Vec::new();
    let mut index_of: HashMap<&'l str, usize> = HashMap::new();
    let mut add_part = |symbol: &'l str, text: String| match index_of.get(symbol) {
        Some(&i) => {
            if let Some(p) = parts.get_mut(i) {
                p.1 = text;
            }
        }
        None => {
            index_of.insert(symbol, parts.len());
            parts.push((symbol, text));
        }
    };
    let mut symbol: &'l str = body.first().map_or("", |l| strip(l));
    let mut text = String::new();
    for line in body.iter().skip(1) {
        if line.starts_with("V:") {
            add_part(symbol, std::mem::take(&mut text));
            symbol = strip(line);
        } else {
            text.push_str(line);
        }
    }
    add_part(symbol, text);
    Ok(Parts { metadata, parts })
}

impl Parts<'_> {
    /// `extract_barline_and_bartext_dict`: every voice split into bars, in order.
    pub(crate) fn voices(&self) -> Result<Vec<Voice<'_>>, ParseError> {
        self.parts
            .iter()
            .map(|(symbol, text)| {
                let (prefix, left, texts, right) =
                    split_into_bars_and_barlines(text).map_err(|problem| ParseError::Voice {
                        voice: symbol.to_string(),
                        problem,
                    })?;
                Ok(Voice {
                    symbol,
                    prefix,
                    left,
                    texts,
                    right,
                })
            })
            .collect()
    }
}

type Split<'a> = (
    Cow<'a, str>,
    Vec<Cow<'a, str>>,
    Vec<Cow<'a, str>>,
    Vec<Cow<'a, str>>,
);

fn is_barline(s: &str) -> bool {
    BARLINES.contains(&s)
}

/// The characters that the volta/repeat affix loop moves onto the preceding barline.
fn is_affix_char(c: char) -> bool {
    matches!(c, '0'..='9' | ',' | '.' | '-' | ':')
}

/// `s.replace('\n', '')`, borrowing when there is nothing to remove.
fn without_newlines(s: &str) -> Cow<'_, str> {
    if s.contains('\n') {
        Cow::Owned(s.replace('\n', ""))
    } else {
        Cow::Borrowed(s)
    }
}

/// abctoolkit `split_into_bars_and_barlines(voice_text)`.
pub(crate) fn split_into_bars_and_barlines(voice_text: &str) -> Result<Split<'_>, VoiceProblem> {
    let pieces = pystr::split_barlines(strip(voice_text));
    // remove empty strings, then drop each piece equal to the piece before it (before
    // dropping, which comes to the same as collapsing runs of equal pieces)
    let filtered: Vec<&str> = pieces
        .into_iter()
        .filter(|p| !strip(p).is_empty())
        .collect();
    if filtered.is_empty() {
        return Err(VoiceProblem::NoMusic); // IndexError on bars[0]
    }
    let mut bars: Vec<Cow<'_, str>> = Vec::with_capacity(filtered.len());
    for (i, p) in filtered.iter().enumerate() {
        if i == 0 || filtered.get(i - 1) != Some(p) {
            bars.push(Cow::Borrowed(*p));
        }
    }

    let mut prefix: &str = "";
    let content_start = if is_barline(&bars[0]) {
        1
    } else if strip(&pystr::remove_square_bracket_information_field(&bars[0])).is_empty() {
        prefix = strip(filtered[0]); // bars[0] is filtered[0], not yet modified
        2
    } else {
        0
    };

    let n = bars.len();
    let mut j = content_start;
    while j < n {
        let cleaned: Cow<'_, str> = match &bars[j] {
            Cow::Borrowed(b) => without_newlines(strip(b)),
            Cow::Owned(o) => Cow::Owned(without_newlines(strip(o)).into_owned()),
        };
        let first = cleaned.chars().next();
        let starts_with_affix = matches!(first, Some(c) if is_decimal(c) || c == ':');
        if starts_with_affix {
            // Python: `for k in range(len(s)): if s[k] not in [...]: break` leaves k at the
            // first non-affix character, or at len(s) - 1 when every character is one.
            let chars: Vec<(usize, char)> = cleaned.char_indices().collect();
            let k = chars
                .iter()
                .position(|&(_, c)| !is_affix_char(c))
                .unwrap_or(chars.len().saturating_sub(1));
            let split_at = chars.get(k).map_or(cleaned.len(), |&(i, _)| i);
            let affix = cleaned[..split_at].to_string();
            bars[j] = Cow::Owned(strip(&cleaned[split_at..]).to_string());
            // bars[j - 1] with Python's negative index: j == 0 appends to the last element.
            let prev = if j == 0 { n - 1 } else { j - 1 };
            bars[prev].to_mut().push_str(&affix);
        } else {
            bars[j] = cleaned;
        }
        j += 2;
    }

    let half = n / 2;
    let get = |i: usize| bars[i].clone();
    type Bars<'b> = Vec<Cow<'b, str>>;
    let (left, texts, right): (Bars, Bars, Bars) = if is_barline(&bars[0]) {
        // right_barlines = [bars[i*2+2] for i in range(n//2)] needs an odd length
        if half > 0 && n.is_multiple_of(2) {
            return Err(VoiceProblem::MissingRightBarline);
        }
        (
            (0..half).map(|i| get(2 * i)).collect(),
            (0..half).map(|i| get(2 * i + 1)).collect(),
            (0..half).map(|i| get(2 * i + 2)).collect(),
        )
    } else if prefix.is_empty() {
        let mut left = vec![Cow::Borrowed("")];
        left.extend((0..half.saturating_sub(1)).map(|i| get(2 * i + 1)));
        (
            left,
            (0..half).map(|i| get(2 * i)).collect(),
            (0..half).map(|i| get(2 * i + 1)).collect(),
        )
    } else {
        let m = half.saturating_sub(1);
        (
            (0..m).map(|i| get(2 * i + 1)).collect(),
            (0..m).map(|i| get(2 * i + 2)).collect(),
            (0..m).map(|i| get(2 * i + 3)).collect(),
        )
    };
    if !(left.len() == texts.len() && texts.len() == right.len()) {
        return Err(VoiceProblem::UnequalBarElements);
    }
    Ok((Cow::Borrowed(prefix), left, texts, right))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (String, Vec<String>, Vec<String>, Vec<String>);

    fn split(s: &str) -> Owned {
        let (p, l, t, r) = split_into_bars_and_barlines(s).unwrap();
        let own = |v: Vec<Cow<'_, str>>| v.into_iter().map(|c| c.into_owned()).collect();
        (p.into_owned(), own(l), own(t), own(r))
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    // Expected values below were produced with abctoolkit 0.0.4's split_into_bars_and_barlines.
    #[test]
    fn plain_voice() {
        assert_eq!(
            split(" cB | A2 B2 |1 c :|2 d |]\n"),
            (
                String::new(),
                v(&["", "|", "|1", ":|2"]),
                v(&["cB", "A2 B2", "c", "d"]),
                v(&["|", "|1", ":|2", "|]"])
            )
        );
    }

    #[test]
    fn inline_field_prefix_and_left_barline() {
        assert_eq!(
            split("[K:G] |: abc | def :|"),
            (
                "[K:G]".to_string(),
                v(&["|:", "|"]),
                v(&["abc", "def"]),
                v(&["|", ":|"])
            )
        );
        assert_eq!(
            split("|: abc | def :|"),
            (
                String::new(),
                v(&["|:", "|"]),
                v(&["abc", "def"]),
                v(&["|", ":|"])
            )
        );
    }

    #[test]
    fn failures() {
        assert_eq!(
            split_into_bars_and_barlines(" \n"),
            Err(VoiceProblem::NoMusic)
        );
        assert_eq!(
            split_into_bars_and_barlines("abc"),
            Err(VoiceProblem::UnequalBarElements)
        );
        assert_eq!(
            split_into_bars_and_barlines("| abc"),
            Err(VoiceProblem::MissingRightBarline)
        );
    }

    #[test]
    fn quirks() {
        // a leading volta number on the first bar text wraps to the last element
        assert_eq!(
            split("2abc|def|"),
            (
                String::new(),
                v(&["", "|"]),
                v(&["abc", "def"]),
                v(&["|", "|2"])
            )
        );
        // an affix glued to a leading barline makes it a bar text
        assert_eq!(
            split("|1 abc|"),
            (String::new(), v(&[""]), v(&["|1"]), v(&["abc"]))
        );
        // all-affix text keeps its last character
        assert_eq!(
            split("a|12|b|"),
            (
                String::new(),
                v(&["", "|1", "|"]),
                v(&["a", "2", "b"]),
                v(&["|1", "|", "|"])
            )
        );
    }
}
