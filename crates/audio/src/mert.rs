//! MERT input preparation (docs/reference.md §5.6 steps 5-6): whole-track normalisation and 5 s
//! windows.
//!
//! The reference normalises the whole 24 kHz track (`Wav2Vec2FeatureExtractor`, do_normalize),
//! then slices `wav[:, i:i+120000]` for `i in range(0, N, 120000)` and drops the last slice if it
//! holds fewer than 24,000 samples; no window at all is an error here
//! ([`AudioError::TooShort`], the reference writes nothing, §8.9 #10).
//!
//! Two ways in:
//! * [`mert_windows`]: a signal already in memory (one shot, exact);
//! * [`MertTrack::open`]: a file or in-memory file, processed in bounded memory. The decoded
//!   24 kHz signal is kept in memory when it has at most `in_memory_limit` samples (default
//!   10 minutes); otherwise the source is decoded again for each pass:
//!   1. decode + mono + resample: N and numpy's float32 sum → `mean` and `arrmean`;
//!   2. decode + mono + resample again: numpy's sum of `(x - arrmean)²` → `var`;
//!   3. [`MertTrack::windows`]: decode once more and yield the normalised windows one at a time.
//!
//!   Both ways give bit-identical windows (numpy's summation order is reproduced on the stream).
//!   Peak memory when streaming: one window (120,000 f32 = 480 KB) + one decoded packet + the
//!   resampler state + numpy's 8192-value buffer; the limit caps the in-memory case at
//!   `4 · in_memory_limit` bytes (57.6 MB by default).

use std::ops::Range;

use crate::decode::DecodeOptions;
use crate::error::{AudioError, Result};
use crate::pipeline::{AudioSource, Mono24kStream};
use crate::stats::{squared_deviations, NormStats, NumpySum};

/// Samples per MERT window: 5 s at 24 kHz.
pub const WINDOW_SAMPLES: u64 = 120_000;
/// The last window is kept only with at least this many samples (1 s at 24 kHz).
pub const MIN_LAST_WINDOW: u64 = 24_000;

/// The windows of an `n`-sample track: `[i, min(i + 120000, n))` for `i = 0, 120000, …`, the last
/// one dropped when shorter than 24,000 samples. Errors when no window remains.
pub fn window_ranges(n: u64) -> Result<Vec<Range<u64>>> {
    let mut v = Vec::new();
    let mut i = 0u64;
    while i < n {
        v.push(i..(i + WINDOW_SAMPLES).min(n));
        i += WINDOW_SAMPLES;
    }
    if let Some(last) = v.last() {
        if last.end - last.start < MIN_LAST_WINDOW {
            v.pop();
        }
    }
    if v.is_empty() {
        return Err(AudioError::TooShort { samples: n });
    }
    Ok(v)
}

/// Normalised MERT windows of a 24 kHz mono signal held in memory.
pub fn mert_windows(signal: &[f32]) -> Result<Vec<Vec<f32>>> {
    let ranges = window_ranges(signal.len() as u64)?;
    let stats = NormStats::compute(signal)?;
    Ok(ranges
        .into_iter()
        .map(|r| {
            let mut w = Vec::with_capacity((r.end - r.start) as usize);
            stats.normalize_into(&signal[r.start as usize..r.end as usize], &mut w);
            w
        })
        .collect())
}

/// Options of [`MertTrack::open`].
#[derive(Clone, Debug)]
pub struct MertOptions {
    /// Decoder options.
    pub decode: DecodeOptions,
    /// Keep the 24 kHz signal in memory up to this many samples (default 14,400,000 = 10 min,
    /// 57.6 MB); longer tracks are decoded once per pass instead.
    pub in_memory_limit: u64,
    /// Fail with [`AudioError::LongerThan`] as soon as the recording is longer than this many
    /// seconds, before decoding the rest (default: no limit). Bounds the work a service does
    /// for one upload.
    pub max_seconds: Option<f64>,
}

impl Default for MertOptions {
    fn default() -> Self {
        MertOptions {
            decode: DecodeOptions::default(),
            in_memory_limit: 14_400_000,
            max_seconds: None,
        }
    }
}

#[derive(Debug)]
enum TrackData {
    Memory(Vec<f32>),
    Stream(AudioSource, DecodeOptions),
}

/// A track ready for MERT: its statistics, its window layout and a way to produce the windows.
#[derive(Debug)]
pub struct MertTrack {
    stats: NormStats,
    ranges: Vec<Range<u64>>,
    source_rate: u32,
    source_channels: usize,
    data: TrackData,
}

impl MertTrack {
    /// Prepares a track held in memory (24 kHz mono).
    pub fn from_signal(signal: Vec<f32>) -> Result<Self> {
        let ranges = window_ranges(signal.len() as u64)?;
        let stats = NormStats::compute(&signal)?;
        Ok(MertTrack {
            stats,
            ranges,
            source_rate: crate::pipeline::TARGET_RATE,
            source_channels: 1,
            data: TrackData::Memory(signal),
        })
    }

    /// Decodes `source` and computes the statistics (passes 1-2 of the module docs).
    pub fn open(source: &AudioSource, opts: &MertOptions) -> Result<Self> {
        // Pass 1: decode + mono + resample; numpy's float32 sum on the fly; keep the signal
        // while it fits in the memory limit.
        let mut stream = Mono24kStream::open(source, &opts.decode)?;
        let source_rate = stream.source_rate();
        let source_channels = stream.source_channels();
        let mut sum = NumpySum::new();
        let mut signal = Vec::new();
        let mut keep = true;
        let mut chunk = Vec::new();
        let max_samples = opts
            .max_seconds
            .map(|s| (s.max(0.0) * f64::from(crate::pipeline::TARGET_RATE)) as u64);
        while stream.next_into(&mut chunk)? {
            sum.push(&chunk);
            if let (Some(max), Some(seconds)) = (max_samples, opts.max_seconds) {
                if sum.count() > max {
                    return Err(AudioError::LongerThan { seconds });
                }
            }
            if keep {
                signal.extend_from_slice(&chunk);
                if signal.len() as u64 > opts.in_memory_limit {
                    keep = false;
                    signal = Vec::new();
                }
            }
            chunk.clear();
        }
        if keep {
            let mut t = Self::from_signal(signal)?;
            t.source_rate = source_rate;
            t.source_channels = source_channels;
            return Ok(t);
        }
        let n = sum.count();
        let ranges = window_ranges(n)?;
        let s = sum.finish();
        let arrmean = NormStats::arrmean(n, s);

        // Pass 2: numpy's float32 sum of (x - arrmean)².
        let mut stream = Mono24kStream::open(source, &opts.decode)?;
        let mut ss = NumpySum::new();
        let mut sq = Vec::new();
        while stream.next_into(&mut chunk)? {
            sq.clear();
            squared_deviations(&chunk, arrmean, &mut sq);
            ss.push(&sq);
            chunk.clear();
        }
        if ss.count() != n {
            return Err(AudioError::InconsistentPasses {
                first: n,
                second: ss.count(),
            });
        }
        Ok(MertTrack {
            stats: NormStats::from_sums(n, s, ss.finish()),
            ranges,
            source_rate,
            source_channels,
            data: TrackData::Stream(source.clone(), opts.decode.clone()),
        })
    }

    /// The whole-track statistics.
    pub fn stats(&self) -> &NormStats {
        &self.stats
    }

    /// Length of the 24 kHz signal.
    pub fn len(&self) -> u64 {
        self.stats.len
    }

    /// Whether the signal is empty (never true for a successfully opened track).
    pub fn is_empty(&self) -> bool {
        self.stats.len == 0
    }

    /// The window ranges (in 24 kHz samples).
    pub fn window_ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// Number of windows (the N of the `(1, N, 768)` feature array).
    pub fn num_windows(&self) -> usize {
        self.ranges.len()
    }

    /// Sample rate of the source file.
    pub fn source_rate(&self) -> u32 {
        self.source_rate
    }

    /// Channel count of the source file.
    pub fn source_channels(&self) -> usize {
        self.source_channels
    }

    /// Whether the 24 kHz signal is held in memory (otherwise [`MertTrack::windows`] decodes
    /// the source once more).
    pub fn is_in_memory(&self) -> bool {
        matches!(self.data, TrackData::Memory(_))
    }

    /// The normalised windows in order (pass 4 when streaming).
    pub fn windows(&self) -> Result<MertWindows<'_>> {
        let inner = match &self.data {
            TrackData::Memory(v) => WindowsInner::Memory(v),
            TrackData::Stream(src, opts) => WindowsInner::Stream {
                stream: Box::new(Mono24kStream::open(src, opts)?),
                chunk: Vec::new(),
                pos: 0,
                taken: 0,
            },
        };
        Ok(MertWindows {
            track: self,
            next: 0,
            inner,
        })
    }
}

enum WindowsInner<'a> {
    Memory(&'a [f32]),
    Stream {
        stream: Box<Mono24kStream>,
        chunk: Vec<f32>,
        pos: usize,
        taken: u64,
    },
}

/// Iterator over the normalised windows of a [`MertTrack`] (`Vec<f32>` of ≤ 120,000 samples).
pub struct MertWindows<'a> {
    track: &'a MertTrack,
    next: usize,
    inner: WindowsInner<'a>,
}

impl std::fmt::Debug for MertWindows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MertWindows")
            .field("next", &self.next)
            .field("total", &self.track.ranges.len())
            .finish()
    }
}

impl MertWindows<'_> {
    fn next_window(&mut self) -> Result<Option<Vec<f32>>> {
        let Some(r) = self.track.ranges.get(self.next).cloned() else {
            return Ok(None);
        };
        self.next += 1;
        let len = (r.end - r.start) as usize;
        let mut w = Vec::with_capacity(len);
        match &mut self.inner {
            WindowsInner::Memory(v) => {
                self.track
                    .stats
                    .normalize_into(&v[r.start as usize..r.end as usize], &mut w);
            }
            WindowsInner::Stream {
                stream,
                chunk,
                pos,
                taken,
            } => {
                while w.len() < len {
                    if *pos == chunk.len() {
                        chunk.clear();
                        *pos = 0;
                        if !stream.next_into(chunk)? {
                            return Err(AudioError::InconsistentPasses {
                                first: self.track.stats.len,
                                second: *taken + w.len() as u64,
                            });
                        }
                        continue;
                    }
                    let n = (len - w.len()).min(chunk.len() - *pos);
                    w.extend_from_slice(&chunk[*pos..*pos + n]);
                    *pos += n;
                }
                *taken += len as u64;
                self.track.stats.normalize_in_place(&mut w);
            }
        }
        Ok(Some(w))
    }
}

impl Iterator for MertWindows<'_> {
    type Item = Result<Vec<f32>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_window() {
            Ok(Some(w)) => Some(Ok(w)),
            Ok(None) => None,
            Err(e) => {
                self.next = self.track.ranges.len();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rule() {
        assert!(matches!(
            window_ranges(0),
            Err(AudioError::TooShort { samples: 0 })
        ));
        assert!(matches!(
            window_ranges(23_999),
            Err(AudioError::TooShort { .. })
        ));
        assert_eq!(window_ranges(24_000).unwrap(), vec![0..24_000]);
        assert_eq!(window_ranges(120_000).unwrap(), vec![0..120_000]);
        assert_eq!(window_ranges(143_999).unwrap(), vec![0..120_000]);
        assert_eq!(
            window_ranges(144_000).unwrap(),
            vec![0..120_000, 120_000..144_000]
        );
    }
}
