//! Operations: `GET /health`, `GET /info`, `GET /metrics`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clamp3::{InputKind, Modality};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Limits;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// The health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the model is loaded, else `loading`.
    pub status: &'static str,
}

/// 200 once the model is loaded and requests are served; 503 before.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The model is still loading", body = Health),
    )
)]
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, Json(Health { status: "ok" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health { status: "loading" }),
        )
            .into_response()
    }
}

/// What the server is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    /// The model's name (answered as `model` by `/v1/embeddings`).
    pub model: String,
    /// The model's identity: vectors of different ids are not comparable.
    pub model_id: String,
    /// Size of the embeddings.
    pub dim: usize,
    /// The encoders loaded.
    #[schema(value_type = Vec<String>)]
    pub modalities: Vec<Modality>,
    /// Whether MERT-v1-95M is loaded (recordings need it; MERT `.npy` features do not).
    pub mert: bool,
    /// The input formats (extensions) accepted, per encoder.
    pub formats: BTreeMap<String, Vec<&'static str>>,
    /// The index, when the server has one: its item count.
    pub index_items: Option<usize>,
    /// The limits.
    pub limits: Limits,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_seconds: f64,
}

/// Model id, modalities, formats, limits and version.
#[utoipa::path(
    get,
    path = "/info",
    tag = "operations",
    responses(
        (status = 200, description = "The server", body = Info),
        (status = 503, description = "The model is still loading", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn info(State(state): State<Arc<AppState>>) -> ApiResult<Json<Info>> {
    let engine = state.engine()?;
    let modalities = engine.modalities();
    let mert = engine.embedder.mert().is_some();
    let mut formats: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for kind in InputKind::ALL {
        let usable = engine.embedder.check_kind(kind).is_ok();
        if usable {
            formats
                .entry(kind.modality().as_str().to_string())
                .or_default()
                .extend(kind.extensions());
        }
    }
    let index_items = match &engine.library {
        Some(l) => {
            let l = l.clone();
            tokio::task::spawn_blocking(move || l.len().ok())
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    Ok(Json(Info {
        model: engine.model_name.clone(),
        model_id: engine.embedder.model_id().to_string(),
        dim: engine.embedder.dim(),
        modalities,
        mert,
        formats,
        index_items,
        limits: state.config.limits.clone(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")),
    security((), ("api_key" = []))
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
