#!/usr/bin/env python3
"""Generate the override table that makes `clamp3_formats::unidecode` identical to Python
`unidecode` 1.3.6 (the reference's pin), plus the committed test goldens.

Design: the Rust function looks every non-ASCII character up in the BSD-3-licensed crate
`deunicode` (pinned to =1.6.2) and corrects it with two small tables produced here by
running Python Unidecode 1.3.6 (GPL-2.0-or-later) over every Unicode scalar value and
comparing the per-character outputs with deunicode's:

  * EMPTY:   inclusive code point ranges that Unidecode maps to "" (no data) while
             deunicode has a non-empty entry somewhere inside the range;
  * REPLACE: single code points where both are non-empty and differ (Unidecode's string).

Unidecode is context-free (one table lookup per character; see its `_unidecode`), so
per-character identity implies identity on every string.

Usage (from the repository root; needs /work/venv-oracle or any Python with unidecode==1.3.6):

    python scripts/gen_unidecode_table.py            # table + goldens
    python scripts/gen_unidecode_table.py --full-dump  # also testdata/unidecode/full.tsv

The deunicode side is read from `cargo run --release -p clamp3-formats --example
deunicode_dump` (CARGO_TARGET_DIR is honoured), or from a file given with --deunicode-dump.

Outputs:
    crates/formats/src/unidecode/table.rs   (generated Rust, committed)
    fixtures/unidecode/sample.json          (sampled golden: [code point, output] pairs)
    fixtures/unidecode/texts.json           (real-text golden: [input, output] pairs)
    testdata/unidecode/full.tsv             (--full-dump only; git-ignored; every scalar value)
Then run the exhaustive check:
    cargo test --release -p clamp3-formats --test unidecode -- --ignored
"""

import argparse
import json
import os
import random
import subprocess
import sys
import warnings

import unidecode as unidecode_mod
from unidecode import unidecode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_RS = os.path.join(ROOT, "crates/formats/src/unidecode/table.rs")
SAMPLE_JSON = os.path.join(ROOT, "fixtures/unidecode/sample.json")
TEXTS_JSON = os.path.join(ROOT, "fixtures/unidecode/texts.json")
FULL_TSV = os.path.join(ROOT, "testdata/unidecode/full.tsv")

UNIDECODE_VERSION = "1.3.6"
DEUNICODE_VERSION = "1.6.2"
MAX_CP = 0x10FFFF

# Real text for the text golden (inputs are ours; outputs come from Unidecode).
TEXTS = [
    "Schöne Grüße aus München – Straße, Äpfel, Öl, Übung",
    "Français : déjà vu, garçon, œuvre, naïve, Noël « citation »",
    "Español: ¿Qué tal? ¡Mañana!",
    "Dvořák: Slovanské tance, Janáček, Mazurek Dąbrowskiego, Łódź",
    "中文：北京欢迎你。梁祝小提琴协奏曲",
    "日本語：さくらさくら、カタカナ、東京、ｶﾀｶﾅ",
    "한국어: 아리랑, 서울",
    "Ελληνικά: Καλημέρα κόσμε, Ωδή",
    "Русский: Чайковский, Щелкунчик, Ёжик; Українська: Їжак, Ґанок",
    "العربية: موسيقى, مرحبا",
    "עברית: שלום",
    "हिन्दी: संगीत",
    "ไทย: ดนตรี",
    "Emoji: 🎵🎶🎹🎸🥁 😀 👍🏽 ❤️ 🇩🇪",
    "Symbols: ♩ ♪ ♫ ♬ ♭ ♮ ♯ 𝄞 𝄢 ½ ¼ ¾ ™ © ® № ℃ → ⇒ …",
    "Punctuation: “quotes” ‘single’ „low“ — – ‐ • · ′ ″ \u00a0nbsp\u2009thin\u3000ideo",
    "Line separators:\u2028LS\u2029PS\u0085NEL\r\nCRLF",
    "Fullwidth: ＡＢＣ：１／８ｌ",
    "Math: 𝐀𝐁𝐂 𝔄𝔅 𝕏 ∑ ∫ √ ≤ ≥ ≠ ∞",
    "Private use and unassigned: \ue000\uf8ff\U000f0000\U0010ffff\u0378",
    "Combining: e\u0301 a\u0308 n\u0303 \u0338",
    'T:Gute Nacht\nC:Franz Schubert\nL:1/8\nK:Dm\n[V:1]"^Mäßig" A2|',
]


def python_table():
    """Unidecode output for every scalar value >= U+0080 (surrogates skipped)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cp in range(0x80, MAX_CP + 1):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            out[cp] = unidecode(chr(cp))
    return out


def deunicode_table(path):
    if path:
        with open(path, encoding="ascii") as f:
            text = f.read()
    else:
        cmd = ["cargo", "run", "--quiet", "--release", "-p", "clamp3-formats",
               "--example", "deunicode_dump"]
        text = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
    out = {}
    for line in text.splitlines():
        cp_hex, val = line.split("\t")
        out[int(cp_hex, 16)] = None if val == "-" else bytes.fromhex(val).decode("utf-8")
    return out


def rust_str(s):
    parts = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            parts.append("\\\\")
        elif ch == '"':
            parts.append('\\"')
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\t":
            parts.append("\\t")
        elif ch == "\r":
            parts.append("\\r")
        elif 0x20 <= o < 0x7F:
            parts.append(ch)
        else:
            parts.append("\\x%02x" % o if o < 0x80 else "\\u{%x}" % o)
    return '"' + "".join(parts) + '"'


def compute_overrides(py, de):
    """Return (empty_ranges, replacements).

    A range is a maximal run of code points where Unidecode gives "" (surrogates count as
    free), kept only when deunicode is non-empty somewhere inside it: forcing "" over the
    whole run is exact and gives far fewer ranges than listing each code point.
    """
    replace = []
    ranges = []
    cur = None  # [start, end, needed]
    for cp in range(0x80, MAX_CP + 1):
        surrogate = 0xD800 <= cp <= 0xDFFF
        p = "" if surrogate else py[cp]
        d = "" if surrogate else (de.get(cp) or "")
        if p == "":
            if cur is None:
                cur = [cp, cp, False]
            cur[1] = cp
            if d != "":
                cur[2] = True
            continue
        if cur is not None and cur[2]:
            ranges.append((cur[0], cur[1]))
        cur = None
        if p != d:
            replace.append((cp, p))
    if cur is not None and cur[2]:
        ranges.append((cur[0], cur[1]))
    return ranges, replace


def write_table(ranges, replace, n_nonempty):
    lines = [
        "//! GENERATED by `scripts/gen_unidecode_table.py`; do not edit by hand.",
        "//!",
        f"//! Corrections that turn `deunicode` {DEUNICODE_VERSION} (`deunicode_char`, BSD-3-Clause)",
        f"//! into Python `unidecode` {UNIDECODE_VERSION} (GPL-2.0-or-later). Derived data: the",
        "//! strings below are per-character outputs obtained by *running* Unidecode 1.3.6 on every",
        "//! Unicode scalar value and keeping only those that differ from deunicode; no Unidecode",
        "//! source is copied. Regenerate with `python scripts/gen_unidecode_table.py`.",
        f"//! Unidecode has {n_nonempty} non-empty entries; {len(replace)} are listed here, and",
        f"//! {len(ranges)} ranges map to \"\" where deunicode has data.",
        "",
        "/// Version of Python Unidecode these tables reproduce.",
        f'pub(super) const UNIDECODE_VERSION: &str = "{UNIDECODE_VERSION}";',
        "",
        "/// Version of the `deunicode` crate the tables correct (pinned in Cargo.toml).",
        f'pub(super) const DEUNICODE_VERSION: &str = "{DEUNICODE_VERSION}";',
        "",
        "/// Inclusive, sorted, disjoint code point ranges that Unidecode maps to \"\".",
        "#[rustfmt::skip]",
        "pub(super) static EMPTY: &[(u32, u32)] = &[",
    ]
    row = []
    for a, b in ranges:
        row.append(f"(0x{a:x}, 0x{b:x}),")
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines += [
        "];",
        "",
        "/// Sorted code points where Unidecode's (non-empty) output differs from deunicode's.",
        "#[rustfmt::skip]",
        "pub(super) static REPLACE: &[(u32, &str)] = &[",
    ]
    row = []
    width = 4
    for cp, s in replace:
        item = f"(0x{cp:x}, {rust_str(s)}),"
        if row and width + len(item) + 1 > 100:
            lines.append("    " + " ".join(row))
            row, width = [], 4
        row.append(item)
        width += len(item) + 1
    if row:
        lines.append("    " + " ".join(row))
    lines += ["];", ""]
    os.makedirs(os.path.dirname(TABLE_RS), exist_ok=True)
    with open(TABLE_RS, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines))


def sample_points(py, ranges, replace):
    """A few thousand code points covering every block and every table boundary."""
    rng = random.Random(20250306)
    pts = set(range(0x80, 0x100))  # Latin-1 supplement in full
    pts.update(cp for cp, _ in replace)
    for a, b in ranges:
        pts.update((a - 1, a, b, b + 1))
    for section in range(0x110000 >> 8):
        if section < 0x300 or section % 16 == 0:
            cands = [cp for cp in range(section << 8, (section + 1) << 8) if cp in py]
            nonempty = [cp for cp in cands if py[cp]]
            if nonempty:
                pts.add(rng.choice(nonempty))
            if cands:
                pts.add(rng.choice(cands))
    pts = sorted(cp for cp in pts if cp in py)
    return pts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deunicode-dump", help="file written by the deunicode_dump example")
    ap.add_argument("--full-dump", action="store_true",
                    help="also write testdata/unidecode/full.tsv (every scalar value)")
    args = ap.parse_args()

    version = getattr(unidecode_mod, "__version__", None)
    try:
        from importlib.metadata import version as dist_version
        version = dist_version("Unidecode")
    except Exception:  # pragma: no cover - metadata missing
        pass
    if version != UNIDECODE_VERSION:
        sys.exit(f"need Unidecode {UNIDECODE_VERSION}, found {version}")

    py = python_table()
    bad = [cp for cp, s in py.items() if not s.isascii()]
    if bad:
        sys.exit(f"Unidecode produced non-ASCII output for {len(bad)} code points")
    de = deunicode_table(args.deunicode_dump)
    ranges, replace = compute_overrides(py, de)

    # Self-check: applying the overrides to deunicode reproduces Unidecode everywhere.
    starts = [a for a, _ in ranges]
    rep = dict(replace)
    import bisect
    for cp, p in py.items():
        if cp in rep:
            got = rep[cp]
        else:
            i = bisect.bisect_right(starts, cp) - 1
            if i >= 0 and ranges[i][0] <= cp <= ranges[i][1]:
                got = ""
            else:
                got = de.get(cp) or ""
        if got != p:
            sys.exit(f"override self-check failed at U+{cp:04X}: {got!r} != {p!r}")

    n_nonempty = sum(1 for s in py.values() if s)
    write_table(ranges, replace, n_nonempty)

    pts = sample_points(py, ranges, replace)
    os.makedirs(os.path.dirname(SAMPLE_JSON), exist_ok=True)
    with open(SAMPLE_JSON, "w", encoding="ascii", newline="\n") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps([cp, py[cp]]) for cp in pts))
        f.write("\n]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        texts = [[t, unidecode(t)] for t in TEXTS]
    with open(TEXTS_JSON, "w", encoding="utf-8", newline="\n") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(pair, ensure_ascii=False) for pair in texts))
        f.write("\n]\n")

    if args.full_dump:
        os.makedirs(os.path.dirname(FULL_TSV), exist_ok=True)
        with open(FULL_TSV, "w", encoding="ascii", newline="\n") as f:
            for cp in range(0, MAX_CP + 1):
                if 0xD800 <= cp <= 0xDFFF:
                    continue
                s = chr(cp) if cp < 0x80 else py[cp]
                f.write(f"{cp:x}\t{s.encode('ascii').hex()}\n")

    print(f"{len(ranges)} empty ranges, {len(replace)} replacements, "
          f"{len(pts)} sampled code points, {len(texts)} texts"
          + (", full dump written" if args.full_dump else ""))


if __name__ == "__main__":
    main()
