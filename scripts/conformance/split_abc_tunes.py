#!/usr/bin/env python3
"""Split multi-tune ABC files into one file per tune (helper of build_abc_corpora.sh).

Usage: split_abc_tunes.py SRC_ROOT DEST_ROOT [--add-v1] FILE...

Each FILE (a path under SRC_ROOT) is read as raw bytes and cut at every line that starts with
`X:`; text before the first `X:` line (file comments, a preamble) is dropped. Tune k (1-based) of
`SRC_ROOT/a/b/name.abc` is written, byte for byte (line endings and encoding untouched), to
`DEST_ROOT/a/b/name__NNNN.abc`. A file without any `X:` line is written whole as `name__0001.abc`.

With --add-v1 a line `V:1` is inserted after the first `K:` line of every tune that has no line
whose stripped text is `V:1`: the reference interleaving needs a `V:1` line to find the tune
body, so this turns the single-voice folk tunes (which all fail unchanged) into inputs that
exercise the bar parsing, empty-bar stripping and rotation on real music.

Existing outputs are left alone (idempotent). Prints the number of tunes written.
"""
import os
import sys


def split_tunes(data: bytes):
    lines = data.splitlines(keepends=True)
    tunes = []
    current = None
    for line in lines:
        if line.startswith(b"X:"):
            if current is not None:
                tunes.append(current)
            current = [line]
        elif current is not None:
            current.append(line)
    if current is not None:
        tunes.append(current)
    if not tunes and data:
        tunes = [lines]
    return tunes


def add_v1(lines):
    if any(l.strip() == b"V:1" for l in lines):
        return lines
    for i, l in enumerate(lines):
        if l.startswith(b"K:"):
            # keep the tune's own line ending style
            ending = b"\r\n" if l.endswith(b"\r\n") else (b"\r" if l.endswith(b"\r") else b"\n")
            if not l.endswith((b"\n", b"\r")):
                lines = lines[: i] + [l + ending] + lines[i + 1:]
            return lines[: i + 1] + [b"V:1" + ending] + lines[i + 1:]
    return lines


def main():
    args = sys.argv[1:]
    src_root, dest_root = args[0], args[1]
    files = args[2:]
    v1 = False
    if files and files[0] == "--add-v1":
        v1 = True
        files = files[1:]
    written = 0
    for path in files:
        rel = os.path.relpath(path, src_root)
        stem = os.path.splitext(rel)[0]
        with open(path, "rb") as f:
            data = f.read()
        for k, tune in enumerate(split_tunes(data), start=1):
            out = os.path.join(dest_root, f"{stem}__{k:04d}.abc")
            if os.path.exists(out):
                continue
            if v1:
                tune = add_v1(tune)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            tmp = out + ".tmp"
            with open(tmp, "wb") as f:
                f.write(b"".join(tune))
            os.replace(tmp, out)
            written += 1
    print(written)


if __name__ == "__main__":
    main()
