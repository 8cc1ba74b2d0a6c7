//! The pipeline's settings, from a TOML file (every section and key optional).
//!
//! ```toml
//! [server]
//! url = "http://127.0.0.1:8080/v1"
//! model = "qwen2.5-72b-instruct"
//! api_key = "..."            # or the OPENAI_API_KEY environment variable
//! timeout_secs = 300
//! structured = "auto"        # json-schema, json-object, none
//! max_tokens = 1024
//! [server.retry]
//! retries = 5
//!
//! [retrieval]
//! pages = "pages/"                       # saved pages: pages/<id>/*.html, pages/<id>.html
//! search_url = "http://127.0.0.1:8888"   # SearxNG-compatible JSON API
//! search_results = 10
//!
//! [generation]
//! language = "en"
//! translate = ["de", "fr"]
//!
//! [filters]
//! min_grounding = 0.5
//!
//! [run]
//! jobs = 4
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::filter::FilterConfig;
use crate::llm::ServerConfig;
use crate::schema::SchemaLimits;

/// Where the text to ground annotations in comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Folder of saved pages per item (`<dir>/<id>/*`, `<dir>/<id>.html|.htm|.txt`).
    pub pages: Option<PathBuf>,
    /// Base URL of a SearxNG-compatible search API (`GET /search?q=..&format=json`).
    pub search_url: Option<String>,
    /// Search results fetched per item (the paper kept 10).
    pub search_results: usize,
    /// Seconds before a search or page fetch is abandoned.
    pub timeout_secs: f64,
    /// Most bytes read of one page.
    pub page_bytes: u64,
    /// Most characters shown to the model from one page.
    pub page_chars: usize,
    /// Most characters shown to the model from all pages together.
    pub context_chars: usize,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            pages: None,
            search_url: None,
            search_results: 10,
            timeout_secs: 20.0,
            page_bytes: 2 << 20,
            page_chars: 3000,
            context_chars: 12000,
        }
    }
}

/// What is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Language of the annotation fields (M4-RAG: English).
    pub language: String,
    /// Languages to translate into: each record gets one translation (the M4-RAG schema
    /// holds one), the language picked by a stable hash of the item id.
    pub translate: Vec<String>,
    /// Requests per item while the answer is not valid JSON of the schema.
    pub answer_attempts: u32,
    /// Size limits of the schema.
    pub limits: SchemaLimits,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            language: "en".into(),
            translate: Vec::new(),
            answer_attempts: 2,
            limits: SchemaLimits::default(),
        }
    }
}

/// How the run is scheduled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Items processed at once (requests in flight).
    pub jobs: usize,
    /// Process at most this many of the items not yet done.
    pub limit: Option<usize>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            jobs: 2,
            limit: None,
        }
    }
}

/// All settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The chat endpoint.
    pub server: ServerConfig,
    /// Retrieval.
    pub retrieval: RetrievalConfig,
    /// Generation and translation.
    pub generation: GenerationConfig,
    /// Quality filters.
    pub filters: FilterConfig,
    /// Scheduling.
    pub run: RunConfig,
}

/// A configuration file that cannot be used (the user's input).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not TOML of this schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with the line).
        message: String,
    },
    /// A setting out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Checks ranges that the types do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.run.jobs == 0 {
            return bad("run.jobs must be at least 1");
        }
        if self.generation.answer_attempts == 0 {
            return bad("generation.answer_attempts must be at least 1");
        }
        let positive = |t: f64| t.is_finite() && t > 0.0;
        if !positive(self.server.timeout_secs) || !positive(self.retrieval.timeout_secs) {
            return bad("timeouts must be positive");
        }
        if self.server.max_tokens == 0 {
            return bad("server.max_tokens must be at least 1");
        }
        for (name, v) in [
            ("filters.min_grounding", self.filters.min_grounding),
            (
                "filters.language_confidence",
                self.filters.language_confidence,
            ),
            (
                "filters.min_distinct_trigrams",
                self.filters.min_distinct_trigrams,
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be in [0, 1], not {v}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_keep_defaults_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(
            &p,
            "[server]\nurl = \"http://x/v1\"\nstructured = \"json-object\"\n[server.retry]\nretries = 1\n[generation]\ntranslate = [\"de\"]\n",
        )
        .unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.server.url, "http://x/v1");
        assert_eq!(c.server.structured, crate::llm::Structured::JsonObject);
        assert_eq!(c.server.retry.retries, 1);
        assert_eq!(c.server.retry.backoff_secs, 1.0);
        assert_eq!(c.generation.translate, vec!["de"]);
        assert_eq!(c.run.jobs, 2);
        c.validate().unwrap();
        std::fs::write(&p, "[filters]\nmin_grounding = 0.5\nmin_groundng = 1\n").unwrap();
        let e = Config::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("min_groundng"), "{e}");
        std::fs::write(&p, "[filters]\nmin_grounding = 2.0\n").unwrap();
        let e = Config::from_file(&p)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("filters.min_grounding must be in [0, 1]"), "{e}");
    }
}
