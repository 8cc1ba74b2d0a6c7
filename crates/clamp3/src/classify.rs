//! Zero-shot classification: a music (or text) embedding against the embeddings of label
//! texts, ranked by cosine (docs/reference.md §8.3: search over a set of label texts).

use std::path::Path;

use serde::Serialize;

use crate::embedder::Embedder;
use crate::error::EmbedError;
use crate::vectors::cosine;

/// Labels with their text embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Label names.
    pub names: Vec<String>,
    /// One embedding per label.
    pub vectors: Vec<Vec<f32>>,
}

/// A label's score for one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    /// The label.
    pub label: String,
    /// Cosine similarity of the input to the label's text (printed at f64 precision).
    pub score: f64,
}

/// One line of `clamp3 classify --json`: an input and its best labels (fields in the order
/// printed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Best first.
    pub labels: Vec<LabelScore>,
    /// The input.
    pub path: String,
}

impl Classification {
    /// The `top` best of `ranking` for `path`.
    pub fn new(path: &Path, ranking: &[(String, f32)], top: usize) -> Self {
        Classification {
            path: path.to_string_lossy().into_owned(),
            labels: ranking
                .iter()
                .take(top)
                .map(|(l, s)| LabelScore {
                    label: l.clone(),
                    score: f64::from(*s),
                })
                .collect(),
        }
    }
}

impl Labels {
    /// Embeds the label texts (each embedded as a `.txt` file holding it).
    pub fn embed(names: Vec<String>, embedder: &Embedder) -> Result<Self, EmbedError> {
        let inputs: Vec<clamp3_input::Input> = names
            .iter()
            .map(|n| clamp3_input::Input::Text(n.clone()))
            .collect();
        let vectors = embedder
            .embed(&inputs, &crate::EmbedOptions::default())
            .into_iter()
            .map(|r| r.map(|e| e.into_global().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Labels { names, vectors })
    }

    /// Every label with its similarity to `v`, most similar first (ties keep label order).
    pub fn rank(&self, v: &[f32]) -> Vec<(String, f32)> {
        let mut r: Vec<(String, f32)> = self
            .names
            .iter()
            .zip(&self.vectors)
            .map(|(n, l)| (n.clone(), cosine(v, l)))
            .collect();
        r.sort_by(|a, b| b.1.total_cmp(&a.1));
        r
    }
}

/// Label names from a comma-separated list (trimmed, empty items dropped, duplicates kept once).
pub fn parse_label_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in s.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_cosine() {
        let l = Labels {
            names: vec!["a".into(), "b".into(), "c".into()],
            vectors: vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]],
        };
        let r = l.rank(&[0.9, 0.1]);
        assert_eq!(
            r.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            vec!["a", "c", "b"]
        );
        assert_eq!(
            parse_label_list(" jazz, folk,,jazz ,rock"),
            vec!["jazz", "folk", "rock"]
        );
    }
}
