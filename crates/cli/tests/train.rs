//! `clamp3 train` end to end: a small run on real ABC and MTF files from M4-RAG-style records,
//! its logs (also when stderr is not a terminal), TensorBoard file, resumption, and the saved
//! model directory used by `clamp3 embed` and as the start of a second stage (audio, text frozen).

mod common;

use std::path::Path;

use common::*;

const MUSIC: [&str; 4] = [
    "fixtures/model/inputs/bach_bwv66_6.abc",
    "fixtures/model/inputs/essen_han1_tune3.abc",
    "fixtures/model/inputs/essen_han1_tune3.mtf",
    "fixtures/model/inputs/openttd_boogi_marabi.mtf",
];

/// `n` records whose texts differ, cycling over the music files copied into `data/music/`.
fn records(data: &Path, name: &str, n: usize, offset: usize) -> std::path::PathBuf {
    std::fs::create_dir_all(data.join("music")).unwrap();
    let mut lines = String::new();
    for i in 0..n {
        let src = repo(MUSIC[(i + offset) % MUSIC.len()]);
        let file = format!("music/{}", src.file_name().unwrap().to_string_lossy());
        std::fs::copy(&src, data.join(&file)).unwrap();
        let rec = serde_json::json!({
            "id": format!("{name}-{i}"),
            "title": format!("Tune number {} of the {name} set", i + offset),
            "analysis": format!("A piece in {} time, item {i}.", ["3/4", "4/4", "6/8"][i % 3]),
            "filepaths": [file],
        });
        lines.push_str(&format!("{rec}\n"));
    }
    let path = data.join(format!("{name}.jsonl"));
    std::fs::write(&path, lines).unwrap();
    path
}

#[test]
fn train_logs_resumes_saves_an_embeddable_model_and_chains_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let train = records(&data, "train", 8, 0);
    let eval = records(&data, "eval", 4, 1);
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh");
    let out = tmp.path().join("run");
    let config = tmp.path().join("train.toml");
    std::fs::write(
        &config,
        format!(
            r#"[model]
config = "{cfg}"
tokenizer = "{tok}"

[data]
train = "{train}"
eval = "{eval}"

[stage]
modality = "symbolic"

[optim]
lr = 1e-3
warmup_steps = 2

[train]
batch_size = 4
micro_batch = 2
max_steps = 4
eval_every = 2
checkpoint_every = 2

[output]
dir = "{out}"
tensorboard = true
"#,
            cfg = repo("fixtures/model/tiny/config.json").display(),
            tok = tok.display(),
            train = train.display(),
            eval = eval.display(),
            out = out.display(),
        ),
    )
    .unwrap();

    let run = |extra: &[&str]| {
        let o = clamp3()
            .args(["train", "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        err
    };
    let err = run(&[]);
    // Not a terminal: the evaluations and checkpoints still reach the log.
    assert!(err.contains("8 training and 4 evaluation records"), "{err}");
    for step in [2, 4] {
        assert!(
            err.contains(&format!("update {step}: eval loss")),
            "no eval line for update {step}:\n{err}"
        );
    }
    assert!(err.contains("checkpoint"), "{err}");
    let steps_with = |key: &str| -> Vec<u64> {
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v.get(key).is_some())
            .map(|v| v["step"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(steps_with("loss"), vec![1, 2, 3, 4]);
    // The last step's evaluation is not repeated by the end-of-run one.
    assert_eq!(steps_with("eval_mrr"), vec![2, 4]);
    assert_eq!(
        std::fs::read_dir(out.join("tensorboard")).unwrap().count(),
        1
    );

    // Running again with a higher limit resumes from the last checkpoint.
    let err = run(&["--max-steps", "6"]);
    assert!(err.contains("at update 4"), "{err}");
    assert_eq!(steps_with("loss"), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(steps_with("eval_mrr"), vec![2, 4, 6]);

    // The run folder is a complete model directory.
    for f in ["model.safetensors", "config.json", "tokenizer.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let o = clamp3()
        .args(["embed", "--format", "jsonl", "--out", "-", "--model"])
        .arg(&out)
        .arg(repo("fixtures/model/inputs/en_reel.txt"))
        .arg(repo(MUSIC[0]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let v = l["embedding"].as_array().unwrap_or_else(|| panic!("{l}"));
        assert_eq!(v.len(), 24);
        assert!(v.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)));
    }

    // Stage 2 starts from stage 1's folder: text <-> audio with text (and symbolic) frozen.
    let audio = tmp.path().join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    let mut lines = String::new();
    for i in 0..8 {
        let src = ["features_short.npy", "features_long.npy"][i % 2];
        let file = format!("rec{i}.npy");
        std::fs::copy(
            repo(&format!("fixtures/model/inputs/{src}")),
            audio.join(&file),
        )
        .unwrap();
        let rec = serde_json::json!({
            "id": format!("a{i}"), "title": format!("Recording {i}"),
            "analysis": format!("Recording number {i}."), "filepaths": [file],
        });
        lines.push_str(&format!("{rec}\n"));
    }
    std::fs::write(audio.join("train.jsonl"), lines).unwrap();
    let out2 = tmp.path().join("run2");
    let config2 = tmp.path().join("stage2.toml");
    std::fs::write(
        &config2,
        format!(
            r#"[model]
init = "{init}"

[data]
train = "{train}"
eval_split = 0.25

[stage]
modality = "audio"
freeze = ["text_model", "text_proj", "symbolic_model", "symbolic_proj"]

[train]
batch_size = 3
micro_batch = 2
max_steps = 2

[output]
dir = "{out}"
"#,
            init = out.display(),
            train = audio.join("train.jsonl").display(),
            out = out2.display(),
        ),
    )
    .unwrap();
    let o = clamp3()
        .args(["train", "--config"])
        .arg(&config2)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    let (b1, b2) = (read(&out), read(&out2));
    let (s1, s2) = (
        safetensors::SafeTensors::deserialize(&b1).unwrap(),
        safetensors::SafeTensors::deserialize(&b2).unwrap(),
    );
    let mut frozen = 0;
    for (name, t1) in s1.tensors() {
        let t2 = s2.tensor(&name).unwrap();
        if name.starts_with("text_") || name.starts_with("symbolic_") {
            assert_eq!(t1.data(), t2.data(), "{name} changed while frozen");
            frozen += 1;
        }
    }
    assert!(frozen > 10);
    for name in [
        "audio_proj.weight",
        "audio_model.encoder.layer.0.output.dense.weight",
    ] {
        let (a, b) = (s1.tensor(name).unwrap(), s2.tensor(name).unwrap());
        assert_ne!(a.data(), b.data(), "{name} did not train");
    }
}
