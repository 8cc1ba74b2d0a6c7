//! ASCII transliteration identical to Python `unidecode` 1.3.6 (docs/reference.md §5.4 step 2).
//!
//! The reference runs `unidecode(item)` on every ABC/MTF text before patching, so any
//! difference here changes the patches. Unidecode is context-free: each character is
//! replaced by a fixed string (possibly empty), ASCII passes through unchanged, and
//! characters without data (private use, planes 15-16, unassigned sections) vanish.
//!
//! Implementation: the per-character table of the `deunicode` crate (BSD-3-Clause,
//! pinned to the exact version the corrections were measured against), corrected by the
//! generated tables in [`table`](self): code point ranges Unidecode maps to `""` and
//! a few hundred code points whose Unidecode output differs. Those corrections are per-character
//! outputs obtained by running Python Unidecode 1.3.6 (GPL-2.0-or-later) over every
//! scalar value (`scripts/gen_unidecode_table.py`); no Unidecode source or table file is
//! copied. The result was checked equal to Unidecode 1.3.6 on all 1,112,064 scalar values
//! (`tests/unidecode.rs`, ignored test `exhaustive_against_full_dump`).
//!
//! Every output is ASCII; two code points produce newlines (U+2028 -> `"\n"`,
//! U+2029 -> `"\n\n"`), which matters for line splitting in [`crate::patch`].

use std::borrow::Cow;

mod table;

/// Version of Python Unidecode this module reproduces.
pub const UNIDECODE_VERSION: &str = table::UNIDECODE_VERSION;

/// Version of the `deunicode` crate the override tables were generated against.
pub const DEUNICODE_VERSION: &str = table::DEUNICODE_VERSION;

/// All 128 ASCII characters in order, so that [`unidecode_char`] can return a
/// `&'static str` for them.
const ASCII: &str = {
    const BYTES: [u8; 128] = {
        let mut bytes = [0u8; 128];
        let mut i = 0;
        while i < 128 {
            bytes[i] = i as u8;
            i += 1;
        }
        bytes
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("ASCII bytes are valid UTF-8"),
    }
};

/// Transliteration of one character, exactly as Python `unidecode(ch)` 1.3.6 returns it
/// (`""` where Unidecode has no data).
pub fn unidecode_char(ch: char) -> &'static str {
    let cp = u32::from(ch);
    if cp < 0x80 {
        let i = cp as usize;
        return ASCII.get(i..i + 1).unwrap_or("");
    }
    if let Ok(i) = table::REPLACE.binary_search_by_key(&cp, |&(c, _)| c) {
        return table::REPLACE.get(i).map_or("", |&(_, s)| s);
    }
    if in_empty_range(cp) {
        return "";
    }
    deunicode::deunicode_char(ch).unwrap_or("")
}

/// Whether `cp` lies in one of the generated ranges that Unidecode maps to `""`.
fn in_empty_range(cp: u32) -> bool {
    let i = table::EMPTY.partition_point(|&(start, _)| start <= cp);
    i > 0 && table::EMPTY.get(i - 1).is_some_and(|&(_, end)| cp <= end)
}

/// Transliterates `s` to ASCII exactly as Python `unidecode.unidecode(s)` 1.3.6 does.
pub fn unidecode(s: &str) -> String {
    unidecode_cow(s).into_owned()
}

/// Like [`unidecode`], but borrows the input when it is already ASCII (the common case
/// for ABC and MTF text), avoiding a copy.
pub fn unidecode_cow(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        out.push_str(unidecode_char(ch));
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_disjoint() {
        assert!(table::EMPTY.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(table::EMPTY.iter().all(|&(a, b)| a <= b && a >= 0x80));
        assert!(table::REPLACE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(table::REPLACE
            .iter()
            .all(|&(_, s)| s.is_ascii() && !s.is_empty()));
        // A code point is never both replaced and forced empty.
        assert!(table::REPLACE.iter().all(|&(c, _)| !in_empty_range(c)));
    }

    #[test]
    fn ascii_passes_through() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            assert_eq!(unidecode_char(c), c.to_string());
        }
        assert!(matches!(unidecode_cow("K:G\n|abc|"), Cow::Borrowed(_)));
    }

    #[test]
    fn range_edges() {
        // U+0241 and U+0242 are the first generated empty range; U+0240 is outside it.
        assert_eq!(unidecode_char('\u{241}'), "");
        assert_eq!(unidecode_char('\u{242}'), "");
        assert_ne!(unidecode_char('\u{240}'), "");
        // Private use area and planes 15-16 have no data in Unidecode.
        assert_eq!(unidecode_char('\u{e000}'), "");
        assert_eq!(unidecode_char('\u{10ffff}'), "");
    }
}
