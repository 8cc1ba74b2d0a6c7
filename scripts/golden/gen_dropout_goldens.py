#!/usr/bin/env python3
"""Golden loss and gradients of the contrastive objective in *training* mode (dropout on).

Never run by CI. Same environment as gen_train_goldens.py. PyTorch draws dropout masks from its
own generator, so to compare bit for bit this script replaces every `nn.Dropout` of the
transformers encoders with one that multiplies by the masks the Rust trainer draws
(`clamp3_model::dropout`): for item b of a batch, network site s and element position
(i1, i2[, i3]) the unit is kept iff

    base = mix(mix(seed ^ mix(b)) ^ key(s))
    mix(base ^ (i1 << 20 | i2) [<< 20 | i3]) >> 11  >=  floor(p * 2**53)

with mix = splitmix64's finaliser (after adding 0x9E3779B97F4A7C15), key(embeddings) = 0,
key(attention probabilities of layer n) = 1 + 3n, key(attention output of n) = 2 + 3n,
key(feed-forward output of n) = 3 + 3n; kept units are scaled by float32(1 / (1 - p)).
The per-encoder seed is SEED ^ salt (text 0x74657874, symbolic 0x73796d62, audio 0x61756469).
What this checks is where dropout sits in the network and how it scales, against
transformers' own modules.

Model: MINI with two layers per encoder (synthetic weights, written to
fixtures/train/dropout_config.json) so that per-layer sites are exercised. Output:
fixtures/train/dropout_goldens.safetensors with, per stage (`symbolic`, `audio` with text
frozen): the batch (as in gen_train_goldens.py), `<stage>/loss` and `<stage>/grad/<param>`.
"""

import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_goldens import MINI, Clamp3, fill_synthetic  # noqa: E402
from gen_train_goldens import batch_inputs, forward_loss, padded, record  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 5
SALT = {"text": 0x74657874, "symbolic": 0x73796D62, "audio": 0x61756469}
U = np.uint64


def mix(x):
    with np.errstate(over="ignore"):
        x = x + U(0x9E3779B97F4A7C15)
        x = (x ^ (x >> U(30))) * U(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U(27))) * U(0x94D049BB133111EB)
        return x ^ (x >> U(31))


def mask(shape, seed, site, p):
    b, inner = shape[0], shape[1:]
    pos = np.zeros(inner, dtype=np.uint64)
    for axis, n in enumerate(inner):
        idx = np.arange(n, dtype=np.uint64).reshape([-1 if a == axis else 1 for a in range(len(inner))])
        pos = (pos << U(20)) | idx
    threshold = U(int(p * float(1 << 53)))
    keep = np.float32(1.0 / (1.0 - p))
    out = np.zeros(shape, dtype=np.float32)
    for item in range(b):
        base = mix(mix(U(seed) ^ mix(U(item))) ^ U(site))
        out[item] = np.where((mix(base ^ pos) >> U(11)) >= threshold, keep, np.float32(0.0))
    return torch.from_numpy(out)


class HashDropout(torch.nn.Module):
    def __init__(self, ctx, site, p):
        super().__init__()
        self.ctx, self.site, self.p = ctx, site, p

    def forward(self, x):
        return x * mask(tuple(x.shape), self.ctx["seed"], self.site, self.p)


def patch_dropout(bert, ctx):
    cfg = bert.config
    bert.embeddings.dropout = HashDropout(ctx, 0, cfg.hidden_dropout_prob)
    for n, layer in enumerate(bert.encoder.layer):
        layer.attention.self.dropout = HashDropout(ctx, 1 + 3 * n, cfg.attention_probs_dropout_prob)
        layer.attention.output.dropout = HashDropout(ctx, 2 + 3 * n, cfg.hidden_dropout_prob)
        layer.output.dropout = HashDropout(ctx, 3 + 3 * n, cfg.hidden_dropout_prob)
    # Nothing else may drop: every remaining Dropout module would use torch's generator.
    left = [m for m in bert.modules() if isinstance(m, torch.nn.Dropout)]
    assert not left, left


def main():
    torch.set_num_threads(2)
    cfg = json.loads(json.dumps(MINI))
    for enc in ("text_config", "symbolic_config", "audio_config"):
        cfg[enc]["num_hidden_layers"] = 2
    texts, patches, feats = batch_inputs()
    tensors = {}
    for stage, music, frozen in (("symbolic", patches, []), ("audio", feats, ["text_model", "text_proj"])):
        model = Clamp3(cfg)
        fill_synthetic(model)
        model.train()
        patch_dropout(model.text_model, {"seed": SEED ^ SALT["text"]})
        music_bert = model.symbolic_model.base if stage == "symbolic" else model.audio_model
        patch_dropout(music_bert, {"seed": SEED ^ SALT[stage]})
        for name in frozen:
            for p in getattr(model, name).parameters():
                p.requires_grad = False
        ids, tmask, mus, mmask, mus_t = padded(stage, texts, music)
        loss = forward_loss(model, stage, ids, tmask, mus_t, mmask)
        loss.backward()
        n = record(tensors, stage, model, ids, tmask, mus, mmask, loss)
        print(stage, "train-mode loss", loss.item(), "params with gradients", n)
    out = os.path.join(ROOT, "fixtures", "train")
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "dropout_goldens.safetensors"))
    with open(os.path.join(out, "dropout_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
