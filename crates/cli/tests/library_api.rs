//! The request-level library API against the command-line tool: the same inputs, given as bytes
//! to `Embedder::prepare` + `Embedder::embed_batch` from 8 threads at once, give the vectors
//! `clamp3 embed` writes; and the errors say whose fault they are.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clamp3::{
    Cause, Device, EmbedError, EmbedOptions, Embedder, Fault, Input, InputCause, InputKind,
    Modality, SystemCause,
};
use common::{clamp3, cosine, repo, tiny_model_dir};

/// One input of every kind: texts, interleaved and standard ABC, MTF, MIDI, MusicXML (plain
/// and compressed), MERT features and a recording.
fn inputs() -> Vec<PathBuf> {
    [
        "fixtures/model/inputs/en_reel.txt",
        "fixtures/model/inputs/multilingual.txt",
        "fixtures/model/inputs/essen_titles_long.txt",
        "fixtures/model/inputs/bach_bwv66_6.abc",
        "fixtures/model/inputs/beethoven_op18no1_mvmt1.abc",
        "fixtures/model/inputs/openttd_boogi_marabi.mtf",
        "fixtures/mtf/deb_pianobooster_lavenders_blue.mid",
        "fixtures/xml2abc/inputs/music21/demos/multiple-verses.xml",
        "fixtures/xml2abc/inputs/music21/bach/bwv66.6.mxl",
        "fixtures/model/inputs/features_long.npy",
        "fixtures/model/inputs/features_short.npy",
        "fixtures/mert/input_24k.wav",
    ]
    .iter()
    .map(|p| repo(p))
    .collect()
}

/// A tiny model directory with the tiny MERT in its `mert/` folder.
fn model_with_mert(dir: &Path) -> PathBuf {
    let m = tiny_model_dir(dir);
    let mert = m.join("mert");
    std::fs::create_dir_all(&mert).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(repo("fixtures/mert/tiny").join(f), mert.join(f)).unwrap();
    }
    m
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn bytes_from_eight_threads_embed_like_the_cli() {
    assert_send_sync::<Embedder>();
    assert_send_sync::<clamp3::Library>();
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_mert(tmp.path());
    let files = inputs();

    // The command-line tool's vectors.
    let out = tmp.path().join("cli.jsonl");
    let o = clamp3()
        .args(["embed", "--format", "jsonl", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: std::collections::HashMap<String, Vec<f32>> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let e: Vec<f32> = v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (v["path"].as_str().unwrap().to_string(), e)
        })
        .collect();
    assert_eq!(cli.len(), files.len());

    // The library, loaded once, shared by 8 threads; each prepares every input from its bytes
    // and embeds them all in one batch (in a different order per thread).
    let kinds: Vec<InputKind> = files.iter().map(|f| InputKind::of(f).unwrap()).collect();
    let embedder = Arc::new(Embedder::for_kinds(&model, &kinds, None, &Device::Cpu).unwrap());
    let contents: Arc<Vec<(InputKind, Vec<u8>)>> = Arc::new(
        files
            .iter()
            .zip(&kinds)
            .map(|(f, k)| (*k, std::fs::read(f).unwrap()))
            .collect(),
    );
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (e, c) = (embedder.clone(), contents.clone());
            std::thread::spawn(move || {
                let mut order: Vec<usize> = (0..c.len()).collect();
                order.rotate_left(t % c.len());
                let prepared: Vec<_> = order
                    .iter()
                    .map(|&i| {
                        let (kind, bytes) = &c[i];
                        e.prepare(&Input::bytes(*kind, bytes.clone())).unwrap()
                    })
                    .collect();
                let vectors = e.embed_batch(&prepared, &EmbedOptions::default());
                order
                    .into_iter()
                    .zip(vectors)
                    .map(|(i, v)| (i, v.unwrap().into_global().unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut worst = 1.0f64;
    for t in threads {
        for (i, v) in t.join().unwrap() {
            let want = &cli[files[i].to_str().unwrap()];
            let c = cosine(&v, want);
            worst = worst.min(c);
            assert!(c >= 0.999_999, "{}: cosine {c}", files[i].display());
            let max_abs = v
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(max_abs <= 1e-5, "{}: max abs {max_abs}", files[i].display());
        }
    }
    eprintln!("worst cosine library vs CLI: {worst}");
}

#[test]
fn bad_inputs_and_system_failures_are_different_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    // Only the symbolic encoder is loaded, and no MERT.
    let e = Embedder::load(&model, &[Modality::Symbolic], &Device::Cpu).unwrap();
    let bad_midi = Input::bytes(InputKind::Midi, b"MThd garbage".to_vec());
    let text = Input::Text("a lively Irish reel".into());
    let recording = Input::path(repo("fixtures/mert/input_24k.wav"));
    let good = Input::path(repo("fixtures/model/inputs/bach_bwv66_6.abc"));
    let out = e.embed(
        &[bad_midi.clone(), text.clone(), recording, good],
        &EmbedOptions::default(),
    );
    match &out[0] {
        Err(EmbedError::Input(err)) => {
            assert!(matches!(err.cause, InputCause::Midi(_)), "{err}");
            assert_eq!(err.input, clamp3::InputRef::Item(0));
        }
        other => panic!("a broken MIDI file is the input's fault: {other:?}"),
    }
    match &out[1] {
        Err(
            err @ EmbedError::System {
                cause: SystemCause::NotLoaded(Modality::Text),
                ..
            },
        ) => assert_eq!(err.fault(), Fault::System),
        other => panic!("text without the text encoder is the system's fault: {other:?}"),
    }
    assert!(
        matches!(
            &out[2],
            Err(EmbedError::System {
                cause: SystemCause::NotLoaded(Modality::Audio),
                ..
            })
        ),
        "{:?}",
        out[2]
    );
    assert!(out[3].is_ok(), "a good input in the same call still embeds");
    assert_eq!(out[0].as_ref().unwrap_err().fault(), Fault::Input);
    // The two stages report the same way.
    assert!(matches!(e.prepare(&bad_midi), Err(Cause::Input(_))));
    assert!(matches!(
        e.prepare(&text),
        Err(Cause::System(SystemCause::NotLoaded(Modality::Text)))
    ));
    // No library message names a command-line flag or subcommand.
    for r in &out {
        if let Err(err) = r {
            let msg = err.to_string();
            assert!(!msg.contains("--") && !msg.contains("clamp3 "), "{msg}");
        }
    }
}
