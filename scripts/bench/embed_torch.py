#!/usr/bin/env python3
"""PyTorch side of `cargo bench -p clamp3 --bench embed`: the same inputs through the reference
computation (transformers 4.40 BERT/XLM-R at the official size, the reference's segment loop:
batch 1, every segment padded to the full segment length), timed per modality.

Usage (normally run by the Rust bench): embed_torch.py ITEMS.json -> prints one JSON object.
ITEMS.json: [{"modality": "text"|"symbolic"|"audio", "data": ids | patches | npy path}, ...]
"""

import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from gen_model_goldens import OFFICIAL, Clamp3  # noqa: E402


def segments_of(data, m):
    segs = [data[i:i + m] for i in range(0, len(data), m)]
    segs[-1] = data[-m:]
    return segs


def run(model, modality, data, pad_full):
    cfg = OFFICIAL
    m = {"text": cfg["max_text_length"], "symbolic": cfg["patch_length"], "audio": cfg["max_audio_length"]}[modality]
    outs, weights = [], []
    for seg in segments_of(data, m):
        n = seg.size(0)
        target = m if pad_full else n
        mask = torch.cat((torch.ones(n), torch.zeros(target - n)), 0)
        if modality == "text":
            pad = torch.ones(target - n).long()
        elif modality == "symbolic":
            pad = torch.zeros((target - n, 64)).long()
        else:
            pad = torch.zeros((target - n, 768))
        seg = torch.cat((seg, pad), 0)
        with torch.no_grad():
            outs.append(model.features(modality, seg.unsqueeze(0), mask.unsqueeze(0), True))
    return outs


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    items = json.load(open(sys.argv[1]))
    t0 = time.time()
    model = Clamp3(OFFICIAL).eval()
    load_s = time.time() - t0
    tensors = []
    for it in items:
        if it["modality"] == "audio":
            a = np.load(it["data"])
            x = torch.tensor(a).reshape(-1, a.shape[-1])
            z = torch.zeros((1, x.size(-1)))
            tensors.append(("audio", torch.cat((z, x, z), 0)))
        else:
            tensors.append((it["modality"], torch.tensor(it["data"])))
    result = {"load_s": load_s, "modalities": {}}
    for mode, pad_full in (("reference", True), ("dynamic", False)):
        for modality in ("text", "symbolic", "audio"):
            batch = [d for m, d in tensors if m == modality]
            if not batch:
                continue
            run(model, modality, batch[0], pad_full)  # warm-up
            t = time.time()
            for d in batch:
                run(model, modality, d, pad_full)
            dt = time.time() - t
            result["modalities"].setdefault(modality, {})[mode] = {"items": len(batch), "seconds": dt}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
