//! `--index postgresql://...` end to end against a real PostgreSQL + pgvector server (started
//! by the harness, see crates/index/tests/pg_server): the same results as a directory index, a
//! killed writer, two writers at once, prune and info, and `clamp3 serve` on a database index.

mod common;
#[path = "../../index/tests/pg_server/mod.rs"]
mod pg_server;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn add(index: &str, model: &Path, paths: &[&Path]) -> Command {
    let mut c = clamp3();
    c.args(["index", "add", "--index", index, "--model"])
        .arg(model)
        .args(paths);
    c
}

fn search(index: &str, args: &[&str], query: &str) -> serde_json::Value {
    let o = ok(clamp3()
        .args(["search", "--index", index, "--json"])
        .args(args)
        .arg(query));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn texts(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        std::fs::write(
            dir.join(format!("t{i:04}.txt")),
            format!("Tune number {i}, a reel in D\n"),
        )
        .unwrap();
    }
}

/// Waits until no other session is connected to the database: a killed client's last COMMIT
/// may still be finishing on the server when the client is gone.
fn wait_for_other_sessions_to_end(url: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let start = std::time::Instant::now();
    loop {
        let others: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 || start.elapsed().as_secs() > 30 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn count(url: &str) -> i64 {
    postgres::Client::connect(url, postgres::NoTls)
        .and_then(|mut c| c.query_one("SELECT count(*) FROM clamp3_items", &[]))
        .map(|r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_database_index_answers_like_a_directory_index() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("collection");
    std::fs::create_dir_all(col.join("scores")).unwrap();
    for (src, dst) in [
        ("fixtures/model/inputs/bach_bwv66_6.abc", "scores/bach.abc"),
        (
            "fixtures/model/inputs/essen_han1_tune3.mtf",
            "scores/essen.mtf",
        ),
        (
            "fixtures/mtf/deb_pianobooster_lavenders_blue.mid",
            "scores/lavender.mid",
        ),
        ("fixtures/model/inputs/multilingual.txt", "notes.txt"),
        ("fixtures/model/inputs/en_reel.txt", "reel.txt"),
        ("fixtures/model/inputs/features_long.npy", "recording.npy"),
    ] {
        std::fs::copy(repo(src), col.join(dst)).unwrap();
    }
    let url = pg_server::fresh_database("cli_same");
    let dir = tmp.path().join("ix");
    let dir = dir.to_str().unwrap();
    for ix in [url.as_str(), dir] {
        let o = ok(&mut add(ix, &model, &[&col]));
        assert!(
            stderr(&o).contains("6 added, 0 updated, 0 unchanged; 6 items"),
            "{}",
            stderr(&o)
        );
        let o = ok(&mut add(ix, &model, &[&col]));
        assert!(
            stderr(&o).contains("0 added, 0 updated, 6 unchanged"),
            "{}",
            stderr(&o)
        );
    }
    let by_example = col.join("scores/bach.abc");
    for (args, query) in [
        (vec!["-k", "6"], "ein Volkslied"),
        (vec!["--modality", "symbolic"], "a reel"),
        (vec!["-k", "4"], by_example.to_str().unwrap()),
    ] {
        let a = search(dir, &args, query);
        let b = search(&url, &args, query);
        let (ra, rb) = (
            a["results"].as_array().unwrap(),
            b["results"].as_array().unwrap(),
        );
        assert_eq!(ra.len(), rb.len());
        for (x, y) in ra.iter().zip(rb) {
            for f in ["path", "metadata", "modality", "rank"] {
                assert_eq!(x[f], y[f], "{query}: {f}");
            }
            let (sx, sy) = (x["score"].as_f64().unwrap(), y["score"].as_f64().unwrap());
            assert!((sx - sy).abs() < 1e-5, "{query}: {sx} vs {sy}");
        }
        assert_eq!(a["query"], b["query"]);
    }
    // Approximate search through pgvector's HNSW index, with its parameters.
    let b = search(
        &url,
        &[
            "--approx",
            "--ef",
            "40",
            "--m",
            "8",
            "--ef-construction",
            "32",
            "-k",
            "1",
        ],
        by_example.to_str().unwrap(),
    );
    assert!(b["results"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("scores/bach.abc"));
    // Info names the server and counts by modality; prune drops deleted files.
    let o = ok(clamp3().args(["index", "info", "--index", &url]));
    let info = String::from_utf8_lossy(&o.stdout);
    assert!(
        info.contains("PostgreSQL 18") && info.contains("pgvector 0.8"),
        "{info}"
    );
    assert!(
        info.contains("items:     6")
            && info.contains("symbolic: 3")
            && info.contains("integrity: ok"),
        "{info}"
    );
    std::fs::remove_file(col.join("notes.txt")).unwrap();
    let o = ok(clamp3().args(["index", "prune", "--index", &url]));
    assert!(stderr(&o).contains("removed 1 entry"), "{}", stderr(&o));
    // Another model is refused.
    let o = add(&url, &repo("fixtures/model/mini/model.pth"), &[&by_example])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds vectors of model"),
        "{}",
        stderr(&o)
    );
    // A database without an index.
    let empty = pg_server::fresh_database("cli_empty");
    let o = clamp3()
        .args(["index", "info", "--index", &empty])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no clamp3 index in this database"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_killed_writer_loses_only_its_open_batch_and_the_next_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("texts");
    let n = 400;
    texts(&col, n);
    let url = pg_server::fresh_database("cli_killed");
    let mut child = add(&url, &model, &[&col])
        .args(["--commit-every", "4"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if count(&url) >= 40 || start.elapsed().as_secs() > 120 {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            panic!("index add finished before it could be killed; make the collection larger");
        }
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    wait_for_other_sessions_to_end(&url);
    let kept = count(&url) as usize;
    assert!(kept >= 40 && kept < n, "{kept} items after the kill");
    assert_eq!(kept % 4, 0, "only whole batches of 4 are committed");
    let o = ok(&mut add(&url, &model, &[&col]));
    assert!(
        stderr(&o).contains(&format!(
            "{} added, 0 updated, {kept} unchanged; {n} items",
            n - kept
        )),
        "{}",
        stderr(&o)
    );
    let r = search(&url, &["-k", "1"], col.join("t0007.txt").to_str().unwrap());
    assert!((r["results"][0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4);
}

#[test]
fn two_writers_at_once_store_everything_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    texts(&a, 60);
    // b holds other files and 30 of a's (the same paths are added by both writers).
    texts(&b, 0);
    for i in 0..60 {
        std::fs::write(b.join(format!("u{i:04}.txt")), format!("Air number {i}\n")).unwrap();
    }
    let shared: Vec<std::path::PathBuf> = (0..30).map(|i| a.join(format!("t{i:04}.txt"))).collect();
    let url = pg_server::fresh_database("cli_writers");
    let mut w1 = add(&url, &model, &[&a])
        .args(["--commit-every", "5"])
        .spawn()
        .unwrap();
    let mut cmd = add(&url, &model, &[&b]);
    cmd.args(["--commit-every", "5"]).args(&shared);
    let mut w2 = cmd.spawn().unwrap();
    assert!(w1.wait().unwrap().success());
    assert!(w2.wait().unwrap().success());
    assert_eq!(count(&url), 120);
    let o = ok(&mut add(&url, &model, &[&a, &b]));
    assert!(
        stderr(&o).contains("0 added, 0 updated, 120 unchanged; 120 items"),
        "{}",
        stderr(&o)
    );
}

#[path = "common/server.rs"]
mod server;

#[test]
fn the_server_searches_and_updates_a_database_index_like_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let col = tmp.path().join("collection");
    std::fs::create_dir_all(&col).unwrap();
    for (src, dst) in [
        ("fixtures/model/inputs/bach_bwv66_6.abc", "bach.abc"),
        ("fixtures/model/inputs/en_reel.txt", "reel.txt"),
        ("fixtures/model/inputs/multilingual.txt", "notes.txt"),
    ] {
        std::fs::copy(repo(src), col.join(dst)).unwrap();
    }
    let url = pg_server::fresh_database("cli_serve");
    ok(&mut add(&url, &model, &[&col]));
    let s = server::Server::start(&model, &["--index", &url]);
    assert_eq!(s.get("/v1/index").json()["items"].as_u64(), Some(3));
    // Search answers exactly what `clamp3 search --json` prints on the same database.
    for (query, args, body) in [
        ("a lively Irish reel", vec![], serde_json::json!({})),
        ("Choral", vec!["-k", "2"], serde_json::json!({"top_k": 2})),
        (
            "reel",
            vec!["--approx"],
            serde_json::json!({"approx": true}),
        ),
    ] {
        let mut req = body.clone();
        req["query"] = serde_json::json!(query);
        let a = s.post("/v1/search", &req);
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json(), search(&url, &args, query), "{query}");
    }
    // An upload added through the server is stored in the database and found by the CLI.
    let mut upload = server::file_input(&repo("fixtures/model/inputs/en_reel.txt"));
    upload["id"] = serde_json::json!("user-7/reel");
    let a = s.post("/v1/index/add", &serde_json::json!({"items": [upload]}));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["total"].as_u64(), Some(4));
    assert_eq!(count(&url), 4);
    let r = search(&url, &["-k", "4"], "reel");
    assert!(r["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["path"] == "user-7/reel"));
    // The server refuses to start on a database holding another model's vectors.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["model.pth", "config.json"] {
        std::fs::copy(repo("fixtures/model/mini").join(f), other.join(f)).unwrap();
    }
    std::fs::copy(model.join("tokenizer.json"), other.join("tokenizer.json")).unwrap();
    let o = clamp3()
        .args(["serve", "--addr", "127.0.0.1:0", "--index", &url, "--model"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("holds vectors of model"),
        "{}",
        stderr(&o)
    );
}
