//! `POST /v1/search`: the index searched with a text or a file; answers exactly the JSON of
//! `clamp3 search --json`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use clamp3::library::{SearchMode, SearchOptions, SearchResults};
use clamp3::Modality;
use clamp3_index::AnnParams;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{embed_named, global, ApiJson};
use crate::input::InputItem;
use crate::state::AppState;

/// Most results one query may ask for.
pub const MAX_TOP_K: usize = 10_000;

/// The request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// A text (any language) or a file `{"format", "data", "name"?}`; the answer's `query` is
    /// the text, or the file's `name` (default `upload.EXT`).
    pub query: InputItem,
    /// Number of results (default 10).
    #[serde(default = "ten")]
    pub top_k: usize,
    /// Only results of this modality: `text`, `symbolic` or `audio`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub modality: Option<Modality>,
    /// Approximate (HNSW) search, for large indexes.
    #[serde(default)]
    pub approx: bool,
    /// HNSW search breadth (with `approx`; higher: better recall, slower).
    #[serde(default)]
    pub ef: Option<usize>,
}

fn ten() -> usize {
    10
}

/// The answer of `clamp3 search --json`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SearchAnswer {
    /// The query as given.
    query: String,
    /// Best first: `{"metadata", "modality", "path", "rank", "score"}`.
    results: Vec<SearchHitSchema>,
}

/// One result.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SearchHitSchema {
    /// The stored item's metadata (`name`, `extension`, `bytes`, and what was added with it).
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
    /// Its modality.
    modality: String,
    /// Its path (or id).
    path: String,
    /// 1-based rank.
    rank: usize,
    /// Cosine similarity to the query.
    score: f64,
}

/// Searches the index.
#[utoipa::path(
    post,
    path = "/v1/search",
    tag = "index",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "Results, best first (the JSON of `clamp3 search --json`)", body = SearchAnswer),
        (status = 400, description = "A malformed request or a bad query", body = ErrorBody),
        (status = 501, description = "The server has no index", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn search(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchResults>> {
    let engine = state.engine()?;
    let library = engine.library()?.clone();
    if req.top_k == 0 || req.top_k > MAX_TOP_K {
        return Err(ApiError::bad_request(format!(
            "top_k must be between 1 and {MAX_TOP_K}"
        )));
    }
    let decoded = req.query.decode("the query")?;
    let label = match &req.query {
        InputItem::Text(t) => t.clone(),
        InputItem::File(_) => decoded
            .name
            .clone()
            .unwrap_or_else(|| format!("upload.{}", decoded.format)),
    };
    let vector = global(
        embed_named(&engine, std::slice::from_ref(&decoded), |_| {
            "the query".into()
        })
        .await?
        .remove(0),
    );
    let mode = if req.approx {
        let mut p = AnnParams::default();
        if let Some(ef) = req.ef {
            p.expansion_search = ef.clamp(1, MAX_TOP_K);
        }
        SearchMode::Approximate(p)
    } else {
        SearchMode::Exact
    };
    let opts = SearchOptions {
        k: req.top_k,
        modality: req.modality,
        mode,
    };
    let found =
        tokio::task::spawn_blocking(move || library.search(&vector, &opts).map_err(Box::new))
            .await
            .map_err(|e| ApiError::internal(format!("search failed: {e}")))?
            .map_err(|e| ApiError::from_library(&e))?;
    Ok(Json(SearchResults::new(label, &found)))
}
