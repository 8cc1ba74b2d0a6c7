//! Minimal MP4/M4A box walker: reads the audio track's edit list (`moov/trak/edts/elst`) so the
//! decoder can drop AAC encoder priming, which symphonia 0.6.1 keeps (its MP4 reader parses the
//! edit list but does not expose it).
//!
//! ffmpeg does the same: the first non-empty edit's `media_time` (media timescale) is the number
//! of priming frames to skip, and its `segment_duration` (movie timescale) the number of frames to
//! play. Anything unexpected (no `ftyp`, several non-empty edits, a non-unit rate, oversized
//! boxes) yields `None`, i.e. no trimming. Only box headers and a few fields are read; `moov` is
//! read into memory only when smaller than 64 MiB.

use std::io::{Read, Seek, SeekFrom};

/// The edit of the first audio track, in the container's own units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AudioEdit {
    /// First media time played, in `media_timescale` units (the priming length).
    pub media_time: u64,
    /// Media (track) timescale, from `mdhd`.
    pub media_timescale: u32,
    /// Length of the edit in `movie_timescale` units (0: unknown).
    pub segment_duration: u64,
    /// Movie timescale, from `mvhd`.
    pub movie_timescale: u32,
}

impl AudioEdit {
    /// Frames to skip and (if known) to keep at `sample_rate`.
    pub fn frames(&self, sample_rate: u32) -> (u64, Option<u64>) {
        let rate = u128::from(sample_rate);
        let skip = if self.media_timescale == 0 {
            0
        } else {
            (u128::from(self.media_time) * rate / u128::from(self.media_timescale)) as u64
        };
        let keep = if self.segment_duration == 0 || self.movie_timescale == 0 {
            None
        } else {
            let mt = u128::from(self.movie_timescale);
            // Round to the nearest frame, as the duration is usually stored in milliseconds.
            Some(((u128::from(self.segment_duration) * rate + mt / 2) / mt) as u64)
        };
        (skip, keep)
    }
}

const MAX_MOOV: u64 = 64 << 20;

/// Reads one box header at the current position: (type, payload length, header length).
fn read_header<R: Read>(r: &mut R, remaining: u64) -> Option<([u8; 4], u64, u64)> {
    let mut h = [0u8; 8];
    r.read_exact(&mut h).ok()?;
    let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let typ = [h[4], h[5], h[6], h[7]];
    let (size, hdr) = match size32 {
        0 => (remaining, 8),
        1 => {
            let mut l = [0u8; 8];
            r.read_exact(&mut l).ok()?;
            (u64::from_be_bytes(l), 16)
        }
        s => (u64::from(s), 8),
    };
    if size < hdr || size > remaining {
        return None;
    }
    Some((typ, size - hdr, hdr))
}

/// Iterates the child boxes of an in-memory payload: (type, payload).
fn children(mut data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 8 {
        let size32 = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let typ = [data[4], data[5], data[6], data[7]];
        let (size, hdr) = match size32 {
            0 => (data.len() as u64, 8usize),
            1 => {
                let Some(l) = data.get(8..16) else { break };
                let mut b = [0u8; 8];
                b.copy_from_slice(l);
                (u64::from_be_bytes(b), 16usize)
            }
            s => (u64::from(s), 8usize),
        };
        if size < hdr as u64 || size > data.len() as u64 {
            break;
        }
        let size = size as usize;
        out.push((typ, &data[hdr..size]));
        data = &data[size..];
    }
    out
}

fn child<'a>(data: &'a [u8], typ: &[u8; 4]) -> Option<&'a [u8]> {
    children(data)
        .into_iter()
        .find(|(t, _)| t == typ)
        .map(|(_, d)| d)
}

fn be_u32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be_u64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// Timescale of an `mvhd` or `mdhd` payload (same layout up to the timescale).
fn header_timescale(d: &[u8]) -> Option<u32> {
    match d.first()? {
        0 => be_u32(d, 12),
        1 => be_u32(d, 20),
        _ => None,
    }
}

/// The single non-empty edit of an `elst` payload: (segment_duration, media_time).
fn single_edit(d: &[u8]) -> Option<(u64, u64)> {
    let version = *d.first()?;
    let count = be_u32(d, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut found = None;
    for i in 0..count.min(1024) {
        let at = 8 + i * entry_len;
        let (dur, time, rate_at) = if version == 1 {
            (be_u64(d, at)?, be_u64(d, at + 8)? as i64, at + 16)
        } else {
            (
                u64::from(be_u32(d, at)?),
                i64::from(be_u32(d, at + 4)? as i32),
                at + 8,
            )
        };
        if time == -1 {
            continue; // an empty edit (a delay): nothing to skip
        }
        let rate = be_u32(d, rate_at)?;
        if time < 0 || rate != 0x0001_0000 || found.is_some() {
            return None;
        }
        found = Some((dur, time as u64));
    }
    found
}

/// Reads the edit of the first sound track of an MP4-family file, if it has one.
pub(crate) fn read_audio_edit<R: Read + Seek>(r: &mut R) -> Option<AudioEdit> {
    let end = r.seek(SeekFrom::End(0)).ok()?;
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut pos = 0u64;
    let mut first = true;
    while pos < end {
        let (typ, len, hdr) = read_header(r, end - pos)?;
        if first && &typ != b"ftyp" {
            return None;
        }
        first = false;
        if &typ == b"moov" {
            if len > MAX_MOOV {
                return None;
            }
            let mut moov = vec![0u8; len as usize];
            r.read_exact(&mut moov).ok()?;
            return edit_from_moov(&moov);
        }
        pos = pos.checked_add(hdr)?.checked_add(len)?;
        r.seek(SeekFrom::Start(pos)).ok()?;
    }
    None
}

fn edit_from_moov(moov: &[u8]) -> Option<AudioEdit> {
    let movie_timescale = header_timescale(child(moov, b"mvhd")?)?;
    for (typ, trak) in children(moov) {
        if &typ != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia") else {
            continue;
        };
        let Some(hdlr) = child(mdia, b"hdlr") else {
            continue;
        };
        if hdlr.get(8..12) != Some(b"soun") {
            continue;
        }
        let media_timescale = header_timescale(child(mdia, b"mdhd")?)?;
        let elst = child(child(trak, b"edts")?, b"elst")?;
        let (segment_duration, media_time) = single_edit(elst)?;
        return Some(AudioEdit {
            media_time,
            media_timescale,
            segment_duration,
            movie_timescale,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn parses_a_synthetic_edit_list() {
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        let mut mdhd = vec![0u8; 24];
        mdhd[12..16].copy_from_slice(&44100u32.to_be_bytes());
        let mut hdlr = vec![0u8; 24];
        hdlr[8..12].copy_from_slice(b"soun");
        let mut elst = vec![0u8, 0, 0, 0];
        elst.extend_from_slice(&1u32.to_be_bytes());
        elst.extend_from_slice(&2000u32.to_be_bytes());
        elst.extend_from_slice(&1024u32.to_be_bytes());
        elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        let mdia = [boxed(b"mdhd", &mdhd), boxed(b"hdlr", &hdlr)].concat();
        let trak = [
            boxed(b"edts", &boxed(b"elst", &elst)),
            boxed(b"mdia", &mdia),
        ]
        .concat();
        let moov = [boxed(b"mvhd", &mvhd), boxed(b"trak", &trak)].concat();
        let file = [boxed(b"ftyp", b"M4A \0\0\0\0"), boxed(b"moov", &moov)].concat();
        let e = read_audio_edit(&mut std::io::Cursor::new(file)).expect("edit");
        assert_eq!(e.media_time, 1024);
        assert_eq!(e.frames(44100), (1024, Some(88200)));
        assert_eq!(
            read_audio_edit(&mut std::io::Cursor::new(b"RIFF....".to_vec())),
            None
        );
    }
}
