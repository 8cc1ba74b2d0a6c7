//! A corpus of broken inputs (every format: empty, truncated, random, oversized, bombs) and
//! broken destinations (read-only, full file system, FIFO, symlink, existing file) through
//! `embed`, `convert`, `index add`, `eval` and `score`. For every run: no panic; every input is
//! either processed or named on exactly one error line; the exit status follows the rule (per-
//! input failures: 0, or 1 with `--strict`; a destination that cannot be written: 2); nothing
//! outside the output folder changes; no temporary file is left.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// A real file of each format, from the fixtures. The MP3, Ogg and M4A fixtures are shorter than
/// one MERT window (1 s): their good files fail as too short, which the checks allow.
const REAL: &[(&str, &str)] = &[
    ("txt", "fixtures/model/inputs/multilingual.txt"),
    ("abc", "fixtures/model/inputs/bach_bwv66_6.abc"),
    ("mtf", "fixtures/model/inputs/essen_han1_tune3.mtf"),
    ("mid", "fixtures/mtf/deb_pianobooster_lavenders_blue.mid"),
    (
        "xml",
        "fixtures/xml2abc/inputs/music21/demos/multiple-verses.xml",
    ),
    ("mxl", "fixtures/xml2abc/inputs/music21/bach/bwv66.6.mxl"),
    ("npy", "fixtures/model/inputs/features_long.npy"),
    ("wav", "fixtures/mert/input_24k.wav"),
    ("flac", "fixtures/audio/flac_8000_mono_long.flac"),
    ("mp3", "fixtures/audio/mp3_44100_stereo.mp3"),
    ("ogg", "fixtures/audio/ogg_44100_stereo.ogg"),
    ("m4a", "fixtures/audio/m4a_44100_stereo.m4a"),
];

/// Deterministic pseudo-random bytes.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 56) as u8
        })
        .collect()
}

/// The input corpus: for each format a good file and its broken variants; plus oversized files
/// and bombs. Returns the folder and the names of the files that cannot be embedded.
fn corpus(root: &Path) -> (PathBuf, Vec<String>) {
    let dir = root.join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut bad = Vec::new();
    for (i, (ext, real)) in REAL.iter().enumerate() {
        let bytes = std::fs::read(repo(real)).unwrap();
        std::fs::write(dir.join(format!("good.{ext}")), &bytes).unwrap();
        std::fs::write(dir.join(format!("empty.{ext}")), b"").unwrap();
        bad.push(format!("empty.{ext}"));
        // Text formats survive truncation (what is left is still text); binary ones mostly do not.
        std::fs::write(
            dir.join(format!("truncated.{ext}")),
            &bytes[..bytes.len() / 3],
        )
        .unwrap();
        if !matches!(*ext, "txt" | "abc" | "mtf") {
            std::fs::write(dir.join(format!("random.{ext}")), noise(i as u64, 4096)).unwrap();
            bad.push(format!("random.{ext}"));
        }
    }
    // Oversized: symbolic and feature files over the 64 MiB limit.
    let bar = "[V:1]abc def|\n";
    std::fs::write(
        dir.join("huge.abc"),
        bar.repeat((65 << 20) / bar.len() + 1).as_bytes(),
    )
    .unwrap();
    bad.push("huge.abc".into());
    let rows = (65 << 20) / (768 * 4) + 1;
    std::fs::write(
        dir.join("huge.npy"),
        clamp3_formats::npy::write_npy(&[1, rows, 768], &vec![0.5; rows * 768]),
    )
    .unwrap();
    bad.push("huge.npy".into());
    // Bombs: an archive member inflating to 256 MiB; a MIDI track claiming 2 GiB; a WAV
    // header claiming 4 GiB of samples.
    let st = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\
             with z.open('score.xml', 'w', force_zip64=True) as f:\n\
             \x20   block = b' ' * (1 << 20)\n\
             \x20   for _ in range(256): f.write(block)\n\
             z.close()\n",
        )
        .arg(dir.join("bomb.mxl"))
        .status()
        .unwrap();
    assert!(st.success());
    bad.push("bomb.mxl".into());
    let mut midi = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x7f\xff\xff\xff".to_vec();
    midi.extend_from_slice(&[0x00, 0x90, 0x3c, 0x40]);
    std::fs::write(dir.join("bomb.mid"), midi).unwrap();
    bad.push("bomb.mid".into());
    let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00\x10\x00data\xff\xff\xff\xff".to_vec();
    wav.extend(noise(99, 2000));
    std::fs::write(dir.join("bomb.wav"), wav).unwrap();
    bad.push("bomb.wav".into());
    // A text far larger than what the model reads: bounded, so it embeds.
    let line = "a long line of words ".repeat(50_000);
    std::fs::write(dir.join("long.txt"), line.repeat(20)).unwrap();
    (dir, bad)
}

/// Everything under `root` except the `skip` folders: path -> (type, size, inode, mtime).
fn snapshot(root: &Path, skip: &[PathBuf]) -> BTreeMap<PathBuf, (u32, u64, u64, i64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if skip.iter().any(|s| p.starts_with(s)) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p, (m.mode(), m.len(), m.ino(), m.mtime()));
        }
    }
    out
}

/// Checks one run: no panic, no temporary file, every input processed or named on exactly one
/// error line; returns stderr.
fn check_run(o: &Output, inputs: &[PathBuf], processed: impl Fn(&Path) -> bool) -> String {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{err}");
    for p in inputs {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let lines = err
            .lines()
            .filter(|l| l.trim_start().starts_with(&p.display().to_string()))
            .count();
        if processed(p) {
            assert_eq!(
                lines, 0,
                "{name} was processed, yet an error names it:\n{err}"
            );
        } else {
            assert_eq!(lines, 1, "{name}: expected one error line:\n{err}");
        }
    }
    err
}

fn inputs_of(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn no_temps(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".clamp3-"),
                "temporary file left: {}",
                e.path().display()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn broken_inputs_through_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let mert = model.join("mert");
    std::fs::create_dir_all(&mert).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(repo("fixtures/mert/tiny").join(f), mert.join(f)).unwrap();
    }
    let (dir, bad) = corpus(tmp.path());
    let inputs = inputs_of(&dir);
    let outs = tmp.path().join("outs");
    let before = snapshot(tmp.path(), std::slice::from_ref(&outs));

    // embed, npy: every good file of every kind embeds; every bad one is named once.
    let out = outs.join("embed");
    let o = clamp3()
        .args([
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--out"),
            out.as_os_str(),
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let npy_of = |p: &Path| out.join(Path::new(p.file_name().unwrap()).with_extension("npy"));
    // good.* all map to good.npy: the first one claims it, the others name the collision.
    let o2 = clamp3()
        .args([
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--keep-extension"),
        ])
        .args([os("--out"), outs.join("embed2").as_os_str()])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));
    let err = check_run(&o2, &inputs, |p| {
        let mut n = p.file_name().unwrap().to_os_string();
        n.push(".npy");
        outs.join("embed2").join(n).exists()
    });
    for b in &bad {
        assert!(err.contains(b.as_str()), "{b} is not reported:\n{err}");
    }
    for (ext, _) in REAL
        .iter()
        .filter(|(e, _)| !matches!(*e, "mp3" | "ogg" | "m4a"))
    {
        let mut n = std::ffi::OsString::from(format!("good.{ext}"));
        n.push(".npy");
        assert!(
            outs.join("embed2").join(&n).exists(),
            "good.{ext} did not embed:\n{err}"
        );
    }
    assert!(outs.join("embed2/long.txt.npy").exists());
    assert!(npy_of(&dir.join("good.txt")).exists());
    // --strict: the same outputs, status 1.
    let o = clamp3()
        .args([
            os("embed"),
            os("--strict"),
            os("--model"),
            model.as_os_str(),
        ])
        .args([
            os("--keep-extension"),
            os("--out"),
            outs.join("embed3").as_os_str(),
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // convert to abc and to mtf.
    for to in ["abc", "mtf"] {
        let out = outs.join(format!("convert-{to}"));
        let o = clamp3()
            .args([
                os("convert"),
                os("--to"),
                os(to),
                os("--out"),
                out.as_os_str(),
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let accepted: Vec<PathBuf> = inputs
            .iter()
            .filter(|p| {
                let e = p.extension().unwrap().to_str().unwrap();
                match to {
                    "mtf" => matches!(e, "mid"),
                    _ => matches!(e, "abc" | "xml" | "mxl"),
                }
            })
            .cloned()
            .collect();
        check_run(&o, &accepted, |p| {
            out.join(Path::new(p.file_name().unwrap()).with_extension(to))
                .exists()
        });
    }

    // index add: the good files are stored, the bad ones named.
    let ix = outs.join("index");
    let o = clamp3()
        .args([os("index"), os("add"), os("--index"), ix.as_os_str()])
        .args([os("--model"), model.as_os_str()])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    for b in &bad {
        assert_eq!(
            err.lines().filter(|l| l.contains(b.as_str())).count(),
            1,
            "{b}:\n{err}"
        );
    }

    // eval and score over embeddings, some broken.
    let (q, r) = (outs.join("q"), outs.join("r"));
    std::fs::create_dir_all(&q).unwrap();
    std::fs::create_dir_all(&r).unwrap();
    let vec_of = |x: f32| -> Vec<f32> { (0..24).map(|i| (i as f32 * x).cos()).collect() };
    for (name, x) in [("a", 0.3f32), ("b", 0.7), ("c", 1.1)] {
        std::fs::write(
            q.join(format!("{name}.npy")),
            clamp3_formats::npy::write_npy(&[1, 24], &vec_of(x)),
        )
        .unwrap();
        std::fs::write(
            r.join(format!("{name}.npy")),
            clamp3_formats::npy::write_npy(&[1, 24], &vec_of(x + 0.05)),
        )
        .unwrap();
    }
    std::fs::write(q.join("d.npy"), b"\x93NUMPY garbage").unwrap();
    std::fs::write(
        r.join("d.npy"),
        clamp3_formats::npy::write_npy(&[1, 24], &vec_of(2.0)),
    )
    .unwrap();
    std::fs::write(q.join("e.npy"), b"").unwrap();
    std::fs::write(
        r.join("e.npy"),
        clamp3_formats::npy::write_npy(&[1, 24], &vec_of(2.5)),
    )
    .unwrap();
    for cmd in ["eval", "score"] {
        let o = clamp3().arg(cmd).arg(&q).arg(&r).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{err}");
        for b in ["d.npy", "e.npy"] {
            assert_eq!(
                err.lines()
                    .filter(|l| l.contains(&format!("q/{b}")))
                    .count(),
                1,
                "{cmd} {b}:\n{err}"
            );
        }
    }

    // Nothing outside the output folders changed, and no temporary file is left anywhere.
    let after = snapshot(tmp.path(), std::slice::from_ref(&outs));
    assert_eq!(before, after, "files outside the output folders changed");
    no_temps(tmp.path());
}

/// A small tmpfs, when this process may mount one (root in a container that allows it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn broken_destinations_stop_the_job_and_keep_what_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let titles =
        std::fs::read_to_string(repo("fixtures/model/inputs/essen_titles_long.txt")).unwrap();
    for (i, t) in titles
        .lines()
        .filter(|l| !l.is_empty())
        .take(40)
        .enumerate()
    {
        std::fs::write(dir.join(format!("t{i:02}.txt")), t).unwrap();
    }
    let embed = |out: &Path, extra: &[&str]| -> Output {
        clamp3()
            .args([
                os("embed"),
                os("--model"),
                model.as_os_str(),
                os("--out"),
                out.as_os_str(),
            ])
            .args(extra)
            .arg(&dir)
            .output()
            .unwrap()
    };
    let fails_once = |o: &Output, what: &str| {
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
        let err = stderr(o);
        assert_eq!(err.matches("error:").count(), 1, "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    };
    // An existing file where the output folder should be: refused, and the file kept.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"precious").unwrap();
    fails_once(&embed(&file, &[]), "existing file");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    // A FIFO where the output folder should be.
    let fifo = tmp.path().join("a-fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    fails_once(&embed(&fifo, &[]), "FIFO");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    // A folder nobody can create files in, even root (a kernel pseudo file system).
    fails_once(
        &embed(Path::new("/proc/clamp3-cannot-write-here"), &[]),
        "read-only",
    );
    // A symlink to a folder: followed, the link kept.
    let real = tmp.path().join("real-out");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link-out");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = embed(&link, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(real.join("t00.npy").exists());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // Existing outputs are replaced only by complete new ones.
    let o = embed(&real, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A full disk: /dev/full for a stream; a small tmpfs for files, when it can be mounted.
    let o = clamp3()
        .args([
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--format"),
            os("jsonl"),
        ])
        .args([os("--out"), os("/dev/full")])
        .arg(&dir)
        .output()
        .unwrap();
    fails_once(&o, "/dev/full");
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    match Tmpfs::mount(&tmp.path().join("small"), "48k") {
        Some(fs) => {
            // 40 vectors of 24 floats (224 bytes each as .npy) take 40 pages of 4 KiB.
            let o = embed(&fs.0, &[]);
            fails_once(&o, "full tmpfs");
            assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
            let written: Vec<_> = std::fs::read_dir(&fs.0).unwrap().flatten().collect();
            assert!(
                !written.is_empty(),
                "some outputs were written before the disk filled"
            );
            for e in &written {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(!name.starts_with(".clamp3-"), "temporary file left: {name}");
                // Every file written is complete.
                let a = read_npy(&e.path());
                assert_eq!(a.shape, vec![1, 24], "{name}");
            }
        }
        None => eprintln!(
            "note: no tmpfs could be mounted here; the full-disk case ran on /dev/full only"
        ),
    }
    no_temps(tmp.path());
}
