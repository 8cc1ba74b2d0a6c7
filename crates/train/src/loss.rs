//! The contrastive objective as the reference computes it (docs/reference.md §4.1): logits are the
//! plain dot products of the (unnormalised) text and music vectors at a fixed logit scale of 1, and
//! the loss is the mean of the two cross-entropies with the diagonal as targets.

use candle_core::{DType, Result, Tensor, D};

/// `(CE(T·Mᵀ, diag) + CE(M·Tᵀ, diag)) / 2` for text `[B, P]` and music `[B, P]` vectors.
pub fn clip_loss(text: &Tensor, music: &Tensor) -> Result<Tensor> {
    let b = text.dim(0)?;
    let logits = text.matmul(&music.t()?)?;
    let targets = Tensor::arange(0u32, b as u32, text.device())?;
    let a = cross_entropy(&logits, &targets)?;
    let c = cross_entropy(&logits.t()?, &targets)?;
    (a + c)? / 2.0
}

/// Mean cross-entropy of logits `[B, C]` against class indices `[B]` (differentiable).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let ls = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = ls.gather(&targets.unsqueeze(1)?, 1)?;
    picked.mean_all()?.neg()?.to_dtype(DType::F32)
}

/// The loss and its gradients with respect to both sets of vectors, computed on detached
/// copies: the first half of gradient caching (the second half backpropagates these gradients
/// through each micro-batch; see `trainer`).
pub fn loss_and_vector_grads(text: &Tensor, music: &Tensor) -> Result<(f32, Tensor, Tensor)> {
    let t = candle_core::Var::from_tensor(&text.detach())?;
    let m = candle_core::Var::from_tensor(&music.detach())?;
    let loss = clip_loss(t.as_tensor(), m.as_tensor())?;
    let grads = loss.backward()?;
    let gt = grads
        .get(t.as_tensor())
        .cloned()
        .unwrap_or(t.as_tensor().zeros_like()?);
    let gm = grads
        .get(m.as_tensor())
        .cloned()
        .unwrap_or(m.as_tensor().zeros_like()?);
    Ok((loss.to_scalar::<f32>()?, gt, gm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_a_hand_computed_value() {
        // T = I, M = I: logits = I, each CE = log(e + (B-1)) - 1.
        let d = Device::Cpu;
        let eye = Tensor::eye(3, DType::F32, &d).unwrap();
        let l = clip_loss(&eye, &eye).unwrap().to_scalar::<f32>().unwrap();
        let want = ((1f64.exp() + 2.0).ln() - 1.0) as f32;
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }

    #[test]
    fn vector_grads_match_finite_differences() {
        let d = Device::Cpu;
        let t = Tensor::new(&[[0.3f32, -0.2], [0.1, 0.4], [-0.5, 0.2]], &d).unwrap();
        let m = Tensor::new(&[[0.2f32, 0.1], [-0.3, 0.5], [0.4, -0.1]], &d).unwrap();
        let (_, gt, _) = loss_and_vector_grads(&t, &m).unwrap();
        let gt = gt.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let base = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for i in 0..base.len() {
            let f = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                let tt = Tensor::from_vec(v, (3, 2), &d).unwrap();
                f64::from(clip_loss(&tt, &m).unwrap().to_scalar::<f32>().unwrap())
            };
            let num = (f(1e-2) - f(-1e-2)) / 2e-2;
            assert!(
                (num - f64::from(gt[i])).abs() < 1e-3,
                "{i}: {num} vs {}",
                gt[i]
            );
        }
    }
}
