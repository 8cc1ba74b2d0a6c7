//! MIDI -> MTF (the reference's MIDI text format, docs/reference.md §5.5).
//!
//! [`midi_to_mtf`] produces, byte for byte, the text that the reference's
//! `preprocessing/midi/batch_midi2mtf.py` (with m3 compatibility on) writes for a MIDI file,
//! reading it as mido 1.3.0 does:
//!
//! 1. the file is read by `mido.MidiFile` (see `reader` for where that differs from other
//!    readers, and why this module does not use `midly`);
//! 2. `merged_track`: every track to absolute time, one *stable* sort by time over all tracks
//!    (ties keep track order, then file order), back to delta times, every `end_of_track`
//!    removed with its delta carried to the next message, one final `end_of_track`;
//! 3. the first line is `ticks_per_beat N`, then one line per message, except the text-like
//!    meta messages (`text`, `copyright`, `track_name`, `instrument_name`, `lyrics`,
//!    `marker`, `cue_marker`, `device_name`) that m3 compatibility drops;
//! 4. a line is the Python `str()` of the message's attribute values in mido's attribute
//!    order, joined by single spaces, stripped, and passed through Python's `unicode_escape`
//!    codec; lines are joined with `\n`, without a final newline.
//!
//! Files that mido rejects (it raises while loading; the reference then logs the file and
//! writes nothing) give an [`MtfError`].

mod reader;
mod ticks;

use reader::{Msg, Parsed, Stop};
use ticks::{push_u64, BigTicks, Tick};

/// Why a MIDI file cannot be converted. Each case is one on which mido 1.3.0 raises while
/// loading the file, so the reference converts nothing either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtfError {
    /// The data does not start with an `MThd` chunk.
    #[error("not a MIDI file: the data does not start with an MThd chunk")]
    NotMidi,
    /// The data ends in the middle of a chunk header, the file header or a message (mido: EOFError).
    #[error(
        "truncated MIDI data: unexpected end of data at byte {offset} while reading {context}"
    )]
    Truncated {
        /// Byte offset where more data was needed.
        offset: usize,
        /// What was being read.
        context: &'static str,
    },
    /// The file is MIDI type 2: mido 1.3.0 builds no merged track for it, so the reference fails
    /// on every such file.
    #[error("MIDI type 2 (asynchronous tracks) is not supported, as in the reference (mido 1.3.0 has no merged track for it)")]
    Type2Unsupported,
    /// A track was expected but the chunk is not `MTrk` (mido does not skip other chunks).
    #[error(
        "track {track}: the chunk at byte {offset} is {:?}, not MTrk",
        String::from_utf8_lossy(found)
    )]
    NotATrack {
        /// Index of the track being read.
        track: usize,
        /// Byte offset of the chunk header.
        offset: usize,
        /// The chunk name found.
        found: [u8; 4],
    },
    /// A data byte where a status byte was expected, with no earlier status to repeat.
    #[error("running status at byte {offset} without a previous status byte in the track")]
    RunningStatusWithoutStatus {
        /// Byte offset of the data byte.
        offset: usize,
    },
    /// A status byte that no MIDI message has (0xF4, 0xF5, 0xF9, 0xFD).
    #[error("undefined status byte 0x{status:02x} at byte {offset}")]
    UndefinedStatus {
        /// The status byte.
        status: u8,
        /// Its byte offset.
        offset: usize,
    },
    /// A channel or system message with a data byte above 127.
    #[error("data byte 0x{byte:02x} of the message at byte {offset} is out of range 0..127")]
    DataByteOutOfRange {
        /// The offending byte.
        byte: u8,
        /// Byte offset of the message's status byte.
        offset: usize,
    },
    /// A sysex payload byte above 127 (other than a leading 0xF0 or a trailing 0xF7).
    #[error("sysex data byte 0x{byte:02x} of the message at byte {offset} is out of range 0..127")]
    SysexDataByteOutOfRange {
        /// The offending byte.
        byte: u8,
        /// Byte offset of the message's status byte.
        offset: usize,
    },
    /// Running status repeated a message that has no data bytes.
    #[error("wrong number of bytes for the {kind} message at byte {offset} (running status on a message without data)")]
    WrongDataLength {
        /// mido's message type.
        kind: &'static str,
        /// Byte offset of the data byte.
        offset: usize,
    },
    /// A meta or sysex payload longer than mido's limit of 1,000,000 bytes.
    #[error("the message at byte {offset} declares {length} data bytes, more than mido's maximum of 1000000")]
    MessageTooLong {
        /// The declared length (saturated at `u64::MAX`).
        length: u64,
        /// Byte offset of the message's status byte.
        offset: usize,
    },
    /// A meta message whose payload is shorter than what mido reads from it.
    #[error("{kind} meta message at byte {offset} has {length} data bytes; mido reads {needed}")]
    MetaTooShort {
        /// mido's meta type.
        kind: &'static str,
        /// Byte offset of the message's 0xFF byte.
        offset: usize,
        /// Its payload length.
        length: usize,
        /// The payload length mido needs.
        needed: usize,
    },
    /// A key signature outside mido's table (-7..=7 sharps, mode 0 or 1).
    #[error("key_signature at byte {offset}: no key with {sharps} sharps (negative: flats) and mode {mode}")]
    InvalidKeySignature {
        /// Byte offset of the message's 0xFF byte.
        offset: usize,
        /// Signed sharps (positive) / flats (negative).
        sharps: i8,
        /// The mode byte.
        mode: u8,
    },
    /// An SMPTE offset whose frame-rate code (top 3 bits of the first byte) is not 0..=3.
    #[error("smpte_offset at byte {offset}: frame-rate code {code} is not one of 0..3")]
    InvalidSmpteFrameRate {
        /// Byte offset of the message's 0xFF byte.
        offset: usize,
        /// The frame-rate code.
        code: u8,
    },
    /// An SMPTE offset field outside mido's range.
    #[error("smpte_offset at byte {offset}: {field} = {value} is out of range 0..{max}")]
    SmpteFieldOutOfRange {
        /// Byte offset of the message's 0xFF byte.
        offset: usize,
        /// The field name.
        field: &'static str,
        /// Its value.
        value: u8,
        /// The largest value mido accepts.
        max: u8,
    },
    /// A time value too long to print: Python's `str()` refuses ints of more than 4300 digits
    /// (`sys.int_max_str_digits`), so the reference fails on the file.
    #[error("a time value has more than {limit} decimal digits, which Python's str() refuses")]
    IntegerTooLong {
        /// The digit limit (4300).
        limit: usize,
    },
    /// A time-signature denominator `2**exponent` that mido's floating-point power-of-two
    /// check rejects (`math.log(2**n, 2)` is inexact for some `n`).
    #[error("time_signature at byte {offset}: denominator 2**{exponent} fails mido's power-of-two check")]
    InvalidTimeSignatureDenominator {
        /// Byte offset of the message's 0xFF byte.
        offset: usize,
        /// The denominator exponent byte.
        exponent: u8,
    },
}

/// Conversion options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtfOptions {
    /// Drop the text-like meta messages, as the reference's `m3_compatible = True` (the
    /// setting CLaMP 3 uses, and the default). `false` keeps them, printed as latin-1 text
    /// through `unicode_escape`, as the reference does with `m3_compatible = False`.
    pub m3_compatible: bool,
}

impl Default for MtfOptions {
    fn default() -> Self {
        MtfOptions {
            m3_compatible: true,
        }
    }
}

/// Convert a MIDI file to MTF text exactly as the reference does (`--m3_compatible`): lines
/// joined with `\n`, no trailing newline. Fails where mido 1.3.0 fails to load the file.
pub fn midi_to_mtf(bytes: &[u8]) -> Result<String, MtfError> {
    midi_to_mtf_with_options(bytes, MtfOptions::default())
}

/// [`midi_to_mtf`] with explicit [`MtfOptions`].
pub fn midi_to_mtf_with_options(bytes: &[u8], options: MtfOptions) -> Result<String, MtfError> {
    // Fast path on u64 ticks; mido's ticks are unbounded Python ints, so a file whose times do
    // not fit in u64 is converted again with arbitrary-precision ticks.
    match convert::<u64>(bytes, options) {
        Ok(text) => Ok(text),
        Err(Stop::Error(e)) => Err(e),
        Err(Stop::Overflow) => match convert::<BigTicks>(bytes, options) {
            Ok(text) => Ok(text),
            Err(Stop::Error(e)) => Err(e),
            // BigTicks never overflows; report the impossible case as data too large anyway.
            Err(Stop::Overflow) => Err(MtfError::MessageTooLong {
                length: u64::MAX,
                offset: 0,
            }),
        },
    }
}

fn convert<T: Tick>(bytes: &[u8], options: MtfOptions) -> Result<String, Stop> {
    let Parsed {
        ticks_per_beat,
        mut events,
        sorted,
    } = reader::parse::<T>(bytes)?;
    if !sorted {
        // Python's list.sort is stable, and so is slice::sort_by.
        events.sort_by(|a, b| a.0.cmp(&b.0));
    }

    let mut out = String::with_capacity(events.len() * 16 + 32);
    out.push_str("ticks_per_beat ");
    push_i64(&mut out, i64::from(ticks_per_beat));

    // _to_reltime() then fix_end_of_track().
    let mut prev = T::zero();
    let mut accum = T::zero();
    for (abs, msg) in &events {
        let delta = abs.sub_le(&prev);
        prev = abs.clone();
        if matches!(msg, Msg::EndOfTrack) {
            accum = accum.checked_add(&delta).ok_or(Stop::Overflow)?;
            continue;
        }
        let time = if accum.is_zero() {
            delta
        } else {
            let t = accum.checked_add(&delta).ok_or(Stop::Overflow)?;
            accum = T::zero();
            t
        };
        if options.m3_compatible && matches!(msg, Msg::Text(..)) {
            continue;
        }
        out.push('\n');
        push_line(&mut out, msg, &time)?;
    }
    out.push_str("\nend_of_track ");
    accum.push_decimal(&mut out)?;
    Ok(out)
}

fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Python `str()` of a tuple of small ints: `()`, `(5,)`, `(1, 2)`.
fn push_tuple(out: &mut String, data: &[u8]) {
    out.push('(');
    for (i, &b) in data.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_u64(out, u64::from(b));
    }
    if data.len() == 1 {
        out.push(',');
    }
    out.push(')');
}

/// Python `str()` of a list of small ints: `[]`, `[5]`, `[1, 2]`.
fn push_list(out: &mut String, data: &[u8]) {
    out.push('[');
    for (i, &b) in data.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_u64(out, u64::from(b));
    }
    out.push(']');
}

/// A latin-1 string (mido's meta charset) after Python's `unicode_escape` codec: backslash,
/// tab, LF and CR escaped by name, other bytes below 0x20 and 0x7F..=0xFF as `\xhh`.
fn push_escaped_latin1(out: &mut String, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

/// One MTF line. The attribute order is that of mido's message after `merged_track`'s
/// copies: channel/system messages `type time values...` (the copy rebuilds the attribute
/// dict as type, time, then the spec's value names), meta messages `type values... time`
/// (MetaMessage sets its spec attributes before time). Only text can need escaping; the other
/// values print as plain ASCII, so `unicode_escape` leaves them unchanged.
fn push_line<T: Tick>(out: &mut String, msg: &Msg<'_>, time: &T) -> Result<(), MtfError> {
    let small = |out: &mut String, vals: &[u8]| {
        for &v in vals {
            out.push(' ');
            push_u64(out, u64::from(v));
        }
    };
    // Channel and system messages: type, time, values.
    let head = |out: &mut String, name: &str| {
        out.push_str(name);
        out.push(' ');
        time.push_decimal(out)
    };
    // Meta messages: type, values, time.
    let tail = |out: &mut String| {
        out.push(' ');
        time.push_decimal(out)
    };
    match *msg {
        Msg::NoteOff {
            channel,
            note,
            velocity,
        } => {
            head(out, "note_off")?;
            small(out, &[channel, note, velocity]);
        }
        Msg::NoteOn {
            channel,
            note,
            velocity,
        } => {
            head(out, "note_on")?;
            small(out, &[channel, note, velocity]);
        }
        Msg::Polytouch {
            channel,
            note,
            value,
        } => {
            head(out, "polytouch")?;
            small(out, &[channel, note, value]);
        }
        Msg::ControlChange {
            channel,
            control,
            value,
        } => {
            head(out, "control_change")?;
            small(out, &[channel, control, value]);
        }
        Msg::ProgramChange { channel, program } => {
            head(out, "program_change")?;
            small(out, &[channel, program]);
        }
        Msg::Aftertouch { channel, value } => {
            head(out, "aftertouch")?;
            small(out, &[channel, value]);
        }
        Msg::Pitchwheel { channel, pitch } => {
            head(out, "pitchwheel")?;
            small(out, &[channel]);
            out.push(' ');
            push_i64(out, i64::from(pitch));
        }
        Msg::Sysex(data) => {
            // BaseMessage.dict() turns sysex data into a list.
            head(out, "sysex")?;
            out.push(' ');
            push_list(out, data);
        }
        Msg::QuarterFrame {
            frame_type,
            frame_value,
        } => {
            head(out, "quarter_frame")?;
            small(out, &[frame_type, frame_value]);
        }
        Msg::Songpos(pos) => {
            head(out, "songpos")?;
            out.push(' ');
            push_u64(out, u64::from(pos));
        }
        Msg::SongSelect(song) => {
            head(out, "song_select")?;
            small(out, &[song]);
        }
        Msg::System(name) => head(out, name)?,
        Msg::SequenceNumber(n) => {
            out.push_str("sequence_number ");
            push_u64(out, u64::from(n));
            tail(out)?;
        }
        Msg::Text(kind, data) => {
            out.push_str(kind.name());
            out.push(' ');
            push_escaped_latin1(out, data);
            tail(out)?;
        }
        Msg::ChannelPrefix(c) => {
            out.push_str("channel_prefix");
            small(out, &[c]);
            tail(out)?;
        }
        Msg::MidiPort(p) => {
            out.push_str("midi_port");
            small(out, &[p]);
            tail(out)?;
        }
        Msg::EndOfTrack => {
            out.push_str("end_of_track");
            tail(out)?;
        }
        Msg::SetTempo(t) => {
            out.push_str("set_tempo ");
            push_u64(out, u64::from(t));
            tail(out)?;
        }
        Msg::SmpteOffset {
            rate_code,
            hours,
            minutes,
            seconds,
            frames,
            sub_frames,
        } => {
            // mido's frame-rate table; 29.97 is a Python float and prints as such.
            out.push_str(match rate_code {
                0 => "smpte_offset 24",
                1 => "smpte_offset 25",
                2 => "smpte_offset 29.97",
                _ => "smpte_offset 30",
            });
            small(out, &[hours, minutes, seconds, frames, sub_frames]);
            tail(out)?;
        }
        Msg::TimeSignature {
            numerator,
            denominator_exp,
            clocks_per_click,
            notated_32nd,
        } => {
            out.push_str("time_signature");
            small(out, &[numerator]);
            // mido stores the denominator as the Python int 2**exp (exp up to 255).
            out.push(' ');
            if denominator_exp < 64 {
                push_u64(out, 1u64 << denominator_exp);
            } else {
                BigTicks::pow2(u32::from(denominator_exp)).push_decimal(out)?;
            }
            small(out, &[clocks_per_click, notated_32nd]);
            tail(out)?;
        }
        Msg::KeySignature(key) => {
            out.push_str("key_signature ");
            out.push_str(key);
            tail(out)?;
        }
        Msg::SequencerSpecific(data) => {
            out.push_str("sequencer_specific ");
            push_tuple(out, data);
            tail(out)?;
        }
        Msg::UnknownMeta { type_byte, data } => {
            out.push_str("unknown_meta");
            small(out, &[type_byte]);
            out.push(' ');
            push_tuple(out, data);
            tail(out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
