//! The `clamp3` binary end to end: a synthetic tiny model directory, real inputs, outputs
//! checked against the PyTorch goldens. Needs `scripts/fetch-test-data.sh` (tokenizer).

mod common;

use common::*;

#[test]
fn embed_folder_mirrors_the_tree_and_matches_goldens() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = tmp.path().join("music");
    std::fs::create_dir_all(input.join("scores/bach")).unwrap();
    std::fs::create_dir_all(input.join("texts")).unwrap();
    for (src, dst) in [
        ("bach_bwv66_6.abc", "scores/bach/bwv66.abc"),
        ("openttd_boogi_marabi.mtf", "scores/boogie.mtf"),
        ("multilingual.txt", "texts/multilingual.txt"),
        ("features_long.npy", "features_long.npy"),
    ] {
        std::fs::copy(
            repo(&format!("fixtures/model/inputs/{src}")),
            input.join(dst),
        )
        .unwrap();
    }
    std::fs::write(input.join("README.md"), "not an input").unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for (rel, golden) in [
        ("scores/bach/bwv66.npy", "bach_bwv66_6.abc"),
        ("scores/boogie.npy", "openttd_boogi_marabi.mtf"),
        ("texts/multilingual.npy", "multilingual.txt"),
        ("features_long.npy", "features_long.npy"),
    ] {
        let a = read_npy(&out.join(rel));
        assert_eq!(a.shape, vec![1, 24], "{rel}");
        let c = cosine(&a.data, &golden_global(golden));
        assert!(c >= 0.999_999, "{rel}: cosine {c}");
    }
    assert!(!out.join("README.npy").exists());
}

#[test]
fn bad_files_are_listed_and_strict_sets_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("empty.txt"), "").unwrap();
    std::fs::write(input.join("garbage.abc"), [0xffu8, 0x00, 0x9c]).unwrap();
    std::fs::write(
        input.join("bad.npy"),
        clamp3_formats::npy::write_npy(&[13, 2, 32], &vec![0.0; 832]),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        input.join("good.txt"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = |strict: bool| {
        let mut c = clamp3();
        c.args(["embed", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .arg(&input);
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let r = run(false);
    assert_eq!(r.status.code(), Some(0));
    let err = String::from_utf8_lossy(&r.stderr);
    for name in ["empty.txt", "garbage.abc", "bad.npy"] {
        assert!(err.contains(name), "{err}");
    }
    assert!(err.contains("3 failed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.join("good.npy").is_file());
    assert_eq!(run(true).status.code(), Some(1));
}

#[test]
fn existing_outputs_are_replaced_or_explicitly_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("en_reel.npy"), b"stale").unwrap();
    let input = repo("fixtures/model/inputs/en_reel.txt");
    let run = |extra: &[&str]| {
        let st = clamp3()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        String::from_utf8_lossy(&st.stderr).into_owned()
    };
    let msg = run(&["--skip-existing"]);
    assert!(msg.contains("skipped 1 existing"), "{msg}");
    assert_eq!(std::fs::read(out.join("en_reel.npy")).unwrap(), b"stale");
    run(&[]);
    assert_eq!(read_npy(&out.join("en_reel.npy")).shape, vec![1, 24]);
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn jsonl_and_sequence_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let out = tmp.path().join("emb.jsonl");
    let inputs = [
        repo("fixtures/model/inputs/en_reel.txt"),
        repo("fixtures/model/inputs/features_short.npy"),
    ];
    let st = clamp3()
        .args(["embed", "--format", "jsonl", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .args(&inputs)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["modality"], "text");
    assert_eq!(lines[1]["modality"], "audio");
    let v: Vec<f32> = lines[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert!(cosine(&v, &golden_global("en_reel.txt")) >= 0.999_999);

    let seq_out = tmp.path().join("seq");
    let st = clamp3()
        .args(["embed", "--sequence", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&seq_out)
        .arg(&inputs[1])
        .output()
        .unwrap();
    assert!(st.status.success());
    // 40 feature vectors + the two zero vectors, hidden size 32.
    assert_eq!(
        read_npy(&seq_out.join("features_short.npy")).shape,
        vec![1, 42, 32]
    );
}

#[test]
fn convert_weights_then_embed_gives_the_same_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("mini");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::copy(
        repo("fixtures/model/mini/config.json"),
        m.join("config.json"),
    )
    .unwrap();
    let st = clamp3()
        .arg("convert-weights")
        .arg(repo("fixtures/model/mini/model.pth"))
        .arg(m.join("model.safetensors"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let abc = repo("fixtures/model/inputs/bach_bwv66_6.abc");
    let mut outs = Vec::new();
    for model in [m.clone(), repo("fixtures/model/mini/model.pth")] {
        let out = tmp.path().join(format!("out{}", outs.len()));
        let st = clamp3()
            .args(["embed", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .arg(&abc)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        outs.push(read_npy(&out.join("bach_bwv66_6.npy")).data);
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn missing_model_and_truncated_weights_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = repo("fixtures/model/inputs/en_reel.txt");
    let st = clamp3()
        .args(["embed", "--model", "/no/such/model", "--out"])
        .arg(tmp.path())
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("/no/such/model"));

    let m = tmp.path().join("broken");
    std::fs::create_dir_all(&m).unwrap();
    let pth = std::fs::read(repo("fixtures/model/mini/model.pth")).unwrap();
    std::fs::write(m.join("model.pth"), &pth[..pth.len() / 3]).unwrap();
    std::fs::copy(
        repo("fixtures/model/mini/config.json"),
        m.join("config.json"),
    )
    .unwrap();
    let abc = repo("fixtures/model/inputs/bach_bwv66_6.abc");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&m)
        .arg("--out")
        .arg(tmp.path())
        .arg(&abc)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("model.pth") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn download_without_network_fails_fast_and_says_where_files_go() {
    let tmp = tempfile::tempdir().unwrap();
    let st = clamp3()
        .args(["download", "c2"])
        .env("CLAMP3_HOME", tmp.path())
        .env("CLAMP3_HUB_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("by hand") && err.contains(&tmp.path().join("c2").display().to_string()),
        "{err}"
    );
    // And `--model c2` then says how to get it.
    let st = clamp3()
        .args(["embed", "--model", "c2", "--out"])
        .arg(tmp.path())
        .arg(repo("fixtures/model/inputs/en_reel.txt"))
        .env("CLAMP3_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&st.stderr).contains("clamp3 download c2"));
}

#[test]
fn convert_midi_to_mtf_mirrors_tree_and_matches_mido() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("midi");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    let names = [
        "deb_openmsx_modern_motion",
        "deb_pianobooster_lavenders_blue",
    ];
    std::fs::copy(
        repo(&format!("fixtures/mtf/{}.mid", names[0])),
        input.join(format!("{}.mid", names[0])),
    )
    .unwrap();
    std::fs::copy(
        repo(&format!("fixtures/mtf/{}.mid", names[1])),
        input.join(format!("sub/{}.MIDI", names[1])),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/mtf/errors/syn_data_byte_over_127.mid"),
        input.join("bad.mid"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["convert", "--to", "mtf", "--out"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(0));
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("converted 2 file(s)") && err.contains("bad.mid"),
        "{err}"
    );
    for (rel, name) in [
        (format!("{}.mtf", names[0]), names[0]),
        (format!("sub/{}.mtf", names[1]), names[1]),
    ] {
        let got = std::fs::read(out.join(&rel)).unwrap();
        let want = std::fs::read(repo(&format!("fixtures/mtf/{name}.mtf"))).unwrap();
        assert!(got == want, "{rel} differs from mido's output");
    }
    let st = clamp3()
        .args(["convert", "--strict", "--to", "mtf", "--out"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
}

#[test]
fn embed_takes_midi_directly_like_its_mtf() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let name = "deb_pianobooster_lavenders_blue";
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(
        repo(&format!("fixtures/mtf/{name}.mid")),
        input.join("a.mid"),
    )
    .unwrap();
    std::fs::copy(
        repo(&format!("fixtures/mtf/{name}.mtf")),
        input.join("b.mtf"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        read_npy(&out.join("a.npy")).data,
        read_npy(&out.join("b.npy")).data
    );
}

#[test]
fn convert_standard_abc_to_interleaved_matches_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("abc");
    std::fs::create_dir_all(input.join("bach")).unwrap();
    let names = ["bach_chorale_volta", "xml2abc_mozart", "oneills_v1_voltas"];
    for (i, n) in names.iter().enumerate() {
        let dst = if i == 0 {
            input.join(format!("bach/{n}.abc"))
        } else {
            input.join(format!("{n}.abc"))
        };
        std::fs::copy(repo(&format!("fixtures/abc/{n}.abc")), dst).unwrap();
    }
    // An input the reference gives up on (its alignment check fails): so do we.
    std::fs::copy(
        repo("fixtures/abc/errors/alignment_index_error.abc"),
        input.join("broken.abc"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["convert", "--to", "abc", "--out"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(0), "{err}");
    assert!(
        err.contains("converted 3 file(s)") && err.contains("broken.abc"),
        "{err}"
    );
    for (i, n) in names.iter().enumerate() {
        let rel = if i == 0 {
            format!("bach/{n}.abc")
        } else {
            format!("{n}.abc")
        };
        let got = std::fs::read(out.join(&rel)).unwrap();
        let want = std::fs::read(repo(&format!("fixtures/abc/{n}.interleaved.abc"))).unwrap();
        assert!(got == want, "{rel} differs from the reference interleaving");
    }
}

#[test]
fn embed_interleaves_standard_abc_on_the_fly() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let n = "xml2abc_mozart";
    std::fs::copy(
        repo(&format!("fixtures/abc/{n}.abc")),
        input.join("standard.abc"),
    )
    .unwrap();
    std::fs::copy(
        repo(&format!("fixtures/abc/{n}.interleaved.abc")),
        input.join("interleaved.abc"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        read_npy(&out.join("standard.npy")).data,
        read_npy(&out.join("interleaved.npy")).data
    );
}

#[test]
fn convert_musicxml_to_standard_and_interleaved_abc() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("scores");
    std::fs::create_dir_all(&input).unwrap();
    for f in ["bwv10.7.mxl", "bwv113.8.mxl"] {
        std::fs::copy(
            repo(&format!("fixtures/xml2abc/inputs/music21/bach/{f}")),
            input.join(f),
        )
        .unwrap();
    }
    let std_out = tmp.path().join("std");
    let st = clamp3()
        .args(["convert", "--to", "abc", "--standard-abc", "--out"])
        .arg(&std_out)
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    // bwv113.8.mxl stores its score as a .musicxml member, which the reference cannot read.
    assert!(
        err.contains("converted 1 file(s)") && err.contains("bwv113.8.mxl"),
        "{err}"
    );
    let got = std::fs::read(std_out.join("bwv10.7.abc")).unwrap();
    let want = std::fs::read(repo(
        "fixtures/xml2abc/expected/music21/bach/bwv10.7.mxl.abc",
    ))
    .unwrap();
    assert!(got == want, "standard ABC differs from xml2abc -d 8 -x");
    // Then interleaved: the same as interleaving that standard ABC.
    let inter_out = tmp.path().join("inter");
    let st = clamp3()
        .args(["convert", "--to", "abc", "--out"])
        .arg(&inter_out)
        .arg(input.join("bwv10.7.mxl"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let want =
        clamp3_formats::interleave::interleave_abc(std::str::from_utf8(&got).unwrap()).unwrap();
    assert_eq!(
        std::fs::read_to_string(inter_out.join("bwv10.7.abc")).unwrap(),
        want
    );
}

#[test]
fn embed_takes_musicxml_directly() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(
        repo("fixtures/xml2abc/inputs/music21/bach/bwv10.7.mxl"),
        input.join("a.mxl"),
    )
    .unwrap();
    let abc = std::fs::read_to_string(repo(
        "fixtures/xml2abc/expected/music21/bach/bwv10.7.mxl.abc",
    ))
    .unwrap();
    std::fs::write(
        input.join("b.abc"),
        clamp3_formats::interleave::interleave_abc(&abc).unwrap(),
    )
    .unwrap();
    // An archive whose score is a .musicxml member: the reference reads nothing, we read the
    // container's score.
    std::fs::copy(
        repo("fixtures/xml2abc/inputs/music21/bach/bwv113.8.mxl"),
        input.join("c.mxl"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        read_npy(&out.join("a.npy")).data,
        read_npy(&out.join("b.npy")).data
    );
    assert_eq!(read_npy(&out.join("c.npy")).shape, vec![1, 24]);
}

#[test]
fn features_and_embed_for_recordings() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = tmp.path().join("rec");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::copy(
        repo("fixtures/mert/input_24k.wav"),
        input.join("sub/tune.wav"),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/audio/flac_8000_mono_long.flac"),
        input.join("long.flac"),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/audio/wav16_24000_mono.wav"),
        input.join("short.wav"),
    )
    .unwrap();
    let mert = repo("fixtures/mert/tiny");
    let feats = tmp.path().join("features");
    let st = clamp3()
        .arg("features")
        .arg("--mert")
        .arg(&mert)
        .arg("--out")
        .arg(&feats)
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert_eq!(st.status.code(), Some(0), "{err}");
    assert!(
        err.contains("short.wav") && err.contains("2 file(s)"),
        "{err}"
    );
    // Named like the reference's extract_mert.py: the whole file name plus .npy.
    let f = read_npy(&feats.join("sub/tune.wav.npy"));
    assert_eq!(f.shape, vec![1, 2, 32]);
    assert_eq!(read_npy(&feats.join("long.flac.npy")).shape, vec![1, 3, 32]);
    // Embedding the recording equals embedding its features.
    let out = tmp.path().join("emb");
    let st = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--mert")
        .arg(&mert)
        .arg("--out")
        .arg(&out)
        .arg(input.join("sub/tune.wav"))
        .arg(feats.join("sub/tune.wav.npy"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        read_npy(&out.join("tune.npy")).data,
        read_npy(&out.join("tune.wav.npy")).data
    );
}
