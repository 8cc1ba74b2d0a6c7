#!/usr/bin/env python3
"""Golden fixtures for the image route (crates/blip): BLIP preprocessing and captioning as
transformers 4.40 does it (`BlipProcessor`, `BlipForConditionalGeneration.generate` with the
default settings, `processor.decode(out[0], skip_special_tokens=True)`), following the
reference's inference/image_captioning.py (`Image.open(path).convert("RGB")` first).

Never run by CI. Environment: /work/venv (torch, transformers==4.40.0, pillow, numpy==1.26.4,
safetensors); pip is used once to download the scikit-image wheel (only its bundled photos are
read, never imported). Re-runnable and deterministic; usage:

    /work/venv/bin/python scripts/golden/gen_blip_goldens.py [--skimage-wheel PATH] [--no-official]

Writes:

  fixtures/blip/images/*          the test images: photos from scikit-image's data folder
                                  (public domain / CC0, see fixtures/blip/README.md), re-encoded
                                  small, and rendered images in every mode the decoders meet
  fixtures/blip/tiny/             a small randomly initialised BlipForConditionalGeneration in
                                  the hub's layout: config.json, model.safetensors (the LM head
                                  tied to the word embeddings, so the file omits it, as
                                  save_pretrained does for the real model), a BERT-uncased
                                  WordPiece tokenizer with BLIP's [DEC]/[ENC] tokens
                                  (tokenizer.json, vocab.txt, tokenizer_config.json,
                                  special_tokens_map.json) and preprocessor_config.json with the
                                  real model's values (384x384, bicubic, 1/255, CLIP mean/std)
  fixtures/blip/tiny_bin/         a smaller random BLIP (16 wide, 1 + 1 layers) saved
                                  as pytorch_model.bin in the hub file's layout (the
                                  tied LM head under both names, an int64 position_ids buffer),
                                  with the same tokenizer and preprocessor files
  fixtures/blip/goldens.json      per image: Pillow mode and size, sha256 of the RGB bytes after
                                  convert("RGB") and of the processor's float32 pixel_values,
                                  the tiny model's caption ids and text; the official-size
                                  model's caption ids for two images; tokenizer decode cases
  fixtures/blip/goldens.safetensors
                                  pixel_values sampled every 251st value (all images), the tiny
                                  vision last_hidden_state and per-step logits (two images),
                                  and for the official size: vision rows every 48th token and
                                  the first and last steps' logits every 7th id

Weights: `blip_values` below, a deterministic function of the tensor name (the project's
synthetic.py values, with BLIP's vision LayerNorm gains moved to 1 + 0.2 v like the text
ones), so that Rust regenerates the official-size model (768 wide, 12 + 12 layers, vocab
30524) without a checkpoint. The official-size text config unties the LM head so every
parameter has its own name.
"""

import argparse
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.numpy import save_file
from transformers import (BertTokenizerFast, BlipConfig, BlipForConditionalGeneration,
                          BlipImageProcessor, BlipProcessor)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synthetic import tensor_values  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures", "blip")
IMAGES = os.path.join(OUT, "images")
TINY = os.path.join(OUT, "tiny")
TINY_BIN = os.path.join(OUT, "tiny_bin")
SKIMAGE_VERSION = "0.26.0"
PIXEL_STRIDE = 251

TINY_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   image_size=384, patch_size=16)
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=32)
# A smaller one again, saved as pytorch_model.bin the way the hub's blip-image-captioning-base
# file is laid out (torch.save of the state dict: the tied LM head under both names, and the
# position_ids buffer that transformers 4.26 still saved).
TINY_BIN_VISION = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                       image_size=384, patch_size=16)
TINY_BIN_TEXT = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                     max_position_embeddings=24)
OFFICIAL_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=384, patch_size=16)
OFFICIAL_TEXT = dict(vocab_size=30524, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, max_position_embeddings=512, bos_token_id=30522,
                     tie_word_embeddings=False)


def blip_values(name, shape):
    """synthetic.py's values; the vision LayerNorm gains become 1 + 0.2 v (float32 ops)."""
    v = tensor_values(name, shape)
    if name.endswith(("layer_norm1.weight", "layer_norm2.weight", "post_layernorm.weight")):
        v = (np.float32(1.0) + np.float32(2.0) * v).astype(np.float32)
    return v


def tiny_values(name, shape):
    """blip_values with the cross-attention matrices 4x larger, so that the tiny model's
    captions depend on the image (at 32 wide its attention would otherwise be near uniform)."""
    v = blip_values(name, shape)
    if ".crossattention." in name and name.endswith(".weight") and "LayerNorm" not in name:
        v = (v * np.float32(4.0)).astype(np.float32)
    return v


def build_model(vision, text, values):
    cfg = BlipConfig(vision_config=vision, text_config=text)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters appear once
            p.copy_(torch.from_numpy(values(name, tuple(p.shape))))
    return model


# ---------------------------------------------------------------- tokenizer

WORDS = """a an the of on in with and is are at to by for from near next under over two three
man woman person people child dog cat cats bird horse car bus train truck plane boat bike table
chair couch bed room kitchen street road field grass tree trees sky water beach snow mountain
city building house window door wall floor sign clock cup coffee plate food pizza cake shirt
hat red blue green white black yellow brown large small big little young old sitting standing
walking running riding holding looking eating playing laying flying parked there it this that
do not can t s n ' . , ? ! - ( ) : ; " / picture photo image view close up front top side""".split()
PIECES = "##s ##es ##ed ##ing ##er ##ly ##y ##ie ##a ##e ##i ##o ##t ##n ##'s ##.".split()


def build_tokenizer(dirpath):
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += sorted(set(WORDS)) + PIECES + list("abcdefghijklmnopqrstuvwxyz0123456789")
    seen = set()
    vocab = [t for t in vocab if not (t in seen or seen.add(t))]
    vf = os.path.join(dirpath, "vocab_src.txt")
    with open(vf, "w") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=vf, do_lower_case=True)
    os.remove(vf)
    # As BLIP's code does: [DEC] is the bos token, [ENC] an additional special token.
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tok


# ---------------------------------------------------------------- images

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, arr, color_type):
    """A 16-bit PNG (Pillow cannot write 16-bit RGB/RGBA/LA): arr is (h, w, c) uint16."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def rendered_rgb(w, h, seed, noise=True):
    """A synthetic scene: gradients, a few shapes, a checkerboard corner and (for the small
    ones) a little noise; without noise it stays small as PNG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 127 + 120 * np.sin(x / max(w, 1) * 3.1 + seed)
    g = 127 + 120 * np.cos(y / max(h, 1) * 2.3 + seed)
    b = 255 * (x + y) / max(w + h, 1)
    img = Image.fromarray(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = rng.integers(0, max(w, 2)), rng.integers(0, max(h, 2))
        x1, y1 = x0 + rng.integers(1, max(w // 2, 2)), y0 + rng.integers(1, max(h // 2, 2))
        d.ellipse([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    a = np.array(img).astype(np.int16)
    cw, ch = max(w // 5, 1), max(h // 5, 1)
    a[:ch, :cw] = np.where(((x[:ch, :cw] // 2 + y[:ch, :cw] // 2) % 2 == 0)[..., None], 250, 5)
    if noise:
        a += rng.integers(-3, 4, (h, w, 3))
    return a.clip(0, 255).astype(np.uint8)


def make_images(skimage_wheel):
    os.makedirs(IMAGES, exist_ok=True)
    photos = {}
    with zipfile.ZipFile(skimage_wheel) as z:
        for n in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]:
            photos[n] = z.read(f"skimage/data/{n}")
    made = []

    def save(name, im, **kw):
        im.save(os.path.join(IMAGES, name), **kw)
        made.append(name)

    # Photos (scikit-image data; public domain / CC0).
    with open(os.path.join(IMAGES, "photo_rocket.jpg"), "wb") as f:  # the package's JPEG, unchanged
        f.write(photos["rocket.jpg"])
    made.append("photo_rocket.jpg")
    chelsea = Image.open(io.BytesIO(photos["chelsea.png"])).convert("RGB")
    save("photo_chelsea_q90.jpg", chelsea, quality=90)  # 451x300, 4:2:0
    coffee = Image.open(io.BytesIO(photos["coffee.png"])).convert("RGB")
    save("photo_coffee_300x200.webp", coffee.resize((300, 200), Image.LANCZOS), quality=80)  # lossy
    astro = Image.open(io.BytesIO(photos["astronaut.png"])).convert("RGB")
    save("photo_astronaut_progressive.jpg", astro, quality=85, progressive=True)  # 512x512
    save("photo_astronaut_gray_160.png", astro.resize((160, 160), Image.LANCZOS).convert("L"))
    save("photo_chelsea_444_q95.jpg", chelsea.resize((225, 150), Image.LANCZOS), quality=95, subsampling=0)
    save("photo_chelsea_gray.jpg", chelsea.convert("L").resize((300, 200), Image.LANCZOS), quality=85)
    save("photo_coffee_cmyk.jpg", coffee.resize((150, 100), Image.LANCZOS).convert("CMYK"), quality=90)

    # Rendered images, one per mode and resize path.
    rgb = rendered_rgb(500, 300, 1, noise=False)
    alpha = np.linspace(0, 255, 500, dtype=np.float32)[None, :].repeat(300, 0).astype(np.uint8)
    save("render_rgba_500x300.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    save("render_rgb_384x384.png", Image.fromarray(rendered_rgb(384, 384, 2, noise=False)))
    save("render_rgb_384x200.png", Image.fromarray(rendered_rgb(384, 200, 3, noise=False)))
    # (transformers' processor fails on images 1 pixel tall and misreads 3 pixels tall ones:
    # it takes the first axis for channels; see docs/images.md. 2x2 is the smallest it reads.)
    save("render_rgb_2x2.png", Image.fromarray(np.array([[[200, 30, 90], [0, 255, 9]],
                                                         [[13, 14, 15], [250, 128, 1]]], np.uint8)))
    save("render_rgb_1200x5.png", Image.fromarray(rendered_rgb(1200, 5, 4)))
    la = rendered_rgb(97, 61, 5)[..., :2]
    save("render_la_97x61.png", Image.fromarray(la, "LA"))
    pal = Image.fromarray(rendered_rgb(90, 150, 6)).quantize(colors=16)
    pal.info["transparency"] = 3
    save("render_palette_trns_90x150.png", pal, transparency=3)
    save("render_bilevel_50x40.png", Image.fromarray(rendered_rgb(50, 40, 7)[..., 0]).convert("1"))
    g16 = (np.arange(40 * 30, dtype=np.uint32).reshape(30, 40) * 7 % 700).astype(np.uint16)
    save("render_gray16_40x30.png", Image.fromarray(g16))  # Pillow mode I;16
    hi = rendered_rgb(33, 21, 8).astype(np.uint16) * 257 + np.uint16(123)
    write_png16(os.path.join(IMAGES, "render_rgb16_33x21.png"), hi, 2)
    made.append("render_rgb16_33x21.png")
    hi4 = np.dstack([hi, (np.arange(33 * 21, dtype=np.uint16).reshape(21, 33) * 97)])
    write_png16(os.path.join(IMAGES, "render_rgba16_33x21.png"), hi4, 6)
    made.append("render_rgba16_33x21.png")
    save("render_rgba_lossless_120x80.webp",
         Image.fromarray(np.dstack([rendered_rgb(120, 80, 9), rendered_rgb(120, 80, 10)[..., 0]]), "RGBA"),
         lossless=True)
    save("render_rgb_lossless_77x55.webp", Image.fromarray(rendered_rgb(77, 55, 11)), lossless=True)
    save("render_rgb_lossy_200x130.webp", Image.fromarray(rendered_rgb(200, 130, 12)), quality=75)
    return sorted(made)


# ---------------------------------------------------------------- goldens

def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def fetch_skimage_wheel():
    d = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "pip", "download", f"scikit-image=={SKIMAGE_VERSION}", "--no-deps",
                    "--only-binary=:all:", "-d", d, "-q"], check=True)
    return os.path.join(d, [f for f in os.listdir(d) if f.endswith(".whl")][0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skimage-wheel")
    ap.add_argument("--no-official", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    names = make_images(args.skimage_wheel or fetch_skimage_wheel())

    os.makedirs(TINY, exist_ok=True)
    tok = build_tokenizer(TINY)
    image_processor = BlipImageProcessor(size={"height": 384, "width": 384}, resample=3,
                                         rescale_factor=1 / 255, do_normalize=True)
    processor = BlipProcessor(image_processor, tok)
    vocab = len(tok)
    tiny_text = dict(TINY_TEXT, vocab_size=vocab, bos_token_id=tok.convert_tokens_to_ids("[DEC]"))
    tiny = build_model(TINY_VISION, tiny_text, tiny_values)
    tiny.save_pretrained(TINY, safe_serialization=True)
    processor.save_pretrained(TINY)

    tiny_bin = build_model(TINY_BIN_VISION, dict(TINY_BIN_TEXT, vocab_size=vocab,
                                                 bos_token_id=tiny_text["bos_token_id"]), tiny_values)
    os.makedirs(TINY_BIN, exist_ok=True)
    tiny_bin.config.save_pretrained(TINY_BIN)
    processor.save_pretrained(TINY_BIN)
    state = dict(tiny_bin.state_dict())
    assert "text_decoder.cls.predictions.decoder.weight" in state
    state["text_decoder.bert.embeddings.position_ids"] = torch.arange(TINY_BIN_TEXT["max_position_embeddings"]).expand((1, -1))
    torch.save(state, os.path.join(TINY_BIN, "pytorch_model.bin"))

    goldens = {"transformers": __import__("transformers").__version__, "pillow": Image.__version__,
               "torch": torch.__version__, "pixel_stride": PIXEL_STRIDE, "images": [], "tokenizer": []}
    tensors = {}
    full_tiny = {"photo_chelsea_q90.jpg", "render_rgba_500x300.png"}
    for name in names:
        im0 = Image.open(os.path.join(IMAGES, name))
        mode = im0.mode
        im = im0.convert("RGB")
        rgb = np.array(im)
        pv = processor(images=im, return_tensors="pt").pixel_values
        flat = pv.numpy().reshape(-1)
        with torch.no_grad():
            out = tiny.generate(pixel_values=pv, output_scores=True, return_dict_in_generate=True)
            emb = tiny.vision_model(pixel_values=pv)[0]
        ids = out.sequences[0].tolist()
        scores = torch.stack(out.scores, 1)[0]  # (steps, vocab)
        top2 = scores.topk(2, dim=-1).values
        entry = {"name": name, "pil_mode": mode, "width": im0.width, "height": im0.height,
                 "rgb_sha256": sha(rgb), "pixel_sha256": sha(flat.astype("<f4")),
                 "tiny_ids": ids, "tiny_text": processor.decode(out.sequences[0], skip_special_tokens=True),
                 "tiny_min_top2_margin": float((top2[:, 0] - top2[:, 1]).min())}
        tensors[f"pixels/{name}"] = flat[::PIXEL_STRIDE].copy()
        if name in full_tiny:
            tensors[f"tiny_vision/{name}"] = emb[0].numpy().copy()
            tensors[f"tiny_logits/{name}"] = scores.numpy().copy()
        goldens["images"].append(entry)
        print(f"{name:38s} {mode:5s} {im0.width}x{im0.height} ids={ids} margin={entry['tiny_min_top2_margin']:.4f}")

    goldens["tiny_bin"] = []
    for name in ["photo_rocket.jpg", "render_rgba_500x300.png", "photo_coffee_300x200.webp"]:
        pv = processor(images=Image.open(os.path.join(IMAGES, name)).convert("RGB"), return_tensors="pt").pixel_values
        with torch.no_grad():
            out = tiny_bin.generate(pixel_values=pv)
        goldens["tiny_bin"].append({"name": name, "ids": out[0].tolist(),
                                    "text": processor.decode(out[0], skip_special_tokens=True)})
        print(f"tiny_bin {name}: {out[0].tolist()}")

    # Detokenizer cases: random id sequences over the whole vocabulary (special tokens,
    # [unusedN], word pieces, punctuation that the clean-up rules touch).
    rng = np.random.default_rng(17)
    for _ in range(200):
        n = int(rng.integers(1, 20))
        ids = [int(i) for i in rng.integers(0, vocab, n)]
        goldens["tokenizer"].append({"ids": ids, "text": processor.decode(ids, skip_special_tokens=True)})
    for words in ["a dog do n ' t sit .", "there ' s a cat , isn ' t it ?", "two people ( walking ) !"]:
        ids = tok(words, add_special_tokens=False).input_ids
        goldens["tokenizer"].append({"ids": ids, "text": processor.decode(ids, skip_special_tokens=True)})

    if not args.no_official:
        official = build_model(OFFICIAL_VISION, OFFICIAL_TEXT, blip_values)
        goldens["official"] = []
        for name in ["render_rgba_500x300.png", "photo_astronaut_gray_160.png"]:
            im = Image.open(os.path.join(IMAGES, name)).convert("RGB")
            pv = processor(images=im, return_tensors="pt").pixel_values
            with torch.no_grad():
                out = official.generate(pixel_values=pv, output_scores=True, return_dict_in_generate=True)
                emb = official.vision_model(pixel_values=pv)[0][0]
            scores = torch.stack(out.scores, 1)[0]
            top2 = scores.topk(2, dim=-1).values
            margin = float((top2[:, 0] - top2[:, 1]).min())
            goldens["official"].append({"name": name, "ids": out.sequences[0].tolist(), "min_top2_margin": margin})
            tensors[f"official_vision_rows/{name}"] = emb[::48].numpy().copy()
            tensors[f"official_logits0/{name}"] = scores[0, ::7].numpy().copy()
            tensors[f"official_logits_last/{name}"] = scores[-1, ::7].numpy().copy()
            print(f"official {name}: ids={out.sequences[0].tolist()} margin={margin:.4f}")

    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, indent=1)
        f.write("\n")
    save_file(tensors, os.path.join(OUT, "goldens.safetensors"))


if __name__ == "__main__":
    main()
