#!/usr/bin/env python3
"""PyTorch side of `cargo bench -p clamp3 --bench audio`: one recording through the reference
audio path — torchaudio-style load (soundfile, float32), channel mean, torchaudio Resample to
24 kHz, Wav2Vec2FeatureExtractor normalisation, 5 s windows through HubertModel in the
MERT-v1-95M configuration (official size, random weights), time and layer means, then the
CLaMP 3 audio encoder (BERT over the features, 128-vector segments) — timed end to end.

Usage: audio_torch.py FILE.wav  -> prints one JSON object {seconds, audio_seconds, peak_rss_mb}
"""

import json
import os
import resource
import sys
import time

import numpy as np
import soundfile
import torch

torch.version.cuda = "13.0"  # torchaudio 2.11 wheel next to torch 2.15: only its CPU resampler is used
import torchaudio  # noqa: E402
from transformers import BertConfig, BertModel, HubertConfig, HubertModel, Wav2Vec2FeatureExtractor  # noqa: E402


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    path = sys.argv[1]
    mert = HubertModel(HubertConfig(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
        conv_bias=False, feat_extract_norm="group", feat_proj_layer_norm=True, do_stable_layer_norm=False,
        num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, layer_norm_eps=1e-5,
        attn_implementation="eager")).eval()
    bert = BertModel(BertConfig(vocab_size=1, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                intermediate_size=3072, max_position_embeddings=128,
                                attn_implementation="eager")).eval()
    proj = torch.nn.Linear(768, 768)
    proc = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0,
                                    return_attention_mask=True, do_normalize=True)
    t0 = time.time()
    data, sr = soundfile.read(path, dtype="float32", always_2d=True)
    wav = torch.tensor(data.T)
    audio_seconds = wav.shape[1] / sr
    if wav.shape[0] > 1:
        wav = wav.mean(dim=0, keepdim=True)
    if sr != 24000:
        wav = torchaudio.transforms.Resample(sr, 24000)(wav)
    x = proc(wav, return_tensors="pt", sampling_rate=24000, padding=True).input_values[0]
    windows = [x[:, i:i + 120000] for i in range(0, x.shape[-1], 120000)]
    if windows[-1].shape[-1] < 24000:
        windows = windows[:-1]
    feats = []
    with torch.no_grad():
        for w in windows:
            out = torch.stack(mert(w, output_hidden_states=True).hidden_states)
            feats.append(out.mean(-2))
        f = torch.cat(feats, dim=1).mean(dim=0)  # [N, 768]
        z = torch.zeros((1, 768))
        f = torch.cat((z, f, z), 0)
        segs = [f[i:i + 128] for i in range(0, len(f), 128)]
        segs[-1] = f[-128:]
        for s in segs:
            pad = 128 - s.shape[0]
            mask = torch.cat((torch.ones(s.shape[0]), torch.zeros(pad)))[None]
            s = torch.cat((s, torch.zeros((pad, 768))))[None]
            h = bert(inputs_embeds=s, attention_mask=mask)["last_hidden_state"]
            proj((h * mask[..., None]).sum(1) / mask.sum(1))
    dt = time.time() - t0
    print(json.dumps({"seconds": dt, "audio_seconds": audio_seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
