//! Decoding audio files to float32 samples with symphonia (docs/reference.md §5.6 step 1).
//!
//! The reference reads audio with `torchaudio.load`, which in the reference environment (Windows,
//! torchaudio 2.4, no FFmpeg) is the soundfile backend: libsndfile, float32 in [-1, 1]. Integer
//! PCM converts exactly as libsndfile does (`s / 2^(bits-1)`), so WAV, AIFF and FLAC decode
//! bit-identically; MP3 (libsndfile uses mpg123) and Ogg Vorbis (libvorbis) differ by decoder
//! rounding only (measured in `tests/decode.rs`).
//!
//! Gapless handling: symphonia's decoders trim the encoder delay and padding that the container
//! declares (LAME/Xing tag for MP3, granule positions for Ogg), as mpg123 and libvorbis do. MP4
//! (AAC, ALAC) is not trimmed by symphonia 0.6.1, so this module reads the track's edit list
//! itself (the private `mp4` module) and drops the priming frames it declares (ffmpeg's behaviour); with
//! no edit list nothing is trimmed. libsndfile cannot read MP4 at all, so the reference never saw
//! such files.

use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

use crate::error::{AudioError, Result};

/// Largest channel count accepted (larger counts are rejected as corrupt headers).
pub const MAX_CHANNELS: usize = 64;
/// Largest sample rate accepted, in Hz (bounds the resampler's kernel size).
pub const MAX_SAMPLE_RATE: u32 = 768_000;

/// Options of the decoder. The defaults are strict: any damaged packet or a cut-off file is an
/// error rather than silently shortened audio.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Trim encoder delay/padding declared by the container (default `true`, as libsndfile).
    pub gapless: bool,
    /// How many undecodable packets may be skipped before decoding fails (default 0). A skipped
    /// packet is replaced by silence of its duration when the container gives it in frames, so
    /// the timing stays aligned (libsndfile/mpg123 also keep going over damaged MP3 frames).
    pub max_corrupt_packets: u32,
    /// Accept a file that ends mid-stream, keeping the audio decoded so far (default `false`;
    /// libsndfile would accept it).
    pub allow_truncated: bool,
    /// Fail with [`AudioError::TooLong`] beyond this many frames (default: no limit).
    pub max_frames: Option<u64>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            gapless: true,
            max_corrupt_packets: 0,
            allow_truncated: false,
            max_frames: None,
        }
    }
}

/// A decoded recording: interleaved float32 samples (`frames × channels`, frame-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels (≥ 1).
    pub channels: usize,
    /// Interleaved samples: `samples[frame * channels + channel]`, in [-1, 1] for integer PCM.
    pub samples: Vec<f32>,
}

impl Audio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The channel mean as torch computes it (see [`crate::mono`]).
    pub fn to_mono(&self) -> Vec<f32> {
        crate::mono::mix_to_mono(&self.samples, self.channels)
    }
}

/// Decodes a whole file with default (strict) options.
pub fn decode_file(path: impl AsRef<Path>) -> Result<Audio> {
    AudioReader::open(path, &DecodeOptions::default())?.read_all()
}

/// Decodes an in-memory file with default options. `ext` (e.g. `Some("mp3")`) is an optional
/// format hint; the content is probed either way.
pub fn decode_bytes(bytes: &[u8], ext: Option<&str>) -> Result<Audio> {
    AudioReader::from_bytes(bytes.to_vec(), ext, &DecodeOptions::default())?.read_all()
}

/// Renders a caught panic payload as text.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Maps a symphonia error raised while probing or reading the container.
fn map_container_error(e: SymError) -> AudioError {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Truncated(io.to_string())
        }
        SymError::IoError(io) => AudioError::Corrupt(format!("read error: {io}")),
        SymError::DecodeError(m) => AudioError::Corrupt(m.to_string()),
        SymError::Unsupported(m) => AudioError::UnsupportedFormat(m.to_string()),
        SymError::LimitError(m) => AudioError::Corrupt(format!("limit exceeded: {m}")),
        SymError::SeekError(_) => AudioError::Corrupt("unexpected seek error".to_string()),
        SymError::ResetRequired => {
            AudioError::FormatChange("the container announced a new stream".to_string())
        }
        // `Error` is non-exhaustive in spirit; keep a catch-all.
        #[allow(unreachable_patterns)]
        other => AudioError::Corrupt(other.to_string()),
    }
}

/// A streaming decoder: one audio track of a file, read packet by packet into interleaved f32.
///
/// Memory is bounded by one decoded packet plus symphonia's 64 KiB read buffer (plus the whole
/// file for [`AudioReader::from_bytes`]).
pub struct AudioReader {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    sample_rate: u32,
    channels: usize,
    opts: DecodeOptions,
    /// Frames handed out so far.
    frames_out: u64,
    /// Corrupt packets skipped so far.
    corrupt: u32,
    /// Samples decoded by `open` and not yet handed out.
    pending: Vec<f32>,
    /// The MP4 edit list, converted to frames once the sample rate is known.
    edit: Option<crate::mp4::AudioEdit>,
    /// Leading frames still to drop (MP4 edit-list priming).
    skip_front: u64,
    /// Total frames to hand out at most (MP4 edit-list duration).
    limit_total: Option<u64>,
    /// Frames decoded so far (before the MP4 trims).
    frames_decoded: u64,
    /// Frames returned by `decode_next` so far (after the MP4 trims).
    frames_kept: u64,
    /// Whether packet durations count frames (time base 1/sample rate); set on the first decode.
    frame_time_base: bool,
    /// The track's time base.
    time_base: Option<symphonia::core::units::TimeBase>,
    /// Set at end of stream or after an error; later reads return 0 frames or the error.
    done: bool,
    poisoned: bool,
}

impl std::fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioReader")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("frames_out", &self.frames_out)
            .finish()
    }
}

impl AudioReader {
    /// Opens a file; the extension serves as a format hint.
    pub fn open(path: impl AsRef<Path>, opts: &DecodeOptions) -> Result<Self> {
        let path = path.as_ref();
        let io_err = |source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let ext = path.extension().and_then(|e| e.to_str());
        // A second handle reads the magic bytes and the MP4 edit list (returns at once for
        // non-MP4 data).
        let (magic, edit) = {
            let mut f = File::open(path).map_err(io_err)?;
            let mut magic = [0u8; 12];
            let got = read_up_to(&mut f, &mut magic);
            (
                has_known_magic(&magic[..got]),
                crate::mp4::read_audio_edit(&mut f),
            )
        };
        Self::from_source(Box::new(file), ext, opts, edit, magic)
    }

    /// Opens an in-memory file. `ext` is an optional format hint.
    pub fn from_bytes(bytes: Vec<u8>, ext: Option<&str>, opts: &DecodeOptions) -> Result<Self> {
        let edit = crate::mp4::read_audio_edit(&mut std::io::Cursor::new(&bytes[..]));
        let magic = has_known_magic(&bytes[..bytes.len().min(12)]);
        Self::from_source(
            Box::new(std::io::Cursor::new(bytes)),
            ext,
            opts,
            edit,
            magic,
        )
    }

    fn from_source(
        source: Box<dyn MediaSource>,
        ext: Option<&str>,
        opts: &DecodeOptions,
        edit: Option<crate::mp4::AudioEdit>,
        known_magic: bool,
    ) -> Result<Self> {
        let mut hint = Hint::new();
        if let Some(e) = ext {
            hint.with_extension(e);
        }
        let mss = MediaSourceStream::new(source, Default::default());
        let probed = catch_unwind(AssertUnwindSafe(|| {
            symphonia::default::get_probe().probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        }))
        .map_err(|p| AudioError::DecoderPanic(panic_message(p)))?;
        let format = probed.map_err(|e| match e {
            // End of data while probing: a known container cut short in its header, or data
            // in which no container was found at all.
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                if known_magic {
                    AudioError::Truncated("the file ends inside the container header".to_string())
                } else {
                    AudioError::UnsupportedFormat("no known container found".to_string())
                }
            }
            other => map_container_error(other),
        })?;

        let track = match format.default_track(TrackType::Audio) {
            Some(t) => t,
            None => {
                return Err(match format.first_track(TrackType::Audio) {
                    Some(_) => AudioError::UnsupportedCodec("unknown audio codec".to_string()),
                    None => AudioError::NoAudioTrack,
                })
            }
        };
        let track_id = track.id;
        let time_base = track.time_base;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or(AudioError::NoAudioTrack)?
            .clone();
        let dec_opts = AudioDecoderOptions::default().gapless(opts.gapless);
        let decoder = catch_unwind(AssertUnwindSafe(|| {
            symphonia::default::get_codecs().make_audio_decoder(&params, &dec_opts)
        }))
        .map_err(|p| AudioError::DecoderPanic(panic_message(p)))?
        .map_err(|e| match e {
            SymError::Unsupported(m) => {
                AudioError::UnsupportedCodec(format!("{} ({m})", params.codec))
            }
            other => map_container_error(other),
        })?;

        // Only the MP4 family carries edit lists; apply them only with gapless on.
        let edit = if opts.gapless { edit } else { None };

        let mut reader = AudioReader {
            format,
            decoder,
            track_id,
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.as_ref().map(|c| c.count()).unwrap_or(0),
            opts: opts.clone(),
            frames_out: 0,
            corrupt: 0,
            pending: Vec::new(),
            edit,
            skip_front: 0,
            limit_total: None,
            frames_decoded: 0,
            frames_kept: 0,
            frame_time_base: false,
            time_base,
            done: false,
            poisoned: false,
        };
        // Decode up to the first non-empty packet: this fixes the true rate and channel count
        // (some codecs only know them after decoding) and detects empty streams early.
        let mut first = Vec::new();
        let got = reader.decode_next(&mut first, true)?;
        if got == 0 {
            return Err(AudioError::Empty);
        }
        reader.pending = first;
        Ok(reader)
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames handed out so far.
    pub fn frames_read(&self) -> u64 {
        self.frames_out
    }

    /// Appends the next decoded packet's frames (interleaved) to `out` and returns how many
    /// frames were appended; 0 means the end of the stream.
    pub fn read_chunk(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        if !self.pending.is_empty() {
            let frames = self.pending.len() / self.channels;
            out.append(&mut self.pending);
            self.frames_out += frames as u64;
            return Ok(frames);
        }
        let n = self.decode_next(out, false)?;
        self.frames_out += n as u64;
        Ok(n)
    }

    /// Reads the rest of the stream into an [`Audio`].
    pub fn read_all(mut self) -> Result<Audio> {
        let mut samples = Vec::new();
        while self.read_chunk(&mut samples)? > 0 {}
        Ok(Audio {
            sample_rate: self.sample_rate,
            channels: self.channels,
            samples,
        })
    }

    /// Silence standing in for an undecodable packet: `(rate, channels, frames, zeros)`, when the
    /// track's time base is one frame and the stream layout is already known.
    fn concealment(&self, packet: &Packet) -> Option<(u32, usize, usize, Vec<f32>)> {
        if self.frames_decoded == 0 || !self.frame_time_base {
            return None;
        }
        let frames = packet
            .dur
            .get()
            .saturating_sub(packet.trim_start.get())
            .saturating_sub(packet.trim_end.get())
            .min(1 << 16) as usize;
        let chans = self.channels;
        Some((self.sample_rate, chans, frames, vec![0.0; frames * chans]))
    }

    /// Decodes packets until one yields frames (after trims) or the stream ends; appends them.
    /// With `first`, fixes the stream's rate and channel count from the decoded buffer.
    fn decode_next(&mut self, out: &mut Vec<f32>, first: bool) -> Result<usize> {
        if self.poisoned {
            return Err(AudioError::DecoderPanic(
                "the decoder crashed earlier on this stream".to_string(),
            ));
        }
        loop {
            if self.done {
                return Ok(0);
            }
            if let Some(limit) = self.limit_total {
                if self.frames_kept >= limit {
                    self.done = true;
                    return Ok(0);
                }
            }
            let packet = match catch_unwind(AssertUnwindSafe(|| self.format.next_packet())) {
                Err(p) => {
                    self.poisoned = true;
                    return Err(AudioError::DecoderPanic(panic_message(p)));
                }
                Ok(Ok(Some(p))) => p,
                Ok(Ok(None)) => {
                    self.done = true;
                    return Ok(0);
                }
                Ok(Err(SymError::IoError(io)))
                    if io.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    self.done = true;
                    if self.opts.allow_truncated && (self.frames_decoded > 0) {
                        return Ok(0);
                    }
                    return Err(AudioError::Truncated(format!(
                        "the container ends mid-stream after {} frames",
                        self.frames_decoded
                    )));
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(map_container_error(e));
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = catch_unwind(AssertUnwindSafe(|| match self.decoder.decode(&packet) {
                Ok(buf) => {
                    let rate = buf.spec().rate();
                    let chans = buf.spec().channels().count();
                    let frames = buf.frames();
                    let mut tmp = Vec::new();
                    if frames > 0 && chans > 0 && chans <= MAX_CHANNELS {
                        tmp.resize(frames * chans, 0.0f32);
                        buf.copy_to_slice_interleaved(&mut tmp[..]);
                    }
                    Ok((rate, chans, frames, tmp))
                }
                Err(e) => Err(e),
            }));
            let (rate, chans, frames, mut samples) = match decoded {
                Err(p) => {
                    self.poisoned = true;
                    return Err(AudioError::DecoderPanic(panic_message(p)));
                }
                Ok(Ok(v)) => v,
                Ok(Err(e @ (SymError::DecodeError(_) | SymError::IoError(_)))) => {
                    // Decoders read packets through an in-memory reader: running out of data
                    // there means the packet is damaged or cut short, like a DecodeError.
                    self.corrupt += 1;
                    if self.corrupt > self.opts.max_corrupt_packets {
                        self.done = true;
                        return Err(AudioError::Corrupt(format!("undecodable packet: {e}")));
                    }
                    // Tolerated: conceal the packet with silence of its duration (as mpg123
                    // does), when the duration is in frames and the layout is known.
                    match self.concealment(&packet) {
                        Some(v) => v,
                        None => continue,
                    }
                }
                Ok(Err(SymError::Unsupported(m))) => {
                    self.done = true;
                    return Err(AudioError::UnsupportedCodec(format!(
                        "unsupported feature: {m}"
                    )));
                }
                Ok(Err(SymError::ResetRequired)) => {
                    self.done = true;
                    return Err(AudioError::FormatChange(
                        "the decoder requires a reset (new stream parameters)".to_string(),
                    ));
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(map_container_error(e));
                }
            };
            if frames == 0 {
                continue;
            }
            if chans == 0 || chans > MAX_CHANNELS {
                self.done = true;
                return Err(AudioError::UnsupportedChannels(chans));
            }
            if rate == 0 || rate > MAX_SAMPLE_RATE {
                self.done = true;
                return Err(AudioError::UnsupportedSampleRate(rate));
            }
            if first && self.frames_decoded == 0 {
                self.sample_rate = rate;
                self.channels = chans;
                self.frame_time_base = self
                    .time_base
                    .is_some_and(|tb| tb.numer.get() == 1 && tb.denom.get() == rate);
                if let Some(e) = self.edit.take() {
                    let (skip, keep) = e.frames(rate);
                    self.skip_front = skip;
                    self.limit_total = keep;
                }
            } else if rate != self.sample_rate || chans != self.channels {
                self.done = true;
                return Err(AudioError::FormatChange(format!(
                    "{} Hz × {} ch became {} Hz × {} ch",
                    self.sample_rate, self.channels, rate, chans
                )));
            }
            let start_frame = self.frames_decoded;
            self.frames_decoded += frames as u64;
            if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
                self.done = true;
                return Err(AudioError::NonFinite {
                    frame: start_frame + (i / chans) as u64,
                });
            }
            // MP4 edit list: drop priming frames, then cap the total.
            let mut keep_from = 0usize;
            if self.skip_front > 0 {
                let drop = self.skip_front.min(frames as u64) as usize;
                self.skip_front -= drop as u64;
                keep_from = drop;
            }
            let mut keep_to = frames;
            if let Some(limit) = self.limit_total {
                let room = limit.saturating_sub(self.frames_kept);
                keep_to = keep_to
                    .min(keep_from.saturating_add(usize::try_from(room).unwrap_or(usize::MAX)));
            }
            if keep_to <= keep_from {
                continue;
            }
            let kept = keep_to - keep_from;
            if let Some(max) = self.opts.max_frames {
                if self.frames_kept + kept as u64 > max {
                    self.done = true;
                    return Err(AudioError::TooLong { limit: max });
                }
            }
            if keep_from == 0 && keep_to == frames {
                out.append(&mut samples);
            } else {
                out.extend_from_slice(&samples[keep_from * chans..keep_to * chans]);
            }
            self.frames_kept += kept as u64;
            return Ok(kept);
        }
    }
}

/// Reads as many bytes as available into `buf` (up to its length).
fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// Whether the data starts like a container symphonia reads (to tell a cut-off header from
/// unrecognised data).
fn has_known_magic(b: &[u8]) -> bool {
    let starts = |m: &[u8]| b.len() >= m.len() && &b[..m.len()] == m;
    starts(b"RIFF")
        || starts(b"RIFX")
        || starts(b"RF64")
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"FORM")
        || starts(b"caff")
        || starts(b"ID3")
        || starts(&[0x1A, 0x45, 0xDF, 0xA3])
        || (b.len() >= 8 && &b[4..8] == b"ftyp")
}
