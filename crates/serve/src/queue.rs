//! Dynamic batching: the inputs of concurrent requests are prepared on worker threads (decode,
//! convert, tokenise: [`Embedder::prepare`]) and pooled, first come first served, into model
//! batches bounded by inputs, by encoder units (text tokens, patches, feature vectors, as
//! text-embeddings-inference's `max_batch_tokens`) and by MERT windows. One model thread runs
//! the batches ([`Embedder::embed_batch`]) while the workers prepare the next.
//!
//! The queue is bounded: a request whose inputs do not fit is refused at once (429). An input
//! whose requester went away (its receiver dropped: the client disconnected or the request
//! timed out) is skipped before it is prepared and before it is batched.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use clamp3::{Cause, EmbedOptions, Embedder, Embedding, Input, Modality, Prepared};
use tokio::sync::oneshot;

use crate::config::Limits;
use crate::metrics::{Metrics, ModalityLabel};

/// An embedded input.
#[derive(Debug)]
pub struct Embedded {
    /// The embedding.
    pub embedding: Embedding,
    /// Its size in encoder units (tokens, patches, feature vectors), for usage counts.
    pub units: usize,
    /// The encoder that read it.
    pub modality: Modality,
}

/// Why an input was not embedded.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The library's reason (the input's fault or the system's).
    #[error(transparent)]
    Embed(#[from] Cause),
    /// The prepared input is larger than the per-input limit.
    #[error("{units} encoder units (tokens, patches or feature vectors); at most {limit}")]
    TooLarge {
        /// Its size.
        units: usize,
        /// The limit.
        limit: usize,
    },
    /// The model failed in a way that could not be tied to one input.
    #[error("the model thread failed: {0}")]
    Crashed(String),
    /// The server is stopping.
    #[error("the server is shutting down")]
    Stopped,
}

/// What a requester receives for one input.
pub type Outcome = Result<Embedded, JobError>;

/// The queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    /// Inputs accepted and not yet answered.
    pub depth: usize,
    /// The bound.
    pub capacity: usize,
}

/// A place in the queue, given back when the input is answered or dropped.
struct Slot {
    depth: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = self.depth.fetch_sub(1, Ordering::AcqRel) - 1;
        self.metrics.queue_depth.set(now as i64);
    }
}

/// A prepared input waiting for a model batch.
struct Ready {
    prepared: Prepared,
    units: usize,
    windows: usize,
    accepted: Instant,
    tx: oneshot::Sender<Outcome>,
    _slot: Slot,
}

struct Shared {
    embedder: Arc<Embedder>,
    limits: Limits,
    opts: EmbedOptions,
    metrics: Arc<Metrics>,
    queue: Mutex<VecDeque<Ready>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Ready>> {
        // Nothing is left half-done under this lock: a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The batching queue in front of one embedder.
pub struct Batcher {
    shared: Arc<Shared>,
    depth: Arc<AtomicUsize>,
    pool: Arc<rayon::ThreadPool>,
    model: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("depth", &self.depth.load(Ordering::Relaxed))
            .finish()
    }
}

impl Batcher {
    /// Starts the preparation workers and the model thread.
    pub fn start(
        embedder: Arc<Embedder>,
        limits: Limits,
        opts: EmbedOptions,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(limits.prepare_threads.max(1))
            .thread_name(|i| format!("clamp3-prepare-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            embedder,
            limits,
            opts,
            metrics,
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let model = std::thread::Builder::new()
            .name("clamp3-model".into())
            .spawn(move || model_loop(&s))?;
        Ok(Batcher {
            shared,
            depth: Arc::new(AtomicUsize::new(0)),
            pool: Arc::new(pool),
            model: Some(model),
        })
    }

    /// Inputs accepted and not yet answered.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Acquire)
    }

    /// Queues `inputs` (all or none); one receiver per input, in order. Dropping a receiver
    /// withdraws its input.
    pub fn submit(&self, inputs: Vec<Input>) -> Result<Vec<oneshot::Receiver<Outcome>>, QueueFull> {
        let n = inputs.len();
        let capacity = self.shared.limits.max_queue;
        let mut cur = self.depth.load(Ordering::Acquire);
        loop {
            if cur + n > capacity {
                return Err(QueueFull {
                    depth: cur,
                    capacity,
                });
            }
            match self
                .depth
                .compare_exchange(cur, cur + n, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.shared.metrics.queue_depth.set((cur + n) as i64);
        let accepted = Instant::now();
        let mut receivers = Vec::with_capacity(n);
        for input in inputs {
            let (tx, rx) = oneshot::channel();
            receivers.push(rx);
            let slot = Slot {
                depth: self.depth.clone(),
                metrics: self.shared.metrics.clone(),
            };
            let shared = self.shared.clone();
            self.pool
                .spawn(move || prepare_one(&shared, input, tx, slot, accepted));
        }
        Ok(receivers)
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.ready.notify_all();
        if let Some(t) = self.model.take() {
            let _ = t.join();
        }
    }
}

/// Stage 1 on a worker: prepares one input and queues it for the model.
fn prepare_one(
    shared: &Shared,
    input: Input,
    tx: oneshot::Sender<Outcome>,
    slot: Slot,
    accepted: Instant,
) {
    if tx.is_closed() {
        shared.metrics.dropped.inc();
        return;
    }
    if shared.stop.load(Ordering::Acquire) {
        let _ = tx.send(Err(JobError::Stopped));
        return;
    }
    let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| shared.embedder.prepare(&input)));
    let prepared = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(cause)) => {
            let _ = tx.send(Err(cause.into()));
            return;
        }
        Err(panic) => {
            let _ = tx.send(Err(JobError::Crashed(panic_message(&panic))));
            return;
        }
    };
    let (units, windows) = match &prepared {
        Prepared::Sequence(s) | Prepared::Caption { sequence: s, .. } => (s.len(), 0),
        Prepared::Recording(r) => (prepared.len(), r.windows_len()),
    };
    if windows == 0 && units > shared.limits.max_input_tokens {
        let _ = tx.send(Err(JobError::TooLarge {
            units,
            limit: shared.limits.max_input_tokens,
        }));
        return;
    }
    shared.lock().push_back(Ready {
        prepared,
        units,
        windows,
        accepted,
        tx,
        _slot: slot,
    });
    shared.ready.notify_one();
}

/// The next batch, first come first served, within the bounds; inputs whose requester went
/// away are dropped on the way. `None` when stopping with nothing left.
fn next_batch(shared: &Shared) -> Option<Vec<Ready>> {
    let l = &shared.limits;
    let mut q = shared.lock();
    loop {
        while q.front().is_some_and(|r| r.tx.is_closed()) {
            q.pop_front();
            shared.metrics.dropped.inc();
        }
        if !q.is_empty() {
            break;
        }
        if shared.stop.load(Ordering::Acquire) {
            return None;
        }
        q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
    }
    let (mut units, mut windows) = (0usize, 0usize);
    let mut batch = Vec::new();
    while let Some(front) = q.front() {
        if front.tx.is_closed() {
            q.pop_front();
            shared.metrics.dropped.inc();
            continue;
        }
        let fits = batch.len() < l.max_batch_items
            && units + front.units <= l.max_batch_tokens
            && windows + front.windows <= l.max_batch_windows;
        // The first input always goes, even when it alone is over a bound.
        if !batch.is_empty() && !fits {
            break;
        }
        units += front.units;
        windows += front.windows;
        batch.extend(q.pop_front());
    }
    Some(batch)
}

/// Stage 2 on the model thread: one batch after another until stopped.
fn model_loop(shared: &Shared) {
    while let Some(batch) = next_batch(shared) {
        let m = &shared.metrics;
        let started = Instant::now();
        m.batch_inputs.observe(batch.len() as f64);
        m.batch_units
            .observe(batch.iter().map(|r| r.units).sum::<usize>() as f64);
        let mut prepared = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for r in batch {
            m.queue_seconds
                .observe(started.duration_since(r.accepted).as_secs_f64());
            prepared.push(r.prepared);
            waiting.push((r.tx, r.units, r._slot));
        }
        let modalities: Vec<Modality> = prepared.iter().map(Prepared::modality).collect();
        let results = std::panic::catch_unwind(AssertUnwindSafe(|| {
            shared.embedder.embed_batch(&prepared, &shared.opts)
        }));
        drop(prepared);
        m.batch_seconds.observe(started.elapsed().as_secs_f64());
        match results {
            Ok(results) => {
                for (((tx, units, slot), modality), r) in
                    waiting.into_iter().zip(modalities).zip(results)
                {
                    let r = r.map_err(JobError::from).map(|embedding| {
                        m.inputs
                            .get_or_create(&ModalityLabel {
                                modality: modality.as_str().to_string(),
                            })
                            .inc();
                        Embedded {
                            embedding,
                            units,
                            modality,
                        }
                    });
                    let _ = tx.send(r);
                    drop(slot);
                }
            }
            Err(panic) => {
                let msg = panic_message(&panic);
                tracing::error!(error = %msg, "the model panicked on a batch");
                for (tx, _, slot) in waiting {
                    let _ = tx.send(Err(JobError::Crashed(msg.clone())));
                    drop(slot);
                }
            }
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clamp3::{Device, InputKind};
    use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Parts};

    fn tiny() -> Arc<Embedder> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/model");
        let cfg = Clamp3Config::from_json(
            &std::fs::read_to_string(dir.join("tiny/config.json")).unwrap(),
        )
        .unwrap();
        let model =
            Clamp3Model::load(&cfg, Parts::ALL, synthetic::var_builder(&Device::Cpu)).unwrap();
        Arc::new(Embedder::from_parts(model, None).unwrap())
    }

    fn abc(i: usize) -> Input {
        Input::bytes(
            InputKind::Abc,
            format!(
                "X:{i}\nL:1/8\nK:C\n[V:1]CDEF GABc|{}|\n",
                "cdef ".repeat(i % 5 + 1)
            )
            .into_bytes(),
        )
    }

    #[test]
    fn batches_respect_the_bounds_and_equal_the_library_and_a_full_queue_refuses() {
        let e = tiny();
        let limits = Limits {
            max_batch_items: 3,
            max_queue: 10,
            prepare_threads: 2,
            ..Limits::default()
        };
        let metrics = Arc::new(Metrics::new());
        let b =
            Batcher::start(e.clone(), limits, EmbedOptions::default(), metrics.clone()).unwrap();
        let inputs: Vec<Input> = (0..7).map(abc).collect();
        let rxs = b.submit(inputs.clone()).unwrap();
        // 7 accepted of 10: 4 more would not fit.
        let full = b.submit((0..4).map(abc).collect()).unwrap_err();
        assert_eq!(full.capacity, 10);
        assert!(full.depth <= 7);
        let want = e.embed(&inputs, &EmbedOptions::default());
        for (rx, w) in rxs.into_iter().zip(want) {
            let got = rx.blocking_recv().unwrap().unwrap();
            assert_eq!(got.modality, clamp3::Modality::Symbolic);
            let (g, w) = (
                got.embedding.into_global().unwrap(),
                w.unwrap().into_global().unwrap(),
            );
            let max_abs = g
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(max_abs <= 1e-5, "{max_abs}");
        }
        // Every input answered: the queue is empty again, in at least 3 batches of at most 3.
        assert_eq!(b.depth(), 0);
        let text = metrics.render();
        let value = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap()
        };
        assert_eq!(value("clamp3_batch_inputs_sum"), 7.0);
        assert!(value("clamp3_batch_inputs_count") >= 3.0);
        assert!(text.contains("clamp3_batch_inputs_bucket{le=\"4.0\"} "));
        let under4 = value("clamp3_batch_inputs_bucket{le=\"4.0\"}");
        assert_eq!(
            under4,
            value("clamp3_batch_inputs_count"),
            "a batch of more than 3"
        );
        // Bad input: the input's fault, the others unaffected.
        let rxs = b
            .submit(vec![
                Input::bytes(InputKind::Midi, b"MThd".to_vec()),
                abc(1),
            ])
            .unwrap();
        let mut it = rxs.into_iter();
        assert!(matches!(
            it.next().unwrap().blocking_recv().unwrap(),
            Err(JobError::Embed(Cause::Input(_)))
        ));
        assert!(it.next().unwrap().blocking_recv().unwrap().is_ok());
    }

    #[test]
    fn withdrawn_inputs_are_dropped_not_embedded() {
        let e = tiny();
        let limits = Limits {
            max_batch_items: 1,
            prepare_threads: 1,
            ..Limits::default()
        };
        let metrics = Arc::new(Metrics::new());
        let b = Batcher::start(e, limits, EmbedOptions::default(), metrics.clone()).unwrap();
        let kept = b.submit((0..2).map(abc).collect()).unwrap();
        drop(b.submit((0..20).map(abc).collect()).unwrap());
        for rx in kept {
            assert!(rx.blocking_recv().unwrap().is_ok());
        }
        let t = Instant::now();
        while b.depth() > 0 {
            assert!(t.elapsed().as_secs() < 30);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Each withdrawn input was either skipped or (if the model thread had already taken
        // it) embedded, never both; nearly all were skipped.
        let embedded = metrics
            .inputs
            .get_or_create(&ModalityLabel {
                modality: "symbolic".into(),
            })
            .get();
        assert_eq!(metrics.dropped.get() + embedded, 22);
        assert!(metrics.dropped.get() >= 15, "{}", metrics.dropped.get());
    }
}
