#!/usr/bin/env python3
"""Golden loss and gradients of CLaMP 3's contrastive objective, computed with PyTorch.

Never run by CI. Same environment as gen_model_goldens.py (torch, transformers==4.40.0, numpy,
safetensors, unidecode). Writes fixtures/train/goldens.safetensors:

  <stage>/text_ids, <stage>/text_mask        the text batch, padded with id 1
  <stage>/music, <stage>/music_mask          the music batch (patches as int64, or features)
  <stage>/loss                               the reference ClipLoss value
  <stage>/grad/<param>                        d loss / d param for every parameter with a
                                             non-zero gradient

for two stages on the `mini` model (synthetic weights, fixtures/model/mini/config.json):
`symbolic` (text <-> M3 patches of real ABC/MTF, everything trainable) and `audio`
(text <-> MERT-shaped features, text_model and text_proj frozen, as in the second stage).

The objective is the reference's (code/utils.py ClipLoss with world_size 1, LOGIT_SCALE 1):
logits = text_features @ music_features.T on raw (unnormalised) vectors, loss = mean of the two
cross-entropies. The model is in eval mode (no dropout), so the numbers are deterministic.
"""

import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_goldens import MINI, Clamp3, fill_synthetic, patchilize  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clip_loss(text, music):
    logits_per_image = 1.0 * text @ music.T
    logits_per_text = 1.0 * music @ text.T
    labels = torch.arange(text.shape[0])
    ce = torch.nn.functional.cross_entropy
    return (ce(logits_per_image, labels) + ce(logits_per_text, labels)) / 2


def pad(rows, value, width=None):
    n = max(len(r) for r in rows)
    out, mask = [], []
    for r in rows:
        out.append(list(r) + [value if width is None else [value] * width] * (n - len(r)))
        mask.append([1] * len(r) + [0] * (n - len(r)))
    return out, mask


def batch_inputs():
    """The golden batch: four token sequences, crops of four real ABC/MTF files as patches
    (different lengths, <= patch_length 32) and four MERT-shaped feature arrays."""
    rng = np.random.default_rng(11)
    texts = [[0] + list(rng.integers(4, 1000, n)) + [2] for n in (9, 30, 4, 17)]
    inputs = os.path.join(ROOT, "fixtures", "model", "inputs")
    sources = ["bach_bwv66_6.abc", "essen_han1_tune3.mtf", "essen_han1_tune3.abc", "bach_nonascii.abc"]
    patches = []
    for i, name in enumerate(sources):
        with open(os.path.join(inputs, name), encoding="utf-8") as f:
            patches.append(patchilize(f.read())[: [32, 20, 12, 25][i]])
    feats = [rng.standard_normal((n, 8)).astype(np.float32) for n in (16, 5, 11, 3)]
    return texts, patches, feats


def padded(stage, texts, music):
    """Padded text ids and mask, music and mask (as lists), and the music tensor."""
    ids, tmask = pad(texts, 1)
    if stage == "symbolic":
        mus, mmask = pad(music, 0, 64)
        mus_t = torch.tensor(mus)
    else:
        mus, mmask = pad([f.tolist() for f in music], 0.0, 8)
        mus_t = torch.tensor(mus, dtype=torch.float32)
    return ids, tmask, mus, mmask, mus_t


def forward_loss(model, stage, ids, tmask, mus_t, mmask):
    t = model.features("text", torch.tensor(ids), torch.tensor(tmask), True)
    m = model.features(stage, mus_t, torch.tensor(mmask), True)
    return clip_loss(t, m)


def record(tensors, stage, model, ids, tmask, mus, mmask, loss):
    """The batch, the loss and every non-zero parameter gradient under `<stage>/`."""
    tensors[f"{stage}/text_ids"] = np.array(ids, dtype=np.int64)
    tensors[f"{stage}/text_mask"] = np.array(tmask, dtype=np.int64)
    tensors[f"{stage}/music"] = np.array(mus, dtype=np.int64 if stage == "symbolic" else np.float32)
    tensors[f"{stage}/music_mask"] = np.array(mmask, dtype=np.int64)
    tensors[f"{stage}/loss"] = np.array([loss.item()], dtype=np.float32)
    n = 0
    for name, p in model.named_parameters():
        if p.grad is not None and p.grad.abs().sum() > 0:
            tensors[f"{stage}/grad/{name}"] = p.grad.numpy().astype(np.float32)
            n += 1
    return n


def main():
    torch.set_num_threads(2)
    texts, patches, feats = batch_inputs()
    tensors = {}
    for stage, music, frozen in (("symbolic", patches, []), ("audio", feats, ["text_model", "text_proj"])):
        model = Clamp3(MINI)
        fill_synthetic(model)
        model.eval()
        for name in frozen:
            for p in getattr(model, name).parameters():
                p.requires_grad = False
        ids, tmask, mus, mmask, mus_t = padded(stage, texts, music)
        loss = forward_loss(model, stage, ids, tmask, mus_t, mmask)
        loss.backward()
        n = record(tensors, stage, model, ids, tmask, mus, mmask, loss)
        print(stage, "loss", loss.item(), "params with gradients", n)
    out = os.path.join(ROOT, "fixtures", "train")
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "goldens.safetensors"))


if __name__ == "__main__":
    main()
