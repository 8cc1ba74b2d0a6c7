//! The search page of `clamp3 serve` in a real headless browser (Debian's Chromium, driven
//! through chromedriver's W3C WebDriver protocol): a typed query shows the top result that
//! `clamp3 search` gives, a file dropped in by the file input does too, an indexed recording
//! plays and a score opens as text; a screenshot is written to
//! `target/tmp/serve-browser/search.png`; the interactive API docs render.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them); without them the test is
//! skipped, except under CI (`CI` set), where it fails.
//!
//! The WebDriver calls are a handful of JSON requests, sent with the HTTP client the tests
//! already use rather than a WebDriver crate with its own HTTP stack.

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{clamp3, repo, tiny_model_dir};
use serde_json::{json, Value};
use server::Server;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
}

impl Driver {
    fn start(profile: &Path) -> Option<Driver> {
        let (chromium, chromedriver) = ("/usr/bin/chromium", "/usr/bin/chromedriver");
        if !Path::new(chromium).exists() || !Path::new(chromedriver).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install chromium and chromium-driver"
            );
            eprintln!("skipped: no {chromium} or {chromedriver}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent: server::agent(),
        };
        let t = Instant::now();
        while d.call("GET", "/status", None).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let v = d.call("POST", "/session", Some(caps)).expect("new session");
        d.session = v["sessionId"].as_str().expect("session id").to_string();
        Some(d)
    }

    /// One WebDriver command; its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let r = match body {
            Some(b) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(&b).unwrap().as_slice()),
            None if method == "DELETE" => self.agent.delete(&url).call(),
            None => self.agent.get(&url).call(),
        };
        let mut r = r.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let v: Value =
            serde_json::from_str(&r.body_mut().read_to_string().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        if status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(v.to_string())
        }
    }

    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{what}", self.session);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Waits until `js` returns something other than null.
    fn wait_for(&self, js: &str, what: &str) -> Value {
        let t = Instant::now();
        loop {
            let v = self.script(js);
            if !v.is_null() {
                return v;
            }
            if t.elapsed() > Duration::from_secs(60) {
                let status = self.script("return document.getElementById('status').textContent");
                panic!("timed out waiting for {what}; status: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli_top(index: &Path, query: &str) -> Value {
    let o = clamp3()
        .args(["search", "--json", "--index"])
        .arg(index)
        .arg(query)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["results"][0].clone()
}

/// JavaScript that returns the first result row's cells once results for `label` show.
fn first_row(label: &str) -> String {
    format!(
        "const l = document.getElementById('query-label'); \
         const r = document.querySelector('#results tbody tr'); \
         if (!r || l.textContent !== {label}) return null; \
         return [...r.querySelectorAll('td')].slice(0, 4).map(td => td.textContent);",
        label = serde_json::to_string(label).unwrap()
    )
}

#[test]
fn the_search_page_works_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(driver) = Driver::start(&tmp.path().join("profile")) else {
        return;
    };
    let model = tiny_model_dir(tmp.path());
    let mert = model.join("mert");
    std::fs::create_dir_all(&mert).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(repo("fixtures/mert/tiny").join(f), mert.join(f)).unwrap();
    }
    // A small collection: texts, scores, MIDI and a recording.
    let files: Vec<PathBuf> = [
        "fixtures/model/inputs/en_reel.txt",
        "fixtures/model/inputs/multilingual.txt",
        "fixtures/model/inputs/bach_bwv66_6.abc",
        "fixtures/model/inputs/beethoven_op18no1_mvmt1.abc",
        "fixtures/model/inputs/essen_han1_tune3.mtf",
        "fixtures/mtf/deb_pianobooster_lavenders_blue.mid",
        "fixtures/mert/input_24k.wav",
    ]
    .iter()
    .map(|p| repo(p))
    .collect();
    let index = tmp.path().join("index");
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

    driver.cmd("POST", "/url", Some(json!({"url": s.url("/")})));
    driver.wait_for(
        "const t = document.getElementById('server-info').textContent; return t.includes('items indexed') ? t : null;",
        "the server info line",
    );

    // Type a query (not English) and press the button: the top result is the command's.
    let query = "ein fröhlicher irischer Reel";
    let q = driver.element("#q");
    driver.cmd(
        "POST",
        &format!("/element/{q}/value"),
        Some(json!({"text": query})),
    );
    let b = driver.element("#search");
    driver.cmd("POST", &format!("/element/{b}/click"), Some(json!({})));
    let row = driver.wait_for(&first_row(query), "results of the typed query");
    let want = cli_top(&index, query);
    assert_eq!(row[0], "1");
    assert_eq!(row[1], format!("{:.4}", want["score"].as_f64().unwrap()));
    assert_eq!(row[2], want["modality"]);
    assert_eq!(row[3], want["metadata"]["name"]);

    // A score opens as text; the recording plays (its bytes come from the index).
    let opened = driver.script(
        "const b = document.querySelector('#results button.view'); if (b) b.click(); return !!b;",
    );
    assert_eq!(opened, true, "no viewable result");
    driver.wait_for(
        "const v = document.getElementById('viewer'); return !v.hidden && v.querySelector('pre').textContent.length > 10 ? true : null;",
        "the text view",
    );
    driver.script(
        "document.getElementById('modality').value = 'audio'; document.getElementById('q').value = ''; return null;",
    );
    driver.cmd(
        "POST",
        &format!("/element/{q}/value"),
        Some(json!({"text": "piano"})),
    );
    driver.cmd("POST", &format!("/element/{b}/click"), Some(json!({})));
    driver.wait_for(&first_row("piano"), "audio results");
    driver.script("document.querySelector('#results button.play').click(); return null;");
    driver.wait_for(
        "const a = document.querySelector('#results audio'); return a && a.src.startsWith('blob:') ? a.src : null;",
        "the audio player",
    );
    driver.script("document.getElementById('modality').value = ''; return null;");

    // Upload a file (the file input, as a drop does): the top result is the command's.
    let upload = std::fs::canonicalize(repo("fixtures/model/inputs/essen_han1_tune3.abc")).unwrap();
    let f = driver.element("#file");
    driver.cmd(
        "POST",
        &format!("/element/{f}/value"),
        Some(json!({"text": upload.to_str().unwrap()})),
    );
    let row = driver.wait_for(&first_row("essen_han1_tune3.abc"), "results of the upload");
    let want = cli_top(&index, upload.to_str().unwrap());
    assert_eq!(row[0], "1");
    assert_eq!(row[3], want["metadata"]["name"]);
    assert_eq!(row[1], format!("{:.4}", want["score"].as_f64().unwrap()));

    let shot = driver.cmd("GET", "/screenshot", None);
    let png = server::unb64(shot.as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-browser");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("search.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());

    // The interactive API docs render from the binary alone.
    driver.cmd("POST", "/url", Some(json!({"url": s.url("/docs/")})));
    let title = driver.wait_for(
        "const t = document.querySelector('.swagger-ui .info .title'); return t ? t.textContent : null;",
        "the API docs",
    );
    assert!(title.as_str().unwrap().contains("clamp3 serve"), "{title}");
    let ops = driver.wait_for(
        "const n = document.querySelectorAll('.swagger-ui .opblock').length; return n > 0 ? n : null;",
        "the documented operations",
    );
    assert!(ops.as_u64().unwrap() >= 12, "{ops}");
}
