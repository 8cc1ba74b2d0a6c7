//! Writes a model directory with deterministic synthetic weights (`synthetic.rs`, the same
//! weights the golden scripts build in PyTorch) for a configuration: used by the Python tests
//! (the tiny model of the committed goldens) and for benchmarks at the official size.
//!
//!     cargo run --release -p clamp3-model --example synthetic_model -- CONFIG.json OUT_DIR [TOKENIZER.json]
//!
//! OUT_DIR gets `config.json`, `model.safetensors` and, when given, `tokenizer.json`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: synthetic_model CONFIG.json OUT_DIR [TOKENIZER.json]");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[0])?;
    let config = clamp3_model::Clamp3Config::from_json(&text)?;
    let out = PathBuf::from(&args[1]);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("config.json"), &text)?;
    clamp3_model::synthetic::write_safetensors(&config, &out.join("model.safetensors"))?;
    if let Some(tok) = args.get(2) {
        std::fs::copy(tok, out.join("tokenizer.json"))?;
    }
    Ok(())
}
