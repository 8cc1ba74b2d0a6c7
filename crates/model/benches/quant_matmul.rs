//! The matrix products of the encoders' linears at BERT-base shapes: f32 through the kernels'
//! GEMM (weights `[in, out]`, as inference keeps them) against candle's quantised `QMatMul`
//! (Q8_0 and Q4_K weights; activations quantised on the fly, AVX-512 VNNI kernels where the
//! CPU has them). Prints GFLOP/s and the ratio to f32 per shape, interleaved rounds, with the
//! load average: whether a quantised forward can beat the f32 one on this machine.
//!
//!     cargo bench -p clamp3-model --bench quant_matmul [-- --runs N]

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use clamp3_model::kernels::gemm::{matmul, MatMut, MatRef, Threads};

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dev = Device::Cpu;
    // (rows, in, out): a short text, a batch of segments; attention-sized and FFN-sized.
    let shapes = [
        (24, 768, 768),
        (24, 768, 3072),
        (512, 768, 768),
        (512, 768, 3072),
        (512, 3072, 768),
    ];
    for (m, k, n) in shapes {
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.05)
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 104729 % 1000) as f32 / 1000.0 - 0.5))
            .collect();
        // f32: weight transposed to [in, out], as bert::linear keeps it.
        let wt = clamp3_model::kernels::gemm::transpose(&w, n, k);
        let wt_tensor = Tensor::from_vec(w.clone(), (n, k), &dev).unwrap();
        let xt = Tensor::from_vec(x.clone(), (m, k), &dev).unwrap();
        let q8 =
            QMatMul::from_qtensor(QTensor::quantize(&wt_tensor, GgmlDType::Q8_0).unwrap()).unwrap();
        let q4 =
            QMatMul::from_qtensor(QTensor::quantize(&wt_tensor, GgmlDType::Q4K).unwrap()).unwrap();
        let mut out = vec![0f32; m * n];
        let flops = 2.0 * (m * k * n) as f64;
        let f32_run = |out: &mut Vec<f32>| {
            let t = Instant::now();
            matmul(
                MatMut::rows(out, m, n),
                false,
                MatRef::rows(&x, m, k),
                MatRef::rows(&wt, k, n),
                1.0,
                Threads::Pool,
            );
            t.elapsed().as_secs_f64()
        };
        let q_run = |q: &QMatMul| {
            let t = Instant::now();
            let y = q.forward(&xt).unwrap();
            let _ = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            t.elapsed().as_secs_f64()
        };
        // Warm-up (the quantised path repacks its weights on first use).
        f32_run(&mut out);
        q_run(&q8);
        q_run(&q4);
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        let before = load1();
        for _ in 0..runs {
            a.push(f32_run(&mut out));
            b.push(q_run(&q8));
            c.push(q_run(&q4));
        }
        let (a, b, c) = (median(a), median(b), median(c));
        println!(
            "{{\"m\":{m},\"k\":{k},\"n\":{n},\"f32_gflops\":{:.1},\"q8_0_gflops\":{:.1},\"q4_k_gflops\":{:.1},\"q8_0_x\":{:.2},\"q4_k_x\":{:.2},\"load_before\":\"{before}\",\"load_after\":\"{}\"}}",
            flops / a / 1e9,
            flops / b / 1e9,
            flops / c / 1e9,
            a / b,
            a / c,
            load1()
        );
    }
}
