//! Writes a MERT directory with deterministic synthetic weights (`synthetic.rs`) at
//! MERT-v1-95M's size, for measuring quantised MERT (`docs/quantize.md`) without the real
//! checkpoint:
//!
//!     cargo run --release -p clamp3-model --example synthetic_mert -- OUT_DIR
//!
//! OUT_DIR gets `config.json` (MERT-v1-95M's) and `model.safetensors`.

use std::path::PathBuf;
use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor};
use clamp3_model::mert::{Mert, MertConfig};

/// Hands out synthetic weights and records every name and shape asked for.
struct Recording(Mutex<Vec<(String, Vec<usize>)>>);

impl candle_nn::var_builder::SimpleBackend for Recording {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.0
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?
            .push((name.to_string(), s.dims().to_vec()));
        let values = clamp3_model::synthetic::tensor_values(name, s.elem_count());
        Tensor::from_vec(values, s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("`{name}` needs a shape")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

struct View {
    name: String,
    shape: Vec<usize>,
}

impl safetensors::View for View {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        let n = self.shape.iter().product();
        std::borrow::Cow::Owned(
            clamp3_model::synthetic::tensor_values(&self.name, n)
                .into_iter()
                .flat_map(f32::to_le_bytes)
                .collect(),
        )
    }
    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * 4
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: synthetic_mert OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let c = MertConfig::default();
    let rec = std::sync::Arc::new(Recording(Mutex::new(Vec::new())));
    struct Shared(std::sync::Arc<Recording>);
    impl candle_nn::var_builder::SimpleBackend for Shared {
        fn get(
            &self,
            s: Shape,
            name: &str,
            h: candle_nn::Init,
            dtype: DType,
            dev: &Device,
        ) -> candle_core::Result<Tensor> {
            self.0.get(s, name, h, dtype, dev)
        }
        fn get_unchecked(&self, n: &str, d: DType, dev: &Device) -> candle_core::Result<Tensor> {
            self.0.get_unchecked(n, d, dev)
        }
        fn contains_tensor(&self, n: &str) -> bool {
            self.0.contains_tensor(n)
        }
    }
    let vb =
        candle_nn::VarBuilder::from_backend(Box::new(Shared(rec.clone())), DType::F32, Device::Cpu);
    drop(Mert::load(&c, vb)?);
    let mut names = rec.0.lock().map_err(|_| "poisoned")?.clone();
    names.sort();
    names.dedup_by(|a, b| a.0 == b.0);
    let views: Vec<(String, View)> = names
        .into_iter()
        .map(|(name, shape)| (name.clone(), View { name, shape }))
        .collect();
    safetensors::serialize_to_file(views, None, &out.join("model.safetensors"))?;
    std::fs::write(out.join("config.json"), serde_json::to_string_pretty(&c)?)?;
    Ok(())
}
