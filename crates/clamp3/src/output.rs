//! Writing outputs so that nothing already written is lost ([`clamp3_util::fs`]).

use std::path::Path;

pub use clamp3_util::fs::{write_atomic, Output};

/// Writes a float32 array as `.npy`, atomically.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    write_atomic(path, &clamp3_formats::npy::write_npy(shape, data))
}
