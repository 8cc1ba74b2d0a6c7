#!/usr/bin/env python3
"""Golden fixtures for MERT (the audio front end), computed with transformers' HuBERT classes.

Never run by CI. Same environment as gen_model_goldens.py (torch, transformers==4.40.0, numpy,
safetensors), plus fluidsynth + abc2midi (Debian: fluidsynth timgm6mb-soundfont abcmidi) to
render the input audio. Re-runnable; writes:

  fixtures/mert/input_24k.wav          ~6.4 s of an Essen tune rendered at 24 kHz, mono, 16 bit
  fixtures/mert/tiny/config.json       a small MERT configuration (real conv strides/kernels)
  fixtures/mert/tiny/pytorch_model.bin its weights as torch.save of the state dict, in the hub's
                                       key layout with the classic weight_g/weight_v spelling
  fixtures/mert/tiny/model.safetensors the same weights with the parametrizations spelling
  fixtures/mert/goldens.safetensors    the normalised waveform statistics, per window: the time
                                       mean of each hidden state and the CLaMP 3 window feature,
                                       for the tiny model and the official MERT-v1-95M size

The model is `HubertModel` configured as MERT-v1-95M (`MusicHubertModel` in the reference is
HubertModel with a LayerNorm'ed feature projection and an optional CQT branch, off at inference).
Weights are the synthetic ones of synthetic.py (Rust regenerates them), using the classic
spelling `encoder.pos_conv_embed.conv.weight_g` / `weight_v` as the canonical names.
Preprocessing follows preprocessing/audio/{extract_mert,hf_pretrains}.py: Wav2Vec2FeatureExtractor
normalisation of the whole (1, N) track, 5 s windows, the last kept if >= 1 s, time mean of all
hidden states, then the mean over states (--mean_features).
"""

import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file as save_torch
from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synthetic import tensor_values  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures", "mert")

OFFICIAL = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                conv_dim=[512] * 7)
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
            conv_dim=[16] * 7)

CANONICAL = {
    "encoder.pos_conv_embed.conv.parametrizations.weight.original0": "encoder.pos_conv_embed.conv.weight_g",
    "encoder.pos_conv_embed.conv.parametrizations.weight.original1": "encoder.pos_conv_embed.conv.weight_v",
}


def mert(sizes):
    cfg = HubertConfig(
        **sizes, hidden_act="gelu", layer_norm_eps=1e-5, feat_extract_norm="group",
        feat_extract_activation="gelu", conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
        conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
        do_stable_layer_norm=False, feat_proj_layer_norm=True, mask_time_prob=0.05,
        attn_implementation="eager",
    )
    model = HubertModel(cfg).eval()
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t.copy_(torch.from_numpy(tensor_values(CANONICAL.get(name, name), tuple(t.shape))))
    return model, cfg


def render_input(path):
    """An Essen tune (music21 corpus) through abc2midi and fluidsynth at 24 kHz, mixed to mono."""
    abc = open("/tmp/data/music21/corpus/essenFolksong/han1.abc", encoding="latin-1").read()
    tune = "X:" + abc.split("\nX:")[5]
    with tempfile.TemporaryDirectory() as d:
        open(f"{d}/t.abc", "w").write(tune)
        subprocess.run(["abc2midi", f"{d}/t.abc", "-o", f"{d}/t.mid"], check=True, capture_output=True)
        subprocess.run(["fluidsynth", "-ni", "-g", "1.0", "-r", "24000", "-F", f"{d}/t.wav",
                        "/usr/share/sounds/sf2/TimGM6mb.sf2", f"{d}/t.mid"], check=True, capture_output=True)
        with wave.open(f"{d}/t.wav") as w:
            assert w.getframerate() == 24000 and w.getsampwidth() == 2
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    mono = x.astype(np.int32).mean(axis=1).round().astype("<i2")[: int(24000 * 6.4)]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(mono.tobytes())


def load_wav(path):
    with wave.open(path) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return torch.tensor(x.astype(np.float32) / 32768.0)[None]


def features(model, wav):
    """extract_mert.py + hf_pretrains.HuBERTFeature with layer=None, reduction='mean'."""
    proc = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=24000, padding_value=0.0,
                                    return_attention_mask=True, do_normalize=True)
    x = proc(wav, return_tensors="pt", sampling_rate=24000, padding=True).input_values[0]
    windows = [x[:, i:i + 120000] for i in range(0, x.shape[-1], 120000)]
    if windows[-1].shape[-1] < 24000:
        windows = windows[:-1]
    per_state = []
    with torch.no_grad():
        for w in windows:
            out = torch.stack(model(w, output_hidden_states=True).hidden_states)  # [13, 1, T, H]
            per_state.append(out.mean(-2))  # [13, 1, H]
    feats = torch.cat(per_state, dim=1)  # [13, N, H]
    return x, feats, feats.mean(dim=0, keepdim=True)  # [1, N, H]


def main():
    torch.set_num_threads(2)
    os.makedirs(os.path.join(OUT, "tiny"), exist_ok=True)
    wav_path = os.path.join(OUT, "input_24k.wav")
    if not os.path.exists(wav_path):
        render_input(wav_path)
    wav = load_wav(wav_path)
    tensors = {}
    for tag, sizes in (("tiny", TINY), ("official", OFFICIAL)):
        model, cfg = mert(sizes)
        x, per_state, mean = features(model, wav)
        tensors[f"{tag}/state_means"] = per_state.numpy()
        tensors[f"{tag}/features"] = mean.numpy()
        print(tag, "windows", per_state.shape[1], "features", tuple(mean.shape))
        if tag == "tiny":
            tensors["normalized/head"] = x[0, :1000].numpy()
            tensors["normalized/tail"] = x[0, -1000:].numpy()
            sd = {CANONICAL.get(k, k): v.contiguous() for k, v in model.state_dict().items()}
            torch.save(sd, os.path.join(OUT, "tiny", "pytorch_model.bin"))
            save_torch({k: v.contiguous() for k, v in model.state_dict().items()},
                       os.path.join(OUT, "tiny", "model.safetensors"))
            cfg.to_json_file(os.path.join(OUT, "tiny", "config.json"))
    save_np(tensors, os.path.join(OUT, "goldens.safetensors"))


if __name__ == "__main__":
    main()
