//! M4-RAG-style annotation of a music collection (CLaMP 3 §9.1): for each item (a title,
//! artists, music files, other known facts), retrieve text about it ([`source`]), ask an
//! OpenAI-compatible LLM for the record's fields under the record's JSON Schema ([`llm`],
//! [`schema`], [`prompt`]), validate and filter the answer ([`filter`]), translate it, and
//! append the record to a JSONL file that `clamp3 train` reads ([`store`]), resumably.
//!
//! The entry point is [`pipeline::Pipeline`]; [`cli`] is the `clamp3 annotate` command.

pub mod cli;
pub mod config;
pub mod filter;
pub mod item;
pub mod lang;
pub mod llm;
pub mod pipeline;
pub mod prompt;
pub mod retry;
pub mod schema;
pub mod source;
pub mod store;

pub use config::{Config, ConfigError};
pub use item::{read_items, InputError, Item, Items};
pub use pipeline::{Event, Pipeline, RunError, Summary};
pub use source::{Page, RetrievalError, SavedPages, SearchApi, Source};
pub use store::{Store, StoreError};
