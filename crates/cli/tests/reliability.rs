//! The layer around the parsers, tried as a user would and attacked: what the tool writes never
//! replaces what the user pointed at, temporary files do not outlive the process, memory stays
//! bounded, one exit-status rule holds for every command, errors are printed once, outputs of
//! different inputs never collide silently, nothing panics, numbers can be trusted, and indexes
//! move with the user. Each test reproduces one defect found by that review.

#![cfg(unix)]

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{e}");
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// The files of a folder whose names start with this tool's temporary prefix.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".clamp3-"))
        .collect()
}

#[test]
fn outputs_write_into_devices_fifos_and_symlinks_without_replacing_them() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let text = repo("fixtures/model/inputs/en_reel.txt");
    let embed_jsonl = |out: &Path| {
        run(&[
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--format"),
            os("jsonl"),
            os("--out"),
            out.as_os_str(),
            text.as_os_str(),
        ])
    };
    // A character device.
    let o = embed_jsonl(Path::new("/dev/null"));
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(m.file_type().is_char_device(), "/dev/null was replaced");
    // A FIFO: the reader gets the lines, the FIFO stays a FIFO.
    let fifo = tmp.path().join("pipe.jsonl");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let o = embed_jsonl(&fifo);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = reader.join().unwrap();
    assert!(got.contains("\"embedding\""), "{got}");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    // A symlink: followed, and it stays a link.
    let target = tmp.path().join("real.jsonl");
    std::fs::write(&target, "old").unwrap();
    let link = tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = embed_jsonl(&link);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .contains("\"embedding\""));
    // `-` is standard output.
    let o = embed_jsonl(Path::new("-"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"embedding\""));

    // eval --out and probe predict --out, and convert-weights, into /dev/null too.
    let (q, r) = (tmp.path().join("q"), tmp.path().join("r"));
    write_vec(&q.join("a.npy"), &[1.0, 0.0]);
    write_vec(&q.join("b.npy"), &[0.0, 1.0]);
    write_vec(&r.join("a.npy"), &[1.0, 0.1]);
    write_vec(&r.join("b.npy"), &[0.1, 1.0]);
    let o = run(&[
        os("eval"),
        q.as_os_str(),
        r.as_os_str(),
        os("--out"),
        os("/dev/null"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        os("eval"),
        q.as_os_str(),
        r.as_os_str(),
        os("--out"),
        os("-"),
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"rank\""));
    let probe = tmp.path().join("probe.json");
    std::fs::write(
        &probe,
        r#"{"labels":["a","b"],"dim":2,"weight":[1,0,0,1],"bias":[0,0],"eval":null}"#,
    )
    .unwrap();
    let o = run(&[
        os("probe"),
        os("predict"),
        os("--probe"),
        probe.as_os_str(),
        os("--out"),
        os("/dev/null"),
        q.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        os("convert-weights"),
        repo("fixtures/model/mini/model.pth").as_os_str(),
        os("/dev/null"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(m.file_type().is_char_device(), "/dev/null was replaced");
    assert!(temps(tmp.path()).is_empty(), "{:?}", temps(tmp.path()));
}

#[test]
fn convert_weights_refuses_to_overwrite_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let pth = tmp.path().join("model.pth");
    std::fs::copy(repo("fixtures/model/mini/model.pth"), &pth).unwrap();
    let before = std::fs::read(&pth).unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    let link = tmp.path().join("alias.pth");
    std::os::unix::fs::symlink(&pth, &link).unwrap();
    for out in [
        pth.clone(),
        tmp.path().join("sub/../model.pth"),
        link.clone(),
    ] {
        let o = run(&[os("convert-weights"), pth.as_os_str(), out.as_os_str()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("checkpoint being read"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            std::fs::read(&pth).unwrap(),
            before,
            "the checkpoint was kept"
        );
    }
}

/// Starts `embed --format jsonl` on a FIFO input that never gets a writer: the job blocks on
/// reading it with its output's temporary file open.
fn blocked_embed(tmp: &Path, model: &Path, out: &Path) -> std::process::Child {
    let fifo = tmp.join("never.txt");
    if !fifo.exists() {
        mkfifo(&fifo);
    }
    let child = clamp3()
        .args([os("embed"), os("--model"), model.as_os_str()])
        .args([os("--format"), os("jsonl"), os("--out"), out.as_os_str()])
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until its temporary file exists (the output is opened before any work).
    let dir = out.parent().unwrap();
    for _ in 0..600 {
        if !temps(dir).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!temps(dir).is_empty(), "no temporary file appeared");
    child
}

#[test]
fn no_temporary_file_survives_an_interrupt_or_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    // SIGINT: cleaned up on the signal.
    let mut child = blocked_embed(tmp.path(), &model, &outdir.join("a.jsonl"));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(temps(&outdir).is_empty(), "{:?}", temps(&outdir));
    assert!(!outdir.join("a.jsonl").exists());
    // kill -9: nothing can run, so the next run in that folder sweeps what is left.
    let mut child = blocked_embed(tmp.path(), &model, &outdir.join("b.jsonl"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(temps(&outdir).len(), 1);
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--format"),
        os("jsonl"),
        os("--out"),
        outdir.join("c.jsonl").as_os_str(),
        repo("fixtures/model/inputs/en_reel.txt").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(temps(&outdir).is_empty(), "{:?}", temps(&outdir));
}

/// Peak resident memory of a finished child, from the kernel (`wait4`, which also reaps it).
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&OsStr]) -> (std::process::ExitStatus, u64) {
    use std::os::unix::process::ExitStatusExt;
    let child = clamp3()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0i32;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (
        std::process::ExitStatus::from_raw(status),
        usage.ru_maxrss as u64 * 1024,
    )
}

#[test]
fn memory_stays_flat_for_huge_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let mut peaks = Vec::new();
    for mb in [1usize, 100] {
        // One line with no newline (the worst case), and many distinct lines.
        for kind in ["line", "lines"] {
            let p = tmp.path().join(format!("{kind}-{mb}mb.txt"));
            let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
            use std::io::Write;
            let mut written = 0;
            let mut i = 0u64;
            while written < mb << 20 {
                let piece = if kind == "line" {
                    format!("word{} ", i % 1000)
                } else {
                    format!("line {i} of a very long text\n")
                };
                f.write_all(piece.as_bytes()).unwrap();
                written += piece.len();
                i += 1;
            }
            drop(f);
            let (status, rss) = run_measured(&[
                os("embed"),
                os("--model"),
                model.as_os_str(),
                os("--format"),
                os("jsonl"),
                os("--out"),
                os("/dev/null"),
                p.as_os_str(),
            ]);
            assert!(status.success(), "{kind} {mb} MB: {status}");
            peaks.push((kind, mb, rss));
        }
    }
    eprintln!("peak RSS: {peaks:?}");
    for kind in ["line", "lines"] {
        let at = |mb| {
            peaks
                .iter()
                .find(|(k, m, _)| *k == kind && *m == mb)
                .unwrap()
                .2
        };
        // 100 times the input, the same memory (within 64 MiB of allocator noise): nothing
        // past what the model reads is held.
        assert!(
            at(100) < at(1) + (64 << 20),
            "{kind}: 1 MB {} bytes, 100 MB {} bytes",
            at(1),
            at(100)
        );
    }
}

#[test]
fn an_mxl_bomb_is_refused_before_it_is_inflated() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    // A zip archive whose one member inflates to 1 GiB of zeros (about 1 MB compressed).
    let bomb = tmp.path().join("bomb.mxl");
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\
             with z.open('score.xml', 'w', force_zip64=True) as f:\n\
             \x20   block = b'\\0' * (1 << 20)\n\
             \x20   for _ in range(1024): f.write(block)\n\
             z.close()\n",
        )
        .arg(&bomb)
        .status()
        .unwrap();
    assert!(status.success());
    let (status, rss) = run_measured(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--out"),
        tmp.path().join("out").as_os_str(),
        bomb.as_os_str(),
    ]);
    assert!(
        status.success(),
        "a bad input is listed, not fatal: {status}"
    );
    assert!(rss < 512 << 20, "peak RSS {rss} bytes");
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--out"),
        tmp.path().join("out").as_os_str(),
        bomb.as_os_str(),
    ]);
    assert!(stderr(&o).contains("over the limit"), "{}", stderr(&o));
}

#[test]
fn one_exit_status_rule_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        dir.join("reel.txt"),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/bach_bwv66_6.abc"),
        dir.join("bach.abc"),
    )
    .unwrap();
    std::fs::write(dir.join("bad.mid"), b"MThd nope").unwrap();
    let out = tmp.path().join("out");
    let embed = |extra: &[&OsStr]| {
        let mut a = vec![
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--out"),
            out.as_os_str(),
        ];
        a.extend_from_slice(extra);
        a.push(dir.as_os_str());
        run(&a)
    };
    // A bad file: listed, exit 0; with --strict, exit 1.
    let o = embed(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.mid"));
    assert!(out.join("reel.npy").exists() && out.join("bach.npy").exists());
    assert_eq!(embed(&[os("--strict")]).status.code(), Some(1));
    // The same rule for classify and convert.
    let o = run(&[
        os("classify"),
        os("--model"),
        model.as_os_str(),
        os("--labels"),
        os("jazz,folk"),
        dir.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[
        os("classify"),
        os("--strict"),
        os("--model"),
        model.as_os_str(),
        os("--labels"),
        os("jazz,folk"),
        dir.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let conv = tmp.path().join("conv");
    let o = run(&[
        os("convert"),
        os("--to"),
        os("mtf"),
        os("--out"),
        conv.as_os_str(),
        dir.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.mid"), "{}", stderr(&o));
    // MERT missing for some inputs: only those fail; for all inputs: the job stops at once.
    let audio = tmp.path().join("mixed");
    std::fs::create_dir_all(&audio).unwrap();
    std::fs::copy(repo("fixtures/mert/input_24k.wav"), audio.join("song.wav")).unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        audio.join("notes.txt"),
    )
    .unwrap();
    let nowhere = tmp.path().join("no-mert");
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--mert"),
        nowhere.as_os_str(),
        os("--out"),
        tmp.path().join("o2").as_os_str(),
        audio.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(tmp.path().join("o2/notes.npy").exists());
    assert!(stderr(&o).contains("song.wav"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("clamp3 download mert"),
        "the hint: {}",
        stderr(&o)
    );
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--mert"),
        nowhere.as_os_str(),
        os("--out"),
        tmp.path().join("o3").as_os_str(),
        audio.join("song.wav").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("error:").count(), 1, "{}", stderr(&o));
    // A destination that cannot be written stops the job with one message.
    let ro = tmp.path().join("readonly");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let writable = std::fs::write(ro.join("probe"), b"").is_ok(); // root ignores permissions
    if !writable {
        let o = embed_to(&model, &ro, &dir);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
    }
    // A full disk (the kernel's /dev/full): stops, non-zero, one message.
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--format"),
        os("jsonl"),
        os("--out"),
        os("/dev/full"),
        dir.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    no_panic(&o);
}

fn embed_to(model: &Path, out: &Path, input: &Path) -> Output {
    run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--out"),
        out.as_os_str(),
        input.as_os_str(),
    ])
}

#[test]
fn per_file_errors_are_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let bad = tmp.path().join("broken.mid");
    std::fs::write(&bad, b"MThd\x00\x00\x00\x06\x00\x01").unwrap();
    let o = embed_to(&model, &tmp.path().join("out"), &bad);
    let e = stderr(&o);
    let lines: Vec<&str> = e.lines().filter(|l| l.contains("broken.mid")).collect();
    assert_eq!(lines.len(), 1, "{e}");
    // No sentence repeated inside the line.
    let parts: Vec<&str> = lines[0].split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(p),
            "repeated `{p}` in {}",
            lines[0]
        );
    }
}

#[test]
fn outputs_of_different_inputs_never_collide_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let dir = tmp.path().join("music");
    std::fs::create_dir_all(&dir).unwrap();
    // A failed file does not claim its output name.
    std::fs::write(dir.join("song.abc"), b"").unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        dir.join("song.txt"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = embed_to(&model, &out, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("song.npy").exists(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("already written"), "{}", stderr(&o));
    // Two good files with one stem: the second is named, with the way out.
    std::fs::copy(
        repo("fixtures/model/inputs/bach_bwv66_6.abc"),
        dir.join("song.abc"),
    )
    .unwrap();
    let o = embed_to(&model, &tmp.path().join("out2"), &dir);
    assert!(stderr(&o).contains("already written"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--keep-extension"), "{}", stderr(&o));
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--keep-extension"),
        os("--out"),
        tmp.path().join("out3").as_os_str(),
        dir.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tmp.path().join("out3/song.abc.npy").exists());
    assert!(tmp.path().join("out3/song.txt.npy").exists());
    // An output folder inside the input folder is not read back as input.
    std::fs::remove_file(dir.join("song.abc")).unwrap();
    for _ in 0..2 {
        let o = embed_to(&model, &dir.join("embeddings"), &dir);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("embedded 1 input(s)"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("failed"), "{}", stderr(&o));
    }
}

#[test]
fn nothing_panics_on_closed_stdout_bad_probes_or_bad_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    // A reader that goes away at once (`| head -0`): the tool ends quietly.
    for args in [
        vec![os("info"), os("--model"), model.as_os_str()],
        vec![
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--format"),
            os("jsonl"),
            os("--out"),
            os("-"),
            repo("fixtures/model/inputs/multilingual.txt").as_os_str(),
        ],
    ] {
        let mut child = clamp3()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
    }
    // Probes with no labels or mis-sized weights.
    let q = tmp.path().join("q");
    write_vec(&q.join("a.npy"), &[1.0, 0.0]);
    for bad in [
        r#"{"labels":[],"dim":2,"weight":[],"bias":[],"eval":null}"#,
        r#"{"labels":["a","b"],"dim":2,"weight":[1,0],"bias":[0,0],"eval":null}"#,
    ] {
        let p = tmp.path().join("bad-probe.json");
        std::fs::write(&p, bad).unwrap();
        let o = run(&[
            os("probe"),
            os("predict"),
            os("--probe"),
            p.as_os_str(),
            q.as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("not a usable probe"), "{}", stderr(&o));
        no_panic(&o);
    }
    // Every numeric flag is checked when parsed.
    let d = tmp.path().to_path_buf();
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![
            os("probe"),
            os("train"),
            os("--data"),
            d.as_os_str(),
            os("--out"),
            os("p.json"),
            os("--lr"),
            os("nan"),
        ],
        vec![
            os("probe"),
            os("train"),
            os("--data"),
            d.as_os_str(),
            os("--out"),
            os("p.json"),
            os("--eval-share"),
            os("1.5"),
        ],
        vec![
            os("probe"),
            os("train"),
            os("--data"),
            d.as_os_str(),
            os("--out"),
            os("p.json"),
            os("--epochs"),
            os("0"),
        ],
        vec![
            os("embed"),
            os("--model"),
            model.as_os_str(),
            os("--out"),
            d.as_os_str(),
            os("--batch"),
            os("0"),
            d.as_os_str(),
        ],
        vec![
            os("search"),
            os("--index"),
            d.as_os_str(),
            os("-k"),
            os("0"),
            os("x"),
        ],
        vec![
            os("index"),
            os("add"),
            os("--index"),
            d.as_os_str(),
            os("--model"),
            model.as_os_str(),
            os("--batch"),
            os("0"),
            d.as_os_str(),
        ],
    ];
    for args in cases {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid value"),
            "{args:?}: {}",
            stderr(&o)
        );
        no_panic(&o);
    }
}

#[test]
fn eval_and_score_refuse_vectors_that_cannot_be_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let (q, r) = (tmp.path().join("q"), tmp.path().join("r"));
    let v = |x: f32| -> Vec<f32> { (0..768).map(|i| ((i as f32) * x).sin()).collect() };
    for (name, x) in [("a", 0.1), ("b", 0.2), ("c", 0.3)] {
        write_vec(&q.join(format!("{name}.npy")), &v(x));
        write_vec(&r.join(format!("{name}.npy")), &v(x + 0.01));
    }
    // A NaN vector and a vector of another size, each with a counterpart.
    let mut nan = v(0.4);
    nan[7] = f32::NAN;
    write_vec(&q.join("d.npy"), &nan);
    write_vec(&r.join("d.npy"), &v(0.41));
    write_vec(&q.join("e.npy"), &v(0.5)[..48]);
    write_vec(&r.join("e.npy"), &v(0.51));
    let o = run(&[os("eval"), q.as_os_str(), r.as_os_str()]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(err.contains("d.npy") && err.contains("NaN"), "{err}");
    assert!(err.contains("e.npy") && err.contains("size 48"), "{err}");
    assert!(!out.contains("inf") && !out.contains("NaN"), "{out}");
    assert!(out.contains("Total query features: 3"), "{out}");
    let o = run(&[os("score"), q.as_os_str(), r.as_os_str()]);
    let err = stderr(&o);
    assert!(err.contains("d.npy") && err.contains("e.npy"), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("(3 pairs)"));
}

#[test]
fn indexes_move_with_the_user() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("col");
    std::fs::create_dir_all(&col).unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        col.join("reel.txt"),
    )
    .unwrap();
    // A file whose name is not UTF-8.
    let odd = col.join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
    std::fs::copy(repo("fixtures/model/inputs/multilingual.txt"), &odd).unwrap();
    // Built from the temporary folder with relative paths...
    let o = clamp3()
        .current_dir(tmp.path())
        .args([
            "index",
            "add",
            "--index",
            "lib",
            "--model",
            "tiny-model",
            "col",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 added"), "{}", stderr(&o));
    // ...searched from elsewhere, without --model.
    let o = clamp3()
        .current_dir("/")
        .arg("search")
        .arg("--index")
        .arg(tmp.path().join("lib"))
        .arg("a reel")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A converted copy of the model has the same id: accepted.
    let conv = tmp.path().join("converted");
    std::fs::create_dir_all(&conv).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(f), conv.join(f)).unwrap();
    }
    let o = run(&[
        os("convert-weights"),
        model.join("model.safetensors").as_os_str(),
        conv.join("weights.safetensors").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        os("search"),
        os("--index"),
        tmp.path().join("lib").as_os_str(),
        os("--model"),
        conv.as_os_str(),
        os("a reel"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Prune keeps every file that exists, the non-UTF-8 one included.
    let o = run(&[
        os("index"),
        os("prune"),
        os("--index"),
        tmp.path().join("lib").as_os_str(),
    ]);
    assert!(stderr(&o).contains("removed 0 entries"), "{}", stderr(&o));
    std::fs::remove_file(&odd).unwrap();
    let o = run(&[
        os("index"),
        os("prune"),
        os("--index"),
        tmp.path().join("lib").as_os_str(),
    ]);
    assert!(stderr(&o).contains("removed 1 entry"), "{}", stderr(&o));
}

use std::os::unix::ffi::OsStrExt;

#[test]
fn concurrent_index_adds_report_honest_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("col");
    std::fs::create_dir_all(&col).unwrap();
    let titles =
        std::fs::read_to_string(repo("fixtures/model/inputs/essen_titles_long.txt")).unwrap();
    for (i, t) in titles
        .lines()
        .filter(|l| !l.is_empty())
        .take(60)
        .enumerate()
    {
        std::fs::write(col.join(format!("t{i:02}.txt")), t).unwrap();
    }
    let n = std::fs::read_dir(&col).unwrap().count();
    let ix = tmp.path().join("lib");
    // Create the index first, so both writers open the same one.
    let one = col.join("t00.txt");
    let o = run(&[
        os("index"),
        os("add"),
        os("--index"),
        ix.as_os_str(),
        os("--model"),
        model.as_os_str(),
        one.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let spawn = || {
        clamp3()
            .args([os("index"), os("add"), os("--index"), ix.as_os_str()])
            .args([
                os("--model"),
                model.as_os_str(),
                os("--commit-every"),
                os("4"),
            ])
            .arg(&col)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let added = |o: &Output| -> usize {
        let e = stderr(o);
        let at = e.find(" added").unwrap_or_else(|| panic!("{e}"));
        e[..at].rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(a.status.success() && b.status.success());
    // Every file but the first is added exactly once, by one writer or the other.
    assert_eq!(
        added(&a) + added(&b),
        n - 1,
        "{} / {}",
        stderr(&a),
        stderr(&b)
    );
}

#[test]
fn first_run_conveniences() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    // Literal text.
    let o = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--format"),
        os("jsonl"),
        os("--out"),
        os("-"),
        os("--text"),
        os("a lively Irish reel"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["path"], "text-1");
    // The same vector as a .txt file holding the text.
    let f = tmp.path().join("q.txt");
    std::fs::write(&f, "a lively Irish reel").unwrap();
    let o2 = run(&[
        os("embed"),
        os("--model"),
        model.as_os_str(),
        os("--format"),
        os("jsonl"),
        os("--out"),
        os("-"),
        f.as_os_str(),
    ]);
    let w: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o2.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["embedding"], w["embedding"]);
    // A query that looks like a missing file: searched as text, with a warning.
    let ix = tmp.path().join("lib");
    let o = run(&[
        os("index"),
        os("add"),
        os("--index"),
        ix.as_os_str(),
        os("--model"),
        model.as_os_str(),
        f.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[
        os("search"),
        os("--index"),
        ix.as_os_str(),
        os("songs/missing.mid"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: no file songs/missing.mid"),
        "{}",
        stderr(&o)
    );
    // Offline, the download says where each file comes from and where it goes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hub = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let o = clamp3()
        .env("CLAMP3_HUB_URL", &hub)
        .env("CLAMP3_HOME", tmp.path().join("cache"))
        .args(["download", "saas"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("by hand"), "{e}");
    assert!(
        e.contains("/sander-wood/clamp3/resolve/main/weights_clamp3_saas"),
        "{e}"
    );
    assert!(
        e.contains("/FacebookAI/xlm-roberta-base/resolve/main/tokenizer.json"),
        "{e}"
    );
}
