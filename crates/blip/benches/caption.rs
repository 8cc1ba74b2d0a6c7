//! Captioning speed at the size of `Salesforce/blip-image-captioning-base` (synthetic weights):
//! one image through decoding, preprocessing, the ViT and 19 greedy decoder steps, beside the
//! reference path in PyTorch (`scripts/bench/blip_torch.py`) when `CLAMP3_BENCH_PYTHON` names
//! a Python with torch, transformers and pillow.
//!
//!     cargo bench -p clamp3-blip --bench caption [-- PAIRS]      (default 5)
//!
//! Runs are interleaved in pairs (Rust, then PyTorch, on the same image) with the 1-minute load
//! average read before each pair, since the machine may be shared. Also prints the ViT alone
//! on both sides (equal work: transformers recomputes the cross-attention keys and values of
//! the image at every decoding step, this crate once per image, so the full captions are not
//! equal work), a batch of 4 images, and the fraction of the machine's measured matrix-product
//! rate that the ViT reaches.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use candle_core::{Device, Tensor};
use clamp3_blip::{preprocess, synthetic, BlipModel, PreprocessorConfig};

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Torch {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Torch {
    fn start(python: &str) -> Option<Torch> {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/blip_torch.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut out = BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        out.read_line(&mut line).ok()?;
        (line.trim() == "ready").then_some(Torch { child, out })
    }

    fn run(&mut self, cmd: &str, path: &Path) -> (f64, Vec<u32>) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{cmd} {}", path.display()).expect("write to torch");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("torch answer");
        let v: serde_json::Value = serde_json::from_str(&line).expect("torch JSON");
        let ids = v["ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64())
                    .map(|x| x as u32)
                    .collect()
            })
            .unwrap_or_default();
        (v["seconds"].as_f64().unwrap_or(f64::NAN), ids)
    }
}

/// GFLOP/s of a large float32 matrix product on this machine (the practical limit).
fn matmul_rate(dev: &Device) -> f64 {
    let n = 2048;
    let a = Tensor::randn(0f32, 1.0, (n, n), dev).expect("a");
    let b = Tensor::randn(0f32, 1.0, (n, n), dev).expect("b");
    let _ = a.matmul(&b).expect("warm-up");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let _ = a.matmul(&b).expect("matmul");
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

fn main() {
    let pairs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let dev = Device::Cpu;
    let image: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/blip/images/render_rgba_500x300.png");
    let bytes = std::fs::read(&image).expect("fixture image");
    let t = Instant::now();
    let cfg = synthetic::official_config();
    let model = BlipModel::load(&cfg, synthetic::var_builder(&dev), &dev).expect("model");
    println!(
        "BLIP captioning benchmark: official size (ViT-B/16 at 384, 12-layer decoder, vocab 30524), synthetic weights; model built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let pre = PreprocessorConfig::default();
    let caption = |b: &[u8]| -> Vec<u32> {
        let (px, s) = preprocess(b, &pre).expect("preprocess");
        let px = Tensor::from_vec(px, (1, s[0], s[1], s[2]), &dev).expect("tensor");
        model.generate(&px).expect("generate").remove(0)
    };
    let vision = |b: &[u8]| {
        let (px, s) = preprocess(b, &pre).expect("preprocess");
        let px = Tensor::from_vec(px, (1, s[0], s[1], s[2]), &dev).expect("tensor");
        model.image_embeddings(&px).expect("vision");
    };
    let rust_ids = caption(&bytes); // warm-up
    let mut torch = std::env::var("CLAMP3_BENCH_PYTHON")
        .ok()
        .and_then(|py| Torch::start(&py));
    if let Some(tc) = torch.as_mut() {
        let (_, ids) = tc.run("caption", &image); // warm-up
        println!(
            "same caption ids on both sides (equal decoding work): {}",
            ids == rust_ids
        );
    } else {
        println!("PyTorch not run: set CLAMP3_BENCH_PYTHON for the side-by-side ratio");
    }
    let (mut rc, mut tcs, mut rv, mut tv) = (vec![], vec![], vec![], vec![]);
    for i in 0..pairs {
        let load = load1();
        let t = Instant::now();
        let _ = caption(&bytes);
        let r = t.elapsed().as_secs_f64();
        let t = Instant::now();
        vision(&bytes);
        let v = t.elapsed().as_secs_f64();
        rc.push(r);
        rv.push(v);
        match torch.as_mut() {
            Some(tc) => {
                let (tcap, _) = tc.run("caption", &image);
                let (tvis, _) = tc.run("vision", &image);
                tcs.push(tcap);
                tv.push(tvis);
                println!(
                    "pair {i}: load {load:.2}  caption rust {r:.2} s torch {tcap:.2} s (x{:.2})  vision rust {v:.2} s torch {tvis:.2} s (x{:.2})",
                    tcap / r,
                    tvis / v
                );
            }
            None => {
                println!("run {i}: load {load:.2}  caption rust {r:.2} s  vision rust {v:.2} s")
            }
        }
    }
    let (mrc, mrv) = (median(&mut rc), median(&mut rv));
    println!("median caption: rust {mrc:.2} s per image; vision alone {mrv:.2} s");
    if !tcs.is_empty() {
        let (mtc, mtv) = (median(&mut tcs), median(&mut tv));
        println!(
            "median caption: torch {mtc:.2} s (ratio torch/rust {:.2}); vision alone torch {mtv:.2} s (ratio {:.2})",
            mtc / mrc,
            mtv / mrv
        );
    }
    // Batch of 4 through the model together vs one by one.
    let four: Vec<Tensor> = (0..4)
        .map(|_| {
            let (px, s) = preprocess(&bytes, &pre).expect("preprocess");
            Tensor::from_vec(px, (s[0], s[1], s[2]), &dev).expect("tensor")
        })
        .collect();
    let px4 = Tensor::stack(&four, 0).expect("stack");
    let load = load1();
    let t = Instant::now();
    let out = model.generate(&px4).expect("batch");
    let b = t.elapsed().as_secs_f64() / 4.0;
    assert!(out.iter().all(|ids| *ids == rust_ids));
    println!("batch of 4: {b:.2} s per image (load {load:.2}); one at a time {mrc:.2} s");
    let vit_flop = {
        let (t, d, f, l) = (577f64, 768f64, 3072f64, 12f64);
        l * (2.0 * t * (4.0 * d * d + 2.0 * d * f) + 4.0 * t * t * d)
    };
    let rate = matmul_rate(&dev);
    println!(
        "ViT: {:.0} GFLOP in {mrv:.2} s = {:.0} GFLOP/s; a 2048^3 matmul here reaches {rate:.0} GFLOP/s: {:.0}% of it",
        vit_flop / 1e9,
        vit_flop / mrv / 1e9,
        100.0 * vit_flop / mrv / 1e9 / rate
    );
    if let Some(mut tc) = torch {
        drop(tc.child.stdin.take());
        let _ = tc.child.wait();
    }
}
