//! BLIP's text decoder (`BlipTextLMHeadModel`): a post-LN BERT whose layers add
//! cross-attention to the image embeddings, with causal self-attention and a language-model
//! head, run one token at a time with a key/value cache.
//!
//! Generation only ever feeds one new token per step, so the causal mask is empty (the one
//! query sees every cached key) and the image attention mask is all ones (additive zeros):
//! neither is materialised. The cross-attention keys and values depend only on the image, so
//! they are computed once per image (transformers recomputes them at every step, with the same
//! result).
//!
//! Not `candle-transformers`' `blip_text`: that one keeps its key/value cache inside the model
//! (`forward(&mut self)`, so one loaded model cannot serve several threads), recomputes the
//! cross-attention keys and values at every step, needs `cls.predictions.decoder.weight` in the
//! file (absent when transformers saves the tied head as safetensors) and uses candle-nn's
//! one-pass LayerNorm; the cache here is per call.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use clamp3_model::bert::LayerNorm;

use crate::config::TextConfig;
use crate::vision::softmax;

/// Splits `(b, t, heads·hd)` into `(b, heads, t, hd)`.
fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, t, d) = x.dims3()?;
    x.reshape((b, t, heads, d / heads))?
        .transpose(1, 2)?
        .contiguous()
}

/// Joins `(b, heads, t, hd)` back into `(b, t, heads·hd)`.
fn join_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, hd) = x.dims4()?;
    x.transpose(1, 2)?.contiguous()?.reshape((b, t, h * hd))
}

struct AttentionBlock {
    query: Linear,
    key: Linear,
    value: Linear,
    dense: Linear,
    layer_norm: LayerNorm,
}

impl AttentionBlock {
    fn load(cfg: &TextConfig, kv_width: usize, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let s = vb.pp("self");
        let o = vb.pp("output");
        Ok(AttentionBlock {
            query: candle_nn::linear(d, d, s.pp("query"))?,
            key: candle_nn::linear(kv_width, d, s.pp("key"))?,
            value: candle_nn::linear(kv_width, d, s.pp("value"))?,
            dense: candle_nn::linear(d, d, o.pp("dense"))?,
            layer_norm: LayerNorm::load(d, cfg.layer_norm_eps, o.pp("LayerNorm"))?,
        })
    }

    /// `LayerNorm(dense(softmax(q·kᵀ / √hd)·v) + x)`.
    fn attend(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        heads: usize,
        sqrt_hd: &Tensor,
    ) -> Result<Tensor> {
        let q = split_heads(&self.query.forward(x)?, heads)?;
        // BlipTextSelfAttention divides the scores by √hd (not a multiplication by 1/√hd).
        let scores = q.matmul(&k.t()?)?.broadcast_div(sqrt_hd)?;
        let ctx = join_heads(&softmax(&scores)?.matmul(v)?)?;
        self.layer_norm.forward(&(self.dense.forward(&ctx)? + x)?)
    }
}

struct Layer {
    attention: AttentionBlock,
    crossattention: AttentionBlock,
    intermediate: Linear,
    output: Linear,
    output_ln: LayerNorm,
}

/// Per-layer keys and values, `(batch, heads, tokens, head_dim)`.
pub type KeyValues = Vec<(Tensor, Tensor)>;

/// The text decoder with its language-model head.
pub struct TextDecoder {
    cfg: TextConfig,
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    embeddings_ln: LayerNorm,
    layers: Vec<Layer>,
    head_dense: Linear,
    head_ln: LayerNorm,
    head_weight: Tensor,
    head_bias: Tensor,
    sqrt_hd: Tensor,
}

impl TextDecoder {
    /// Loads the weights under `text_decoder.` of a `BlipForConditionalGeneration` state dict.
    ///
    /// The LM head's matrix is `cls.predictions.decoder.weight` when the file has it, else the
    /// word embeddings it is tied to (safetensors files saved by transformers drop the copy);
    /// its bias is `cls.predictions.bias` or its alias `cls.predictions.decoder.bias`.
    pub fn load(cfg: &TextConfig, vb: VarBuilder, device: &Device) -> Result<Self> {
        let d = cfg.hidden_size;
        let bert = vb.pp("bert");
        let emb = bert.pp("embeddings");
        let word_embeddings = emb
            .pp("word_embeddings")
            .get((cfg.vocab_size, d), "weight")?;
        let position_embeddings = emb
            .pp("position_embeddings")
            .get((cfg.max_position_embeddings, d), "weight")?;
        let embeddings_ln = LayerNorm::load(d, cfg.layer_norm_eps, emb.pp("LayerNorm"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let l = bert.pp("encoder").pp("layer").pp(i);
                Ok(Layer {
                    attention: AttentionBlock::load(cfg, d, l.pp("attention"))?,
                    crossattention: AttentionBlock::load(
                        cfg,
                        cfg.encoder_hidden_size,
                        l.pp("crossattention"),
                    )?,
                    intermediate: candle_nn::linear(
                        d,
                        cfg.intermediate_size,
                        l.pp("intermediate").pp("dense"),
                    )?,
                    output: candle_nn::linear(
                        cfg.intermediate_size,
                        d,
                        l.pp("output").pp("dense"),
                    )?,
                    output_ln: LayerNorm::load(
                        d,
                        cfg.layer_norm_eps,
                        l.pp("output").pp("LayerNorm"),
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pred = vb.pp("cls").pp("predictions");
        let head_dense = candle_nn::linear(d, d, pred.pp("transform").pp("dense"))?;
        let head_ln = LayerNorm::load(d, cfg.layer_norm_eps, pred.pp("transform").pp("LayerNorm"))?;
        let head_weight = if pred.pp("decoder").contains_tensor("weight") {
            pred.pp("decoder").get((cfg.vocab_size, d), "weight")?
        } else {
            word_embeddings.clone()
        };
        let head_bias = if pred.contains_tensor("bias") {
            pred.get(cfg.vocab_size, "bias")?
        } else {
            pred.pp("decoder").get(cfg.vocab_size, "bias")?
        };
        let hd = d / cfg.num_attention_heads;
        let sqrt_hd = Tensor::new((hd as f64).sqrt() as f32, device)?;
        Ok(TextDecoder {
            cfg: cfg.clone(),
            word_embeddings,
            position_embeddings,
            embeddings_ln,
            layers,
            head_dense,
            head_ln,
            head_weight,
            head_bias,
            sqrt_hd,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TextConfig {
        &self.cfg
    }

    /// The cross-attention keys and values of every layer for image embeddings
    /// `(batch, tokens, vision_hidden)`.
    pub fn cross_key_values(&self, image_embeds: &Tensor) -> Result<KeyValues> {
        let h = self.cfg.num_attention_heads;
        self.layers
            .iter()
            .map(|l| {
                let c = &l.crossattention;
                Ok((
                    split_heads(&c.key.forward(image_embeds)?, h)?,
                    split_heads(&c.value.forward(image_embeds)?, h)?,
                ))
            })
            .collect()
    }

    /// One decoding step: the tokens `ids` (one a batch row) at position `pos`, with the
    /// self-attention cache of the earlier positions (extended in place). Returns the logits
    /// of the next token, `(batch, vocab)`.
    pub fn step(
        &self,
        ids: &[u32],
        pos: usize,
        cross: &KeyValues,
        cache: &mut Vec<Option<(Tensor, Tensor)>>,
    ) -> Result<Tensor> {
        let dev = self.word_embeddings.device();
        let b = ids.len();
        let h = self.cfg.num_attention_heads;
        if pos >= self.cfg.max_position_embeddings {
            candle_core::bail!(
                "position {pos} is beyond max_position_embeddings {}",
                self.cfg.max_position_embeddings
            );
        }
        cache.resize(self.layers.len(), None);
        let ids_t = Tensor::from_slice(ids, b, dev)?;
        let words = self.word_embeddings.index_select(&ids_t, 0)?;
        let position = self.position_embeddings.narrow(0, pos, 1)?;
        let mut x = self
            .embeddings_ln
            .forward(&words.broadcast_add(&position)?)?
            .reshape((b, 1, self.cfg.hidden_size))?;
        for (i, layer) in self.layers.iter().enumerate() {
            let a = &layer.attention;
            let k_new = split_heads(&a.key.forward(&x)?, h)?;
            let v_new = split_heads(&a.value.forward(&x)?, h)?;
            let (k, v) = match cache[i].take() {
                Some((k, v)) => (
                    Tensor::cat(&[&k, &k_new], 2)?,
                    Tensor::cat(&[&v, &v_new], 2)?,
                ),
                None => (k_new, v_new),
            };
            let y = a.attend(&x, &k, &v, h, &self.sqrt_hd)?;
            cache[i] = Some((k, v));
            let (ck, cv) = &cross[i];
            let y = layer.crossattention.attend(&y, ck, cv, h, &self.sqrt_hd)?;
            let f = layer.intermediate.forward(&y)?.gelu_erf()?;
            x = layer.output_ln.forward(&(layer.output.forward(&f)? + y)?)?;
        }
        let t = self
            .head_ln
            .forward(&self.head_dense.forward(&x)?.gelu_erf()?)?;
        t.reshape((b, self.cfg.hidden_size))?
            .matmul(&self.head_weight.t()?)?
            .broadcast_add(&self.head_bias)?
            .to_dtype(DType::F32)
    }
}
