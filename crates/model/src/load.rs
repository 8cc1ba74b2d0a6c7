//! Model directories: `config.json` + weights (`.safetensors` or release `.pth`) + `tokenizer.json`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};

use crate::clamp3::{Clamp3Model, Parts};
use crate::config::Clamp3Config;
use crate::weights::{Weights, WeightsError};

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model path does not exist or cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `config.json` is malformed or inconsistent.
    #[error("{}: invalid model configuration: {msg}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// No weights file in the model directory.
    #[error("{}: no weights found (expected a .safetensors, .gguf or .pth file)", dir.display())]
    NoWeights {
        /// The directory.
        dir: PathBuf,
    },
    /// Several candidate weights files and no way to choose.
    #[error("{}: several weights files ({}); pass the file itself as the model path", dir.display(), files.join(", "))]
    AmbiguousWeights {
        /// The directory.
        dir: PathBuf,
        /// The candidates.
        files: Vec<String>,
    },
    /// The weights file is unreadable or does not fit the configuration.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// Building the model failed.
    #[error("{0}")]
    Build(String),
}

/// The files of a model: configuration, weights and (optionally) tokenizer.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The parsed configuration (release defaults where `config.json` is absent).
    pub config: Clamp3Config,
    /// The weights file.
    pub weights: PathBuf,
    /// `tokenizer.json`, if present.
    pub tokenizer: Option<PathBuf>,
}

impl ModelFiles {
    /// Finds the files of a model given its directory or its weights file. In a directory the
    /// weights are `model.safetensors`, else `model.gguf` (a quantised model), else the only
    /// `.safetensors`, else the only `.gguf`, else the only `.pth`.
    pub fn locate(path: &Path) -> Result<Self, ModelError> {
        let (dir, weights) = locate_weights(
            path,
            &["model.safetensors", "model.gguf"],
            &[&["safetensors"], &["gguf"], &["pth"]],
        )?;
        let config = read_config(&dir, Clamp3Config::from_json)?.unwrap_or_default();
        let tok = dir.join("tokenizer.json");
        Ok(ModelFiles {
            tokenizer: tok.is_file().then_some(tok),
            dir,
            config,
            weights,
        })
    }

    /// Loads the encoders in `parts` on `device`.
    pub fn load(&self, parts: Parts, device: &Device) -> Result<Clamp3Model, ModelError> {
        let weights = Weights::open(&self.weights)?;
        load_model(&self.config, weights, parts, device)
    }
}

/// Builds a model from opened weights, turning the first missing or mis-shaped tensor into a
/// [`WeightsError`] that names it.
pub fn load_model(
    config: &Clamp3Config,
    weights: Weights,
    parts: Parts,
    device: &Device,
) -> Result<Clamp3Model, ModelError> {
    let (vb, _scope) = var_builder(weights, device);
    Clamp3Model::load(config, parts, vb).map_err(unwrap_weights_error)
}

/// A `VarBuilder` over `weights` and, for CPU inference, the scope in which the encoders keep
/// block-quantised or half-precision tensors in their blocks and read f32 lookup tables in
/// place ([`crate::quant::QuantizedLoad`]).
fn var_builder(
    weights: Weights,
    device: &Device,
) -> (
    candle_nn::VarBuilder<'static>,
    Option<crate::quant::QuantizedLoad>,
) {
    let weights = std::sync::Arc::new(weights);
    let scope = device
        .is_cpu()
        .then(|| crate::quant::QuantizedLoad::enter(weights.clone()));
    let vb = candle_nn::VarBuilder::from_backend(
        Box::new(SharedWeights(weights)),
        DType::F32,
        device.clone(),
    );
    (vb, scope)
}

/// [`Weights`] shared between the `VarBuilder` and a [`crate::quant::QuantizedLoad`].
struct SharedWeights(std::sync::Arc<Weights>);

impl candle_nn::var_builder::SimpleBackend for SharedWeights {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<candle_core::Tensor> {
        self.0.get(s, name, h, dtype, dev)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<candle_core::Tensor> {
        self.0.get_unchecked(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains_tensor(name)
    }
}

/// Recovers a [`WeightsError`] wrapped by candle, so callers see the key and shapes.
fn unwrap_weights_error(e: candle_core::Error) -> ModelError {
    let mut cur: &(dyn std::error::Error + 'static) = &e;
    loop {
        if let Some(w) = cur.downcast_ref::<WeightsError>() {
            return ModelError::Build(w.to_string());
        }
        match cur.source() {
            Some(s) => cur = s,
            None => return ModelError::Build(e.to_string()),
        }
    }
}

/// The directory and weights file of a model given as either. In a directory the weights are
/// the first of `preferred` that exists, else the only file whose extension is in the first
/// group of `groups` that has any (several are ambiguous).
fn locate_weights(
    path: &Path,
    preferred: &[&str],
    groups: &[&[&str]],
) -> Result<(PathBuf, PathBuf), ModelError> {
    let io = |p: &Path, e| ModelError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_dir() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return Ok((dir.to_path_buf(), path.to_path_buf()));
    }
    if let Some(p) = preferred.iter().map(|n| path.join(n)).find(|p| p.is_file()) {
        return Ok((path.to_path_buf(), p));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| io(path, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    for group in groups {
        let mut found: Vec<&PathBuf> = files
            .iter()
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| group.contains(&x))
            })
            .collect();
        found.sort();
        match found.as_slice() {
            [] => continue,
            [one] => return Ok((path.to_path_buf(), one.to_path_buf())),
            many => {
                return Err(ModelError::AmbiguousWeights {
                    dir: path.to_path_buf(),
                    files: many
                        .iter()
                        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .collect(),
                })
            }
        }
    }
    Err(ModelError::NoWeights {
        dir: path.to_path_buf(),
    })
}

/// `dir/config.json` parsed with `parse`; `None` when the file does not exist (the caller's
/// defaults apply).
fn read_config<T>(
    dir: &Path,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ModelError> {
    let path = dir.join("config.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text)
            .map(Some)
            .map_err(|msg| ModelError::Config { path, msg }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::Io { path, source: e }),
    }
}

/// The files of a MERT model: `config.json` (optional; MERT-v1-95M defaults) and weights
/// (`model.safetensors`, else `model.gguf`, else `pytorch_model.bin`, else the only
/// `.safetensors`/`.gguf`/`.bin`/`.pth`).
#[derive(Debug, Clone)]
pub struct MertFiles {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// The configuration.
    pub config: crate::mert::MertConfig,
    /// The weights file.
    pub weights: PathBuf,
}

impl MertFiles {
    /// Finds the files of a MERT model given its directory or weights file.
    pub fn locate(path: &Path) -> Result<Self, ModelError> {
        let (dir, weights) = locate_weights(
            path,
            &["model.safetensors", "model.gguf", "pytorch_model.bin"],
            &[&["safetensors", "gguf", "bin", "pth"]],
        )?;
        let config = read_config(&dir, crate::mert::MertConfig::from_json)?.unwrap_or_default();
        Ok(MertFiles {
            dir,
            config,
            weights,
        })
    }

    /// Loads the model on `device`.
    pub fn load(&self, device: &Device) -> Result<crate::mert::Mert, ModelError> {
        let weights = Weights::open(&self.weights)?;
        let (vb, _scope) = var_builder(weights, device);
        crate::mert::Mert::load(&self.config, vb).map_err(unwrap_weights_error)
    }
}
