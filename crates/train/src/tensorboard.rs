//! TensorBoard scalar logs: `events.out.tfevents.*` files that TensorBoard (and tbparse,
//! TensorBoardX readers...) load, written without TensorFlow.
//!
//! The format is TFRecord framing (`u64` length, masked CRC-32C of the length, the bytes, masked
//! CRC-32C of the bytes) around `tensorflow.Event` protobuf messages. The few protobuf fields
//! needed are encoded by hand, which keeps a protobuf code generator out of the build; the
//! output is byte-identical to TensorBoard's own `RecordWriter` (see
//! `scripts/golden/gen_tensorboard_golden.py`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// TFRecord's CRC masking.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn length_delimited(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | 2), out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time = 1, step = 2, file_version = 3 | summary = 5 }`.
fn event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    // proto3 leaves out fields at their default (bitwise zero), as protobuf's encoder does.
    let mut e = Vec::new();
    if wall_time.to_bits() != 0 {
        e.push(1 << 3 | 1);
        e.extend_from_slice(&wall_time.to_le_bytes());
    }
    if step != 0 {
        e.push(2 << 3);
        varint(step as u64, &mut e);
    }
    match body {
        EventBody::FileVersion(v) => length_delimited(3, v.as_bytes(), &mut e),
        EventBody::Scalar(tag, value) => {
            // Summary { repeated Value value = 1 }, Value { tag = 1, simple_value = 2 }.
            let mut v = Vec::new();
            // simple_value sits in a oneof, so it is written even at 0.0 (proto3 presence).
            length_delimited(1, tag.as_bytes(), &mut v);
            v.push(2 << 3 | 5);
            v.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::new();
            length_delimited(1, &v, &mut summary);
            length_delimited(5, &summary, &mut e);
        }
    }
    e
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar(&'a str, f32),
}

/// Appends scalar events to one event file.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// A new event file in `dir` (created if needed), named as TensorBoard names them, starting
    /// with the file-version event.
    pub fn create(dir: &Path, wall_time: f64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}",
            wall_time as u64,
            std::process::id()
        ));
        Self::create_file(&path, wall_time)
    }

    /// A new event file at exactly `path`.
    pub fn create_file(path: &Path, wall_time: f64) -> std::io::Result<Self> {
        let mut w = EventWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(File::create(path)?),
        };
        w.record(&event(
            wall_time,
            0,
            EventBody::FileVersion("brain.Event:2"),
        ))?;
        w.out.flush()?;
        Ok(w)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes())?;
        self.out.write_all(data)?;
        self.out.write_all(&masked_crc(data).to_le_bytes())
    }

    /// Logs `value` under `tag` at `step` (flushed, so TensorBoard sees it while training).
    pub fn scalar(
        &mut self,
        tag: &str,
        value: f32,
        step: i64,
        wall_time: f64,
    ) -> std::io::Result<()> {
        self.record(&event(wall_time, step, EventBody::Scalar(tag, value)))?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_crc32c() {
        // CRC-32C check value of "123456789" (RFC 3720) is 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut v = Vec::new();
        varint(300, &mut v);
        assert_eq!(v, [0xAC, 0x02]);
        v.clear();
        varint(0, &mut v);
        assert_eq!(v, [0]);
    }
}
