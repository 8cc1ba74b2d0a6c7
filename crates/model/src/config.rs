//! Model configuration (`config.json` in a model directory).
//!
//! Every field is optional: an absent file or field takes the official CLaMP 3 release value
//! (docs/reference.md §2), so the release checkpoints need no configuration at all, while smaller
//! or larger models only state what differs.

use serde::{Deserialize, Serialize};

/// Encoder hyper-parameters shared by the BERT-style encoders (transformers' `BertConfig` /
/// `XLMRobertaConfig` field names, so their `config.json` files can be read as they are).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BertConfig {
    /// Rows of the word-embedding table (1 for the two CLaMP 3 BERTs, which take embeddings).
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of post-LN transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (`hidden_size` must be a multiple).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of the position-embedding table.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (only row 0 is used).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Padding token id; for XLM-R it also anchors the position ids.
    pub pad_token_id: u32,
    /// Activation; only the exact erf GELU (`"gelu"`) is used by these models.
    pub hidden_act: String,
    /// Dropout on the embeddings and on each sub-layer's output, in training only.
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities, in training only.
    pub attention_probs_dropout_prob: f64,
}

impl BertConfig {
    /// The M3 symbolic encoder of the release (docs/reference.md §2).
    pub fn clamp3_symbolic() -> Self {
        BertConfig {
            vocab_size: 1,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            hidden_act: "gelu".into(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
        }
    }

    /// The audio encoder of the release.
    pub fn clamp3_audio() -> Self {
        BertConfig {
            max_position_embeddings: 128,
            ..Self::clamp3_symbolic()
        }
    }

    /// `xlm-roberta-base`, the release's text encoder.
    pub fn xlm_roberta_base() -> Self {
        BertConfig {
            vocab_size: 250_002,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            max_position_embeddings: 514,
            type_vocab_size: 1,
            layer_norm_eps: 1e-5,
            pad_token_id: 1,
            hidden_act: "gelu".into(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
        }
    }

    /// Checks that the sizes are usable.
    pub fn validate(&self, what: &str) -> Result<(), String> {
        let bad = |m: &str| Err(format!("{what}: {m}"));
        if self.hidden_size == 0 || self.num_attention_heads == 0 {
            return bad("hidden_size and num_attention_heads must be positive");
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad("hidden_size must be a multiple of num_attention_heads");
        }
        if self.max_position_embeddings == 0 || self.type_vocab_size == 0 {
            return bad("max_position_embeddings and type_vocab_size must be positive");
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return bad("layer_norm_eps must be positive");
        }
        let prob = |p: f64| (0.0..1.0).contains(&p);
        if !prob(self.hidden_dropout_prob) || !prob(self.attention_probs_dropout_prob) {
            return bad("dropout probabilities must be in [0, 1)");
        }
        if self.hidden_act != "gelu" {
            return bad("only hidden_act = \"gelu\" (exact erf GELU) is supported");
        }
        Ok(())
    }
}

/// A `BertConfig` as read from JSON: every field optional, so that absent fields can take the
/// defaults of the encoder it configures (XLM-R and the M3/audio BERTs differ).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PartialBertConfig {
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    pad_token_id: Option<u32>,
    hidden_act: Option<String>,
    hidden_dropout_prob: Option<f64>,
    attention_probs_dropout_prob: Option<f64>,
}

impl PartialBertConfig {
    /// Fills the absent fields from `base`.
    pub fn over(self, base: BertConfig) -> BertConfig {
        BertConfig {
            vocab_size: self.vocab_size.unwrap_or(base.vocab_size),
            hidden_size: self.hidden_size.unwrap_or(base.hidden_size),
            num_hidden_layers: self.num_hidden_layers.unwrap_or(base.num_hidden_layers),
            num_attention_heads: self.num_attention_heads.unwrap_or(base.num_attention_heads),
            intermediate_size: self.intermediate_size.unwrap_or(base.intermediate_size),
            max_position_embeddings: self
                .max_position_embeddings
                .unwrap_or(base.max_position_embeddings),
            type_vocab_size: self.type_vocab_size.unwrap_or(base.type_vocab_size),
            layer_norm_eps: self.layer_norm_eps.unwrap_or(base.layer_norm_eps),
            pad_token_id: self.pad_token_id.unwrap_or(base.pad_token_id),
            hidden_act: self.hidden_act.unwrap_or(base.hidden_act),
            hidden_dropout_prob: self.hidden_dropout_prob.unwrap_or(base.hidden_dropout_prob),
            attention_probs_dropout_prob: self
                .attention_probs_dropout_prob
                .unwrap_or(base.attention_probs_dropout_prob),
        }
    }
}

impl BertConfig {
    /// transformers' `BertConfig()` defaults (bert-base), the base for plain BERT `config.json`s.
    pub fn bert_base() -> Self {
        BertConfig {
            vocab_size: 30_522,
            max_position_embeddings: 512,
            ..Self::clamp3_symbolic()
        }
    }

    /// Reads a transformers BERT `config.json` (unknown fields are ignored).
    pub fn from_transformers_json(text: &str) -> Result<Self, String> {
        let p: PartialBertConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let c = p.over(Self::bert_base());
        c.validate("config")?;
        Ok(c)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    text_config: PartialBertConfig,
    symbolic_config: PartialBertConfig,
    audio_config: PartialBertConfig,
    projection_dim: Option<usize>,
    patch_size: Option<usize>,
    max_text_length: Option<usize>,
    patch_length: Option<usize>,
    max_audio_length: Option<usize>,
}

impl From<RawConfig> for Clamp3Config {
    fn from(r: RawConfig) -> Self {
        let d = Clamp3Config::default();
        Clamp3Config {
            text_config: r.text_config.over(d.text_config),
            symbolic_config: r.symbolic_config.over(d.symbolic_config),
            audio_config: r.audio_config.over(d.audio_config),
            projection_dim: r.projection_dim.unwrap_or(d.projection_dim),
            patch_size: r.patch_size.unwrap_or(d.patch_size),
            max_text_length: r.max_text_length.unwrap_or(d.max_text_length),
            patch_length: r.patch_length.unwrap_or(d.patch_length),
            max_audio_length: r.max_audio_length.unwrap_or(d.max_audio_length),
        }
    }
}

/// The whole CLaMP 3 configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawConfig")]
pub struct Clamp3Config {
    /// Text encoder (XLM-R).
    pub text_config: BertConfig,
    /// Symbolic encoder (M3 BERT over patch embeddings).
    pub symbolic_config: BertConfig,
    /// Audio encoder (BERT over MERT feature vectors).
    pub audio_config: BertConfig,
    /// Output size of the three projections.
    pub projection_dim: usize,
    /// Ids per symbolic patch (BOS/EOS included).
    pub patch_size: usize,
    /// Tokens per text segment.
    pub max_text_length: usize,
    /// Patches per symbolic segment.
    pub patch_length: usize,
    /// Feature vectors per audio segment.
    pub max_audio_length: usize,
}

impl Default for Clamp3Config {
    fn default() -> Self {
        Clamp3Config {
            text_config: BertConfig::xlm_roberta_base(),
            symbolic_config: BertConfig::clamp3_symbolic(),
            audio_config: BertConfig::clamp3_audio(),
            projection_dim: 768,
            patch_size: 64,
            max_text_length: 128,
            patch_length: 512,
            max_audio_length: 128,
        }
    }
}

/// Patch ids are code points below this bound (ASCII); the patch embedding has
/// `patch_size * PATCH_VOCAB` input columns.
pub const PATCH_VOCAB: usize = 128;

impl Clamp3Config {
    /// Parses `config.json` text; absent fields take the release values.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let cfg: Clamp3Config = serde_json::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the sizes fit together (segment lengths within the position tables...).
    pub fn validate(&self) -> Result<(), String> {
        self.text_config.validate("text_config")?;
        self.symbolic_config.validate("symbolic_config")?;
        self.audio_config.validate("audio_config")?;
        if self.projection_dim == 0 || self.patch_size < 2 {
            return Err("projection_dim must be positive and patch_size at least 2".into());
        }
        if self.max_text_length == 0 || self.patch_length == 0 || self.max_audio_length == 0 {
            return Err("segment lengths must be positive".into());
        }
        let t = &self.text_config;
        // XLM-R positions run from pad_token_id + 1 to pad_token_id + max_text_length.
        if self.max_text_length + t.pad_token_id as usize + 1 > t.max_position_embeddings {
            return Err(format!(
                "max_text_length {} needs {} text positions, config has {}",
                self.max_text_length,
                self.max_text_length + t.pad_token_id as usize + 1,
                t.max_position_embeddings
            ));
        }
        if self.patch_length > self.symbolic_config.max_position_embeddings {
            return Err("patch_length exceeds symbolic_config.max_position_embeddings".into());
        }
        if self.max_audio_length > self.audio_config.max_position_embeddings {
            return Err("max_audio_length exceeds audio_config.max_position_embeddings".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_the_release_config() {
        let c = Clamp3Config::from_json("{}").unwrap();
        assert_eq!(c, Clamp3Config::default());
        assert_eq!(c.text_config.vocab_size, 250_002);
        assert_eq!(c.text_config.layer_norm_eps, 1e-5);
        assert_eq!(c.symbolic_config.layer_norm_eps, 1e-12);
        assert_eq!(c.audio_config.max_position_embeddings, 128);
    }

    #[test]
    fn partial_fields_keep_other_defaults() {
        let c = Clamp3Config::from_json(
            r#"{"text_config": {"hidden_size": 64, "num_attention_heads": 4}, "patch_length": 16,
                "symbolic_config": {"max_position_embeddings": 16}}"#,
        )
        .unwrap();
        assert_eq!(c.text_config.hidden_size, 64);
        // Absent text fields keep the XLM-R (not BERT) defaults.
        assert_eq!(c.text_config.layer_norm_eps, 1e-5);
        assert_eq!(c.text_config.pad_token_id, 1);
        assert_eq!(c.patch_length, 16);
        assert_eq!(c.max_audio_length, 128);
    }

    #[test]
    fn inconsistent_sizes_are_rejected() {
        assert!(Clamp3Config::from_json(r#"{"patch_length": 1024}"#).is_err());
        assert!(Clamp3Config::from_json(r#"{"text_config": {"num_attention_heads": 5}}"#).is_err());
        assert!(Clamp3Config::from_json(r#"{"text_config": {"hidden_act": "relu"}}"#).is_err());
        assert!(Clamp3Config::from_json(r#"{"projection_dim": "x"}"#).is_err());
    }
}
