//! The server's state: its settings and metrics from the start, and the engine (the model,
//! the batching queue, the index) once the model is loaded.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::Context;
use clamp3::audio::MertOptions;
use clamp3::{Device, EmbedOptions, Embedder, Library, Modality};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::queue::Batcher;

/// Recordings longer than this many seconds are decoded again per pass rather than held in
/// memory while they wait for the model (30 s: 2.9 MB each).
const HELD_AUDIO_SECONDS: u64 = 30;

/// What to load: the model, MERT, the index.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The model directory or weights file (resolved); `None` to use the one the index was
    /// built with.
    pub model: Option<PathBuf>,
    /// The name answered as `model` (e.g. `saas`, or the directory's name).
    pub model_name: Option<String>,
    /// MERT-v1-95M; when `None`, looked for beside the model and in the cache, and recordings
    /// are refused (501) when it is not found.
    pub mert: Option<PathBuf>,
    /// BLIP, for images; when `None`, looked for beside the model and in the cache, and images
    /// are refused (501) when it is not found.
    pub blip: Option<PathBuf>,
    /// The index: a directory, or a PostgreSQL database's `postgresql://` URL (created when
    /// missing).
    pub index: Option<String>,
    /// Where the model runs.
    pub device: Device,
}

/// The loaded model and what serves it.
pub struct Engine {
    /// The model.
    pub embedder: Arc<Embedder>,
    /// The index, when the server has one.
    pub library: Option<Arc<Library>>,
    /// The batching queue in front of the model.
    pub batcher: Batcher,
    /// The name answered as `model`.
    pub model_name: String,
    /// Serialises index updates (check, embed, store).
    pub writes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model_name", &self.model_name)
            .field("model_id", &self.embedder.model_id())
            .field("library", &self.library)
            .finish()
    }
}

impl Engine {
    /// Wraps a loaded embedder (and index) and starts its batching queue.
    pub fn new(
        mut embedder: Embedder,
        library: Option<Library>,
        model_name: impl Into<String>,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let limits = &config.limits;
        embedder.set_recording_options(MertOptions {
            max_seconds: Some(limits.max_audio_seconds),
            in_memory_limit: HELD_AUDIO_SECONDS * 24_000,
            ..MertOptions::default()
        });
        Self::shared(Arc::new(embedder), library, model_name, config, metrics)
    }

    /// Wraps an embedder shared with others (its recording options as they are) and starts a
    /// batching queue in front of it.
    pub fn shared(
        embedder: Arc<Embedder>,
        library: Option<Library>,
        model_name: impl Into<String>,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let limits = &config.limits;
        if let Some(l) = &library {
            l.check_model(&embedder)
                .with_context(|| format!("index {}", l.location()))?;
        }
        let opts = EmbedOptions {
            max_batch: limits.segments_per_pass.max(1),
            ..EmbedOptions::default()
        };
        let batcher = Batcher::start(embedder.clone(), limits.clone(), opts, metrics)
            .context("cannot start the batching threads")?;
        Ok(Engine {
            embedder,
            library: library.map(Arc::new),
            batcher,
            model_name: model_name.into(),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads what `spec` names (blocking: minutes for a large model on a slow disk).
    pub fn load(spec: &ModelSpec, config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let existing = match &spec.index {
            Some(location) => match Library::connect(location) {
                Ok(l) => Some(l),
                // None there yet: made below, for the model.
                Err(clamp3::Error::Index(
                    clamp3_index::IndexError::NoIndexAt { .. }
                    | clamp3_index::IndexError::NotAnIndex { .. },
                )) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let model = match (&spec.model, &existing) {
            (Some(m), _) => m.clone(),
            (None, Some(l)) => l
                .model_path()?
                .context("the index does not record its model: give the model")?,
            (None, None) => anyhow::bail!("no model given"),
        };
        let mut embedder = Embedder::load(&model, &Modality::ALL, &spec.device)
            .with_context(|| format!("cannot load the model {}", model.display()))?;
        let model_dir = embedder.files().map(|f| f.dir.clone());
        match &spec.mert {
            Some(dir) => embedder
                .attach_mert(dir, &spec.device)
                .with_context(|| format!("cannot load MERT from {}", dir.display()))?,
            None => match clamp3::hub::locate_mert(None, model_dir.as_deref()) {
                Ok(dir) => embedder
                    .attach_mert(&dir, &spec.device)
                    .with_context(|| format!("cannot load MERT from {}", dir.display()))?,
                Err(e) => tracing::warn!("recordings will be refused: {e}"),
            },
        }
        match &spec.blip {
            Some(dir) => embedder
                .attach_blip(dir, &spec.device)
                .with_context(|| format!("cannot load BLIP from {}", dir.display()))?,
            None => match clamp3::hub::locate_blip(None, model_dir.as_deref()) {
                Ok(dir) => embedder
                    .attach_blip(&dir, &spec.device)
                    .with_context(|| format!("cannot load BLIP from {}", dir.display()))?,
                Err(e) => tracing::warn!("images will be refused: {e}"),
            },
        }
        let library = match (existing, &spec.index) {
            (Some(l), _) => Some(l),
            (None, Some(location)) => Some(Library::connect_for(location, &embedder)?),
            (None, None) => None,
        };
        let name = spec.model_name.clone().unwrap_or_else(|| {
            model
                .file_name()
                .map_or_else(|| "clamp3".into(), |n| n.to_string_lossy().into_owned())
        });
        Self::new(embedder, library, name, config, metrics)
    }

    /// The modalities this server embeds (audio: MERT features; recordings need MERT too).
    pub fn modalities(&self) -> Vec<Modality> {
        Modality::ALL
            .into_iter()
            .filter(|m| self.embedder.model().parts().has(*m))
            .collect()
    }

    /// The index, or a 501 saying there is none.
    pub fn library(&self) -> ApiResult<&Arc<Library>> {
        self.library
            .as_ref()
            .ok_or_else(|| ApiError::not_supported("this server has no index"))
    }
}

/// Everything a request handler reaches.
#[derive(Debug)]
pub struct AppState {
    /// The settings.
    pub config: Config,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// When the server started.
    pub started: Instant,
    engine: OnceLock<Arc<Engine>>,
}

impl AppState {
    /// A state without a model yet (`/health` answers 503 until [`AppState::set_engine`]).
    pub fn new(config: Config) -> Self {
        AppState {
            config,
            metrics: Arc::new(Metrics::new()),
            started: Instant::now(),
            engine: OnceLock::new(),
        }
    }

    /// Makes the server ready.
    pub fn set_engine(&self, engine: Engine) {
        let _ = self.engine.set(Arc::new(engine));
    }

    /// The engine, or a 503 while the model loads.
    pub fn engine(&self) -> ApiResult<Arc<Engine>> {
        self.engine
            .get()
            .cloned()
            .ok_or_else(|| ApiError::unavailable("the model is still loading"))
    }

    /// Whether the model is loaded.
    pub fn is_ready(&self) -> bool {
        self.engine.get().is_some()
    }
}
