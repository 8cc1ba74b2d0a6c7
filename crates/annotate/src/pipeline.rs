//! The annotation pipeline (CLaMP 3 §9.1): per item, title screening, retrieval, passage
//! selection, a schema-constrained answer, validation and quality filters, translation;
//! then duplicates are screened and the record is written. Items run on a bounded number of
//! worker threads; results are written by one thread, in completion order.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, ConfigError};
use crate::filter::{check_annotation, check_translation, screen_title, Grounding, Reason};
use crate::item::{InputError, Item};
use crate::lang::Language;
use crate::llm::{ChatClient, LlmError, Structured, Usage};
use crate::prompt::{annotation_messages, translation_messages};
use crate::schema::{
    annotation_schema, parse_annotation, parse_translation, translation_schema, Annotation,
    SchemaError, Translation, TEXT_FIELDS,
};
use crate::source::{select_passages, Page, RetrievalError, SavedPages, SearchApi, Source};
use crate::store::{Entry, Status, Store, StoreError};

/// Why a run stopped before finishing its items (the system's fault: rerun to resume).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The LLM server failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// Retrieval failed.
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
    /// The output or journal could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input turned out bad while being read.
    #[error(transparent)]
    Input(#[from] InputError),
}

/// Progress reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The run starts: items to process now, and those finished by earlier runs.
    Start {
        /// Items this run will process.
        pending: usize,
        /// Items already written or rejected.
        done_before: usize,
    },
    /// An item finished: its id and what became of it (`written` or the reason).
    Item {
        /// The item.
        id: String,
        /// `None` when written, else why not.
        rejected: Option<String>,
    },
    /// An item failed for a system reason; no new items start.
    Stopping {
        /// The item.
        id: String,
        /// The error.
        error: String,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Items in the input.
    pub items: usize,
    /// Items finished by earlier runs, skipped.
    pub done_before: usize,
    /// Records written by this run.
    pub written: usize,
    /// Items rejected by this run, by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Records written with a translation.
    pub translated: usize,
    /// Translations dropped, by reason.
    pub translations_dropped: BTreeMap<String, usize>,
    /// Items that failed for a system reason (to be retried by the next run).
    pub failed: Vec<(String, String)>,
    /// Items not started because the run stopped.
    pub not_started: usize,
    /// Items left for later by the run's `limit`.
    pub beyond_limit: usize,
    /// Tokens used by this run.
    pub tokens: Usage,
    /// Requests retried after transient failures.
    pub retries: u64,
    /// Records found in the output but not the journal on opening (a crash), journaled.
    pub recovered: usize,
    /// The output constraint in use at the end.
    pub structured: String,
    /// Records in the output after the run, and rejected items in the journal.
    pub total_written: usize,
    /// Rejected items in the journal after the run.
    pub total_rejected: usize,
}

impl Summary {
    /// Items rejected by this run.
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }

    /// Whether the run did all it was asked to (nothing failed or stopped; items beyond a
    /// `limit` do not count).
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.not_started == 0
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} items: {} written, {} rejected by this run ({} finished before)",
            self.items,
            self.written,
            self.rejected_total(),
            self.done_before
        )?;
        for (r, n) in &self.rejected {
            writeln!(f, "  rejected, {r}: {n}")?;
        }
        if self.translated > 0 || !self.translations_dropped.is_empty() {
            writeln!(f, "translations: {} written", self.translated)?;
            for (r, n) in &self.translations_dropped {
                writeln!(f, "  dropped, {r}: {n}")?;
            }
        }
        writeln!(
            f,
            "tokens: {} prompt + {} completion = {}; {} requests retried; output constraint: {}",
            self.tokens.prompt_tokens,
            self.tokens.completion_tokens,
            self.tokens.prompt_tokens + self.tokens.completion_tokens,
            self.retries,
            self.structured
        )?;
        if self.recovered > 0 {
            writeln!(
                f,
                "recovered {} records written before a crash",
                self.recovered
            )?;
        }
        writeln!(
            f,
            "output now holds {} records; {} items rejected in all",
            self.total_written, self.total_rejected
        )?;
        if self.beyond_limit > 0 {
            writeln!(f, "{} items left beyond the limit", self.beyond_limit)?;
        }
        if !self.failed.is_empty() || self.not_started > 0 {
            for (id, e) in &self.failed {
                writeln!(f, "failed: {id}: {e}")?;
            }
            writeln!(
                f,
                "{} items not finished: run the same command again to resume",
                self.failed.len() + self.not_started
            )?;
        }
        Ok(())
    }
}

/// The record as written: M4-RAG field order (CLaMP 3 §9.1).
#[derive(Serialize)]
struct OutRecord<'a> {
    id: &'a str,
    filepaths: &'a [String],
    title: &'a str,
    artists: &'a [String],
    region: &'a str,
    language: &'a str,
    genres: &'a [String],
    tags: &'a [String],
    background: &'a str,
    analysis: &'a str,
    description: &'a str,
    scene: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    translations: Option<BTreeMap<&'a str, &'a str>>,
}

/// The shared source of the workers' items.
struct Feed<I> {
    items: I,
    taken: usize,
    error: Option<InputError>,
}

impl<I: Iterator<Item = Result<Item, InputError>>> Feed<I> {
    /// The next item not in `done`, unless `limit` items were taken; `Err` on an input
    /// error (kept in `error`).
    fn next_pending(&mut self, done: &HashSet<String>, limit: usize) -> Result<Option<Item>, ()> {
        if self.error.is_some() {
            return Err(());
        }
        if self.taken >= limit {
            return Ok(None);
        }
        for item in self.items.by_ref() {
            match item {
                Ok(i) if done.contains(&i.id) => continue,
                Ok(i) => {
                    self.taken += 1;
                    return Ok(Some(i));
                }
                Err(e) => {
                    self.error = Some(e);
                    return Err(());
                }
            }
        }
        Ok(None)
    }
}

/// The result of one item on a worker.
enum Outcome {
    Done {
        annotation: Box<Annotation>,
        translation: Option<Translation>,
        /// Why the translation was dropped (summary label).
        dropped: Option<&'static str>,
        entry: Entry,
    },
    Rejected(Entry),
    /// A system failure, and the tokens the item had used.
    Failed(RunError, Usage),
}

/// The configured pipeline.
pub struct Pipeline {
    config: Config,
    client: ChatClient,
    sources: Vec<Box<dyn Source>>,
    language: Language,
    targets: Vec<Language>,
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Pipeline {
    /// A pipeline with the sources the configuration names (saved pages, search API).
    pub fn new(config: Config) -> Result<Pipeline, ConfigError> {
        config.validate()?;
        let r = &config.retrieval;
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        if let Some(dir) = &r.pages {
            if !dir.is_dir() {
                return Err(ConfigError::Invalid(format!(
                    "the saved pages folder {} does not exist",
                    dir.display()
                )));
            }
            sources.push(Box::new(SavedPages::new(dir, r.page_bytes)));
        }
        if let Some(url) = &r.search_url {
            // The search service is retried like the LLM server.
            sources.push(Box::new(SearchApi::new(
                url,
                r.search_results,
                std::time::Duration::from_secs_f64(r.timeout_secs),
                r.page_bytes,
                config.server.retry,
            )));
        }
        Self::with_sources(config, sources)
    }

    /// A pipeline with the given sources (the configuration's retrieval section then only
    /// sets the passage budgets).
    pub fn with_sources(
        config: Config,
        sources: Vec<Box<dyn Source>>,
    ) -> Result<Pipeline, ConfigError> {
        config.validate()?;
        let lang = |s: &str| Language::parse(s).map_err(|e| ConfigError::Invalid(e.to_string()));
        let language = lang(&config.generation.language)?;
        let targets = config
            .generation
            .translate
            .iter()
            .map(|s| lang(s))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.contains(&language) {
            return Err(ConfigError::Invalid(format!(
                "cannot translate into {}, the annotation language",
                language.name
            )));
        }
        let client = ChatClient::new(config.server.clone());
        Ok(Pipeline {
            config,
            client,
            sources,
            language,
            targets,
        })
    }

    /// The LLM client.
    pub fn client(&self) -> &ChatClient {
        &self.client
    }

    /// Waits for the server and resolves the model name (see [`ChatClient::connect`]).
    pub fn connect(&mut self) -> Result<(), LlmError> {
        self.client.connect()
    }

    /// The translation language of item `id`: a stable choice among the targets.
    pub fn target_of(&self, id: &str) -> Option<&Language> {
        if self.targets.is_empty() {
            return None;
        }
        let h = Sha256::digest(id.as_bytes());
        let n = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        self.targets.get((n % self.targets.len() as u64) as usize)
    }

    fn annotate(&self, item: &Item) -> Outcome {
        let mut entry = Entry::new(&item.id, Status::Rejected);
        if let Some(r) = screen_title(item.title.as_deref(), &self.config.filters) {
            entry.detail = Some(r.to_string());
            entry.reason = Some(r);
            return Outcome::Rejected(entry);
        }
        let mut pages: Vec<Page> = Vec::new();
        for s in &self.sources {
            match s.retrieve(item) {
                Ok(p) => pages.extend(p),
                Err(e) => return Outcome::Failed(e.into(), entry.tokens),
            }
        }
        let r = &self.config.retrieval;
        let passages = select_passages(item, &pages, r.page_chars, r.context_chars);
        entry.sources = passages.iter().map(|p| p.origin.clone()).collect();
        let facts = item.facts_text();
        let grounding = Grounding::new(
            std::iter::once(facts.as_str()).chain(passages.iter().map(|p| p.text.as_str())),
        );
        let limits = &self.config.generation.limits;
        let schema = annotation_schema(limits);
        let messages = annotation_messages(item, &passages, &self.language);
        let mut answer = Err(SchemaError::InvalidJson("no answer".into()));
        let mut last = String::new();
        for _ in 0..self.config.generation.answer_attempts {
            let c = match self.client.complete(&messages, &schema) {
                Ok(c) => c,
                Err(e) => return Outcome::Failed(e.into(), entry.tokens),
            };
            entry.tokens += c.usage;
            entry.retries += c.retries;
            answer = parse_annotation(&c.content, limits).map_err(|e| {
                match (&e, c.finish_reason.as_deref()) {
                    (SchemaError::InvalidJson(m), Some("length")) => {
                        SchemaError::InvalidJson(format!(
                            "{m} (the answer was cut at max_tokens = {})",
                            self.config.server.max_tokens
                        ))
                    }
                    _ => e,
                }
            });
            last = c.content;
            if answer.is_ok() {
                break;
            }
        }
        let mut annotation = match answer {
            Ok(a) => a,
            Err(e) => {
                let r = match e {
                    SchemaError::InvalidJson(message) => Reason::InvalidJson { message },
                    SchemaError::OffSchema(message) => Reason::OffSchema { message },
                };
                entry.detail = Some(r.to_string());
                entry.reason = Some(r);
                entry.answer = Some(cut(&last, 4000));
                return Outcome::Rejected(entry);
            }
        };
        match check_annotation(
            &annotation,
            &self.language,
            &grounding,
            &self.config.filters,
        ) {
            Ok(score) => entry.grounding = Some(score),
            Err(r) => {
                if let Reason::Ungrounded { score, .. } = &r {
                    entry.grounding = Some(*score);
                }
                entry.detail = Some(r.to_string());
                entry.reason = Some(r);
                entry.answer = Some(cut(&last, 4000));
                return Outcome::Rejected(entry);
            }
        }
        // Known facts win over the model's version of them.
        if let Some(t) = &item.title {
            annotation.title = t.clone();
        }
        if !item.artists.is_empty() {
            annotation.artists = item.artists.clone();
        }
        let mut dropped = None;
        let translation = match self.target_of(&item.id) {
            None => None,
            Some(to) => {
                let fields: Vec<&str> = TEXT_FIELDS
                    .iter()
                    .copied()
                    .filter(|f| !annotation.text(f).is_empty())
                    .collect();
                let msgs = translation_messages(&annotation, &fields, &self.language, to);
                let c = match self
                    .client
                    .complete(&msgs, &translation_schema(&fields, limits))
                {
                    Ok(c) => c,
                    Err(e) => return Outcome::Failed(e.into(), entry.tokens),
                };
                entry.tokens += c.usage;
                entry.retries += c.retries;
                let checked = parse_translation(&c.content, &fields, to.name, limits)
                    .map_err(|e| (e.label(), e.to_string()))
                    .and_then(|t| {
                        check_translation(&annotation, &t, to, &self.config.filters).map(|_| t)
                    });
                match checked {
                    Ok(t) => {
                        entry.translation = Some(to.name.to_string());
                        Some(t)
                    }
                    Err((label, why)) => {
                        entry.translation = Some(format!("{} dropped: {why}", to.name));
                        dropped = Some(label);
                        None
                    }
                }
            }
        };
        entry.status = Status::Written;
        Outcome::Done {
            annotation: Box::new(annotation),
            translation,
            dropped,
            entry,
        }
    }

    /// Runs the items not yet finished in `store`, calling `on_event` as they finish.
    /// Returns the summary; an item failing for a system reason (server unavailable after
    /// the retries, retrieval failure) stops new items from starting, and the run ends once
    /// those in flight are done (their results are kept). A store write failure ends the
    /// run with an error.
    pub fn run(
        &self,
        items: &[Item],
        store: &mut Store,
        on_event: impl FnMut(&Event),
    ) -> Result<Summary, RunError> {
        let pending = items.iter().filter(|i| !store.is_done(&i.id)).count();
        let feed = items.iter().cloned().map(Ok);
        self.run_stream(feed, items.len(), pending, store, on_event)
    }

    /// Like [`run`](Self::run), over items read one at a time (memory holds the items in
    /// flight). `total` and `pending` are the input's item count and how many of them
    /// `store` has not finished (a first pass over the input counts them: see
    /// [`count_pending`](Self::count_pending)). An input error met on the way ends the run
    /// with that error, after the items in flight.
    pub fn run_stream(
        &self,
        items: impl Iterator<Item = Result<Item, InputError>> + Send,
        total: usize,
        pending: usize,
        store: &mut Store,
        mut on_event: impl FnMut(&Event),
    ) -> Result<Summary, RunError> {
        let mut summary = Summary {
            items: total,
            recovered: store.recovered,
            done_before: total.saturating_sub(pending),
            ..Summary::default()
        };
        let todo = match self.config.run.limit {
            Some(l) => {
                summary.beyond_limit = pending.saturating_sub(l);
                pending.min(l)
            }
            None => pending,
        };
        on_event(&Event::Start {
            pending: todo,
            done_before: summary.done_before,
        });
        let done: HashSet<String> = store.entries().map(|e| e.id.clone()).collect();
        let feed = Mutex::new(Feed {
            items,
            taken: 0,
            error: None,
        });
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(Item, Outcome)>();
        let mut store_error = None;
        std::thread::scope(|scope| {
            for _ in 0..self.config.run.jobs.min(todo.max(1)) {
                let tx = tx.clone();
                let (feed, stop, done) = (&feed, &stop, &done);
                scope.spawn(move || loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let next = {
                        let mut f = feed.lock().unwrap_or_else(|e| e.into_inner());
                        f.next_pending(done, todo)
                    };
                    let item = match next {
                        Ok(Some(item)) => item,
                        Ok(None) => break,
                        Err(()) => {
                            stop.store(true, Ordering::SeqCst);
                            break;
                        }
                    };
                    let out = self.annotate(&item);
                    if tx.send((item, out)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (item, out) in rx {
                if store_error.is_some() {
                    continue;
                }
                let result = self.finish(&item, out, store, &mut summary, &stop, &mut on_event);
                if let Err(e) = result {
                    stop.store(true, Ordering::SeqCst);
                    store_error = Some(e);
                }
            }
        });
        if let Some(e) = store_error {
            return Err(e.into());
        }
        let feed = feed.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = feed.error {
            return Err(RunError::Input(e));
        }
        summary.not_started = todo.saturating_sub(feed.taken);
        summary.structured = match self.client.structured() {
            Structured::Auto | Structured::JsonSchema => "json_schema",
            Structured::JsonObject => "json_object",
            Structured::None => "prompt only",
        }
        .to_string();
        for e in store.entries() {
            match e.status {
                Status::Written => summary.total_written += 1,
                Status::Rejected => summary.total_rejected += 1,
            }
        }
        Ok(summary)
    }

    /// A first pass over an input: its item count and how many `store` has not finished
    /// (the input is checked whole, so a bad line fails before any request).
    pub fn count_pending(
        items: impl Iterator<Item = Result<Item, InputError>>,
        store: &Store,
    ) -> Result<(usize, usize), InputError> {
        let (mut total, mut pending) = (0, 0);
        for item in items {
            let item = item?;
            total += 1;
            if !store.is_done(&item.id) {
                pending += 1;
            }
        }
        Ok((total, pending))
    }

    fn finish(
        &self,
        item: &Item,
        out: Outcome,
        store: &mut Store,
        summary: &mut Summary,
        stop: &AtomicBool,
        on_event: &mut impl FnMut(&Event),
    ) -> Result<(), StoreError> {
        match out {
            Outcome::Failed(e, tokens) => {
                summary.tokens += tokens;
                stop.store(true, Ordering::SeqCst);
                let error = e.to_string();
                summary.failed.push((item.id.clone(), error.clone()));
                on_event(&Event::Stopping {
                    id: item.id.clone(),
                    error,
                });
            }
            Outcome::Rejected(entry) => self.reject(entry, store, summary, on_event)?,
            Outcome::Done {
                annotation,
                translation,
                dropped,
                mut entry,
            } => {
                if self.config.filters.reject_duplicates {
                    let fields = TEXT_FIELDS.iter().map(|f| (*f, annotation.text(f)));
                    if let Some(r) = store.dedup().check(fields) {
                        entry.status = Status::Rejected;
                        entry.detail = Some(r.to_string());
                        entry.reason = Some(r);
                        entry.translation = None;
                        return self.reject(entry, store, summary, on_event);
                    }
                }
                summary.tokens += entry.tokens;
                summary.retries += u64::from(entry.retries);
                if translation.is_some() {
                    summary.translated += 1;
                }
                if let Some(label) = dropped {
                    *summary
                        .translations_dropped
                        .entry(label.to_string())
                        .or_default() += 1;
                }
                let translations = translation.as_ref().map(|t| {
                    let mut m: BTreeMap<&str, &str> = BTreeMap::new();
                    m.insert("language", &t.language);
                    for (f, v) in &t.fields {
                        m.insert(f, v);
                    }
                    m
                });
                let a = &annotation;
                let rec = OutRecord {
                    id: &item.id,
                    filepaths: &item.filepaths,
                    title: &a.title,
                    artists: &a.artists,
                    region: &a.region,
                    language: &a.language,
                    genres: &a.genres,
                    tags: &a.tags,
                    background: &a.background,
                    analysis: &a.analysis,
                    description: &a.description,
                    scene: &a.scene,
                    translations,
                };
                let line = serde_json::to_string(&rec).map_err(|e| StoreError::Io {
                    path: "record".into(),
                    source: std::io::Error::other(e),
                })?;
                let texts: Vec<&str> = TEXT_FIELDS.iter().map(|f| a.text(f)).collect();
                store.write(&line, &texts, entry)?;
                summary.written += 1;
                on_event(&Event::Item {
                    id: item.id.clone(),
                    rejected: None,
                });
            }
        }
        Ok(())
    }

    fn reject(
        &self,
        entry: Entry,
        store: &mut Store,
        summary: &mut Summary,
        on_event: &mut impl FnMut(&Event),
    ) -> Result<(), StoreError> {
        summary.tokens += entry.tokens;
        summary.retries += u64::from(entry.retries);
        let label = entry
            .reason
            .as_ref()
            .map_or("rejected", |r| r.label())
            .to_string();
        *summary.rejected.entry(label).or_default() += 1;
        let id = entry.id.clone();
        let detail = entry.detail.clone().unwrap_or_default();
        store.reject(entry)?;
        on_event(&Event::Item {
            id,
            rejected: Some(detail),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str) -> Result<Item, InputError> {
        Ok(Item {
            id: id.into(),
            ..Item::default()
        })
    }

    #[test]
    fn the_feed_skips_done_items_honours_the_limit_and_stops_at_bad_input() {
        let done: HashSet<String> = ["a".to_string()].into();
        let bad = Err(InputError::Missing("x".into()));
        let mut f = Feed {
            items: vec![item("a"), item("b"), bad, item("c")].into_iter(),
            taken: 0,
            error: None,
        };
        assert_eq!(f.next_pending(&done, 10).unwrap().unwrap().id, "b");
        assert!(f.next_pending(&done, 10).is_err());
        assert!(f.next_pending(&done, 10).is_err(), "stays stopped");
        assert!(matches!(f.error, Some(InputError::Missing(_))));
        assert_eq!(f.taken, 1);

        let mut f = Feed {
            items: vec![item("b"), item("c")].into_iter(),
            taken: 0,
            error: None,
        };
        assert_eq!(f.next_pending(&done, 1).unwrap().unwrap().id, "b");
        assert!(f.next_pending(&done, 1).unwrap().is_none(), "limit reached");
    }

    #[test]
    fn translation_targets_are_stable_per_id_and_spread() {
        let mut c = Config::default();
        c.generation.translate = vec!["de".into(), "fr".into(), "ja".into()];
        let p = Pipeline::with_sources(c, Vec::new()).unwrap();
        let pick = |id: &str| p.target_of(id).unwrap().code;
        assert_eq!(pick("han1_1"), pick("han1_1"));
        let used: HashSet<&str> = (0..60).map(|i| pick(&format!("item{i}"))).collect();
        assert_eq!(used.len(), 3);
        let mut c = Config::default();
        c.generation.translate = vec!["en".into()];
        let e = Pipeline::with_sources(c, Vec::new())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot translate into English"), "{e}");
    }
}
