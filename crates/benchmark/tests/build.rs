//! The local benchmark builder (`clamp3-benchmark`) on a real slice of the music21 corpus.
//!
//! Needs the corpus at `testdata/music21/corpus` (`scripts/benchmark/fetch_corpus.sh`) and
//! the Debian packages `abcmidi`, `fluidsynth` and `timgm6mb-soundfont`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use clamp3_benchmark::{self as benchmark, BenchmarkError, BuildOptions, Record};

fn corpus() -> PathBuf {
    let c = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/music21/corpus");
    assert!(
        c.join("essenFolksong").is_dir(),
        "{}: music21 corpus missing; run scripts/benchmark/fetch_corpus.sh",
        c.display()
    );
    c
}

fn require_tools() {
    for (tool, arg, package) in [
        ("abc2midi", "-ver", "abcmidi"),
        ("fluidsynth", "--version", "fluidsynth"),
    ] {
        assert!(
            std::process::Command::new(tool)
                .arg(arg)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok(),
            "{tool} not found: apt-get install {package}"
        );
    }
    assert!(
        Path::new(benchmark::DEFAULT_SOUNDFONT).is_file(),
        "{} missing: apt-get install timgm6mb-soundfont",
        benchmark::DEFAULT_SOUNDFONT
    );
}

/// 20 tunes from the default collections with 8 kHz audio.
fn options(out: &Path) -> BuildOptions {
    let mut o = BuildOptions::new(corpus(), out);
    o.limit = Some(20);
    o.seed = 7;
    o.audio = true;
    o.sample_rate = 8000;
    o
}

fn no_progress(_: &benchmark::Progress) {}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            m.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    m
}

/// Sample rate and data length of a PCM WAV file (fmt and data chunks).
fn wav_info(bytes: &[u8]) -> (u32, usize) {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff + 8, bytes.len(), "RIFF size");
    let mut pos = 12;
    let mut rate = 0;
    while pos + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        match &bytes[pos..pos + 4] {
            b"fmt " => rate = u32::from_le_bytes(bytes[pos + 12..pos + 16].try_into().unwrap()),
            b"data" => return (rate, size),
            _ => {}
        }
        pos += 8 + size + (size & 1);
    }
    panic!("no data chunk");
}

#[test]
fn builds_a_small_slice_with_audio_and_rebuilds_identically() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a");
    let opts = options(&out);
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let report = benchmark::build(&opts, &|p: &benchmark::Progress| {
        assert_eq!(p.target, 20);
        assert!(p.built <= 20);
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    println!("{}", report.summary());
    assert_eq!(report.built, 20);
    assert_eq!(report.considered, 20 + report.failed());
    assert_eq!(calls.into_inner(), report.considered);
    assert_eq!(report.audio_rendered, 20);
    assert_eq!(
        report.collections.len(),
        benchmark::DEFAULT_COLLECTIONS.len()
    );

    // benchmark.jsonl parses; one record per item, unique ids, every default collection
    let records = benchmark::read_records(&report.jsonl).unwrap();
    assert_eq!(records.len(), 20);
    let ids: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 20);
    for c in benchmark::DEFAULT_COLLECTIONS {
        assert!(
            records.iter().any(|r| r.collection == *c),
            "no item from {c} (round-robin selection)"
        );
    }
    let failures = std::fs::read_to_string(&report.failures).unwrap();
    assert_eq!(failures.lines().count(), report.failed());

    let patchilizer = clamp3_formats::patch::Patchilizer::new();
    for r in &records {
        // the files exist and hold what the record says
        let abc = std::fs::read_to_string(out.join(&r.abc)).unwrap();
        assert_eq!(abc, r.leadsheet, "{}", r.id);
        assert!(abc.contains("[V:1]"), "{}: not interleaved", r.id);
        patchilizer
            .encode(&abc)
            .unwrap_or_else(|e| panic!("{}: ABC does not patchilize: {e}", r.id));
        let midi = std::fs::read(out.join(&r.midi)).unwrap();
        let mtf = std::fs::read_to_string(out.join(&r.mtf)).unwrap();
        assert_eq!(
            mtf,
            clamp3_formats::mtf::midi_to_mtf(&midi).unwrap(),
            "{}: MTF is not the conversion of the MIDI",
            r.id
        );
        patchilizer
            .encode(&mtf)
            .unwrap_or_else(|e| panic!("{}: MTF does not patchilize: {e}", r.id));
        let text = std::fs::read_to_string(out.join(&r.text)).unwrap();
        assert_eq!(text, format!("{}\n", r.description));
        let wav = std::fs::read(out.join(r.audio.as_ref().unwrap())).unwrap();
        let (rate, data) = wav_info(&wav);
        assert_eq!(rate, 8000);
        assert!(data > 0);
        // file names follow the id
        for p in [&r.abc, &r.midi, &r.mtf, &r.text] {
            assert_eq!(Path::new(p).file_stem().unwrap().to_str().unwrap(), r.id);
        }
        // the source is a real tune of the corpus
        let src = std::fs::read_to_string(corpus().join(&r.source.file)).unwrap();
        assert!(src.lines().filter(|l| l.starts_with("X:")).count() >= r.source.tune);
        // the texts
        for (name, t) in [
            ("background", &r.background),
            ("analysis", &r.analysis),
            ("description", &r.description),
            ("scene", &r.scene),
        ] {
            assert!(!t.trim().is_empty(), "{}: empty {name}", r.id);
            assert!(!t.contains('\n'), "{}: {name} is not one line", r.id);
        }
        if let Some(title) = &r.title {
            assert!(r.background.contains(title.as_str()), "{}", r.id);
            assert!(
                !r.description.contains(&format!("\"{title}\"")),
                "{}: the description names the title",
                r.id
            );
        }
        if let Some(key) = &r.key {
            assert!(r.analysis.contains(&format!("K:{key}")), "{}", r.id);
        }
        assert!(
            r.bars > 0 && r.notes > 0 && r.duration_seconds > 0.0,
            "{}",
            r.id
        );
        assert!(r.analysis.contains(&format!("{} bar", r.bars)), "{}", r.id);
    }
    // the texts differ between tunes: each type has no two items alike
    for (name, field) in [
        (
            "background",
            (|r: &Record| r.background.clone()) as fn(&Record) -> String,
        ),
        ("analysis", |r: &Record| r.analysis.clone()),
        ("description", |r: &Record| r.description.clone()),
        ("scene", |r: &Record| r.scene.clone()),
    ] {
        let distinct: HashSet<String> = records.iter().map(field).collect();
        assert_eq!(distinct.len(), records.len(), "repeated {name} texts");
    }
    // and the sheet music differs too (duplicates are skipped)
    let sheets: HashSet<&str> = records.iter().map(|r| r.leadsheet.as_str()).collect();
    assert_eq!(sheets.len(), records.len());

    // determinism: the same options in another folder, one job, give the same files
    let out_b = dir.path().join("b");
    let mut opts_b = options(&out_b);
    opts_b.jobs = 1;
    benchmark::build(&opts_b, &no_progress).unwrap();
    let (ta, tb) = (tree(&out), tree(&out_b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(
            v == &tb[k],
            "{k} differs between two builds with the same seed"
        );
    }

    // re-running in place writes nothing and renders nothing
    let again = benchmark::build(&opts, &no_progress).unwrap();
    assert_eq!(again.files_written, 0);
    assert_eq!(again.audio_rendered, 0);
    assert_eq!(again.audio_reused, 20);
    assert_eq!(again.removed_stale, 0);
    assert_eq!(tree(&out), ta);

    // a damaged WAV is rendered again
    let first_wav = out.join(records[0].audio.as_ref().unwrap());
    let bytes = std::fs::read(&first_wav).unwrap();
    std::fs::write(&first_wav, &bytes[..bytes.len() / 2]).unwrap();
    let repaired = benchmark::build(&opts, &no_progress).unwrap();
    assert_eq!(repaired.audio_rendered, 1);
    assert_eq!(std::fs::read(&first_wav).unwrap(), bytes);

    // another seed selects other tunes
    let out_c = dir.path().join("c");
    let mut opts_c = options(&out_c);
    opts_c.seed = 8;
    opts_c.audio = false;
    let rc = benchmark::build(&opts_c, &no_progress).unwrap();
    let records_c = benchmark::read_records(&rc.jsonl).unwrap();
    assert!(records_c.iter().all(|r| r.audio.is_none()));
    assert!(!out_c.join("audio").exists());
    let ids_c: HashSet<&str> = records_c.iter().map(|r| r.id.as_str()).collect();
    assert_ne!(ids, ids_c);
}

#[test]
fn a_smaller_rebuild_prunes_the_stale_files() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = BuildOptions::new(corpus(), dir.path());
    opts.collections = vec!["oneills1850".into(), "essenFolksong".into()];
    opts.limit = Some(12);
    benchmark::build(&opts, &no_progress).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("abc")).unwrap().count(),
        12
    );
    opts.limit = Some(5);
    let r = benchmark::build(&opts, &no_progress).unwrap();
    assert_eq!(r.built, 5);
    // the first 5 of the same order: only the 7 others' four files go
    assert_eq!(r.removed_stale, 7 * 4);
    for sub in ["abc", "midi", "mtf", "text"] {
        assert_eq!(
            std::fs::read_dir(dir.path().join(sub)).unwrap().count(),
            5,
            "{sub}"
        );
    }
    let manifest: benchmark::Manifest =
        serde_json::from_slice(&std::fs::read(&r.manifest).unwrap()).unwrap();
    assert_eq!(manifest.built, 5);
    assert_eq!(manifest.limit, Some(5));
}

#[test]
fn errors_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-corpus");
    let e = benchmark::build(&BuildOptions::new(&missing, dir.path()), &no_progress).unwrap_err();
    assert!(matches!(e, BenchmarkError::CorpusNotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("no-corpus") && msg.contains("fetch_corpus.sh"),
        "{msg}"
    );

    let mut opts = BuildOptions::new(corpus(), dir.path().join("out"));
    opts.abc2midi = dir.path().join("bin/abc2midi");
    let e = benchmark::build(&opts, &no_progress).unwrap_err();
    assert!(
        matches!(
            e,
            BenchmarkError::ToolMissing {
                tool: "abc2midi",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("apt-get install abcmidi"), "{e}");

    let mut opts = BuildOptions::new(corpus(), dir.path().join("out"));
    opts.audio = true;
    opts.fluidsynth = dir.path().join("bin/fluidsynth");
    opts.soundfont = Some(dir.path().join("none.sf2"));
    let e = benchmark::build(&opts, &no_progress).unwrap_err();
    assert!(matches!(e, BenchmarkError::SoundfontNotFound { .. }), "{e}");
    assert!(e.to_string().contains("none.sf2"), "{e}");
    if Path::new(benchmark::DEFAULT_SOUNDFONT).is_file() {
        opts.soundfont = None;
        let e = benchmark::build(&opts, &no_progress).unwrap_err();
        assert!(e.to_string().contains("apt-get install fluidsynth"), "{e}");
    }

    let mut opts = BuildOptions::new(corpus(), dir.path().join("out"));
    opts.collections = vec!["bach".into()]; // MusicXML only, no .abc
    let e = benchmark::build(&opts, &no_progress).unwrap_err();
    assert!(
        matches!(e, BenchmarkError::CollectionNotFound { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("bach"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_tool_that_keeps_failing_stops_the_build_with_its_output() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    // A fluidsynth that starts but fails on every file, as a broken install or soundfont would.
    let fake = dir.path().join("fluidsynth");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in --version) exit 0;; esac\necho 'fluidsynth: error: soundfont is broken' >&2\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut opts = options(&dir.path().join("out"));
    opts.audio = true;
    opts.fluidsynth = fake;
    opts.limit = Some(40);
    let t = std::time::Instant::now();
    let e = benchmark::build(&opts, &no_progress).unwrap_err();
    match &e {
        BenchmarkError::ToolFailing { tool, count, last } => {
            assert_eq!(*tool, "fluidsynth");
            assert!(*count >= 8, "{count}");
            assert!(last.contains("soundfont is broken"), "{last}");
        }
        other => panic!("expected ToolFailing, got {other}"),
    }
    assert!(t.elapsed().as_secs() < 60, "it stops early");
}

/// Builds a set from the environment and prints the counts (for measuring; not part of
/// the normal test run):
/// `CLAMP3_BENCH_OUT=/tmp/bench CLAMP3_BENCH_LIMIT=500 CLAMP3_BENCH_AUDIO=1 cargo test
/// --release -p clamp3 --test benchmark -- --ignored --nocapture`
/// (also `CLAMP3_BENCH_SEED`, `CLAMP3_BENCH_RATE`, `CLAMP3_BENCH_SOUNDFONT`,
/// `CLAMP3_BENCH_CORPUS`).
#[test]
#[ignore]
fn build_from_environment() {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let corpus = env("CLAMP3_BENCH_CORPUS").map_or_else(corpus, PathBuf::from);
    let out = env("CLAMP3_BENCH_OUT").expect("set CLAMP3_BENCH_OUT");
    let mut opts = BuildOptions::new(corpus, out);
    opts.limit = env("CLAMP3_BENCH_LIMIT").map(|v| v.parse().unwrap());
    opts.seed = env("CLAMP3_BENCH_SEED").map_or(0, |v| v.parse().unwrap());
    opts.audio = env("CLAMP3_BENCH_AUDIO").is_some_and(|v| v != "0");
    if let Some(r) = env("CLAMP3_BENCH_RATE") {
        opts.sample_rate = r.parse().unwrap();
    }
    opts.soundfont = env("CLAMP3_BENCH_SOUNDFONT").map(PathBuf::from);
    let last = std::sync::Mutex::new(std::time::Instant::now());
    let report = benchmark::build(&opts, &|p: &benchmark::Progress| {
        let mut l = last.lock().unwrap();
        if l.elapsed().as_secs() >= 10 {
            *l = std::time::Instant::now();
            eprintln!(
                "{}/{} built, {} tried, {} failed",
                p.built, p.target, p.considered, p.failed
            );
        }
    })
    .unwrap();
    print!("{}", report.summary());
}
