//! Preprocessing parity against transformers 4.40's `BlipImageProcessor` on
//! `PIL.Image.open(f).convert("RGB")`, per image of `fixtures/blip/images`.
//!
//! - PNG and WebP (lossless and lossy): the decoded RGB bytes and the float32 `pixel_values`
//!   must be bit-identical (sha256 of all 442,368 values; max abs error 0).
//! - JPEG: zune-jpeg's IDCT and chroma upsampling round differently from libjpeg-turbo's, so
//!   the error is measured on every 251st value and bounded (`JPEG_MAX_ABS`); the resize and
//!   normalisation after decoding are the same code as for the exact formats.

mod common;

use clamp3_blip::{decode_rgb, preprocess, DecodeLimits, PreprocessorConfig};
use common::*;

/// Bound on |ours − transformers| of the normalised pixels for JPEG inputs: 5 levels of 8 bits
/// (one level is 1/255/std ≈ 0.015). Measured on the whole tensors of the fixture JPEGs: at
/// most 4 levels (0.0569) with 4:2:0 chroma, 12% of the pixels differing; 1 level (0.0300)
/// for gray, 4:4:4 and CMYK files, about 1% of the pixels.
const JPEG_MAX_ABS: f32 = 0.075;

fn exact_format(name: &str) -> bool {
    !name.ends_with(".jpg")
}

#[test]
fn pixel_values_match_transformers() {
    let g = goldens();
    let tensors = GoldenTensors::load();
    let stride = g["pixel_stride"].as_u64().unwrap() as usize;
    let cfg = PreprocessorConfig::from_file(&tiny_dir().join("preprocessor_config.json")).unwrap();
    assert_eq!(
        cfg,
        PreprocessorConfig::default(),
        "the fixture uses the real model's settings"
    );
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for img in g["images"].as_array().unwrap() {
        let name = img["name"].as_str().unwrap();
        let bytes = image_bytes(name);
        let rgb = decode_rgb(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!(
            (rgb.width, rgb.height),
            (
                img["width"].as_u64().unwrap() as u32,
                img["height"].as_u64().unwrap() as u32
            ),
            "{name}"
        );
        let rgb_same = sha256_hex(&rgb.data) == img["rgb_sha256"].as_str().unwrap();
        let (px, shape) = preprocess(&bytes, &cfg).unwrap();
        assert_eq!(shape, [3, 384, 384]);
        let exact = sha256_hex(&f32_bytes(&px)) == img["pixel_sha256"].as_str().unwrap();
        let (want, _) = tensors.get(&format!("pixels/{name}"));
        let sampled: Vec<f32> = px.iter().step_by(stride).copied().collect();
        let err = max_abs_diff(&sampled, &want);
        report.push(format!(
            "{name:38} {:5} decoded RGB {:9} pixel_values {}",
            img["pil_mode"].as_str().unwrap(),
            if rgb_same { "identical" } else { "differs" },
            if exact {
                "bit-identical".to_string()
            } else {
                format!("max |err| {err:.5} (sampled)")
            }
        ));
        if exact_format(name) {
            if !(rgb_same && exact) {
                failures.push(format!(
                    "{name}: expected bit-exact (rgb {rgb_same}, pixels {exact}, err {err})"
                ));
            }
        } else if err > JPEG_MAX_ABS {
            failures.push(format!("{name}: max abs error {err} > {JPEG_MAX_ABS}"));
        }
        if exact {
            assert_eq!(err, 0.0, "{name}: same hash but different sample");
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_config_file_values_are_read() {
    let p = std::path::Path::new("preprocessor_config.json");
    let c = PreprocessorConfig::from_json(
        r#"{"size": 224, "image_mean": 0.5, "image_std": [0.1, 0.2, 0.3], "do_rescale": false, "resample": 3}"#,
        p,
    )
    .unwrap();
    assert_eq!((c.height, c.width), (224, 224));
    assert_eq!(c.image_mean, [0.5; 3]);
    assert_eq!(c.image_std, [0.1, 0.2, 0.3]);
    assert!(!c.do_rescale);
    let c = PreprocessorConfig::from_json(r#"{"size": {"height": 100, "width": 50}}"#, p).unwrap();
    assert_eq!((c.height, c.width), (100, 50));
    for bad in [
        r#"{"resample": 2}"#,
        r#"{"size": {"shortest_edge": 384}}"#,
        r#"{"image_mean": [0.1, 0.2]}"#,
        r#"{"image_std": [0.0, 1.0, 1.0]}"#,
        r#"{"image_processor_type": "CLIPImageProcessor"}"#,
        r#"not json"#,
    ] {
        let e = PreprocessorConfig::from_json(bad, p).unwrap_err();
        assert_eq!(e.fault(), clamp3_blip::Fault::System, "{bad}: {e}");
    }
}
