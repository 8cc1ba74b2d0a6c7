//! Token ids to caption text, as `processor.decode(ids, skip_special_tokens=True)` does with
//! BLIP's `BertTokenizerFast` in transformers 4.40: the `tokenizer.json` decoder (WordPiece,
//! `##` continuation) with special tokens skipped, then, when `clean_up_tokenization_spaces`
//! is on (the default), transformers' own `clean_up_tokenization` on the result.

use std::path::{Path, PathBuf};

use tokenizers::Tokenizer;

use crate::error::{BlipError, Result};

/// The caption detokenizer.
pub struct Detokenizer {
    tokenizer: Tokenizer,
    clean_up_spaces: bool,
    path: PathBuf,
}

impl Detokenizer {
    /// Loads `tokenizer.json`, and `clean_up_tokenization_spaces` from `tokenizer_config.json`
    /// when that file exists (default true).
    pub fn load(tokenizer_json: &Path, tokenizer_config: Option<&Path>) -> Result<Self> {
        if !tokenizer_json.is_file() {
            return Err(BlipError::MissingFile {
                path: tokenizer_json.to_path_buf(),
            });
        }
        let tokenizer = Tokenizer::from_file(tokenizer_json).map_err(|e| BlipError::Tokenizer {
            path: tokenizer_json.to_path_buf(),
            msg: e.to_string(),
        })?;
        let mut clean_up_spaces = true;
        if let Some(p) = tokenizer_config.filter(|p| p.is_file()) {
            let text = crate::error::read_text(p)?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| BlipError::config(p, e.to_string()))?;
            if let Some(b) = v
                .get("clean_up_tokenization_spaces")
                .and_then(|b| b.as_bool())
            {
                clean_up_spaces = b;
            }
        }
        Ok(Detokenizer {
            tokenizer,
            clean_up_spaces,
            path: tokenizer_json.to_path_buf(),
        })
    }

    /// The vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The caption text of `ids`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text = self
            .tokenizer
            .decode(ids, true)
            .map_err(|e| BlipError::Tokenizer {
                path: self.path.clone(),
                msg: e.to_string(),
            })?;
        Ok(if self.clean_up_spaces {
            clean_up_tokenization(&text)
        } else {
            text
        })
    }
}

/// transformers' `PreTrainedTokenizerBase.clean_up_tokenization` (4.40), in its order.
pub fn clean_up_tokenization(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}
