//! Where a forward pass spends its time: each step of a BERT-base layer — as candle's ops ran
//! it before the kernels, and as `clamp3_model::kernels` runs it now — and of MERT's front end
//! on candle, timed separately at the official size.
//!
//!     cargo bench -p clamp3-model --bench profile [-- text|symbolic|mert]
//!
//! `text` is 8 x 128 tokens (XLM-R), `symbolic` 1 x 512 patches (M3), `mert` one 5 s window.
//! Each step is timed over 12 layers' worth of calls (one set of random weights), after a
//! warm-up; figures are milliseconds per forward. `BENCH_THREADS` sets the thread count
//! (default 2). Record the machine's other load beside the numbers (`/proc/loadavg`).

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor};

struct Steps {
    order: Vec<&'static str>,
    ms: BTreeMap<&'static str, f64>,
}

impl Steps {
    fn new() -> Self {
        Steps {
            order: Vec::new(),
            ms: BTreeMap::new(),
        }
    }

    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        let dt = t.elapsed().as_secs_f64() * 1e3;
        if !self.ms.contains_key(name) {
            self.order.push(name);
        }
        *self.ms.entry(name).or_default() += dt;
        r
    }

    fn print(&self, title: &str, runs: usize, gflop: f64) {
        let total: f64 = self.ms.values().sum::<f64>() / runs as f64;
        println!(
            "\n{title}: {total:.1} ms per forward ({:.1} GFLOP/s overall)",
            gflop / total * 1e3
        );
        for name in &self.order {
            let ms = self.ms[name] / runs as f64;
            println!("  {name:<34} {ms:>8.2} ms  {:>5.1} %", 100.0 * ms / total);
        }
    }
}

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / 16_777_216.0 - 0.5) * 0.2
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// The project's LayerNorm (two-pass, f64 moments), as the encoders use it.
fn project_layer_norm(h: usize) -> clamp3_model::bert::LayerNorm {
    let mut m = std::collections::HashMap::new();
    m.insert("weight".to_string(), (rand(&[h], 91) + 1.0).unwrap());
    m.insert("bias".to_string(), rand(&[h], 92));
    let vb = candle_nn::VarBuilder::from_tensors(m, DType::F32, &Device::Cpu);
    clamp3_model::bert::LayerNorm::load(h, 1e-12, vb).unwrap()
}

fn linear(o: usize, i: usize, seed: u64) -> candle_nn::Linear {
    candle_nn::Linear::new(rand(&[o, i], seed), Some(rand(&[o], seed + 1)))
}

/// The candle op sequence of `bert.rs`'s layer, each op timed.
fn candle_bert(b: usize, l: usize, runs: usize) {
    let (h, heads, inter) = (768, 12, 3072);
    let d = h / heads;
    let (q, k, v, o) = (
        linear(h, h, 1),
        linear(h, h, 3),
        linear(h, h, 5),
        linear(h, h, 7),
    );
    let (fi, fo) = (linear(inter, h, 9), linear(h, inter, 11));
    let norm = project_layer_norm(h);
    let mut mask = vec![0f32; b * l];
    for (row, m) in mask.chunks_mut(l).enumerate() {
        // Items of slightly different lengths, as a length-grouped batch has.
        for x in &mut m[l - row % 3..] {
            *x = f32::MIN;
        }
    }
    let bias = Tensor::from_vec(mask, (b, 1, 1, l), &Device::Cpu).unwrap();
    let x0 = rand(&[b, l, h], 13);
    let ln = |x: &Tensor| norm.forward(x).unwrap();
    let mut st = Steps::new();
    for run in 0..=runs {
        if run == 1 {
            st = Steps::new(); // the first forward is a warm-up
        }
        let mut x = x0.clone();
        for _ in 0..12 {
            let split = |t: Tensor| {
                t.reshape((b, l, heads, d))
                    .unwrap()
                    .transpose(1, 2)
                    .unwrap()
                    .contiguous()
                    .unwrap()
            };
            let qt = st.time("q/k/v linear (+bias)", || q.forward(&x).unwrap());
            let kt = st.time("q/k/v linear (+bias)", || k.forward(&x).unwrap());
            let vt = st.time("q/k/v linear (+bias)", || v.forward(&x).unwrap());
            let (qt, kt, vt) = st.time("split heads (transpose copies)", || {
                (split(qt), split(kt), split(vt))
            });
            let kt = st.time("k transpose view", || kt.t().unwrap());
            let s = st.time("QK^T batched matmul", || qt.matmul(&kt).unwrap());
            let s = st.time("scale", || (s / (d as f64).sqrt()).unwrap());
            let s = st.time("mask add", || s.broadcast_add(&bias).unwrap());
            let p = st.time("softmax", || candle_nn::ops::softmax_last_dim(&s).unwrap());
            let c = st.time("PV batched matmul", || p.matmul(&vt).unwrap());
            let c = st.time("merge heads (transpose copy)", || {
                c.transpose(1, 2)
                    .unwrap()
                    .contiguous()
                    .unwrap()
                    .reshape((b, l, h))
                    .unwrap()
            });
            let a = st.time("out linear (+bias)", || o.forward(&c).unwrap());
            let a = st.time("residual add", || (a + &x).unwrap());
            let a = st.time("LayerNorm", || ln(&a));
            let f = st.time("ff1 linear (+bias)", || fi.forward(&a).unwrap());
            let f = st.time("GELU (erf)", || f.gelu_erf().unwrap());
            let f = st.time("ff2 linear (+bias)", || fo.forward(&f).unwrap());
            let f = st.time("residual add", || (f + &a).unwrap());
            x = st.time("LayerNorm", || ln(&f));
        }
    }
    let macs = (b * l) as f64 * (4.0 * 768.0 * 768.0 + 2.0 * 768.0 * 3072.0)
        + 2.0 * (b * l * l) as f64 * 768.0;
    st.print(
        &format!("candle ops, BERT-base {b} x {l}"),
        runs,
        2.0 * macs * 12.0 / 1e9,
    );
}

/// MERT's feature encoder and positional convolution as `mert.rs` runs them on candle.
fn candle_mert_front(runs: usize) {
    let s = 120_000;
    let wave = rand(&[1, s], 21);
    let kernels = [10usize, 3, 3, 3, 3, 2, 2];
    let strides = [5usize, 2, 2, 2, 2, 2, 2];
    let ws: Vec<Tensor> = kernels
        .iter()
        .enumerate()
        .map(|(i, &k)| rand(&[512, if i == 0 { 1 } else { 512 }, k], 30 + i as u64))
        .collect();
    let gw = Tensor::ones(512, DType::F32, &Device::Cpu).unwrap();
    let gb = Tensor::zeros(512, DType::F32, &Device::Cpu).unwrap();
    let pw = rand(&[768, 48, 128], 40);
    let pb = rand(&[768], 41);
    let proj = linear(768, 512, 42);
    let pnorm = project_layer_norm(512);
    let mut st = Steps::new();
    for run in 0..=runs {
        if run == 1 {
            st = Steps::new();
        }
        let mut x = wave.reshape((1, 1, s)).unwrap();
        for (i, w) in ws.iter().enumerate() {
            let name: &'static str = [
                "conv0 (k10 s5)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv5-6 (k2 s2)",
                "conv5-6 (k2 s2)",
            ][i];
            x = st.time(name, || x.conv1d(w, 0, strides[i], 1, 1).unwrap());
            if i == 0 {
                // candle's GroupNorm as a stand-in for the crate's private two-pass kernel.
                let g = candle_nn::GroupNorm::new(gw.clone(), gb.clone(), 512, 512, 1e-5).unwrap();
                x = st.time("group norm (candle stand-in)", || g.forward(&x).unwrap());
            }
            x = st.time("conv GELU (erf)", || x.gelu_erf().unwrap());
        }
        let t = st.time("transpose to [T, C]", || {
            x.transpose(1, 2).unwrap().contiguous().unwrap()
        });
        let t = st.time("projection LayerNorm + linear", || {
            let n = pnorm.forward(&t).unwrap();
            proj.forward(&n).unwrap()
        });
        let xt = st.time("transpose to [C, T]", || {
            t.transpose(1, 2).unwrap().contiguous().unwrap()
        });
        let p = st.time("positional conv (groups 16, k128)", || {
            xt.conv1d(&pw, 64, 1, 1, 16).unwrap()
        });
        let _ = st.time("pos bias + GELU + residual", || {
            let tt = p.dim(2).unwrap();
            let p = p
                .narrow(2, 0, tt - 1)
                .unwrap()
                .broadcast_add(&pb.reshape((1, (), 1)).unwrap())
                .unwrap();
            (&t + p.gelu_erf().unwrap().transpose(1, 2).unwrap()).unwrap()
        });
    }
    st.print(
        "candle ops, MERT front end (one 5 s window)",
        runs,
        mert_front_gflop(),
    );
}

/// The same layer through `clamp3_model::kernels`, step by step as `layer_forward` runs it.
fn kernels_bert(b: usize, l: usize, runs: usize) {
    use clamp3_model::kernels::{attention, gemm, math, norm};
    use rayon::prelude::*;
    let (h, heads, inter) = (768usize, 12usize, 3072usize);
    let rows = b * l;
    let vals = |n: usize, seed: u64| rand(&[n], seed).to_vec1::<f32>().unwrap();
    let (wq, wk, wv, wo) = (
        vals(h * h, 1),
        vals(h * h, 3),
        vals(h * h, 5),
        vals(h * h, 7),
    );
    let (w1, w2) = (vals(inter * h, 9), vals(h * inter, 11));
    let bias = vals(inter, 12);
    let lnw: Vec<f32> = vals(h, 91).iter().map(|v| v + 1.0).collect();
    let lnb = vals(h, 92);
    let mut mask = vec![0f32; b * l];
    for (row, m) in mask.chunks_mut(l).enumerate() {
        for x in &mut m[l - row % 3..] {
            *x = f32::MIN;
        }
    }
    let x0 = vals(rows * h, 13);
    let mut qkv = vec![0f32; rows * 3 * h];
    let mut ctx = vec![0f32; rows * h];
    let mut hb = vec![0f32; rows * h];
    let mut ib = vec![0f32; rows * inter];
    let mut st = Steps::new();
    let shape = attention::AttentionShape {
        batch: b,
        len: l,
        heads,
        head_dim: h / heads,
    };
    for run in 0..=runs {
        if run == 1 {
            st = Steps::new();
        }
        let mut x = x0.clone();
        for _ in 0..12 {
            st.time("q/k/v bias prefill", || {
                qkv.par_chunks_mut(3 * h).for_each(|r| {
                    for i in 0..3 {
                        r[i * h..(i + 1) * h].copy_from_slice(&bias[..h]);
                    }
                })
            });
            st.time("q/k/v GEMMs (accumulate)", || {
                for (i, w) in [&wq, &wk, &wv].iter().enumerate() {
                    gemm::linear(
                        gemm::MatMut::columns(&mut qkv, rows, 3 * h, i * h, h),
                        true,
                        gemm::MatRef::rows(&x, rows, h),
                        w,
                        gemm::Threads::Pool,
                    );
                }
            });
            st.time("fused attention (QK^T, mask, softmax, PV)", || {
                let p = attention::Projections {
                    data: &qkv,
                    row_stride: 3 * h,
                    q: 0,
                    k: h,
                    v: 2 * h,
                };
                attention::attention(&mut ctx, p, shape, Some(&mask), 0.125);
            });
            st.time("residual + bias prefill", || {
                hb.par_chunks_mut(h)
                    .zip(x.par_chunks(h))
                    .for_each(|(d, s)| {
                        for ((o, &a), &c) in d.iter_mut().zip(s).zip(&bias) {
                            *o = a + c;
                        }
                    })
            });
            st.time("out GEMM (accumulate)", || {
                gemm::linear(
                    gemm::MatMut::rows(&mut hb, rows, h),
                    true,
                    gemm::MatRef::rows(&ctx, rows, h),
                    &wo,
                    gemm::Threads::Pool,
                )
            });
            st.time("LayerNorm", || {
                norm::layer_norm_rows(&mut hb, h, &lnw, &lnb, 1e-12)
            });
            st.time("ff1 GEMM", || {
                gemm::linear(
                    gemm::MatMut::rows(&mut ib, rows, inter),
                    false,
                    gemm::MatRef::rows(&hb, rows, h),
                    &w1,
                    gemm::Threads::Pool,
                )
            });
            st.time("bias + GELU", || {
                ib.par_chunks_mut(inter * 8)
                    .for_each(|c| math::bias_gelu_rows(c, &bias))
            });
            st.time("residual + bias prefill", || {
                x.par_chunks_mut(h)
                    .zip(hb.par_chunks(h))
                    .for_each(|(d, s)| {
                        for ((o, &a), &c) in d.iter_mut().zip(s).zip(&bias) {
                            *o = a + c;
                        }
                    })
            });
            st.time("ff2 GEMM (accumulate)", || {
                gemm::linear(
                    gemm::MatMut::rows(&mut x, rows, h),
                    true,
                    gemm::MatRef::rows(&ib, rows, inter),
                    &w2,
                    gemm::Threads::Pool,
                )
            });
            st.time("LayerNorm", || {
                norm::layer_norm_rows(&mut x, h, &lnw, &lnb, 1e-12)
            });
        }
    }
    let macs = rows as f64 * (4.0 * 768.0 * 768.0 + 2.0 * 768.0 * 3072.0)
        + 2.0 * (b * l * l) as f64 * 768.0;
    st.print(
        &format!("kernels, BERT-base {b} x {l}"),
        runs,
        2.0 * macs * 12.0 / 1e9,
    );
}

/// MERT's front end through `clamp3_model::kernels`, as `mert.rs` runs it.
fn kernels_mert_front(runs: usize) {
    use clamp3_model::kernels::{conv, gemm, math, norm};
    use rayon::prelude::*;
    let s = 120_000;
    let vals = |n: usize, seed: u64| rand(&[n], seed).to_vec1::<f32>().unwrap();
    let wave = vals(s, 21);
    let kernels = [10usize, 3, 3, 3, 3, 2, 2];
    let strides = [5usize, 2, 2, 2, 2, 2, 2];
    let ws: Vec<Vec<f32>> = kernels
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let c_in = if i == 0 { 1 } else { 512 };
            conv::kernel_major(&vals(512 * c_in * k, 30 + i as u64), 512, c_in, k)
        })
        .collect();
    let ones = vec![1f32; 768];
    let zeros = vec![0f32; 768];
    let pw = conv::kernel_major(&vals(768 * 48 * 128, 40), 768, 48, 128);
    let pb = vals(768, 41);
    let proj = vals(768 * 512, 42);
    let mut st = Steps::new();
    for run in 0..=runs {
        if run == 1 {
            st = Steps::new();
        }
        let mut x = wave.clone();
        let mut c_in = 1;
        for (i, w) in ws.iter().enumerate() {
            let name: &'static str = [
                "conv0 (k10 s5)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv1-4 (k3 s2)",
                "conv5-6 (k2 s2)",
                "conv5-6 (k2 s2)",
            ][i];
            let t_out = conv::out_frames(x.len() / c_in, kernels[i], strides[i]);
            let mut out = vec![0f32; t_out * 512];
            st.time(name, || {
                conv::conv1d(&mut out, false, &x, c_in, w, kernels[i], strides[i])
            });
            if i == 0 {
                st.time("group norm", || {
                    norm::channel_norm_time_major(&mut out, 512, &ones[..512], &zeros[..512], 1e-5)
                });
            }
            st.time("conv GELU (erf)", || {
                out.par_chunks_mut(1 << 14).for_each(math::gelu_in_place)
            });
            x = out;
            c_in = 512;
        }
        let t = x.len() / 512;
        let mut hdn = vec![0f32; t * 768];
        st.time("projection LayerNorm + linear", || {
            norm::layer_norm_rows(&mut x, 512, &ones[..512], &zeros[..512], 1e-5);
            gemm::linear(
                gemm::MatMut::rows(&mut hdn, t, 768),
                false,
                gemm::MatRef::rows(&x, t, 512),
                &proj,
                gemm::Threads::Pool,
            );
        });
        let mut pos = vec![0f32; t * 768];
        st.time("positional conv (groups 16, k128)", || {
            conv::grouped_conv1d_same(&mut pos, &hdn, 768, 16, &pw, 128, 64)
        });
        st.time("pos bias + GELU + residual", || {
            math::bias_gelu_rows(&mut pos, &pb);
            norm::add_in_place(&mut hdn, &pos);
        });
    }
    st.print(
        "kernels, MERT front end (one 5 s window)",
        runs,
        mert_front_gflop(),
    );
}

/// Products of MERT's front end on one 5 s window, in GFLOP.
fn mert_front_gflop() -> f64 {
    let kernels = [10usize, 3, 3, 3, 3, 2, 2];
    let strides = [5usize, 2, 2, 2, 2, 2, 2];
    let mut n = 120_000;
    let mut macs = 0f64;
    for (i, (&k, &s)) in kernels.iter().zip(&strides).enumerate() {
        n = (n - k) / s + 1;
        macs += 512.0 * (if i == 0 { 1.0 } else { 512.0 }) * k as f64 * n as f64;
    }
    macs += 768.0 * 48.0 * 128.0 * n as f64 + n as f64 * 512.0 * 768.0;
    2.0 * macs / 1e9
}

fn main() {
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |w: &str| which.is_empty() || which.iter().any(|a| a == w);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "profile, {threads} threads; load average before: {}",
        load.trim()
    );
    pool.install(|| {
        if want("text") {
            candle_bert(8, 128, 2);
            kernels_bert(8, 128, 2);
        }
        if want("symbolic") {
            candle_bert(1, 512, 2);
            kernels_bert(1, 512, 2);
        }
        if want("mert") {
            candle_mert_front(2);
            kernels_mert_front(2);
            candle_bert(1, 374, 2);
            kernels_bert(1, 374, 2);
        }
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
}
