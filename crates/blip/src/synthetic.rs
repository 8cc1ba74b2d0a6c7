//! Deterministic synthetic weights at any size, for the official-size parity test and the
//! benchmark (no checkpoint needed): `blip_values` of `scripts/golden/gen_blip_goldens.py`,
//! i.e. the workspace's [`clamp3_model::synthetic::tensor_values`] with BLIP's vision
//! LayerNorm gains moved to `1 + 2 · value` (= 1 + 0.2 v), in float32 arithmetic.

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;

use crate::config::BlipConfig;

/// A `VarBuilder` backend that makes every requested tensor from `blip_values`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlipSyntheticWeights;

impl SimpleBackend for BlipSyntheticWeights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut v = clamp3_model::synthetic::tensor_values(name, s.elem_count());
        if name.ends_with("layer_norm1.weight")
            || name.ends_with("layer_norm2.weight")
            || name.ends_with("post_layernorm.weight")
        {
            for x in &mut v {
                *x = 1.0 + 2.0 * *x;
            }
        }
        Tensor::from_vec(v, s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("synthetic weights need a shape for `{name}`")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

/// A `VarBuilder` over [`BlipSyntheticWeights`] (float32).
pub fn var_builder(device: &Device) -> candle_nn::VarBuilder<'static> {
    candle_nn::VarBuilder::from_backend(Box::new(BlipSyntheticWeights), DType::F32, device.clone())
}

/// The architecture of `Salesforce/blip-image-captioning-base` (ViT-B/16 at 384 px, a 12-layer
/// 768-wide text decoder, vocabulary 30524, greedy decoding to 20 tokens), with an untied LM
/// head so that every synthetic tensor has its own name.
pub fn official_config() -> BlipConfig {
    BlipConfig::from_json(OFFICIAL_JSON, std::path::Path::new("<official size>"))
        .expect("the built-in configuration is valid")
}

const OFFICIAL_JSON: &str = r#"{
  "model_type": "blip",
  "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                    "num_attention_heads": 12, "image_size": 384, "patch_size": 16},
  "text_config": {"vocab_size": 30524, "hidden_size": 768, "intermediate_size": 3072,
                  "num_hidden_layers": 12, "num_attention_heads": 12,
                  "max_position_embeddings": 512, "bos_token_id": 30522, "sep_token_id": 102,
                  "max_length": 20, "tie_word_embeddings": false}
}"#;
