#!/usr/bin/env python3
"""The official CLaMP 3 model at equal work, for `scripts/bench/e2e.py`: the reference's own
`CLaMP3Model` (imported from its `code/` folder, built and loaded exactly as
`extract_clamp3.py` does), fed the same segments as `extract_clamp3.py --get_global` would
feed it, but each segment at its own length — no padding to the full segment length. This is
the PyTorch engine doing the work `clamp3 embed --batch 1` does.

Usage (in a folder holding the checkpoint under the name config.py gives it):
    reference_engine.py REFERENCE_CODE_DIR INPUT_DIR OUTPUT_DIR

Prints `LOADED` once the model is ready (so that the caller can time the work alone) and
writes one `.npy` per input, as `extract_clamp3.py` does.
"""

import os
import sys
import time

code = os.path.abspath(sys.argv[1])
sys.path.insert(0, code)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, BertConfig  # noqa: E402

from config import *  # noqa: E402,F401,F403
from utils import CLaMP3Model, M3Patchilizer  # noqa: E402


def main():
    input_dir, output_dir = sys.argv[2], sys.argv[3]
    audio_config = BertConfig(vocab_size=1, hidden_size=AUDIO_HIDDEN_SIZE,
                              num_hidden_layers=AUDIO_NUM_LAYERS,
                              num_attention_heads=AUDIO_HIDDEN_SIZE // 64,
                              intermediate_size=AUDIO_HIDDEN_SIZE * 4,
                              max_position_embeddings=MAX_AUDIO_LENGTH)
    symbolic_config = BertConfig(vocab_size=1, hidden_size=M3_HIDDEN_SIZE,
                                 num_hidden_layers=PATCH_NUM_LAYERS,
                                 num_attention_heads=M3_HIDDEN_SIZE // 64,
                                 intermediate_size=M3_HIDDEN_SIZE * 4,
                                 max_position_embeddings=PATCH_LENGTH)
    model = CLaMP3Model(audio_config=audio_config, symbolic_config=symbolic_config,
                        text_model_name=TEXT_MODEL_NAME, hidden_size=CLAMP3_HIDDEN_SIZE,
                        load_m3=CLAMP3_LOAD_M3)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(TEXT_MODEL_NAME)
    patchilizer = M3Patchilizer()
    checkpoint = torch.load(CLAMP3_WEIGHTS_PATH, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint["model"])
    print("LOADED", flush=True)

    files = []
    for root, _, fs in os.walk(input_dir):
        for f in fs:
            if f.endswith((".txt", ".abc", ".mtf", ".npy")):
                files.append(os.path.join(root, f))
    t0 = time.time()
    for filename in sorted(files):
        if filename.endswith(".npy"):
            x = torch.tensor(np.load(filename))
            x = x.reshape(-1, x.size(-1))
            z = torch.zeros((1, x.size(-1)))
            data, m, kind = torch.cat((z, x, z), 0), MAX_AUDIO_LENGTH, "audio"
        else:
            item = open(filename, encoding="utf-8").read()
            if filename.endswith(".txt"):
                item = list(set(item.split("\n")))
                item = [c for c in "\n".join(item).split("\n") if len(c) > 0]
                item = tokenizer.sep_token.join(item)
                data = tokenizer(item, return_tensors="pt")["input_ids"].squeeze(0)
                m, kind = MAX_TEXT_LENGTH, "text"
            else:
                data = torch.tensor(patchilizer.encode(item, add_special_patches=True))
                m, kind = PATCH_LENGTH, "symbolic"
        segs = [data[i:i + m] for i in range(0, len(data), m)]
        segs[-1] = data[-m:]
        outs = []
        with torch.no_grad():
            for seg in segs:
                mask = torch.ones(seg.size(0)).unsqueeze(0)
                x = seg.unsqueeze(0)
                if kind == "text":
                    outs.append(model.get_text_features(text_inputs=x, text_masks=mask, get_global=True))
                elif kind == "symbolic":
                    outs.append(model.get_symbolic_features(symbolic_inputs=x, symbolic_masks=mask, get_global=True))
                else:
                    outs.append(model.get_audio_features(audio_inputs=x, audio_masks=mask, get_global=True))
        full, rem = len(data) // m, len(data) % m
        w = torch.tensor([m] * full + ([rem] if rem else [])).view(-1, 1)
        g = (torch.cat(outs, 0) * w).sum(0) / w.sum()
        rel = os.path.relpath(filename, input_dir)
        out = os.path.join(output_dir, os.path.splitext(rel)[0] + ".npy")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        np.save(out, g.unsqueeze(0).numpy())
    print(f"DONE {len(files)} files in {time.time() - t0:.3f} s", flush=True)


if __name__ == "__main__":
    main()
