//! Writing tensors and checkpoints atomically.

use std::path::Path;

use candle_core::Tensor;

use crate::TrainError;

/// Writes named tensors as safetensors via a temporary file and a rename.
pub fn save_tensors(tensors: &[(String, Tensor)], path: &Path) -> Result<(), TrainError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let map: std::collections::HashMap<&str, Tensor> = tensors
        .iter()
        .map(|(k, t)| (k.as_str(), t.clone()))
        .collect();
    candle_core::safetensors::save(&map, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::Io {
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

/// Writes `bytes` to `path` through a temporary file and a rename, so that a reader (or a
/// crash) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let err = |e| TrainError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
