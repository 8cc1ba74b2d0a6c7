#!/usr/bin/env python3
"""PyTorch side of `cargo bench -p clamp3-blip --bench caption`: captioning as the reference's
inference/image_captioning.py does it (PIL open + convert("RGB"), BlipProcessor, default
`generate`, decode), on BlipForConditionalGeneration at the size of
Salesforce/blip-image-captioning-base with the synthetic weights of gen_blip_goldens.py (so both
sides generate the same 19 tokens: equal work, checked by the caller through the ids).

Runs as a server so that the caller can interleave paired runs: prints `ready` once the model is
built, then answers each line `caption PATH` or `vision PATH` with one JSON object
{"seconds": ..., "ids": [...]} (vision: the ViT forward alone). Threads: BENCH_THREADS (default 2).
"""

import json
import os
import sys
import time

import torch
from PIL import Image
from transformers import BlipImageProcessor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from gen_blip_goldens import OFFICIAL_TEXT, OFFICIAL_VISION, blip_values, build_model  # noqa: E402


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    model = build_model(OFFICIAL_VISION, OFFICIAL_TEXT, blip_values)
    processor = BlipImageProcessor()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, path = line.strip().split(" ", 1)
        t = time.perf_counter()
        with torch.no_grad():
            pv = processor(Image.open(path).convert("RGB"), return_tensors="pt").pixel_values
            if cmd == "caption":
                ids = model.generate(pixel_values=pv)[0].tolist()
            else:
                model.vision_model(pixel_values=pv)
                ids = []
        print(json.dumps({"seconds": time.perf_counter() - t, "ids": ids}), flush=True)


if __name__ == "__main__":
    main()
