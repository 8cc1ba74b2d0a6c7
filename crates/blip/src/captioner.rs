//! The captioner: a BLIP model folder in the hub's layout, loaded once, turning image bytes
//! into captions as the reference's `inference/image_captioning.py` does
//! (`PIL.Image.open(path).convert("RGB")`, `BlipProcessor`, `generate()` with the default
//! settings, `decode(out[0], skip_special_tokens=True)`).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::config::BlipConfig;
use crate::decode::DecodeLimits;
use crate::detok::Detokenizer;
use crate::error::{BlipError, Result};
use crate::model::BlipModel;
use crate::preprocess::{preprocess_with_limits, PreprocessorConfig};

/// A generated caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    /// The caption as the reference writes it to its `.txt` file.
    pub text: String,
    /// The ids `generate` returns: `[DEC]`, the caption, and `[SEP]` unless `max_length` cut
    /// it short.
    pub token_ids: Vec<u32>,
}

/// Files of a BLIP model folder.
#[derive(Debug, Clone)]
pub struct BlipFiles {
    /// `config.json`.
    pub config: PathBuf,
    /// `preprocessor_config.json`.
    pub preprocessor: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `tokenizer_config.json` (optional).
    pub tokenizer_config: PathBuf,
    /// `model.safetensors`, else `pytorch_model.bin`.
    pub weights: PathBuf,
}

impl BlipFiles {
    /// Finds the files in `dir`, failing on the first one that is missing.
    pub fn locate(dir: &Path) -> Result<Self> {
        let need = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(BlipError::MissingFile { path: p })
            }
        };
        let weights = ["model.safetensors", "pytorch_model.bin"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| BlipError::MissingFile {
                path: dir.join("model.safetensors"),
            })?;
        Ok(BlipFiles {
            config: need("config.json")?,
            preprocessor: need("preprocessor_config.json")?,
            tokenizer: need("tokenizer.json")?,
            tokenizer_config: dir.join("tokenizer_config.json"),
            weights,
        })
    }
}

/// Image bytes in, captions out. `Send + Sync`: load once, share across threads.
pub struct Captioner {
    model: BlipModel,
    preprocessor: PreprocessorConfig,
    detokenizer: Detokenizer,
    limits: DecodeLimits,
    batch_size: usize,
    device: Device,
}

impl std::fmt::Debug for Captioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captioner")
            .field("batch_size", &self.batch_size)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn weights_mismatch(path: &Path, e: candle_core::Error) -> BlipError {
    // candle wraps the WeightsError that names the key and the shapes; surface it.
    let mut cur: &(dyn std::error::Error + 'static) = &e;
    let msg = loop {
        if let Some(w) = cur.downcast_ref::<clamp3_model::WeightsError>() {
            break w.to_string();
        }
        match cur.source() {
            Some(s) => cur = s,
            None => break e.to_string(),
        }
    };
    BlipError::WeightsMismatch {
        path: path.to_path_buf(),
        msg,
    }
}

impl Captioner {
    /// Loads a model folder in the hub's layout: `config.json`, `preprocessor_config.json`,
    /// `tokenizer.json` (and `tokenizer_config.json` if present), and `model.safetensors` or
    /// `pytorch_model.bin`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let files = BlipFiles::locate(dir)?;
        let cfg = BlipConfig::from_file(&files.config)?;
        let preprocessor = PreprocessorConfig::from_file(&files.preprocessor)?;
        let size = cfg.vision.image_size;
        if !preprocessor.do_resize || preprocessor.height != size || preprocessor.width != size {
            return Err(BlipError::Config {
                path: files.preprocessor.clone(),
                msg: format!(
                    "the processor makes {}x{} images (do_resize {}) but the vision model takes {size}x{size}",
                    preprocessor.height, preprocessor.width, preprocessor.do_resize
                ),
            });
        }
        let detokenizer = Detokenizer::load(&files.tokenizer, Some(&files.tokenizer_config))?;
        if detokenizer.vocab_size() > cfg.text.vocab_size {
            return Err(BlipError::Config {
                path: files.tokenizer.clone(),
                msg: format!(
                    "the tokenizer has {} tokens but the model's vocabulary is {}",
                    detokenizer.vocab_size(),
                    cfg.text.vocab_size
                ),
            });
        }
        let weights = clamp3_model::Weights::open(&files.weights)?;
        let vb = candle_nn::VarBuilder::from_backend(Box::new(weights), DType::F32, device.clone());
        let model =
            BlipModel::load(&cfg, vb, device).map_err(|e| weights_mismatch(&files.weights, e))?;
        Ok(Captioner {
            model,
            preprocessor,
            detokenizer,
            limits: DecodeLimits::default(),
            batch_size: 8,
            device: device.clone(),
        })
    }

    /// Replaces the decoding limits (default [`DecodeLimits::default`]).
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how many images [`Captioner::caption_batch`] runs through the model at once
    /// (default 8; at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The model.
    pub fn model(&self) -> &BlipModel {
        &self.model
    }

    /// The preprocessing settings.
    pub fn preprocessor(&self) -> &PreprocessorConfig {
        &self.preprocessor
    }

    /// The decoding limits in force.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Decodes and preprocesses image bytes: `pixel_values` of one image, `(3, size, size)`.
    pub fn pixel_values(&self, image_bytes: &[u8]) -> Result<Tensor> {
        let (px, shape) = preprocess_with_limits(image_bytes, &self.preprocessor, &self.limits)?;
        Ok(Tensor::from_vec(
            px,
            (shape[0], shape[1], shape[2]),
            &self.device,
        )?)
    }

    /// Captions one image (PNG, JPEG or WebP bytes).
    pub fn caption(&self, image_bytes: &[u8]) -> Result<Caption> {
        let px = self.pixel_values(image_bytes)?.unsqueeze(0)?;
        let ids = self.model.generate(&px)?;
        self.to_caption(ids.into_iter().next().unwrap_or_default())
    }

    /// Captions several images, running up to the batch size through the model together
    /// (the decoder reads its weights once a step for the whole batch). Each result is the
    /// one [`Captioner::caption`] gives for that image.
    pub fn caption_batch(&self, images: &[&[u8]]) -> Vec<Result<Caption>> {
        let mut out = Vec::with_capacity(images.len());
        // Chunk by chunk, so that at most one batch of pixel tensors is alive at a time.
        for chunk in images.chunks(self.batch_size) {
            let pixels: Vec<Result<Tensor>> =
                chunk.par_iter().map(|b| self.pixel_values(b)).collect();
            let ok: Vec<&Tensor> = pixels.iter().filter_map(|p| p.as_ref().ok()).collect();
            let generated = if ok.is_empty() {
                Ok(Vec::new())
            } else {
                Tensor::stack(&ok, 0).and_then(|px| self.model.generate(&px))
            };
            let mut seqs = match generated {
                Ok(seqs) => seqs.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => {
                    let msg = e.to_string();
                    ok.iter()
                        .map(|_| Err(candle_core::Error::Msg(msg.clone())))
                        .collect()
                }
            }
            .into_iter();
            for p in pixels {
                out.push(match p {
                    Err(e) => Err(e),
                    Ok(_) => match seqs.next() {
                        Some(Ok(ids)) => self.to_caption(ids),
                        Some(Err(e)) => Err(BlipError::Compute(e)),
                        None => Err(BlipError::Compute(candle_core::Error::Msg(
                            "the model returned fewer captions than images".into(),
                        ))),
                    },
                });
            }
        }
        out
    }

    fn to_caption(&self, token_ids: Vec<u32>) -> Result<Caption> {
        Ok(Caption {
            text: self.detokenizer.decode(&token_ids)?,
            token_ids,
        })
    }
}
