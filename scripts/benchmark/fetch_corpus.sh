#!/usr/bin/env bash
# Fetch the music21 10.5.1 corpus into testdata/music21/corpus (git-ignored), for the local
# WikiMT-X-style benchmark (`clamp3::benchmark`, crates/clamp3/tests/benchmark.rs) and
# docs/data.md §1. Idempotent: does nothing when the corpus is already there.
#
#   scripts/benchmark/fetch_corpus.sh
#
# The wheel comes from PyPI through pip (`pip download --no-deps music21==10.5.1`, 19.6 MB,
# about 2 s) into testdata/downloads/, its sha256 is checked, and only `music21/corpus/*` is
# unpacked with Python's zipfile module (no unzip binary needed), into a temporary folder
# that is renamed into place when complete.
# Environment: PYTHON (default python3), PIP (default "$PYTHON -m pip"),
#              MUSIC21_WHEEL (an already downloaded music21-10.5.1 wheel to use instead).
# Licence: parts of the corpus (the Essen folk songs among them) are for non-commercial use
# only (docs/data.md §1.4): fine for tests and benchmarks, not for redistribution.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
PIP="${PIP:-$PYTHON -m pip}"
WHEEL_NAME=music21-10.5.1-py3-none-any.whl
WHEEL_SHA256=dc3309498c4c95cebdf8d4f20c868deb6b63bce1d929cad4f51a7ccc982987b1
DEST=testdata/music21/corpus

if [ -f "$DEST/essenFolksong/han1.abc" ] && [ -f "$DEST/.complete" ]; then
    echo "music21 corpus already in $DEST"
    exit 0
fi

mkdir -p testdata/downloads
wheel="testdata/downloads/$WHEEL_NAME"
if [ ! -f "$wheel" ]; then
    if [ -n "${MUSIC21_WHEEL:-}" ]; then
        cp "$MUSIC21_WHEEL" "$wheel.tmp" && mv "$wheel.tmp" "$wheel"
    else
        $PIP download --quiet --no-deps music21==10.5.1 -d testdata/downloads
    fi
fi
echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet \
    || { echo "checksum mismatch for $wheel (expected the PyPI music21 10.5.1 wheel)" >&2; exit 1; }

"$PYTHON" - "$wheel" "$DEST" <<'PY'
import os, shutil, sys, tempfile, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
parent = os.path.dirname(dest)            # testdata/music21
os.makedirs(parent, exist_ok=True)
tmp = tempfile.mkdtemp(prefix=".corpus-", dir=parent)
prefix = "music21/corpus/"
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):]
        if rel.startswith("/") or ".." in rel.split("/"):
            raise SystemExit(f"unsafe path in wheel: {info.filename}")
        target = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        n += 1
open(os.path.join(tmp, ".complete"), "w").close()
if os.path.exists(dest):
    shutil.rmtree(dest)
os.rename(tmp, dest)
print(f"unpacked {n} files into {dest}")
PY
