//! Retrieval: where the text an annotation is grounded in comes from. A [`Source`] turns an
//! item into pages of text; [`SavedPages`] reads them from disk, [`SearchApi`] asks a
//! SearxNG-compatible JSON search endpoint and fetches the top results.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::item::Item;
use crate::retry::{Attempt, RetryPolicy};

/// One retrieved document, as plain text.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Where it came from (a path or URL), shown to the model and kept in the journal.
    pub origin: String,
    /// Its text (HTML already converted).
    pub text: String,
}

/// Why retrieval failed.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    /// A saved page could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The search endpoint failed after the retries (the service's fault).
    #[error("search at {url}: {message}")]
    Search {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// A retrieval source. Implementations must be usable from several worker threads.
pub trait Source: Send + Sync {
    /// The pages about `item` (possibly none), best first.
    fn retrieve(&self, item: &Item) -> Result<Vec<Page>, RetrievalError>;
}

/// Converts an HTML document to plain text (html2text; scripts and styles dropped, no line
/// wrapping, links without footnotes).
pub fn html_to_text(html: &[u8]) -> String {
    html2text::config::plain_no_decorate()
        .allow_width_overflow()
        .string_from_read(html, 100_000)
        .unwrap_or_else(|_| String::from_utf8_lossy(html).into_owned())
}

fn is_html(name: &str, head: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") || lower.ends_with(".xhtml") {
        return true;
    }
    let start = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    start.contains("<html") || start.contains("<!doctype html")
}

/// Saved pages on disk: for an item with id `ID`, every file in `DIR/ID/` (in name order)
/// and the files `DIR/ID.html`, `DIR/ID.htm`, `DIR/ID.txt`. HTML is converted to text;
/// other files are read as UTF-8 text. An item with no pages gets none.
#[derive(Debug, Clone)]
pub struct SavedPages {
    dir: PathBuf,
    max_bytes: u64,
}

impl SavedPages {
    /// Pages below `dir`; each file is read up to `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> SavedPages {
        SavedPages {
            dir: dir.into(),
            max_bytes,
        }
    }

    fn read(&self, path: &Path) -> Result<Page, RetrievalError> {
        let io = |source| RetrievalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(self.max_bytes)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let name = path.to_string_lossy();
        let text = if is_html(&name, &bytes) {
            html_to_text(&bytes)
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Ok(Page {
            origin: path.display().to_string(),
            text,
        })
    }
}

impl Source for SavedPages {
    fn retrieve(&self, item: &Item) -> Result<Vec<Page>, RetrievalError> {
        // Ids may hold `/` (folder inputs); a `..` component must not escape the folder.
        if item.id.split('/').any(|c| c == ".." || c.is_empty()) {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        let folder = self.dir.join(&item.id);
        if folder.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
                .map_err(|source| RetrievalError::Io {
                    path: folder.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        }
        for ext in ["html", "htm", "txt"] {
            let p = self.dir.join(format!("{}.{ext}", item.id));
            if p.is_file() {
                files.push(p);
            }
        }
        files.iter().map(|p| self.read(p)).collect()
    }
}

/// A SearxNG-compatible JSON search API: `GET {base}/search?q=QUERY&format=json` answering
/// `{"results": [{"url", "title", "content"}, ...]}`. The query is the item's title and
/// artists; the top `results` pages are fetched (HTML converted to text). A result whose
/// page cannot be fetched contributes its snippet instead.
pub struct SearchApi {
    base: String,
    results: usize,
    max_bytes: u64,
    agent: ureq::Agent,
    retry: RetryPolicy,
}

impl SearchApi {
    /// A search source at `base` (e.g. `http://127.0.0.1:8888`), keeping the top `results`.
    pub fn new(
        base: &str,
        results: usize,
        timeout: Duration,
        max_bytes: u64,
        retry: RetryPolicy,
    ) -> SearchApi {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent("clamp3-annotate")
            .build()
            .into();
        SearchApi {
            base: base.trim_end_matches('/').to_string(),
            results,
            max_bytes,
            agent,
            retry,
        }
    }

    fn search(&self, query: &str) -> Result<Vec<(String, String, String)>, RetrievalError> {
        let url = format!("{}/search", self.base);
        let fail = |message: String| RetrievalError::Search {
            url: url.clone(),
            message,
        };
        let body = self
            .retry
            .run(|_| -> Attempt<String> {
                let resp = self
                    .agent
                    .get(&url)
                    .query("q", query)
                    .query("format", "json")
                    .call();
                match resp {
                    Ok(mut r) => {
                        let status = r.status().as_u16();
                        let text = r
                            .body_mut()
                            .with_config()
                            .limit(self.max_bytes)
                            .read_to_string();
                        match (status, text) {
                            (200, Ok(t)) => Attempt::Done(t),
                            (200, Err(e)) => {
                                Attempt::Retry(format!("reading the answer: {e}"), None)
                            }
                            (s, _) if s == 429 || s >= 500 => {
                                Attempt::Retry(format!("HTTP {s}"), None)
                            }
                            (s, t) => Attempt::Fail(format!(
                                "HTTP {s}: {}",
                                t.unwrap_or_default().chars().take(200).collect::<String>()
                            )),
                        }
                    }
                    Err(e) => Attempt::Retry(e.to_string(), None),
                }
            })
            .map_err(|e| fail(e.to_string()))?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| fail(format!("the answer is not JSON: {e}")))?;
        let results = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("the answer has no \"results\" list".into()))?;
        Ok(results
            .iter()
            .filter_map(|r| {
                let url = r.get("url")?.as_str()?.to_string();
                let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                Some((url, s("title"), s("content")))
            })
            .take(self.results)
            .collect())
    }

    fn fetch(&self, url: &str) -> Option<String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return None;
        }
        let mut r = self.agent.get(url).call().ok()?;
        if r.status().as_u16() != 200 {
            return None;
        }
        let html = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("html"));
        let bytes = r
            .body_mut()
            .with_config()
            .limit(self.max_bytes)
            .read_to_vec()
            .ok()?;
        Some(if html || is_html(url, &bytes) {
            html_to_text(&bytes)
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }
}

/// The search query for an item: its title and artists.
pub fn query_of(item: &Item) -> String {
    let mut q = item.title.clone().unwrap_or_default();
    for a in &item.artists {
        q.push(' ');
        q.push_str(a);
    }
    q.trim().to_string()
}

impl Source for SearchApi {
    fn retrieve(&self, item: &Item) -> Result<Vec<Page>, RetrievalError> {
        let q = query_of(item);
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let hits = self.search(&q)?;
        Ok(hits
            .into_iter()
            .map(|(url, title, snippet)| {
                let text = self
                    .fetch(&url)
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| format!("{title}\n{snippet}"));
                Page { origin: url, text }
            })
            .collect())
    }
}

/// Picks the passages of `pages` to show the model: in each page, the paragraphs (blocks of
/// non-empty lines) that share a word with the item's title come first, then the others,
/// up to `page_chars` per page and `total_chars` in all.
pub fn select_passages(
    item: &Item,
    pages: &[Page],
    page_chars: usize,
    total_chars: usize,
) -> Vec<Page> {
    let title_words: Vec<String> = item
        .title
        .as_deref()
        .map(crate::filter::words)
        .unwrap_or_default()
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !crate::filter::is_neutral(w))
        .collect();
    let mut left = total_chars;
    let mut out = Vec::new();
    for page in pages {
        if left == 0 {
            break;
        }
        let paragraphs: Vec<String> = page
            .text
            .split("\n\n")
            .map(|p| {
                p.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|p| !p.is_empty())
            .collect();
        let relevant = |p: &str| {
            let w = crate::filter::words(p);
            title_words.iter().any(|t| w.contains(t))
        };
        let mut ordered: Vec<(usize, &String)> = paragraphs.iter().enumerate().collect();
        ordered.sort_by_key(|(i, p)| (!relevant(p), *i));
        let budget = page_chars.min(left);
        let mut chosen: Vec<(usize, String)> = Vec::new();
        let mut used = 0;
        for (i, p) in ordered {
            if used >= budget {
                break;
            }
            let room = budget - used;
            let take: String = p.chars().take(room).collect();
            used += take.chars().count() + 1;
            chosen.push((i, take));
        }
        chosen.sort_by_key(|(i, _)| *i);
        let text = chosen
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("\n");
        if !text.is_empty() {
            left = left.saturating_sub(used);
            out.push(Page {
                origin: page.origin.clone(),
                text,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_become_text_without_scripts() {
        let html = b"<html><head><title>x</title><style>p{color:red}</style><script>var a=1;</script></head><body><h1>The Kesh</h1><p>A <a href='/j'>jig</a> from Ireland.</p></body></html>";
        let t = html_to_text(html);
        assert!(t.contains("The Kesh"), "{t}");
        assert!(t.contains("jig") && t.contains("from Ireland."), "{t}");
        assert!(!t.contains("var a") && !t.contains("color"), "{t}");
    }

    #[test]
    fn saved_pages_by_folder_and_file_and_no_escape() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/2.txt"), "second").unwrap();
        std::fs::write(dir.path().join("a/b/1.html"), "<p>first</p>").unwrap();
        std::fs::write(dir.path().join("a/b.txt"), "third").unwrap();
        let src = SavedPages::new(dir.path(), 1 << 20);
        let item = Item {
            id: "a/b".into(),
            ..Item::default()
        };
        let pages = src.retrieve(&item).unwrap();
        let texts: Vec<&str> = pages.iter().map(|p| p.text.trim()).collect();
        assert_eq!(texts, vec!["first", "second", "third"]);
        let evil = Item {
            id: "../a/b".into(),
            ..Item::default()
        };
        assert!(src.retrieve(&evil).unwrap().is_empty());
    }

    #[test]
    fn passages_mentioning_the_title_come_first_within_budget() {
        let item = Item {
            title: Some("The Kesh Jig".into()),
            ..Item::default()
        };
        let page = Page {
            origin: "p".into(),
            text: "Menu Home About\n\nNews of the day and weather.\n\nThe Kesh is a jig in G."
                .into(),
        };
        let sel = select_passages(&item, std::slice::from_ref(&page), 40, 1000);
        // The title paragraph is chosen first, then the page is kept in its order.
        assert_eq!(sel[0].text, "Menu Home About\nThe Kesh is a jig in G.");
        let sel = select_passages(&item, &[page.clone(), page], 1000, 30);
        assert_eq!(sel.len(), 1);
        assert!(sel[0].text.chars().count() <= 30);
    }
}
