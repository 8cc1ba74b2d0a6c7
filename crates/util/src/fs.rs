//! Writing outputs so that nothing already written is lost and nothing the user points at is
//! replaced.
//!
//! - A regular file (or a path that does not exist yet) is written to a temporary file in the
//!   same folder, flushed to disk and renamed over the target only when complete, so a reader or
//!   a crash never sees half an output and the previous version survives a failure.
//! - A symlink is followed: its final target is written (atomically, as above) and the link
//!   stays a link.
//! - Anything else that exists and is not a regular file (a FIFO, a character device such as
//!   `/dev/null` or `/dev/stdout`, a socket) is opened and written into, never replaced.
//! - `-` is standard output.
//!
//! Temporary files are named `.clamp3-*.tmp` (see [`TEMP_PREFIX`]) so that stale ones left by a
//! killed process can be recognised.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Prefix of this project's temporary files.
pub const TEMP_PREFIX: &str = ".clamp3-";
/// Suffix of this project's temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// True for the path `-`, meaning standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == OsStr::new("-")
}

/// `path` with every symlink along the final component followed (also a dangling one, whose
/// target does not exist yet). Fails on a symlink loop.
pub fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new("")).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Flushes a folder's entry list to disk (after a rename into it). Best effort: not every
/// file system lets a folder be opened or synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// An output being written: see the module docs for what happens to each kind of target.
/// Nothing is visible at a regular-file target until [`Output::commit`]; dropping an uncommitted
/// output removes its temporary file.
pub struct Output {
    inner: Inner,
}

enum Inner {
    Stdout(io::BufWriter<io::Stdout>),
    Direct(io::BufWriter<File>),
    Temp {
        file: io::BufWriter<tempfile::NamedTempFile>,
        dest: PathBuf,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Stdout(_) => f.write_str("Output(stdout)"),
            Inner::Direct(_) => f.write_str("Output(direct)"),
            Inner::Temp { dest, .. } => write!(f, "Output({})", dest.display()),
        }
    }
}

impl Output {
    /// Starts writing `path` (`-` for standard output), creating missing parent folders.
    pub fn create(path: &Path) -> io::Result<Self> {
        if is_stdout(path) {
            return Ok(Output {
                inner: Inner::Stdout(io::BufWriter::new(io::stdout())),
            });
        }
        let dest = resolve_symlinks(path)?;
        match fs::metadata(&dest) {
            Ok(m) if m.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{} is a folder", dest.display()),
                ))
            }
            Ok(m) if !m.is_file() => {
                // A device, FIFO or socket: write into it, never replace it.
                let f = OpenOptions::new().write(true).open(&dest)?;
                return Ok(Output {
                    inner: Inner::Direct(io::BufWriter::new(f)),
                });
            }
            _ => {}
        }
        let dir = parent_dir(&dest);
        fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)?;
        Ok(Output {
            inner: Inner::Temp {
                file: io::BufWriter::with_capacity(1 << 16, tmp),
                dest,
            },
        })
    }

    /// Finishes the output: flushes it and, for a regular file, makes it durable and puts it in
    /// place (permissions 0644, as files written the ordinary way get).
    pub fn commit(self) -> io::Result<()> {
        match self.inner {
            Inner::Stdout(mut w) => w.flush(),
            Inner::Direct(w) => {
                w.into_inner().map_err(io::IntoInnerError::into_error)?;
                Ok(())
            }
            Inner::Temp { file, dest } => {
                let tmp = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    tmp.as_file()
                        .set_permissions(fs::Permissions::from_mode(0o644))?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&dest).map_err(|e| e.error)?;
                sync_dir(parent_dir(&dest));
                Ok(())
            }
        }
    }

    /// The temporary file's path while a regular-file output is being written (`None` for
    /// standard output and direct writes): lets a writer that only takes a path (e.g. a
    /// safetensors serialiser) fill it.
    pub fn temp_path(&self) -> Option<&Path> {
        match &self.inner {
            Inner::Temp { file, .. } => Some(file.get_ref().path()),
            _ => None,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Stdout(w) => w.write(buf),
            Inner::Direct(w) => w.write(buf),
            Inner::Temp { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Stdout(w) => w.flush(),
            Inner::Direct(w) => w.flush(),
            Inner::Temp { file, .. } => file.flush(),
        }
    }
}

/// Writes `bytes` to `path` as [`Output`] does (atomically for regular files).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut out = Output::create(path)?;
    out.write_all(bytes)?;
    out.commit()
}

/// Fills `path` through `write`, which gets the path of a temporary file to create (for writers
/// that take a path rather than a stream, e.g. safetensors serialisers); the result is put in
/// place atomically as by [`write_atomic`]. A device or FIFO target gets the bytes copied in.
pub fn write_atomic_via_path(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = Output::create(path)?;
    match out.temp_path().map(Path::to_path_buf) {
        Some(tmp) => write(&tmp)?,
        None => {
            // Write beside nothing the user owns: a private temporary folder, then copy.
            let dir = tempfile::Builder::new().prefix(TEMP_PREFIX).tempdir()?;
            let p = dir.path().join("out");
            write(&p)?;
            io::copy(&mut File::open(&p)?, &mut out)?;
        }
    }
    // The temporary file was replaced by `write`; the output's buffer is empty, so committing
    // persists what `write` created.
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_a_regular_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(&dir.path().join("sub")), vec!["x.txt"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn an_uncommitted_output_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        fs::write(&p, b"old").unwrap();
        let mut out = Output::create(&p).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(dir.path()), vec!["x.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.txt");
        fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("made.txt", &dangling).unwrap();
        write_atomic(&dangling, b"x").unwrap();
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(dir.path().join("made.txt")).unwrap(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_into_not_replaced() {
        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        let m = fs::symlink_metadata("/dev/null").unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(m.file_type().is_char_device());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_folder_target_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn a_path_writer_fills_the_output_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.bin");
        write_atomic_via_path(&p, |tmp| fs::write(tmp, b"via path")).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"via path");
        assert_eq!(names(dir.path()), vec!["w.bin"]);
    }
}
