//! Encoder-level throughput at the official size (synthetic weights): items/s, GFLOP/s, the
//! fraction of the GEMM limit each encoder's forward pass reaches, peak RSS, page faults per
//! forward, and thread scaling.
//!
//!     cargo bench -p clamp3-model --bench encoders [-- CASE...] [--threads 1,2] [--runs N]
//!         [--candle] [--plain-weights]
//!
//! Cases: `gemm` (the machine's GEMM rate at BERT shapes, through the same call the forward
//! makes), `text` (XLM-R, 8 x 128 tokens), `text1` (1 x 128), `text24` (1 x 24, a short
//! text alone), `symbolic` (M3, 1 x 512
//! patches), `symbolic8` (8 x 64), `audio` (the audio encoder, 1 x 128 vectors), `mert`
//! (MERT-v1-95M, one 5 s window). Every case runs in its own process (so that its peak RSS is
//! its own) and prints one JSON line per thread count and path; `--candle` adds the same
//! forward with the kernels turned off (candle's ops); `--plain-weights` loads the linear
//! weights in PyTorch's `[out, in]` layout instead of the kernels' `[in, out]`.
//!
//! "% of GEMM" is the time the forward's own products (each at the best rate measured for its
//! shape, in either weight layout; attention at the best of those rates) would take, over
//! the forward's time: 100 %
//! means nothing but GEMM at the measured limit. Each round times one forward and then
//! measures those rates, so both see the same share of a shared machine; figures are medians
//! over `--runs` rounds after a warm-up, with `/proc/loadavg` before and after. Figures taken
//! while other work loads the machine are not comparable across runs: record the load.

use std::process::Command;
use std::time::Instant;

use candle_core::{Device, Tensor};
use clamp3_model::kernels::{self, gemm};
use clamp3_model::mert::{Mert, MertConfig};
use clamp3_model::{synthetic, BertConfig, Clamp3Config, Clamp3Model, Modality, Parts};

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Minor page faults of this process so far (each one maps and zeroes a fresh page).
fn minor_faults() -> u64 {
    // Field 10 of /proc/self/stat (after the parenthesised command name).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().nth(7))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / 16_777_216.0 - 0.5) * 0.2
        })
        .collect()
}

/// Multiply-adds of a BERT forward (products only).
fn bert_macs(c: &BertConfig, batch: usize, len: usize) -> f64 {
    let shape = kernels::attention::AttentionShape {
        batch,
        len,
        heads: c.num_attention_heads,
        head_dim: c.hidden_size / c.num_attention_heads,
    };
    c.num_hidden_layers as f64 * kernels::encoder::layer_macs(shape, c.intermediate_size) as f64
}

/// Multiply-adds of MERT on one window of `samples`.
fn mert_macs(c: &MertConfig, samples: usize) -> f64 {
    let mut n = samples;
    let mut macs = 0f64;
    let mut c_in = 1;
    for ((&k, &s), &c_out) in c.conv_kernel.iter().zip(&c.conv_stride).zip(&c.conv_dim) {
        n = (n - k) / s + 1;
        macs += (c_in * c_out * k * n) as f64;
        c_in = c_out;
    }
    let h = c.hidden_size;
    macs += (n * c_in * h) as f64; // feature projection
    macs += (h * (h / c.num_conv_pos_embedding_groups) * c.num_conv_pos_embeddings * n) as f64;
    let b = BertConfig {
        hidden_size: h,
        num_hidden_layers: c.num_hidden_layers,
        num_attention_heads: c.num_attention_heads,
        intermediate_size: c.intermediate_size,
        ..BertConfig::clamp3_audio()
    };
    macs + bert_macs(&b, 1, n)
}

/// The GEMM ceiling: `out[m, n] = x[m, k] · w[n, k]ᵀ` through the kernels' GEMM call.
fn gemm_case(runs: usize) -> Vec<(String, f64)> {
    let shapes = [
        (1024, 768, 768),
        (1024, 3072, 768),
        (1024, 768, 3072),
        (512, 768, 768),
        (512, 3072, 768),
        (512, 768, 3072),
        (128, 768, 768),
        (128, 3072, 768),
        (24, 768, 768),
        (24, 3072, 768),
        (24, 768, 3072),
    ];
    let mut out = Vec::new();
    for (m, n, k) in shapes {
        let x = values(m * k, 1);
        let w = values(n * k, 2);
        let mut dst = vec![0f32; m * n];
        // Both weight layouts (`[out, in]`, `[in, out]`), interleaved; the faster median.
        let mut times = [Vec::new(), Vec::new()];
        for r in 0..=runs.max(5) {
            for (layout, ts) in times.iter_mut().enumerate() {
                let t = Instant::now();
                if layout == 1 {
                    gemm::matmul(
                        gemm::MatMut::rows(&mut dst, m, n),
                        false,
                        gemm::MatRef::rows(&x, m, k),
                        gemm::MatRef::rows(&w, k, n),
                        1.0,
                        gemm::Threads::Pool,
                    );
                } else {
                    gemm::linear(
                        gemm::MatMut::rows(&mut dst, m, n),
                        false,
                        gemm::MatRef::rows(&x, m, k),
                        &w,
                        gemm::Threads::Pool,
                    );
                }
                if r > 0 {
                    ts.push(t.elapsed().as_secs_f64());
                }
            }
        }
        let [a, b] = times;
        let times = if median(a.clone()) < median(b.clone()) {
            a
        } else {
            b
        };
        let gflops = 2.0 * (m * n * k) as f64 / median(times) / 1e9;
        out.push((format!("{m}x{n}x{k}"), gflops));
    }
    out
}

struct Forward {
    items: usize,
    macs: f64,
    /// The forward's dense products `(m, n, k, count)`; the rest of `macs` (attention) is
    /// counted at the best of their rates.
    gemms: Vec<(usize, usize, usize, usize)>,
    run: Box<dyn FnMut() + Send>,
}

/// Dense products of a BERT forward over `rows` positions.
fn bert_gemms(c: &BertConfig, rows: usize) -> Vec<(usize, usize, usize, usize)> {
    let (h, i, l) = (c.hidden_size, c.intermediate_size, c.num_hidden_layers);
    vec![(rows, h, h, 4 * l), (rows, i, h, l), (rows, h, i, l)]
}

/// Dense products of MERT on one window of `samples`.
fn mert_gemms(c: &MertConfig, samples: usize) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    let mut n = samples;
    let mut c_in = 1;
    for ((&k, &s), &c_out) in c.conv_kernel.iter().zip(&c.conv_stride).zip(&c.conv_dim) {
        n = (n - k) / s + 1;
        out.push((n, c_out, k * c_in, 1));
        c_in = c_out;
    }
    let h = c.hidden_size;
    let g = c.num_conv_pos_embedding_groups;
    out.push((n, h, c_in, 1));
    out.push((n, h / g, (h / g) * c.num_conv_pos_embeddings, g));
    let b = BertConfig {
        hidden_size: h,
        num_hidden_layers: c.num_hidden_layers,
        num_attention_heads: c.num_attention_heads,
        intermediate_size: c.intermediate_size,
        ..BertConfig::clamp3_audio()
    };
    out.extend(bert_gemms(&b, n));
    out
}

/// Seconds the forward's products take at the GEMM rates measured now for their own shapes
/// (each shape: the best of three calls in either weight layout): the forward's time at the
/// GEMM limit.
fn gemm_limit_seconds(f: &Forward) -> f64 {
    let mut dense_macs = 0f64;
    let mut secs = 0f64;
    let mut best_rate = 0f64;
    let mut seen: Vec<((usize, usize, usize), f64)> = Vec::new();
    for &(m, n, k, count) in &f.gemms {
        let rate = match seen.iter().find(|(s, _)| *s == (m, n, k)) {
            Some((_, r)) => *r,
            None => {
                let x = values(m * k, 5);
                let w = values(n * k, 6);
                let mut dst = vec![0f32; m * n];
                // The faster of the weight layouts, `[out, in]` and `[in, out]`.
                let mut best = f64::MAX;
                for _ in 0..3 {
                    for transposed in [false, true] {
                        let t = Instant::now();
                        if transposed {
                            gemm::matmul(
                                gemm::MatMut::rows(&mut dst, m, n),
                                false,
                                gemm::MatRef::rows(&x, m, k),
                                gemm::MatRef::rows(&w, k, n),
                                1.0,
                                gemm::Threads::Pool,
                            );
                        } else {
                            gemm::linear(
                                gemm::MatMut::rows(&mut dst, m, n),
                                false,
                                gemm::MatRef::rows(&x, m, k),
                                &w,
                                gemm::Threads::Pool,
                            );
                        }
                        best = best.min(t.elapsed().as_secs_f64());
                    }
                }
                let r = (m * n * k) as f64 / best;
                seen.push(((m, n, k), r));
                r
            }
        };
        best_rate = best_rate.max(rate);
        let macs = (m * n * k * count) as f64;
        dense_macs += macs;
        secs += macs / rate;
    }
    secs + (f.macs - dense_macs).max(0.0) / best_rate
}

fn encoder_case(case: &str) -> Forward {
    let dev = Device::Cpu;
    let cfg = Clamp3Config::default();
    let model = |m: Modality| {
        Clamp3Model::load(&cfg, Parts::of([m]), synthetic::var_builder(&dev)).expect("model")
    };
    match case {
        "text" | "text1" | "text24" => {
            let (b, l) = match case {
                "text" => (8, 128),
                "text1" => (1, 128),
                _ => (1, 24),
            };
            let m = model(Modality::Text);
            // Token ids of a real vocabulary range, no padding.
            let ids: Vec<u32> = (0..b * l)
                .map(|i| 5 + (i as u32 * 7919) % 200_000)
                .collect();
            let ids = Tensor::from_vec(ids, (b, l), &dev).unwrap();
            let mask = Tensor::ones((b, l), candle_core::DType::F32, &dev).unwrap();
            Forward {
                items: b,
                macs: bert_macs(&cfg.text_config, b, l),
                gemms: bert_gemms(&cfg.text_config, b * l),
                run: Box::new(move || {
                    m.global_features(Modality::Text, &ids, &mask).unwrap();
                }),
            }
        }
        "symbolic" | "symbolic8" => {
            let (b, p) = if case == "symbolic" {
                (1, 512)
            } else {
                (8, 64)
            };
            let m = model(Modality::Symbolic);
            let ids: Vec<u32> = (0..b * p * cfg.patch_size)
                .map(|i| (i as u32 * 31) % 128)
                .collect();
            let ids = Tensor::from_vec(ids, (b, p, cfg.patch_size), &dev).unwrap();
            let mask = Tensor::ones((b, p), candle_core::DType::F32, &dev).unwrap();
            Forward {
                items: b,
                macs: bert_macs(&cfg.symbolic_config, b, p),
                gemms: bert_gemms(&cfg.symbolic_config, b * p),
                run: Box::new(move || {
                    m.global_features(Modality::Symbolic, &ids, &mask).unwrap();
                }),
            }
        }
        "audio" => {
            let (b, l) = (1, 128);
            let m = model(Modality::Audio);
            let x = Tensor::from_vec(values(b * l * 768, 3), (b, l, 768), &dev).unwrap();
            let mask = Tensor::ones((b, l), candle_core::DType::F32, &dev).unwrap();
            Forward {
                items: b,
                macs: bert_macs(&cfg.audio_config, b, l),
                gemms: bert_gemms(&cfg.audio_config, b * l),
                run: Box::new(move || {
                    m.global_features(Modality::Audio, &x, &mask).unwrap();
                }),
            }
        }
        "mert" => {
            let c = MertConfig::default();
            let mert = Mert::load(&c, synthetic::var_builder(&dev)).expect("mert");
            let s = 5 * c.sample_rate;
            let wave = Tensor::from_vec(
                values(s, 4).iter().map(|v| v * 5.0).collect::<Vec<_>>(),
                (1, s),
                &dev,
            )
            .unwrap();
            Forward {
                items: 1,
                macs: mert_macs(&c, s),
                gemms: mert_gemms(&c, s),
                run: Box::new(move || {
                    mert.window_features(&wave).unwrap();
                }),
            }
        }
        other => panic!("unknown case {other}"),
    }
}

/// Runs one case in this process and prints JSON lines.
fn child(case: &str, threads: &[usize], runs: usize, candle: bool, plain_weights: bool) {
    if case == "gemm" {
        for &t in threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            let before = load1();
            let rates = pool.install(|| gemm_case(runs));
            let best = rates.iter().map(|r| r.1).fold(0.0, f64::max);
            let shapes: Vec<String> = rates
                .iter()
                .map(|(s, g)| format!("\"{s}\": {g:.1}"))
                .collect();
            println!(
                "{{\"case\": \"gemm\", \"threads\": {t}, \"best_gflops\": {best:.1}, \"shapes\": {{{}}}, \"load_before\": {before}, \"load_after\": {}}}",
                shapes.join(", "),
                load1()
            );
        }
        return;
    }
    // `--plain-weights`: load with the kernels off, so linear weights keep PyTorch's `[out,
    // in]` layout instead of the kernels' `[in, out]` (to measure what the layout buys).
    kernels::set_enabled(!plain_weights);
    let mut f = encoder_case(case);
    kernels::set_enabled(true);
    let mut paths = vec![("kernels", true)];
    if candle {
        paths.push(("candle", false));
    }
    for &t in threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap();
        for &(path, on) in &paths {
            kernels::set_enabled(on);
            let before = load1();
            let mut faults = 0;
            // Rounds alternate one timed forward and the GEMM limit of its products, so that
            // both see the same share of a shared machine; medians of each and of the ratio.
            let (times, limits): (Vec<f64>, Vec<f64>) = pool.install(|| {
                (f.run)();
                let mut fault_sum = 0;
                let r: Vec<(f64, f64)> = (0..runs)
                    .map(|_| {
                        let f0 = minor_faults();
                        let t = Instant::now();
                        (f.run)();
                        let dt = t.elapsed().as_secs_f64();
                        fault_sum += minor_faults() - f0;
                        (dt, gemm_limit_seconds(&f))
                    })
                    .collect();
                faults = fault_sum / runs as u64;
                r.into_iter().unzip()
            });
            let ratio = median(limits.iter().zip(&times).map(|(l, t)| l / t).collect());
            let s = median(times);
            println!(
                "{{\"case\": \"{case}\", \"path\": \"{path}\", \"threads\": {t}, \"seconds\": {s:.4}, \"items_per_s\": {:.3}, \"gflops\": {:.1}, \"gemm_limit_s\": {:.4}, \"pct_of_gemm\": {:.1}, \"peak_rss_mb\": {:.0}, \"faults_per_forward\": {faults}, \"load_before\": {before}, \"load_after\": {}}}",
                f.items as f64 / s,
                2.0 * f.macs / s / 1e9,
                median(limits),
                100.0 * ratio,
                peak_rss_mb(),
                load1()
            );
        }
    }
    kernels::set_enabled(true);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut cases = Vec::new();
    let mut threads = vec![1usize, 2];
    let mut runs = 5usize;
    let mut candle = false;
    let mut plain_weights = false;
    let mut child_case = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => {
                threads = it
                    .next()
                    .expect("--threads 1,2")
                    .split(',')
                    .map(|s| s.parse().expect("thread count"))
                    .collect()
            }
            "--runs" => runs = it.next().expect("--runs N").parse().expect("runs"),
            "--candle" => candle = true,
            "--plain-weights" => plain_weights = true,
            "--child" => child_case = it.next().cloned(),
            c => cases.push(c.to_string()),
        }
    }
    if let Some(case) = child_case {
        child(&case, &threads, runs, candle, plain_weights);
        return;
    }
    if cases.is_empty() {
        cases = [
            "gemm",
            "text",
            "text1",
            "text24",
            "symbolic",
            "symbolic8",
            "audio",
            "mert",
        ]
        .map(String::from)
        .to_vec();
    }
    let exe = std::env::current_exe().expect("bench executable");
    let tlist: Vec<String> = threads.iter().map(|t| t.to_string()).collect();
    let mut lines = Vec::new();
    for case in &cases {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--child",
            case,
            "--threads",
            &tlist.join(","),
            "--runs",
            &runs.to_string(),
        ]);
        if candle {
            cmd.arg("--candle");
        }
        if plain_weights {
            cmd.arg("--plain-weights");
        }
        let out = cmd.output().expect("run case");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            eprintln!(
                "case {case} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for l in text.lines() {
            println!("{l}");
            lines.push(l.to_string());
        }
    }
    summary(&lines);
}

/// A table from the JSON lines.
fn summary(lines: &[String]) {
    let field = |l: &str, k: &str| -> Option<String> {
        let at = l.find(&format!("\"{k}\": "))? + k.len() + 4;
        let rest = &l[at..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim().trim_matches('"').to_string())
    };
    let ceiling = |t: &str| -> Option<f64> {
        lines
            .iter()
            .find(|l| {
                field(l, "case").as_deref() == Some("gemm")
                    && field(l, "threads").as_deref() == Some(t)
            })
            .and_then(|l| field(l, "best_gflops")?.parse().ok())
    };
    println!(
        "\n{:<10} {:>8} {:>4} {:>9} {:>9} {:>8} {:>9} {:>8} {:>10}",
        "case", "path", "thr", "seconds", "items/s", "GFLOP/s", "% of GEMM", "RSS MB", "load b/a"
    );
    for l in lines {
        let Some(case) = field(l, "case") else {
            continue;
        };
        if case == "gemm" {
            continue;
        }
        let t = field(l, "threads").unwrap_or_default();
        let g: f64 = field(l, "gflops")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        let pct: f64 = field(l, "pct_of_gemm")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "{:<10} {:>8} {:>4} {:>9} {:>9} {:>8.1} {:>9.1} {:>8} {:>10}",
            case,
            field(l, "path").unwrap_or_default(),
            t,
            field(l, "seconds").unwrap_or_default(),
            field(l, "items_per_s").unwrap_or_default(),
            g,
            pct,
            field(l, "peak_rss_mb").unwrap_or_default(),
            format!(
                "{}/{}",
                field(l, "load_before").unwrap_or_default(),
                field(l, "load_after").unwrap_or_default()
            )
        );
    }
    for t in ["1", "2"] {
        if let Some(c) = ceiling(t) {
            println!("GEMM ceiling, {t} thread(s): {c:.1} GFLOP/s (best BERT shape in this run)");
        }
    }
}
