//! Test harness: a real llama.cpp `llama-server` over SmolLM2-135M-Instruct on loopback
//! (both fetched by `scripts/fetch-llm.sh`), a fault-injecting HTTP proxy in front of it, a
//! slice of the music21 corpus as items, and the `clamp3-annotate` binary.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// One LLM test at a time: each starts its own server, and the machine has two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn llm_dir() -> PathBuf {
    std::env::var_os("CLAMP3_LLM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("testdata/llm"))
}

/// The llama.cpp server binary and the model file.
pub fn llm_files() -> (PathBuf, PathBuf) {
    let dir = llm_dir();
    let server = dir.join("llama-server");
    let model = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        server.is_file() && model.is_file(),
        "{} lacks llama-server or the model: run scripts/fetch-llm.sh",
        dir.display()
    );
    (server, model)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running llama-server, killed on drop.
pub struct Llm {
    child: Option<Child>,
    pub port: u16,
}

impl Llm {
    /// Starts a server on a free loopback port and waits until it is ready.
    pub fn start() -> Llm {
        Llm::start_on(free_port())
    }

    /// Starts a server on `port` and waits until it is ready.
    pub fn start_on(port: u16) -> Llm {
        let (server, model) = llm_files();
        let threads = std::env::var("CLAMP3_LLM_THREADS").unwrap_or_else(|_| "1".into());
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("llama-server-{port}.log")))
                .unwrap();
        let child = Command::new(server)
            .args(["-m"])
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", "4096", "-np", "2", "-t", &threads])
            // Weight repacking crashes on CPUs that report AMX but whose kernel does not
            // enable it (this machine): plain CPU kernels instead.
            .arg("--no-repack")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting llama-server");
        let llm = Llm {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        loop {
            let ok = agent
                .get(&format!("http://127.0.0.1:{port}/health"))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return llm;
            }
            assert!(
                Instant::now() < deadline,
                "llama-server did not become ready on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The OpenAI-compatible base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Llm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the proxy does with one chat request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward unchanged.
    Pass,
    /// Answer with this status (and `Retry-After: 0`) without asking the server.
    Status(u16),
    /// Wait this long, then forward (a client with a shorter timeout gives up first).
    Delay(Duration),
    /// Forward, then replace the answer's `choices[0].message.content`.
    Content(String),
    /// Answer 400 naming `response_format` when the request carries a `json_schema`.
    RefuseJsonSchema,
}

/// A fault-injecting HTTP proxy in front of a real server: chat requests take the next
/// fault of the script (none: forwarded unchanged); every request body is recorded.
pub struct Proxy {
    pub port: u16,
    script: Arc<Mutex<VecDeque<Fault>>>,
    persistent: Arc<Mutex<Option<Fault>>>,
    pub bodies: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let persistent = Arc::new(Mutex::new(None));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (s, p, b) = (script.clone(), persistent.clone(), bodies.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (s, p, b) = (s.clone(), p.clone(), b.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream_port, &s, &p, &b);
                });
            }
        });
        Proxy {
            port,
            script,
            persistent,
            bodies,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Faults for the next chat requests, in order.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.lock().unwrap().extend(faults);
    }

    /// A fault for every chat request once the script is used up.
    pub fn always(&self, fault: Option<Fault>) {
        *self.persistent.lock().unwrap() = fault;
    }

    /// The chat request bodies seen so far.
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect()
    }
}

fn respond(conn: &mut TcpStream, status: u16, extra: &str, body: &str) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

fn handle(
    mut conn: TcpStream,
    upstream: u16,
    script: &Mutex<VecDeque<Fault>>,
    persistent: &Mutex<Option<Fault>>,
    bodies: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let chat = path.ends_with("/chat/completions");
    let fault = if chat {
        bodies.lock().unwrap().push(body.clone());
        let next = script.lock().unwrap().pop_front();
        next.or_else(|| persistent.lock().unwrap().clone())
    } else {
        None
    };
    let mut replace = None;
    match fault {
        Some(Fault::Status(code)) => {
            return respond(
                &mut conn,
                code,
                "Retry-After: 0\r\n",
                "{\"error\":{\"message\":\"injected\"}}",
            )
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        Some(Fault::Content(c)) => replace = Some(c),
        Some(Fault::RefuseJsonSchema) if body.contains("\"json_schema\"") => {
            return respond(
                &mut conn,
                400,
                "",
                "{\"error\":{\"message\":\"response_format type json_schema is not supported\"}}",
            )
        }
        Some(Fault::RefuseJsonSchema) | Some(Fault::Pass) | None => {}
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{upstream}{path}");
    let result = if method == "POST" {
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
    } else {
        agent.get(&url).call()
    };
    let mut resp = match result {
        Ok(r) => r,
        // The server is down: what a gateway in front of it answers.
        Err(_) => {
            return respond(
                &mut conn,
                502,
                "",
                "{\"error\":{\"message\":\"bad gateway\"}}",
            )
        }
    };
    let status = resp.status().as_u16();
    let mut text = resp.body_mut().read_to_string().unwrap_or_default();
    if let Some(c) = replace {
        if let Ok(mut v) = serde_json::from_str::<Value>(&text) {
            v["choices"][0]["message"]["content"] = Value::String(c);
            text = v.to_string();
        }
    }
    respond(&mut conn, status, "", &text)
}

/// The `clamp3-annotate` binary.
pub fn annotate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clamp3-annotate"))
}

pub fn run(cmd: &mut Command) -> (Output, String) {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, err)
}

/// The journal entries of an output.
pub fn journal(out: &Path) -> Vec<Value> {
    let mut p = out.as_os_str().to_owned();
    p.push(".journal");
    std::fs::read_to_string(PathBuf::from(p))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records of an output.
pub fn records(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn summary(out: &Path) -> Value {
    let mut p = out.as_os_str().to_owned();
    p.push(".summary.json");
    serde_json::from_str(&std::fs::read_to_string(PathBuf::from(p)).unwrap()).unwrap()
}

/// A settings file for tests: short answers (fast on two cores), a fixed seed, quick
/// retries, and `filters` as given (TOML lines of the `[filters]` table). With the default
/// filters, the schema asks for free text of the filters' minimum length.
pub fn config(dir: &Path, filters: &str) -> PathBuf {
    let min = if filters.is_empty() { 30 } else { 0 };
    let p = dir.join(if filters.is_empty() {
        "strict.toml"
    } else {
        "permissive.toml"
    });
    std::fs::write(
        &p,
        format!(
            "[server]\nmax_tokens = 700\ntemperature = 0.3\nseed = 7\ntimeout_secs = 120\n\
[server.retry]\nretries = 3\nbackoff_secs = 0.2\nmax_backoff_secs = 1.0\n\
[retrieval]\npage_chars = 800\ncontext_chars = 1600\n\
[generation.limits]\nmax_list = 3\nmax_short_chars = 60\nmax_text_chars = 160\nmin_text_chars = {min}\n\
[filters]\n{filters}\n",
        ),
    )
    .unwrap();
    p
}

/// Filters that pass every valid answer (for the failure-path tests, whose subject is
/// the transport, not the text).
pub const PERMISSIVE: &str = "require_title = false\nmin_text_chars = 0\nlanguage_confidence = 1.0\nmin_grounding = 0.0\nmin_distinct_trigrams = 0.0\nreject_duplicates = false";

/// One tune per (file, tune number) of the music21 corpus, each written to
/// `dir/music/<file>_<n>.abc` with its header intact.
pub fn corpus_slice(dir: &Path, tunes: &[(&str, usize)]) -> PathBuf {
    let music = dir.join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (file, n) in tunes {
        let path = repo("testdata/music21/corpus").join(file);
        assert!(
            path.is_file(),
            "{} missing: run scripts/fetch-test-data.sh",
            path.display()
        );
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let tune = tunes_of(&text)
            .into_iter()
            .nth(n - 1)
            .unwrap_or_else(|| panic!("{file} has no tune {n}"));
        let stem = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        std::fs::write(music.join(format!("{stem}_{n}.abc")), tune).unwrap();
    }
    music
}

/// The tunes of an ABC collection (each from its `X:` line to the next).
pub fn tunes_of(text: &str) -> Vec<String> {
    let mut tunes: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("X:") {
            tunes.push(String::new());
        }
        if let Some(t) = tunes.last_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    tunes
}

/// A saved catalogue page per tune of `music/`: its header fields as HTML, the way a
/// collection's web page lists them (the corpus has no web pages; retrieval is offline).
pub fn catalogue_pages(dir: &Path, music: &Path) -> PathBuf {
    let pages = dir.join("pages");
    std::fs::create_dir_all(&pages).unwrap();
    for e in std::fs::read_dir(music).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let mut html = String::from("<html><head><title>Folk song archive</title><script>var x=1;</script></head><body><nav>Home | Search | About</nav>");
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let label = match k {
                "T" => "Title",
                "O" => "Origin",
                "R" => "Genre",
                "N" => "Note",
                "M" => "Meter",
                "K" => "Key",
                "C" => "Composer",
                "B" | "S" => "Source",
                _ => continue,
            };
            html.push_str(&format!("<p><b>{label}:</b> {}</p>\n", v.trim()));
            if k == "K" {
                break;
            }
        }
        html.push_str("</body></html>\n");
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        std::fs::write(pages.join(format!("{stem}.html")), html).unwrap();
    }
    pages
}
