//! MERT-v1-95M features of recordings, as the reference's `extract_mert.py --mean_features`
//! writes them: one vector per 5 s window (docs/reference.md §5.6). Windows of several recordings
//! share MERT forward passes.

use std::path::Path;

use candle_core::{Device, Tensor};
use clamp3_input::audio::{Features, Recording};
use clamp3_input::InputCause;
use clamp3_model::mert::Mert;
use clamp3_model::MertFiles;

use crate::error::{Error, SystemCause};

/// Why one recording's features could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// The recording's fault (undecodable, too short...).
    #[error(transparent)]
    Input(#[from] InputCause),
    /// MERT failed.
    #[error(transparent)]
    System(#[from] SystemCause),
}

/// MERT, with the reference's windowing around it.
#[derive(Debug)]
pub struct FeatureExtractor {
    mert: Mert,
    device: Device,
}

impl FeatureExtractor {
    /// Wraps a loaded MERT.
    pub fn new(mert: Mert, device: &Device) -> Self {
        FeatureExtractor {
            mert,
            device: device.clone(),
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

    /// Features `[b, hidden]` of `b` windows of one length (MERT has no attention mask, so
    /// windows of different lengths cannot share a pass).
    fn run(&self, windows: &[&[f32]]) -> candle_core::Result<Vec<f32>> {
        let len = windows.first().map_or(0, |w| w.len());
        let flat: Vec<f32> = windows.iter().flat_map(|w| w.iter().copied()).collect();
        let wave = Tensor::from_vec(flat, (windows.len(), len), &self.device)?;
        self.mert
            .window_features(&wave)?
            .flatten_all()?
            .to_vec1::<f32>()
    }

    /// The features of one recording, `batch` windows per MERT pass.
    pub fn extract(&self, recording: &Recording, batch: usize) -> Result<Features, FeatureError> {
        self.extract_many(&[recording], batch)
            .pop()
            .unwrap_or(Err(FeatureError::Input(InputCause::Unsupported)))
    }

    /// The features of several recordings, in order. Full 5 s windows of all of them are run
    /// `batch` at a time; each recording's shorter last window runs afterwards with the windows
    /// of the same length. Windows are produced one at a time, so memory stays bounded on long
    /// recordings. A recording that fails to decode fails alone.
    pub fn extract_many(
        &self,
        recordings: &[&Recording],
        batch: usize,
    ) -> Vec<Result<Features, FeatureError>> {
        let batch = batch.max(1);
        let dim = self.hidden_size();
        let mut rows: Vec<Vec<f32>> = vec![Vec::new(); recordings.len()];
        let mut failed: Vec<Option<FeatureError>> = (0..recordings.len()).map(|_| None).collect();
        // Windows waiting for a pass, with their recording; `last` holds the short final ones.
        let mut full: Vec<(usize, Vec<f32>)> = Vec::with_capacity(batch);
        let mut last: Vec<(usize, Vec<f32>)> = Vec::new();
        let full_len = clamp3_audio::WINDOW_SAMPLES as usize;
        let flush = |pending: &mut Vec<(usize, Vec<f32>)>,
                     rows: &mut Vec<Vec<f32>>,
                     failed: &mut Vec<Option<FeatureError>>| {
            if pending.is_empty() {
                return;
            }
            let windows: Vec<&[f32]> = pending.iter().map(|(_, w)| w.as_slice()).collect();
            match self.run(&windows) {
                Ok(f) => {
                    for ((r, _), v) in pending.iter().zip(f.chunks(dim)) {
                        rows[*r].extend_from_slice(v);
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for (r, _) in pending.iter() {
                        failed[*r].get_or_insert_with(|| {
                            SystemCause::Compute(candle_core::Error::Msg(msg.clone())).into()
                        });
                    }
                }
            }
            pending.clear();
        };
        for (r, rec) in recordings.iter().enumerate() {
            let windows = match rec.windows() {
                Ok(w) => w,
                Err(e) => {
                    failed[r] = Some(e.into());
                    continue;
                }
            };
            for w in windows {
                match w {
                    Ok(w) if w.len() == full_len => {
                        full.push((r, w));
                        if full.len() >= batch {
                            flush(&mut full, &mut rows, &mut failed);
                        }
                    }
                    Ok(w) => last.push((r, w)),
                    Err(e) => {
                        failed[r] = Some(InputCause::from(e).into());
                        break;
                    }
                }
            }
        }
        flush(&mut full, &mut rows, &mut failed);
        last.sort_by_key(|(_, w)| w.len());
        let mut group: Vec<(usize, Vec<f32>)> = Vec::new();
        for item in last {
            if group.first().is_some_and(|g| g.1.len() != item.1.len()) || group.len() >= batch {
                flush(&mut group, &mut rows, &mut failed);
            }
            group.push(item);
        }
        flush(&mut group, &mut rows, &mut failed);
        rows.into_iter()
            .zip(failed)
            .map(|(data, f)| match f {
                Some(e) => Err(e),
                // The short last window (if any) is the recording's last row.
                None => Features::new(data, dim).map_err(FeatureError::Input),
            })
            .collect()
    }
}
