//! The SearxNG-compatible search source against a loopback search service: the query, the
//! fetched pages (HTML to text), the snippet of a page that cannot be fetched, retries of a
//! failing service, and the error when it stays down.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clamp3_annotate::retry::RetryPolicy;
use clamp3_annotate::{Item, SearchApi, Source};

/// A search service on loopback answering in SearxNG's JSON format, serving its own pages;
/// the first `fail` searches answer 503. Returns the port and the queries it received.
fn search_service(fail: usize) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let q = queries.clone();
    let failures = Arc::new(AtomicUsize::new(fail));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            r.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, ctype, body) = if path.starts_with("/search") {
                q.lock().unwrap().push(path.clone());
                if failures.load(Ordering::SeqCst) > 0 {
                    failures.fetch_sub(1, Ordering::SeqCst);
                    (503, "application/json", "{}".to_string())
                } else {
                    let results = serde_json::json!({"query": "x", "results": [
                        {"url": format!("http://127.0.0.1:{port}/kesh"), "title": "The Kesh (jig)", "content": "snippet one"},
                        {"url": format!("http://127.0.0.1:{port}/gone"), "title": "The Kesh at a session", "content": "played in Sligo"},
                        {"url": format!("http://127.0.0.1:{port}/third"), "title": "Third", "content": "not kept"},
                    ]});
                    (200, "application/json", results.to_string())
                }
            } else if path == "/kesh" {
                (200, "text/html; charset=utf-8", "<html><body><nav>Menu</nav><h1>The Kesh</h1><p>The Kesh is a jig in G major from Ireland.</p><script>track()</script></body></html>".to_string())
            } else {
                (404, "text/plain", "not found".to_string())
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, queries)
}

fn item() -> Item {
    Item {
        id: "kesh".into(),
        title: Some("The Kesh".into()),
        artists: vec!["Trad.".into()],
        ..Item::default()
    }
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        retries: 2,
        backoff_secs: 0.01,
        max_backoff_secs: 0.05,
    }
}

#[test]
fn top_results_are_fetched_and_converted_and_failures_fall_back_to_snippets() {
    let (port, queries) = search_service(1);
    let src = SearchApi::new(
        &format!("http://127.0.0.1:{port}/"),
        2,
        Duration::from_secs(5),
        1 << 20,
        quick(),
    );
    let pages = src.retrieve(&item()).unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].origin, format!("http://127.0.0.1:{port}/kesh"));
    assert!(
        pages[0]
            .text
            .contains("The Kesh is a jig in G major from Ireland."),
        "{}",
        pages[0].text
    );
    assert!(!pages[0].text.contains("track()"));
    // The second page is gone: its title and snippet stand in.
    assert_eq!(pages[1].text, "The Kesh at a session\nplayed in Sligo");
    // One 503, retried; the query is the title and artists, in SearxNG's JSON format.
    let q = queries.lock().unwrap().clone();
    assert_eq!(q.len(), 2);
    assert!(
        q[1].contains("q=The+Kesh+Trad.") || q[1].contains("q=The%20Kesh%20Trad."),
        "{q:?}"
    );
    assert!(q[1].contains("format=json"));
}

#[test]
fn a_search_service_that_stays_down_is_an_error_naming_it() {
    let (port, _) = search_service(usize::MAX);
    let src = SearchApi::new(
        &format!("http://127.0.0.1:{port}"),
        10,
        Duration::from_secs(5),
        1 << 20,
        quick(),
    );
    let e = src.retrieve(&item()).unwrap_err().to_string();
    assert!(
        e.contains(&format!("search at http://127.0.0.1:{port}/search")),
        "{e}"
    );
    assert!(e.contains("HTTP 503 (after 3 attempts)"), "{e}");
}
