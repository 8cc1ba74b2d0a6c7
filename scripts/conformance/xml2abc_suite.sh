#!/usr/bin/env bash
# Conformance suite for MusicXML -> ABC (docs/reference.md §5.2): the Rust converter
# (crates/musicxml) against the reference's `xml2abc.py -d 8 -x`.
#
#   scripts/conformance/xml2abc_suite.sh [CORPUS_ROOT] [ORACLE_ROOT]
#
# 1. runs the reference oracle (xml2abc_oracle.py: one `python xml2abc.py -d 8 -x "<file>"`
#    process per file, as preprocessing/abc/batch_xml2abc.py does) over every .xml, .mxl and
#    .musicxml file of CORPUS_ROOT (default: the music21 corpus), timed;
# 2. runs the Rust comparison (crates/musicxml/examples/xml2abc_conformance.rs): identical
#    outputs per collection, failure agreement, first mismatches grouped by kind;
# 3. prints the speed ratio: reference seconds / Rust seconds, both summed over the files of
#    the corpus, one file at a time (reference: each file's process, interpreter start
#    included, which is what the reference pipeline pays; Rust: reading and converting).
#    With INPROC=1 it also times the reference converter inside one Python process (no
#    interpreter start per file) and prints that ratio too;
# 4. with MUTANTS=N (default 0), also generates N mutated scores
#    (make_xml2abc_mutants.py), runs both sides on them and reports the agreement.
#
# Environment: PY (oracle interpreter, default /work/venv-oracle/bin/python), ORACLE_JOBS
# (default 2, the reference driver uses every core), SKIP_ORACLE=1 (reuse ORACLE_ROOT),
# CARGO_TARGET_DIR (as usual). Exits non-zero when any output or failure disagrees.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CORPUS="${1:-/tmp/data/music21/corpus}"
ORACLE="${2:-$REPO/testdata/oracle/xml2abc}"
PY="${PY:-/work/venv-oracle/bin/python}"
JOBS="${ORACLE_JOBS:-2}"
MUTANTS="${MUTANTS:-0}"

cd "$REPO"
cargo build --quiet --release -p clamp3-musicxml --example xml2abc_conformance
EXAMPLE="${CARGO_TARGET_DIR:-$REPO/target}/release/examples/xml2abc_conformance"

if [ "${SKIP_ORACLE:-0}" != "1" ]; then
    echo "== reference oracle (xml2abc.py VERSION 143, -d 8 -x), $JOBS job(s)"
    t0=$(date +%s.%N)
    "$PY" "$HERE/xml2abc_oracle.py" "$CORPUS" "$ORACLE" -j "$JOBS" | tee "$ORACLE/../xml2abc-oracle-summary.txt"
    t1=$(date +%s.%N)
    echo "oracle wall time: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"
fi
ref_s="$(awk -F'\t' '{s += $3} END {printf "%.3f", s}' "$ORACLE/timings.tsv")"

echo
echo "== Rust (clamp3_musicxml::file_to_abc)"
set +e
rust_out="$("$EXAMPLE" "$CORPUS" "$ORACLE" --show 5 --timings)"
status=$?
set -e
echo "$rust_out"
rust_s="$(echo "$rust_out" | awk '/^RUST_SECONDS/ {print $2}')"

echo
ratio="$(awk -v a="$ref_s" -v b="$rust_s" 'BEGIN {printf "%.1f", a / b}')"
echo "speed: reference ${ref_s} s (per-file processes) / Rust ${rust_s} s = ${ratio}x"
if [ "${INPROC:-0}" = "1" ]; then
    inproc_s="$("$PY" "$HERE/xml2abc_oracle.py" "$CORPUS" "$ORACLE" --inproc-seconds)"
    echo "speed: reference ${inproc_s} s (in one process, no interpreter start) / Rust ${rust_s} s = $(awk -v a="$inproc_s" -v b="$rust_s" 'BEGIN {printf "%.1f", a / b}')x"
fi

if [ "$MUTANTS" -gt 0 ]; then
    echo
    echo "== $MUTANTS mutated scores"
    MUT_IN="$REPO/testdata/corpora/xml2abc-mutants-suite"
    MUT_OUT="$REPO/testdata/oracle/xml2abc-mutants-suite"
    rm -rf "$MUT_IN" "$MUT_OUT"
    python3 "$HERE/make_xml2abc_mutants.py" "$CORPUS" "$MUT_IN" -n "$MUTANTS" \
        --seed "${MUTANT_SEED:-7}" --max-bytes 150000 --raw 0.2 --max-edits 6
    "$PY" "$HERE/xml2abc_oracle.py" "$MUT_IN" "$MUT_OUT" -j "$JOBS" | tail -2
    set +e
    "$EXAMPLE" "$MUT_IN" "$MUT_OUT" --show 3
    mstatus=$?
    set -e
    [ $mstatus -eq 0 ] || status=$mstatus
fi
exit $status
