//! The request handlers, one module per area of the API.

pub mod apps;
pub mod embeddings;
pub mod index;
pub mod ops;
pub mod search;
pub mod web;
