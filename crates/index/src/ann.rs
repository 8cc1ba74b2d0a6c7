//! Approximate search with an HNSW graph (usearch), for collections too large to scan per
//! query. The graph is cached in `cache/hnsw.usearch` and rebuilt when the index changed.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use usearch::{IndexOptions, MetricKind, ScalarKind};

use crate::exact::ExactSearcher;
use crate::{Hit, Index, IndexError};

/// HNSW parameters: higher values give better recall for more time and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnParams {
    /// Edges per node (M).
    pub connectivity: usize,
    /// Candidate list size while building (efConstruction).
    pub expansion_add: usize,
    /// Candidate list size while searching (ef).
    pub expansion_search: usize,
}

impl Default for AnnParams {
    fn default() -> Self {
        AnnParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 256,
        }
    }
}

/// An HNSW graph over an index's vectors.
pub struct AnnSearcher {
    graph: usearch::Index,
    modality_of: HashMap<u64, String>,
}

impl std::fmt::Debug for AnnSearcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnnSearcher")
            .field("size", &self.graph.size())
            .finish()
    }
}

fn ann_err(e: impl std::fmt::Display) -> IndexError {
    IndexError::Ann(e.to_string())
}

fn options(dim: usize, p: &AnnParams) -> IndexOptions {
    IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization: ScalarKind::F32,
        connectivity: p.connectivity,
        expansion_add: p.expansion_add,
        expansion_search: p.expansion_search,
        multi: false,
    }
}

impl AnnSearcher {
    /// Builds the graph from the vectors of `exact`, using all threads.
    pub fn build(exact: &ExactSearcher, params: &AnnParams) -> Result<Self, IndexError> {
        let graph = usearch::Index::new(&options(exact.dim, params)).map_err(ann_err)?;
        let threads = rayon::current_num_threads();
        graph
            .reserve_capacity_and_threads(exact.len().max(1), threads)
            .map_err(ann_err)?;
        exact
            .matrix
            .par_chunks(exact.dim.max(1))
            .zip(exact.ids.par_iter())
            .try_for_each(|(v, id)| graph.add(*id as u64, v).map_err(ann_err))?;
        let modality_of = exact
            .ids
            .iter()
            .zip(&exact.modalities)
            .map(|(id, m)| (*id as u64, m.clone()))
            .collect();
        Ok(AnnSearcher { graph, modality_of })
    }

    /// Loads the cached graph when it matches the index's current state, else builds and
    /// caches it.
    pub fn load_or_build(
        index: &Index,
        exact: &ExactSearcher,
        params: &AnnParams,
    ) -> Result<Self, IndexError> {
        let cache = index.dir().join("cache");
        let graph_path = cache.join("hnsw.usearch");
        let stamp_path = cache.join("hnsw.stamp");
        let stamp = format!(
            "{} {} {} {}",
            index.generation()?,
            params.connectivity,
            params.expansion_add,
            exact.len()
        );
        let modality_of: HashMap<u64, String> = exact
            .ids
            .iter()
            .zip(&exact.modalities)
            .map(|(id, m)| (*id as u64, m.clone()))
            .collect();
        if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
            let graph = usearch::Index::new(&options(exact.dim, params)).map_err(ann_err)?;
            if graph.load(&path_str(&graph_path)?).is_ok() && graph.size() == exact.len() {
                graph.change_expansion_search(params.expansion_search);
                return Ok(AnnSearcher { graph, modality_of });
            }
        }
        let s = Self::build(exact, params)?;
        let io = |p: &Path, e| IndexError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        clamp3_util::fs::write_atomic_via_path(&graph_path, |tmp| {
            let tmp = tmp
                .to_str()
                .ok_or_else(|| std::io::Error::other("non-UTF-8 path"))?;
            s.graph.save(tmp).map_err(std::io::Error::other)
        })
        .map_err(|e| io(&graph_path, e))?;
        clamp3_util::fs::write_atomic(&stamp_path, stamp.as_bytes())
            .map_err(|e| io(&stamp_path, e))?;
        Ok(s)
    }

    /// Sets the search-time candidate list size (recall vs speed).
    pub fn set_expansion_search(&self, ef: usize) {
        self.graph.change_expansion_search(ef);
    }

    /// The approximately `k` most similar rows (cosine), best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        modality: Option<&str>,
    ) -> Result<Vec<Hit>, IndexError> {
        let m = match modality {
            None => self.graph.search(query, k),
            Some(want) => self.graph.filtered_search(query, k, |key| {
                self.modality_of.get(&key).is_some_and(|m| m == want)
            }),
        }
        .map_err(ann_err)?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .map(|(k, d)| Hit {
                id: *k as i64,
                score: 1.0 - d,
            })
            .collect())
    }
}

fn path_str(p: &Path) -> Result<String, IndexError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| IndexError::Ann(format!("path is not UTF-8: {}", p.display())))
}
