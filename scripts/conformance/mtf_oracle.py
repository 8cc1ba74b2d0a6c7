#!/usr/bin/env python3
"""Reference MIDI -> MTF conversion (docs/reference.md §5.5), for goldens and the conformance suite.

    mtf_oracle.py [--all-meta] [--jobs N] IN_ROOT OUT_ROOT

Run it with mido 1.3.0 (e.g. /work/venv-oracle/bin/python). For every `*.mid` / `*.midi`
file under IN_ROOT (the reference's own filter: a case-sensitive suffix test) it writes,
mirroring the tree under OUT_ROOT, either `<stem>.mtf` (the text the reference writes) or
`<stem>.error` (the exception the reference would log instead, as `<Type>: <message>`).
`<stem>` is the file name without its last extension, as in the reference.

The conversion follows `preprocessing/midi/batch_midi2mtf.py` of sanderwood/clamp3 run with
m3 compatibility on: load with `mido.MidiFile(path)`, a first line `ticks_per_beat N`, one
line per message of `mid.merged_track` (text-like meta messages dropped), each line the
`str()` of the message's attribute values in dict order joined by spaces, stripped, then
passed through Python's `unicode_escape` codec; lines joined with "\\n", no final newline.
`--all-meta` keeps the text-like meta messages (the reference's m3_compatible = False).

Prints the file counts and the conversion time (the sum of the per-file conversion times,
excluding writing the outputs) as `oracle_seconds <float>` on the last line.
"""

import argparse
import os
import sys
import time
from multiprocessing import Pool

import mido

# Meta messages the reference drops in M3-compatible mode.
DROPPED_META = ("text", "copyright", "track_name", "instrument_name",
                "lyrics", "marker", "cue_marker", "device_name")


def message_line(msg):
    """One MTF line: the message's attribute values, in dict order, via str()."""
    words = ""
    for value in msg.dict().values():
        words += " " + str(value)
    return words.strip().encode("unicode_escape").decode("utf-8")


def convert(path, keep_all_meta=False):
    """The reference's load_midi(): MTF text of one MIDI file (raises on bad input)."""
    mid = mido.MidiFile(path)
    lines = ["ticks_per_beat " + str(mid.ticks_per_beat)]
    for msg in mid.merged_track:
        if not keep_all_meta and msg.is_meta and msg.type in DROPPED_META:
            continue
        lines.append(message_line(msg))
    return "\n".join(lines)


def stem_of(filename):
    return ".".join(filename.split(".")[:-1])


def work(job):
    src, dst_dir, keep_all_meta = job
    os.makedirs(dst_dir, exist_ok=True)
    stem = stem_of(os.path.basename(src))
    start = time.perf_counter()
    try:
        text, err = convert(src, keep_all_meta), None
    except Exception as exc:  # the reference catches every exception and skips the file
        text, err = None, f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    if err is None:
        with open(os.path.join(dst_dir, stem + ".mtf"), "w", encoding="utf-8") as f:
            f.write(text)
        stale = os.path.join(dst_dir, stem + ".error")
    else:
        with open(os.path.join(dst_dir, stem + ".error"), "w", encoding="utf-8") as f:
            f.write(err)
        stale = os.path.join(dst_dir, stem + ".mtf")
    if os.path.exists(stale):
        os.remove(stale)
    return err is None, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("in_root")
    ap.add_argument("out_root")
    ap.add_argument("--all-meta", action="store_true",
                    help="keep text-like meta messages (m3_compatible = False)")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    jobs = []
    for root, _dirs, files in os.walk(args.in_root):
        for name in sorted(files):
            if not name.endswith(".mid") and not name.endswith(".midi"):
                continue
            rel = os.path.relpath(root, args.in_root)
            jobs.append((os.path.join(root, name), os.path.join(args.out_root, rel),
                         args.all_meta))
    jobs.sort()

    wall = time.perf_counter()
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            results = pool.map(work, jobs, chunksize=16)
    else:
        results = [work(job) for job in jobs]
    wall = time.perf_counter() - wall

    ok = sum(1 for good, _ in results if good)
    print(f"files {len(results)}  converted {ok}  errors {len(results) - ok}  "
          f"wall {wall:.2f}s")
    print(f"oracle_seconds {sum(t for _, t in results):.6f}")


if __name__ == "__main__":
    sys.exit(main())
