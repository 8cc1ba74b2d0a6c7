#!/usr/bin/env python3
"""Write the M3 patchilizer goldens fixtures/patches/<input>.json for every input text in
fixtures/patches/ (*.abc, *.mtf; built by make_patch_inputs.py).

The oracle below is our own implementation of the reference
`M3Patchilizer.encode(item, add_special_patches=True)` (sanderwood/clamp3 code/utils.py,
docs/reference.md §5.4) with the reference's pinned Unidecode 1.3.6. It keeps the reference's exact
Python operations where they define the behaviour: `str.replace`, `unidecode`, `re.findall`
line split, `str.split(" ")`, `re.split` with a capturing group, `str.isalpha`, slicing.

Golden format (one JSON object per input):
    {"input": "<file name>", "patch_size": 64, "kind": "abc" | "mtf",
     "patches": [[ids...], ...]}      # each patch with its trailing 0 (pad) ids removed
or, where the reference raises:
    {"input": "<file name>", "patch_size": 64,
     "error": "empty" | "lone_barline", "line_number": N}   # line_number: lone_barline only

Usage: /work/venv-oracle/bin/python scripts/golden/gen_patch_goldens.py [--check-reference FILE]
  --check-reference: a Python file defining the reference class M3Patchilizer; every
  golden is then also compared with its `encode(text, add_special_patches=True)` output.
"""

import argparse
import glob
import importlib.util
import json
import os
import re
import warnings

from unidecode import unidecode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = os.path.join(ROOT, "fixtures/patches")
PATCH_SIZE = 64
BARLINES = ["|:", "::", ":|", "[|", "||", "|]", "|"]
BARLINE_RE = "(" + "|".join(re.escape(b) for b in BARLINES) + ")"


class LoneBarline(Exception):
    pass


def bars_of(line):
    """Bars of one body line; raises LoneBarline where the reference hits IndexError."""
    parts = [p for p in re.split(BARLINE_RE, line) if p]
    if parts[0] in BARLINES:
        if len(parts) < 2:
            raise LoneBarline()
        parts = [parts[0] + parts[1]] + parts[2:]
    return [parts[2 * i] + parts[2 * i + 1] for i in range(len(parts) // 2)]


def patch_strings(text, patch_size=PATCH_SIZE):
    """Returns (kind, patch strings). Raises IndexError (empty) or LoneBarline."""
    text = unidecode(text.replace("L:1/8\n", ""))
    lines = [l for l in re.findall(r".*?\n|.*$", text) if l]
    if not lines:
        raise IndexError("empty")
    out = []
    if lines[0].split(" ")[0] == "ticks_per_beat":
        current = ""
        for line in lines:
            kind = line.split(" ")[0]
            rest = " ".join(line.split(" ")[1:])
            if current.startswith(kind) and len(current) + len(rest) <= patch_size - 2:
                current = current[:-1] + "\t" + rest
            else:
                if current:
                    out.append(current)
                current = line
        if current != "":
            out.append(current)
        return "mtf", out
    for number, line in enumerate(lines, start=1):
        header = len(line) > 1 and ((line[0].isalpha() and line[1] == ":")
                                    or line.startswith("%%"))
        if header:
            out.append(line)
            continue
        try:
            bars = bars_of(line)
        except LoneBarline:
            raise LoneBarline(number)
        if bars:
            bars[-1] += "\n"
            out.extend(bars)
    return "abc", out


def to_ids(s, patch_size=PATCH_SIZE):
    ids = ([1] + [ord(c) for c in s] + [2])[:patch_size]
    return ids + [0] * (patch_size - len(ids))


def encode(text, patch_size=PATCH_SIZE):
    kind, strings = patch_strings(text, patch_size)
    strings = [chr(1) * patch_size] + strings + [chr(2) * patch_size]
    return kind, [to_ids(s, patch_size) for s in strings]


def strip_pads(ids):
    end = len(ids)
    while end and ids[end - 1] == 0:
        end -= 1
    return ids[:end]


def golden(name, text):
    g = {"input": name, "patch_size": PATCH_SIZE}
    try:
        kind, patches = encode(text)
    except IndexError:
        g["error"] = "empty"
        return g, None
    except LoneBarline as e:
        g["error"] = "lone_barline"
        g["line_number"] = e.args[0]
        return g, None
    g["kind"] = kind
    g["patches"] = [strip_pads(p) for p in patches]
    return g, patches


def dump(g):
    """JSON with one patch per line (readable diffs, compact)."""
    head = {k: v for k, v in g.items() if k != "patches"}
    s = json.dumps(head)
    if "patches" not in g:
        return s + "\n"
    rows = ",\n".join(json.dumps(p, separators=(",", ":")) for p in g["patches"])
    return s[:-1] + ', "patches": [\n' + rows + "\n]}\n"


def load_reference(path):
    spec = importlib.util.spec_from_file_location("reference_m3", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.M3Patchilizer()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-reference", help="file defining the reference M3Patchilizer")
    args = ap.parse_args()
    ref = load_reference(args.check_reference) if args.check_reference else None
    inputs = sorted(glob.glob(os.path.join(DIR, "*.abc")) + glob.glob(os.path.join(DIR, "*.mtf")))
    agree = 0
    for path in inputs:
        name = os.path.basename(path)
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g, patches = golden(name, text)
            if ref is not None:
                try:
                    want = ref.encode(text, add_special_patches=True)
                    ok = patches == want
                except IndexError:
                    ok = patches is None
                if not ok:
                    raise SystemExit(f"{name}: oracle disagrees with the reference class")
                agree += 1
        with open(path + ".json", "w", encoding="utf-8", newline="\n") as f:
            f.write(dump(g))
        n = len(g.get("patches", []))
        print(f"{name}: {g.get('kind', g.get('error'))} {n} patches")
    if ref is not None:
        print(f"reference class agrees on {agree}/{len(inputs)} inputs")


if __name__ == "__main__":
    main()
