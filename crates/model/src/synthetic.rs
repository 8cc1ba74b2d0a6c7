//! Deterministic synthetic weights: a pure function of the tensor name and element index.
//!
//! Used for the parity tests (the golden script `scripts/golden/synthetic.py` builds the same
//! weights in PyTorch, bit for bit) and for benchmarks at the official size without a
//! checkpoint. See that script for the definition; both must change together.

use candle_core::{DType, Device, Shape, Tensor};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn fnv1a64(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The synthetic values of tensor `name` with `numel` elements.
pub fn tensor_values(name: &str, numel: usize) -> Vec<f32> {
    let seed = fnv1a64(name);
    let ln = name.ends_with("LayerNorm.weight") || name.ends_with("layer_norm.weight");
    let scale: f32 = if name.ends_with("position_embeddings.weight") {
        0.5
    } else {
        0.1
    };
    (1..=numel as u64)
        .map(|k| {
            let z = mix(seed.wrapping_add(k.wrapping_mul(GOLDEN)));
            let f = (z >> 40) as f32 * (1.0 / 16_777_216.0);
            let v = f * 2.0 - 1.0;
            if ln {
                1.0 + 0.2 * v
            } else {
                scale * v
            }
        })
        .collect()
}

/// A `VarBuilder` backend that makes every requested tensor from [`tensor_values`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntheticWeights;

impl candle_nn::var_builder::SimpleBackend for SyntheticWeights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Tensor::from_vec(tensor_values(name, s.elem_count()), s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("synthetic weights need a shape for `{name}`")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

/// A `VarBuilder` over [`SyntheticWeights`] on `device`.
pub fn var_builder(device: &Device) -> candle_nn::VarBuilder<'static> {
    candle_nn::VarBuilder::from_backend(Box::new(SyntheticWeights), DType::F32, device.clone())
}

struct LazyView {
    name: String,
    shape: Vec<usize>,
}

impl safetensors::View for LazyView {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        let n = self.shape.iter().product();
        let bytes: Vec<u8> = tensor_values(&self.name, n)
            .into_iter()
            .flat_map(f32::to_le_bytes)
            .collect();
        std::borrow::Cow::Owned(bytes)
    }
    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * 4
    }
}

/// Writes a release-layout `.safetensors` file with synthetic weights for `config` (each
/// tensor is generated when written, so memory stays at one tensor).
pub fn write_safetensors(
    config: &crate::Clamp3Config,
    path: &std::path::Path,
) -> Result<(), safetensors::SafeTensorError> {
    let views: Vec<(String, LazyView)> = crate::layout::release_tensors(config)
        .into_iter()
        .map(|(name, shape)| (name.clone(), LazyView { name, shape }))
        .collect();
    safetensors::serialize_to_file(views, None, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_range_and_deterministic() {
        let a = tensor_values("x.weight", 1000);
        assert_eq!(a, tensor_values("x.weight", 1000));
        assert!(a.iter().all(|v| (-0.1..0.1).contains(v)));
        assert_ne!(a, tensor_values("y.weight", 1000));
        let ln = tensor_values("a.LayerNorm.weight", 100);
        assert!(ln.iter().all(|v| (0.8..1.2).contains(v)));
    }
}
