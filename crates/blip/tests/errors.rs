//! Bad input: unsupported, truncated, corrupt and oversized images give the right error
//! variant (the input's fault), without panicking and without decoding oversized pixels; a
//! fuzz-style pass over mutated fixture bytes.

mod common;

use std::path::Path;

use candle_core::Device;
use clamp3_blip::{decode_rgb, BlipConfig, BlipError, Captioner, DecodeLimits, Fault};
use common::*;

fn decode(bytes: &[u8]) -> Result<clamp3_blip::RgbImage, BlipError> {
    decode_rgb(bytes, &DecodeLimits::default())
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    v.extend_from_slice(&body);
    v.extend_from_slice(&crc32(&body).to_be_bytes());
    v
}

/// A PNG whose header claims `w x h` RGB pixels, with a tiny (invalid for that size) IDAT.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend(png_chunk(b"IHDR", &ihdr));
    v.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    v.extend(png_chunk(b"IEND", &[]));
    v
}

/// The fixture JPEG with its frame header's dimensions replaced.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = image_bytes("photo_chelsea_q90.jpg");
    let sof = b
        .windows(2)
        .position(|m| m[0] == 0xFF && (m[1] == 0xC0 || m[1] == 0xC2))
        .expect("SOF marker");
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

#[test]
fn unsupported_formats_are_named() {
    for (bytes, want) in [
        (&b""[..], None),
        (&b"hello, this is text"[..], None),
        (&b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"[..], Some("Gif")),
        (
            &b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"[..],
            Some("Bmp"),
        ),
        (&b"II*\x00\x08\x00\x00\x00"[..], Some("Tiff")),
    ] {
        match decode(bytes) {
            Err(e @ BlipError::UnsupportedFormat { .. }) => {
                let BlipError::UnsupportedFormat { detected } = &e else {
                    unreachable!()
                };
                assert_eq!(detected.as_deref(), want);
                assert_eq!(e.fault(), Fault::Input);
                assert!(e.to_string().contains("only PNG, JPEG and WebP"), "{e}");
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }
}

#[test]
fn truncated_files_are_truncated() {
    for name in [
        "render_rgba_500x300.png",
        "photo_chelsea_q90.jpg",
        "photo_astronaut_progressive.jpg",
        "photo_coffee_300x200.webp",
        "render_rgba_lossless_120x80.webp",
    ] {
        let b = image_bytes(name);
        for frac in [0.3, 0.6, 0.95] {
            let cut = &b[..(b.len() as f64 * frac) as usize];
            match decode(cut) {
                Err(e @ BlipError::Truncated { .. }) => assert_eq!(e.fault(), Fault::Input),
                other => panic!("{name} cut to {frac}: {other:?}"),
            }
        }
    }
    // Header only.
    let png = image_bytes("render_rgb_2x2.png");
    let ihdr_end = 8 + 8 + 13 + 4;
    assert!(matches!(
        decode(&png[..ihdr_end]),
        Err(BlipError::Truncated { .. })
    ));
}

#[test]
fn oversized_images_are_refused_from_the_header() {
    for (bytes, w, h) in [
        (png_claiming(100_000, 100_000), 100_000, 100_000),
        (png_claiming(16_000, 16_000), 16_000, 16_000), // within the side limit, over the pixel limit
        (jpeg_claiming(60_000, 60_000), 60_000, 60_000),
    ] {
        match decode(&bytes) {
            Err(BlipError::TooLarge { width, height, .. }) => assert_eq!((width, height), (w, h)),
            other => panic!("{w}x{h}: {other:?}"),
        }
    }
    let small = DecodeLimits {
        max_side: 100,
        ..DecodeLimits::default()
    };
    let e = decode_rgb(&image_bytes("render_rgba_500x300.png"), &small).unwrap_err();
    assert!(
        matches!(
            e,
            BlipError::TooLarge {
                width: 500,
                height: 300,
                max_side: 100,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("500x300"), "{e}");
}

#[test]
fn corrupt_data_is_corrupt() {
    // Zero width in the header.
    let e = decode(&png_claiming(0, 10)).unwrap_err();
    assert_eq!(e.fault(), Fault::Input, "{e}");
    assert!(
        matches!(e, BlipError::Corrupt { .. } | BlipError::Empty { .. }),
        "{e:?}"
    );
    // A valid header with garbage pixel data.
    let e = decode(&png_claiming(64, 64)).unwrap_err();
    assert!(
        matches!(e, BlipError::Corrupt { .. } | BlipError::Truncated { .. }),
        "{e:?}"
    );
    // Garbage after a JPEG start-of-image marker.
    let mut j = vec![0xFF, 0xD8, 0xFF];
    j.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
    let e = decode(&j).unwrap_err();
    assert_eq!(e.fault(), Fault::Input, "{e:?}");
}

/// Tiny xorshift generator: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut b = src.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // Overwrite a byte near the start, where the headers are.
            let i = rng.below(b.len().min(64));
            b[i] = rng.next() as u8;
        }
        2 => {
            let at = rng.below(b.len());
            let n = rng.below(64).min(b.len() - at);
            b.drain(at..at + n);
        }
        _ => {
            let at = rng.below(b.len());
            let junk: Vec<u8> = (0..1 + rng.below(32)).map(|_| rng.next() as u8).collect();
            b.splice(at..at, junk);
        }
    }
    b
}

/// Mutated fixtures decode or fail with an input error; none panics (a decoder panic would be
/// caught and reported as `DecoderPanic`, which also counts as a failure here).
#[test]
fn fuzzed_images_never_panic() {
    let limits = DecodeLimits {
        max_side: 4096,
        max_pixels: 4 * 1024 * 1024,
        max_alloc: 64 * 1024 * 1024,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    for img in goldens()["images"].as_array().unwrap() {
        let name = img["name"].as_str().unwrap();
        let src = image_bytes(name);
        for _ in 0..40 {
            let b = mutate(&mut rng, &src);
            match decode_rgb(&b, &limits) {
                Ok(rgb) => {
                    assert_eq!(rgb.data.len(), rgb.width as usize * rgb.height as usize * 3);
                    ok += 1;
                }
                Err(e @ BlipError::DecoderPanic { .. }) => panic!("{name}: {e}"),
                Err(e) => {
                    assert_eq!(e.fault(), Fault::Input, "{name}: {e}");
                    err += 1;
                }
            }
        }
    }
    println!("mutated inputs: {ok} decoded, {err} refused");
    assert!(err > 0 && ok > 0);
}

/// Model folder problems are the system's fault and name the file.
#[test]
fn bad_model_folders_are_system_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = Captioner::load(dir.path(), &Device::Cpu).expect_err("empty folder fails");
    assert!(matches!(e, BlipError::MissingFile { .. }), "{e}");
    assert_eq!(e.fault(), Fault::System);

    for f in [
        "config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
    ] {
        std::fs::copy(tiny_dir().join(f), dir.path().join(f)).unwrap();
    }
    assert!(Captioner::load(dir.path(), &Device::Cpu).is_ok());

    // A config that does not fit the weights names the tensor.
    let cfg_path = dir.path().join("config.json");
    let orig = std::fs::read_to_string(&cfg_path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["text_config"]["intermediate_size"] = serde_json::json!(48);
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    let e = Captioner::load(dir.path(), &Device::Cpu).expect_err("mismatch fails");
    assert!(matches!(e, BlipError::WeightsMismatch { .. }), "{e}");
    assert!(e.to_string().contains("intermediate.dense.weight"), "{e}");

    // Decoding settings other than greedy search are refused, not ignored.
    v["text_config"]["intermediate_size"] = serde_json::json!(64);
    v["text_config"]["num_beams"] = serde_json::json!(3);
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    let e = Captioner::load(dir.path(), &Device::Cpu).expect_err("beam search refused");
    assert!(
        matches!(e, BlipError::UnsupportedSetting { ref setting, .. } if setting == "text_config.num_beams"),
        "{e}"
    );

    // A processor size that does not fit the vision model.
    std::fs::write(&cfg_path, &orig).unwrap();
    std::fs::write(
        dir.path().join("preprocessor_config.json"),
        r#"{"size": 224}"#,
    )
    .unwrap();
    let e = Captioner::load(dir.path(), &Device::Cpu).expect_err("size mismatch");
    assert!(matches!(e, BlipError::Config { .. }), "{e}");
}

#[test]
fn the_real_config_parses_with_greedy_defaults() {
    // The text_config generation keys as the hub's config.json of
    // blip-image-captioning-base spells them (transformers 4.26 serialisation).
    let text = r#"{"model_type": "blip", "text_config": {"bos_token_id": 30522, "sep_token_id": 102,
        "pad_token_id": 0, "max_length": 20, "min_length": 0, "num_beams": 1, "num_beam_groups": 1,
        "do_sample": false, "repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
        "bad_words_ids": null, "forced_bos_token_id": null, "forced_eos_token_id": null,
        "num_attention_heads": 12, "hidden_act": "gelu"}, "vision_config": {"layer_norm_eps": 1e-05}}"#;
    let c = BlipConfig::from_json(text, Path::new("config.json")).unwrap();
    assert_eq!(c.generation.max_length, 20);
    assert_eq!(c.text.num_attention_heads, 12);
    assert_eq!(c.text.encoder_hidden_size, 768);
    assert_eq!((c.text.bos_token_id, c.text.sep_token_id), (30522, 102));
}
