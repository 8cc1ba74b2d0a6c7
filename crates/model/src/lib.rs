//! The CLaMP 3 model in candle: the XLM-R text encoder, the M3 symbolic encoder and the audio
//! encoder with their projections (docs/reference.md §3), checkpoint loading from the release
//! `.pth` files or safetensors, and the segmenting of long inputs (§6).

pub mod bert;
pub mod clamp3;
pub mod config;
pub mod dropout;
pub mod encode;
pub mod kernels;
pub mod layout;
pub mod load;
pub mod mert;
mod ops;
pub mod quant;
pub mod segment;
pub mod synthetic;
pub mod weights;

pub use clamp3::{Clamp3Model, Modality, Parts};
pub use config::{BertConfig, Clamp3Config};
pub use encode::{BatchLimits, Sequence};
pub use load::{MertFiles, ModelError, ModelFiles};
pub use weights::{StoredType, Weights, WeightsError};
