//! The XLM-R tokenizer (`tokenizer.json`), set up as the reference calls it: special tokens
//! added, no truncation, no padding (long texts are segmented instead).

use std::path::Path;

use crate::Error;

/// Turns prepared text into XLM-R token ids.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let err = |msg: String| Error::Tokenizer {
            path: path.to_path_buf(),
            msg,
        };
        let mut inner = tokenizers::Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        inner
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?
            .with_padding(None);
        Ok(TextTokenizer { inner })
    }

    /// Token ids of `text`, `<s>` and `</s>` included; `</s>` inside the text becomes id 2.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.inner
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| e.to_string())
    }
}
