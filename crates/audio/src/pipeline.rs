//! The reference's `load_audio(path, 24000)` (decode → channel mean → resample to 24 kHz) as a
//! one-shot function and as a stream of chunks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decode::{AudioReader, DecodeOptions};
use crate::error::Result;
use crate::mono::mix_to_mono_into;
use crate::resample::{resampled_len, Resampler, StreamingResampler};

/// MERT's sample rate (Hz).
pub const TARGET_RATE: u32 = 24_000;

/// Where audio comes from; cheap to clone, so a stream can be reopened for another pass.
#[derive(Clone, Debug)]
pub enum AudioSource {
    /// A file on disk (its extension is a format hint).
    Path(PathBuf),
    /// An in-memory file with an optional extension hint (e.g. `"mp3"`).
    Bytes(Arc<[u8]>, Option<String>),
}

impl AudioSource {
    /// A file source.
    pub fn path(p: impl AsRef<Path>) -> Self {
        AudioSource::Path(p.as_ref().to_path_buf())
    }

    /// Opens a decoder on the source.
    pub fn open(&self, opts: &DecodeOptions) -> Result<AudioReader> {
        match self {
            AudioSource::Path(p) => AudioReader::open(p, opts),
            AudioSource::Bytes(b, ext) => AudioReader::from_bytes(b.to_vec(), ext.as_deref(), opts),
        }
    }
}

/// A stream of the 24 kHz mono signal, chunk by chunk (one decoded packet per chunk).
///
/// Memory: one packet of decoded audio plus the resampler's window (a few hundred samples) and
/// its kernel (non-zero spans only: 7 KB for 44.1 kHz, at most ~40 MB for odd rates near 768 kHz).
#[derive(Debug)]
pub struct Mono24kStream {
    reader: AudioReader,
    resampler: StreamingResampler,
    output_rate: u32,
    interleaved: Vec<f32>,
    mono: Vec<f32>,
    done: bool,
}

impl Mono24kStream {
    /// Opens `source` and prepares resampling to 24 kHz.
    pub fn open(source: &AudioSource, opts: &DecodeOptions) -> Result<Self> {
        Self::with_rate(source.open(opts)?, TARGET_RATE)
    }

    /// Wraps an open reader, resampling to `rate` Hz.
    pub fn with_rate(reader: AudioReader, rate: u32) -> Result<Self> {
        let resampler = Resampler::new(reader.sample_rate(), rate)?.stream();
        Ok(Mono24kStream {
            reader,
            resampler,
            output_rate: rate,
            interleaved: Vec::new(),
            mono: Vec::new(),
            done: false,
        })
    }

    /// The source's sample rate.
    pub fn source_rate(&self) -> u32 {
        self.reader.sample_rate()
    }

    /// The source's channel count.
    pub fn source_channels(&self) -> usize {
        self.reader.channels()
    }

    /// The output rate (24000 unless built with [`Mono24kStream::with_rate`]).
    pub fn output_rate(&self) -> u32 {
        self.output_rate
    }

    /// Source frames decoded so far.
    pub fn source_frames(&self) -> u64 {
        self.reader.frames_read()
    }

    /// Appends the next output samples to `out`; returns `false` once the stream is exhausted
    /// (the final call flushes the resampler's tail).
    pub fn next_into(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        loop {
            self.interleaved.clear();
            let frames = match self.reader.read_chunk(&mut self.interleaved) {
                Ok(f) => f,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            if frames == 0 {
                self.done = true;
                let before = out.len();
                self.resampler.finish(out);
                return Ok(out.len() > before);
            }
            self.mono.clear();
            mix_to_mono_into(&self.interleaved, self.reader.channels(), &mut self.mono);
            let before = out.len();
            self.resampler.push(&self.mono, out);
            if out.len() > before {
                return Ok(true);
            }
        }
    }

    /// Decodes the rest of the source without resampling and returns the total output length a
    /// full pass produces; used to learn a long file's length cheaply.
    pub fn count_remaining(mut self) -> Result<u64> {
        let mut scratch = Vec::new();
        while self.reader.read_chunk(&mut scratch)? > 0 {
            scratch.clear();
        }
        Ok(resampled_len(
            self.reader.sample_rate(),
            self.output_rate,
            self.reader.frames_read(),
        ))
    }
}

impl Iterator for Mono24kStream {
    type Item = Result<Vec<f32>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out = Vec::new();
        match self.next_into(&mut out) {
            Ok(true) => Some(Ok(out)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The reference's `load_audio(path, target_sr=24000, is_mono=True)`: the whole 24 kHz mono
/// signal in memory.
pub fn load_mono_24k(source: &AudioSource, opts: &DecodeOptions) -> Result<Vec<f32>> {
    let mut s = Mono24kStream::open(source, opts)?;
    let mut out = Vec::new();
    while s.next_into(&mut out)? {}
    Ok(out)
}
