#!/usr/bin/env python3
"""Make a deterministic corpus of mutated ABC files for differential testing.

    make_abc_mutants.py SRC_ROOT[,SRC_ROOT...] DEST_DIR [COUNT] [SEED]

Takes the .abc files under the SRC_ROOTs (sorted), and writes COUNT (default 20000) mutants to
DEST_DIR/mutant_NNNNN.abc. Each mutant is a real input with a few edits drawn from the
syntax that the reference interleaving treats specially: barlines and voltas, quotes with and
without barlines, escaped quotes, decorations, inline fields, chords, tuplets and broken
rhythm, bar-number comments, `V:` lines, line endings (`\\r\\n`, `\\r`), Unicode whitespace,
digits and letters, information fields. The oracle and the Rust port must agree on all of
them (output byte for byte, or both fail). Idempotent: an existing DEST_DIR with COUNT files
is left alone.
"""
import os
import random
import sys

TOKENS = [
    "|", "||", ":|", "|:", "::", "[|", "|]", ":[|", "|]:", "|1", ":|2", "|1,3", "[1", "[2",
    '"', '\\"', '"^a|b"', '"_x::y"', '"G"', '"@text"', '"<l"', '"^z"', "!", "!trill!", "!!",
    "!fermata!", "[", "]", "[K:G]", "[M:3/4]", "[L:1/16]", "[CE]", "[C2E]", "[C-E]", "[Ac']",
    "[r:x]", "[é:x]", "(", ")", "(3", "(3:2:3", "(0:1:1", "(3:2", "(2", "(五", "(３", "<", ">",
    ">>", "{", "}", "{g}", "{}", "%", "%12", "%%score 1 2", "\n", "\r\n", "\r", " ", "\t",
    "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u2028", "\u3000", "\u0663", "\u0661\u0662",
    "\ufeff", "V:1\n", "V:2\n", "\nV:1\n", "\nV:2\n", "\nV:3 clef=bass\n", "\n V:1 \n",
    "\nV:1%3\n", "1", "2", "12", ":", ",", ".", "-", "z", "x", "Z4", "X", "y", "é", "中", "/",
    "//", "3/", "/0", "+2", "²", "五", "\nw: la la\n", "\nT:t\n", "\n%%MIDI program 1\n",
    "\nX:2\n", "\nK:D\n", "\nI:abc-charset utf-8\n", "A", "c'", "B,", "^F", "_B", "=C", "P",
    "\n\n", "\n \n", "\\", "$", "&", "*", "#", "@",
]


def mutate(text: str, rng: random.Random) -> str:
    n_edits = rng.choice([1, 1, 2, 3, 5, 8])
    for _ in range(n_edits):
        op = rng.random()
        pos = rng.randrange(len(text) + 1) if text else 0
        if op < 0.55:
            tok = rng.choice(TOKENS)
            text = text[:pos] + tok + text[pos:]
        elif op < 0.7 and text:
            end = min(len(text), pos + rng.choice([1, 1, 2, 5, 20]))
            text = text[:pos] + text[end:]
        elif op < 0.8:
            lines = text.split("\n")
            if len(lines) > 2:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
                text = "\n".join(lines)
        elif op < 0.88:
            lines = text.split("\n")
            if lines:
                i = rng.randrange(len(lines))
                lines.insert(i, lines[i])
                text = "\n".join(lines)
        elif op < 0.94:
            text = text.replace("\n", rng.choice(["\r\n", "\r", "\n\n", " \n"]))
        else:
            # swap two characters' cases or digits
            if text:
                i = rng.randrange(len(text))
                c = text[i]
                c = c.swapcase() if c.isalpha() else rng.choice("0123456789:|[]")
                text = text[:i] + c + text[i + 1:]
    return text


def main():
    src, dest = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20250511
    if os.path.isdir(dest) and len([f for f in os.listdir(dest) if f.endswith(".abc")]) >= count:
        print(f"{dest}: already {count} mutants")
        return
    paths = []
    for src_root in src.split(","):
        for root, _, files in os.walk(src_root):
            for f in files:
                if f.endswith(".abc"):
                    paths.append(os.path.join(root, f))
    paths.sort()
    rng = random.Random(seed)
    os.makedirs(dest, exist_ok=True)
    for k in range(count):
        with open(rng.choice(paths), "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        out = mutate(text, rng)
        with open(os.path.join(dest, f"mutant_{k:05d}.abc"), "w", encoding="utf-8",
                  newline="") as f:
            f.write(out)
    print(f"{dest}: wrote {count} mutants")


if __name__ == "__main__":
    main()
