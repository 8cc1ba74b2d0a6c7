//! `clamp3 serve` end to end: the real binary on the tiny golden model (with the tiny MERT),
//! on a loopback port. Vectors over HTTP (strings and base64 files, singly, batched, from 16
//! concurrent clients) match the PyTorch goldens and `clamp3 embed`; search answers exactly
//! what `clamp3 search --json` prints; classify and score equal their commands; bad requests
//! get the right status and a JSON error and the server keeps answering, also under a loop of
//! random bodies; SIGTERM finishes the request in flight.

mod common;
#[path = "common/server.rs"]
mod server;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{clamp3, cosine, golden_global, repo, tiny_model_dir};
use serde_json::{json, Value};
use server::{b64, file_input, vectors, Server};

/// The inputs with PyTorch goldens (fixtures/model/tiny/manifest.json): texts, ABC, MTF and
/// MERT features, with their lengths in encoder units.
fn golden_inputs() -> Vec<(PathBuf, usize)> {
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("fixtures/model/tiny/manifest.json")).unwrap(),
    )
    .unwrap();
    m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                repo("fixtures/model/inputs").join(i["file"].as_str().unwrap()),
                i["length"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// Inputs of the kinds without model goldens (MIDI, MusicXML plain and compressed,
/// recordings), checked against `clamp3 embed`.
fn other_inputs() -> Vec<PathBuf> {
    [
        "fixtures/mtf/deb_pianobooster_lavenders_blue.mid",
        "fixtures/xml2abc/inputs/music21/demos/multiple-verses.xml",
        "fixtures/xml2abc/inputs/music21/bach/bwv66.6.mxl",
        "fixtures/mert/input_24k.wav",
        "fixtures/audio/flac_8000_mono_long.flac",
    ]
    .iter()
    .map(|p| repo(p))
    .collect()
}

/// A tiny model directory with the tiny MERT in its `mert/` folder.
fn model_with_mert(dir: &Path) -> PathBuf {
    let m = tiny_model_dir(dir);
    let mert = m.join("mert");
    std::fs::create_dir_all(&mert).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(repo("fixtures/mert/tiny").join(f), mert.join(f)).unwrap();
    }
    m
}

/// `clamp3 embed --format jsonl` of `files`: path -> vector.
fn cli_vectors(model: &Path, files: &[PathBuf], out: &Path) -> HashMap<String, Vec<f32>> {
    let o = clamp3()
        .args(["embed", "--format", "jsonl", "--model"])
        .arg(model)
        .arg("--out")
        .arg(out)
        .args(files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let e = v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (v["path"].as_str().unwrap().to_string(), e)
        })
        .collect()
}

const TOL: f64 = 0.999_99;

fn assert_close(got: &[f32], want: &[f32], what: &str) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: dimension");
    let c = cosine(got, want);
    assert!(c >= TOL, "{what}: cosine {c}");
    c
}

#[test]
fn embeddings_over_http_match_the_goldens_and_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_mert(tmp.path());
    let s = Server::start(&model, &["--max-inputs", "32", "--max-batch-items", "8"]);
    let goldens = golden_inputs();
    let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    let mut worst = 1.0f64;

    // Singly, as base64 files; the texts also as strings; usage counts the encoder units.
    for (path, len) in &goldens {
        let want = golden_global(&name(path));
        let a = s.post(
            "/v1/embeddings",
            &json!({"input": file_input(path), "model": "x"}),
        );
        assert_eq!(a.status, 200, "{}: {}", path.display(), a.body);
        let v = a.json();
        assert_eq!(v["object"], "list");
        assert_eq!(v["model"], "tiny-model");
        assert_eq!(v["usage"]["prompt_tokens"], *len, "{}", path.display());
        assert_eq!(v["usage"]["total_tokens"], *len);
        worst = worst.min(assert_close(&vectors(&v)[0], &want, &name(path)));
        if path.extension().unwrap() == "txt" {
            let text = std::fs::read_to_string(path).unwrap();
            let a = s.post("/v1/embeddings", &json!({"input": text}));
            assert_eq!(a.status, 200, "{}", a.body);
            worst = worst.min(assert_close(&vectors(&a.json())[0], &want, "string"));
        }
    }

    // Batched: every golden input in one request, as floats and as base64.
    let all: Vec<Value> = goldens.iter().map(|(p, _)| file_input(p)).collect();
    for encoding in ["float", "base64"] {
        let a = s.post(
            "/v1/embeddings",
            &json!({"input": all, "encoding_format": encoding}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        let v = a.json();
        if encoding == "base64" {
            assert!(v["data"][0]["embedding"].is_string());
        }
        let total: usize = goldens.iter().map(|(_, l)| l).sum();
        assert_eq!(v["usage"]["prompt_tokens"], total);
        for ((p, _), got) in goldens.iter().zip(vectors(&v)) {
            worst = worst.min(assert_close(&got, &golden_global(&name(p)), &name(p)));
        }
    }

    // 16 concurrent clients, each sending every input in its own order, in batches of 1 to 4.
    let bodies: Arc<Vec<(String, Value)>> = Arc::new(
        goldens
            .iter()
            .map(|(p, _)| (name(p), file_input(p)))
            .collect(),
    );
    let base = s.base.clone();
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let (bodies, base) = (bodies.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = server::agent();
                let mut order: Vec<usize> = (0..bodies.len()).collect();
                order.rotate_left(c % bodies.len());
                let mut out = Vec::new();
                for chunk in order.chunks(1 + c % 4) {
                    let input: Vec<&Value> = chunk.iter().map(|&i| &bodies[i].1).collect();
                    let mut r = agent
                        .post(format!("{base}/v1/embeddings"))
                        .header("Content-Type", "application/json")
                        .send(
                            serde_json::to_vec(&json!({ "input": input }))
                                .unwrap()
                                .as_slice(),
                        )
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    let v: Value =
                        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                    for (&i, vec) in chunk.iter().zip(vectors(&v)) {
                        out.push((bodies[i].0.clone(), vec));
                    }
                }
                out
            })
        })
        .collect();
    let mut n = 0;
    for c in clients {
        for (name, v) in c.join().unwrap() {
            worst = worst.min(assert_close(&v, &golden_global(&name), &name));
            n += 1;
        }
    }
    assert_eq!(n, 16 * goldens.len());
    // The concurrent inputs were pooled: some model batch held more than one request's input.
    let batches = s.metric("clamp3_batch_inputs_count", None);
    let inputs = s.metric("clamp3_batch_inputs_sum", None);
    assert!(inputs > batches, "{inputs} inputs in {batches} batches");

    // The kinds without model goldens (MIDI, MusicXML, recordings) against `clamp3 embed`;
    // and the recording against the PyTorch MERT goldens, through its features.
    let others = other_inputs();
    let cli = cli_vectors(&model, &others, &tmp.path().join("cli.jsonl"));
    let input: Vec<Value> = others.iter().map(|p| file_input(p)).collect();
    let a = s.post("/v1/embeddings", &json!({ "input": input }));
    assert_eq!(a.status, 200, "{}", a.body);
    for (p, got) in others.iter().zip(vectors(&a.json())) {
        let want = &cli[p.to_str().unwrap()];
        worst = worst.min(assert_close(&got, want, &name(p)));
        let max_abs = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max_abs <= 1e-5, "{}: max abs {max_abs}", name(p));
    }
    let golden_features = {
        let bytes = std::fs::read(repo("fixtures/mert/goldens.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("tiny/features").unwrap();
        clamp3_formats::npy::write_npy(
            t.shape(),
            &t.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<f32>>(),
        )
    };
    let a = s.post(
        "/v1/embeddings",
        &json!({"input": [file_input(&others[3]), {"format": "npy", "data": b64(&golden_features)}]}),
    );
    let v = vectors(&a.json());
    worst = worst.min(assert_close(
        &v[0],
        &v[1],
        "recording vs its golden MERT features",
    ));
    eprintln!("worst cosine over HTTP: {worst}");

    // Metrics count the inputs per modality and the requests per route.
    for m in ["text", "symbolic", "audio"] {
        let text = s.get("/metrics").body;
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("clamp3_inputs_total{{modality=\"{m}\"}}"))),
            "{m}"
        );
    }
    assert!(s.metric("clamp3_requests_total", None) >= 30.0);
}

#[test]
fn search_classify_and_score_answer_what_their_commands_print() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let index = tmp.path().join("index");
    let files: Vec<PathBuf> = golden_inputs()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.extension().unwrap() != "npy")
        .chain([repo("fixtures/mtf/deb_pianobooster_lavenders_blue.mid")])
        .collect();
    let o = clamp3()
        .args(["index", "add", "--index"])
        .arg(&index)
        .arg("--model")
        .arg(&model)
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = Server::start(&model, &["--index", index.to_str().unwrap()]);

    let cli_search = |args: &[&str], query: &str| -> Value {
        let o = clamp3()
            .args(["search", "--json", "--index"])
            .arg(&index)
            .args(args)
            .arg(query)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // Texts (any language), with and without options.
    for (query, args, body) in [
        ("a lively Irish reel", vec![], json!({})),
        (
            "Bachs Choral, vierstimmig",
            vec!["-k", "3"],
            json!({"top_k": 3}),
        ),
        (
            "民謡",
            vec!["--modality", "symbolic"],
            json!({"modality": "symbolic"}),
        ),
        ("approximate", vec!["--approx"], json!({"approx": true})),
    ] {
        let mut req = body.clone();
        req["query"] = json!(query);
        let a = s.post("/v1/search", &req);
        assert_eq!(a.status, 200, "{}", a.body);
        let want = cli_search(&args, query);
        assert_eq!(a.json(), want, "{query}");
        assert!(!want["results"].as_array().unwrap().is_empty());
    }
    // A file as the query (by example), named as the command-line tool names it.
    let q = repo("fixtures/model/inputs/bach_bwv66_6.abc");
    let mut body = file_input(&q);
    body["name"] = json!(q.to_str().unwrap());
    let a = s.post("/v1/search", &json!({ "query": body }));
    assert_eq!(a.status, 200, "{}", a.body);
    let want = cli_search(&[], q.to_str().unwrap());
    assert_eq!(a.json(), want);
    assert_eq!(want["results"][0]["rank"], 1);
    assert_eq!(
        want["results"][0]["path"],
        std::fs::canonicalize(&q).unwrap().to_str().unwrap()
    );

    // Classification, as `clamp3 classify --json`.
    let labels = "folk song,string quartet,chorale";
    let cls_files = [
        repo("fixtures/model/inputs/bach_bwv66_6.abc"),
        repo("fixtures/model/inputs/en_reel.txt"),
    ];
    let o = clamp3()
        .args([
            "classify", "--json", "--top", "2", "--labels", labels, "--model",
        ])
        .arg(&model)
        .args(&cls_files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let input: Vec<Value> = cls_files
        .iter()
        .map(|p| {
            let mut v = file_input(p);
            v["name"] = json!(p.to_str().unwrap());
            v
        })
        .collect();
    let a = s.post(
        "/v1/classify",
        &json!({"input": input, "labels": labels.split(',').collect::<Vec<_>>(), "top": 2}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // The same labels in the same order; scores equal up to batching's rounding (the server
    // pools inputs and labels into one batch, the command embeds them apart).
    let got = a.json()["results"].as_array().unwrap().clone();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g["path"], w["path"]);
        let (gl, wl) = (
            g["labels"].as_array().unwrap(),
            w["labels"].as_array().unwrap(),
        );
        assert_eq!(gl.len(), 2);
        for (x, y) in gl.iter().zip(wl) {
            assert_eq!(x["label"], y["label"]);
            let d = (x["score"].as_f64().unwrap() - y["score"].as_f64().unwrap()).abs();
            assert!(d < 1e-6, "{x} vs {y}");
        }
    }

    // Scoring, as `clamp3 score` (pairs by name up to the first dot).
    let (qd, rd) = (tmp.path().join("q"), tmp.path().join("r"));
    std::fs::create_dir_all(&qd).unwrap();
    std::fs::create_dir_all(&rd).unwrap();
    let pairs = [
        ("a.1.abc", "fixtures/model/inputs/bach_bwv66_6.abc"),
        ("a.2.abc", "fixtures/model/inputs/essen_han1_tune3.abc"),
        ("b.mtf", "fixtures/model/inputs/essen_han1_tune3.mtf"),
    ];
    for (n, f) in pairs {
        std::fs::copy(repo(f), qd.join(n)).unwrap();
    }
    std::fs::copy(repo("fixtures/model/inputs/en_reel.txt"), rd.join("a.txt")).unwrap();
    std::fs::copy(
        repo("fixtures/model/inputs/multilingual.txt"),
        rd.join("b.txt"),
    )
    .unwrap();
    let out = tmp.path().join("score");
    let o = clamp3()
        .arg("score")
        .arg(&qd)
        .arg(&rd)
        .arg("--model")
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli_pairs: Vec<Value> = std::fs::read_to_string(out.join("pairwise_similarities.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let named = |dir: &Path, n: &str| {
        let mut v = file_input(&dir.join(n));
        v["name"] = json!(n);
        v
    };
    let queries = ["a.1.abc", "a.2.abc", "b.mtf"].map(|n| named(&qd, n));
    let references = ["a.txt", "b.txt"].map(|n| named(&rd, n));
    let a = s.post(
        "/v1/score",
        &json!({ "queries": queries, "references": references }),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    let got = v["pairs"].as_array().unwrap();
    assert_eq!(got.len(), cli_pairs.len());
    for (g, w) in got.iter().zip(&cli_pairs) {
        let base = |x: &Value| {
            Path::new(x.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(base(&g["query"]), base(&w["query"]));
        assert_eq!(base(&g["reference"]), base(&w["reference"]));
        let d = (g["similarity"].as_f64().unwrap() - w["similarity"].as_f64().unwrap()).abs();
        assert!(d < 1e-6, "{g} vs {w}");
    }
    assert_eq!(v["unmatched"], json!([]));
    let group = s.post(
        "/v1/score",
        &json!({"queries": [named(&qd, "b.mtf")], "references": [named(&rd, "b.txt")], "group": true}),
    );
    assert_eq!(group.status, 200, "{}", group.body);
    let g = group.json()["group_score"].as_f64().unwrap();
    let p = cli_pairs
        .iter()
        .find(|p| p["query"].as_str().unwrap().ends_with("b.mtf"))
        .unwrap()["similarity"]
        .as_f64()
        .unwrap();
    assert!((g - p).abs() < 1e-6, "one pair: group {g} = pairwise {p}");
}

#[test]
fn index_updates_are_searchable_and_only_indexed_files_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_mert(tmp.path());
    let index = tmp.path().join("index");
    let s = Server::start(&model, &["--index", index.to_str().unwrap()]);
    let count = |s: &Server| s.get("/v1/index").json()["items"].as_u64().unwrap();
    assert_eq!(count(&s), 0);

    // Files on the server added by path, with metadata; an upload by id.
    let files = tmp.path().join("music");
    std::fs::create_dir_all(&files).unwrap();
    let abc = files.join("chorale.abc");
    let wav = files.join("tune.wav");
    std::fs::copy(repo("fixtures/model/inputs/bach_bwv66_6.abc"), &abc).unwrap();
    std::fs::copy(repo("fixtures/mert/input_24k.wav"), &wav).unwrap();
    let item = |p: &Path| {
        let mut v = file_input(p);
        v["path"] = json!(p.to_str().unwrap());
        v
    };
    let mut upload = file_input(&repo("fixtures/model/inputs/en_reel.txt"));
    upload["id"] = json!("user-42/reel");
    upload["metadata"] = json!({"title": "The reel", "year": 1999});
    let a = s.post(
        "/v1/index/add",
        &json!({"items": [item(&abc), item(&wav), upload]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(
        (v["added"].as_u64(), v["total"].as_u64()),
        (Some(3), Some(3))
    );
    // The same again: unchanged, nothing re-embedded.
    let a = s.post("/v1/index/add", &json!({"items": [item(&abc)]}));
    assert_eq!(a.json()["items"][0]["status"], "unchanged");

    // Searchable, with the metadata; the top result of a file query is that file.
    let mut q = file_input(&abc);
    q["name"] = json!("query.abc");
    let r = s.post("/v1/search", &json!({"query": q})).json();
    assert_eq!(r["query"], "query.abc");
    assert_eq!(r["results"][0]["path"], abc.to_str().unwrap());
    assert_eq!(r["results"][0]["modality"], "symbolic");
    let r = s
        .post("/v1/search", &json!({"query": "reel", "modality": "text"}))
        .json();
    assert_eq!(r["results"][0]["path"], "user-42/reel");
    assert_eq!(r["results"][0]["metadata"]["title"], "The reel");
    assert_eq!(r["results"][0]["metadata"]["name"], "reel");

    // Indexed files are served (to play and to view) ...
    let f = s.get(&format!("/v1/index/file?id={}", enc(wav.to_str().unwrap())));
    assert_eq!(f.status, 200);
    assert_eq!(f.content_type, "audio/wav");
    let view = s.get(&format!("/v1/index/view?id={}", enc(abc.to_str().unwrap())));
    assert_eq!(view.status, 200);
    assert!(
        view.body.starts_with("%%score") || view.body.contains("X:"),
        "{}",
        view.body
    );
    // ... but nothing else: not an upload's id, not a file that changed since, not a file
    // added by path with other bytes (which would otherwise read any file on the server).
    assert_eq!(s.get("/v1/index/file?id=user-42%2Freel").status, 404);
    let mut sneaky = file_input(&repo("fixtures/model/inputs/en_reel.txt"));
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "not for clients").unwrap();
    sneaky["path"] = json!(secret.to_str().unwrap());
    assert_eq!(
        s.post("/v1/index/add", &json!({"items": [sneaky]})).status,
        200
    );
    let a = s.get(&format!(
        "/v1/index/file?id={}",
        enc(secret.to_str().unwrap())
    ));
    assert_eq!(a.status, 404);
    assert!(!a.body.contains("not for clients"));
    assert_eq!(a.json()["error"]["type"], "invalid_request_error");

    // A bad item stores nothing (all or none) and names the item.
    let bad =
        json!({"items": [item(&abc), {"id": "x", "format": "mid", "data": b64(b"MThd junk")}]});
    let a = s.post("/v1/index/add", &bad);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("item 1 (x)"),
        "{}",
        a.body
    );
    assert_eq!(count(&s), 4);

    // Delete.
    let d = s.post(
        "/v1/index/delete",
        &json!({"ids": [wav.to_str().unwrap(), "user-42/reel", "never-added"]}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.json()["deleted"], 2);
    assert_eq!(count(&s), 2);
    let f = s.get(&format!("/v1/index/file?id={}", enc(wav.to_str().unwrap())));
    assert_eq!(f.status, 404);
    // The index on disk is the command-line tool's: `clamp3 index info` reads it.
    drop(s);
    let o = clamp3()
        .args(["index", "info", "--index"])
        .arg(&index)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("items:     2") && out.contains("integrity: ok"),
        "{out}"
    );
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Pseudo-random bytes (SplitMix64).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_answering() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_with_mert(tmp.path());
    let key = "s3cret-key";
    let s = Server::start(
        &model,
        &[
            "--api-key",
            key,
            "--max-body-mb",
            "1",
            "--max-inputs",
            "4",
            "--max-audio-seconds",
            "8",
        ],
    );
    let good = json!({"input": "a lively Irish reel"});
    let still_ok = |s: &Server| {
        assert_eq!(s.get("/health").status, 200);
        let a = s.post_key("/v1/embeddings", &good, key);
        assert_eq!(a.status, 200, "{}", a.body);
    };
    let error = |a: &server::Answer, status: u16, kind: &str| -> String {
        assert_eq!(a.status, status, "{}", a.body);
        assert!(
            a.content_type.starts_with("application/json"),
            "{}",
            a.content_type
        );
        let v = a.json();
        assert_eq!(v["error"]["type"], kind, "{}", a.body);
        v["error"]["message"].as_str().unwrap().to_string()
    };

    // Keys: none or wrong -> 401; /health needs none.
    error(
        &s.post("/v1/embeddings", &good),
        401,
        "authentication_error",
    );
    error(
        &s.post_key("/v1/embeddings", &good, "wrong"),
        401,
        "authentication_error",
    );
    error(&s.get("/metrics"), 401, "authentication_error");
    still_ok(&s);

    // Malformed JSON, wrong shapes, wrong content type, unknown routes and methods.
    let raw = |body: &[u8], ct: &str| s.post_raw("/v1/embeddings", ct, body.to_vec(), Some(key));
    error(
        &raw(b"{\"input\": [", "application/json"),
        400,
        "invalid_request_error",
    );
    error(
        &raw(b"{\"inputs\": 1}", "application/json"),
        422,
        "invalid_request_error",
    );
    error(
        &raw(b"{\"input\": 5}", "application/json"),
        422,
        "invalid_request_error",
    );
    error(
        &raw(b"{\"input\": \"x\"}", "text/plain"),
        415,
        "invalid_request_error",
    );
    error(
        &s.get_with("/v2/nothing", Some(key)),
        404,
        "invalid_request_error",
    );
    error(
        &s.get_with("/v1/embeddings", Some(key)),
        405,
        "invalid_request_error",
    );
    error(
        &s.post_key("/v1/search", &json!({"query": "x"}), key),
        501,
        "not_supported",
    );
    still_ok(&s);

    // Over the size limit, too many inputs, an unknown format, bad base64.
    let big = json!({"input": "x".repeat(2 << 20)});
    error(
        &s.post_key("/v1/embeddings", &big, key),
        413,
        "request_too_large",
    );
    let five = json!({"input": ["a", "b", "c", "d", "e"]});
    error(
        &s.post_key("/v1/embeddings", &five, key),
        413,
        "request_too_large",
    );
    let m = error(
        &s.post_key(
            "/v1/embeddings",
            &json!({"input": ["ok", {"format": "docx", "data": ""}]}),
            key,
        ),
        400,
        "invalid_request_error",
    );
    assert!(m.starts_with("input 1: unknown format `docx`"), "{m}");
    let m = error(
        &s.post_key(
            "/v1/embeddings",
            &json!({"input": [{"format": "abc", "data": "!!"}]}),
            key,
        ),
        400,
        "invalid_request_error",
    );
    assert!(
        m.contains("input 0 (format abc)") && m.contains("base64"),
        "{m}"
    );
    still_ok(&s);

    // Garbage bytes of every format: the input's fault, named, with the cause.
    for ext in [
        "txt", "abc", "mtf", "mid", "midi", "xml", "musicxml", "mxl", "npy", "wav", "flac", "mp3",
        "ogg", "m4a",
    ] {
        let body = json!({"input": ["fine", {"format": ext, "data": b64(&noise(ext.len() as u64, 3000))}]});
        let m = error(
            &s.post_key("/v1/embeddings", &body, key),
            400,
            "invalid_request_error",
        );
        assert!(m.starts_with(&format!("input 1 (format {ext}): ")), "{m}");
        assert!(
            m.len() > format!("input 1 (format {ext}): ").len() + 5,
            "{m}"
        );
    }
    // Empty texts, and a recording over the duration limit (11.5 s > 8 s).
    let m = error(
        &s.post_key("/v1/embeddings", &json!({"input": "\r\n\n"}), key),
        400,
        "invalid_request_error",
    );
    assert!(m.contains("empty text"), "{m}");
    let long = file_input(&repo("fixtures/audio/flac_8000_mono_long.flac"));
    let m = error(
        &s.post_key("/v1/embeddings", &json!({ "input": long }), key),
        413,
        "request_too_large",
    );
    assert!(
        m.contains("input 0 (format flac)") && m.contains("8 s"),
        "{m}"
    );
    still_ok(&s);

    // A loop of random requests: every answer is JSON, nothing is a 5xx, the server stays up.
    let routes = [
        "/v1/embeddings",
        "/v1/search",
        "/v1/classify",
        "/v1/score",
        "/v1/index/add",
    ];
    let valid = serde_json::to_vec(
        &json!({"input": ["a", {"format": "abc", "data": b64(b"X:1\nK:C\nCDEF|")}]}),
    )
    .unwrap();
    for i in 0..400u64 {
        let r = noise(i, 8);
        let route = routes[r[0] as usize % routes.len()];
        let body = match r[1] % 4 {
            0 => noise(i + 1000, (r[2] as usize) * 8),
            1 => {
                // A valid body with a few bytes changed.
                let mut b = valid.clone();
                for k in 0..(1 + r[3] % 4) as usize {
                    let pos = (r[4 + k % 4] as usize * 7 + k) % b.len();
                    b[pos] = r[(k + 2) % 8];
                }
                b
            }
            2 => valid[..(r[2] as usize % valid.len())].to_vec(),
            _ => {
                let format = ["abc", "mid", "xml", "npy", "wav"][r[3] as usize % 5];
                let data = b64(&noise(i, 64 + r[2] as usize));
                serde_json::to_vec(&json!({"input": [{"format": format, "data": data}], "query": "q", "labels": ["a"], "queries": ["x"], "references": ["y"]})).unwrap()
            }
        };
        let a = s.post_raw(route, "application/json", body, Some(key));
        assert!(
            (200..500).contains(&a.status) || a.status == 501,
            "{route}: {} {}",
            a.status,
            a.body
        );
        if a.status != 200 {
            let v = a.json();
            assert!(v["error"]["message"].is_string(), "{}", a.body);
        }
    }
    still_ok(&s);
    // The errors were counted.
    assert!(s.metric("clamp3_errors_total", Some(key)) > 20.0);
}

#[test]
fn a_full_queue_answers_429_and_sigterm_finishes_the_requests_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let s = Server::start(
        &model,
        &[
            "--max-queue",
            "8",
            "--max-inputs",
            "8",
            "--max-batch-items",
            "1",
        ],
    );
    // Heavy inputs, one per batch: one request fills the queue for a while.
    let long =
        std::fs::read_to_string(repo("fixtures/model/inputs/essen_titles_long.txt")).unwrap();
    let heavy: Vec<String> = (0..8).map(|i| format!("{long}\n{i}")).collect();
    let body = json!({ "input": heavy });
    let mut saw_429 = false;
    for _ in 0..5 {
        let results: Vec<u16> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..6)
                .map(|_| sc.spawn(|| s.post("/v1/embeddings", &body)))
                .collect();
            hs.into_iter()
                .map(|h| {
                    let a = h.join().unwrap();
                    if a.status == 429 {
                        assert_eq!(a.json()["error"]["type"], "rate_limit_error");
                    }
                    a.status
                })
                .collect()
        });
        assert!(
            results.iter().all(|s| *s == 200 || *s == 429),
            "{results:?}"
        );
        assert!(results.contains(&200));
        if results.contains(&429) {
            saw_429 = true;
            break;
        }
    }
    assert!(
        saw_429,
        "a second request of 8 inputs never found the queue of 8 full"
    );
    assert_eq!(s.get("/health").status, 200);

    // SIGTERM while a request is in flight: it is answered, then the server exits cleanly.
    let mut s = s;
    std::thread::scope(|sc| {
        let h = sc.spawn(|| s.post("/v1/embeddings", &body));
        std::thread::sleep(std::time::Duration::from_millis(30));
        s.terminate();
        let a = h.join().unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(vectors(&a.json()).len(), 8);
    });
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logs = s.logs.lock().unwrap().join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(
        logs.contains("/v1/embeddings") && logs.contains("status=200"),
        "{logs}"
    );
}

#[test]
fn operations_docs_and_the_page_are_served_by_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let s = Server::start(&model, &["--log-format", "json"]);
    let info = s.get("/info").json();
    assert_eq!(info["model"], "tiny-model");
    assert_eq!(info["dim"], 24);
    assert!(info["model_id"].as_str().unwrap().starts_with("weights:"));
    assert_eq!(info["modalities"], json!(["text", "symbolic", "audio"]));
    assert_eq!(info["mert"], false);
    assert!(info["formats"]["symbolic"]
        .as_array()
        .unwrap()
        .contains(&json!("mxl")));
    assert!(info["formats"]["audio"].as_array().unwrap() == &vec![json!("npy")]);
    assert_eq!(info["limits"]["max_inputs"], 64);
    assert!(info["version"].is_string());
    let a = s.post("/v1/embeddings", &json!({"input": "a lively Irish reel"}));
    assert_eq!(a.status, 200, "{}", a.body);
    // Without MERT, a recording is the server's limitation (501), not the input's fault.
    let wav = file_input(&repo("fixtures/mert/input_24k.wav"));
    let a = s.post("/v1/embeddings", &json!({ "input": wav }));
    assert_eq!(a.status, 501, "{}", a.body);
    assert!(a.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("MERT"));

    let metrics = s.get("/metrics");
    assert_eq!(metrics.status, 200);
    for name in [
        "clamp3_requests_total",
        "clamp3_request_duration_seconds",
        "clamp3_queue_depth",
        "clamp3_batch_inputs",
        "clamp3_inputs_total",
        "clamp3_errors_total",
        "clamp3_inputs_dropped_total",
    ] {
        assert!(metrics.body.contains(name), "{name} missing");
    }
    let doc = s.get("/openapi.json").json();
    for route in [
        "/v1/embeddings",
        "/v1/search",
        "/v1/classify",
        "/v1/score",
        "/v1/index/add",
        "/v1/index/delete",
        "/health",
        "/info",
        "/metrics",
    ] {
        assert!(doc["paths"][route].is_object(), "{route} not documented");
    }
    // Interactive docs and the page: everything from this server, nothing from a CDN.
    let docs = s.get("/docs/");
    assert_eq!(docs.status, 200, "{}", docs.body);
    for page in [
        "/",
        "/assets/app.js",
        "/assets/app.css",
        "/docs/",
        "/docs/swagger-initializer.js",
    ] {
        let a = s.get(page);
        assert_eq!(a.status, 200, "{page}");
        for l in a.body.lines() {
            for scheme in ["http://", "https://"] {
                if let Some(i) = l.find(scheme) {
                    // Only links written out as text, never something the page loads.
                    let before = &l[..i];
                    assert!(
                        !before.contains("src=")
                            && !before.contains("href=")
                            && !before.contains("url("),
                        "{page} loads {l}"
                    );
                }
            }
        }
    }
    // JSON request logs.
    let logs = s.logs.lock().unwrap().clone();
    let line = logs
        .iter()
        .find(|l| l.contains("/openapi.json"))
        .unwrap_or_else(|| panic!("{logs:?}"));
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["route"], "/openapi.json");
    assert!(v["ms"].is_number());
}

#[test]
fn inputs_of_a_client_that_went_away_are_dropped_from_the_queue() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let s = Server::start(&model, &["--max-batch-items", "1", "--max-inputs", "32"]);
    let long =
        std::fs::read_to_string(repo("fixtures/model/inputs/essen_titles_long.txt")).unwrap();
    let heavy: Vec<String> = (0..32).map(|i| format!("{long}\n{i}")).collect();
    let body = serde_json::to_vec(&json!({ "input": heavy })).unwrap();
    std::thread::scope(|sc| {
        // One client keeps the model busy, one batch per input ...
        let busy =
            sc.spawn(|| s.post_raw("/v1/embeddings", "application/json", body.clone(), None));
        std::thread::sleep(std::time::Duration::from_millis(20));
        // ... while another sends the same and hangs up at once.
        let addr = s.base.trim_start_matches("http://");
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        write!(
            c,
            "POST /v1/embeddings HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        c.write_all(&body).unwrap();
        c.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(c);
        assert_eq!(busy.join().unwrap().status, 200);
    });
    let t = std::time::Instant::now();
    while s.metric("clamp3_inputs_dropped_total", None) == 0.0 {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "the departed client's inputs were embedded anyway"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(s.get("/health").status, 200);
}
