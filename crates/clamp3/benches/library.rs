//! Search latency of an open [`Library`] (the exact matrix kept in memory between queries)
//! against the per-call path it replaced (the matrix reloaded from `cache/vectors.bin` for
//! every query), on a collection of random vectors.
//!
//!     cargo bench -p clamp3 --bench library            # 100,000 vectors of 768
//!     cargo bench -p clamp3 --bench library -- 20000   # another size
//!
//! Runs are interleaved (old, new, old, new, ...) and the machine's load average is printed
//! beside the figures: these machines are shared.

use std::time::Instant;

use clamp3::library::{Library, SearchOptions};
use clamp3_index::{ExactSearcher, Index, IndexMeta, NewItem};

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn vectors(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = clamp3_util::Rng::new(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| rng.f64() as f32 - 0.5).collect())
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dim = 768;
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = IndexMeta {
        model_id: "bench".into(),
        dim,
    };
    let t = Instant::now();
    {
        let mut index = Index::open_or_create(dir.path(), &meta).expect("index");
        for (c, chunk) in vectors(n, dim, 1).chunks(5_000).enumerate() {
            let items: Vec<NewItem> = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| NewItem {
                    path: format!("item-{c}-{i}"),
                    hash: String::new(),
                    modality: if i % 2 == 0 { "audio" } else { "symbolic" }.into(),
                    metadata: serde_json::json!({}),
                    vector: v.clone(),
                })
                .collect();
            index.upsert(&items).expect("upsert");
        }
    }
    println!(
        "library search bench: {n} vectors of {dim}, index built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let queries = vectors(20, dim, 2);
    let library = Library::open(dir.path()).expect("open");
    let old_index = Index::open(dir.path()).expect("open");
    // Warm both paths (the cache file is written on the first load).
    library
        .search(&queries[0], &SearchOptions::default())
        .expect("search");
    ExactSearcher::load(&old_index).expect("load");

    let rounds = 3;
    let (mut old_ms, mut new_ms) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let t = Instant::now();
        for q in &queries {
            // The per-call path: reload the matrix, search, fetch the items.
            let exact = ExactSearcher::load(&old_index).expect("load");
            let hits = exact.search(q, 10, None);
            old_index
                .items(&hits.iter().map(|h| h.id).collect::<Vec<_>>())
                .expect("items");
        }
        let o = t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
        let t = Instant::now();
        for q in &queries {
            library
                .search(q, &SearchOptions::default())
                .expect("search");
        }
        let nw = t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
        println!(
            "round {round}: reload per query {o:8.2} ms/query | open library {nw:8.2} ms/query | load average {}",
            load_average()
        );
        old_ms.push(o);
        new_ms.push(nw);
    }
    old_ms.sort_by(f64::total_cmp);
    new_ms.sort_by(f64::total_cmp);
    let (o, nw) = (old_ms[rounds / 2], new_ms[rounds / 2]);
    println!(
        "median: reload per query {o:.2} ms, open library {nw:.2} ms ({:.1}x faster)",
        o / nw
    );
}
