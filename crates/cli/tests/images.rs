//! Images end to end through the command-line tool: BLIP's caption (the tiny BLIP of
//! `fixtures/blip/tiny`, whose captions equal transformers' on every fixture image) is embedded
//! exactly as a `.txt` file holding it, kept in the JSONL output and the index, and shown by
//! `search`.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A tiny model directory with the tiny BLIP in its `blip/` folder.
fn model_with_blip(dir: &Path) -> PathBuf {
    let m = tiny_model_dir(dir);
    let blip = m.join("blip");
    std::fs::create_dir_all(&blip).unwrap();
    for e in std::fs::read_dir(repo("fixtures/blip/tiny")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), blip.join(e.file_name())).unwrap();
    }
    m
}

/// transformers' caption of a fixture image with the tiny BLIP.
fn golden_caption(name: &str) -> String {
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("fixtures/blip/goldens.json")).unwrap())
            .unwrap();
    g["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap()["tiny_text"]
        .as_str()
        .unwrap()
        .to_string()
}

fn jsonl(model: &Path, inputs: &[&Path]) -> (Vec<serde_json::Value>, String) {
    let o = clamp3()
        .args(["embed", "--format", "jsonl", "--out", "-", "--model"])
        .arg(model)
        .args(inputs)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, err)
}

#[test]
fn an_image_embeds_as_its_caption_would() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_blip(tmp.path());
    let names = [
        "photo_chelsea_q90.jpg",
        "photo_astronaut_gray_160.png",
        "photo_coffee_300x200.webp",
    ];
    let images: Vec<PathBuf> = names
        .iter()
        .map(|n| repo(&format!("fixtures/blip/images/{n}")))
        .collect();
    let refs: Vec<&Path> = images.iter().map(|p| p.as_path()).collect();
    let (lines, _) = jsonl(&model, &refs);
    assert_eq!(lines.len(), names.len());
    for (name, line) in names.iter().zip(&lines) {
        let caption = golden_caption(name);
        assert_eq!(line["caption"], caption.as_str(), "{name}");
        assert_eq!(line["modality"], "text");
        // The vector of a .txt file holding the caption (to float rounding: the three images
        // share forward passes, the text runs alone).
        let txt = tmp.path().join(format!("{name}.txt"));
        std::fs::write(&txt, &caption).unwrap();
        let (t, _) = jsonl(&model, &[&txt]);
        let vec = |v: &serde_json::Value| -> Vec<f32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        };
        let (a, b) = (vec(&line["embedding"]), vec(&t[0]["embedding"]));
        assert!(cosine(&a, &b) >= 0.999_999, "{name}");
        let max_abs = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(max_abs <= 1e-5, "{name}: {max_abs}");
        assert!(t[0].get("caption").is_none());
    }
}

#[test]
fn images_are_indexed_with_their_captions_and_searched_by_example() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_blip(tmp.path());
    let col = tmp.path().join("col");
    std::fs::create_dir_all(&col).unwrap();
    for n in ["photo_rocket.jpg", "photo_chelsea_gray.jpg"] {
        std::fs::copy(repo(&format!("fixtures/blip/images/{n}")), col.join(n)).unwrap();
    }
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        col.join("reel.txt"),
    )
    .unwrap();
    let ix = tmp.path().join("lib");
    let o = clamp3()
        .args(["index", "add", "--index"])
        .arg(&ix)
        .arg("--model")
        .arg(&model)
        .arg(&col)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let query = col.join("photo_rocket.jpg");
    let o = clamp3()
        .args(["search", "--json", "--index"])
        .arg(&ix)
        .arg(&query)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let caption = golden_caption("photo_rocket.jpg");
    assert!(err.contains(&format!("query caption: {caption}")), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = &v["results"][0];
    assert!(
        top["path"].as_str().unwrap().ends_with("photo_rocket.jpg"),
        "{v}"
    );
    assert!((top["score"].as_f64().unwrap() - 1.0).abs() < 1e-5);
    assert_eq!(top["metadata"]["caption"], caption.as_str());
    // The table shows the stored captions too.
    let o = clamp3()
        .args(["search", "--index"])
        .arg(&ix)
        .arg(&query)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(&caption));
}

#[test]
fn without_blip_only_the_images_fail_and_bad_images_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("col");
    std::fs::create_dir_all(&col).unwrap();
    std::fs::copy(
        repo("fixtures/blip/images/photo_rocket.jpg"),
        col.join("rocket.jpg"),
    )
    .unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/en_reel.txt"),
        col.join("reel.txt"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = clamp3()
        .env("CLAMP3_HOME", tmp.path().join("empty-cache"))
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&col)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.join("reel.npy").exists());
    assert!(
        err.contains("rocket.jpg") && err.contains("clamp3 download blip"),
        "{err}"
    );
    // A broken image beside a good one, with BLIP: one line naming it.
    let model = model_with_blip(tmp.path());
    let bytes = std::fs::read(repo("fixtures/blip/images/photo_rocket.jpg")).unwrap();
    std::fs::write(col.join("cut.jpg"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(col.join("garbage.png"), b"\x89PNG not really").unwrap();
    let o = clamp3()
        .args(["embed", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(tmp.path().join("out2"))
        .arg(&col)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for bad in ["cut.jpg", "garbage.png"] {
        assert_eq!(err.lines().filter(|l| l.contains(bad)).count(), 1, "{err}");
    }
    assert!(tmp.path().join("out2/rocket.npy").exists(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
