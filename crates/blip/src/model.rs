//! `BlipForConditionalGeneration` for captioning: the vision encoder, the text decoder and
//! `generate` with the checkpoint's default settings (greedy search from `[DEC]` until
//! `[SEP]` or `max_length` tokens).

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::BlipConfig;
use crate::text::TextDecoder;
use crate::vision::VisionModel;

/// The captioning model.
pub struct BlipModel {
    cfg: BlipConfig,
    vision: VisionModel,
    text: TextDecoder,
}

impl BlipModel {
    /// Builds the model from a `BlipForConditionalGeneration` state dict
    /// (`vision_model.*`, `text_decoder.*`).
    pub fn load(cfg: &BlipConfig, vb: VarBuilder, device: &Device) -> candle_core::Result<Self> {
        Ok(BlipModel {
            cfg: cfg.clone(),
            vision: VisionModel::load(&cfg.vision, vb.pp("vision_model"))?,
            text: TextDecoder::load(&cfg.text, vb.pp("text_decoder"), device)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BlipConfig {
        &self.cfg
    }

    /// The vision encoder's `last_hidden_state`: `(batch, tokens, hidden)`.
    pub fn image_embeddings(&self, pixels: &Tensor) -> candle_core::Result<Tensor> {
        self.vision.forward(pixels)
    }

    /// Greedy captions for pixels `(batch, 3, size, size)`, as `model.generate(pixel_values)`
    /// returns them for each image alone: `[DEC]`, the tokens, and `[SEP]` when the caption
    /// ended before `max_length` (no batch padding). `on_step` sees the logits of each step.
    pub fn generate_with(
        &self,
        pixels: &Tensor,
        mut on_step: impl FnMut(usize, &[Vec<f32>]),
    ) -> candle_core::Result<Vec<Vec<u32>>> {
        let t = &self.cfg.text;
        let max_length = self.cfg.generation.max_length;
        let image_embeds = self.vision.forward(pixels)?;
        let b = image_embeds.dim(0)?;
        let cross = self.text.cross_key_values(&image_embeds)?;
        let mut seqs: Vec<Vec<u32>> = vec![vec![t.bos_token_id]; b];
        let mut done = vec![false; b];
        let mut cache = Vec::new();
        // Every unfinished row holds `step + 1` tokens.
        let mut step = 0;
        while step + 1 < max_length && !done.iter().all(|&d| d) {
            let last: Vec<u32> = seqs.iter().map(|s| s[s.len() - 1]).collect();
            // Rows that already ended are fed their last token again; their outputs are
            // discarded (transformers feeds the pad token; rows do not interact).
            let logits = self.text.step(&last, step, &cross, &mut cache)?;
            let rows = logits.to_vec2::<f32>()?;
            on_step(step, &rows);
            for (r, row) in rows.iter().enumerate() {
                if done[r] {
                    continue;
                }
                let next = argmax(row);
                seqs[r].push(next);
                if next == t.sep_token_id {
                    done[r] = true;
                }
            }
            step += 1;
        }
        Ok(seqs)
    }

    /// [`BlipModel::generate_with`] without the step callback.
    pub fn generate(&self, pixels: &Tensor) -> candle_core::Result<Vec<Vec<u32>>> {
        self.generate_with(pixels, |_, _| {})
    }
}

/// `torch.argmax` of one row: the first maximal index, NaN counting as the maximum.
fn argmax(row: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in row.iter().enumerate() {
        if v.is_nan() {
            return i as u32;
        }
        if v > row[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::argmax;

    #[test]
    fn argmax_takes_the_first_maximum_and_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[-1.0, -0.5, f32::NAN, 9.0]), 2);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    }
}
