//! Where the correct item ranks among scored candidates, and the retrieval metrics built on it
//! (docs/reference.md §8.6): MRR, Hit@k and the random-ranking baseline. One definition for
//! evaluation (`clamp3 eval`) and for the trainer's held-out MRR.

use serde::Serialize;

/// How the correct item is ranked when other candidates have exactly its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ties {
    /// Ties count against it: rank = number of candidates scoring at least as high.
    Pessimistic,
    /// The reference scripts' rule: ties are resolved in its favour, rank = 1 + number of
    /// candidates scoring strictly higher.
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

/// 1-based rank of `scores[correct]` among `scores` under `ties`.
pub fn rank_of(scores: &[f32], correct: usize, ties: Ties) -> usize {
    let s = scores[correct];
    match ties {
        Ties::Optimistic => 1 + scores.iter().filter(|&&x| x > s).count(),
        Ties::Pessimistic => scores.iter().filter(|&&x| x >= s).count(),
    }
}

/// Retrieval metrics over a set of queries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Number of queries.
    pub queries: usize,
    /// Number of candidates each query is ranked among.
    pub references: usize,
    /// Mean reciprocal rank.
    pub mrr: f64,
    /// Share of queries whose correct item ranks first.
    pub hit1: f64,
    /// ... within the top 10.
    pub hit10: f64,
    /// ... within the top 100.
    pub hit100: f64,
}

/// Mean reciprocal rank of 1-based `ranks` (0 for no ranks).
pub fn mrr(ranks: &[usize]) -> f64 {
    ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / ranks.len().max(1) as f64
}

/// Metrics of 1-based `ranks` among `references` candidates.
pub fn metrics(ranks: &[usize], references: usize) -> Metrics {
    let n = ranks.len().max(1) as f64;
    let hit = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
    Metrics {
        queries: ranks.len(),
        references,
        mrr: mrr(ranks),
        hit1: hit(1),
        hit10: hit(10),
        hit100: hit(100),
    }
}

/// MRR of a random ranking of one correct item among `c` candidates: `H_c / c`.
pub fn random_mrr(c: usize) -> f64 {
    (1..=c).map(|k| 1.0 / k as f64).sum::<f64>() / c.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // H_1000 / 1000 (docs/reference.md §10.2: 0.0075).
        assert!((random_mrr(1000) - 0.007_485_470_860_550_345).abs() < 1e-12);
    }
}
