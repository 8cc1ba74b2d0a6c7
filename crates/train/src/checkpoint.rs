//! Writing tensors and checkpoints atomically.

use std::path::Path;

use candle_core::Tensor;

use crate::TrainError;

/// Writes named tensors as safetensors, atomically (temporary file, fsync, rename).
pub fn save_tensors(tensors: &[(String, Tensor)], path: &Path) -> Result<(), TrainError> {
    let map: std::collections::HashMap<&str, Tensor> = tensors
        .iter()
        .map(|(k, t)| (k.as_str(), t.clone()))
        .collect();
    clamp3_util::fs::write_atomic_via_path(path, |tmp| {
        candle_core::safetensors::save(&map, tmp).map_err(std::io::Error::other)
    })
    .map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Reads every tensor of a safetensors file.
pub fn load_tensors(
    path: &Path,
    device: &candle_core::Device,
) -> Result<Vec<(String, Tensor)>, TrainError> {
    let map = candle_core::safetensors::load(path, device)?;
    Ok(map.into_iter().collect())
}

/// Writes `bytes` to `path` atomically ([`clamp3_util::fs::write_atomic`]), so that a reader
/// (or a crash) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    clamp3_util::fs::write_atomic(path, bytes).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
