//! Exact search: every stored vector, normalised, in one matrix; a query is one pass of dot
//! products. The matrix is cached in `cache/vectors.bin` and rebuilt when the index changed.

use std::path::Path;

use rayon::prelude::*;

use crate::{normalise, Hit, Index, IndexError};

const MAGIC: &[u8; 8] = b"C3VECS01";

/// All vectors of an index, normalised, with their ids and modalities.
#[derive(Debug, Clone)]
pub struct ExactSearcher {
    /// Row ids, in matrix order.
    pub ids: Vec<i64>,
    /// Modality of each row.
    pub modalities: Vec<String>,
    /// Row-major `[len, dim]` unit vectors.
    pub matrix: Vec<f32>,
    /// Vector dimension.
    pub dim: usize,
}

/// Dot product with eight independent accumulators, so that it vectorises.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

impl ExactSearcher {
    /// Loads the cached matrix when it is current, else builds it from the store (and caches it).
    pub fn load(index: &Index) -> Result<Self, IndexError> {
        let generation = index.generation()?;
        let path = index.dir().join("cache").join("vectors.bin");
        if let Some(s) = Self::read_cache(&path, generation, index.meta().dim) {
            return Ok(s);
        }
        let dim = index.meta().dim;
        let mut s = ExactSearcher {
            ids: Vec::new(),
            modalities: Vec::new(),
            matrix: Vec::new(),
            dim,
        };
        index.for_each_vector(|id, m, mut v| {
            normalise(&mut v);
            s.ids.push(id);
            s.modalities.push(m.to_string());
            s.matrix.extend_from_slice(&v);
        })?;
        s.write_cache(&path, generation)?;
        Ok(s)
    }

    fn read_cache(path: &Path, generation: u64, dim: usize) -> Option<Self> {
        let b = std::fs::read(path).ok()?;
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
        };
        if b.get(..8)? != MAGIC || u64_at(8)? != generation || u64_at(16)? as usize != dim {
            return None;
        }
        let n = u64_at(24)? as usize;
        let mut o = 32;
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(u64_at(o)? as i64);
            o += 8;
        }
        let mut modalities = Vec::with_capacity(n);
        for _ in 0..n {
            let len = *b.get(o)? as usize;
            modalities.push(String::from_utf8(b.get(o + 1..o + 1 + len)?.to_vec()).ok()?);
            o += 1 + len;
        }
        let bytes = b.get(o..o + n * dim * 4)?;
        let matrix = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(ExactSearcher {
            ids,
            modalities,
            matrix,
            dim,
        })
    }

    fn write_cache(&self, path: &Path, generation: u64) -> Result<(), IndexError> {
        let io = |e| IndexError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut out = Vec::with_capacity(32 + self.matrix.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&generation.to_le_bytes());
        out.extend_from_slice(&(self.dim as u64).to_le_bytes());
        out.extend_from_slice(&(self.ids.len() as u64).to_le_bytes());
        for id in &self.ids {
            out.extend_from_slice(&(*id as u64).to_le_bytes());
        }
        for m in &self.modalities {
            out.push(m.len().min(255) as u8);
            out.extend_from_slice(&m.as_bytes()[..m.len().min(255)]);
        }
        for v in &self.matrix {
            out.extend_from_slice(&v.to_le_bytes());
        }
        clamp3_util::fs::write_atomic(path, &out).map_err(io)
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` rows most similar to `query` (cosine), optionally only of one modality;
    /// best first, ties in row order.
    pub fn search(&self, query: &[f32], k: usize, modality: Option<&str>) -> Vec<Hit> {
        let mut q = query.to_vec();
        normalise(&mut q);
        let scores: Vec<(usize, f32)> = self
            .matrix
            .par_chunks(self.dim.max(1))
            .enumerate()
            .filter(|(i, _)| modality.is_none_or(|m| self.modalities[*i] == m))
            .map(|(i, row)| (i, dot(row, &q)))
            .collect();
        top_k(scores, k)
            .into_iter()
            .map(|(i, score)| Hit {
                id: self.ids[i],
                score,
            })
            .collect()
    }
}

/// The `k` best (highest score) entries, best first; equal scores keep input order.
pub(crate) fn top_k(mut scores: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    let by = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k < scores.len() {
        scores.select_nth_unstable_by(k, by);
        scores.truncate(k);
    }
    scores.sort_by(by);
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_and_breaks_ties_by_position() {
        let s = vec![(0, 0.5), (1, 0.9), (2, 0.5), (3, -1.0), (4, 0.9)];
        assert_eq!(top_k(s.clone(), 3), vec![(1, 0.9), (4, 0.9), (0, 0.5)]);
        assert_eq!(top_k(s, 10).len(), 5);
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.05).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
    }
}
