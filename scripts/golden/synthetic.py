"""Deterministic synthetic weights, defined so that Rust can regenerate them bit for bit.

The golden fixtures are computed on small randomised CLaMP 3 models. CI never runs PyTorch and
the text encoder of even a tiny model has a 250,002-row embedding table (too big to commit), so
the weights are not random numbers but a pure function of the tensor name and element index:

    seed    = FNV-1a 64 of the tensor name (UTF-8)
    z_k     = splitmix64 output for state seed + (k + 1) * 0x9E3779B97F4A7C15   (k = flat index)
    v_k     = float32((z_k >> 40) / 2**24) * 2 - 1                             (exact, in [-1, 1))
    value_k = 1 + 0.2 * v_k    for names ending in "LayerNorm.weight" / "layer_norm.weight"
              0.5 * v_k        for names ending in "position_embeddings.weight"
              0.1 * v_k        otherwise
    (every operation in float32, in this order)

The Rust twin is `clamp3_model::synthetic::tensor_values`; `tests/` compare both on a sample.
"""

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def fnv1a64(name: str) -> np.uint64:
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def scale_of(name: str):
    if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
        return "ln"
    if name.endswith("position_embeddings.weight"):
        return 0.5
    return 0.1


def tensor_values(name: str, shape) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = fnv1a64(name) + k * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        z = z ^ (z >> np.uint64(31))
    f = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    v = f * np.float32(2.0) - np.float32(1.0)
    s = scale_of(name)
    if s == "ln":
        out = np.float32(1.0) + np.float32(0.2) * v
    else:
        out = np.float32(s) * v
    return out.astype(np.float32).reshape(shape)
