//! Linear probes: a softmax classifier `Linear(D -> C)` on frozen CLaMP 3 embeddings
//! (docs/reference.md §8.7), trained with a proper cross-entropy on the logits (the reference
//! applies it to softmax outputs, a double softmax: §4.8 #5) and AdamW.

use clamp3_util::Rng;
use serde::{Deserialize, Serialize};

/// A trained probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Class names, in output order.
    pub labels: Vec<String>,
    /// Input dimension.
    pub dim: usize,
    /// `[classes, dim]` row-major.
    pub weight: Vec<f32>,
    /// `[classes]`.
    pub bias: Vec<f32>,
    /// Metrics on the evaluation split at the kept epoch.
    pub eval: Option<ProbeMetrics>,
}

/// Classification quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeMetrics {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Mean over classes of F1 (classes absent from both truth and predictions are skipped).
    pub macro_f1: f64,
    /// Number of examples.
    pub examples: usize,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Passes over the training data.
    pub epochs: usize,
    /// AdamW learning rate.
    pub lr: f32,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Examples per update.
    pub batch_size: usize,
    /// Undersample every class to the smallest class count in each epoch.
    pub balance: bool,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 200,
            lr: 1e-3,
            weight_decay: 0.01,
            batch_size: 32,
            balance: false,
            seed: 0,
        }
    }
}

/// A labelled example: embedding and class index.
pub type Example = (Vec<f32>, usize);

/// Splits off `share` of the examples (at least one) for evaluation, deterministically.
pub fn split(mut data: Vec<Example>, share: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    Rng::new(seed).shuffle(&mut data);
    let n_eval = ((data.len() as f64 * share).round() as usize)
        .clamp(1, data.len().saturating_sub(1).max(1));
    let train = data.split_off(n_eval);
    (train, data)
}

impl Probe {
    /// Class scores (logits) for `x`.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        self.weight
            .chunks(self.dim)
            .zip(&self.bias)
            .map(|(w, b)| w.iter().zip(x).map(|(a, c)| a * c).sum::<f32>() + b)
            .collect()
    }

    /// Class probabilities for `x`.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        softmax(&self.logits(x))
    }

    /// Checks that the probe is usable: at least two labels, a weight of `labels x dim` and a
    /// bias of `labels` values, all finite. A probe read from a file must pass it before
    /// [`Probe::predict`] (which indexes by these sizes).
    pub fn check(&self) -> Result<(), String> {
        let c = self.labels.len();
        if c < 2 {
            return Err(format!("{c} label(s); a probe needs at least two"));
        }
        if self.dim == 0 || self.weight.len() != c * self.dim {
            return Err(format!(
                "weight has {} values, expected {c} labels x {} dimensions",
                self.weight.len(),
                self.dim
            ));
        }
        if self.bias.len() != c {
            return Err(format!("bias has {} values, expected {c}", self.bias.len()));
        }
        if self.weight.iter().chain(&self.bias).any(|v| !v.is_finite()) {
            return Err("weights hold NaN or infinite values".into());
        }
        Ok(())
    }

    /// The most probable class index.
    pub fn predict(&self, x: &[f32]) -> usize {
        argmax(&self.logits(x))
    }

    /// Accuracy and macro-F1 on `data`.
    pub fn evaluate(&self, data: &[Example]) -> ProbeMetrics {
        let preds: Vec<usize> = data.iter().map(|(x, _)| self.predict(x)).collect();
        let truth: Vec<usize> = data.iter().map(|(_, y)| *y).collect();
        score(&preds, &truth, self.labels.len())
    }

    /// Trains on `train`, keeping the parameters of the epoch with the best accuracy on `eval`
    /// (the reference keeps its best-accuracy checkpoint too).
    pub fn train(
        labels: Vec<String>,
        train: &[Example],
        eval: &[Example],
        opts: &TrainOptions,
    ) -> Probe {
        let c = labels.len();
        let dim = train.first().map_or(0, |(x, _)| x.len());
        let mut p = Probe {
            labels,
            dim,
            weight: vec![0.0; c * dim],
            bias: vec![0.0; c],
            eval: None,
        };
        let mut adam_w = Adam::new(c * dim);
        let mut adam_b = Adam::new(c);
        let mut rng = Rng::new(opts.seed);
        let mut best: Option<(f64, Probe)> = None;
        for _ in 0..opts.epochs.max(1) {
            let mut order: Vec<usize> = if opts.balance {
                balanced(train, c, &mut rng)
            } else {
                (0..train.len()).collect()
            };
            rng.shuffle(&mut order);
            for batch in order.chunks(opts.batch_size.max(1)) {
                let mut gw = vec![0f32; c * dim];
                let mut gb = vec![0f32; c];
                for &i in batch {
                    let (x, y) = &train[i];
                    let mut g = p.probabilities(x);
                    g[*y] -= 1.0;
                    for (k, gk) in g.iter().enumerate() {
                        gb[k] += gk;
                        for (gwi, xi) in gw[k * dim..(k + 1) * dim].iter_mut().zip(x) {
                            *gwi += gk * xi;
                        }
                    }
                }
                let n = batch.len() as f32;
                gw.iter_mut().for_each(|g| *g /= n);
                gb.iter_mut().for_each(|g| *g /= n);
                adam_w.step(&mut p.weight, &gw, opts.lr, opts.weight_decay);
                adam_b.step(&mut p.bias, &gb, opts.lr, opts.weight_decay);
            }
            let m = p.evaluate(if eval.is_empty() { train } else { eval });
            if best.as_ref().is_none_or(|(acc, _)| m.accuracy > *acc) {
                let mut kept = p.clone();
                kept.eval = Some(m);
                best = Some((m.accuracy, kept));
            }
        }
        best.map(|(_, p)| p).unwrap_or(p)
    }
}

/// Each class undersampled to the smallest class count.
fn balanced(data: &[Example], classes: usize, rng: &mut Rng) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, (_, y)) in data.iter().enumerate() {
        by_class[*y].push(i);
    }
    let min = by_class
        .iter()
        .filter(|v| !v.is_empty())
        .map(Vec::len)
        .min()
        .unwrap_or(0);
    let mut out = Vec::new();
    for mut v in by_class {
        rng.shuffle(&mut v);
        out.extend(v.into_iter().take(min));
    }
    out
}

/// AdamW (decoupled weight decay), torch defaults for betas and eps.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, p: &mut [f32], g: &[f32], lr: f32, wd: f32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for i in 0..p.len() {
            p[i] *= 1.0 - lr * wd;
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g[i] * g[i];
            p[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
        }
    }
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn argmax(z: &[f32]) -> usize {
    z.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Accuracy and macro-F1 of predictions.
pub fn score(preds: &[usize], truth: &[usize], classes: usize) -> ProbeMetrics {
    let n = truth.len();
    let correct = preds.iter().zip(truth).filter(|(p, t)| p == t).count();
    let mut f1s = Vec::new();
    for k in 0..classes {
        let tp = preds
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p == k && **t == k)
            .count() as f64;
        let fp = preds
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p == k && **t != k)
            .count() as f64;
        let fnn = preds
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p != k && **t == k)
            .count() as f64;
        if tp + fp + fnn > 0.0 {
            f1s.push(2.0 * tp / (2.0 * tp + fp + fnn));
        }
    }
    ProbeMetrics {
        accuracy: correct as f64 / n.max(1) as f64,
        macro_f1: f1s.iter().sum::<f64>() / f1s.len().max(1) as f64,
        examples: n,
    }
}

/// The label of a file named `<label>_<name>` (the reference's convention), if any.
pub fn label_from_name(name: &str) -> Option<&str> {
    name.split_once('_')
        .map(|(l, _)| l)
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_scores() {
        // truth 0 0 1 1 2, preds 0 1 1 1 0: acc 3/5; F1: c0 = 2*1/(2+1+1) = .5, c1 = 2*2/(4+1) = .8, c2 = 0.
        let m = score(&[0, 1, 1, 1, 0], &[0, 0, 1, 1, 2], 3);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.macro_f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn learns_separable_classes() {
        let mut rng = Rng::new(1);
        let mut data = Vec::new();
        for i in 0..300 {
            let y = i % 3;
            let mut x: Vec<f32> = (0..16)
                .map(|_| (rng.next_u64() % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            x[y] += 2.0;
            data.push((x, y));
        }
        let (train, eval) = split(data, 0.2, 7);
        assert_eq!(eval.len(), 60);
        let p = Probe::train(
            vec!["a".into(), "b".into(), "c".into()],
            &train,
            &eval,
            &TrainOptions {
                epochs: 30,
                ..Default::default()
            },
        );
        let m = p.evaluate(&eval);
        assert!(m.accuracy > 0.95, "{m:?}");
        assert_eq!(p.eval.unwrap().accuracy, m.accuracy);
        assert!((p.probabilities(&train[0].0).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn labels_from_file_names() {
        assert_eq!(label_from_name("jazz_take5"), Some("jazz"));
        assert_eq!(label_from_name("nolabel"), None);
        assert_eq!(label_from_name("_x"), None);
    }
}
