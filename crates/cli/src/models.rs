//! `clamp3 convert-weights`, `download` and `info`: model files.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments of `clamp3 convert-weights`.
#[derive(Debug, clap::Args)]
pub struct ConvertWeightsArgs {
    /// The .pth (or any supported weights file) to read.
    pub input: PathBuf,
    /// The .safetensors file to write.
    pub output: PathBuf,
}

/// Arguments of `clamp3 download`.
#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    /// saas (best for audio, default), c2 (best for symbolic music), mert (MERT-v1-95M,
    /// needed for audio files; CC BY-NC 4.0), or blip (BLIP image captioning, for images;
    /// BSD-3-Clause).
    #[arg(default_value = "saas")]
    pub variant: String,
    /// Download again even if the files are present.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `clamp3 info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Model directory, weights file, or `saas` / `c2`.
    #[arg(long)]
    pub model: String,
}

/// `clamp3 convert-weights`.
pub fn convert_weights(a: &ConvertWeightsArgs) -> Result<()> {
    if clamp3_util::fs::same_file(&a.input, &a.output) {
        anyhow::bail!(
            "{} is the checkpoint being read ({}); give another output file",
            a.output.display(),
            a.input.display()
        );
    }
    let w = clamp3_model::Weights::open(&a.input)?;
    w.save_safetensors(&a.output)?;
    eprintln!("wrote {} tensors to {}", w.len(), a.output.display());
    Ok(())
}

/// `clamp3 download`.
pub fn download(a: &DownloadArgs) -> Result<()> {
    let (dir, files, what) = if a.variant.eq_ignore_ascii_case("mert") {
        eprintln!("note: the MERT-v1-95M weights are licensed CC BY-NC 4.0 (non-commercial use)");
        (clamp3::hub::mert_dir(), clamp3::hub::mert_files(), "mert")
    } else if a.variant.eq_ignore_ascii_case("blip") {
        eprintln!("note: Salesforce's BLIP weights are licensed BSD-3-Clause");
        (clamp3::hub::blip_dir(), clamp3::hub::blip_files(), "blip")
    } else {
        let v = clamp3::hub::Variant::parse(&a.variant)
            .with_context(|| format!("unknown variant `{}` (saas, c2, mert or blip)", a.variant))?;
        (clamp3::hub::variant_dir(v), v.files(), v.name())
    };
    let by_hand = || {
        let list: Vec<String> = files
            .iter()
            .map(|(url, name)| format!("  {url}\n    -> {}", dir.join(name).display()))
            .collect();
        format!(
            "to download by hand (e.g. in a browser), fetch each file into {}:\n{}",
            dir.display(),
            list.join("\n")
        )
    };
    for (url, name) in &files {
        let dest = dir.join(name);
        if dest.is_file() && !a.force {
            eprintln!(
                "{} is present (use --force to fetch it again)",
                dest.display()
            );
            continue;
        }
        let mut bar = crate::progress::DownloadBar::default();
        let sum = match clamp3::hub::download(url, &dest, &mut bar) {
            Ok(sum) => sum,
            Err(e @ clamp3::hub::DownloadError::Network { .. }) => {
                return Err(anyhow::anyhow!("{e}\n{}", by_hand()))
            }
            Err(e) => return Err(e.into()),
        };
        clamp3::output::write_atomic(
            &dest.with_extension("checksum"),
            format!("{sum}  {name}\n").as_bytes(),
        )
        .with_context(|| format!("writing checksum next to {}", dest.display()))?;
        eprintln!("{} verified ({sum})", dest.display());
    }
    eprintln!("`{what}` is ready in {}", dir.display());
    Ok(())
}

/// `clamp3 info`.
pub fn info(a: &InfoArgs) -> Result<()> {
    let path = clamp3::hub::resolve_model(&a.model)?;
    let files = clamp3_model::ModelFiles::locate(&path)?;
    println!("weights:   {}", files.weights.display());
    println!(
        "tokenizer: {}",
        files
            .tokenizer
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string())
    );
    println!(
        "config:    {}",
        serde_json::to_string_pretty(&files.config)?
    );
    let w = clamp3_model::Weights::open(&files.weights)?;
    println!("tensors:   {}", w.len());
    for (k, v) in w.checkpoint_info() {
        println!("{k}: {v}");
    }
    // A quantised model (GGUF): its recipe and the fingerprint of the weights it came from.
    for (k, v) in w.metadata() {
        println!("{k}: {v}");
    }
    Ok(())
}
