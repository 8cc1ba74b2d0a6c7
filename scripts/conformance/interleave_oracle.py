#!/usr/bin/env python3
"""Reference oracle for standard ABC -> interleaved ABC (docs/reference.md §5.3).

    interleave_oracle.py IN_ROOT OUT_ROOT [-j JOBS]

Runs the reference interleaving, `abc_pipeline` of the reference's
preprocessing/abc/batch_interleaved_abc.py (same steps, same order, same abctoolkit 0.0.4
functions, same exception handling as its `abc_pipeline_list`), over every file that
abctoolkit's `find_all_abc` finds under IN_ROOT, and mirrors the tree under OUT_ROOT:

  <stem>.abc    the output file, written exactly as the reference writes it
  <stem>.log    what the reference printed for a converted file (warnings), if anything
  <stem>.error  the file gave no output: what was printed / the exception that skipped it

The reference prints its own messages as `print(abc_path, msg)`; here the path is left out.
Zero-byte files, which the reference's batch driver never picks up, get a `.error` too.

Run with the oracle interpreter (abctoolkit==0.0.4). Prints per-corpus counts and, on the last
line, `ORACLE_SECONDS <s>`: the summed time of the pipeline itself (decoding the bytes to the
joined output text, no file I/O), the figure the Rust side is compared with.
"""
import argparse
import contextlib
import io
import os
import re
import sys
import time
from collections import Counter
from multiprocessing import Pool

from abctoolkit.check import check_alignment_unrotated
from abctoolkit.rotate import rotate_abc
from abctoolkit.utils import (
    Barlines,
    Quote_re,
    find_all_abc,
    remove_bar_no_annotations,
    remove_information_field,
    strip_empty_bars,
)


def abc_pipeline(data: bytes):
    """The reference's abc_pipeline for one file's bytes: the output lines, or None."""
    # open(abc_path, 'r', encoding='utf-8').readlines(): universal newlines
    abc_lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").readlines()

    abc_lines = [line for line in abc_lines if line.strip() != ""]
    abc_lines = remove_information_field(
        abc_lines=abc_lines, info_fields=["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"]
    )
    abc_lines = remove_bar_no_annotations(abc_lines)

    # Remove escaped quotes and clean up barlines inside quotes
    for i, line in enumerate(abc_lines):
        if not (re.search(r"^[A-Za-z]:", line) or line.startswith("%")):
            abc_lines[i] = line.replace(r"\"", "")
            quote_contents = re.findall(Quote_re, line)
            for quote_content in quote_contents:
                for barline in Barlines:
                    if barline in quote_content:
                        line = line.replace(quote_content, "")
                        abc_lines[i] = line

    try:
        stripped_abc_lines, bar_counts = strip_empty_bars(abc_lines)
    except Exception as e:
        print("Error in stripping empty bars:", e)
        return None

    if stripped_abc_lines is None:
        print("Failed to strip")
        return None

    _, bar_no_equal_flag, bar_dur_equal_flag = check_alignment_unrotated(stripped_abc_lines)
    if not bar_no_equal_flag:
        print("Unequal bar number")
    if not bar_dur_equal_flag:
        print("Unequal bar duration (unaligned)")

    try:
        rotated_abc_lines = rotate_abc(stripped_abc_lines)
    except Exception as e:
        print("Error in rotating:", e)
        return None

    if rotated_abc_lines is None:
        print("Failed to rotate")
        return None
    return rotated_abc_lines


def process(args):
    in_root, out_root, path = args
    rel = os.path.relpath(path, in_root)
    stem = os.path.join(out_root, os.path.splitext(rel)[0])
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    with open(path, "rb") as f:
        data = f.read()
    buf = io.StringIO()
    lines = None
    t0 = time.perf_counter()
    if len(data) == 0:
        print("empty file (the batch driver skips files of size 0)", file=buf)
    else:
        with contextlib.redirect_stdout(buf):
            try:  # abc_pipeline_list's handler
                lines = abc_pipeline(data)
            except Exception as e:
                print(e)
    if lines is not None:
        text = "".join(lines)
    seconds = time.perf_counter() - t0
    printed = buf.getvalue()
    for ext in (".abc", ".log", ".error"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stem + ext)
    if lines is not None:
        with open(stem + ".abc", "w", encoding="utf-8") as w:
            w.writelines(lines)
        if printed:
            with open(stem + ".log", "w", encoding="utf-8") as w:
                w.write(printed)
        status = "ok"
    else:
        with open(stem + ".error", "w", encoding="utf-8") as w:
            w.write(printed)
        status = "error"
    corpus = rel.split(os.sep)[0]
    return corpus, status, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("in_root")
    ap.add_argument("out_root")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    a = ap.parse_args()
    paths = sorted(find_all_abc(a.in_root))
    jobs = [(a.in_root, a.out_root, p) for p in paths]
    t0 = time.perf_counter()
    counts = Counter()
    per_seconds = Counter()
    seconds = 0.0
    with Pool(a.jobs) as pool:
        for corpus, status, s in pool.imap_unordered(process, jobs, chunksize=32):
            counts[(corpus, status)] += 1
            per_seconds[corpus] += s
            seconds += s
    wall = time.perf_counter() - t0
    corpora = sorted({c for c, _ in counts})
    print(f"{'corpus':<22} {'files':>7} {'converted':>10} {'failed':>7} {'seconds':>9}")
    for c in corpora:
        ok, err = counts[(c, "ok")], counts[(c, "error")]
        print(f"{c:<22} {ok + err:>7} {ok:>10} {err:>7} {per_seconds[c]:>9.3f}")
    print(f"oracle wall time {wall:.2f} s with {a.jobs} job(s)")
    print(f"ORACLE_SECONDS {seconds:.4f}")


if __name__ == "__main__":
    main()
