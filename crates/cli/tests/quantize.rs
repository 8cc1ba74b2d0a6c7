//! `clamp3 quantize` end to end on the tiny model: every format converts into a model
//! directory that `embed`, `index add` and `search` use like any other; a quantised model has
//! its own id (an index of the f32 model refuses it); bad arguments and outputs get clear
//! errors; `--report` prints the fidelity table; `serve` answers with the quantised model.
//! Needs `scripts/fetch-test-data.sh`.

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: Output) -> String {
    assert!(!o.status.success(), "succeeded unexpectedly");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn quantize(model: &Path, to: &str, out: &Path) -> Output {
    run(&[
        "quantize".as_ref(),
        "--to".as_ref(),
        to.as_ref(),
        model.as_os_str(),
        out.as_os_str(),
    ])
}

/// A small input tree: a sheet, a MIDI performance, a multilingual text, MERT features.
fn inputs(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for f in [
        "bach_bwv66_6.abc",
        "openttd_boogi_marabi.mtf",
        "multilingual.txt",
        "features_long.npy",
    ] {
        std::fs::copy(repo(&format!("fixtures/model/inputs/{f}")), input.join(f)).unwrap();
    }
    input
}

fn embed(model: &Path, input: &Path, out: &Path) {
    ok(run(&[
        "embed".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        input.as_os_str(),
    ]));
}

#[test]
fn every_format_embeds_close_to_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = inputs(tmp.path());
    let want_dir = tmp.path().join("out-f32");
    embed(&model, &input, &want_dir);
    for (to, file, bound) in [
        // Bounds: tests/quant.rs in clamp3-model measures these formats on these inputs
        // (minimum over modalities: f16 0.99999996, bf16 0.999996, q8_0 0.999984,
        // q4_k 0.9961); margins as there.
        ("f16", "model.safetensors", 0.999_99),
        ("bf16", "model.safetensors", 0.999_9),
        ("q8_0", "model.gguf", 0.999_9),
        ("q4_k", "model.gguf", 0.99),
    ] {
        let q = tmp.path().join(format!("tiny-{to}"));
        let stderr = String::from_utf8_lossy(&quantize(&model, to, &q).stderr).into_owned();
        assert!(q.join(file).is_file(), "{to}: {stderr}");
        assert!(q.join("tokenizer.json").is_file() && q.join("config.json").is_file());
        assert!(!q.join("model.safetensors").exists() || file == "model.safetensors");
        let got_dir = tmp.path().join(format!("out-{to}"));
        embed(&q, &input, &got_dir);
        for f in [
            "bach_bwv66_6.npy",
            "openttd_boogi_marabi.npy",
            "multilingual.npy",
            "features_long.npy",
        ] {
            let (w, g) = (read_npy(&want_dir.join(f)), read_npy(&got_dir.join(f)));
            assert_eq!(w.shape, g.shape, "{to} {f}");
            let c = cosine(&w.data, &g.data);
            assert!(c >= bound && c < 1.0, "{to} {f}: cosine {c}");
        }
    }
}

#[test]
fn an_index_of_the_f32_model_refuses_the_quantised_one() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = inputs(tmp.path());
    let q = tmp.path().join("tiny-q8");
    ok(quantize(&model, "q8_0", &q));
    let index = tmp.path().join("index");
    let add = |m: &Path, index: &Path| {
        run(&[
            "index".as_ref(),
            "add".as_ref(),
            "--index".as_ref(),
            index.as_os_str(),
            "--model".as_ref(),
            m.as_os_str(),
            input.as_os_str(),
        ])
    };
    ok(add(&model, &index));
    let e = err(add(&q, &index));
    assert!(e.contains("model"), "{e}");
    // The quantised model builds and searches its own index.
    let qindex = tmp.path().join("qindex");
    ok(add(&q, &qindex));
    // A file of the index as the query: its own vector comes first.
    let found = ok(run(&[
        "search".as_ref(),
        "--index".as_ref(),
        qindex.as_os_str(),
        input.join("bach_bwv66_6.abc").as_os_str(),
    ]));
    let first = found.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    assert!(first.contains("bach_bwv66_6"), "{found}");
}

#[test]
fn bad_arguments_and_outputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let e = err(quantize(&model, "q5_k", &tmp.path().join("x")));
    assert!(e.contains("unknown format `q5_k`"), "{e}");
    // Writing into the model being read, or over a folder with files in it.
    let e = err(quantize(&model, "q8_0", &model));
    assert!(e.contains("is the model being read"), "{e}");
    let full = tmp.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let e = err(quantize(&model, "q8_0", &full));
    assert!(e.contains("not an empty folder"), "{e}");
    assert_eq!(
        std::fs::read_to_string(full.join("notes.txt")).unwrap(),
        "mine"
    );
    // Quantising a quantised model again.
    let q = tmp.path().join("q");
    ok(quantize(&model, "q8_0", &q));
    // `info` shows the recipe.
    let info = ok(run(&["info".as_ref(), "--model".as_ref(), q.as_os_str()]));
    assert!(info.contains("clamp3.recipe: q8_0"), "{info}");
    let e = err(quantize(&q, "q4_k", &tmp.path().join("qq")));
    assert!(e.contains("already quantised"), "{e}");
    // A truncated GGUF in a model directory: embedding names the file.
    let bytes = std::fs::read(q.join("model.gguf")).unwrap();
    std::fs::write(q.join("model.gguf"), &bytes[..bytes.len() / 2]).unwrap();
    let input = inputs(tmp.path());
    let e = err(run(&[
        "embed".as_ref(),
        "--model".as_ref(),
        q.as_os_str(),
        "--out".as_ref(),
        tmp.path().join("o").as_os_str(),
        input.as_os_str(),
    ]));
    assert!(e.contains("model.gguf") && e.contains("truncated"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

/// `clamp3 quantize --report --rounds 1 EXTRA... --inputs INPUT -- MODEL`'s table.
fn report(model: &Path, input: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["quantize".as_ref(), "--report".as_ref()];
    args.extend(
        ["--rounds", "1"]
            .iter()
            .chain(extra)
            .map(|a: &&str| -> &std::ffi::OsStr { a.as_ref() }),
    );
    args.extend([
        "--inputs".as_ref(),
        input.as_os_str(),
        "--".as_ref(),
        model.as_os_str(),
    ]);
    ok(run(&args))
}

#[test]
fn the_report_prints_every_format_and_modality() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = inputs(tmp.path());
    let out = report(&model, &input, &[]);
    for format in ["f16", "bf16", "q8_0", "q6_k", "q4_k", "q8_0-ffn-q4_k"] {
        for modality in ["text", "symbolic", "audio"] {
            let row = out
                .lines()
                .find(|l| l.starts_with(&format!("| {format} | {modality} |")))
                .unwrap_or_else(|| panic!("no row {format} {modality}:\n{out}"));
            // | format | modality | n | min | mean | ...
            let min: f64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
            assert!(min > 0.99 && min <= 1.0, "{row}");
        }
    }
}

#[test]
fn the_report_measures_f32_products_beside_the_default_path() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = inputs(tmp.path());
    let out = report(&model, &input, &["--to", "q8_0", "--f32-products"]);
    for name in ["q8_0", "q8_0 (f32 products)"] {
        for modality in ["text", "symbolic", "audio"] {
            let row = out
                .lines()
                .find(|l| l.starts_with(&format!("| {name} | {modality} |")))
                .unwrap_or_else(|| panic!("no row {name} {modality}:\n{out}"));
            let min: f64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
            assert!(min > 0.999 && min <= 1.0, "{row}");
        }
    }
    // Only the format asked for, once each way, and f32 twice.
    let rows = out.lines().filter(|l| l.starts_with("| q")).count();
    assert_eq!(rows, 6, "{out}");
}

#[test]
fn the_server_embeds_with_a_quantised_model() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let input = inputs(tmp.path());
    let q = tmp.path().join("tiny-q8");
    ok(quantize(&model, "q8_0", &q));
    let want_dir = tmp.path().join("out");
    embed(&q, &input, &want_dir);
    let s = server::Server::start(&q, &[]);
    let info = s.get("/info").json();
    assert_eq!(info["model"], "tiny-q8");
    let id = info["model_id"].as_str().unwrap().to_string();
    // The id `index add` recorded for the f32 model differs (see the index test); the
    // server reports the quantised model's own.
    assert!(id.starts_with("weights:"), "{id}");
    for f in [
        "bach_bwv66_6.abc",
        "multilingual.txt",
        "openttd_boogi_marabi.mtf",
    ] {
        let a = s.post(
            "/v1/embeddings",
            &serde_json::json!({ "input": server::file_input(&input.join(f)) }),
        );
        assert_eq!(a.status, 200, "{f}: {}", a.body);
        let got = &server::vectors(&a.json())[0];
        let stem = Path::new(f).with_extension("npy");
        let want = read_npy(&want_dir.join(stem));
        let c = cosine(got, &want.data);
        assert!(c > 0.999_999, "{f}: server vs embed cosine {c}");
    }
}

#[test]
fn a_model_with_mert_is_converted_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    // MERT as downloaded: config.json + pytorch_model.bin.
    let mert = model.join("mert");
    std::fs::create_dir_all(&mert).unwrap();
    for f in ["config.json", "pytorch_model.bin"] {
        std::fs::copy(repo(&format!("fixtures/mert/tiny/{f}")), mert.join(f)).unwrap();
    }
    let q = tmp.path().join("tiny-q8");
    ok(quantize(&model, "q8_0", &q));
    assert!(q.join("mert/model.gguf").is_file());
    assert!(q.join("mert/config.json").is_file());
    assert!(!q.join("mert/pytorch_model.bin").exists());
    let input = tmp.path().join("rec");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(repo("fixtures/mert/input_24k.wav"), input.join("a.wav")).unwrap();
    let (want, got) = (tmp.path().join("w"), tmp.path().join("g"));
    embed(&model, &input, &want);
    embed(&q, &input, &got);
    let (w, g) = (read_npy(&want.join("a.npy")), read_npy(&got.join("a.npy")));
    let c = cosine(&w.data, &g.data);
    // Recording -> quantised MERT -> quantised audio encoder; measured 0.999994.
    assert!((0.9999..1.0).contains(&c), "cosine {c}");
}
