//! The service's errors, always answered as JSON `{"error": {"message", "type"}}` with a status
//! that says whose fault it is: 4xx for the request's (naming the input, its format and the
//! cause), 5xx for the server's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clamp3::{Cause, Fault, InputCause, SystemCause};
use serde::Serialize;
use utoipa::ToSchema;

/// The kind of an error, the `type` field of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A malformed request or an input that cannot be used (400, 404, 405, 415, 422).
    InvalidRequestError,
    /// A missing or wrong API key (401).
    AuthenticationError,
    /// The body, an input or the number of inputs is over a limit (413).
    RequestTooLarge,
    /// The queue is full: retry later (429).
    RateLimitError,
    /// The request took longer than the request timeout (503).
    Timeout,
    /// The model is still loading, or the server is shutting down (503).
    Unavailable,
    /// What the request needs is not part of this server (a model part, an index) (501).
    NotSupported,
    /// The server failed (500).
    ServerError,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Its kind.
    pub kind: ErrorKind,
    /// What went wrong, naming the input when there is one.
    pub message: String,
}

/// The body of an error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What an error answer says.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, naming the input (its index and format) when there is one.
    pub message: String,
    /// The kind of error.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
}

impl ApiError {
    /// An error with `status` and `kind`.
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// A malformed request (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidRequestError,
            message,
        )
    }

    /// Something asked for that does not exist (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorKind::InvalidRequestError,
            message,
        )
    }

    /// Over a limit (413).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTooLarge,
            message,
        )
    }

    /// Not part of this server (501).
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorKind::NotSupported,
            message,
        )
    }

    /// The server failed (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::ServerError,
            message,
        )
    }

    /// The model is not ready, or the server is stopping (503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Unavailable,
            message,
        )
    }

    /// Why the input named `what` (e.g. `input 2`), of format `format`, could not be
    /// embedded.
    pub fn from_cause(what: &str, format: &str, cause: &Cause) -> Self {
        let message = format!("{what} (format {format}): {cause}");
        match cause {
            Cause::Input(InputCause::Audio(clamp3_audio::AudioError::LongerThan { .. })) => {
                Self::too_large(message)
            }
            Cause::Input(_) => Self::bad_request(message),
            Cause::System(
                SystemCause::NotLoaded(_)
                | SystemCause::NoMert
                | SystemCause::NoTokenizer
                | SystemCause::NoBlip
                | SystemCause::NoModel,
            ) => Self::not_supported(message),
            Cause::System(SystemCause::Compute(_) | SystemCause::Caption(_)) => {
                Self::internal(message)
            }
        }
    }

    /// A library error outside one input (index, files), by whose fault it is.
    pub fn from_library(e: &clamp3::Error) -> Self {
        match e.fault() {
            Fault::Input => Self::bad_request(e.to_string()),
            Fault::System => Self::internal(e.to_string()),
        }
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind,
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?}): {}", self.status, self.kind, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        // Middleware (metrics, logs) reads the kind from here.
        r.extensions_mut().insert(self.kind);
        r
    }
}

/// `Result` with an [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_map_to_statuses_by_fault() {
        let bad = ApiError::from_cause("input 2", "mid", &Cause::Input(InputCause::EmptyText));
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.message.starts_with("input 2 (format mid): "), "{bad}");
        let long = ApiError::from_cause(
            "input 0",
            "wav",
            &Cause::Input(InputCause::Audio(clamp3_audio::AudioError::LongerThan {
                seconds: 10.0,
            })),
        );
        assert_eq!(long.status, StatusCode::PAYLOAD_TOO_LARGE);
        let missing = ApiError::from_cause("input 0", "wav", &Cause::System(SystemCause::NoMert));
        assert_eq!(missing.status, StatusCode::NOT_IMPLEMENTED);
        let json = serde_json::to_value(bad.body()).unwrap();
        assert_eq!(json["error"]["type"], "invalid_request_error");
    }
}
