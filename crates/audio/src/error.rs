//! Error type of the audio front end.

use std::path::PathBuf;

/// Everything that can go wrong between an audio file and MERT windows.
///
/// Every variant names its cause; no input makes this crate panic (symphonia is run behind
/// `catch_unwind`, see [`AudioError::DecoderPanic`]).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// No registered container reader recognised the data (not WAV, FLAC, MP3, OGG, MP4/M4A,
    /// AIFF, CAF, MKV/WebM or ADTS AAC), or the container uses a feature symphonia lacks.
    #[error("unsupported or unrecognised audio format: {0}")]
    UnsupportedFormat(String),
    /// The container holds no audio track.
    #[error("no audio track in the file")]
    NoAudioTrack,
    /// The audio track uses a codec that cannot be decoded (e.g. Opus, WMA).
    #[error("unsupported audio codec: {0}")]
    UnsupportedCodec(String),
    /// The container or the coded audio is malformed.
    #[error("corrupt audio data: {0}")]
    Corrupt(String),
    /// The data ends in the middle of the stream (the file was cut short).
    #[error("truncated audio file: {0}")]
    Truncated(String),
    /// The stream decoded to zero audio frames.
    #[error("the audio stream is empty (0 frames decoded)")]
    Empty,
    /// The sample rate is missing, zero or outside 1..=768000 Hz.
    #[error("unsupported sample rate: {0} Hz (supported: 1..=768000)")]
    UnsupportedSampleRate(u32),
    /// The channel count is zero or larger than [`crate::MAX_CHANNELS`].
    #[error("unsupported channel count: {0}")]
    UnsupportedChannels(usize),
    /// The sample rate or channel count changes in the middle of the stream (e.g. chained OGG).
    #[error("the stream changes its format mid-file: {0}")]
    FormatChange(String),
    /// A decoded sample is NaN or infinite (possible only with floating-point PCM).
    #[error("non-finite sample value at frame {frame}")]
    NonFinite {
        /// Index of the first offending frame.
        frame: u64,
    },
    /// The decoder panicked on this input; the panic was caught and turned into this error.
    #[error("the decoder crashed on malformed input: {0}")]
    DecoderPanic(String),
    /// The decoded stream is larger than the configured limit.
    #[error("the decoded audio exceeds the limit of {limit} frames")]
    TooLong {
        /// The limit in frames.
        limit: u64,
    },
    /// The recording is longer than the configured duration limit (decoding stopped there).
    #[error("the recording is longer than the limit of {seconds} s")]
    LongerThan {
        /// The limit in seconds.
        seconds: f64,
    },
    /// Fewer than 24,000 samples at 24 kHz (1 s): no MERT window (the reference writes nothing,
    /// docs/reference.md §8.9 #10).
    #[error("audio too short for MERT: {samples} samples at 24 kHz, at least 24000 (1 s) needed")]
    TooShort {
        /// Length of the 24 kHz signal.
        samples: u64,
    },
    /// A re-read of the same file (multi-pass streaming) produced a different number of samples.
    #[error("the file decoded to {second} samples on a later pass but {first} on the first")]
    InconsistentPasses {
        /// Samples seen on the first pass.
        first: u64,
        /// Samples seen on the later pass.
        second: u64,
    },
    /// A caller-supplied argument is invalid (e.g. a zero sample rate for the resampler).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of this crate.
pub type Result<T, E = AudioError> = std::result::Result<T, E>;
