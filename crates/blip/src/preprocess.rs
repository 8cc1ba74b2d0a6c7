//! BLIP's image processor (`BlipImageProcessor` of transformers 4.40), bit for bit on the
//! decoded pixels: RGB conversion, Pillow bicubic resize to `size`, `x · rescale_factor`
//! computed in double precision and stored as float32, then `(x − mean) / std` in float32,
//! channels first.

use std::path::Path;

use serde::Deserialize;

use crate::decode::{decode_rgb, DecodeLimits, RgbImage};
use crate::error::{BlipError, Result};
use crate::resample::resize_bicubic;

/// The settings of `preprocessor_config.json` that BLIP's processor uses, with
/// transformers' defaults for missing keys (those of `Salesforce/blip-image-captioning-base`:
/// 384 x 384, bicubic, 1/255, the OpenAI CLIP mean and std).
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessorConfig {
    /// Resize at all.
    pub do_resize: bool,
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Multiply by `rescale_factor`.
    pub do_rescale: bool,
    /// Usually 1/255.
    pub rescale_factor: f64,
    /// Subtract `image_mean` and divide by `image_std`.
    pub do_normalize: bool,
    /// Per-channel mean (R, G, B).
    pub image_mean: [f32; 3],
    /// Per-channel standard deviation.
    pub image_std: [f32; 3],
}

/// transformers' `OPENAI_CLIP_MEAN`.
const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// transformers' `OPENAI_CLIP_STD` (spelled as there; each literal rounds to the same f32 as
/// the JSON value).
#[allow(clippy::excessive_precision)]
const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

impl Default for PreprocessorConfig {
    fn default() -> Self {
        PreprocessorConfig {
            do_resize: true,
            height: 384,
            width: 384,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeJson {
    Square(usize),
    Dict {
        height: Option<usize>,
        width: Option<usize>,
        shortest_edge: Option<usize>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Floats {
    One(f32),
    Many(Vec<f32>),
}

#[derive(Deserialize)]
struct Json {
    do_resize: Option<bool>,
    size: Option<SizeJson>,
    resample: Option<serde_json::Value>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<Floats>,
    image_std: Option<Floats>,
    image_processor_type: Option<String>,
}

impl PreprocessorConfig {
    /// Reads `preprocessor_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_json(&crate::error::read_text(path)?, path)
    }

    /// Parses the JSON text of `preprocessor_config.json` (`path` is for messages).
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let bad = |msg: String| BlipError::config(path, msg);
        let unsupported = |setting: &str, value: String, supported: &str| {
            BlipError::unsupported(path, setting, value, supported)
        };
        let j: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(t) = &j.image_processor_type {
            if t != "BlipImageProcessor" {
                return Err(unsupported(
                    "image_processor_type",
                    t.clone(),
                    "BlipImageProcessor",
                ));
            }
        }
        let d = PreprocessorConfig::default();
        let (height, width) = match j.size {
            None => (d.height, d.width),
            Some(SizeJson::Square(s)) => (s, s),
            Some(SizeJson::Dict {
                height: Some(h),
                width: Some(w),
                ..
            }) => (h, w),
            Some(SizeJson::Dict { shortest_edge, .. }) => {
                return Err(unsupported(
                    "size",
                    format!("{shortest_edge:?} (shortest_edge)"),
                    "{\"height\", \"width\"} or one integer",
                ))
            }
        };
        if height == 0 || width == 0 || height > 4096 || width > 4096 {
            return Err(bad(format!("size {height}x{width} is out of range")));
        }
        // PILImageResampling.BICUBIC == 3; transformers also accepts the enum's name.
        match &j.resample {
            None => {}
            Some(v) if v.as_u64() == Some(3) || v.as_str() == Some("bicubic") => {}
            Some(v) => return Err(unsupported("resample", v.to_string(), "3 (bicubic)")),
        }
        let three = |f: Option<Floats>, default: [f32; 3], key: &str| -> Result<[f32; 3]> {
            match f {
                None => Ok(default),
                Some(Floats::One(v)) => Ok([v; 3]),
                Some(Floats::Many(v)) if v.len() == 3 => Ok([v[0], v[1], v[2]]),
                Some(Floats::Many(v)) => Err(bad(format!("{key} has {} values, not 3", v.len()))),
            }
        };
        let cfg = PreprocessorConfig {
            do_resize: j.do_resize.unwrap_or(d.do_resize),
            height,
            width,
            do_rescale: j.do_rescale.unwrap_or(d.do_rescale),
            rescale_factor: j.rescale_factor.unwrap_or(d.rescale_factor),
            do_normalize: j.do_normalize.unwrap_or(d.do_normalize),
            image_mean: three(j.image_mean, d.image_mean, "image_mean")?,
            image_std: three(j.image_std, d.image_std, "image_std")?,
        };
        if cfg.image_std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err(bad("image_std must be finite and non-zero".into()));
        }
        Ok(cfg)
    }
}

/// Resizes and normalises decoded RGB pixels: `(pixels, [3, height, width])`, channels first.
///
/// Without `do_resize` the output has the image's own size.
pub fn normalize(img: &RgbImage, cfg: &PreprocessorConfig) -> (Vec<f32>, [usize; 3]) {
    let (w, h) = (img.width as usize, img.height as usize);
    let (out_w, out_h) = if cfg.do_resize {
        (cfg.width, cfg.height)
    } else {
        (w, h)
    };
    let resized;
    let px: &[u8] = if (out_w, out_h) != (w, h) {
        resized = resize_bicubic(&img.data, w, h, 3, out_w, out_h);
        &resized
    } else {
        &img.data
    };
    // One table per channel: the processor's float32 value of every byte value, computed as
    // numpy does it (uint8 · float → float64, cast to float32; then float32 arithmetic).
    let table: Vec<[f32; 256]> = (0..3)
        .map(|c| {
            let mut t = [0f32; 256];
            for (v, o) in t.iter_mut().enumerate() {
                let mut x = if cfg.do_rescale {
                    (v as f64 * cfg.rescale_factor) as f32
                } else {
                    v as f32
                };
                if cfg.do_normalize {
                    x = (x - cfg.image_mean[c]) / cfg.image_std[c];
                }
                *o = x;
            }
            t
        })
        .collect();
    let plane = out_w * out_h;
    let mut out = vec![0f32; 3 * plane];
    for (i, p) in px.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = table[c][usize::from(p[c])];
        }
    }
    (out, [3, out_h, out_w])
}

/// Decodes image bytes and preprocesses them as BLIP's processor does (with the default
/// [`DecodeLimits`]): `(pixels, [3, height, width])`, channels first.
pub fn preprocess(image_bytes: &[u8], cfg: &PreprocessorConfig) -> Result<(Vec<f32>, [usize; 3])> {
    preprocess_with_limits(image_bytes, cfg, &DecodeLimits::default())
}

/// [`preprocess`] with explicit decoding limits.
pub fn preprocess_with_limits(
    image_bytes: &[u8],
    cfg: &PreprocessorConfig,
    limits: &DecodeLimits,
) -> Result<(Vec<f32>, [usize; 3])> {
    let img = decode_rgb(image_bytes, limits)?;
    Ok(normalize(&img, cfg))
}
