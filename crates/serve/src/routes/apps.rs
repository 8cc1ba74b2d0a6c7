//! `POST /v1/classify` and `POST /v1/score`: the `clamp3 classify` and `clamp3 score`
//! applications over inputs given in the request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use clamp3::classify::{Classification, Labels};
use clamp3::score::PairScore;
use clamp3::vectors::Embedded;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{embed_named, global, ApiJson};
use crate::input::{decode_all, input_n, Decoded, InputItem, OneOrMany};
use crate::state::AppState;

/// The classification request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// Inputs to classify (strings or files).
    pub input: OneOrMany,
    /// Label texts (any language); duplicates count once.
    pub labels: Vec<String>,
    /// Labels answered per input (default 5).
    #[serde(default = "five")]
    pub top: usize,
}

fn five() -> usize {
    5
}

/// One input's labels (a line of `clamp3 classify --json`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ClassificationSchema {
    /// Best first: `{"label", "score"}`.
    #[schema(value_type = Vec<Object>)]
    labels: Vec<serde_json::Value>,
    /// The input's `name`, or `input N`.
    path: String,
}

/// The classification answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassifyResponse {
    /// One per input, in order.
    #[schema(value_type = Vec<ClassificationSchema>)]
    pub results: Vec<Classification>,
}

fn input_name(d: &Decoded, i: usize) -> String {
    d.name.clone().unwrap_or_else(|| format!("input {i}"))
}

/// Zero-shot classification: every input ranked against the label texts.
#[utoipa::path(
    post,
    path = "/v1/classify",
    tag = "applications",
    request_body = ClassifyRequest,
    responses(
        (status = 200, description = "Labels per input, best first", body = ClassifyResponse),
        (status = 400, description = "A malformed request or a bad input", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn classify(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<ClassifyRequest>,
) -> ApiResult<Json<ClassifyResponse>> {
    let engine = state.engine()?;
    let max = state.config.limits.max_inputs;
    let mut names: Vec<String> = Vec::new();
    for l in req
        .labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    {
        if !names.iter().any(|n| n == l) {
            names.push(l.to_string());
        }
    }
    if names.is_empty() {
        return Err(ApiError::bad_request("no labels given"));
    }
    if names.len() > max {
        return Err(ApiError::too_large(format!(
            "{} labels; at most {max}",
            names.len()
        )));
    }
    let items = req.input.into_vec();
    if items.len() + names.len() > max {
        return Err(ApiError::too_large(format!(
            "{} inputs and {} labels in one request; at most {max} together",
            items.len(),
            names.len()
        )));
    }
    let decoded = decode_all(&items, max, input_n)?;
    let label_inputs: Vec<Decoded> = names
        .iter()
        .enumerate()
        .map(|(i, n)| InputItem::Text(n.clone()).decode(&format!("label {i}")))
        .collect::<Result<_, _>>()?;
    // Inputs and labels share one submission, so they share batches.
    let n = decoded.len();
    let mut all = decoded.clone();
    all.extend(label_inputs);
    let mut vectors: Vec<Vec<f32>> = embed_named(&engine, &all, |i| {
        if i < n {
            input_n(i)
        } else {
            format!("label {}", i - n)
        }
    })
    .await?
    .into_iter()
    .map(global)
    .collect();
    let label_vectors = vectors.split_off(decoded.len());
    let labels = Labels {
        names,
        vectors: label_vectors,
    };
    let results = decoded
        .iter()
        .zip(&vectors)
        .enumerate()
        .map(|(i, (d, v))| {
            Classification::new(Path::new(&input_name(d, i)), &labels.rank(v), req.top)
        })
        .collect();
    Ok(Json(ClassifyResponse { results }))
}

/// The scoring request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// Queries (e.g. generated music); each paired with the reference whose `name` has the
    /// same key (folder + name up to the first dot); unnamed inputs are named by position
    /// (`0`, `1`, ...), so unnamed lists pair in order.
    pub queries: Vec<InputItem>,
    /// References (prompts or reference music).
    pub references: Vec<InputItem>,
    /// Distribution-level score: the cosine of the mean vectors.
    #[serde(default)]
    pub group: bool,
}

/// The scoring answer: `score`, `pairs` and `unmatched` (pairwise), or `group_score` with
/// the counts (`group`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreResponse {
    /// Mean similarity over the matched pairs (pairwise; absent when nothing matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The pairs, most similar first (pairwise): `{"query", "reference", "similarity"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub pairs: Option<Vec<PairScore>>,
    /// Inputs without a counterpart (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<Vec<String>>,
    /// Cosine of the mean query and mean reference vectors (group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_score: Option<f32>,
    /// Number of queries.
    pub queries: usize,
    /// Number of references.
    pub references: usize,
}

/// The CLaMP 3 score of queries against references, pairwise or between distributions.
#[utoipa::path(
    post,
    path = "/v1/score",
    tag = "applications",
    request_body = ScoreRequest,
    responses(
        (status = 200, description = "The score", body = ScoreResponse),
        (status = 400, description = "A malformed request or a bad input", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn score(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<ScoreRequest>,
) -> ApiResult<Json<ScoreResponse>> {
    let engine = state.engine()?;
    if req.queries.is_empty() || req.references.is_empty() {
        return Err(ApiError::bad_request(format!(
            "nothing to score: {} queries, {} references",
            req.queries.len(),
            req.references.len()
        )));
    }
    let max = state.config.limits.max_inputs;
    let (nq, nr) = (req.queries.len(), req.references.len());
    if nq + nr > max {
        return Err(ApiError::too_large(format!(
            "{} inputs in one request; at most {max}",
            nq + nr
        )));
    }
    let mut items = req.queries.clone();
    items.extend(req.references.iter().cloned());
    let name = |i: usize| {
        if i < nq {
            format!("query {i}")
        } else {
            format!("reference {}", i - nq)
        }
    };
    let decoded = decode_all(&items, max, name)?;
    let vectors = embed_named(&engine, &decoded, name).await?;
    let named = |(i, (d, e)): (usize, (&Decoded, crate::queue::Embedded))| {
        let offset = if i < nq { 0 } else { nq };
        let name = PathBuf::from(d.name.clone().unwrap_or_else(|| (i - offset).to_string()));
        Embedded {
            path: name.clone(),
            rel: name,
            vector: global(e),
        }
    };
    let mut all: Vec<Embedded> = decoded.iter().zip(vectors).enumerate().map(named).collect();
    let references = all.split_off(nq);
    let queries = all;
    if req.group {
        return Ok(Json(ScoreResponse {
            score: None,
            pairs: None,
            unmatched: None,
            group_score: Some(clamp3::score::group(&queries, &references)),
            queries: nq,
            references: nr,
        }));
    }
    let p = clamp3::score::pairwise(&queries, &references);
    Ok(Json(ScoreResponse {
        score: Some(p.score).filter(|s| s.is_finite()),
        pairs: Some(p.pairs),
        unmatched: Some(p.unmatched),
        group_score: None,
        queries: nq,
        references: nr,
    }))
}
