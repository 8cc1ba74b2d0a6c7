//! MERT-v1-95M features of recordings, as the reference's `extract_mert.py --mean_features`
//! writes them: one 768-d vector per 5 s window (CLAMP3.md §5.6).

use std::path::Path;

use candle_core::Device;
use clamp3_audio::{AudioSource, MertOptions, MertTrack};
use clamp3_model::mert::Mert;
use clamp3_model::MertFiles;

use crate::input::InputCause;
use crate::Error;

/// MERT with the reference's windowing around it.
#[derive(Debug)]
pub struct FeatureExtractor {
    mert: Mert,
    device: Device,
    /// 5 s windows per MERT forward pass (memory grows with it: ~0.3 GB per window).
    pub batch: usize,
}

impl FeatureExtractor {
    /// Wraps a loaded MERT.
    pub fn new(mert: Mert, device: &Device) -> Self {
        FeatureExtractor {
            mert,
            device: device.clone(),
            batch: 2,
        }
    }

    /// Loads MERT from a directory (config.json + weights) or a weights file.
    pub fn load(path: &Path, device: &Device) -> Result<Self, Error> {
        let files = MertFiles::locate(path)?;
        Ok(Self::new(files.load(device)?, device))
    }

    /// Width of the features.
    pub fn hidden_size(&self) -> usize {
        self.mert.config().hidden_size
    }

    /// Features of a recording: `[N, hidden]` row-major (one row per window) and N. The
    /// recording is decoded, mixed to mono, resampled to 24 kHz and normalised exactly as the
    /// reference does; windows are produced and run `batch` at a time, so memory stays bounded
    /// on long files.
    pub fn extract(&self, source: &AudioSource) -> Result<(Vec<f32>, usize), InputCause> {
        let track = MertTrack::open(source, &MertOptions::default())?;
        let mut out = Vec::new();
        let mut rows = 0;
        let mut batch: Vec<Vec<f32>> = Vec::new();
        for w in track.windows()? {
            let w = w?;
            // Windows of one batch must share a length: only the last one can be shorter.
            if batch.first().is_some_and(|f| f.len() != w.len()) || batch.len() >= self.batch.max(1)
            {
                rows += self.run(&mut batch, &mut out)?;
            }
            batch.push(w);
        }
        rows += self.run(&mut batch, &mut out)?;
        Ok((out, rows))
    }

    fn run(&self, batch: &mut Vec<Vec<f32>>, out: &mut Vec<f32>) -> Result<usize, InputCause> {
        if batch.is_empty() {
            return Ok(0);
        }
        let (b, len) = (batch.len(), batch[0].len());
        let flat: Vec<f32> = batch.drain(..).flatten().collect();
        let model = |e: candle_core::Error| InputCause::Model(e.to_string());
        let wave = candle_core::Tensor::from_vec(flat, (b, len), &self.device).map_err(model)?;
        let f = self
            .mert
            .window_features(&wave)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(model)?;
        out.extend_from_slice(&f);
        Ok(b)
    }
}
