//! Image captions for CLaMP 3's image route: BLIP (`Salesforce/blip-image-captioning-base`)
//! in candle, matching transformers 4.40's `BlipForConditionalGeneration.generate` with the
//! checkpoint's default settings.
//!
//! The reference turns an image into text with BLIP and embeds the caption through the text
//! path. This crate covers image bytes → caption:
//!
//! - [`decode`]: PNG / JPEG / WebP → RGB as Pillow's `convert("RGB")`, with bounded memory;
//! - [`resample`]: Pillow's bicubic resize, bit for bit;
//! - [`preprocess`](mod@preprocess): `BlipImageProcessor` (resize, rescale, normalise);
//! - [`vision`], [`text`], [`model`]: the ViT encoder, the cross-attending text decoder with
//!   a key/value cache, and greedy generation;
//! - [`detok`]: `decode(ids, skip_special_tokens=True)`;
//! - [`Captioner`]: all of it from a model folder in the hub's layout;
//! - [`synthetic`]: deterministic weights at any size, for tests and benchmarks.

pub mod captioner;
pub mod config;
pub mod decode;
pub mod detok;
pub mod error;
pub mod model;
pub mod preprocess;
pub mod resample;
pub mod synthetic;
pub mod text;
pub mod vision;

pub use captioner::{BlipFiles, Caption, Captioner};
pub use config::{BlipConfig, GenerationConfig, TextConfig, VisionConfig};
pub use decode::{decode_rgb, DecodeLimits, ImageFormat, RgbImage};
pub use error::{BlipError, Fault, Result};
pub use model::BlipModel;
pub use preprocess::{preprocess, preprocess_with_limits, PreprocessorConfig};
