#!/usr/bin/env python3
"""Golden fixtures for the CLaMP 3 encoders, computed with the reference stack.

Never run by CI (it needs PyTorch). Re-run it whenever the fixtures' inputs or the synthetic
weights change, then commit the small outputs under fixtures/.

Oracle versions (the reference pins, docs/reference.md §0): transformers==4.40.0, unidecode==1.3.6,
numpy==1.26.4, plus torch and tokenizers.

    python3 -m venv venv && venv/bin/pip install torch numpy==1.26.4 transformers==4.40.0 \
        unidecode==1.3.6 safetensors
    bash scripts/fetch-test-data.sh          # tokenizer.json and MiniLM into testdata/
    venv/bin/python scripts/golden/gen_model_goldens.py

What it writes:
  fixtures/model/tiny/config.json            config of the tiny model (release segment lengths)
  fixtures/model/tiny/goldens.safetensors    per input: preprocessed ids/patches, per-segment
                                             global vectors, the global vector, and for some
                                             inputs the sequence-mode states
  fixtures/model/tiny/manifest.json          inputs, modalities, segment weights, versions
  fixtures/model/mini/model.pth              a release-layout torch checkpoint (model, optimizer,
                                             lr_sched, epoch, ...) of an even smaller model
  fixtures/model/mini/config.json, goldens.safetensors
  fixtures/tokenizer/xlmr_ids.json           XLM-R token ids of multilingual strings
  fixtures/minilm/goldens.safetensors        all-MiniLM-L6-v2 (real weights) ids and outputs
  testdata/tiny-model/model.pth              the tiny model as a release-layout .pth (local use)

With --official it also builds the official-size model (docs/reference.md §2, 457,896,960
parameters) with the synthetic weights, saves it as testdata/official-random/model.pth (release
layout, ~1.8 GB, local use: benchmarks and the load check) and writes
  fixtures/model/official/goldens.safetensors   global vectors of one input per kind

The computation follows the reference `code/extract_clamp3.py` and `code/utils.py`
(sanderwood/clamp3 @ 9016d2b) step by step, with the project's one deliberate change: text
lines are de-duplicated in first-occurrence order (docs/reference.md §5.1).
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel
from unidecode import unidecode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synthetic import tensor_values  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INPUTS = os.path.join(ROOT, "fixtures", "model", "inputs")


# ----------------------------------------------------------------------------------------------
# Reference preprocessing (code/utils.py M3Patchilizer.encode, extract_clamp3.py)

DELIMS = ["|:", "::", ":|", "[|", "||", "|]", "|"]
BAR_RE = "(" + "|".join(map(re.escape, DELIMS)) + ")"


def split_bars(body):
    bars = [b for b in re.split(BAR_RE, body) if b]
    if bars[0] in DELIMS:
        bars[1] = bars[0] + bars[1]
        bars = bars[1:]
    return [bars[i * 2] + bars[i * 2 + 1] for i in range(len(bars) // 2)]


def bar2patch(bar, patch_size=64):
    patch = [1] + [ord(c) for c in bar] + [2]
    patch = patch[:patch_size]
    return patch + [0] * (patch_size - len(patch))


def patchilize(item, patch_size=64):
    item = item.replace("L:1/8\n", "")
    item = unidecode(item)
    lines = [l for l in re.findall(r".*?\n|.*$", item) if l]
    patches = []
    if lines[0].split(" ")[0] == "ticks_per_beat":
        patch = ""
        for line in lines:
            if patch.startswith(line.split(" ")[0]) and (
                len(patch) + len(" ".join(line.split(" ")[1:])) <= patch_size - 2
            ):
                patch = patch[:-1] + "\t" + " ".join(line.split(" ")[1:])
            else:
                if patch:
                    patches.append(patch)
                patch = line
        if patch != "":
            patches.append(patch)
    else:
        for line in lines:
            if len(line) > 1 and ((line[0].isalpha() and line[1] == ":") or line.startswith("%%")):
                patches.append(line)
            else:
                bars = split_bars(line)
                if bars:
                    bars[-1] += "\n"
                    patches.extend(bars)
    patches = [chr(1) * patch_size] + patches + [chr(2) * patch_size]
    return [bar2patch(p, patch_size) for p in patches]


def text_item(raw):
    """Reference text preparation with first-occurrence de-duplication (docs/reference.md §5.1)."""
    lines = list(dict.fromkeys(raw.split("\n")))
    lines = [c for c in lines if len(c) > 0]
    return "</s>".join(lines)


# ----------------------------------------------------------------------------------------------
# Reference model (code/utils.py CLaMP3Model / M3PatchEncoder), built with transformers classes


class M3PatchEncoder(torch.nn.Module):
    def __init__(self, config, patch_size):
        super().__init__()
        self.patch_size = patch_size
        self.patch_embedding = torch.nn.Linear(patch_size * 128, config.hidden_size)
        self.base = BertModel(config=config)

    def forward(self, input_patches, input_masks):
        x = torch.nn.functional.one_hot(input_patches, num_classes=128)
        x = x.reshape(len(x), -1, self.patch_size * 128).type(torch.FloatTensor)
        x = self.patch_embedding(x)
        return self.base(inputs_embeds=x, attention_mask=input_masks)


class Clamp3(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        t, s, a = cfg["text_config"], cfg["symbolic_config"], cfg["audio_config"]
        self.text_model = XLMRobertaModel(
            XLMRobertaConfig(
                vocab_size=t["vocab_size"], hidden_size=t["hidden_size"],
                num_hidden_layers=t["num_hidden_layers"], num_attention_heads=t["num_attention_heads"],
                intermediate_size=t["intermediate_size"], max_position_embeddings=t["max_position_embeddings"],
                type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                attn_implementation="eager",
            )
        )
        self.text_proj = torch.nn.Linear(t["hidden_size"], cfg["projection_dim"])
        self.symbolic_model = M3PatchEncoder(bert_config(s, cfg["patch_length"]), cfg["patch_size"])
        self.symbolic_proj = torch.nn.Linear(s["hidden_size"], cfg["projection_dim"])
        self.audio_model = BertModel(bert_config(a, cfg["max_audio_length"]))
        self.audio_proj = torch.nn.Linear(a["hidden_size"], cfg["projection_dim"])

    @staticmethod
    def avg_pooling(features, masks):
        masks = masks.unsqueeze(-1)
        return (features * masks).sum(dim=1) / masks.sum(dim=1)

    def features(self, modality, inputs, masks, get_global):
        if modality == "text":
            h = self.text_model(inputs, attention_mask=masks)["last_hidden_state"]
            proj = self.text_proj
        elif modality == "symbolic":
            h = self.symbolic_model(inputs, masks)["last_hidden_state"]
            proj = self.symbolic_proj
        else:
            h = self.audio_model(inputs_embeds=inputs, attention_mask=masks)["last_hidden_state"]
            proj = self.audio_proj
        if get_global:
            return proj(self.avg_pooling(h, masks))
        return h


def bert_config(c, positions):
    return BertConfig(
        vocab_size=1, hidden_size=c["hidden_size"], num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"], intermediate_size=c["intermediate_size"],
        max_position_embeddings=positions, attn_implementation="eager",
    )


def fill_synthetic(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t.copy_(torch.from_numpy(tensor_values(name, tuple(t.shape))))


def extract(model, cfg, modality, data):
    """`extract_feature` of the reference: segments, padding, weights (both modes)."""
    M = {"text": cfg["max_text_length"], "symbolic": cfg["patch_length"], "audio": cfg["max_audio_length"]}[modality]
    segs = [data[i:i + M] for i in range(0, len(data), M)]
    segs[-1] = data[-M:]
    seg_globals, seg_states = [], []
    for seg in segs:
        mask = torch.tensor([1] * seg.size(0))
        if modality == "text":
            pad = torch.ones(M - seg.size(0)).long() * 1
        elif modality == "symbolic":
            pad = torch.ones((M - seg.size(0), cfg["patch_size"])).long() * 0
        else:
            pad = torch.ones((M - seg.size(0), data.size(-1))).float() * 0.0
        mask = torch.cat((mask, torch.zeros(M - seg.size(0))), 0)
        seg = torch.cat((seg, pad), 0)
        with torch.no_grad():
            g = model.features(modality, seg.unsqueeze(0), mask.unsqueeze(0), True)
            h = model.features(modality, seg.unsqueeze(0), mask.unsqueeze(0), False)
        seg_globals.append(g)
        seg_states.append(h[:, : int(mask.sum().long().item()), :])
    states = [s[0] for s in seg_states]
    states[-1] = states[-1][-(len(data) % M):]
    sequence = torch.concat(states, 0)
    full, remain = len(data) // M, len(data) % M
    w = [M] * full + ([remain] if remain else [])
    w = torch.tensor(w).view(-1, 1)
    g = torch.concat(seg_globals, 0)
    glob = (g * w).sum(dim=0) / w.sum()
    return torch.concat(seg_globals, 0).numpy(), glob.numpy(), sequence.numpy(), [int(x) for x in w.view(-1)]


def load_input(path, tokenizer, cfg):
    ext = os.path.splitext(path)[1]
    if ext == ".txt":
        with open(path, "r", encoding="utf-8") as f:  # universal newlines, as the reference
            item = text_item(f.read())
        ids = tokenizer(item, return_tensors="pt")["input_ids"].squeeze(0)
        return "text", ids, ids.numpy().astype(np.int64)
    if ext in (".abc", ".mtf"):
        with open(path, "r", encoding="utf-8") as f:  # universal newlines, as the reference
            item = f.read()
        patches = torch.tensor(patchilize(item, cfg["patch_size"]))
        return "symbolic", patches, patches.numpy().astype(np.uint8)
    arr = np.load(path)
    x = torch.tensor(arr).reshape(-1, arr.shape[-1])
    z = torch.zeros((1, x.size(-1)))
    x = torch.cat((z, x, z), 0)
    return "audio", x, None


def release_checkpoint(model, text_only_optimizer=True):
    """The dict the reference training scripts save (docs/reference.md §3.7)."""
    params = list(model.text_model.parameters()) + list(model.text_proj.parameters())
    opt = torch.optim.AdamW(params if text_only_optimizer else model.parameters(), lr=0.0)
    # One step at lr 0 fills the optimizer state (exp_avg, exp_avg_sq, step tensors) as in the
    # release files, without changing the synthetic weights.
    ids = torch.tensor([[0, 5, 6, 2]])
    model.text_proj(model.text_model(ids)["last_hidden_state"]).sum().backward()
    opt.step()
    opt.zero_grad()
    for g in opt.param_groups:
        g["lr"] = 1e-5
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "lr_sched": sched.state_dict(),
        "epoch": 10,
        "best_epoch": 10,
        "min_eval_loss": 0.4150416124612093,
        "modality": "audio",
    }


def make_goldens(cfg, model, inputs, tokenizer, sequences_for, out_dir):
    tensors, manifest = {}, {"inputs": []}
    for name in inputs:
        path = os.path.join(INPUTS, name)
        modality, data, pre = load_input(path, tokenizer, cfg)
        seg_g, glob, seq, weights = extract(model, cfg, modality, data)
        key = name
        if pre is not None:
            tensors[f"{key}/input"] = pre
        tensors[f"{key}/segments"] = seg_g.astype(np.float32)
        tensors[f"{key}/global"] = glob.astype(np.float32)
        if name in sequences_for:
            tensors[f"{key}/sequence"] = seq.astype(np.float32)
        manifest["inputs"].append(
            {"file": name, "modality": modality, "length": int(len(data)), "segment_weights": weights,
             "has_sequence": name in sequences_for}
        )
        print(f"  {name}: {modality}, length {len(data)}, segments {len(weights)}")
    manifest["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "numpy": np.__version__}
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "goldens.safetensors"))
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


TINY = {
    "text_config": {"vocab_size": 250002, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "intermediate_size": 48, "max_position_embeddings": 514},
    "symbolic_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "intermediate_size": 48, "max_position_embeddings": 512},
    "audio_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "intermediate_size": 48, "max_position_embeddings": 128},
    "projection_dim": 24, "patch_size": 64, "max_text_length": 128, "patch_length": 512, "max_audio_length": 128,
}

# Small enough to commit as a .pth, with segment lengths shortened to exercise segmenting.
MINI = {
    "text_config": {"vocab_size": 1000, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                    "intermediate_size": 16, "max_position_embeddings": 34},
    "symbolic_config": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "intermediate_size": 16, "max_position_embeddings": 32},
    "audio_config": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "intermediate_size": 16, "max_position_embeddings": 16},
    "projection_dim": 8, "patch_size": 64, "max_text_length": 32, "patch_length": 32, "max_audio_length": 16,
}

TOKENIZER_STRINGS = [
    "Hello world",
    "Das Hildebrandslied",
    "人民公社实在好",
    "Une berceuse douce pour piano seul, en ré mineur.",
    "Народная песня с балалайкой и хором.",
    "ゆったりとした日本の子守唄、三味線の伴奏付き。",
    "피아노와 바이올린을 위한 잔잔한 발라드.",
    "أغنية شعبية عربية بإيقاع سريع على العود.",
    "एक शांत भारतीय राग, सितार पर बजाया गया।",
    "Ένα παραδοσιακό ελληνικό τραγούδι με μπουζούκι.",
    "เพลงพื้นบ้านไทยที่มีจังหวะสนุกสนาน",
    "Домбырамен орындалатын қазақ халық әні.",
    "🎻🎶 jazz trio, walking bass & brushes 🥁",
    "  leading and   inner   spaces  ",
    "line one</s>line two</s>line three",
    "Ta4i ya2ng chu1 la2i",
    "A Bhruinnillin Bhéasach",
    "Kaisari nokkur maetur mann",
    "tabs\tand\r\nnewlines\n",
    "ﬁ ligature, Ⅻ numeral, ｆｕｌｌｗｉｄｔｈ, é (e+combining)",
    "",
]

MINILM_SENTENCES = [
    "A lively Irish reel in D major.",
    "The quick brown fox jumps over the lazy dog.",
    "Music information retrieval with contrastive learning",
    "slow sad piano ballad",
]


OFFICIAL = {
    "text_config": {"vocab_size": 250002, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                    "intermediate_size": 3072, "max_position_embeddings": 514},
    "symbolic_config": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                        "intermediate_size": 3072, "max_position_embeddings": 512},
    "audio_config": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                     "intermediate_size": 3072, "max_position_embeddings": 128},
    "projection_dim": 768, "patch_size": 64, "max_text_length": 128, "patch_length": 512, "max_audio_length": 128,
}

OFFICIAL_INPUTS = ["en_reel.txt", "multilingual.txt", "bach_bwv66_6.abc", "essen_han1_tune3.mtf",
                   "features_official.npy"]


def official(args, tokenizer):
    print("official-size model (synthetic weights)")
    model = Clamp3(OFFICIAL).eval()
    fill_synthetic(model)
    n = sum(p.numel() for p in model.parameters())
    assert n == 457_896_960, n
    tensors = {}
    for name in OFFICIAL_INPUTS:
        modality, data, _ = load_input(os.path.join(INPUTS, name), tokenizer, OFFICIAL)
        seg_g, glob, _, weights = extract(model, OFFICIAL, modality, data)
        tensors[f"{name}/global"] = glob.astype(np.float32)
        tensors[f"{name}/segments"] = seg_g.astype(np.float32)
        print(f"  {name}: {modality}, length {len(data)}, weights {weights}")
    out = os.path.join(ROOT, "fixtures", "model", "official")
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "goldens.safetensors"))
    d = os.path.join(args.testdata, "official-random")
    os.makedirs(d, exist_ok=True)
    torch.save({"model": model.state_dict(), "epoch": 0, "best_epoch": 0, "min_eval_loss": 0.0,
                "modality": "synthetic"}, os.path.join(d, "model.pth"))
    print(f"  wrote {d}/model.pth")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default=os.path.join(ROOT, "testdata"))
    ap.add_argument("--official", action="store_true", help="also build the official-size model")
    ap.add_argument("--official-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok_path = os.path.join(args.testdata, "xlm-roberta", "tokenizer.json")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=tok_path, bos_token="<s>", eos_token="</s>",
                                        sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                        pad_token="<pad>", mask_token="<mask>")

    if args.official or args.official_only:
        official(args, tokenizer)
        if args.official_only:
            return

    print("tokenizer ids")
    os.makedirs(os.path.join(ROOT, "fixtures", "tokenizer"), exist_ok=True)
    with open(os.path.join(ROOT, "fixtures", "tokenizer", "xlmr_ids.json"), "w", encoding="utf-8") as f:
        json.dump([{"text": s, "ids": tokenizer(s)["input_ids"]} for s in TOKENIZER_STRINGS], f,
                  ensure_ascii=False, indent=1)

    print("tiny model")
    model = Clamp3(TINY).eval()
    fill_synthetic(model)
    inputs = sorted(os.listdir(INPUTS))
    inputs = [i for i in inputs if os.path.splitext(i)[1] in (".txt", ".abc", ".mtf", ".npy")
              and i != "features_official.npy"]
    make_goldens(TINY, model, inputs, tokenizer,
                 {"essen_titles_long.txt", "multilingual.txt", "bach_bwv66_6.abc",
                  "beethoven_op18no1_mvmt1.abc", "features_long.npy", "essen_han1_tune3.mtf"},
                 os.path.join(ROOT, "fixtures", "model", "tiny"))
    os.makedirs(os.path.join(args.testdata, "tiny-model"), exist_ok=True)
    torch.save(release_checkpoint(model), os.path.join(args.testdata, "tiny-model", "model.pth"))
    with open(os.path.join(args.testdata, "tiny-model", "config.json"), "w") as f:
        json.dump(TINY, f, indent=1)

    print("mini model (committed .pth)")
    mini = Clamp3(MINI).eval()
    fill_synthetic(mini)
    mini_dir = os.path.join(ROOT, "fixtures", "model", "mini")
    os.makedirs(mini_dir, exist_ok=True)
    # One optimizer step so that the optimizer state holds tensors, as in the release files.
    ck = release_checkpoint(mini)
    torch.save(ck, os.path.join(mini_dir, "model.pth"))
    rng = np.random.default_rng(7)
    tensors = {}
    mini_inputs = {
        # text ids within the mini vocabulary: <s> ... </s>, 70 tokens (3 segments of 32)
        "text_ids": np.concatenate([[0], rng.integers(4, 1000, 68), [2]]).astype(np.int64),
        "audio": rng.standard_normal((1, 40, 8)).astype(np.float32),
    }
    with open(os.path.join(INPUTS, "bach_bwv66_6.abc"), encoding="utf-8") as f:
        mini_inputs["patches"] = np.array(patchilize(f.read()), dtype=np.int64)
    for key, arr in mini_inputs.items():
        if key == "text_ids":
            modality, data = "text", torch.tensor(arr)
        elif key == "patches":
            modality, data = "symbolic", torch.tensor(arr)
        else:
            x = torch.tensor(arr).reshape(-1, 8)
            z = torch.zeros((1, 8))
            modality, data = "audio", torch.cat((z, x, z), 0)
        seg_g, glob, seq, weights = extract(mini, MINI, modality, data)
        tensors[f"{key}/input"] = arr
        tensors[f"{key}/segments"] = seg_g
        tensors[f"{key}/global"] = glob
        tensors[f"{key}/sequence"] = seq
        print(f"  {key}: length {len(data)}, weights {weights}")
    save_file(tensors, os.path.join(mini_dir, "goldens.safetensors"))
    with open(os.path.join(mini_dir, "config.json"), "w") as f:
        json.dump(MINI, f, indent=1)

    print("MiniLM (real weights)")
    mdir = os.path.join(args.testdata, "minilm")
    mtok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(mdir, "tokenizer.json"))
    bert = BertModel.from_pretrained(mdir, attn_implementation="eager").eval()
    enc = mtok(MINILM_SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                 token_type_ids=torch.zeros_like(enc["input_ids"]))["last_hidden_state"]
    m = enc["attention_mask"].unsqueeze(-1).float()
    pooled = (h * m).sum(1) / m.sum(1)
    mtensors = {"input_ids": enc["input_ids"].numpy().astype(np.int64),
                "attention_mask": enc["attention_mask"].numpy().astype(np.int64),
                "last_hidden_state": h.numpy(), "mean_pooled": pooled.numpy()}
    os.makedirs(os.path.join(ROOT, "fixtures", "minilm"), exist_ok=True)
    save_file(mtensors, os.path.join(ROOT, "fixtures", "minilm", "goldens.safetensors"))
    with open(os.path.join(ROOT, "fixtures", "minilm", "sentences.json"), "w") as f:
        json.dump(MINILM_SENTENCES, f, indent=1)
    print("done")


if __name__ == "__main__":
    main()
