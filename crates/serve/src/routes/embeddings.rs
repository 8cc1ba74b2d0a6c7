//! `POST /v1/embeddings`, OpenAI-compatible: the raw global embeddings, as `clamp3 embed`
//! writes them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{embed_inputs, global, ApiJson};
use crate::input::{decode_all, encode_base64, input_n, OneOrMany};
use crate::state::AppState;

/// How vectors are written in the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian float32 values.
    Base64,
}

/// The request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// One input or a list: strings (embedded exactly as a `.txt` file with that content) or
    /// `{"format": EXT, "data": BASE64}` objects.
    pub input: OneOrMany,
    /// Accepted for compatibility and ignored: the server embeds with its one model.
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// Accepted for compatibility and ignored.
    #[serde(default)]
    pub user: Option<String>,
}

/// A vector as numbers or base64.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Vector {
    /// Numbers.
    Float(Vec<f32>),
    /// Base64 of little-endian float32.
    Base64(String),
}

/// One embedding.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingData {
    /// Always `embedding`.
    pub object: &'static str,
    /// The input's position in the request.
    pub index: usize,
    /// The raw (not normalised) global embedding.
    pub embedding: Vector,
}

/// Encoder units read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// Tokens, patches and feature vectors of all inputs (the encoders' units).
    pub prompt_tokens: usize,
    /// The same as `prompt_tokens`.
    pub total_tokens: usize,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// One embedding per input, in order.
    pub data: Vec<EmbeddingData>,
    /// The model's name.
    pub model: String,
    /// Units read.
    pub usage: Usage,
}

/// Embeds inputs of any modality.
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "embeddings",
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, description = "One embedding per input", body = EmbeddingsResponse),
        (status = 400, description = "A malformed request or a bad input (named)", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "Over a size limit", body = ErrorBody),
        (status = 429, description = "The queue is full", body = ErrorBody),
        (status = 501, description = "The model part this input needs is not loaded", body = ErrorBody),
        (status = 503, description = "Loading, shutting down, or timed out", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> ApiResult<Json<EmbeddingsResponse>> {
    let engine = state.engine()?;
    let items = req.input.into_vec();
    let decoded = decode_all(&items, state.config.limits.max_inputs, input_n)?;
    let embedded = embed_inputs(&engine, &decoded).await?;
    let mut units = 0;
    let mut data = Vec::with_capacity(embedded.len());
    for (index, e) in embedded.into_iter().enumerate() {
        units += e.units;
        let v = global(e);
        if v.is_empty() {
            return Err(ApiError::internal(format!(
                "input {index}: no global vector"
            )));
        }
        let embedding = match req.encoding_format {
            EncodingFormat::Float => Vector::Float(v),
            EncodingFormat::Base64 => Vector::Base64(encode_base64(
                &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
            )),
        };
        data.push(EmbeddingData {
            object: "embedding",
            index,
            embedding,
        });
    }
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model: engine.model_name.clone(),
        usage: Usage {
            prompt_tokens: units,
            total_tokens: units,
        },
    }))
}
