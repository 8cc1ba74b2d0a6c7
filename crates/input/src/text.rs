//! Text (CLAMP3.md §5.1): a `.txt` file's bytes or a string → prepared text → XLM-R token ids.

use std::path::{Path, PathBuf};

use clamp3_formats::text as formats_text;

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
        self.inner
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| InputCause::Tokenizer(e.to_string()))
    }
}

/// The content of a text file, decoded as the reference reads it: strict UTF-8, universal
/// newlines.
pub fn read(bytes: &[u8]) -> Result<String, InputCause> {
    formats_text::read_text(bytes).map_err(InputCause::NotUtf8)
}

/// The text the tokenizer sees: lines de-duplicated keeping the first occurrence (the
/// reference's `set` order is random, CLAMP3.md §4.8 #6), empty lines dropped, joined with
/// `</s>`. Empty when the content has no non-empty line.
pub fn prepare(content: &str) -> String {
    formats_text::prepare_text(content)
}

/// The token ids of a text with the content of a `.txt` file, `<s>`/`</s>` included.
pub fn ids(tokenizer: &TextTokenizer, content: &str) -> Result<Vec<u32>, InputCause> {
    let prepared = prepare(content);
    if prepared.is_empty() {
        return Err(InputCause::EmptyText);
    }
    tokenizer.encode(&prepared)
}
