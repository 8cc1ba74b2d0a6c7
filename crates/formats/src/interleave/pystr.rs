//! Python `str` semantics that the reference interleaving depends on.
//!
//! Rust's `char::is_whitespace`/`is_alphabetic`/`is_numeric` use other Unicode definitions than
//! Python's `str.isspace`/`isalpha`/`isnumeric` (e.g. Python counts U+001C..U+001F as
//! whitespace, Rust does not), so the classes come from tables generated with the oracle's
//! Python (see `py_unicode_tables.rs`). Also here: `repr()` and the handful of `re` patterns of
//! abctoolkit 0.0.4, hand-written so that they match Python's `re` exactly.

use std::borrow::Cow;

use super::py_unicode_tables as tables;

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python `str.isspace()` for one character (also the `\s` of `re`).
pub(crate) fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ')
    } else {
        in_ranges(&tables::SPACE, c)
    }
}

/// Python `str.isalpha()` for one character.
pub(crate) fn is_alpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        in_ranges(&tables::ALPHA, c)
    }
}

/// Python `str.isnumeric()` for one character.
pub(crate) fn is_numeric(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_ranges(&tables::NUMERIC, c)
    }
}

/// Python `str.isprintable()` for one character.
pub(crate) fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        (' '..='~').contains(&c)
    } else {
        in_ranges(&tables::PRINTABLE, c)
    }
}

/// The decimal value of a character for which Python's `str.isdecimal()` is true (the `\d`
/// of `re` and the digits `int()` accepts), or `None`.
pub(crate) fn decimal_value(c: char) -> Option<u32> {
    if c.is_ascii() {
        return c.to_digit(10);
    }
    let cp = c as u32;
    let i = tables::DECIMAL.partition_point(|&(_, hi, _)| hi < cp);
    match tables::DECIMAL.get(i) {
        Some(&(lo, _, v)) if lo <= cp => Some(v + (cp - lo)),
        _ => None,
    }
}

/// Python `re`'s `\d` (Unicode decimal digit).
pub(crate) fn is_decimal(c: char) -> bool {
    decimal_value(c).is_some()
}

/// Python `str.strip()` without arguments.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python `repr()` of a `str`.
pub(crate) fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// The first `n` characters of `s` (Python `s[:n]`).
pub(crate) fn take_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// abctoolkit's `Barlines`, in its order: `re.split` with their alternation tries them in this
/// order at each position (so `|]:` never wins over `|]`).
pub(crate) const BARLINES: [&str; 9] = ["|:", "::", ":|", "[|", "||", "|]", "|", "|]:", ":[|"];

/// Length of the barline that `Barline_regexPattern` matches at byte `i`, if any.
fn barline_at(b: &[u8], i: usize) -> Option<usize> {
    let rest = b.get(i..)?;
    if !matches!(rest.first(), Some(b'|' | b':' | b'[')) {
        return None; // every barline starts with one of these
    }
    BARLINES
        .iter()
        .find(|bl| rest.starts_with(bl.as_bytes()))
        .map(|bl| bl.len())
}

/// `re.split(Barline_regexPattern, s)`: text, barline, text, ..., text (the pattern captures).
pub(crate) fn split_barlines(s: &str) -> Vec<&str> {
    // Barline tokens are ASCII and UTF-8 continuation bytes never equal ASCII bytes, so a
    // byte scan finds the same matches as Python's code point scan.
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        match barline_at(b, i) {
            Some(len) => {
                out.push(&s[last..i]);
                out.push(&s[i..i + len]);
                i += len;
                last = i;
            }
            None => i += 1,
        }
    }
    out.push(&s[last..]);
    out
}

/// Non-overlapping matches of `OPEN [^CLOSE]* CLOSE` (`min_inner` = 0) or `OPEN [^CLOSE]+ CLOSE`
/// (`min_inner` = 1), as byte ranges, leftmost first: Python's `findall`/`sub` for abctoolkit's
/// `Quote_re`, `Exclaim_re`, `SquareBracket_re` and `Brace_re`. `open` and `close` are ASCII.
fn delimited_matches(s: &str, open: u8, close: u8, min_inner: usize) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != open {
            i += 1;
            continue;
        }
        // `[^close]` also matches `open` and newlines: the match ends at the next `close`.
        match b[i + 1..].iter().position(|&x| x == close) {
            None => break, // no closing delimiter after this one, nor after any later opener
            Some(off) => {
                if off < min_inner {
                    i += 1; // e.g. `!!` for `![^!]+!`: try again one character further
                } else {
                    let end = i + 1 + off + 1;
                    out.push((i, end));
                    i = end;
                }
            }
        }
    }
    out
}

fn remove_ranges<'a>(s: &'a str, ranges: &[(usize, usize)]) -> Cow<'a, str> {
    if ranges.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for &(a, b) in ranges {
        out.push_str(&s[last..a]);
        last = b;
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// `re.findall(Quote_re, s)` with `Quote_re = r'"[^"]*"'`.
pub(crate) fn find_quotes(s: &str) -> Vec<&str> {
    delimited_matches(s, b'"', b'"', 0)
        .into_iter()
        .map(|(a, b)| &s[a..b])
        .collect()
}

/// `re.findall(SquareBracket_re, s)` with `SquareBracket_re = r'\[[^\]]+\]'`.
pub(crate) fn find_square_brackets(s: &str) -> Vec<&str> {
    delimited_matches(s, b'[', b']', 1)
        .into_iter()
        .map(|(a, b)| &s[a..b])
        .collect()
}

/// `re.sub(Quote_re, '', s)`.
pub(crate) fn sub_quotes(s: &str) -> Cow<'_, str> {
    remove_ranges(s, &delimited_matches(s, b'"', b'"', 0))
}

/// `re.sub(Exclaim_re, '', s)` with `Exclaim_re = r'![^!]+!'` (decorations).
pub(crate) fn sub_exclaims(s: &str) -> Cow<'_, str> {
    remove_ranges(s, &delimited_matches(s, b'!', b'!', 1))
}

/// `re.sub(Brace_re, '', s)` with `Brace_re = r'\{[^}]+\}'` (grace notes).
pub(crate) fn sub_braces(s: &str) -> Cow<'_, str> {
    remove_ranges(s, &delimited_matches(s, b'{', b'}', 1))
}

/// abctoolkit `remove_square_bracket_information_field`: every `[...]` match whose second and
/// third characters are a letter (`str.isalpha`) and `:` is removed, all occurrences, in turn.
pub(crate) fn remove_square_bracket_information_field(s: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(s);
    for m in find_square_brackets(s) {
        let mut cs = m.chars().skip(1);
        let is_field = matches!((cs.next(), cs.next()), (Some(c1), Some(':')) if is_alpha(c1));
        if is_field {
            text = Cow::Owned(text.replace(m, ""));
        }
    }
    text
}

/// abctoolkit `remove_quote_text_annotations`: every `"..."` match whose second character is
/// one of `^ _ < > @` is removed, all occurrences, in turn (chord symbols stay).
pub(crate) fn remove_quote_text_annotations(s: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(s);
    for m in find_quotes(s) {
        if matches!(m.chars().nth(1), Some('^' | '_' | '<' | '>' | '@')) {
            text = Cow::Owned(text.replace(m, ""));
        }
    }
    text
}

/// `re.sub(r'%\d+$', '', line)`: `$` matches at the end or before a final `\n`; the only
/// possible match is `%` followed by the trailing run of `\d` digits.
pub(crate) fn remove_bar_number_comment(line: &str) -> Option<String> {
    let (body, nl) = match line.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (line, ""),
    };
    let digits_start = body
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_decimal(c))
        .last()
        .map(|(i, _)| i)?;
    let before = body[..digits_start].strip_suffix('%')?;
    Some(format!("{before}{nl}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_follows_python() {
        // Python: '\x1c'.isspace() is True, Rust's char::is_whitespace is false.
        assert!(is_space('\x1c'));
        assert!(is_space('\u{85}'));
        assert!(is_space('\u{3000}'));
        assert!(!is_space('\u{200b}'));
        assert!(!is_space('\u{180e}'));
        assert_eq!(strip("\x1f V:1 \u{2028}\n"), "V:1");
    }

    #[test]
    fn alpha_numeric_decimal_follow_python() {
        assert!(is_alpha('é') && is_alpha('中') && !is_alpha('\u{0301}') && !is_alpha('Ⅻ'));
        assert!(is_numeric('五') && is_numeric('²') && is_numeric('½'));
        assert_eq!(decimal_value('٣'), Some(3));
        assert_eq!(decimal_value('７'), Some(7));
        assert_eq!(decimal_value('²'), None);
        assert_eq!(decimal_value('五'), None);
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(repr("a'b"), "\"a'b\"");
        assert_eq!(repr("a\"b"), "'a\"b'");
        assert_eq!(repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(
            repr("\x1c\u{85}\u{2028}é\t\\"),
            "'\\x1c\\x85\\u2028é\\t\\\\'"
        );
        assert_eq!(repr("\u{10ffff}"), "'\\U0010ffff'");
    }

    #[test]
    fn barline_split_uses_alternation_order() {
        assert_eq!(split_barlines("a|]:b"), vec!["a", "|]", ":b"]);
        assert_eq!(split_barlines("a:[|b"), vec!["a", ":[|", "b"]);
        assert_eq!(split_barlines("::|"), vec!["", "::", "", "|", ""]);
        assert_eq!(split_barlines("|||"), vec!["", "||", "", "|", ""]);
        assert_eq!(split_barlines("ab"), vec!["ab"]);
    }

    #[test]
    fn delimited_patterns() {
        assert_eq!(sub_exclaims("!!a!b"), "!b");
        assert_eq!(sub_exclaims("x!fermata!y!"), "xy!");
        assert_eq!(find_quotes("a\"x\"b\"\"c\""), vec!["\"x\"", "\"\""]);
        assert_eq!(find_square_brackets("[][[K:G]x[a]"), vec!["[[K:G]", "[a]"]);
        assert_eq!(sub_braces("{}{{g}a"), "{}a");
        assert_eq!(
            remove_square_bracket_information_field("[K:G]a[CE][K:D]"),
            "a[CE]"
        );
        assert_eq!(
            remove_quote_text_annotations("\"^x\"A\"G\"B\"\""),
            "A\"G\"B\"\""
        );
    }

    #[test]
    fn bar_number_comment() {
        assert_eq!(
            remove_bar_number_comment("abc |%12\n").as_deref(),
            Some("abc |\n")
        );
        assert_eq!(
            remove_bar_number_comment("abc %%12").as_deref(),
            Some("abc %")
        );
        assert_eq!(remove_bar_number_comment("abc %12 \n"), None);
        assert_eq!(remove_bar_number_comment("abc %\n"), None);
        assert_eq!(remove_bar_number_comment("x%٣\n").as_deref(), Some("x\n"));
    }
}
