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
//! Temporary files are named `.clamp3-<pid>-*.tmp` (see [`TEMP_PREFIX`]). Every temporary path
//! of the process is registered while it exists, so that [`remove_temps_on_signal`] can delete
//! them when the process is interrupted (SIGINT, SIGTERM, SIGHUP), and a later run sweeps the
//! ones a killed process (`kill -9`) left in the folders it writes to ([`sweep_stale_temps`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Prefix of this project's temporary files.
pub const TEMP_PREFIX: &str = ".clamp3-";
/// Suffix of this project's temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// `.clamp3-<pid>-`: the prefix of this process's temporary files.
pub fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

/// The temporary paths of this process that exist now.
fn live_temps() -> MutexGuard<'static, HashSet<PathBuf>> {
    static LIVE: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn remove_path(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// A temporary file or folder of this process: registered for removal on interruption while it
/// lives, removed when dropped unless [`TempGuard::keep`] was called (e.g. after it was renamed
/// into place).
#[derive(Debug)]
pub struct TempGuard {
    path: Option<PathBuf>,
}

impl TempGuard {
    /// Guards `path` (which the caller creates).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        live_temps().insert(path.clone());
        TempGuard { path: Some(path) }
    }

    /// The guarded path.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Stops guarding: the path is no longer temporary (it was moved into place).
    pub fn keep(mut self) {
        if let Some(p) = self.path.take() {
            live_temps().remove(&p);
        }
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            live_temps().remove(&p);
            remove_path(&p);
        }
    }
}

/// Removes this process's temporary files and folders, and exits with status `128 + signal`,
/// when the process receives SIGINT, SIGTERM or SIGHUP. Call once at the start of a command that
/// writes files (a long-running service that shuts down gracefully handles its own signals).
pub fn remove_temps_on_signal() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        static INSTALLED: OnceLock<()> = OnceLock::new();
        if INSTALLED.set(()).is_err() {
            return;
        }
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                for p in live_temps().drain() {
                    remove_path(&p);
                }
                std::process::exit(128 + sig);
            }
        });
    }
}

/// Whether process `pid` is running (`None` when that cannot be told on this system).
fn process_alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes from `dir` the temporary files and folders of this tool that belong to processes no
/// longer running (left by a killed run). Done once per folder per process; returns how many
/// were removed. Nothing is removed where process liveness cannot be told.
pub fn sweep_stale_temps(dir: &Path) -> usize {
    static SWEPT: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !SWEPT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key)
    {
        return 0;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && process_alive(pid) == Some(false) {
            remove_path(&e.path());
            removed += 1;
        }
    }
    removed
}

/// Makes sure `dir` exists (creating it) and that files can be created in it, by creating and
/// removing a temporary file: a job checks its output folder before doing any work.
pub fn check_writable_dir(dir: &Path) -> io::Result<()> {
    if is_stdout(dir) {
        return Err(io::Error::other("standard output is not a folder"));
    }
    let dir = resolve_symlinks(dir)?;
    fs::create_dir_all(&dir)?;
    sweep_stale_temps(&dir);
    let probe = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .suffix(TEMP_SUFFIX)
        .tempfile_in(&dir)?;
    drop(probe);
    Ok(())
}

/// True when `a` and `b` are the same file (through symlinks, `..` or hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.dev() == y.dev() && x.ino() == y.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => fs::canonicalize(a).ok() == fs::canonicalize(b).ok(),
        _ => false,
    }
}

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
        guard: TempGuard,
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
        sweep_stale_temps(dir);
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix())
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir)?;
        let guard = TempGuard::new(tmp.path());
        Ok(Output {
            inner: Inner::Temp {
                file: io::BufWriter::with_capacity(1 << 16, tmp),
                dest,
                guard,
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
            Inner::Temp { file, dest, guard } => {
                let tmp = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    tmp.as_file()
                        .set_permissions(fs::Permissions::from_mode(0o644))?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&dest).map_err(|e| e.error)?;
                guard.keep();
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
            let dir = tempfile::Builder::new().prefix(&temp_prefix()).tempdir()?;
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
    fn stale_temporary_files_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot be running (above the kernel's pid_max limit of 2^22).
        let stale = dir
            .path()
            .join(format!("{TEMP_PREFIX}99999999-abc{TEMP_SUFFIX}"));
        let ours = dir
            .path()
            .join(format!("{}keep{TEMP_SUFFIX}", temp_prefix()));
        let other = dir.path().join("user.tmp");
        for p in [&stale, &ours, &other] {
            fs::write(p, b"x").unwrap();
        }
        write_atomic(&dir.path().join("out.txt"), b"y").unwrap();
        assert!(
            !stale.exists(),
            "a dead process's temporary file is removed"
        );
        assert!(ours.exists() && other.exists(), "nothing else is touched");
    }

    #[test]
    fn same_file_sees_through_links_and_dots() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        fs::write(&a, b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(same_file(&a, &dir.path().join("sub/../a.bin")));
        #[cfg(unix)]
        {
            let l = dir.path().join("l.bin");
            std::os::unix::fs::symlink(&a, &l).unwrap();
            assert!(same_file(&a, &l));
        }
        assert!(!same_file(&a, &dir.path().join("missing")));
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
