//! A byte-level MIDI file reader that accepts and rejects exactly what mido 1.3.0's
//! `MidiFile(filename)` accepts and rejects (`mido/midifiles/midifiles.py`, `meta.py`,
//! `messages/decode.py`), and decodes every message to the values mido would hold.
//!
//! Why not `midly`: on many inputs midly reads a file differently from mido, and the MTF text
//! has to follow mido. mido, unlike midly,
//! - stops a track only when the read position is *exactly* `start + size`: a message that
//!   crosses the chunk end makes mido read on into the following bytes until it fails;
//! - fails on any chunk other than `MTrk` where it expects a track (midly skips them);
//! - lets sysex (`F0`/`F7`) set running status, and then drops the data byte it consumed;
//! - reads variable-length numbers of any length into an unbounded integer;
//! - reads the header fields as *signed* 16-bit values (a negative track count means no
//!   tracks; an SMPTE division prints as a negative `ticks_per_beat`), accepts any format
//!   number except 2, and skips extra header bytes;
//! - decodes meta payloads with its own length rules (e.g. an empty `sequence_number` is 0,
//!   extra bytes are ignored, a short `set_tempo` fails) and value checks (key signatures,
//!   SMPTE frame-rate codes and fields, time-signature denominators);
//! - drops the delta time of unknown meta events and strips `F0`/`F7` from sysex payloads.

use super::ticks::Tick;
use super::MtfError;

/// mido's `MAX_MESSAGE_LENGTH`: longer meta or sysex payloads are refused.
const MAX_MESSAGE_LENGTH: u64 = 1_000_000;

/// Exponents `n` for which mido rejects a time-signature denominator `2**n`.
///
/// mido checks `math.log(2**n, 2) == int(math.log(2**n, 2))`, computed in floating point as
/// `log(2.0**n) / log(2.0)`, which is inexact for these `n` (glibc `log`, the reference's
/// platform). The list was generated with CPython 3.11 on x86-64 Linux; hard-coding it keeps
/// the result the same on every platform.
const BAD_DENOMINATOR_EXPONENTS: [u8; 51] = [
    29, 31, 39, 47, 51, 55, 58, 59, 62, 78, 93, 94, 95, 101, 102, 109, 110, 116, 117, 118, 124,
    125, 141, 156, 171, 179, 186, 187, 188, 189, 190, 201, 202, 203, 204, 205, 217, 218, 219, 220,
    221, 232, 233, 234, 235, 236, 247, 248, 249, 250, 251,
];

/// mido's key names, indexed by `(sharps + 7) * 2 + mode` (sharps -7..=7, mode 0 major, 1 minor).
const KEY_NAMES: [&str; 30] = [
    "Cb", "Abm", "Gb", "Ebm", "Db", "Bbm", "Ab", "Fm", "Eb", "Cm", "Bb", "Gm", "F", "Dm", "C",
    "Am", "G", "Em", "D", "Bm", "A", "F#m", "E", "C#m", "B", "G#m", "F#", "D#m", "C#", "A#m",
];

/// The eight text-like meta types (type bytes 0x01..=0x07 and 0x09), all of which
/// m3-compatible MTF drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextKind {
    Text,
    Copyright,
    TrackName,
    InstrumentName,
    Lyrics,
    Marker,
    CueMarker,
    DeviceName,
}

impl TextKind {
    /// mido's message type name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TextKind::Text => "text",
            TextKind::Copyright => "copyright",
            TextKind::TrackName => "track_name",
            TextKind::InstrumentName => "instrument_name",
            TextKind::Lyrics => "lyrics",
            TextKind::Marker => "marker",
            TextKind::CueMarker => "cue_marker",
            TextKind::DeviceName => "device_name",
        }
    }
}

/// One decoded message, holding the attribute values mido would hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msg<'a> {
    NoteOff {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    NoteOn {
        channel: u8,
        note: u8,
        velocity: u8,
    },
    Polytouch {
        channel: u8,
        note: u8,
        value: u8,
    },
    ControlChange {
        channel: u8,
        control: u8,
        value: u8,
    },
    ProgramChange {
        channel: u8,
        program: u8,
    },
    Aftertouch {
        channel: u8,
        value: u8,
    },
    Pitchwheel {
        channel: u8,
        pitch: i16,
    },
    /// Payload without a leading `F0` and a trailing `F7`; every byte is <= 127.
    Sysex(&'a [u8]),
    QuarterFrame {
        frame_type: u8,
        frame_value: u8,
    },
    Songpos(u16),
    SongSelect(u8),
    /// A system message without data: its mido type name.
    System(&'static str),
    SequenceNumber(u16),
    /// Text-like meta message; the bytes are decoded as latin-1 when printed.
    Text(TextKind, &'a [u8]),
    ChannelPrefix(u8),
    MidiPort(u8),
    EndOfTrack,
    SetTempo(u32),
    SmpteOffset {
        rate_code: u8,
        hours: u8,
        minutes: u8,
        seconds: u8,
        frames: u8,
        sub_frames: u8,
    },
    TimeSignature {
        numerator: u8,
        denominator_exp: u8,
        clocks_per_click: u8,
        notated_32nd: u8,
    },
    KeySignature(&'static str),
    SequencerSpecific(&'a [u8]),
    UnknownMeta {
        type_byte: u8,
        data: &'a [u8],
    },
}

/// A parsed MIDI file: header fields and all messages of all tracks, each with its absolute
/// time, concatenated in track order (what mido's `merge_tracks` sorts).
pub(crate) struct Parsed<'a, T> {
    /// The header's division field, read as mido does (signed).
    pub(crate) ticks_per_beat: i16,
    /// `(absolute time, message)` in track order, then file order within a track.
    pub(crate) events: Vec<(T, Msg<'a>)>,
    /// Whether the absolute times are already non-decreasing (no sort needed).
    pub(crate) sorted: bool,
}

/// Why parsing stopped: a real error, or a tick value too large for `T` (retry wider).
pub(crate) enum Stop {
    Error(MtfError),
    Overflow,
}

impl From<MtfError> for Stop {
    fn from(e: MtfError) -> Self {
        Stop::Error(e)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, context: &'static str) -> Result<u8, MtfError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(MtfError::Truncated {
                offset: self.pos,
                context,
            }),
        }
    }

    fn bytes(&mut self, n: usize, context: &'static str) -> Result<&'a [u8], MtfError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = self.data.get(self.pos..end).unwrap_or_default();
                self.pos = end;
                Ok(s)
            }
            None => Err(MtfError::Truncated {
                offset: self.data.len(),
                context,
            }),
        }
    }

    /// The raw bytes of a variable-length quantity (mido reads any number of them).
    fn vlq_bytes(&mut self, context: &'static str) -> Result<&'a [u8], MtfError> {
        let start = self.pos;
        loop {
            if self.byte(context)? < 0x80 {
                return Ok(self.data.get(start..self.pos).unwrap_or_default());
            }
        }
    }

    /// A payload length: a variable-length quantity that mido refuses above
    /// `MAX_MESSAGE_LENGTH` (after reading the whole quantity).
    fn length(&mut self, offset: usize, context: &'static str) -> Result<usize, MtfError> {
        let mut value: u64 = 0;
        for &b in self.vlq_bytes(context)? {
            value = value
                .saturating_mul(128)
                .saturating_add(u64::from(b & 0x7f));
        }
        if value > MAX_MESSAGE_LENGTH {
            return Err(MtfError::MessageTooLong {
                length: value,
                offset,
            });
        }
        usize::try_from(value).map_err(|_| MtfError::MessageTooLong {
            length: value,
            offset,
        })
    }

    /// A chunk header: 4-byte name and big-endian 32-bit size.
    fn chunk_header(&mut self, context: &'static str) -> Result<([u8; 4], u32), MtfError> {
        let h = self.bytes(8, context)?;
        let mut name = [0u8; 4];
        name.copy_from_slice(h.get(..4).unwrap_or(&[0; 4]));
        let size = h
            .get(4..8)
            .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
        Ok((name, size))
    }
}

/// Parse a MIDI file as mido 1.3.0 does.
pub(crate) fn parse<T: Tick>(data: &[u8]) -> Result<Parsed<'_, T>, Stop> {
    let mut r = Reader { data, pos: 0 };

    // read_file_header(): 8 bytes, the name, then `size` bytes of which the first 6 count.
    if data.len() < 8 {
        if !b"MThd".starts_with(data.get(..data.len().min(4)).unwrap_or_default()) {
            return Err(MtfError::NotMidi.into());
        }
        return Err(MtfError::Truncated {
            offset: data.len(),
            context: "the MThd chunk header",
        }
        .into());
    }
    let (name, size) = r.chunk_header("the MThd chunk header")?;
    if &name != b"MThd" {
        return Err(MtfError::NotMidi.into());
    }
    // Python's file.read(size) returns what is left when the file is shorter.
    let available = data.len() - r.pos;
    let take = usize::try_from(size).map_or(available, |s| s.min(available));
    let hdr = r.bytes(take, "the MThd chunk")?;
    if hdr.len() < 6 {
        return Err(MtfError::Truncated {
            offset: data.len(),
            context: "the MThd chunk",
        }
        .into());
    }
    let field = |i: usize| {
        hdr.get(i..i + 2)
            .map_or(0, |s| i16::from_be_bytes([s[0], s[1]]))
    };
    let format = field(0);
    let num_tracks = field(2);
    let ticks_per_beat = field(4);

    let mut events: Vec<(T, Msg<'_>)> = Vec::with_capacity(data.len() / 3);
    let mut sorted = true;
    for track in 0..usize::try_from(num_tracks).unwrap_or(0) {
        let first = events.len();
        read_track(&mut r, track, &mut events)?;
        // Tracks after the first restart at time 0; the file needs a sort unless they start
        // no earlier than the previous track ended.
        if first > 0 {
            if let (Some(prev), Some(cur)) = (events.get(first - 1), events.get(first)) {
                if cur.0 < prev.0 {
                    sorted = false;
                }
            }
        }
    }

    // mido 1.3.0 builds `merged_track` only when the type is not 2, so the reference fails.
    if format == 2 {
        return Err(MtfError::Type2Unsupported.into());
    }
    Ok(Parsed {
        ticks_per_beat,
        events,
        sorted,
    })
}

/// mido's `read_track()`, appending `(absolute time, message)` pairs to `events`.
fn read_track<'a, T: Tick>(
    r: &mut Reader<'a>,
    track: usize,
    events: &mut Vec<(T, Msg<'a>)>,
) -> Result<(), Stop> {
    let chunk_offset = r.pos;
    let (name, size) = r.chunk_header("a track chunk header")?;
    if &name != b"MTrk" {
        return Err(MtfError::NotATrack {
            track,
            offset: chunk_offset,
            found: name,
        }
        .into());
    }
    let start = r.pos;
    // mido stops only when `tell() - start == size`; a message crossing the end makes it read
    // on (into the next chunk or garbage) until something fails.
    let end = start as u64 + u64::from(size);
    let mut last_status: Option<u8> = None;
    let mut now = T::zero();

    while r.pos as u64 != end {
        let delta = T::from_vlq(r.vlq_bytes("a delta time")?).ok_or(Stop::Overflow)?;
        let offset = r.pos;
        let mut status = r.byte("a status byte")?;
        let mut peek = None;
        if status < 0x80 {
            match last_status {
                Some(s) => {
                    peek = Some(status);
                    status = s;
                }
                None => return Err(MtfError::RunningStatusWithoutStatus { offset }.into()),
            }
        } else if status != 0xff {
            // Meta messages don't set running status; everything else (sysex included) does.
            last_status = Some(status);
        }

        let msg = match status {
            0xff => read_meta(r, offset)?,
            // The running-status data byte (if any) is dropped: mido's read_sysex ignores it.
            0xf0 | 0xf7 => read_sysex(r, offset)?,
            _ => read_message(r, status, peek, offset)?,
        };
        // UnknownMetaMessage is built without the delta time, so its time is 0.
        if !matches!(msg, Msg::UnknownMeta { .. }) {
            now = now.checked_add(&delta).ok_or(Stop::Overflow)?;
        }
        events.push((now.clone(), msg));
    }
    Ok(())
}

/// Data length (after the status byte) of a channel or system message; `None` if mido has no
/// message with this status byte.
fn data_length(status: u8) -> Option<usize> {
    match status {
        0x80..=0xbf | 0xe0..=0xef | 0xf2 => Some(2),
        0xc0..=0xdf | 0xf1 | 0xf3 => Some(1),
        0xf6 | 0xf8 | 0xfa | 0xfb | 0xfc | 0xfe => Some(0),
        _ => None,
    }
}

/// mido's `read_message()` + `Message.from_bytes()` for channel and system messages.
fn read_message<'a>(
    r: &mut Reader<'a>,
    status: u8,
    peek: Option<u8>,
    offset: usize,
) -> Result<Msg<'a>, MtfError> {
    let len = data_length(status).ok_or(MtfError::UndefinedStatus { status, offset })?;
    let mut data = [0u8; 2];
    let mut n = 0;
    if let Some(p) = peek {
        data[0] = p;
        n = 1;
    }
    // With running status on a message without data, mido reads nothing more and then fails
    // on the extra byte ("wrong number of bytes").
    while n < len {
        data[n] = r.byte("a message's data bytes")?;
        n += 1;
    }
    if let Some(&b) = data.get(..n).and_then(|d| d.iter().find(|&&b| b > 127)) {
        return Err(MtfError::DataByteOutOfRange { byte: b, offset });
    }
    if n != len {
        let kind = match status {
            0xf6 => "tune_request",
            0xf8 => "clock",
            0xfa => "start",
            0xfb => "continue",
            0xfc => "stop",
            _ => "active_sensing",
        };
        return Err(MtfError::WrongDataLength { kind, offset });
    }
    let [d0, d1] = data;
    let channel = status & 0x0f;
    Ok(match status {
        0x80..=0x8f => Msg::NoteOff {
            channel,
            note: d0,
            velocity: d1,
        },
        0x90..=0x9f => Msg::NoteOn {
            channel,
            note: d0,
            velocity: d1,
        },
        0xa0..=0xaf => Msg::Polytouch {
            channel,
            note: d0,
            value: d1,
        },
        0xb0..=0xbf => Msg::ControlChange {
            channel,
            control: d0,
            value: d1,
        },
        0xc0..=0xcf => Msg::ProgramChange {
            channel,
            program: d0,
        },
        0xd0..=0xdf => Msg::Aftertouch { channel, value: d0 },
        // Both bytes are <= 127, so the 14-bit value minus 8192 fits i16.
        0xe0..=0xef => Msg::Pitchwheel {
            channel,
            pitch: (i16::from(d1) << 7 | i16::from(d0)) - 8192,
        },
        0xf1 => Msg::QuarterFrame {
            frame_type: d0 >> 4,
            frame_value: d0 & 0x0f,
        },
        0xf2 => Msg::Songpos(u16::from(d0) | u16::from(d1) << 7),
        0xf3 => Msg::SongSelect(d0),
        0xf6 => Msg::System("tune_request"),
        0xf8 => Msg::System("clock"),
        0xfa => Msg::System("start"),
        0xfb => Msg::System("continue"),
        0xfc => Msg::System("stop"),
        _ => Msg::System("active_sensing"),
    })
}

/// mido's `read_sysex()`: length-prefixed payload, one leading `F0` and one trailing `F7`
/// stripped, every remaining byte checked to be <= 127.
fn read_sysex<'a>(r: &mut Reader<'a>, offset: usize) -> Result<Msg<'a>, MtfError> {
    let len = r.length(offset, "a sysex length")?;
    let mut data = r.bytes(len, "sysex data")?;
    if let Some((&0xf0, rest)) = data.split_first() {
        data = rest;
    }
    if let Some((&0xf7, rest)) = data.split_last() {
        data = rest;
    }
    if let Some(&b) = data.iter().find(|&&b| b > 127) {
        return Err(MtfError::SysexDataByteOutOfRange { byte: b, offset });
    }
    Ok(Msg::Sysex(data))
}

/// mido's `read_meta_message()` + `build_meta_message()` + the meta specs' `decode()` and
/// attribute checks.
fn read_meta<'a>(r: &mut Reader<'a>, offset: usize) -> Result<Msg<'a>, MtfError> {
    let type_byte = r.byte("a meta type byte")?;
    let len = r.length(offset, "a meta length")?;
    let data = r.bytes(len, "meta data")?;
    let need = |kind: &'static str, needed: usize| -> Result<(), MtfError> {
        if data.len() < needed {
            Err(MtfError::MetaTooShort {
                kind,
                offset,
                length: data.len(),
                needed,
            })
        } else {
            Ok(())
        }
    };
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    Ok(match type_byte {
        0x00 => {
            // An empty sequence_number is 0 (mido: "can occur in some files").
            if data.is_empty() {
                Msg::SequenceNumber(0)
            } else {
                need("sequence_number", 2)?;
                Msg::SequenceNumber(u16::from(at(0)) << 8 | u16::from(at(1)))
            }
        }
        0x01 => Msg::Text(TextKind::Text, data),
        0x02 => Msg::Text(TextKind::Copyright, data),
        0x03 => Msg::Text(TextKind::TrackName, data),
        0x04 => Msg::Text(TextKind::InstrumentName, data),
        0x05 => Msg::Text(TextKind::Lyrics, data),
        0x06 => Msg::Text(TextKind::Marker, data),
        0x07 => Msg::Text(TextKind::CueMarker, data),
        0x09 => Msg::Text(TextKind::DeviceName, data),
        0x20 => {
            need("channel_prefix", 1)?;
            Msg::ChannelPrefix(at(0))
        }
        // An empty midi_port is port 0, like sequence_number.
        0x21 => Msg::MidiPort(at(0)),
        0x2f => Msg::EndOfTrack,
        0x51 => {
            need("set_tempo", 3)?;
            Msg::SetTempo(u32::from(at(0)) << 16 | u32::from(at(1)) << 8 | u32::from(at(2)))
        }
        0x54 => {
            need("smpte_offset", 1)?;
            let rate_code = at(0) >> 5;
            if rate_code > 3 {
                return Err(MtfError::InvalidSmpteFrameRate {
                    offset,
                    code: rate_code,
                });
            }
            need("smpte_offset", 5)?;
            for (field, value, max) in [
                ("minutes", at(1), 59),
                ("seconds", at(2), 59),
                ("sub_frames", at(4), 99),
            ] {
                if value > max {
                    return Err(MtfError::SmpteFieldOutOfRange {
                        offset,
                        field,
                        value,
                        max,
                    });
                }
            }
            Msg::SmpteOffset {
                rate_code,
                hours: at(0) & 0x1f,
                minutes: at(1),
                seconds: at(2),
                frames: at(3),
                sub_frames: at(4),
            }
        }
        0x58 => {
            need("time_signature", 2)?;
            if BAD_DENOMINATOR_EXPONENTS.contains(&at(1)) {
                return Err(MtfError::InvalidTimeSignatureDenominator {
                    offset,
                    exponent: at(1),
                });
            }
            need("time_signature", 4)?;
            Msg::TimeSignature {
                numerator: at(0),
                denominator_exp: at(1),
                clocks_per_click: at(2),
                notated_32nd: at(3),
            }
        }
        0x59 => {
            need("key_signature", 2)?;
            // The sharps/flats byte is signed.
            let sharps = i8::from_ne_bytes([at(0)]);
            let mode = at(1);
            let name = if (-7..=7).contains(&sharps) && mode <= 1 {
                KEY_NAMES
                    .get(((i32::from(sharps) + 7) * 2 + i32::from(mode)) as usize)
                    .copied()
            } else {
                None
            };
            match name {
                Some(key) => Msg::KeySignature(key),
                None => {
                    return Err(MtfError::InvalidKeySignature {
                        offset,
                        sharps,
                        mode,
                    })
                }
            }
        }
        0x7f => Msg::SequencerSpecific(data),
        _ => Msg::UnknownMeta { type_byte, data },
    })
}
