//! Failure paths against a real llama.cpp server (SmolLM2-135M-Instruct), with faults
//! injected by a proxy in front of it: 429 and 5xx, timeouts, invalid JSON and off-schema
//! answers, a server without `json_schema` support, a server that dies mid-run, and a run
//! killed mid-way. Each test checks that nothing is lost or done twice.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// O'Neill's 1850 tunes (English titles) as items.
fn items(dir: &Path, n: usize) -> std::path::PathBuf {
    let tunes: Vec<(&str, usize)> = (1..=n).map(|i| ("oneills1850/0001-0050.abc", i)).collect();
    corpus_slice(dir, &tunes)
}

fn ids(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_each_once(out: &Path, n: usize) {
    let j = journal(out);
    let finished: HashSet<String> = ids(&j).into_iter().collect();
    assert_eq!(finished.len(), n, "journal: {j:?}");
    let written = ids(&records(out));
    let unique: HashSet<&String> = written.iter().collect();
    assert_eq!(
        unique.len(),
        written.len(),
        "a record written twice: {written:?}"
    );
    let journaled_written: HashSet<String> = j
        .iter()
        .filter(|e| e["status"] == "written")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        journaled_written,
        written.iter().cloned().collect::<HashSet<_>>()
    );
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let _g = serial();
    let llm = Llm::start();
    let proxy = Proxy::start(llm.port);
    proxy.script([Fault::Status(429), Fault::Status(503), Fault::Status(500)]);
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 1);
    let out = tmp.path().join("out.jsonl");
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(config(tmp.path(), PERMISSIVE))
        .args(["--url", &proxy.url()]));
    assert!(o.status.success(), "{err}");
    let s = summary(&out);
    assert_eq!(s["written"], 1, "{err}");
    assert_eq!(s["retries"], 3, "{s}");
    assert_eq!(journal(&out)[0]["retries"], 3);
    assert_eq!(proxy.chat_bodies().len(), 4);
    assert!(
        s["tokens"]["completion_tokens"].as_u64().unwrap() > 0,
        "{s}"
    );
}

#[test]
fn a_timeout_is_retried_and_persistent_failure_stops_the_run_for_a_later_resume() {
    let _g = serial();
    let llm = Llm::start();
    let proxy = Proxy::start(llm.port);
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 2);
    let out = tmp.path().join("out.jsonl");
    let cfg = config(tmp.path(), PERMISSIVE);
    let cmd = |extra: &[&str]| {
        let mut c = annotate();
        c.arg(&music)
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(&cfg)
            .args(["--url", &proxy.url(), "--jobs", "1"])
            .args(extra);
        c
    };
    // First request: slower than the client's timeout; the retry goes through. (Short
    // answers: this test is about the transport, and the retry must beat the timeout on a
    // loaded two-core machine.)
    proxy.script([Fault::Delay(Duration::from_secs(45))]);
    let t = Instant::now();
    let (o, err) = run(&mut cmd(&[
        "--timeout",
        "20",
        "--max-tokens",
        "16",
        "--limit",
        "1",
    ]));
    assert!(o.status.success(), "{err}");
    assert!(t.elapsed() >= Duration::from_secs(20));
    let s = summary(&out);
    assert_eq!(s["retries"].as_u64(), Some(1), "{s}");
    assert_eq!(journal(&out).len(), 1, "{err}");
    assert_eq!(journal(&out)[0]["retries"], 1);
    assert_eq!(s["beyond_limit"], 1);

    // Every request fails: the retries run out, the run stops with exit status 1 and says
    // to resume; the item stays pending.
    proxy.always(Some(Fault::Status(503)));
    let (o, err) = run(&mut cmd(&["--retries", "1", "--max-tokens", "16"]));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unavailable") && err.contains("HTTP 503"),
        "{err}"
    );
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    assert_eq!(journal(&out).len(), 1);

    proxy.always(None);
    let (o, err) = run(&mut cmd(&["--max-tokens", "16"]));
    assert!(o.status.success(), "{err}");
    assert_eq!(summary(&out)["done_before"], 1);
    assert_each_once(&out, 2);
}

#[test]
fn invalid_and_off_schema_answers_are_regenerated_then_rejected() {
    let _g = serial();
    let llm = Llm::start();
    let proxy = Proxy::start(llm.port);
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 3);
    let out = tmp.path().join("out.jsonl");
    // Item 1: a truncated answer, then the model's own (valid) one. Item 2: invalid twice.
    // Item 3: valid JSON off the schema twice.
    let trunc = Fault::Content("{\"title\": \"The Enchanted Va".into());
    let off = Fault::Content("{\"title\": 5, \"mood\": \"sad\"}".into());
    proxy.script([
        trunc.clone(),
        Fault::Pass,
        trunc.clone(),
        trunc,
        off.clone(),
        off,
    ]);
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(config(tmp.path(), PERMISSIVE))
        .args(["--url", &proxy.url(), "--jobs", "1"]));
    assert!(o.status.success(), "{err}");
    let j = journal(&out);
    assert_eq!(j.len(), 3, "{j:?}");
    assert_eq!(j[0]["status"], "written", "{:?}", j[0]);
    assert_eq!(j[1]["status"], "rejected");
    assert_eq!(j[1]["reason"]["reason"], "invalid_json");
    assert!(
        j[1]["detail"]
            .as_str()
            .unwrap()
            .contains("EOF while parsing"),
        "{:?}",
        j[1]
    );
    assert_eq!(j[1]["answer"], "{\"title\": \"The Enchanted Va");
    assert_eq!(j[2]["reason"]["reason"], "off_schema");
    assert!(
        j[2]["detail"]
            .as_str()
            .unwrap()
            .contains("field \"title\" must be a string, not a number"),
        "{:?}",
        j[2]
    );
    let s = summary(&out);
    assert_eq!(s["rejected"]["invalid JSON"], 1);
    assert_eq!(s["rejected"]["off schema"], 1);
    // Rejections are final: a second run does nothing.
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(config(tmp.path(), PERMISSIVE))
        .args(["--url", &proxy.url()]));
    assert!(o.status.success(), "{err}");
    assert_eq!(summary(&out)["done_before"], 3);
    assert_eq!(proxy.chat_bodies().len(), 6);
}

#[test]
fn auto_falls_back_when_the_server_refuses_json_schema() {
    let _g = serial();
    let llm = Llm::start();
    let proxy = Proxy::start(llm.port);
    proxy.always(Some(Fault::RefuseJsonSchema));
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 1);
    let out = tmp.path().join("out.jsonl");
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(config(tmp.path(), PERMISSIVE))
        .args(["--url", &proxy.url()]));
    assert!(o.status.success(), "{err}");
    assert_eq!(summary(&out)["structured"], "json_object");
    let bodies = proxy.chat_bodies();
    assert_eq!(bodies[0]["response_format"]["type"], "json_schema");
    assert_eq!(
        bodies.last().unwrap()["response_format"]["type"],
        "json_object"
    );
    assert_eq!(journal(&out).len(), 1);
}

#[test]
fn a_server_that_dies_mid_run_loses_nothing_and_the_run_resumes() {
    let _g = serial();
    let port = free_port();
    let mut llm = Llm::start_on(port);
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 4);
    let out = tmp.path().join("out.jsonl");
    let cfg = config(tmp.path(), PERMISSIVE);
    let url = llm.url();
    let child = annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(&cfg)
        .args(["--url", &url, "--jobs", "1", "--retries", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    while journal(&out).is_empty() {
        assert!(Instant::now() < deadline, "no item finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    llm.kill();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is unavailable"), "{err}");
    let first = std::fs::read_to_string(&out).unwrap();
    let done = journal(&out).len();
    assert!(
        (1..4).contains(&done),
        "{done} items finished before the server died"
    );

    let _llm = Llm::start_on(port);
    let (o, err) = run(annotate()
        .arg(&music)
        .arg("--out")
        .arg(&out)
        .arg("--config")
        .arg(&cfg)
        .args(["--url", &url]));
    assert!(o.status.success(), "{err}");
    assert_eq!(summary(&out)["done_before"].as_u64(), Some(done as u64));
    assert!(std::fs::read_to_string(&out).unwrap().starts_with(&first));
    assert_each_once(&out, 4);
}

#[test]
fn a_killed_run_resumes_without_loss_or_repeats() {
    let _g = serial();
    let llm = Llm::start();
    let tmp = tempfile::tempdir().unwrap();
    let music = items(tmp.path(), 4);
    let out = tmp.path().join("out.jsonl");
    let cfg = config(tmp.path(), PERMISSIVE);
    let cmd = || {
        let mut c = annotate();
        c.arg(&music)
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(&cfg)
            .args(["--url", &llm.url(), "--jobs", "2"]);
        c
    };
    let mut child = cmd().stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    while journal(&out).is_empty() {
        assert!(Instant::now() < deadline, "no item finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    // What had fully reached the output (a torn last line is cut on resumption).
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let first = text[..text.rfind('\n').map_or(0, |i| i + 1)].to_string();
    let done = journal(&out).len() as u64;
    let (o, err) = run(&mut cmd());
    assert!(o.status.success(), "{err}");
    let s = summary(&out);
    // A record that reached the output but not the journal counts as done (recovered).
    let before = s["done_before"].as_u64().unwrap();
    assert!(
        before >= done && before - done == s["recovered"].as_u64().unwrap(),
        "{s}"
    );
    assert!(std::fs::read_to_string(&out).unwrap().starts_with(&first));
    assert_each_once(&out, 4);
    // The same output cannot be written by two runs at once.
    let lock = clamp3_annotate::Store::open(&out, 10).unwrap();
    let (o, err) = run(&mut cmd());
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("another annotation run is writing this output"),
        "{err}"
    );
    drop(lock);
}
