//! Retrieval evaluation (docs/reference.md §8.6): each query's correct reference ranked among all
//! references by cosine; MRR and Hit@K.

use std::collections::HashMap;

use serde::Serialize;

use crate::vectors::{cosine, match_key, Embedded};

pub mod jsonl;

pub use clamp3_util::rank::{metrics, random_mrr, rank_of, Metrics, Ties};

/// The rank of one query's correct reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryRank {
    /// The query.
    pub query: String,
    /// Its correct reference.
    pub reference: String,
    /// 1-based rank among all references.
    pub rank: usize,
}

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// Files without a counterpart (every query needs its reference).
    #[error("{} file(s) have no counterpart: {}", .0.len(), .0.iter().take(5).cloned().collect::<Vec<_>>().join(", "))]
    Unmatched(Vec<String>),
    /// Two references share a key, so a query's correct reference is ambiguous.
    #[error("references {0} and {1} have the same key")]
    DuplicateReference(String, String),
    /// Nothing to evaluate.
    #[error("no queries or no references")]
    Empty,
}

/// Ranks every query's reference (same key, see [`match_key`]) among all references.
pub fn evaluate(
    queries: &[Embedded],
    references: &[Embedded],
    ties: Ties,
) -> Result<(Metrics, Vec<QueryRank>), EvalError> {
    if queries.is_empty() || references.is_empty() {
        return Err(EvalError::Empty);
    }
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, r) in references.iter().enumerate() {
        if let Some(j) = by_key.insert(match_key(&r.rel), i) {
            return Err(EvalError::DuplicateReference(
                references[j].path.to_string_lossy().into_owned(),
                r.path.to_string_lossy().into_owned(),
            ));
        }
    }
    let mut unmatched: Vec<String> = queries
        .iter()
        .filter(|q| !by_key.contains_key(&match_key(&q.rel)))
        .map(|q| q.path.to_string_lossy().into_owned())
        .collect();
    let query_keys: std::collections::HashSet<String> =
        queries.iter().map(|q| match_key(&q.rel)).collect();
    unmatched.extend(
        references
            .iter()
            .filter(|r| !query_keys.contains(&match_key(&r.rel)))
            .map(|r| r.path.to_string_lossy().into_owned()),
    );
    if !unmatched.is_empty() {
        return Err(EvalError::Unmatched(unmatched));
    }
    let ranks: Vec<QueryRank> = queries
        .iter()
        .map(|q| {
            let correct = by_key[&match_key(&q.rel)];
            let scores: Vec<f32> = references
                .iter()
                .map(|r| cosine(&q.vector, &r.vector))
                .collect();
            QueryRank {
                query: q.path.to_string_lossy().into_owned(),
                reference: references[correct].path.to_string_lossy().into_owned(),
                rank: rank_of(&scores, correct, ties),
            }
        })
        .collect();
    let r: Vec<usize> = ranks.iter().map(|q| q.rank).collect();
    Ok((metrics(&r, references.len()), ranks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn e(rel: &str, v: &[f32]) -> Embedded {
        Embedded {
            path: PathBuf::from(rel),
            rel: PathBuf::from(rel),
            vector: v.to_vec(),
        }
    }

    #[test]
    fn evaluate_ranks_by_key_and_requires_every_match() {
        let refs = [
            e("a.abc", &[1.0, 0.0]),
            e("b.abc", &[0.0, 1.0]),
            e("c.abc", &[1.0, 1.0]),
        ];
        let qs = [
            e("a.txt", &[1.0, 0.1]),
            e("b.txt", &[1.0, 0.0]),
            e("c.txt", &[0.9, 1.0]),
        ];
        let (m, ranks) = evaluate(&qs, &refs, Ties::Pessimistic).unwrap();
        assert_eq!(
            ranks.iter().map(|r| r.rank).collect::<Vec<_>>(),
            vec![1, 3, 1]
        );
        assert!((m.mrr - (1.0 + 1.0 / 3.0 + 1.0) / 3.0).abs() < 1e-9);
        let err = evaluate(&qs[..2], &refs, Ties::Pessimistic).unwrap_err();
        assert_eq!(err, EvalError::Unmatched(vec!["c.abc".into()]));
    }
}
