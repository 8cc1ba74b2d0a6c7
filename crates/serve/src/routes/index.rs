//! The index over HTTP: what it holds, items added from uploaded bytes and deleted (one writer
//! at a time, each update one transaction, as `clamp3 index add`), and the indexed files
//! themselves for playing and viewing.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clamp3::library::content_hash;
use clamp3::{Input, InputKind, Library};
use clamp3_index::NewItem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{embed_named, global, ApiJson};
use crate::input::{decode_base64, Decoded};
use crate::state::AppState;

/// Longest item key, in bytes.
const MAX_KEY_BYTES: usize = 4096;

/// What the index holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexInfo {
    /// Stored items.
    pub items: usize,
    /// Stored items per modality.
    pub by_modality: BTreeMap<String, usize>,
    /// The model id of the stored vectors.
    pub model_id: String,
    /// Their dimension.
    pub dim: usize,
}

/// Runs index work off the async threads (the library's error boxed: it is large).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Box<clamp3::Error>> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("index task failed: {e}")))?
        .map_err(|e| ApiError::from_library(&e))
}

/// What the index holds.
#[utoipa::path(
    get,
    path = "/v1/index",
    tag = "index",
    responses(
        (status = 200, description = "Counts", body = IndexInfo),
        (status = 501, description = "The server has no index", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn info(State(state): State<Arc<AppState>>) -> ApiResult<Json<IndexInfo>> {
    let engine = state.engine()?;
    let library = engine.library()?.clone();
    Ok(Json(index_info(library).await?))
}

async fn index_info(library: Arc<Library>) -> ApiResult<IndexInfo> {
    blocking(move || {
        Ok(IndexInfo {
            items: library.len()?,
            by_modality: library.count_by_modality()?,
            model_id: library.meta().model_id.clone(),
            dim: library.meta().dim,
        })
    })
    .await
}

/// One item to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    /// The item's key (any string); give `id` or `path`.
    #[serde(default)]
    pub id: Option<String>,
    /// The item's key when it is a file on the server (then it can be played and viewed
    /// from the index, as long as the file's content is what was added).
    #[serde(default)]
    pub path: Option<String>,
    /// The file's extension (txt, abc, mid, mxl, wav, ...).
    pub format: String,
    /// The file's bytes, base64.
    pub data: String,
    /// Stored with the item (merged over `name`, `extension` and `bytes`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Items to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// The items, stored together in one transaction (all or none).
    pub items: Vec<AddItem>,
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddStatus {
    /// Stored for the first time.
    Added,
    /// Its content changed: re-embedded.
    Updated,
    /// Already stored with the same content: skipped.
    Unchanged,
}

/// One item's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddedItem {
    /// Its key.
    pub id: String,
    /// What happened.
    pub status: AddStatus,
}

/// The outcome of an addition.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddResponse {
    /// Items stored for the first time.
    pub added: usize,
    /// Items re-embedded.
    pub updated: usize,
    /// Items skipped.
    pub unchanged: usize,
    /// Per item, in order.
    pub items: Vec<AddedItem>,
    /// Items in the index afterwards.
    pub total: usize,
}

/// Adds (or updates) items from uploaded bytes: embedded through the batching queue and
/// stored in one transaction; an item whose key holds the same content is skipped.
#[utoipa::path(
    post,
    path = "/v1/index/add",
    tag = "index",
    request_body = AddRequest,
    responses(
        (status = 200, description = "Stored", body = AddResponse),
        (status = 400, description = "A malformed request or a bad item (named); nothing stored", body = ErrorBody),
        (status = 501, description = "The server has no index", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn add(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<AddRequest>,
) -> ApiResult<Json<AddResponse>> {
    let engine = state.engine()?;
    let library = engine.library()?.clone();
    let max = state.config.limits.max_inputs;
    if req.items.is_empty() {
        return Err(ApiError::bad_request("no item given"));
    }
    if req.items.len() > max {
        return Err(ApiError::too_large(format!(
            "{} items in one request; at most {max}",
            req.items.len()
        )));
    }
    // Decode and check everything before touching the index.
    let mut todo: Vec<(String, String, InputKind, Decoded, serde_json::Value)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, item) in req.items.iter().enumerate() {
        let key = match (&item.id, &item.path) {
            (Some(k), None) | (None, Some(k)) => k.clone(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "item {i}: give exactly one of `id` and `path`"
                )))
            }
        };
        if key.is_empty() || key.len() > MAX_KEY_BYTES || key.contains('\0') {
            return Err(ApiError::bad_request(format!(
                "item {i}: the key must be 1 to {MAX_KEY_BYTES} bytes without NUL"
            )));
        }
        if !seen.insert(key.clone()) {
            return Err(ApiError::bad_request(format!(
                "item {i}: `{key}` is given twice"
            )));
        }
        let format = item.format.trim_start_matches('.').to_ascii_lowercase();
        let kind = InputKind::from_extension(&format).ok_or_else(|| {
            ApiError::bad_request(format!(
                "item {i}: unknown format `{}` (supported: {})",
                item.format,
                InputKind::extension_list()
            ))
        })?;
        let bytes = decode_base64(&item.data).map_err(|e| {
            ApiError::bad_request(format!(
                "item {i} (format {format}): `data` is not valid base64: {e}"
            ))
        })?;
        let user = match &item.metadata {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "item {i}: `metadata` must be an object"
                )))
            }
        };
        let name = Path::new(&key)
            .file_name()
            .map_or_else(|| key.clone(), |n| n.to_string_lossy().into_owned());
        let mut metadata = serde_json::Map::new();
        metadata.insert("name".into(), name.into());
        metadata.insert("extension".into(), format.clone().into());
        metadata.insert("bytes".into(), bytes.len().into());
        metadata.extend(user);
        let hash = content_hash(&bytes);
        let decoded = Decoded {
            bytes: bytes.len(),
            input: Input::bytes(kind, bytes),
            format,
            name: Some(key.clone()),
        };
        todo.push((
            key,
            hash,
            kind,
            decoded,
            serde_json::Value::Object(metadata),
        ));
    }

    // One writer at a time: the content check, the embedding and the store.
    let _writer = engine.writes.lock().await;
    let keys: Vec<(String, String)> = todo.iter().map(|t| (t.0.clone(), t.1.clone())).collect();
    let lib = library.clone();
    let stored: Vec<Option<String>> = blocking(move || {
        keys.iter()
            .map(|(k, _)| lib.hash_of(k).map_err(Box::new))
            .collect::<Result<_, _>>()
    })
    .await?;
    let mut statuses = Vec::with_capacity(todo.len());
    let mut embed_idx = Vec::new();
    for (i, ((_, hash, ..), old)) in todo.iter().zip(&stored).enumerate() {
        statuses.push(match old {
            Some(h) if h == hash => AddStatus::Unchanged,
            Some(_) => AddStatus::Updated,
            None => AddStatus::Added,
        });
        if statuses[i] != AddStatus::Unchanged {
            embed_idx.push(i);
        }
    }
    let to_embed: Vec<Decoded> = embed_idx.iter().map(|&i| todo[i].3.clone()).collect();
    let vectors = if to_embed.is_empty() {
        Vec::new()
    } else {
        embed_named(&engine, &to_embed, |n| {
            let i = embed_idx[n];
            format!("item {i} ({})", todo[i].0)
        })
        .await?
    };
    let items: Vec<NewItem> = embed_idx
        .iter()
        .zip(vectors)
        .map(|(&i, e)| {
            let (key, hash, kind, _, metadata) = &todo[i];
            NewItem {
                path: key.clone(),
                hash: hash.clone(),
                modality: kind.modality().as_str().to_string(),
                metadata: metadata.clone(),
                vector: global(e),
            }
        })
        .collect();
    let lib = library.clone();
    let total = blocking(move || {
        if !items.is_empty() {
            lib.upsert(&items)?;
        }
        Ok(lib.len()?)
    })
    .await?;
    let count = |s: AddStatus| statuses.iter().filter(|x| **x == s).count();
    Ok(Json(AddResponse {
        added: count(AddStatus::Added),
        updated: count(AddStatus::Updated),
        unchanged: count(AddStatus::Unchanged),
        items: todo
            .iter()
            .zip(&statuses)
            .map(|(t, s)| AddedItem {
                id: t.0.clone(),
                status: *s,
            })
            .collect(),
        total,
    }))
}

/// Items to delete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// The keys (`id` or `path` as added; for items added by `clamp3 index add`, the absolute
    /// file path).
    pub ids: Vec<String>,
}

/// The outcome of a deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    /// Items removed (keys not in the index are ignored).
    pub deleted: usize,
    /// Items in the index afterwards.
    pub total: usize,
}

/// Deletes items by key, in one transaction.
#[utoipa::path(
    post,
    path = "/v1/index/delete",
    tag = "index",
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "Removed", body = DeleteResponse),
        (status = 501, description = "The server has no index", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<DeleteRequest>,
) -> ApiResult<Json<DeleteResponse>> {
    let engine = state.engine()?;
    let library = engine.library()?.clone();
    let _writer = engine.writes.lock().await;
    let ids: HashSet<String> = req.ids.into_iter().collect();
    let (deleted, total) = blocking(move || {
        let n = if ids.is_empty() {
            0
        } else {
            library.prune(|k| !ids.contains(k))?
        };
        Ok((n, library.len()?))
    })
    .await?;
    Ok(Json(DeleteResponse { deleted, total }))
}

/// Which indexed item.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ItemQuery {
    /// The item's key (its `path` in search results).
    pub id: String,
}

/// The content type of a file of extension `ext`.
fn content_type(ext: &str) -> &'static str {
    match ext {
        "wav" | "wave" => "audio/wav",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" | "mp4" | "aac" | "alac" => "audio/mp4",
        "aif" | "aiff" | "aifc" => "audio/aiff",
        "webm" => "audio/webm",
        "mka" => "audio/x-matroska",
        "caf" => "audio/x-caf",
        "mid" | "midi" => "audio/midi",
        "xml" | "musicxml" => "application/vnd.recordare.musicxml+xml",
        "mxl" => "application/vnd.recordare.musicxml",
        "abc" | "mtf" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The bytes of an indexed file: only for keys in the index that are files on this server
/// whose content is still the content that was indexed (so nothing but indexed files is ever
/// served).
async fn indexed_file(state: &AppState, id: String) -> ApiResult<(InputKind, String, Vec<u8>)> {
    let engine = state.engine()?;
    let library = engine.library()?.clone();
    let not_found = || ApiError::not_found("no indexed file with this id on this server");
    let found = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let Some(stored) = library
            .hash_of(&id)
            .map_err(|e| ApiError::from_library(&e))?
        else {
            return Ok(None);
        };
        let path = Path::new(&id);
        let Some(kind) = InputKind::of(path) else {
            return Ok(None);
        };
        if !path.is_absolute() || !path.is_file() {
            return Ok(None);
        }
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(None);
        };
        if content_hash(&bytes) != stored {
            return Ok(None);
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        Ok(Some((kind, ext, bytes)))
    })
    .await
    .map_err(|e| ApiError::internal(format!("file task failed: {e}")))??;
    found.ok_or_else(not_found)
}

/// An indexed file's bytes (e.g. to play a recording in the page).
#[utoipa::path(
    get,
    path = "/v1/index/file",
    tag = "index",
    params(ItemQuery),
    responses(
        (status = 200, description = "The file, with its content type"),
        (status = 404, description = "No indexed file with this id (or it changed since it was indexed)", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn file(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ItemQuery>,
) -> ApiResult<Response> {
    let (_, ext, bytes) = indexed_file(&state, q.id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&ext)),
            (header::CACHE_CONTROL, "private, max-age=60"),
        ],
        bytes,
    )
        .into_response())
}

/// An indexed symbolic file as the model reads it (interleaved ABC or MTF), or a text file.
#[utoipa::path(
    get,
    path = "/v1/index/view",
    tag = "index",
    params(ItemQuery),
    responses(
        (status = 200, description = "The model text (text/plain)"),
        (status = 400, description = "Not a symbolic or text file, or it cannot be converted", body = ErrorBody),
        (status = 404, description = "No indexed file with this id", body = ErrorBody),
    ),
    security((), ("api_key" = []))
)]
pub async fn view(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ItemQuery>,
) -> ApiResult<Response> {
    let (kind, ext, bytes) = indexed_file(&state, q.id).await?;
    let text = tokio::task::spawn_blocking(move || match kind {
        InputKind::Text => clamp3_input::text::read(&bytes).map_err(|e| e.to_string()),
        InputKind::Abc | InputKind::Mtf | InputKind::Midi | InputKind::MusicXml => {
            clamp3_input::symbolic::model_text(kind, &bytes, clamp3_input::MxlSelection::Lenient)
                .map_err(|e| e.to_string())
        }
        _ => Err(format!("a {ext} file has no text view")),
    })
    .await
    .map_err(|e| ApiError::internal(format!("view task failed: {e}")))?
    .map_err(ApiError::bad_request)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
