//! Retrieval evaluation (CLAMP3.md §8.6): each query's correct reference ranked among all
//! references by cosine; MRR and Hit@K.

use std::collections::HashMap;

use serde::Serialize;

use crate::vectors::{cosine, match_key, Embedded};

/// How a query's correct reference is ranked when other references have exactly its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// Ties count against the query: rank = number of references scoring at least as high.
    Pessimistic,
    /// The reference scripts' rule: ties are resolved in favour of the correct reference,
    /// rank = 1 + number of references scoring strictly higher.
    Optimistic,
}

impl Ties {
    /// Name as printed in reports.
    pub fn name(self) -> &'static str {
        match self {
            Ties::Pessimistic => "pessimistic",
            Ties::Optimistic => "optimistic (reference rule)",
        }
    }
}

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

/// Retrieval metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Number of queries.
    pub queries: usize,
    /// Number of candidate references.
    pub references: usize,
    /// Mean reciprocal rank.
    pub mrr: f64,
    /// Share of queries whose reference ranks first.
    pub hit1: f64,
    /// ... within the top 10.
    pub hit10: f64,
    /// ... within the top 100.
    pub hit100: f64,
}

/// Metrics from ranks.
pub fn metrics(ranks: &[usize], references: usize) -> Metrics {
    let n = ranks.len().max(1) as f64;
    let hit = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
    Metrics {
        queries: ranks.len(),
        references,
        mrr: ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
        hit1: hit(1),
        hit10: hit(10),
        hit100: hit(100),
    }
}

/// MRR of random ranking among `c` candidates: `H_c / c`.
pub fn random_mrr(c: usize) -> f64 {
    (1..=c).map(|k| 1.0 / k as f64).sum::<f64>() / c.max(1) as f64
}

/// Rank of `correct` among `scores` under `ties`.
pub fn rank_of(scores: &[f32], correct: usize, ties: Ties) -> usize {
    let s = scores[correct];
    match ties {
        Ties::Optimistic => 1 + scores.iter().filter(|&&x| x > s).count(),
        Ties::Pessimistic => scores.iter().filter(|&&x| x >= s).count(),
    }
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

    #[test]
    fn hand_checked_metrics() {
        // Ranks 1, 2, 4, 20, 200 over 300 candidates.
        let m = metrics(&[1, 2, 4, 20, 200], 300);
        assert!((m.mrr - (1.0 + 0.5 + 0.25 + 0.05 + 0.005) / 5.0).abs() < 1e-12);
        assert_eq!((m.hit1, m.hit10, m.hit100), (0.2, 0.6, 0.8));
    }

    #[test]
    fn tie_rules() {
        let s = [0.5, 0.9, 0.5, 0.5, 0.1];
        assert_eq!(rank_of(&s, 0, Ties::Optimistic), 2);
        assert_eq!(rank_of(&s, 0, Ties::Pessimistic), 4);
        assert_eq!(rank_of(&s, 1, Ties::Pessimistic), 1);
        assert_eq!(rank_of(&s, 4, Ties::Optimistic), 5);
    }

    #[test]
    fn random_baseline_for_1000_candidates() {
        assert!((random_mrr(1000) - 0.007_485_470_860_550_345).abs() < 1e-12);
    }

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
