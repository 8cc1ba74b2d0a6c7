//! Preprocessing parity against transformers 4.40's `BlipImageProcessor` on
//! `PIL.Image.open(f).convert("RGB")`, per image of `fixtures/blip/images`.
//!
//! Every format (PNG in all its modes, JPEG baseline/progressive/gray/CMYK, WebP lossless and
//! lossy): the decoded RGB bytes and the float32 `pixel_values` must be bit-identical (sha256 of
//! all 442,368 values), i.e. max abs error 0. A failure prints the error measured on every
//! 251st value.

mod common;

use clamp3_blip::{decode_rgb, preprocess, DecodeLimits, PreprocessorConfig};
use common::*;

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
        if !(rgb_same && exact) {
            failures.push(format!(
                "{name}: not bit-exact (rgb {rgb_same}, pixels {exact}, sampled max abs error {err})"
            ));
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
