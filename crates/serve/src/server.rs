//! The router and what wraps every request: the API key check, the request timeout, metrics
//! and one structured log line per request; and serving with graceful shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, ErrorKind};
use crate::metrics::{ErrorType, Route, RouteStatus};
use crate::routes::{apps, embeddings, index, ops, search, web};
use crate::state::AppState;

/// The service's router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = &state.config.limits;
    let api = Router::new()
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/search", post(search::search))
        .route("/v1/classify", post(apps::classify))
        .route("/v1/score", post(apps::score))
        .route("/v1/index", get(index::info))
        .route("/v1/index/add", post(index::add))
        .route("/v1/index/delete", post(index::delete))
        .route("/v1/index/file", get(index::file))
        .route("/v1/index/view", get(index::view))
        .route("/info", get(ops::info))
        .route("/metrics", get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), timeout))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/", get(web::page))
        .route("/assets/app.js", get(web::script))
        .route("/assets/app.css", get(web::style))
        .route("/health", get(ops::health))
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", crate::openapi::document()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route (see /docs)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::InvalidRequestError,
        "method not allowed on this route (see /docs)",
    )
}

/// Most bytes of a refused body read and dropped before its 413 answer is sent.
const DRAIN_CAP: usize = 64 << 20;

/// Longest time spent reading a refused body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// A body declared (`Content-Length`) larger than the limit is refused with 413 before any
/// handler runs. The rest of it is read and dropped first (up to [`DRAIN_CAP`] bytes, for at most
/// [`DRAIN_TIME`]): a client still sending would otherwise find the connection closed under it
/// (a broken pipe) and never read the answer. Larger bodies only get the connection closed.
async fn refuse_oversized(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let limit = state.config.limits.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => {
            if n <= DRAIN_CAP as u64 {
                let body = req.into_body();
                let _ =
                    tokio::time::timeout(DRAIN_TIME, axum::body::to_bytes(body, DRAIN_CAP)).await;
            }
            let mut r = ApiError::too_large(format!(
                "the request body ({n} bytes) is larger than the server's limit of {limit} bytes"
            ))
            .into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            r
        }
        _ => next.run(req).await,
    }
}

/// Byte-wise comparison whose time does not depend on where the keys differ.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// With an API key set, the API routes need `Authorization: Bearer <key>`.
async fn authorize(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(key) = &state.config.api_key else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same_key(g.as_bytes(), key.as_bytes()) => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::AuthenticationError,
            "wrong API key",
        )
        .into_response(),
        None => {
            let mut r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::AuthenticationError,
                "this server needs an API key: send `Authorization: Bearer <key>`",
            )
            .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        }
    }
}

/// Answers 503 when a request takes longer than the timeout; its queued inputs are dropped
/// with it.
async fn timeout(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limit = state.config.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout,
            format!(
                "the request took longer than the server's timeout of {} s",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

static REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// Metrics and one structured log line per request.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |m| m.as_str().to_string());
    let bytes = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let m = &state.metrics;
    m.requests
        .get_or_create(&RouteStatus {
            route: route.clone(),
            status,
        })
        .inc();
    m.latency
        .get_or_create(&Route {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    let kind = response.extensions().get::<ErrorKind>().copied();
    if let Some(k) = kind {
        let name = serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        m.errors.get_or_create(&ErrorType { r#type: name }).inc();
    }
    let ms = elapsed.as_secs_f64() * 1000.0;
    if method == Method::GET && (route == "/health" || route == "/metrics") {
        tracing::debug!(id, %method, %path, %route, status, ms, "request");
    } else if let Some(k) = kind {
        tracing::warn!(id, %method, %path, %route, status, ms, bytes, error = ?k, "request");
    } else {
        tracing::info!(id, %method, %path, %route, status, ms, bytes, "request");
    }
    response
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs a server on `addr` until SIGTERM or Ctrl-C: listens at once (`/health` answers 503
/// while the model loads), loads what `spec` names, serves, and on the signal finishes the
/// requests in flight. Prints `listening on http://ADDR` and `ready on http://ADDR` to standard
/// error.
pub fn run(addr: &str, spec: crate::ModelSpec, config: crate::Config) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let state = Arc::new(AppState::new(config));
        let server = tokio::spawn(serve(listener, state.clone(), shutdown_signal()));
        eprintln!("listening on http://{local} (loading the model)");
        let s = state.clone();
        tokio::task::spawn_blocking(move || {
            crate::Engine::load(&spec, &s.config, s.metrics.clone()).map(|e| s.set_engine(e))
        })
        .await
        .context("the model loader failed")??;
        tracing::info!(addr = %local, "ready");
        eprintln!("ready on http://{local}");
        server.await.context("the server failed")??;
        Ok(())
    })
}
