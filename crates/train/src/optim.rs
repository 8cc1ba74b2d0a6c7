//! AdamW with torch's defaults and update rule, a warm-up schedule that takes effect (the
//! reference's is discarded: docs/reference.md §4.2, §4.8 #3), and state that can be saved and
//! restored exactly (#4).

use std::collections::BTreeMap;

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

/// Optimiser settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: usize,
    /// Reproduce the reference's effective schedule: constant `lr` from the first step.
    pub constant_lr_like_reference: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            warmup_steps: 1000,
            constant_lr_like_reference: false,
        }
    }
}

impl AdamWConfig {
    /// Learning rate of update number `step` (0-based): `lr · min(1, (step + 1) / warmup)`.
    pub fn lr_at(&self, step: usize) -> f64 {
        if self.constant_lr_like_reference || self.warmup_steps == 0 {
            self.lr
        } else {
            self.lr * ((step + 1) as f64 / self.warmup_steps as f64).min(1.0)
        }
    }
}

/// AdamW over named variables.
#[derive(Debug)]
pub struct AdamW {
    /// Settings.
    pub config: AdamWConfig,
    /// Updates done.
    pub step: usize,
    moments: BTreeMap<String, (Tensor, Tensor)>,
}

impl AdamW {
    /// A fresh optimiser.
    pub fn new(config: AdamWConfig) -> Self {
        AdamW {
            config,
            step: 0,
            moments: BTreeMap::new(),
        }
    }

    /// One update of the variables that have a gradient (variables without one are skipped,
    /// weight decay included, as torch does). Returns the learning rate used.
    pub fn update(
        &mut self,
        params: &[(&str, &Var)],
        grads: &BTreeMap<String, Tensor>,
    ) -> candle_core::Result<f64> {
        let c = self.config.clone();
        let lr = c.lr_at(self.step);
        let t = (self.step + 1) as i32;
        let bc1 = 1.0 - c.beta1.powi(t);
        let bc2 = 1.0 - c.beta2.powi(t);
        for (name, var) in params {
            let Some(g) = grads.get(*name) else { continue };
            if let Some(done) = self.update_cpu(name, var, g, lr, bc1, bc2)? {
                debug_assert!(done);
                continue;
            }
            let (m, v) = match self.moments.get(*name) {
                Some(mv) => mv.clone(),
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let m = ((m * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            let v = ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            // torch: p *= 1 - lr*wd; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
            let p = (var.as_tensor() * (1.0 - lr * c.weight_decay))?;
            let denom = ((v.sqrt()? / bc2.sqrt())? + c.eps)?;
            let p = (p - (m.div(&denom)? * (lr / bc1))?)?;
            var.set(&p)?;
            self.moments.insert(name.to_string(), (m, v));
        }
        self.step += 1;
        Ok(lr)
    }

    /// The same update in one pass over CPU memory (instead of a dozen tensor operations, each
    /// allocating a parameter-sized buffer); `None` when the tensors are not CPU f32.
    fn update_cpu(
        &mut self,
        name: &str,
        var: &Var,
        g: &Tensor,
        lr: f64,
        bc1: f64,
        bc2: f64,
    ) -> candle_core::Result<Option<bool>> {
        use candle_core::{DType, Storage};
        if !var.device().is_cpu() || var.dtype() != DType::F32 || g.dtype() != DType::F32 {
            return Ok(None);
        }
        let c = &self.config;
        let gv = g.flatten_all()?.to_vec1::<f32>()?;
        let (mut m, mut v) = match self.moments.remove(name) {
            Some((m, v)) => (
                m.flatten_all()?.to_vec1::<f32>()?,
                v.flatten_all()?.to_vec1::<f32>()?,
            ),
            None => (vec![0f32; gv.len()], vec![0f32; gv.len()]),
        };
        let mut p = {
            let (st, layout) = var.as_tensor().storage_and_layout();
            let Storage::Cpu(cpu) = &*st else {
                return Ok(None);
            };
            match layout.contiguous_offsets() {
                Some((a, z)) => cpu.as_slice::<f32>()?[a..z].to_vec(),
                None => return Ok(None),
            }
        };
        if p.len() != gv.len() {
            candle_core::bail!(
                "gradient of `{name}` has {} values, the parameter {}",
                gv.len(),
                p.len()
            );
        }
        let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
        let decay = (1.0 - lr * c.weight_decay) as f32;
        let step = (lr / bc1) as f32;
        let sbc2 = bc2.sqrt() as f32;
        let eps = c.eps as f32;
        for i in 0..p.len() {
            let gi = gv[i];
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            p[i] = p[i] * decay - step * m[i] / (v[i].sqrt() / sbc2 + eps);
        }
        let shape = var.shape().clone();
        let dev = var.device().clone();
        var.set(&Tensor::from_vec(p, shape.clone(), &dev)?)?;
        self.moments.insert(
            name.to_string(),
            (
                Tensor::from_vec(m, shape.clone(), &dev)?,
                Tensor::from_vec(v, shape, &dev)?,
            ),
        );
        Ok(Some(true))
    }

    /// The moments as named tensors (`m.<name>`, `v.<name>`), for checkpoints.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        self.moments
            .iter()
            .flat_map(|(k, (m, v))| [(format!("m.{k}"), m.clone()), (format!("v.{k}"), v.clone())])
            .collect()
    }

    /// Restores moments saved by [`AdamW::state_tensors`].
    pub fn restore(&mut self, step: usize, tensors: Vec<(String, Tensor)>) {
        self.step = step;
        self.moments.clear();
        let mut ms = BTreeMap::new();
        let mut vs = BTreeMap::new();
        for (k, t) in tensors {
            if let Some(n) = k.strip_prefix("m.") {
                ms.insert(n.to_string(), t);
            } else if let Some(n) = k.strip_prefix("v.") {
                vs.insert(n.to_string(), t);
            }
        }
        for (n, m) in ms {
            if let Some(v) = vs.remove(&n) {
                self.moments.insert(n, (m, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_ramps_then_holds() {
        let c = AdamWConfig {
            lr: 1.0,
            warmup_steps: 4,
            ..Default::default()
        };
        let lrs: Vec<f64> = (0..6).map(|s| c.lr_at(s)).collect();
        assert_eq!(lrs, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        let r = AdamWConfig {
            lr: 1.0,
            warmup_steps: 4,
            constant_lr_like_reference: true,
            ..Default::default()
        };
        assert_eq!(r.lr_at(0), 1.0);
    }

    #[test]
    fn first_step_matches_torch_adamw() {
        // torch.optim.AdamW([p], lr=0.1, weight_decay=0.01) on p = [1, -2], grad = [0.5, -0.25]:
        // after one step p = p*(1-0.001) - 0.1 * sign(g) (Adam's first step is lr * g/|g|).
        let d = candle_core::Device::Cpu;
        let p = Var::from_vec(vec![1.0f32, -2.0], 2, &d).unwrap();
        let mut grads = BTreeMap::new();
        grads.insert("p".to_string(), Tensor::new(&[0.5f32, -0.25], &d).unwrap());
        let mut opt = AdamW::new(AdamWConfig {
            lr: 0.1,
            warmup_steps: 0,
            ..Default::default()
        });
        opt.update(&[("p", &p)], &grads).unwrap();
        let got = p.as_tensor().to_vec1::<f32>().unwrap();
        let want = [1.0f32 * 0.999 - 0.1, -2.0 * 0.999 + 0.1];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
}
