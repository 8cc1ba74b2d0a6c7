//! M3 patchilizer: interleaved ABC or MTF text -> fixed-size integer patches
//! (docs/reference.md §5.4).
//!
//! Reproduces the reference `M3Patchilizer.encode(item, add_special_patches=True)` of
//! `code/utils.py` as called at inference:
//!
//! 1. remove every `"L:1/8\n"`, then transliterate with [`crate::unidecode`] (Unidecode 1.3.6);
//! 2. split into lines that keep their `\n` (only `\n` ends a line; `\r` is ordinary text);
//! 3. MTF mode when the first space-separated token of the first line is `ticks_per_beat`,
//!    otherwise ABC mode (header lines are whole patches, other lines are cut into bars);
//! 4. wrap with a BOS and an EOS patch, turn each patch string into `[1] + bytes + [2]`,
//!    truncate to `patch_size` ids and right-pad with 0.
//!
//! After step 1 the text is ASCII, so every id is below 128 and a character count equals a
//! byte count; the whole module works on bytes.
//!
//! The model consumes the result as a `[P, patch_size]` integer tensor; [`Patches`] stores
//! exactly that, row-major in one `Vec<u8>` (see [`Patches::as_flat`], [`Patches::to_u32_vec`],
//! [`Patches::to_i64_vec`]).

use crate::unidecode::unidecode_cow;
use std::borrow::Cow;
use thiserror::Error;

/// Ids per patch in every released CLaMP 3 / M3 configuration (`PATCH_SIZE` in `config.py`).
pub const PATCH_SIZE: usize = 64;
/// Padding id, fills a patch after its EOS id.
pub const PAD_ID: u8 = 0;
/// Beginning-of-patch id; also fills the whole BOS patch.
pub const BOS_ID: u8 = 1;
/// End-of-patch id; also fills the EOS patch after its leading BOS id.
pub const EOS_ID: u8 = 2;
/// Mask id (pre-training only); ids up to this one are dropped by [`patch_to_bar`].
pub const MASK_ID: u8 = 3;

/// Barline delimiters in the reference's regex alternation order (`|:` is tried first, bare
/// `|` last); the leftmost match wins and, at one position, the earliest alternative.
pub const BARLINES: [&str; 7] = ["|:", "::", ":|", "[|", "||", "|]", "|"];

/// The exact substring the reference removes before transliteration (other `L:` values stay).
const DEFAULT_UNIT_LENGTH_LINE: &str = "L:1/8\n";

/// Which of the two symbolic formats the patchilizer detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolicKind {
    /// Interleaved ABC notation: header lines and per-voice bars become patches.
    Abc,
    /// MIDI Text Format: runs of same-type messages are packed into patches.
    Mtf,
}

impl SymbolicKind {
    /// Mode test of the reference on *prepared* text (see [`prepare`]): MTF when the first
    /// line's text up to its first space is exactly `ticks_per_beat`. `None` when the text is
    /// empty (the reference raises `IndexError` there).
    pub fn detect(prepared: &str) -> Option<Self> {
        let first = prepared.split_inclusive('\n').next()?;
        Some(if first_token(first.as_bytes()) == b"ticks_per_beat" {
            SymbolicKind::Mtf
        } else {
            SymbolicKind::Abc
        })
    }
}

/// Why a text cannot be patchilized. The reference raises (and its caller skips the file)
/// in exactly these cases.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// Nothing is left after removing `L:1/8\n` and transliterating (the reference fails
    /// with `IndexError` on `lines[0]`).
    #[error("symbolic input is empty after removing \"L:1/8\\n\" and transliteration")]
    Empty,
    /// An ABC body line consisting of a single barline and nothing else (not even `\n`, so
    /// it is the last line): the reference's `split_bars` fails with `IndexError`.
    #[error("ABC line {line_number} is a lone barline {line:?} with no bar after it")]
    LoneBarline {
        /// 1-based line number in the prepared (transliterated) text.
        line_number: usize,
        /// The offending line.
        line: String,
    },
    /// `patch_size` must be at least 1.
    #[error("invalid patch size {0}: must be at least 1")]
    InvalidPatchSize(usize),
    /// Transliteration left a non-ASCII character. Cannot happen with the shipped tables
    /// (checked on every Unicode scalar value); kept so a table regression is an error, not
    /// silent out-of-range ids.
    #[error("non-ASCII byte 0x{byte:02x} at byte offset {offset} after transliteration")]
    NonAscii {
        /// Byte offset in the prepared text.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
}

/// Patches of one input, `len() x patch_size()` ids stored row-major in one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patches {
    ids: Vec<u8>,
    patch_size: usize,
}

impl Patches {
    /// Number of patches `P` (BOS and EOS patches included).
    pub fn len(&self) -> usize {
        self.ids.len() / self.patch_size
    }

    /// Whether there are no patches (never the case for [`Patchilizer::encode`] output).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Ids per patch.
    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// All ids, row-major `[P, patch_size]`.
    pub fn as_flat(&self) -> &[u8] {
        &self.ids
    }

    /// Consumes `self`, returning the row-major `[P, patch_size]` ids.
    pub fn into_flat(self) -> Vec<u8> {
        self.ids
    }

    /// Patch `i`, or `None` when out of range.
    pub fn patch(&self, i: usize) -> Option<&[u8]> {
        let start = i.checked_mul(self.patch_size)?;
        self.ids.get(start..start.checked_add(self.patch_size)?)
    }

    /// Patches `range` as one row-major slice (e.g. a 512-patch segment, §6.2), or `None`
    /// when out of range.
    pub fn rows(&self, range: std::ops::Range<usize>) -> Option<&[u8]> {
        let start = range.start.checked_mul(self.patch_size)?;
        let end = range.end.checked_mul(self.patch_size)?;
        self.ids.get(start..end)
    }

    /// Iterates over the patches in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, u8> {
        self.ids.chunks_exact(self.patch_size)
    }

    /// The ids widened to `u32`, row-major (for a `[P, patch_size]` u32 tensor).
    pub fn to_u32_vec(&self) -> Vec<u32> {
        self.ids.iter().map(|&b| u32::from(b)).collect()
    }

    /// The ids widened to `i64`, row-major (for a `[P, patch_size]` i64 tensor).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        self.ids.iter().map(|&b| i64::from(b)).collect()
    }

    /// The patches as separate vectors (convenient for tests and JSON, not for the model).
    pub fn to_nested(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
}

/// Removes every `L:1/8\n` and transliterates with Unidecode 1.3.6: the text the reference
/// splits into lines. Borrows when nothing changes.
pub fn prepare(text: &str) -> Cow<'_, str> {
    if text.contains(DEFAULT_UNIT_LENGTH_LINE) {
        let removed = text.replace(DEFAULT_UNIT_LENGTH_LINE, "");
        Cow::Owned(unidecode_cow(&removed).into_owned())
    } else {
        unidecode_cow(text)
    }
}

/// Inverse of one patch (reference `patch2bar`): the characters of all ids above
/// [`MASK_ID`], i.e. without BOS/EOS/pad/mask ids. Ids map to chars like Python `chr`.
pub fn patch_to_bar(patch: &[u8]) -> String {
    patch
        .iter()
        .filter(|&&id| id > MASK_ID)
        .map(|&id| char::from(id))
        .collect()
}

/// Reference `decode`: the concatenation of [`patch_to_bar`] over all patches. For ABC this
/// gives back the prepared text minus dropped parts and truncated tails; MTF runs keep
/// their `\t` packing.
pub fn decode(patches: &Patches) -> String {
    patches.iter().map(patch_to_bar).collect()
}

/// The M3 patchilizer (reference `M3Patchilizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patchilizer {
    patch_size: usize,
}

impl Default for Patchilizer {
    fn default() -> Self {
        Patchilizer {
            patch_size: PATCH_SIZE,
        }
    }
}

/// One patch before id conversion: a slice of the prepared text, optionally followed by a
/// `\n` (the reference appends one to a line's last bar), or an MTF run built by merging.
enum PatchText<'a> {
    Slice(&'a [u8], bool),
    Owned(Vec<u8>),
}

impl Patchilizer {
    /// A patchilizer with the released patch size, [`PATCH_SIZE`] (64).
    pub fn new() -> Self {
        Self::default()
    }

    /// A patchilizer for a model configured with another patch size. The reference reads
    /// one global `PATCH_SIZE` for the MTF merge limit (`patch_size - 2`), the BOS/EOS
    /// patches and the truncation, so changing it changes all three; so does this.
    pub fn with_patch_size(patch_size: usize) -> Result<Self, PatchError> {
        if patch_size == 0 {
            return Err(PatchError::InvalidPatchSize(patch_size));
        }
        Ok(Patchilizer { patch_size })
    }

    /// Ids per patch.
    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// Detects ABC or MTF mode for a raw input text (after [`prepare`]).
    pub fn kind(&self, text: &str) -> Result<SymbolicKind, PatchError> {
        SymbolicKind::detect(&prepare(text)).ok_or(PatchError::Empty)
    }

    /// Encodes a raw interleaved-ABC or MTF text as inference does
    /// (`encode(item, add_special_patches=True)`): BOS patch, content patches, EOS patch.
    pub fn encode(&self, text: &str) -> Result<Patches, PatchError> {
        self.encode_with(text, true)
    }

    /// Like [`encode`](Self::encode), choosing whether to add the BOS/EOS patches
    /// (`add_special_patches`; the reference's default is `false`, inference uses `true`).
    pub fn encode_with(
        &self,
        text: &str,
        add_special_patches: bool,
    ) -> Result<Patches, PatchError> {
        let prepared = prepare(text);
        let (_, pieces) = self.split(&prepared)?;
        let ps = self.patch_size;
        let count = pieces.len() + if add_special_patches { 2 } else { 0 };
        let mut ids = Vec::with_capacity(count.saturating_mul(ps));
        if add_special_patches {
            // chr(1) * patch_size -> [1] + [1] * ps + [2], truncated: all ones.
            ids.resize(ps, BOS_ID);
        }
        for piece in &pieces {
            match piece {
                PatchText::Slice(text, newline) => {
                    let nl: &[u8] = if *newline { b"\n" } else { b"" };
                    push_patch(&mut ids, ps, text.iter().chain(nl).copied());
                }
                PatchText::Owned(text) => push_patch(&mut ids, ps, text.iter().copied()),
            }
        }
        if add_special_patches {
            push_patch(&mut ids, ps, std::iter::repeat_n(EOS_ID, ps));
        }
        Ok(Patches {
            ids,
            patch_size: ps,
        })
    }

    /// The patch strings before id conversion and without BOS/EOS patches, with the mode
    /// (for inspection and tests; [`encode`](Self::encode) does not allocate them).
    pub fn patch_strings(&self, text: &str) -> Result<(SymbolicKind, Vec<String>), PatchError> {
        let prepared = prepare(text);
        let (kind, pieces) = self.split(&prepared)?;
        let strings = pieces
            .iter()
            .map(|piece| match piece {
                PatchText::Slice(text, newline) => {
                    let mut s = String::from_utf8_lossy(text).into_owned();
                    if *newline {
                        s.push('\n');
                    }
                    s
                }
                PatchText::Owned(text) => String::from_utf8_lossy(text).into_owned(),
            })
            .collect();
        Ok((kind, strings))
    }

    /// Splits prepared text into patch texts (reference `encode` up to the special patches).
    fn split<'a>(
        &self,
        prepared: &'a str,
    ) -> Result<(SymbolicKind, Vec<PatchText<'a>>), PatchError> {
        let bytes = prepared.as_bytes();
        if let Some(offset) = bytes.iter().position(|b| !b.is_ascii()) {
            let byte = bytes.get(offset).copied().unwrap_or_default();
            return Err(PatchError::NonAscii { offset, byte });
        }
        let kind = SymbolicKind::detect(prepared).ok_or(PatchError::Empty)?;
        // `re.findall(r'.*?\n|.*$', item)` minus empty strings: lines keeping their `\n`.
        let lines = bytes.split_inclusive(|&b| b == b'\n');
        let pieces = match kind {
            SymbolicKind::Mtf => self.split_mtf(lines),
            SymbolicKind::Abc => split_abc(lines)?,
        };
        Ok((kind, pieces))
    }

    /// MTF mode: a line joins the current patch when the patch starts with the line's type
    /// token and the merged length stays within `patch_size - 2` (written without
    /// subtraction, so small patch sizes never merge, as in Python).
    fn split_mtf<'a>(&self, lines: impl Iterator<Item = &'a [u8]>) -> Vec<PatchText<'a>> {
        let mut out = Vec::new();
        let mut patch: Vec<u8> = Vec::new();
        for line in lines {
            let kind = first_token(line);
            // `" ".join(line.split(" ")[1:])`: everything after the first space, or "".
            let rest = line.get(kind.len() + 1..).unwrap_or_default();
            if patch.starts_with(kind) && patch.len() + rest.len() + 2 <= self.patch_size {
                patch.pop(); // `patch[:-1]`: drop its `\n`
                patch.push(b'\t');
                patch.extend_from_slice(rest);
            } else {
                if !patch.is_empty() {
                    out.push(PatchText::Owned(std::mem::take(&mut patch)));
                }
                patch.clear();
                patch.extend_from_slice(line);
            }
        }
        if !patch.is_empty() {
            out.push(PatchText::Owned(patch));
        }
        out
    }
}

/// ABC mode: header lines are whole patches; other lines are cut into bars, the last bar
/// of a line gets a `\n`, and text after the last barline is dropped.
fn split_abc<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Vec<PatchText<'a>>, PatchError> {
    let mut out = Vec::new();
    let mut bars = Vec::new();
    for (index, line) in lines.enumerate() {
        if is_header_line(line) {
            out.push(PatchText::Slice(line, false));
            continue;
        }
        bars.clear();
        split_bars(line, &mut bars).map_err(|()| PatchError::LoneBarline {
            line_number: index + 1,
            line: String::from_utf8_lossy(line).into_owned(),
        })?;
        let n = bars.len();
        out.extend(
            bars.iter()
                .enumerate()
                .map(|(i, &bar)| PatchText::Slice(bar, i + 1 == n)),
        );
    }
    Ok(out)
}

/// Reference header test: `len(line) > 1 and ((line[0].isalpha() and line[1] == ':') or
/// line.startswith('%%'))`. On ASCII, Python's `isalpha` is `[A-Za-z]`.
fn is_header_line(line: &[u8]) -> bool {
    match line {
        [first, b':', ..] if first.is_ascii_alphabetic() => true,
        [b'%', b'%', ..] => true,
        _ => false,
    }
}

/// Text up to the first space (`line.split(" ")[0]`), the whole line when it has none.
fn first_token(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => line.get(..i).unwrap_or(line),
        None => line,
    }
}

/// Length of the barline delimiter starting at `s`, trying [`BARLINES`] in order.
fn barline_at(s: &[u8]) -> Option<usize> {
    BARLINES
        .iter()
        .find(|d| s.starts_with(d.as_bytes()))
        .map(|d| d.len())
}

/// Reference `split_bars`: `re.split` with the capturing barline alternation, empty pieces
/// removed, a leading delimiter glued onto the next piece, then pieces paired positionally
/// (`piece[2i] + piece[2i+1]`) with an odd last piece discarded. The non-empty pieces tile
/// `line` without gaps (the removed ones are empty), so every bar is a contiguous slice.
/// `Err(())` when the only piece is a delimiter (the reference's `IndexError`).
fn split_bars<'a>(line: &'a [u8], bars: &mut Vec<&'a [u8]>) -> Result<(), ()> {
    // Non-empty pieces as (start, end, is_delimiter), in order.
    let mut pieces: Vec<(usize, usize, bool)> = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;
    while pos < line.len() {
        match line.get(pos..).and_then(barline_at) {
            Some(len) => {
                if text_start < pos {
                    pieces.push((text_start, pos, false));
                }
                pieces.push((pos, pos + len, true));
                pos += len;
                text_start = pos;
            }
            None => pos += 1,
        }
    }
    if text_start < line.len() {
        pieces.push((text_start, line.len(), false));
    }
    // `if bars[0] in self.delimiters`: a text piece never equals a delimiter (it holds no
    // `|` and no `::`), so the flag is the same test. Gluing = extending piece 1 to start
    // where piece 0 starts.
    let mut rest: &mut [(usize, usize, bool)] = &mut pieces;
    if let [(start, _, true), tail @ ..] = rest {
        let first_start = *start;
        let second = tail.first_mut().ok_or(())?;
        second.0 = first_start;
        rest = tail;
    }
    bars.extend(rest.chunks_exact(2).filter_map(|pair| match pair {
        [(start, _, _), (_, end, _)] => line.get(*start..*end),
        _ => None,
    }));
    Ok(())
}

/// Appends one patch: `[BOS] + content + [EOS]`, truncated to `ps` ids, right-padded with 0.
fn push_patch(ids: &mut Vec<u8>, ps: usize, content: impl Iterator<Item = u8>) {
    let start = ids.len();
    ids.extend(
        std::iter::once(BOS_ID)
            .chain(content)
            .chain(std::iter::once(EOS_ID))
            .take(ps),
    );
    ids.resize(start + ps, PAD_ID);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Vec<String> {
        Patchilizer::new()
            .patch_strings(text)
            .map(|(_, s)| s)
            .unwrap()
    }

    #[test]
    fn barline_priority_and_pairing() {
        // `|:` wins over `|` at the same position; `||` is one delimiter.
        assert_eq!(strings("a|:b||c|\n"), vec!["a|:", "b||", "c|\n"]);
        // Leading delimiter glued to the next piece; trailing text dropped.
        assert_eq!(strings("|a|b|tail\n"), vec!["|a|", "b|\n"]);
        // A line with no barline yields nothing.
        assert!(strings("abc\n").is_empty());
        // Positional pairing after empty pieces are removed: "a" "|:" "|" "b" -> "a|:", "|b".
        assert_eq!(strings("a|:|b"), vec!["a|:", "|b\n"]);
    }

    #[test]
    fn header_lines() {
        assert_eq!(
            strings("K:G\n%%score 1\n%c\n"),
            vec!["K:G\n", "%%score 1\n"]
        );
        // "1:" is not a header (digit), "|:" is a body line.
        assert_eq!(strings("1:|x|\n"), vec!["1:|", "x|\n"]);
    }

    #[test]
    fn lone_barline_is_an_error() {
        let err = Patchilizer::new().encode("K:G\n||").unwrap_err();
        assert_eq!(
            err,
            PatchError::LoneBarline {
                line_number: 2,
                line: "||".into()
            }
        );
        // With a newline there is a second piece, so no error and no bars.
        assert!(strings("K:G\n|\n").len() == 1);
    }

    #[test]
    fn empty_inputs() {
        let p = Patchilizer::new();
        assert_eq!(p.encode(""), Err(PatchError::Empty));
        assert_eq!(p.encode("L:1/8\n"), Err(PatchError::Empty));
        assert_eq!(p.encode("\u{e000}"), Err(PatchError::Empty));
        assert_eq!(
            Patchilizer::with_patch_size(0),
            Err(PatchError::InvalidPatchSize(0))
        );
    }

    #[test]
    fn special_patches_and_truncation() {
        let p = Patchilizer::new();
        let patches = p.encode("K:G\n").unwrap();
        assert_eq!(patches.len(), 3);
        assert!(patches.patch(0).unwrap().iter().all(|&i| i == BOS_ID));
        let eos = patches.patch(2).unwrap();
        assert_eq!(eos[0], BOS_ID);
        assert!(eos[1..].iter().all(|&i| i == EOS_ID));
        let k = patches.patch(1).unwrap();
        assert_eq!(&k[..6], &[1, b'K', b':', b'G', b'\n', 2]);
        assert!(k[6..].iter().all(|&i| i == PAD_ID));
        // A 70-character bar keeps BOS + 63 characters and loses its EOS.
        let bar = format!("{}|", "a".repeat(69));
        let patches = p.encode(&bar).unwrap();
        let row = patches.patch(1).unwrap();
        assert_eq!(row[0], BOS_ID);
        assert!(row[1..].iter().all(|&i| i == b'a'));
        assert_eq!(patch_to_bar(row), "a".repeat(63));
    }

    #[test]
    fn mtf_mode_merges_runs() {
        let text = "ticks_per_beat 480\nnote_on 0 0 60 80\nnote_on 240 0 60 0\nend_of_track 0";
        let (kind, s) = Patchilizer::new().patch_strings(text).unwrap();
        assert_eq!(kind, SymbolicKind::Mtf);
        assert_eq!(
            s,
            vec![
                "ticks_per_beat 480\n",
                "note_on 0 0 60 80\t240 0 60 0\n",
                "end_of_track 0"
            ]
        );
        // "ticks_per_beat\n" is not the token "ticks_per_beat": ABC mode.
        assert_eq!(
            SymbolicKind::detect("ticks_per_beat\nx"),
            Some(SymbolicKind::Abc)
        );
    }

    #[test]
    fn l18_removed_only_with_newline() {
        assert_eq!(strings("L:1/8\nK:G\nL:1/8"), vec!["K:G\n", "L:1/8"]);
        assert_eq!(strings("L:1/4\n"), vec!["L:1/4\n"]);
    }
}
