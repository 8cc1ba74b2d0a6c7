#!/usr/bin/env python3
"""Large, non-committed differential check of the patchilizer (testdata/patches_corpus/).

    python scripts/golden/patch_corpus.py build    # corpus: abc/ mtf/ random/
    python scripts/golden/patch_corpus.py expect   # expected.tsv: name, patch count, digest
    python scripts/golden/patch_corpus.py time     # Python encode speed (patches/s)
    cargo run --release -p clamp3-formats --example patch_bench -- \
        testdata/patches_corpus --expected testdata/patches_corpus/expected.tsv

Sources: abc/ = every MusicXML file of the music21 corpus that converts (xml2abc + the
interleaving steps, as make_patch_inputs.py); mtf/ = every MIDI file of the Debian packages
named in MIDI_PACKAGES (mido driver as make_patch_inputs.py); random/ = generated texts mixing
barlines, header lines, MTF lines, CR/LF, L:1/8 and non-ASCII characters.

Digest: FNV-1a 64 over the flat ids (`[P, 64]`, row-major); errors are recorded as
`error:empty` or `error:lone_barline:<line>`; patch_bench computes the same.
"""

import glob
import os
import random
import subprocess
import sys
import time
import warnings
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_patch_goldens as oracle  # noqa: E402
import make_patch_inputs as inputs  # noqa: E402

ROOT = inputs.ROOT
OUT = os.path.join(ROOT, "testdata/patches_corpus")
MIDI_PACKAGES = ["openttd-openmsx", "planetblupi-music-midi", "pianobooster", "solfege",
                 "timidity", "fluidsynth", "abcmidi"]


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def result_of(text):
    try:
        _, patches = oracle.encode(text)
    except IndexError:
        return "0\terror:empty", 0
    except oracle.LoneBarline as e:
        return f"0\terror:lone_barline:{e.args[0]}", 0
    flat = bytes(i for p in patches for i in p)
    return f"{len(patches)}\t{fnv1a(flat):016x}", len(patches)


def convert_xml(path):
    rel = os.path.relpath(path, inputs.CORPUS)
    name = rel.replace("/", "__").rsplit(".", 1)[0] + ".abc"
    try:
        text = inputs.xml_to_interleaved(path)
    except Exception:
        return None
    with open(os.path.join(OUT, "abc", name), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return name


def random_text(rng):
    pieces = ["|", "||", "|:", ":|", "::", "[|", "|]", "|]:", ":[|", ":", "[", "]", "\n",
              "\n", "\r\n", "L:1/8\n", "L:1/8", "K:G\n", "%%score 1\n", "%", "[V:1]", "[V:2]",
              "abc", "A2 B2", "z4", " ", "\t", "ä", "ß", "北京", "ｶ", "é", "\u2028", "\u2029",
              "\U0001F3B5", "\ue000", "\x00", "\x01", "\x02", "\x03", "½", "\u00a0", "T:x\n",
              "a:", "1:", "'", '"^Allegro"', "!fermata!", "x" * 70, "\u0301"]
    mtf = ["note_on 0 0 60 80", "note_on 240 0 60 0", "note_off 0 1 64 0",
           "control_change 0 0 7 100", "set_tempo 500000 0", "sysex 0 [1, 2, 3]",
           "pitchwheel 10 0 -200", "end_of_track 0", "note 1", " x", "", "ticks_per_beat 9",
           "time_signature 4 4 24 8 0", "program_change 0 0 " + "1" * 60, "note_on"]
    if rng.random() < 0.3:
        n = rng.randrange(0, 200)
        lines = ["ticks_per_beat " + str(rng.randrange(1, 1000))]
        lines += [rng.choice(mtf) for _ in range(n)]
        sep = rng.choice(["\n", "\n", "\r\n"])
        return sep.join(lines) + rng.choice(["", "", "\n"])
    n = rng.randrange(0, 120)
    return "".join(rng.choice(pieces) for _ in range(n))


def build():
    for sub in ("abc", "mtf", "random"):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    xmls = sorted(glob.glob(os.path.join(inputs.CORPUS, "**/*.mxl"), recursive=True)
                  + glob.glob(os.path.join(inputs.CORPUS, "**/*.xml"), recursive=True)
                  + glob.glob(os.path.join(inputs.CORPUS, "**/*.musicxml"), recursive=True))
    with Pool(2) as pool:
        done = [n for n in pool.map(convert_xml, xmls) if n]
    print(f"abc: {len(done)} of {len(xmls)} MusicXML files converted")
    mids = []
    for pkg in MIDI_PACKAGES:
        res = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        mids += [p for p in res.stdout.splitlines() if p.lower().endswith((".mid", ".midi"))]
    n_mtf = 0
    for path in sorted(set(mids)):
        try:
            text = inputs.midi_to_mtf(path)
        except Exception as e:
            print(f"skip {path}: {e}")
            continue
        name = os.path.basename(os.path.dirname(path)) + "__" + os.path.basename(path) + ".mtf"
        with open(os.path.join(OUT, "mtf", name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        n_mtf += 1
    print(f"mtf: {n_mtf} MIDI files converted")
    rng = random.Random(7)
    for i in range(3000):
        with open(os.path.join(OUT, "random", f"r{i:04d}.txt"), "w", encoding="utf-8",
                  newline="") as f:
            f.write(random_text(rng))
    print("random: 3000 texts")


def corpus_files():
    files = []
    for sub in ("abc", "mtf", "random"):
        files += sorted(glob.glob(os.path.join(OUT, sub, "*")))
    return files


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def expect():
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in corpus_files():
            res, _ = result_of(read(path))
            lines.append(f"{os.path.relpath(path, OUT)}\t{res}\n")
    with open(os.path.join(OUT, "expected.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    print(f"expected.tsv: {len(lines)} files")


def time_python():
    texts = [read(p) for p in corpus_files() if "/random/" not in p]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        total = 0
        for t in texts:
            try:
                total += len(oracle.encode(t)[1])
            except (IndexError, oracle.LoneBarline):
                pass
        dt = time.perf_counter() - t0
    print(f"python: {len(texts)} files, {total} patches in {dt:.3f} s = {total / dt:.0f} patches/s")


if __name__ == "__main__":
    {"build": build, "expect": expect, "time": time_python}[sys.argv[1]]()
