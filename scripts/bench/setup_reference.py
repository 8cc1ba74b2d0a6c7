#!/usr/bin/env python3
"""Prepares what the official CLaMP 3 scripts need to run offline with random official-size
weights, for `scripts/bench/e2e.py`:

- a Hugging Face cache holding `FacebookAI/xlm-roberta-base` (its real configuration, random
  weights, and the XLM-R tokenizer from `tokenizer.json`): `extract_clamp3.py` builds its text
  encoder with `AutoModel.from_pretrained` and `AutoTokenizer.from_pretrained` before loading
  the CLaMP 3 checkpoint over it;
- a MERT-v1-95M folder (`config.json`, `preprocessor_config.json`, random weights saved by the
  reference's own `MusicHubertModel`), read by `extract_mert.py --model_path` and by
  `clamp3 --mert` alike.

Usage (with the Python that runs the official scripts):
    setup_reference.py --reference REF --tokenizer tokenizer.json --hf HF_HOME --mert DIR
"""

import argparse
import json
import os
import sys

import torch

SNAPSHOT = "0" * 40

# The published configuration of FacebookAI/xlm-roberta-base.
XLMR_CONFIG = {
    "architectures": ["XLMRobertaForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514,
    "model_type": "xlm-roberta",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "output_past": True,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": 250002,
}

# MERT-v1-95M's feature extractor settings.
MERT_PREPROCESSOR = {
    "do_normalize": True,
    "feature_extractor_type": "Wav2Vec2FeatureExtractor",
    "feature_size": 1,
    "padding_side": "right",
    "padding_value": 0,
    "return_attention_mask": True,
    "sampling_rate": 24000,
}


def hf_cache(hf_home, tokenizer_json):
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    repo = os.path.join(hf_home, "hub", "models--FacebookAI--xlm-roberta-base")
    snap = os.path.join(repo, "snapshots", SNAPSHOT)
    if os.path.exists(os.path.join(snap, "model.safetensors")):
        return
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(SNAPSHOT)
    os.makedirs(snap, exist_ok=True)
    torch.manual_seed(0)
    model = XLMRobertaModel(XLMRobertaConfig(**XLMR_CONFIG))
    model.save_pretrained(snap)
    with open(os.path.join(snap, "config.json"), "w") as f:
        json.dump(XLMR_CONFIG, f, indent=2)
    tok = XLMRobertaTokenizerFast(tokenizer_file=tokenizer_json)
    tok.save_pretrained(snap)
    print(f"wrote {snap}")


def mert_folder(reference, out):
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    sys.path.insert(0, os.path.join(reference, "preprocessing", "audio"))
    from configuration_musichubert import MusicHubertConfig
    from MusicHubert import MusicHubertModel

    torch.manual_seed(0)
    model = MusicHubertModel(MusicHubertConfig()).eval()
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(MERT_PREPROCESSOR, f, indent=2)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--hf", required=True)
    ap.add_argument("--mert", required=True)
    a = ap.parse_args()
    hf_cache(a.hf, a.tokenizer)
    mert_folder(a.reference, a.mert)


if __name__ == "__main__":
    main()
