//! Fused inference kernels.
//!
//! candle-nn's fused CPU LayerNorm computes the variance as `E[x²] − E[x]²` in f32, which
//! cancels badly when a row's mean is large against its spread (post-LN BERT residuals can be
//! like that). PyTorch computes the moments stably; this op uses two passes with f64
//! accumulation (`kernels::norm`) so that it stays within float noise of PyTorch.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

struct TwoPassLayerNorm {
    eps: f64,
}

impl CustomOp3 for TwoPassLayerNorm {
    fn name(&self) -> &'static str {
        "two-pass-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) = (s1, s2, s3) else {
            candle_core::bail!("layer_norm: only f32 is supported, got {:?}", s1.dtype())
        };
        let slice = |d: &'_ [f32], l: &Layout| -> Result<Vec<f32>> {
            match l.contiguous_offsets() {
                Some((a, z)) => Ok(d[a..z].to_vec()),
                None => candle_core::bail!("layer_norm: input must be contiguous"),
            }
        };
        let (xa, xz) = l1.contiguous_offsets().ok_or_else(|| {
            candle_core::Error::Msg("layer_norm: input must be contiguous".into())
        })?;
        let x = &x[xa..xz];
        let w = slice(w, l2)?;
        let b = slice(b, l3)?;
        let n = *l1.shape().dims().last().unwrap_or(&0);
        if n == 0 || w.len() != n || b.len() != n {
            candle_core::bail!("layer_norm: weight/bias size does not match the last axis");
        }
        let mut out = x.to_vec();
        crate::kernels::norm::layer_norm_rows(&mut out, n, &w, &b, self.eps);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// LayerNorm over the last axis (inference only: records no gradient).
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        let x = x.contiguous()?;
        x.apply_op3_no_bwd(weight, bias, &TwoPassLayerNorm { eps })
    } else {
        candle_nn::ops::layer_norm(&x.contiguous()?, weight, bias, eps as f32)
    }
}

struct ChannelNorm {
    eps: f64,
}

impl CustomOp3 for ChannelNorm {
    fn name(&self) -> &'static str {
        "channel-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) = (s1, s2, s3) else {
            candle_core::bail!("channel_norm: only f32 is supported")
        };
        let (&[_, c, t], Some((xa, xz)), Some((wa, wz)), Some((ba, bz))) = (
            l1.shape().dims(),
            l1.contiguous_offsets(),
            l2.contiguous_offsets(),
            l3.contiguous_offsets(),
        ) else {
            candle_core::bail!("channel_norm: expects contiguous [B, C, T] input")
        };
        let (x, w, b) = (&x[xa..xz], &w[wa..wz], &b[ba..bz]);
        if w.len() != c || b.len() != c || t == 0 {
            candle_core::bail!("channel_norm: weight/bias size does not match the channels");
        }
        let mut out = vec![0f32; x.len()];
        let eps = self.eps;
        out.par_chunks_mut(t)
            .zip(x.par_chunks(t))
            .enumerate()
            .for_each(|(row, (o, v))| {
                let ch = row % c;
                let mean = v.iter().map(|&a| f64::from(a)).sum::<f64>() / t as f64;
                let var = v
                    .iter()
                    .map(|&a| {
                        let d = f64::from(a) - mean;
                        d * d
                    })
                    .sum::<f64>()
                    / t as f64;
                let inv = 1.0 / (var + eps).sqrt();
                for (oo, &a) in o.iter_mut().zip(v) {
                    *oo = ((f64::from(a) - mean) * inv) as f32 * w[ch] + b[ch];
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// GroupNorm with one group per channel on `[B, C, T]`: each channel normalised over time,
/// then scaled and shifted per channel (MERT's first convolution). Two-pass with f64
/// accumulation on the CPU (rows are long: 24,000 frames per 5 s window); differentiable
/// when any input is tracked.
pub fn channel_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let tracked = x.track_op() || weight.track_op() || bias.track_op();
    if !tracked && x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
        x.contiguous()?
            .apply_op3_no_bwd(weight, bias, &ChannelNorm { eps })
    } else {
        let (_, c, _) = x.dims3()?;
        let norm = candle_nn::GroupNorm::new(weight.clone(), bias.clone(), c, c, eps)?;
        candle_core::Module::forward(&norm, x)
    }
}
