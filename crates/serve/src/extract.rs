//! Request bodies read as JSON, with every rejection (malformed JSON, a wrong content type, a
//! body over the size limit) answered as a JSON error.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind};
use crate::input::Decoded;
use crate::queue::{Embedded, JobError};
use crate::state::Engine;

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(rejection(r)),
        }
    }
}

fn rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorKind::RequestTooLarge
    } else {
        ErrorKind::InvalidRequestError
    };
    let message = match &r {
        JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the server's limit".to_string()
        }
        _ => r.body_text(),
    };
    ApiError::new(status, kind, message)
}

/// Embeds decoded inputs through the batching queue, all or none: the first failure (in input
/// order) is the answer, naming the input (`input N`) and its format; the others are
/// withdrawn.
pub async fn embed_inputs(engine: &Engine, decoded: &[Decoded]) -> Result<Vec<Embedded>, ApiError> {
    embed_named(engine, decoded, crate::input::input_n).await
}

/// [`embed_inputs`], with errors naming the input at position `i` as `name(i)`.
pub async fn embed_named(
    engine: &Engine,
    decoded: &[Decoded],
    name: impl Fn(usize) -> String,
) -> Result<Vec<Embedded>, ApiError> {
    let inputs = decoded.iter().map(|d| d.input.clone()).collect();
    let receivers = engine.batcher.submit(inputs).map_err(|full| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::RateLimitError,
            format!(
                "the server is busy ({} of {} inputs queued): retry later",
                full.depth, full.capacity
            ),
        )
    })?;
    let mut out = Vec::with_capacity(receivers.len());
    for (i, rx) in receivers.into_iter().enumerate() {
        let format = &decoded[i].format;
        let what = name(i);
        match rx.await {
            Ok(Ok(e)) => out.push(e),
            Ok(Err(JobError::Embed(cause))) => {
                return Err(ApiError::from_cause(&what, format, &cause))
            }
            Ok(Err(e @ JobError::TooLarge { .. })) => {
                return Err(ApiError::too_large(format!(
                    "{what} (format {format}): {e}"
                )))
            }
            Ok(Err(e @ JobError::Stopped)) | Ok(Err(e @ JobError::Crashed(_))) => {
                let msg = format!("{what} (format {format}): {e}");
                return Err(if matches!(e, JobError::Stopped) {
                    ApiError::unavailable(msg)
                } else {
                    ApiError::internal(msg)
                });
            }
            Err(_) => {
                return Err(ApiError::unavailable(format!(
                    "{what} (format {format}): the server is shutting down"
                )))
            }
        }
    }
    Ok(out)
}

/// The global vector of an embedding (the queue embeds in global mode only).
pub fn global(e: Embedded) -> Vec<f32> {
    e.embedding.into_global().unwrap_or_default()
}
