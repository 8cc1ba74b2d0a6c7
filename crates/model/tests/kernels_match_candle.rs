//! The CPU kernels against candle's ops on the same weights and inputs (official-size MERT
//! and encoders with synthetic weights): windows and batches of awkward lengths, padding,
//! several items. Its own test binary: it switches the kernels off process-wide.

mod common;

use candle_core::{Device, Tensor};
use clamp3_model::mert::{Mert, MertConfig};
use clamp3_model::{kernels, synthetic, Clamp3Config, Clamp3Model, Modality, Parts};
use common::*;

fn wave(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / 24_000.0;
            (t * 440.0 * std::f32::consts::TAU).sin() * 0.5
                + (((i as u32).wrapping_mul(2_654_435_761) ^ seed) >> 9) as f32 / 8_388_608.0
                - 1.0
        })
        .collect()
}

fn both<T>(f: impl Fn() -> T) -> (T, T) {
    kernels::set_enabled(true);
    let a = f();
    kernels::set_enabled(false);
    let b = f();
    kernels::set_enabled(true);
    (a, b)
}

#[test]
fn kernels_and_candle_agree() {
    let dev = Device::Cpu;
    let mert = Mert::load(&MertConfig::default(), synthetic::var_builder(&dev)).unwrap();
    // A full window, a last window of 1.3 s, the shortest kept window (1 s), odd lengths.
    for (len, batch) in [
        (120_000, 1),
        (31_583, 1),
        (24_000, 2),
        (24_001, 1),
        (57_777, 1),
    ] {
        let w: Vec<f32> = (0..batch).flat_map(|b| wave(len, b as u32 + 1)).collect();
        let t = Tensor::from_vec(w, (batch, len), &dev).unwrap();
        let (k, c) = both(|| {
            mert.window_features(&t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        });
        assert_close(
            &format!("MERT {batch} x {len}"),
            &k,
            &c,
            768,
            0.999_999,
            1e-4,
        );
    }
    let cfg = Clamp3Config::default();
    let model = Clamp3Model::load(
        &cfg,
        Parts::of([Modality::Symbolic, Modality::Audio]),
        synthetic::var_builder(&dev),
    )
    .unwrap();
    // Padded batches: lengths 37, 29 and 1 in one batch.
    let lengths = [37usize, 29, 1];
    let mask = clamp3_model::bert::length_mask(&lengths, 37, &dev).unwrap();
    let ids: Vec<u32> = (0..3 * 37 * 64).map(|i| (i as u32 * 7 + 3) % 128).collect();
    let patches = Tensor::from_vec(ids, (3, 37, 64), &dev).unwrap();
    let (k, c) = both(|| {
        model
            .global_features(Modality::Symbolic, &patches, &mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    });
    assert_close("M3 padded batch", &k, &c, 768, 0.999_999, 1e-4);
    let x = Tensor::from_vec(wave(3 * 37 * 768, 9), (3, 37, 768), &dev).unwrap();
    let (k, c) = both(|| {
        model
            .global_features(Modality::Audio, &x, &mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    });
    assert_close("audio encoder padded batch", &k, &c, 768, 0.999_999, 1e-4);
}
