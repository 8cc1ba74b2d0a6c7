//! The matrix products of the encoders' linears at BERT-base shapes: f32 through the kernels'
//! GEMM (weights `[in, out]`, as inference keeps them) against candle's quantised `QMatMul`
//! (Q8_0 and Q4_K weights; activations quantised on the fly, AVX-512 VNNI kernels where the
//! CPU has them). Prints GFLOP/s and the ratio to f32 per shape, interleaved rounds, with the
//! load average: whether a quantised forward can beat the f32 one on this machine. Then whole
//! BERT-base layers (`kernels::encoder::layer_forward`: the five products plus attention, GELU,
//! LayerNorms) with f32, Q8_0 and Q4_K linears, for batches of short and long segments. Where
//! the CPU has AMX-BF16 tiles, a last column: the same weights in bf16 on the tiles
//! (`kernels::bf16_tiles`, what reduced-precision models use there).
//!
//!     cargo bench -p clamp3-model --bench quant_matmul [-- --runs N]

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use clamp3_model::kernels::attention::AttentionShape;
use clamp3_model::kernels::bf16_tiles::{self, TileWeight};
use clamp3_model::kernels::encoder::{
    layer_forward, LayerRef, LinearRef, NormRef, WeightRef, Workspace,
};
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

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104729) % 1000) as f32 / 1000.0 - 0.5) * 0.05)
        .collect()
}

fn make_layer<'a>(
    ws: [WeightRef<'a>; 6],
    biases: &'a [Vec<f32>],
    norm: NormRef<'a>,
) -> LayerRef<'a> {
    let lin = |i: usize| LinearRef {
        weight: ws[i],
        bias: &biases[i],
    };
    LayerRef {
        query: lin(0),
        key: lin(1),
        value: lin(2),
        output: lin(3),
        attention_norm: norm,
        intermediate: lin(4),
        feed_forward_output: lin(5),
        output_norm: norm,
    }
}

/// One BERT-base layer (hidden 768, 12 heads, intermediate 3072) over `batch` x `len`
/// positions, f32 against Q8_0 and Q4_K linears, interleaved.
fn layers(batch: usize, len: usize, runs: usize) {
    let (h, inter) = (768, 3072);
    let dev = Device::Cpu;
    let shapes = [(h, h), (h, h), (h, h), (h, h), (inter, h), (h, inter)];
    // f32 weights [in, out] (the layout inference keeps), and the same quantised [out, in].
    let w: Vec<Vec<f32>> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(o, k))| values(o * k, i))
        .collect();
    let wt: Vec<Vec<f32>> = w
        .iter()
        .zip(shapes)
        .map(|(w, (o, k))| clamp3_model::kernels::gemm::transpose(w, o, k))
        .collect();
    let q = |g: GgmlDType| -> Vec<QMatMul> {
        w.iter()
            .zip(shapes)
            .map(|(w, (o, k))| {
                let t = Tensor::from_slice(w, (o, k), &dev).unwrap();
                QMatMul::from_qtensor(QTensor::quantize(&t, g).unwrap()).unwrap()
            })
            .collect()
    };
    let (q8, q4) = (q(GgmlDType::Q8_0), q(GgmlDType::Q4K));
    let tiles = bf16_tiles::available().then(|| {
        w.iter()
            .zip(shapes)
            .map(|(w, (o, k))| TileWeight::pack(w, o, k).unwrap())
            .collect::<Vec<_>>()
    });
    let biases: Vec<Vec<f32>> = shapes.iter().map(|&(o, _)| vec![0.01; o]).collect();
    let (ones, zeros) = (vec![1.0f32; h], vec![0.0f32; h]);
    let norm = NormRef {
        weight: &ones,
        bias: &zeros,
        eps: 1e-5,
    };
    let layer = |ws| make_layer(ws, &biases, norm);
    let f32_layer = layer(std::array::from_fn(|i| WeightRef::F32 {
        data: &wt[i],
        transposed: true,
    }));
    let q8_layer = layer(std::array::from_fn(|i| WeightRef::Quantized(&q8[i])));
    let q4_layer = layer(std::array::from_fn(|i| WeightRef::Quantized(&q4[i])));
    let tiles_layer = tiles
        .as_ref()
        .map(|t| layer(std::array::from_fn(|i| WeightRef::Bf16Tiles(&t[i]))));
    let shape = AttentionShape {
        batch,
        len,
        heads: 12,
        head_dim: 64,
    };
    let x0 = values(batch * len * h, 9);
    let mut ws = Workspace::new();
    let mut time = |p: &LayerRef<'_>| {
        let mut x = x0.clone();
        let t = Instant::now();
        layer_forward(&mut x, shape, None, p, &mut ws).unwrap();
        t.elapsed().as_secs_f64()
    };
    for p in [&f32_layer, &q8_layer, &q4_layer]
        .into_iter()
        .chain(tiles_layer.as_ref())
    {
        time(p);
    }
    let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let before = load1();
    for _ in 0..runs {
        a.push(time(&f32_layer));
        b.push(time(&q8_layer));
        c.push(time(&q4_layer));
        if let Some(p) = &tiles_layer {
            d.push(time(p));
        }
    }
    let (a, b, c) = (median(a), median(b), median(c));
    let tiles = if d.is_empty() {
        String::new()
    } else {
        let d = median(d);
        format!(
            ",\"bf16_tiles_ms\":{:.2},\"bf16_tiles_x\":{:.2}",
            d * 1e3,
            a / d
        )
    };
    println!(
        "{{\"layer\":\"{batch}x{len}\",\"f32_ms\":{:.2},\"q8_0_ms\":{:.2},\"q4_k_ms\":{:.2},\"q8_0_x\":{:.2},\"q4_k_x\":{:.2}{tiles},\"load_before\":\"{before}\",\"load_after\":\"{}\"}}",
        a * 1e3,
        b * 1e3,
        c * 1e3,
        a / b,
        a / c,
        load1()
    );
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
            .map(|i| (i * 104729 % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        // f32: weight transposed to [in, out], as bert::linear keeps it.
        let wt = clamp3_model::kernels::gemm::transpose(&w, n, k);
        let wt_tensor = Tensor::from_vec(w.clone(), (n, k), &dev).unwrap();
        let xt = Tensor::from_vec(x.clone(), (m, k), &dev).unwrap();
        let q8 =
            QMatMul::from_qtensor(QTensor::quantize(&wt_tensor, GgmlDType::Q8_0).unwrap()).unwrap();
        let q4 =
            QMatMul::from_qtensor(QTensor::quantize(&wt_tensor, GgmlDType::Q4K).unwrap()).unwrap();
        let tiles = bf16_tiles::available().then(|| TileWeight::pack(&w, n, k).unwrap());
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
        let tiles_run = |out: &mut Vec<f32>, w: &TileWeight| {
            let t = Instant::now();
            w.product(
                MatMut::rows(out, m, n),
                false,
                MatRef::rows(&x, m, k),
                Threads::Pool,
            );
            t.elapsed().as_secs_f64()
        };
        if let Some(w) = &tiles {
            tiles_run(&mut out, w);
        }
        let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let before = load1();
        for _ in 0..runs {
            a.push(f32_run(&mut out));
            b.push(q_run(&q8));
            c.push(q_run(&q4));
            if let Some(w) = &tiles {
                d.push(tiles_run(&mut out, w));
            }
        }
        let (a, b, c) = (median(a), median(b), median(c));
        let tiles = if d.is_empty() {
            String::new()
        } else {
            let d = median(d);
            format!(
                ",\"bf16_tiles_gflops\":{:.1},\"bf16_tiles_x\":{:.2}",
                flops / d / 1e9,
                a / d
            )
        };
        println!(
            "{{\"m\":{m},\"k\":{k},\"n\":{n},\"f32_gflops\":{:.1},\"q8_0_gflops\":{:.1},\"q4_k_gflops\":{:.1},\"q8_0_x\":{:.2},\"q4_k_x\":{:.2}{tiles},\"load_before\":\"{before}\",\"load_after\":\"{}\"}}",
            flops / a / 1e9,
            flops / b / 1e9,
            flops / c / 1e9,
            a / b,
            a / c,
            load1()
        );
    }
    for (batch, len) in [(1, 24), (8, 24), (8, 128), (1, 512), (4, 512)] {
        layers(batch, len, runs);
    }
}
