//! Audio front end of CLaMP 3 (docs/reference.md §5.6): everything between an audio file and the
//! normalised 5-second windows that MERT-v1-95M consumes.
//!
//! | Step | Reference | Here |
//! |---|---|---|
//! | decode | `torchaudio.load` (soundfile backend: libsndfile, float32) | [`decode`] (symphonia) |
//! | mono | `torch.mean(waveform, dim=0, keepdim=True)` | [`mono`] (same float32 order) |
//! | resample | `torchaudio.transforms.Resample(sr, 24000)` | [`resample`] (bit-exact kernel) |
//! | normalise | `Wav2Vec2FeatureExtractor(do_normalize=True)` | [`stats`] (numpy-exact) |
//! | windows | `wav[:, i:i+120000]`, last < 24000 dropped | [`mert`] |
//!
//! Quick use:
//! ```no_run
//! use clamp3_audio::{AudioSource, MertOptions, MertTrack};
//! let track = MertTrack::open(&AudioSource::path("song.mp3"), &MertOptions::default())?;
//! for window in track.windows()? {
//!     let window: Vec<f32> = window?; // ≤ 120000 normalised samples at 24 kHz
//!     # let _ = window;
//! }
//! # Ok::<(), clamp3_audio::AudioError>(())
//! ```

pub mod decode;
pub mod error;
pub mod mert;
pub mod mono;
mod mp4;
pub mod pipeline;
pub mod resample;
pub mod stats;

pub use decode::{
    decode_bytes, decode_file, Audio, AudioReader, DecodeOptions, MAX_CHANNELS, MAX_SAMPLE_RATE,
};
pub use error::{AudioError, Result};
pub use mert::{
    mert_windows, window_ranges, MertOptions, MertTrack, MertWindows, MIN_LAST_WINDOW,
    WINDOW_SAMPLES,
};
pub use mono::{mix_to_mono, mix_to_mono_into};
pub use pipeline::{load_mono_24k, AudioSource, Mono24kStream, TARGET_RATE};
pub use resample::{resampled_len, Resampler, SincKernel, StreamingResampler};
pub use stats::{numpy_sum, squared_deviations, NormStats, NumpySum};
