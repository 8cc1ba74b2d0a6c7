//! `clamp3 quantize`: half-precision and quantised copies of a model directory
//! (`docs/quantize.md`), and the fidelity/speed report of every format against f32.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clamp3::{EmbedOptions, Embedder, Input};
use clamp3_model::quant::{Format, Recipe};
use clamp3_model::Weights;

use crate::Ctx;

/// Arguments of `clamp3 quantize`.
#[derive(Debug, clap::Args)]
pub struct QuantizeArgs {
    /// Format of the linear weights and the word-embedding table: f16, bf16 (safetensors),
    /// q8_0, q6_k or q4_k (GGUF). LayerNorms, biases, convolutions and position tables stay
    /// f32.
    #[arg(long, required_unless_present = "report")]
    pub to: Option<String>,
    /// Another format for the feed-forward linears (e.g. `--to q8_0 --ffn q4_k`).
    #[arg(long)]
    pub ffn: Option<String>,
    /// Another format for the word-embedding table.
    #[arg(long)]
    pub embeddings: Option<String>,
    /// Instead of writing OUT: convert IN to every format and `q8_0-ffn-q4_k` (or just the
    /// recipe given with --to) in a temporary
    /// folder, embed INPUTS with each and print min/mean cosine to the f32 model per modality,
    /// items/s, load time, resident memory and size.
    #[arg(long)]
    pub report: bool,
    /// With --report: files or folders to embed (any supported kind).
    #[arg(long = "inputs", num_args = 1.., requires = "report")]
    pub inputs: Vec<PathBuf>,
    /// With --report: timed passes over the inputs per format (after one untimed pass).
    #[arg(long, default_value_t = 2, requires = "report")]
    pub rounds: usize,
    /// With --report: measure IN alone and print the measurement as JSON (the report runs
    /// one such process per format, so that each peak RSS is its own).
    #[arg(long, hide = true, requires = "report")]
    pub measure_only: bool,
    /// With --report: also measure each block format with its products on the quantised
    /// blocks (rows `<format> (quantised matmul)`; `CLAMP3_QUANTIZED_MATMUL=1` in
    /// docs/quantize.md): less memory, 8-bit activations.
    #[arg(long, requires = "report")]
    pub quantized_matmul: bool,
    /// With --report: also measure each format with its products in f32 (weights dequantised
    /// at load; rows `<format> (f32 products)`), for comparison with the bf16 tile products
    /// that reduced-precision models use on CPUs with AMX (`CLAMP3_TILE_PRODUCTS=0` in
    /// docs/quantize.md).
    #[arg(long, requires = "report")]
    pub f32_products: bool,
    /// Load block formats with quantised products (set by --report --quantized-matmul for its
    /// measuring processes).
    #[arg(long, hide = true)]
    pub load_quantized_matmul: bool,
    /// The model directory to read (a CLaMP 3 model, with `mert/` converted too when it holds
    /// one, or a MERT directory).
    pub input: PathBuf,
    /// The model directory to write: new or empty.
    pub output: Option<PathBuf>,
}

fn recipe_of(a: &QuantizeArgs) -> Result<Option<Recipe>> {
    let Some(to) = &a.to else {
        return Ok(None);
    };
    let parse = |s: &Option<String>| s.as_deref().map(Format::parse).transpose();
    Ok(Some(Recipe {
        base: Format::parse(to)?,
        ffn: parse(&a.ffn)?,
        embeddings: parse(&a.embeddings)?,
    }))
}

/// Runs `clamp3 quantize`.
pub fn run(ctx: &Ctx, a: &QuantizeArgs) -> Result<bool> {
    let recipe = recipe_of(a)?;
    if a.report {
        if a.output.is_some() {
            bail!("--report writes no model; give only the input model directory");
        }
        let recipes = match recipe {
            Some(r) => vec![r],
            None => {
                let mut all: Vec<Recipe> = [
                    Format::F16,
                    Format::Bf16,
                    Format::Q8_0,
                    Format::Q6K,
                    Format::Q4K,
                ]
                .into_iter()
                .map(Recipe::uniform)
                .collect();
                all.push(Recipe {
                    base: Format::Q8_0,
                    ffn: Some(Format::Q4K),
                    embeddings: None,
                });
                all
            }
        };
        return report(ctx, a, &recipes).map(|()| true);
    }
    let (Some(recipe), Some(out)) = (recipe, &a.output) else {
        bail!("give --to FORMAT, the input model directory and the output directory");
    };
    let written = quantize_dir(&a.input, out, &recipe)?;
    for (file, s) in &written {
        let kinds: Vec<String> = s
            .by_type
            .iter()
            .map(|(t, n, p)| format!("{t}: {n} tensors, {:.1}M parameters", *p as f64 / 1e6))
            .collect();
        eprintln!(
            "wrote {} ({:.1} MB; {})",
            file.display(),
            s.bytes as f64 / 1e6,
            kinds.join("; ")
        );
    }
    Ok(true)
}

/// Which kind of model a directory holds.
enum Kind {
    Clamp3(clamp3_model::ModelFiles),
    Mert(clamp3_model::MertFiles),
}

/// A CLaMP 3 or a MERT directory, told apart by the tensors (MERT has a convolutional feature
/// extractor), each located as its loader does (MERT's weights may be `pytorch_model.bin`).
fn kind_of(dir: &Path) -> Result<(Kind, Weights)> {
    let is_mert = |w: &Weights| {
        w.names()
            .iter()
            .any(|n| n.starts_with("feature_extractor.") || n.contains(".feature_extractor."))
    };
    if let Ok(m) = clamp3_model::MertFiles::locate(dir) {
        let weights = Weights::open(&m.weights)?;
        if is_mert(&weights) {
            return Ok((Kind::Mert(m), weights));
        }
    }
    let files = clamp3_model::ModelFiles::locate(dir)?;
    let weights = Weights::open(&files.weights)?;
    Ok((Kind::Clamp3(files), weights))
}

/// Converts the model in `input` into `out` (which must be new or empty): the weights as
/// `recipe` says, the other files (configuration, tokenizer) copied; a CLaMP 3 model's `mert/`
/// folder is converted into `out/mert`. Returns each weights file written.
pub fn quantize_dir(
    input: &Path,
    out: &Path,
    recipe: &Recipe,
) -> Result<Vec<(PathBuf, clamp3_model::quant::Summary)>> {
    if !input.is_dir() {
        bail!("{}: not a model directory", input.display());
    }
    if clamp3_util::fs::same_file(input, out) {
        bail!(
            "{} is the model being read; give another output directory",
            out.display()
        );
    }
    if out.exists() {
        let empty = out.is_dir()
            && std::fs::read_dir(out)
                .with_context(|| format!("cannot read {}", out.display()))?
                .next()
                .is_none();
        if !empty {
            bail!(
                "{} exists and is not an empty folder; give a new output directory",
                out.display()
            );
        }
    }
    let mut written = Vec::new();
    convert_one(input, out, recipe, &mut written)?;
    let mert = input.join("mert");
    if mert.is_dir() {
        convert_one(&mert, &out.join("mert"), recipe, &mut written)?;
    }
    Ok(written)
}

fn convert_one(
    input: &Path,
    out: &Path,
    recipe: &Recipe,
    written: &mut Vec<(PathBuf, clamp3_model::quant::Summary)>,
) -> Result<()> {
    let (kind, weights) = kind_of(input)?;
    let (weights_path, arch) = match &kind {
        Kind::Clamp3(f) => (f.weights.clone(), "clamp3"),
        Kind::Mert(m) => (m.weights.clone(), "mert"),
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let fingerprint = weights.fingerprint()?;
    let name = recipe.name();
    let dest = out.join(recipe.file_name());
    let summary = clamp3_model::quant::convert(
        &weights,
        recipe,
        &dest,
        &[
            ("general.architecture", arch),
            ("clamp3.recipe", &name),
            ("clamp3.source_fingerprint", &fingerprint),
        ],
    )?;
    // The other files of the model (configuration, tokenizer, ...), not other weights.
    for entry in
        std::fs::read_dir(input).with_context(|| format!("cannot read {}", input.display()))?
    {
        let path = entry?.path();
        let Some(file) = path.file_name() else {
            continue;
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let weights_like = ["safetensors", "pth", "bin", "gguf", "pt", "ckpt"].contains(&ext);
        if !path.is_file() || weights_like || path == weights_path || ext == "checksum" {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let to = out.join(file);
        clamp3_util::fs::write_atomic(&to, &bytes)
            .with_context(|| format!("cannot write {}", to.display()))?;
    }
    written.push((dest, summary));
    Ok(())
}

/// Resident memory now and at peak (`VmRSS`, `VmHWM` of /proc/self/status), in MB.
fn rss_mb() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1e3)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Measured {
    vectors: Vec<Option<Vec<f32>>>,
    load_s: f64,
    items_per_s: f64,
    rss_mb: f64,
    load_avg: String,
}

fn measure(ctx: &Ctx, model: &Path, inputs: &[Input], rounds: usize) -> Result<Measured> {
    // Kernel threads as configured, one process per format (no other model resident).
    let kinds: Vec<clamp3::InputKind> = inputs.iter().filter_map(Input::kind).collect();
    let t = Instant::now();
    let embedder = Embedder::for_kinds(model, &kinds, None, &ctx.device)
        .with_context(|| format!("cannot load {}", model.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let opts = EmbedOptions::default();
    let vectors: Vec<Option<Vec<f32>>> = embedder
        .embed(inputs, &opts)
        .into_iter()
        .map(|r| match r {
            Ok(e) => e.into_global(),
            Err(e) => {
                eprintln!("warning: {e}");
                None
            }
        })
        .collect();
    let t = Instant::now();
    for _ in 0..rounds {
        let _ = embedder.embed(inputs, &opts);
    }
    let secs = t.elapsed().as_secs_f64();
    Ok(Measured {
        vectors,
        load_s,
        items_per_s: (inputs.len() * rounds) as f64 / secs.max(1e-9),
        rss_mb: rss_mb().1,
        load_avg: load_average(),
    })
}

/// Runs `measure` for `model` in a fresh process of this program.
fn measure_in_child(model: &Path, a: &QuantizeArgs, products: Products) -> Result<Measured> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("quantize");
    match products {
        Products::Default => {}
        Products::Quantized => {
            cmd.arg("--load-quantized-matmul");
        }
        Products::F32 => {
            cmd.env("CLAMP3_TILE_PRODUCTS", "0");
        }
    }
    cmd.arg("--report")
        .arg("--measure-only")
        .arg("--rounds")
        .arg(a.rounds.to_string())
        .arg("--inputs")
        .args(&a.inputs)
        .arg("--")
        .arg(model);
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the measuring process")?;
    if !out.status.success() {
        bail!("measuring {} failed ({})", model.display(), out.status);
    }
    serde_json::from_slice(&out.stdout).context("unreadable measurement")
}

/// How a measuring process multiplies a reduced-precision model's layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Products {
    /// As models load by default (bf16 tiles where the CPU has them, else f32).
    Default,
    /// candle's quantised product on the GGML blocks.
    Quantized,
    /// f32, the weights dequantised at load.
    F32,
}

/// `clamp3 quantize --report`.
fn report(ctx: &Ctx, a: &QuantizeArgs, recipes: &[Recipe]) -> Result<()> {
    if a.inputs.is_empty() {
        bail!("--report needs --inputs: the files to embed with every format");
    }
    let (files, walk_errors) = clamp3::walk::collect(
        &a.inputs,
        |p| Input::Path(p.to_path_buf()).kind().is_some(),
        "",
    );
    for e in &walk_errors {
        eprintln!("warning: {}: {}", e.path.display(), e.msg);
    }
    let inputs: Vec<Input> = files.iter().map(|f| Input::Path(f.path.clone())).collect();
    if a.load_quantized_matmul {
        clamp3_model::quant::set_quantized_matmul(true);
    }
    if a.measure_only {
        let m = measure(ctx, &a.input, &inputs, a.rounds)?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    let modality: Vec<String> = inputs
        .iter()
        .map(|i| {
            i.kind()
                .map_or("?".into(), |k| k.modality().as_str().to_string())
        })
        .collect();
    if inputs.is_empty() {
        bail!("no inputs to embed under {:?}", a.inputs);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".clamp3-quantize-report-")
        .tempdir()
        .context("cannot create a temporary folder")?;
    let mut dirs = vec![("f32".to_string(), a.input.clone())];
    for r in recipes {
        let dir = tmp.path().join(r.name());
        let t = Instant::now();
        quantize_dir(&a.input, &dir, r)?;
        eprintln!(
            "converted to {} in {:.1} s",
            r.name(),
            t.elapsed().as_secs_f64()
        );
        dirs.push((r.name(), dir));
    }
    let mut results = Vec::new();
    // f32 again at the end: the spread of the two f32 runs shows how much the machine's other
    // load moved the figures in between.
    let mut order: Vec<(String, PathBuf, Products)> = dirs
        .iter()
        .map(|(n, d)| (n.clone(), d.clone(), Products::Default))
        .collect();
    if a.quantized_matmul {
        for (r, (name, dir)) in recipes.iter().zip(&dirs[1..]) {
            if r.is_gguf() {
                let name = format!("{name} (quantised matmul)");
                order.push((name, dir.clone(), Products::Quantized));
            }
        }
    }
    if a.f32_products {
        for (name, dir) in &dirs[1..] {
            order.push((format!("{name} (f32 products)"), dir.clone(), Products::F32));
        }
    }
    order.push((
        "f32 (again)".to_string(),
        a.input.clone(),
        Products::Default,
    ));
    for (name, dir, products) in &order {
        let m = measure_in_child(dir, a, *products)?;
        eprintln!(
            "{name}: load {:.2} s, {:.2} items/s, RSS {:.0} MB (load average {})",
            m.load_s, m.items_per_s, m.rss_mb, m.load_avg
        );
        results.push((name.clone(), dir.clone(), m));
    }
    let reference = &results[0].2.vectors;
    let mut modalities: Vec<&String> = modality.iter().collect();
    modalities.sort();
    modalities.dedup();
    let f32_size = dir_size(&a.input) as f64;
    println!("| format | modality | n | min cosine | mean cosine | items/s (x f32) | load s | RSS MB | size MB (x f32) | load avg |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let f32_speed = results[0].2.items_per_s;
    for (name, dir, m) in &results {
        let size = dir_size(dir) as f64;
        for md in &modalities {
            let cos: Vec<f64> = (0..inputs.len())
                .filter(|&i| &&modality[i] == md)
                .filter_map(|i| match (&reference[i], &m.vectors[i]) {
                    (Some(r), Some(v)) => Some(cosine(r, v)),
                    _ => None,
                })
                .collect();
            if cos.is_empty() {
                continue;
            }
            let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
            let mean = cos.iter().sum::<f64>() / cos.len() as f64;
            println!(
                "| {name} | {md} | {} | {min:.6} | {mean:.6} | {:.2} ({:.2}x) | {:.2} | {:.0} | {:.1} ({:.2}x) | {} |",
                cos.len(),
                m.items_per_s,
                m.items_per_s / f32_speed,
                m.load_s,
                m.rss_mb,
                size / 1e6,
                size / f32_size,
                m.load_avg
            );
        }
    }
    Ok(())
}
