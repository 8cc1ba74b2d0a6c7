//! Assembles the tiny test model as a working model directory, for trying every command without
//! downloading anything:
//!
//!     scripts/fetch-test-data.sh
//!     cargo run --release -p clamp3-model --example tiny_model -- models/tiny
//!     clamp3 embed --model models/tiny --out out/ fixtures/model/inputs/ fixtures/mert/input_24k.wav
//!
//! The directory holds the tiny configuration (`fixtures/model/tiny/config.json`: 2-layer
//! encoders 32 wide, projection 24), its synthetic weights (the ones the PyTorch goldens were
//! computed with), the real XLM-R tokenizer (`testdata/xlm-roberta/tokenizer.json`) and, in
//! `mert/`, the tiny MERT (`fixtures/mert/tiny`, 32 wide: the same width as the tiny audio
//! encoder, so recordings embed end to end). Its vectors are meaningless but exact: they equal
//! the goldens.

use std::path::{Path, PathBuf};

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models/tiny"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("error: {what}: {e}");
        std::process::exit(2)
    };
    let tokenizer = repo.join("testdata/xlm-roberta/tokenizer.json");
    if !tokenizer.is_file() {
        fail(
            &tokenizer.display().to_string(),
            &"missing: run scripts/fetch-test-data.sh first",
        );
    }
    let mert = out.join("mert");
    std::fs::create_dir_all(&mert).unwrap_or_else(|e| fail(&mert.display().to_string(), &e));
    let cfg_text = std::fs::read_to_string(repo.join("fixtures/model/tiny/config.json"))
        .unwrap_or_else(|e| fail("fixtures/model/tiny/config.json", &e));
    let cfg = clamp3_model::Clamp3Config::from_json(&cfg_text)
        .unwrap_or_else(|e| fail("fixtures/model/tiny/config.json", &e));
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to).unwrap_or_else(|e| fail(&from.display().to_string(), &e));
    };
    copy(
        &repo.join("fixtures/model/tiny/config.json"),
        &out.join("config.json"),
    );
    copy(&tokenizer, &out.join("tokenizer.json"));
    for f in ["config.json", "model.safetensors"] {
        copy(&repo.join("fixtures/mert/tiny").join(f), &mert.join(f));
    }
    clamp3_model::synthetic::write_safetensors(&cfg, &out.join("model.safetensors"))
        .unwrap_or_else(|e| fail("model.safetensors", &e));
    eprintln!("tiny model (with MERT) ready in {}", out.display());
}
