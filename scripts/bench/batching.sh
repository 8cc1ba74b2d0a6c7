#!/usr/bin/env bash
# Default batching against one segment per forward pass, `clamp3 embed` as a whole process:
#   scripts/bench/batching.sh CLAMP3 MODEL_DIR ROUNDS DIR...
# For each input folder DIR, ROUNDS interleaved pairs (default, then --batch-segments 1); prints
# the wall time of each run and the 1-minute load average before it. The folders of
# scripts/bench/e2e.py (WORK/inputs/{abc,mtf,text,text-short,...}) are a ready set.
set -euo pipefail
bin=$1 model=$2 rounds=$3
shift 3
for dir in "$@"; do
  for ((r = 1; r <= rounds; r++)); do
    for mode in default b1; do
      out=$(mktemp -d)
      load=$(cut -d' ' -f1 /proc/loadavg)
      extra=()
      [ "$mode" = b1 ] && extra=(--batch-segments 1)
      start=$(date +%s.%N)
      "$bin" embed --model "$model" --out "$out" "${extra[@]}" "$dir"/* >/dev/null 2>&1 || echo "FAILED: $dir $mode"
      end=$(date +%s.%N)
      echo "$(basename "$dir") $mode round$r $(echo "$end - $start" | bc) s load=$load"
      rm -rf "$out"
    done
  done
done
