//! Text (docs/reference.md §5.1): a `.txt` file's bytes or a string → prepared text → XLM-R token
//! ids.

use std::path::{Path, PathBuf};

use clamp3_formats::text as formats_text;

#[cfg(test)]
mod tests;

use crate::error::InputCause;

/// Why the tokenizer file could not be loaded (the model directory's fault, not an input's).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot load tokenizer: {message}", path.display())]
pub struct TokenizerError {
    /// The tokenizer file.
    pub path: PathBuf,
    /// What the tokenizers library said.
    pub message: String,
}

/// Turns prepared text into XLM-R token ids, set up as the reference calls it: special tokens
/// added, no truncation, no padding (long texts are segmented instead).
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let err = |e: tokenizers::Error| TokenizerError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut inner = tokenizers::Tokenizer::from_file(path).map_err(err)?;
        inner.with_truncation(None).map_err(err)?.with_padding(None);
        Ok(TextTokenizer { inner })
    }

    /// Token ids of `text`, `<s>` and `</s>` included; `</s>` inside the text becomes id 2.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InputCause> {
        self.encode_with(text, true)
    }

    fn encode_with(&self, text: &str, special: bool) -> Result<Vec<u32>, InputCause> {
        self.inner
            .encode(text, special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| InputCause::Tokenizer(e.to_string()))
    }

    /// The id of `</s>` (the separator and closing token).
    fn separator_id(&self) -> u32 {
        self.inner.token_to_id(SEPARATOR).unwrap_or(2)
    }

    /// The id of `<s>`.
    fn start_id(&self) -> u32 {
        self.inner.token_to_id("<s>").unwrap_or(0)
    }
}

/// The separator the reference joins text lines with (the tokenizer's `</s>`).
const SEPARATOR: &str = "</s>";

/// How much of a text is read: the model reads every token (in segments of 128), so a text is
/// cut after `max_tokens` ids, and nothing past that is read; a line longer than
/// `max_line_bytes` is cut at its last space before that length. Memory and time stay bounded
/// whatever the input's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLimits {
    /// Token ids kept (`<s>` and the `</s>` separators included): 256 segments of 128 by default.
    pub max_tokens: usize,
    /// Bytes of one line read (1 MiB by default).
    pub max_line_bytes: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        TextLimits {
            max_tokens: 256 * 128,
            max_line_bytes: 1 << 20,
        }
    }
}

/// The content of a text file, decoded as the reference reads it: strict UTF-8, universal
/// newlines.
pub fn read(bytes: &[u8]) -> Result<String, InputCause> {
    formats_text::read_text(bytes).map_err(InputCause::NotUtf8)
}

/// The text the tokenizer sees: lines de-duplicated keeping the first occurrence (the
/// reference's `set` order is random, docs/reference.md §4.8 #6), empty lines dropped, joined with
/// `</s>`. Empty when the content has no non-empty line.
pub fn prepare(content: &str) -> String {
    formats_text::prepare_text(content)
}

/// The token ids of a text with the content of a `.txt` file, `<s>`/`</s>` included: the ids of
/// [`prepare`]d text, read as a stream with [`TextLimits`] (see [`ids_from_reader`]).
pub fn ids(tokenizer: &TextTokenizer, content: &str) -> Result<Vec<u32>, InputCause> {
    ids_from_reader(tokenizer, content.as_bytes(), &TextLimits::default())
}

/// The token ids of the text a reader yields, exactly as the reference tokenizes the whole
/// prepared text (`<s>` + line 1 + `</s>` + line 2 + ... + `</s>`), computed line by line:
/// `</s>` is a special token, so the tokenizer treats every line on its own and the ids of the
/// joined text are the lines' ids joined by the separator id. Lines are read one at a time
/// (universal newlines, strict UTF-8, first-occurrence de-duplication, empty lines dropped) and
/// reading stops once `limits.max_tokens` ids are collected, so a huge file costs no more than
/// that. A longer text's ids are the first `max_tokens` of the full sequence.
pub fn ids_from_reader(
    tokenizer: &TextTokenizer,
    reader: impl std::io::Read,
    limits: &TextLimits,
) -> Result<Vec<u32>, InputCause> {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
    let sep = tokenizer.separator_id();
    let mut ids = vec![tokenizer.start_id()];
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut buf: Vec<u8> = Vec::new();
    'lines: loop {
        buf.clear();
        let n = read_line_capped(&mut reader, &mut buf, limits.max_line_bytes)?;
        if n == 0 {
            break;
        }
        // `\r\n` is one newline; any other `\r` is one too (Python's universal newlines).
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let chunk = std::str::from_utf8(&buf).map_err(InputCause::NotUtf8)?;
        for line in chunk.split('\r') {
            if line.is_empty() || seen.contains(line) {
                continue;
            }
            seen.insert(line.to_string());
            if ids.len() > 1 {
                ids.push(sep);
            }
            ids.extend(tokenizer.encode_with(line, false)?);
            if ids.len() >= limits.max_tokens {
                break 'lines;
            }
        }
    }
    if ids.len() == 1 {
        return Err(InputCause::EmptyText);
    }
    ids.push(sep);
    ids.truncate(limits.max_tokens);
    Ok(ids)
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `cap` bytes: a longer line is
/// cut at its last space before the cap (or at the cap, at a character boundary) and the rest of
/// it is skipped. Returns the bytes consumed (0 at the end).
fn read_line_capped(
    reader: &mut impl std::io::BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> Result<usize, InputCause> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let chunk = reader.fill_buf().map_err(InputCause::Io)?;
        if chunk.is_empty() {
            break;
        }
        let (line_part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if !cut {
            let room = cap.saturating_sub(buf.len());
            if line_part.len() <= room {
                buf.extend_from_slice(line_part);
            } else {
                buf.extend_from_slice(&line_part[..room]);
                cut = true;
            }
        }
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        consumed += used;
        if done.is_some() {
            break;
        }
    }
    if cut {
        // Cut at the last space (a word boundary), else at the last whole character.
        match buf.iter().rposition(|&b| b == b' ') {
            Some(at) => buf.truncate(at),
            None => {
                if let Err(e) = std::str::from_utf8(buf) {
                    if e.error_len().is_none() {
                        buf.truncate(e.valid_up_to());
                    }
                }
            }
        }
    }
    Ok(consumed)
}
