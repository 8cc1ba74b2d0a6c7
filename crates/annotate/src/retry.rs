//! Retries with exponential backoff and jitter, honouring a server's `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often and how patiently to retry a failing request.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff, in seconds (doubled after each retry).
    pub backoff_secs: f64,
    /// Longest backoff, in seconds (also caps a server's `Retry-After`).
    pub max_backoff_secs: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 5,
            backoff_secs: 1.0,
            max_backoff_secs: 60.0,
        }
    }
}

/// The outcome of one attempt.
pub enum Attempt<T, E = String> {
    /// Success.
    Done(T),
    /// A transient failure (timeout, connection refused, 429, 5xx): retry, after the
    /// server's `Retry-After` when it gave one.
    Retry(String, Option<Duration>),
    /// A failure retrying cannot fix.
    Fail(E),
}

/// Why [`RetryPolicy::run`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryError<E = String> {
    /// Every attempt failed transiently: the last failure and the number of attempts.
    Exhausted(String),
    /// An attempt failed for good.
    Failed(E),
}

impl<E: std::fmt::Display> std::fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryError::Exhausted(m) => f.write_str(m),
            RetryError::Failed(e) => e.fmt(f),
        }
    }
}

static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// A jitter factor in [0.5, 1): spreads the retries of concurrent workers.
fn jitter() -> f64 {
    // splitmix64 over a shared counter: no dependency, distinct per call.
    let mut z = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    0.5 + (z >> 11) as f64 / (1u64 << 53) as f64 * 0.5
}

impl RetryPolicy {
    /// The wait before retry number `n` (0-based).
    pub fn backoff(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.max_backoff_secs.max(0.0);
        if let Some(d) = retry_after {
            return Duration::from_secs_f64(d.as_secs_f64().min(cap));
        }
        let base = self.backoff_secs.max(0.0) * 2f64.powi(n.min(30) as i32);
        Duration::from_secs_f64(base.min(cap) * jitter())
    }

    /// Runs `attempt` (given the attempt number) until it is done, fails, or the retries
    /// are used up; the error names the last failure and the number of attempts.
    pub fn run<T, E>(
        &self,
        mut attempt: impl FnMut(u32) -> Attempt<T, E>,
    ) -> Result<T, RetryError<E>> {
        let mut n = 0;
        loop {
            match attempt(n) {
                Attempt::Done(t) => return Ok(t),
                Attempt::Fail(e) => return Err(RetryError::Failed(e)),
                Attempt::Retry(m, after) => {
                    if n >= self.retries {
                        return Err(RetryError::Exhausted(format!(
                            "{m} (after {} attempts)",
                            n + 1
                        )));
                    }
                    std::thread::sleep(self.backoff(n, after));
                    n += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_then_gives_up_naming_the_cause() {
        let p = RetryPolicy {
            retries: 2,
            backoff_secs: 0.001,
            max_backoff_secs: 0.01,
        };
        let mut calls = 0;
        let r: Result<(), RetryError> = p.run(|_| {
            calls += 1;
            Attempt::Retry("HTTP 503".into(), None)
        });
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err().to_string(), "HTTP 503 (after 3 attempts)");
        let r: Result<u32, RetryError> = p.run(|n| {
            if n < 2 {
                Attempt::Retry("x".into(), None)
            } else {
                Attempt::Done(n)
            }
        });
        assert_eq!(r, Ok(2));
        let r: Result<(), RetryError<u16>> = p.run(|_| Attempt::Fail(401));
        assert_eq!(r.unwrap_err(), RetryError::Failed(401));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps_retry_after() {
        let p = RetryPolicy {
            retries: 5,
            backoff_secs: 1.0,
            max_backoff_secs: 10.0,
        };
        for n in 0..4 {
            let d = p.backoff(n, None).as_secs_f64();
            let full = 2f64.powi(n as i32).min(10.0);
            assert!(d >= full * 0.5 && d < full, "{n}: {d}");
        }
        assert!(p.backoff(10, None).as_secs_f64() < 10.0);
        assert_eq!(
            p.backoff(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.backoff(0, Some(Duration::from_secs(99))),
            Duration::from_secs(10)
        );
    }
}
