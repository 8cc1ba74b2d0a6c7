//! The two external programs: `abc2midi` (Debian package `abcmidi`) and `fluidsynth`
//! (Debian package `fluidsynth`), run with a time limit, plus the WAV completeness check.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why an external program gave no usable output.
#[derive(Debug)]
pub(crate) enum ToolFailure {
    /// The program could not be started (`NotFound`: not installed).
    Spawn(std::io::Error),
    /// It ran longer than the limit and was killed.
    Timeout(Duration),
    /// It exited unsuccessfully or wrote no output; the message holds its last output lines.
    Failed(String),
    /// Reading or writing the temporary files failed.
    Io(std::io::Error),
}

impl std::fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolFailure::Spawn(e) => write!(f, "cannot start: {e}"),
            ToolFailure::Timeout(d) => write!(f, "killed after {} s", d.as_secs()),
            ToolFailure::Failed(m) => f.write_str(m),
            ToolFailure::Io(e) => write!(f, "temporary files: {e}"),
        }
    }
}

/// The last few non-empty lines of a program's output, for error messages.
fn tail(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines.get(start..).unwrap_or_default().join(" | ")
}

/// Runs `cmd` in `dir` with stdout and stderr going to a file there (no pipe to fill up),
/// killing it after `limit`. Returns its combined output when it exits successfully.
fn run_limited(mut cmd: Command, dir: &Path, limit: Duration) -> Result<Vec<u8>, ToolFailure> {
    let log_path = dir.join("tool.log");
    let log = std::fs::File::create(&log_path).map_err(ToolFailure::Io)?;
    let log2 = log.try_clone().map_err(ToolFailure::Io)?;
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .map_err(ToolFailure::Spawn)?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(ToolFailure::Io)? {
            Some(status) => break status,
            None if start.elapsed() > limit => {
                // kill() fails only if the child already exited; wait() reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolFailure::Timeout(limit));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    let output = std::fs::read(&log_path).unwrap_or_default();
    if status.success() {
        Ok(output)
    } else {
        Err(ToolFailure::Failed(format!("{status}: {}", tail(&output))))
    }
}

/// Checks that a program can be started (`<program> <version_arg>`); `Err` carries the
/// spawn error (`NotFound` when it is not installed).
pub(crate) fn probe(program: &Path, version_arg: &str) -> Result<(), std::io::Error> {
    Command::new(program)
        .arg(version_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
}

/// Converts one tune (its own text, starting at its `X:` line) to MIDI with
/// `abc2midi tune.abc -o tune.mid -silent`, in a fresh temporary folder with fixed file
/// names: abc2midi names its outputs after the input and the `X:` number (and they collide
/// across the tunes of one file), and the fixed names keep the MIDI bytes independent of
/// the temporary folder's random name.
pub(crate) fn abc2midi(program: &Path, tune: &[u8]) -> Result<Vec<u8>, ToolFailure> {
    let dir = tempfile::Builder::new()
        .prefix("clamp3-bench-")
        .tempdir()
        .map_err(ToolFailure::Io)?;
    std::fs::write(dir.path().join("tune.abc"), tune).map_err(ToolFailure::Io)?;
    let mut cmd = Command::new(program);
    cmd.args(["tune.abc", "-o", "tune.mid", "-silent"]);
    let log = run_limited(cmd, dir.path(), Duration::from_secs(60))?;
    match std::fs::read(dir.path().join("tune.mid")) {
        Ok(midi) if !midi.is_empty() => Ok(midi),
        Ok(_) => Err(ToolFailure::Failed(format!(
            "empty MIDI file: {}",
            tail(&log)
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ToolFailure::Failed(format!(
            "no MIDI file written: {}",
            tail(&log)
        ))),
        Err(e) => Err(ToolFailure::Io(e)),
    }
}

/// Renders `midi` to the WAV file `out` with
/// `fluidsynth -ni -q -r <rate> -F <out> <soundfont> <midi>` (stereo, 16-bit; deterministic
/// for a given fluidsynth and soundfont). `out` must end in `.wav` (fluidsynth picks the
/// file type from the name). The result is checked with [`wav_is_complete`].
pub(crate) fn fluidsynth(
    program: &Path,
    soundfont: &Path,
    sample_rate: u32,
    midi: &[u8],
    out: &Path,
) -> Result<(), ToolFailure> {
    let dir = tempfile::Builder::new()
        .prefix("clamp3-bench-")
        .tempdir()
        .map_err(ToolFailure::Io)?;
    let mid = dir.path().join("tune.mid");
    std::fs::write(&mid, midi).map_err(ToolFailure::Io)?;
    let mut cmd = Command::new(program);
    cmd.arg("-ni")
        .arg("-q")
        .arg("-r")
        .arg(sample_rate.to_string())
        .arg("-F")
        .arg(out)
        .arg(soundfont)
        .arg(&mid);
    let log = run_limited(cmd, dir.path(), Duration::from_secs(600))?;
    if wav_is_complete(out, sample_rate) {
        Ok(())
    } else {
        Err(ToolFailure::Failed(format!(
            "no complete WAV file written: {}",
            tail(&log)
        )))
    }
}

/// Whether `path` is a whole PCM WAV file at `sample_rate`: a RIFF/WAVE header whose RIFF
/// size matches the file length, a `fmt ` chunk with that rate, and a non-empty `data` chunk
/// that fits in the file. A file cut short by an interrupted render fails this check.
pub(crate) fn wav_is_complete(path: &Path, sample_rate: u32) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    wav_bytes_complete(&bytes, sample_rate)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// [`wav_is_complete`] on the bytes.
pub(crate) fn wav_bytes_complete(b: &[u8], sample_rate: u32) -> bool {
    if b.get(0..4) != Some(b"RIFF") || b.get(8..12) != Some(b"WAVE") {
        return false;
    }
    match u32_at(b, 4) {
        Some(size) if size as usize == b.len().saturating_sub(8) => {}
        _ => return false,
    }
    let mut pos = 12usize;
    let mut rate_ok = false;
    while let (Some(id), Some(size)) = (b.get(pos..pos + 4), u32_at(b, pos + 4)) {
        let body = pos + 8;
        let Some(end) = body.checked_add(size as usize) else {
            return false;
        };
        if end > b.len() {
            return false;
        }
        match id {
            b"fmt " => rate_ok = u32_at(b, body + 4) == Some(sample_rate),
            b"data" => return rate_ok && size > 0,
            _ => {}
        }
        pos = end + (size as usize & 1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&((36 + data.len()) as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 4).to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn wav_check() {
        let w = wav(24000, &[0u8; 16]);
        assert!(wav_bytes_complete(&w, 24000));
        assert!(!wav_bytes_complete(&w, 16000));
        assert!(!wav_bytes_complete(&w[..w.len() - 1], 24000));
        assert!(!wav_bytes_complete(&wav(24000, &[]), 24000));
        assert!(!wav_bytes_complete(b"RIFF", 24000));
    }
}
