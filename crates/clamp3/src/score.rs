//! The CLaMP 3 score for music generators (docs/reference.md §8.5): how close generated music is to
//! its prompts or references, per pair or between whole distributions.

use std::collections::HashMap;

use serde::Serialize;

use crate::vectors::{cosine, match_key, Embedded};

/// One query matched with its reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    /// The query file.
    pub query: String,
    /// The reference file.
    pub reference: String,
    /// Their cosine similarity.
    pub similarity: f32,
}

/// Pairwise scoring: every query against the reference with the same key.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairwise {
    /// Mean similarity over the matched queries.
    pub score: f32,
    /// The pairs, most similar first.
    pub pairs: Vec<PairScore>,
    /// Files without a counterpart (queries and references).
    pub unmatched: Vec<String>,
}

/// Scores each query against the reference sharing its key ([`match_key`]); several queries may
/// share one reference. Unmatched files are reported, never asked about.
pub fn pairwise(queries: &[Embedded], references: &[Embedded]) -> Pairwise {
    let by_key: HashMap<String, &Embedded> =
        references.iter().map(|r| (match_key(&r.rel), r)).collect();
    let mut used = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for q in queries {
        let key = match_key(&q.rel);
        match by_key.get(&key) {
            Some(r) => {
                used.insert(key);
                pairs.push(PairScore {
                    query: q.path.to_string_lossy().into_owned(),
                    reference: r.path.to_string_lossy().into_owned(),
                    similarity: cosine(&q.vector, &r.vector),
                });
            }
            None => unmatched.push(q.path.to_string_lossy().into_owned()),
        }
    }
    for r in references {
        if !used.contains(&match_key(&r.rel)) {
            unmatched.push(r.path.to_string_lossy().into_owned());
        }
    }
    let score = if pairs.is_empty() {
        f32::NAN
    } else {
        (pairs.iter().map(|p| f64::from(p.similarity)).sum::<f64>() / pairs.len() as f64) as f32
    };
    pairs.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    Pairwise {
        score,
        pairs,
        unmatched,
    }
}

/// Group scoring: the cosine between the mean query vector and the mean reference vector
/// (unnormalised means, as the reference computes them): a distribution-level similarity.
pub fn group(queries: &[Embedded], references: &[Embedded]) -> f32 {
    let mean = |v: &[Embedded]| -> Vec<f32> {
        let dim = v.first().map_or(0, |e| e.vector.len());
        let mut acc = vec![0f64; dim];
        for e in v {
            for (a, x) in acc.iter_mut().zip(&e.vector) {
                *a += f64::from(*x);
            }
        }
        acc.iter()
            .map(|a| (a / v.len().max(1) as f64) as f32)
            .collect()
    };
    cosine(&mean(queries), &mean(references))
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
    fn several_queries_share_a_reference_and_unmatched_are_listed() {
        let q = [
            e("a.1.wav", &[1.0, 0.0]),
            e("a.2.wav", &[0.0, 1.0]),
            e("b.wav", &[1.0, 1.0]),
        ];
        let r = [e("a.txt", &[1.0, 0.0]), e("c.txt", &[1.0, 0.0])];
        let p = pairwise(&q, &r);
        assert_eq!(p.pairs.len(), 2);
        assert_eq!(p.pairs[0].similarity, 1.0);
        assert_eq!(p.pairs[1].similarity, 0.0);
        assert_eq!(p.score, 0.5);
        assert_eq!(p.unmatched, vec!["b.wav".to_string(), "c.txt".to_string()]);
    }

    #[test]
    fn group_score_compares_unnormalised_means() {
        // Means: q = (1, 0.5), r = (2, 1): same direction.
        let q = [e("x", &[2.0, 0.0]), e("y", &[0.0, 1.0])];
        let r = [e("z", &[2.0, 1.0])];
        assert!((group(&q, &r) - 1.0).abs() < 1e-6);
    }
}
