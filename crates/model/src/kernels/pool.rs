//! A process-wide pool of `f32` buffers for the forward passes' intermediates.
//!
//! A forward pass needs a few buffers of tens of MB; allocating them afresh for every pass
//! maps and zeroes new pages each time (the allocator returns large blocks to the system on
//! free), thousands of page faults per pass. Buffers taken from the pool come back to it when
//! dropped, so a steady stream of forwards reuses the same memory. The pool keeps at most
//! [`MAX_POOLED`] buffers: what it holds is bounded by the largest passes run so far, which
//! the batch limits bound (`BatchLimits`).

use std::sync::Mutex;

/// Buffers kept for reuse at most.
pub const MAX_POOLED: usize = 12;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A buffer from the pool; goes back to the pool when dropped.
#[derive(Debug, Default)]
pub struct Buffer {
    v: Vec<f32>,
}

impl Buffer {
    /// An empty buffer that takes its memory from the pool when first grown.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer of at least `n` values (the smallest pooled one that fits, else a new one).
    /// Its contents are unspecified: whatever an earlier pass left, or zeros.
    pub fn take(n: usize) -> Self {
        let mut v = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= n)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i)).unwrap_or_default()
        };
        if v.len() < n {
            v.resize(n, 0.0);
        }
        Buffer { v }
    }

    /// The first `n` values, growing the buffer if needed (new values are zeros, old ones
    /// unspecified).
    pub fn get(&mut self, n: usize) -> &mut [f32] {
        if self.v.len() < n {
            if self.v.capacity() == 0 {
                *self = Buffer::take(n);
            } else {
                self.v.resize(n, 0.0);
            }
        }
        &mut self.v[..n]
    }

    /// Values held.
    pub fn capacity(&self) -> usize {
        self.v.capacity()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.v.capacity() == 0 {
            return;
        }
        let v = std::mem::take(&mut self.v);
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(v);
        if pool.len() > MAX_POOLED {
            // Drop the smallest: the large ones are the expensive ones to map again.
            if let Some(i) = pool
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
            {
                pool.swap_remove(i);
            }
        }
    }
}

/// Frees every pooled buffer (e.g. after a burst of large batches).
pub fn release() {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Values held by the pool right now.
pub fn pooled() -> usize {
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|b| b.capacity())
        .sum()
}

/// Held by the unit tests that take pooled buffers, so that none runs while
/// `buffers_are_reused_and_the_pool_stays_bounded` checks which allocation comes back.
#[cfg(test)]
pub(crate) static TEST_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_the_pool_stays_bounded() {
        let _lock = TEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Buffers other tests returned would be a better fit for the request below.
        release();
        let ptr = {
            let mut b = Buffer::take(1 << 16);
            b.get(1 << 16)[0] = 1.0;
            b.get(10).as_ptr() as usize
        };
        // The same allocation comes back for a request it fits.
        let again = Buffer::take(1 << 15);
        assert_eq!(again.v.as_ptr() as usize, ptr);
        drop(again);
        let many: Vec<Buffer> = (0..MAX_POOLED + 5).map(|i| Buffer::take(100 + i)).collect();
        drop(many);
        assert!(POOL.lock().unwrap().len() <= MAX_POOLED);
    }
}
