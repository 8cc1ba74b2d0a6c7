//! Captioning parity against transformers 4.40's `BlipForConditionalGeneration.generate` on the
//! tiny random BLIP of `fixtures/blip/tiny` (hub layout, loaded like the real model).

mod common;

use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use clamp3_blip::detok::Detokenizer;
use clamp3_blip::Captioner;
use common::*;

fn captioner() -> &'static Captioner {
    static C: OnceLock<Captioner> = OnceLock::new();
    C.get_or_init(|| Captioner::load(&tiny_dir(), &Device::Cpu).expect("tiny BLIP loads"))
}

fn golden_image(name: &str) -> serde_json::Value {
    goldens()["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no golden for {name}"))
}

/// Every fixture image (all formats; their pixels are bit-exact, tests/preprocess.rs) must give
/// transformers' caption ids and text exactly, near-ties included (the smallest top-2 logit
/// margin over the steps is printed).
#[test]
fn captions_match_transformers() {
    let c = captioner();
    let mut failures = Vec::new();
    for img in goldens()["images"].as_array().unwrap() {
        let name = img["name"].as_str().unwrap();
        let cap = c.caption(&image_bytes(name)).unwrap();
        let want = ids(&img["tiny_ids"]);
        let same = cap.token_ids == want && cap.text == img["tiny_text"].as_str().unwrap();
        println!(
            "{name:38} {} margin {:.5}  {:?}",
            if same { "same" } else { "DIFFERS" },
            img["tiny_min_top2_margin"].as_f64().unwrap(),
            cap.text
        );
        if !same {
            failures.push(format!(
                "{name}: ids {:?} text {:?}, transformers {want:?} {:?}",
                cap.token_ids, cap.text, img["tiny_text"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vision_encoder_matches_transformers() {
    let c = captioner();
    let t = GoldenTensors::load();
    for name in ["render_rgba_500x300.png", "photo_chelsea_q90.jpg"] {
        let px = c
            .pixel_values(&image_bytes(name))
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let ours: Vec<f32> = c
            .model()
            .image_embeddings(&px)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let (want, shape) = t.get(&format!("tiny_vision/{name}"));
        assert_eq!(shape, vec![577, 32]);
        let cos = cosine(&ours, &want);
        let err = max_abs_diff(&ours, &want);
        println!("{name}: vision last_hidden_state cosine {cos:.9}, max |err| {err:.2e}");
        // The JPEG's pixels differ from Pillow's by up to 3 levels (tests/preprocess.rs): its
        // bound is that decoder difference carried through the encoder, not model error.
        let (min_cos, max_err) = if name.ends_with(".png") {
            (0.999_999, 1e-4)
        } else {
            (0.999_8, 0.2)
        };
        assert!(
            cos >= min_cos && err <= max_err,
            "{name}: cosine {cos}, max abs error {err}"
        );
    }
}

/// The logits of every generation step, for an input whose pixels are bit-exact.
#[test]
fn step_logits_match_transformers() {
    let c = captioner();
    let t = GoldenTensors::load();
    let name = "render_rgba_500x300.png";
    let px = c
        .pixel_values(&image_bytes(name))
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let mut steps: Vec<Vec<f32>> = Vec::new();
    let seqs = c
        .model()
        .generate_with(&px, |_, rows| steps.push(rows[0].clone()))
        .unwrap();
    let (want, shape) = t.get(&format!("tiny_logits/{name}"));
    assert_eq!(steps.len(), shape[0], "number of steps");
    let ours: Vec<f32> = steps.concat();
    let err = max_abs_diff(&ours, &want);
    let cos = cosine(&ours, &want);
    println!(
        "{name}: {} steps, logits max |err| {err:.2e}, cosine {cos:.9}",
        shape[0]
    );
    assert!(
        err < 1e-4 && cos > 0.999_999,
        "max abs error {err}, cosine {cos}"
    );
    assert_eq!(seqs[0], ids(&golden_image(name)["tiny_ids"]));
}

/// A batch gives each image the caption it gets alone (rows that end early are dropped from
/// the comparison after their `[SEP]`).
#[test]
fn batch_equals_single() {
    let c = captioner();
    let names = [
        "render_rgb_2x2.png",
        "photo_coffee_300x200.webp",
        "render_rgba_500x300.png",
        "render_la_97x61.png",
    ];
    let bytes: Vec<Vec<u8>> = names.iter().map(|n| image_bytes(n)).collect();
    let mut refs: Vec<&[u8]> = bytes.iter().map(|b| b.as_slice()).collect();
    refs.insert(2, b"not an image");
    let c3 = Captioner::load(&tiny_dir(), &Device::Cpu)
        .unwrap()
        .with_batch_size(3);
    let batch = c3.caption_batch(&refs);
    assert_eq!(batch.len(), 5);
    assert!(batch[2].is_err(), "the bad input fails alone");
    let ok: Vec<_> = batch
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, r)| r.unwrap())
        .collect();
    for (name, got) in names.iter().zip(ok) {
        let single = c.caption(&image_bytes(name)).unwrap();
        assert_eq!(got, single, "{name}");
        // Two of them end with [SEP] before max_length, so the batch really has ragged rows.
        assert_eq!(
            got.token_ids,
            ids(&golden_image(name)["tiny_ids"]),
            "{name}"
        );
    }
}

#[test]
fn detokenizer_matches_transformers_decode() {
    let dir = tiny_dir();
    let d = Detokenizer::load(
        &dir.join("tokenizer.json"),
        Some(&dir.join("tokenizer_config.json")),
    )
    .unwrap();
    let cases = goldens()["tokenizer"].as_array().unwrap().clone();
    assert!(cases.len() > 100);
    for case in cases {
        let got = d.decode(&ids(&case["ids"])).unwrap();
        assert_eq!(got, case["text"].as_str().unwrap(), "ids {:?}", case["ids"]);
    }
}

/// The real checkpoint is 384 x 384: a pixel tensor of another size is refused.
#[test]
fn wrong_pixel_size_is_an_error() {
    let c = captioner();
    let px = Tensor::zeros((1, 3, 224, 224), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(c.model().generate(&px).is_err());
}

/// The reference's processor fails on images one pixel tall (it takes that axis for
/// channels); this implementation captions them (docs/images.md).
#[test]
fn one_pixel_tall_images_are_captioned() {
    let mut png = Vec::new();
    let img = image::RgbImage::from_pixel(7, 1, image::Rgb([10, 200, 30]));
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let c = captioner();
    let cap = c.caption(&png).unwrap();
    assert_eq!(cap.token_ids[0], c.model().config().text.bos_token_id);
    assert!(cap.token_ids.len() > 1);
}

/// The captioner is shared across threads by the callers (one model, many requests).
#[test]
fn captioner_is_send_and_sync() {
    fn shared<T: Send + Sync>(_: &T) {}
    shared(captioner());
    let c = captioner();
    let a = image_bytes("render_rgb_2x2.png");
    let b = image_bytes("render_la_97x61.png");
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| c.caption(&a).unwrap());
        let hb = s.spawn(|| c.caption(&b).unwrap());
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(
        ra.token_ids,
        ids(&golden_image("render_rgb_2x2.png")["tiny_ids"])
    );
    assert_eq!(
        rb.token_ids,
        ids(&golden_image("render_la_97x61.png")["tiny_ids"])
    );
}

/// A `pytorch_model.bin` laid out as the hub's file of blip-image-captioning-base (torch.save
/// of the state dict: the tied LM head under both names, an int64 `position_ids` buffer) loads
/// and captions as transformers does.
#[test]
fn pytorch_bin_checkpoint_matches_transformers() {
    let dir = fixtures().join("tiny_bin");
    assert!(!dir.join("model.safetensors").exists());
    let c = Captioner::load(&dir, &Device::Cpu).expect("pytorch_model.bin loads");
    for case in goldens()["tiny_bin"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let cap = c.caption(&image_bytes(name)).unwrap();
        assert_eq!(cap.token_ids, ids(&case["ids"]), "{name}");
        assert_eq!(cap.text, case["text"].as_str().unwrap(), "{name}");
    }
}
