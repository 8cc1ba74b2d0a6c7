//! Load test of the HTTP service on loopback (bounded in requests and time), at the official
//! model size (synthetic weights; the numbers depend on the size, not the values):
//!
//!     cargo bench -p clamp3-serve --bench load                 # throughput and latency
//!     SOAK_SECONDS=600 cargo bench -p clamp3-serve --bench load # memory under a soak
//!
//! For text and symbolic inputs, one input per request (as clients send them), at concurrency
//! 1, 8 and 32: requests/s and p50/p99 latency; the same inputs embedded in one process by the
//! library call `clamp3 embed` makes (`Embedder::embed`, all inputs at once), as the bound;
//! and the gain of dynamic batching: throughput at concurrency 32 with batching over the same
//! load with batches of one input (and over one request at a time). Configurations are
//! interleaved over rounds (`BENCH_ROUNDS`, default 3) and the median is printed, with the
//! 1-minute load average of the machine beside each figure.
//!
//! The soak runs a mixed text and symbolic load at concurrency 8 for `SOAK_SECONDS` on the
//! tiny model (many more requests per second, so leaks show sooner) and prints the resident
//! memory every 30 s. Needs `scripts/fetch-test-data.sh` (the XLM-R tokenizer).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clamp3::{Device, EmbedOptions, Embedder, Input, InputKind, TextTokenizer};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Parts};
use clamp3_serve::{AppState, Config, Engine, Limits};
use serde_json::json;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn embedder(cfg: &Clamp3Config) -> Embedder {
    let tok = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(tok.is_file(), "run scripts/fetch-test-data.sh first");
    let model = Clamp3Model::load(cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
    Embedder::from_parts(model, Some(TextTokenizer::from_file(&tok).unwrap())).unwrap()
}

/// A server in this process on a free loopback port; stops when dropped.
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(embedder: Arc<Embedder>, limits: Limits) -> Running {
        let config = Config {
            limits,
            api_key: None,
        };
        let state = Arc::new(AppState::new(config));
        let engine = Engine::shared(
            embedder,
            None,
            "bench",
            &state.config,
            state.metrics.clone(),
        )
        .unwrap();
        state.set_engine(engine);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(l.local_addr().unwrap()).unwrap();
                clamp3_serve::serve(l, state, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Running {
            base: format!("http://{addr}"),
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// Sends `bodies` (one request each) from `concurrency` clients; the wall time and every
/// request's latency.
fn drive(base: &str, bodies: &Arc<Vec<Vec<u8>>>, concurrency: usize) -> (f64, Vec<f64>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, url) = (
                bodies.clone(),
                next.clone(),
                format!("{base}/v1/embeddings"),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= bodies.len() {
                        return lat;
                    }
                    let t = Instant::now();
                    let mut r = agent
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .send(&bodies[i][..])
                        .expect("request");
                    let _ = r.body_mut().read_to_vec().expect("body");
                    lat.push(t.elapsed().as_secs_f64());
                }
            })
        })
        .collect();
    let mut lat: Vec<f64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let wall = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    (wall, lat)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The inputs of one kind, as request bodies and as library inputs.
struct Load {
    name: &'static str,
    bodies: Arc<Vec<Vec<u8>>>,
    inputs: Vec<Input>,
}

fn loads(requests: usize) -> Vec<Load> {
    let dir = repo("fixtures/model/inputs");
    let multilingual = std::fs::read_to_string(dir.join("multilingual.txt")).unwrap();
    let titles = std::fs::read_to_string(dir.join("essen_titles_long.txt")).unwrap();
    let texts: Vec<String> = multilingual
        .lines()
        .chain(titles.lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let mut symbolic: Vec<(String, Vec<u8>)> = Vec::new();
    for f in [
        "bach_bwv66_6.abc",
        "bach_nonascii.abc",
        "essen_han1_tune3.abc",
        "essen_han1_tune3.mtf",
    ] {
        symbolic.push(("abc".into(), std::fs::read(dir.join(f)).unwrap()));
        if f.ends_with(".mtf") {
            symbolic.last_mut().unwrap().0 = "mtf".into();
        }
    }
    let text_inputs: Vec<String> = (0..requests)
        .map(|i| texts[i % texts.len()].clone())
        .collect();
    let sym_inputs: Vec<(String, Vec<u8>)> = (0..requests / 2)
        .map(|i| symbolic[i % symbolic.len()].clone())
        .collect();
    vec![
        Load {
            name: "text",
            bodies: Arc::new(
                text_inputs
                    .iter()
                    .map(|t| serde_json::to_vec(&json!({ "input": t })).unwrap())
                    .collect(),
            ),
            inputs: text_inputs
                .iter()
                .map(|t| Input::bytes(InputKind::Text, t.as_bytes().to_vec()))
                .collect(),
        },
        Load {
            name: "symbolic",
            bodies: Arc::new(
                sym_inputs
                    .iter()
                    .map(|(f, b)| {
                        let data = clamp3_serve::input::encode_base64(b);
                        serde_json::to_vec(&json!({"input": {"format": f, "data": data}})).unwrap()
                    })
                    .collect(),
            ),
            inputs: sym_inputs
                .iter()
                .map(|(f, b)| Input::bytes(InputKind::from_extension(f).unwrap(), b.clone()))
                .collect(),
        },
    ]
}

fn throughput() {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let t = Instant::now();
    let e = Arc::new(embedder(&Clamp3Config::default()));
    println!(
        "clamp3 serve load test: official size (synthetic weights), loopback, {} cores; model build {:.1} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        t.elapsed().as_secs_f64()
    );
    let batched = Running::start(e.clone(), Limits::default());
    let unbatched = Running::start(
        e.clone(),
        Limits {
            max_batch_items: 1,
            ..Limits::default()
        },
    );
    let loads = loads(requests);
    // Warm-up.
    for l in &loads {
        let few = Arc::new(l.bodies[..4.min(l.bodies.len())].to_vec());
        drive(&batched.base, &few, 2);
        drive(&unbatched.base, &few, 2);
    }
    println!(
        "{:<9} {:<26} {:>5} {:>9} {:>9} {:>9} {:>6}",
        "inputs", "setting", "reqs", "req/s", "p50 ms", "p99 ms", "load"
    );
    for l in &loads {
        // name -> per-round (req/s, p50, p99, load)
        let configs: Vec<(String, Option<usize>, usize)> = vec![
            ("clamp3 embed, one process".into(), None, 0),
            ("library, one input a call".into(), None, 1),
            ("serve, concurrency 1".into(), Some(0), 1),
            ("serve, concurrency 8".into(), Some(0), 8),
            ("serve, concurrency 32".into(), Some(0), 32),
            ("serve, c=32, batches of 1".into(), Some(1), 32),
        ];
        let mut results: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); configs.len()];
        for _ in 0..rounds {
            for (ci, (_, server, conc)) in configs.iter().enumerate() {
                let load: f64 = load_avg().parse().unwrap_or(f64::NAN);
                let r = match server {
                    None if *conc == 0 => {
                        let t = Instant::now();
                        let out = e.embed(&l.inputs, &EmbedOptions::default());
                        let dt = t.elapsed().as_secs_f64();
                        assert!(out.iter().all(Result::is_ok));
                        (l.inputs.len() as f64 / dt, f64::NAN, f64::NAN, load)
                    }
                    None => {
                        let t = Instant::now();
                        let mut lat = Vec::new();
                        for i in &l.inputs {
                            let t = Instant::now();
                            let out = e.embed(std::slice::from_ref(i), &EmbedOptions::default());
                            assert!(out.iter().all(Result::is_ok));
                            lat.push(t.elapsed().as_secs_f64());
                        }
                        let dt = t.elapsed().as_secs_f64();
                        lat.sort_by(f64::total_cmp);
                        (
                            l.inputs.len() as f64 / dt,
                            pct(&lat, 0.5) * 1000.0,
                            pct(&lat, 0.99) * 1000.0,
                            load,
                        )
                    }
                    Some(s) => {
                        let base = if *s == 0 {
                            &batched.base
                        } else {
                            &unbatched.base
                        };
                        let (wall, lat) = drive(base, &l.bodies, *conc);
                        (
                            l.bodies.len() as f64 / wall,
                            pct(&lat, 0.5) * 1000.0,
                            pct(&lat, 0.99) * 1000.0,
                            load,
                        )
                    }
                };
                results[ci].push(r);
            }
        }
        let metrics = agent()
            .get(format!("{}/metrics", batched.base))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let (sum, count) = (
            value("clamp3_batch_inputs_sum"),
            value("clamp3_batch_inputs_count"),
        );
        println!(
            "{:<9} batched server so far: {count} model batches, {:.1} inputs per batch on average",
            l.name,
            sum / count
        );
        let mut med = Vec::new();
        for ((name, _, _), rs) in configs.iter().zip(&results) {
            let m = (
                median(rs.iter().map(|r| r.0).collect()),
                median(rs.iter().map(|r| r.1).collect()),
                median(rs.iter().map(|r| r.2).collect()),
                median(rs.iter().map(|r| r.3).collect()),
            );
            println!(
                "{:<9} {:<26} {:>5} {:>9.2} {:>9.1} {:>9.1} {:>6.2}",
                l.name,
                name,
                l.bodies.len(),
                m.0,
                m.1,
                m.2,
                m.3
            );
            med.push(m.0);
        }
        println!(
            "{:<9} batching gain at concurrency 32: {:.2}x over batches of 1, {:.2}x over one request at a time; the library's own gain from one batch over one input a call: {:.2}x; serve c=32 reaches {:.0}% of clamp3 embed in one process",
            l.name,
            med[4] / med[5],
            med[4] / med[2],
            med[0] / med[1],
            100.0 * med[4] / med[0]
        );
    }
}

fn soak(seconds: u64) {
    let cfg = Clamp3Config::from_json(
        &std::fs::read_to_string(repo("fixtures/model/tiny/config.json")).unwrap(),
    )
    .unwrap();
    let e = Arc::new(embedder(&cfg));
    let server = Running::start(e, Limits::default());
    let loads = loads(64);
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for l in &loads {
        bodies.extend(l.bodies.iter().cloned());
    }
    // Some bad requests in the mix too.
    bodies.push(b"{\"input\": [".to_vec());
    bodies.push(
        serde_json::to_vec(&json!({"input": {"format": "mid", "data": "TVRoZA=="}})).unwrap(),
    );
    let bodies = Arc::new(bodies);
    println!("soak: tiny model, mixed text/symbolic/bad requests, concurrency 8, {seconds} s");
    println!(
        "{:>6} {:>10} {:>9} {:>6}",
        "s", "requests", "RSS MB", "load"
    );
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (bodies, stop, count) = (bodies.clone(), stop.clone(), count.clone());
            let url = format!("{}/v1/embeddings", server.base);
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .new_agent();
                let mut i = c;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut r = agent
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .send(&bodies[i % bodies.len()][..])
                        .expect("request");
                    let _ = r.body_mut().read_to_vec();
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 7;
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    while started.elapsed().as_secs() < seconds {
        std::thread::sleep(Duration::from_secs(30.min(seconds)));
        let s = started.elapsed().as_secs();
        let rss = rss_mb();
        samples.push(rss);
        println!(
            "{:>6} {:>10} {:>9.1} {:>6}",
            s,
            count.load(std::sync::atomic::Ordering::Relaxed),
            rss,
            load_avg()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    if samples.len() >= 3 {
        let after_warmup = samples[1];
        let last = *samples.last().unwrap();
        let max = samples[1..].iter().copied().fold(f64::MIN, f64::max);
        println!(
            "RSS after the first minute {after_warmup:.1} MB, at the end {last:.1} MB (max {max:.1} MB): {:+.1}% over the soak",
            100.0 * (last - after_warmup) / after_warmup
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    match std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => soak(s),
        None => throughput(),
    }
}
