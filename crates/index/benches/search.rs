//! Search latency at several collection sizes (synthetic 768-d vectors around 1,000 cluster
//! centres, like embeddings of a varied collection): exact scan and HNSW, with HNSW recall@10
//! against the exact result.
//!
//!     cargo bench -p clamp3-index --bench search [-- SIZES]     (default: 10000 1000000)

use std::time::Instant;

use clamp3_index::{AnnParams, AnnSearcher, ExactSearcher};

fn vectors(n: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut s = seed;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / 16_777_216.0) - 0.5
    };
    let centres: Vec<f32> = (0..1000 * dim).map(|_| rnd()).collect();
    let mut m = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = &centres[(i % 1000) * dim..(i % 1000 + 1) * dim];
        let mut v: Vec<f32> = c.iter().map(|x| x + 0.5 * rnd()).collect();
        clamp3_index::normalise(&mut v);
        m.extend_from_slice(&v);
    }
    let queries: Vec<f32> = (0..100)
        .flat_map(|q| {
            let c = &centres[(q * 7 % 1000) * dim..(q * 7 % 1000 + 1) * dim];
            c.iter().map(|x| x + 0.5 * 0.3).collect::<Vec<_>>()
        })
        .collect();
    (m, queries)
}

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if v.is_empty() {
            vec![10_000, 1_000_000]
        } else {
            v
        }
    };
    let dim = 768;
    println!(
        "search latency, {dim}-d vectors, {} threads",
        rayon::current_num_threads()
    );
    println!(
        "{:>9} {:>14} {:>14} {:>12} {:>10} {:>12}",
        "vectors", "exact ms/q", "hnsw ms/q", "recall@10", "ef", "build s"
    );
    for n in sizes {
        let (matrix, queries) = vectors(n, dim, n as u64);
        let exact = ExactSearcher {
            ids: (0..n as i64).collect(),
            modalities: vec!["audio".into(); n],
            matrix,
            dim,
        };
        let qs: Vec<&[f32]> = queries.chunks(dim).collect();
        let t = Instant::now();
        let truth: Vec<Vec<i64>> = qs
            .iter()
            .map(|q| exact.search(q, 10, None).iter().map(|h| h.id).collect())
            .collect();
        let exact_ms = t.elapsed().as_secs_f64() * 1000.0 / qs.len() as f64;
        let params = AnnParams::default();
        let t = Instant::now();
        let ann = AnnSearcher::build(&exact, &params).expect("build");
        let build_s = t.elapsed().as_secs_f64();
        for ef in [64, 128, 256] {
            ann.set_expansion_search(ef);
            let t = Instant::now();
            let got: Vec<Vec<i64>> = qs
                .iter()
                .map(|q| {
                    ann.search(q, 10, None)
                        .expect("search")
                        .iter()
                        .map(|h| h.id)
                        .collect()
                })
                .collect();
            let hnsw_ms = t.elapsed().as_secs_f64() * 1000.0 / qs.len() as f64;
            let found: usize = got
                .iter()
                .zip(&truth)
                .map(|(g, t)| g.iter().filter(|x| t.contains(x)).count())
                .sum();
            println!(
                "{:>9} {:>14.3} {:>14.3} {:>12.3} {:>10} {:>12.1}",
                n,
                exact_ms,
                hnsw_ms,
                found as f64 / (10 * qs.len()) as f64,
                ef,
                build_s
            );
        }
    }
}
