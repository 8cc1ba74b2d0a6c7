#!/usr/bin/env bash
# Conformance suite for standard ABC -> interleaved ABC (docs/reference.md §5.3).
#
#   scripts/conformance/interleave_suite.sh [CORPORA_ROOT] [ORACLE_ROOT]
#
# 1. builds the corpora if CORPORA_ROOT is missing (build_abc_corpora.sh);
# 2. runs the reference oracle (interleave_oracle.py, abctoolkit 0.0.4) over them, timed;
# 3. runs the Rust comparison (crates/formats/examples/interleave_conformance.rs): per corpus
#    matched/total, identical outputs, failure agreement, warnings agreement, first mismatches;
# 4. prints the speed ratio: reference seconds / Rust seconds, both summed over the files for
#    the conversion itself (bytes in memory -> output text; no file I/O), one process each.
#
# Environment: PY (oracle interpreter, default /work/venv-oracle/bin/python), ORACLE_JOBS
# (default 1: per-file timings are cleaner without a second worker on a 2-core machine),
# CARGO_TARGET_DIR (as usual). Exits non-zero when any output or failure disagrees.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CORPORA="${1:-$REPO/testdata/corpora/abc}"
ORACLE="${2:-$REPO/testdata/oracle/interleave}"
PY="${PY:-/work/venv-oracle/bin/python}"
JOBS="${ORACLE_JOBS:-1}"

if [ ! -d "$CORPORA" ]; then
    bash "$HERE/build_abc_corpora.sh" "$CORPORA"
fi

echo "== reference oracle (abctoolkit 0.0.4), $JOBS job(s)"
t0=$(date +%s.%N)
oracle_out="$("$PY" "$HERE/interleave_oracle.py" "$CORPORA" "$ORACLE" -j "$JOBS")"
t1=$(date +%s.%N)
echo "$oracle_out"
ref_s="$(echo "$oracle_out" | awk '/^ORACLE_SECONDS/ {print $2}')"
echo "oracle process wall time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"

echo
echo "== Rust (clamp3_formats::interleave)"
cd "$REPO"
set +e
rust_out="$(cargo run --quiet --release -p clamp3-formats --example interleave_conformance -- \
    "$CORPORA" "$ORACLE")"
status=$?
set -e
echo "$rust_out"
rust_s="$(echo "$rust_out" | awk '/^RUST_SECONDS/ {print $2}')"

echo
if [ -n "$ref_s" ] && [ -n "$rust_s" ]; then
    ratio="$(awk -v a="$ref_s" -v b="$rust_s" 'BEGIN {printf "%.1f", a / b}')"
    echo "speed: reference ${ref_s} s / Rust ${rust_s} s = ${ratio}x"
fi
exit $status
