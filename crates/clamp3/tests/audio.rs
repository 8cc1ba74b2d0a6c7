//! Audio end to end: decode, resample, normalise, MERT, the CLaMP 3 audio encoder. A small MERT
//! (fixtures/mert/tiny, transformers' HuBERT in the MERT configuration) and a small CLaMP 3 with
//! synthetic weights; MERT features checked against the PyTorch goldens.

use std::path::{Path, PathBuf};

use clamp3::audio::{AudioSource, Features, Recording};
use clamp3::mert::FeatureExtractor;
use clamp3::{Device, EmbedError, EmbedOptions, Embedder, Embedding, SystemCause};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Parts};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn embedder(with_mert: bool) -> Embedder {
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap(),
    )
    .unwrap();
    let model = Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
    let mut e = Embedder::from_parts(model, None).unwrap();
    if with_mert {
        let m = FeatureExtractor::load(&repo("fixtures/mert/tiny"), &Device::Cpu).unwrap();
        e.set_mert(m).unwrap();
    }
    e
}

/// MERT features of a recording file, through the embedder's MERT.
fn features_of(e: &Embedder, path: &Path) -> Features {
    let rec = Recording::open(&AudioSource::path(path)).unwrap();
    e.mert().unwrap().extract(&rec, 2).unwrap()
}

fn golden_features() -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(repo("fixtures/mert/goldens.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("tiny/features").unwrap();
    (
        t.shape().to_vec(),
        t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn recording_to_mert_features_matches_the_reference() {
    let e = embedder(true);
    let f = features_of(&e, &repo("fixtures/mert/input_24k.wav"));
    let (shape, want) = golden_features();
    assert_eq!(vec![1, f.rows, f.dim], shape);
    for (i, (a, b)) in f.data.chunks(32).zip(want.chunks(32)).enumerate() {
        let c = cosine(a, b);
        assert!(c >= 0.999_999, "window {i}: cosine {c}");
    }
}

#[test]
fn embedding_a_recording_equals_embedding_its_features() {
    let e = embedder(true);
    let dir = tempfile::tempdir().unwrap();
    let wav = repo("fixtures/mert/input_24k.wav");
    let f = features_of(&e, &wav);
    let npy = dir.path().join("features.npy");
    clamp3::output::write_npy(&npy, &[1, f.rows, 32], &f.data).unwrap();
    // A long low-rate FLAC (resampled 8 kHz -> 24 kHz, three windows, the last one short).
    let flac = repo("fixtures/audio/flac_8000_mono_long.flac");
    let ff = features_of(&e, &flac);
    assert_eq!(ff.rows, 3);
    let flac_npy = dir.path().join("flac_features.npy");
    clamp3::output::write_npy(&flac_npy, &[1, ff.rows, 32], &ff.data).unwrap();
    // All four in one call: the two recordings' MERT windows share passes.
    let out = e.embed_files(
        &[
            wav.as_path(),
            npy.as_path(),
            flac.as_path(),
            flac_npy.as_path(),
        ],
        &EmbedOptions::default(),
    );
    let v: Vec<Vec<f32>> = out
        .into_iter()
        .map(|r| match r.unwrap() {
            Embedding::Global(v) => v,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(v[0], v[1]);
    assert_eq!(v[2], v[3]);
    assert_eq!(v[2].len(), 24);
}

#[test]
fn audio_errors_are_clear() {
    let e = embedder(true);
    let short = repo("fixtures/audio/wav16_24000_mono.wav"); // 0.5 s: under one window
    let opus = repo("fixtures/audio/err_opus_48000_mono.ogg");
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(
        &garbage,
        (0..4000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let paths = [
        short.as_path(),
        opus.as_path(),
        garbage.as_path(),
        empty.as_path(),
    ];
    for (p, r) in paths
        .iter()
        .zip(e.embed_files(&paths, &EmbedOptions::default()))
    {
        let msg = r.unwrap_err().to_string();
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(msg.contains(name) && msg.contains("audio"), "{msg}");
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
    // Without MERT it is the system's fault, not the recording's (the CLI adds how to get
    // MERT), and the message says what is missing.
    let no_mert = embedder(false);
    let err = no_mert
        .embed_files(
            &[Path::new(&repo("fixtures/mert/input_24k.wav"))],
            &EmbedOptions::default(),
        )
        .remove(0)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::System {
                cause: SystemCause::NoMert,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("input_24k.wav") && msg.contains("MERT-v1-95M"),
        "{msg}"
    );
}

#[test]
fn recordings_over_the_duration_limit_fail_as_the_inputs_fault() {
    use clamp3::audio::{AudioError, MertOptions};
    use clamp3::{Cause, Input, InputCause, InputKind};
    // The long FLAC is 11.5 s; the 24 kHz WAV 6.4 s.
    let flac = std::fs::read(repo("fixtures/audio/flac_8000_mono_long.flac")).unwrap();
    let wav = std::fs::read(repo("fixtures/mert/input_24k.wav")).unwrap();
    let mut e = embedder(true);
    let unlimited: Vec<f32> = match e.embed_one(&Input::bytes(InputKind::Audio, wav.clone())) {
        Ok(v) => v,
        Err(err) => panic!("{err}"),
    };
    e.set_recording_options(MertOptions {
        max_seconds: Some(8.0),
        // Hold at most 1 s: longer recordings are decoded again per pass (same numbers).
        in_memory_limit: 24_000,
        ..MertOptions::default()
    });
    match e.prepare(&Input::bytes(InputKind::Audio, flac)) {
        Err(Cause::Input(InputCause::Audio(AudioError::LongerThan { seconds }))) => {
            assert_eq!(seconds, 8.0)
        }
        other => panic!("an 11.5 s recording over an 8 s limit: {other:?}"),
    }
    // Under the limit, streamed instead of held: the same vector.
    let limited = e
        .embed_one(&Input::bytes(InputKind::Audio, wav))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(limited, unlimited);
}
