//! `config.json` of a `BlipForConditionalGeneration` checkpoint, with transformers 4.40's
//! defaults (`BlipVisionConfig`, `BlipTextConfig`, `PretrainedConfig`) for missing keys.

use std::path::Path;

use serde::Deserialize;

use crate::error::{BlipError, Result};

/// The vision transformer (ViT) settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    /// Width of the token vectors.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Input side in pixels (square input).
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    /// Patches a side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens per image: the patches plus the class token.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }
}

/// The text decoder (BERT with cross-attention and a language-model head) settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TextConfig {
    /// Vocabulary size (rows of the word embeddings and of the LM head).
    pub vocab_size: usize,
    /// Width of the token vectors.
    pub hidden_size: usize,
    /// Width of the image embeddings the cross-attention reads (the vision hidden size).
    pub encoder_hidden_size: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Rows of the position embeddings.
    pub max_position_embeddings: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The first token of every caption (`[DEC]`).
    pub bos_token_id: u32,
    /// The token that ends a caption (`[SEP]`; `generate` passes it as the EOS id).
    pub sep_token_id: u32,
    /// Filler after the end in a batch.
    pub pad_token_id: u32,
}

/// The decoding settings `generate` uses (the text config's generation attributes).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Longest output in tokens, the leading `[DEC]` included (default 20).
    pub max_length: usize,
}

/// The whole `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlipConfig {
    /// Vision encoder.
    pub vision: VisionConfig,
    /// Text decoder.
    pub text: TextConfig,
    /// Decoding.
    pub generation: GenerationConfig,
}

#[derive(Deserialize, Default)]
struct VisionJson {
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    image_size: Option<usize>,
    patch_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    hidden_act: Option<String>,
    num_channels: Option<usize>,
}

#[derive(Deserialize, Default)]
struct TextJson {
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    max_position_embeddings: Option<usize>,
    layer_norm_eps: Option<f64>,
    hidden_act: Option<String>,
    position_embedding_type: Option<String>,
    bos_token_id: Option<u32>,
    sep_token_id: Option<u32>,
    pad_token_id: Option<u32>,
    // Generation attributes of `PretrainedConfig`.
    max_length: Option<usize>,
    max_new_tokens: Option<usize>,
    min_length: Option<usize>,
    num_beams: Option<usize>,
    num_beam_groups: Option<usize>,
    do_sample: Option<bool>,
    repetition_penalty: Option<f64>,
    no_repeat_ngram_size: Option<usize>,
    encoder_no_repeat_ngram_size: Option<usize>,
    bad_words_ids: Option<serde_json::Value>,
    forced_bos_token_id: Option<serde_json::Value>,
    forced_eos_token_id: Option<serde_json::Value>,
    suppress_tokens: Option<serde_json::Value>,
    begin_suppress_tokens: Option<serde_json::Value>,
    exponential_decay_length_penalty: Option<serde_json::Value>,
    remove_invalid_values: Option<bool>,
}

#[derive(Deserialize)]
struct Json {
    model_type: Option<String>,
    #[serde(default)]
    vision_config: VisionJson,
    #[serde(default)]
    text_config: TextJson,
}

impl BlipConfig {
    /// Reads `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_json(&crate::error::read_text(path)?, path)
    }

    /// Parses the JSON text of `config.json` (`path` is for messages).
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let bad = |msg: String| BlipError::config(path, msg);
        let unsupported = |setting: &str, value: String, supported: &str| {
            BlipError::unsupported(path, setting, value, supported)
        };
        let j: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(t) = &j.model_type {
            if t != "blip" {
                return Err(bad(format!(
                    "model_type is \"{t}\", expected \"blip\" (a BlipForConditionalGeneration checkpoint)"
                )));
            }
        }
        let v = j.vision_config;
        let t = j.text_config;
        for (key, act) in [
            ("vision_config.hidden_act", &v.hidden_act),
            ("text_config.hidden_act", &t.hidden_act),
        ] {
            if let Some(a) = act {
                if a != "gelu" {
                    return Err(unsupported(key, a.clone(), "gelu (exact erf form)"));
                }
            }
        }
        if let Some(p) = &t.position_embedding_type {
            if p != "absolute" {
                return Err(unsupported(
                    "text_config.position_embedding_type",
                    p.clone(),
                    "absolute",
                ));
            }
        }
        if let Some(c) = v.num_channels {
            if c != 3 {
                return Err(unsupported(
                    "vision_config.num_channels",
                    c.to_string(),
                    "3",
                ));
            }
        }
        let vision = VisionConfig {
            hidden_size: v.hidden_size.unwrap_or(768),
            intermediate_size: v.intermediate_size.unwrap_or(3072),
            num_hidden_layers: v.num_hidden_layers.unwrap_or(12),
            num_attention_heads: v.num_attention_heads.unwrap_or(12),
            image_size: v.image_size.unwrap_or(384),
            patch_size: v.patch_size.unwrap_or(16),
            layer_norm_eps: v.layer_norm_eps.unwrap_or(1e-5),
        };
        let text = TextConfig {
            vocab_size: t.vocab_size.unwrap_or(30524),
            hidden_size: t.hidden_size.unwrap_or(768),
            // BlipConfig sets it to the vision width whatever the file says.
            encoder_hidden_size: vision.hidden_size,
            intermediate_size: t.intermediate_size.unwrap_or(3072),
            num_hidden_layers: t.num_hidden_layers.unwrap_or(12),
            num_attention_heads: t.num_attention_heads.unwrap_or(8),
            max_position_embeddings: t.max_position_embeddings.unwrap_or(512),
            layer_norm_eps: t.layer_norm_eps.unwrap_or(1e-12),
            bos_token_id: t.bos_token_id.unwrap_or(30522),
            sep_token_id: t.sep_token_id.unwrap_or(102),
            pad_token_id: t.pad_token_id.unwrap_or(0),
        };
        // Decoding: greedy search, as the defaults of blip-image-captioning-base ask. Any
        // setting that would change greedy search is refused rather than ignored.
        let max_length = match t.max_new_tokens {
            Some(n) => n + 1,
            None => t.max_length.unwrap_or(20),
        };
        let checks: [(&str, bool, String, &str); 9] = [
            (
                "text_config.num_beams",
                t.num_beams.unwrap_or(1) == 1,
                format!("{:?}", t.num_beams),
                "1",
            ),
            (
                "text_config.num_beam_groups",
                t.num_beam_groups.unwrap_or(1) == 1,
                format!("{:?}", t.num_beam_groups),
                "1",
            ),
            (
                "text_config.do_sample",
                !t.do_sample.unwrap_or(false),
                format!("{:?}", t.do_sample),
                "false",
            ),
            (
                "text_config.repetition_penalty",
                t.repetition_penalty.unwrap_or(1.0) == 1.0,
                format!("{:?}", t.repetition_penalty),
                "1.0",
            ),
            (
                "text_config.min_length",
                t.min_length.unwrap_or(0) <= 1,
                format!("{:?}", t.min_length),
                "0",
            ),
            (
                "text_config.no_repeat_ngram_size",
                t.no_repeat_ngram_size.unwrap_or(0) == 0,
                format!("{:?}", t.no_repeat_ngram_size),
                "0",
            ),
            (
                "text_config.encoder_no_repeat_ngram_size",
                t.encoder_no_repeat_ngram_size.unwrap_or(0) == 0,
                format!("{:?}", t.encoder_no_repeat_ngram_size),
                "0",
            ),
            (
                "text_config.remove_invalid_values",
                !t.remove_invalid_values.unwrap_or(false),
                format!("{:?}", t.remove_invalid_values),
                "false",
            ),
            (
                "text_config.max_length",
                max_length >= 1,
                format!("{max_length}"),
                "at least 1",
            ),
        ];
        for (key, ok, value, supported) in checks {
            if !ok {
                return Err(unsupported(key, value, supported));
            }
        }
        for (key, val) in [
            ("text_config.bad_words_ids", &t.bad_words_ids),
            ("text_config.forced_bos_token_id", &t.forced_bos_token_id),
            ("text_config.forced_eos_token_id", &t.forced_eos_token_id),
            ("text_config.suppress_tokens", &t.suppress_tokens),
            (
                "text_config.begin_suppress_tokens",
                &t.begin_suppress_tokens,
            ),
            (
                "text_config.exponential_decay_length_penalty",
                &t.exponential_decay_length_penalty,
            ),
        ] {
            if let Some(v) = val {
                if !v.is_null() {
                    return Err(unsupported(key, v.to_string(), "null"));
                }
            }
        }
        let cfg = BlipConfig {
            vision,
            text,
            generation: GenerationConfig { max_length },
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let v = &self.vision;
        let t = &self.text;
        if v.hidden_size == 0
            || v.num_attention_heads == 0
            || !v.hidden_size.is_multiple_of(v.num_attention_heads)
        {
            return Err(format!(
                "vision hidden_size {} is not a multiple of num_attention_heads {}",
                v.hidden_size, v.num_attention_heads
            ));
        }
        if t.hidden_size == 0
            || t.num_attention_heads == 0
            || !t.hidden_size.is_multiple_of(t.num_attention_heads)
        {
            return Err(format!(
                "text hidden_size {} is not a multiple of num_attention_heads {}",
                t.hidden_size, t.num_attention_heads
            ));
        }
        if v.patch_size == 0 || v.image_size < v.patch_size {
            return Err(format!(
                "image_size {} and patch_size {} give no patch",
                v.image_size, v.patch_size
            ));
        }
        for (name, id) in [
            ("bos_token_id", t.bos_token_id),
            ("sep_token_id", t.sep_token_id),
            ("pad_token_id", t.pad_token_id),
        ] {
            if id as usize >= t.vocab_size {
                return Err(format!(
                    "{name} {id} is outside the vocabulary of {}",
                    t.vocab_size
                ));
            }
        }
        if self.generation.max_length > t.max_position_embeddings {
            return Err(format!(
                "max_length {} exceeds max_position_embeddings {}",
                self.generation.max_length, t.max_position_embeddings
            ));
        }
        Ok(())
    }
}
