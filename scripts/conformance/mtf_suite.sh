#!/usr/bin/env bash
# MIDI -> MTF conformance suite: reference (mido 1.3.0) vs Rust, byte for byte, with timings.
#
#   scripts/conformance/mtf_suite.sh [--reuse-oracle] [--all-meta] [corpus ...]
#
# 1. builds the corpora if needed (build_midi_corpora.sh; default corpora: all of them);
# 2. runs the reference conversion (mtf_oracle.py, one process, timed: the sum of the
#    per-file conversion times) into testdata/oracle/mtf[-all]/<corpus>/;
#    --reuse-oracle keeps existing oracle output and its recorded time;
# 3. runs the Rust example `mtf_conformance` (one thread; file read + conversion timed),
#    which compares every file and prints matched/total per corpus;
# 4. prints per corpus and overall: reference seconds, Rust seconds, speed ratio
#    (reference / Rust).
#
# Environment: PYTHON (mido 1.3.0; default /work/venv-oracle/bin/python), CARGO_TARGET_DIR,
# MTF_CONFORMANCE_BIN (a prebuilt example binary; skips the cargo build).
# Exit status: non-zero when any file differs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-/work/venv-oracle/bin/python}"
CORPORA="$REPO/testdata/corpora/midi"

reuse=0
mode_flag=()
oracle_dir="$REPO/testdata/oracle/mtf"
corpora=()
for a in "$@"; do
    case "$a" in
        --reuse-oracle) reuse=1 ;;
        --all-meta) mode_flag=(--all-meta); oracle_dir="$REPO/testdata/oracle/mtf-all" ;;
        *) corpora+=("$a") ;;
    esac
done

bash "$HERE/build_midi_corpora.sh" "$CORPORA" >/dev/null
if [[ ${#corpora[@]} -eq 0 ]]; then
    corpora=(essen debian music21 synthetic random mutated)
fi

declare -A ref_s
for c in "${corpora[@]}"; do
    stamp="$oracle_dir/$c.seconds"
    if [[ $reuse -eq 0 || ! -f "$stamp" ]]; then
        rm -rf "${oracle_dir:?}/$c"
        out="$("$PYTHON" "$HERE/mtf_oracle.py" "${mode_flag[@]}" "$CORPORA/$c" "$oracle_dir/$c")"
        echo "reference $c: $(head -1 <<<"$out")"
        awk '/^oracle_seconds/ {print $2}' <<<"$out" > "$stamp"
    fi
    ref_s[$c]="$(cat "$stamp")"
done

bin="${MTF_CONFORMANCE_BIN:-}"
if [[ -z "$bin" ]]; then
    (cd "$REPO" && cargo build --quiet --release -p clamp3-formats --example mtf_conformance)
    bin="${CARGO_TARGET_DIR:-$REPO/target}/release/examples/mtf_conformance"
fi

set +e
report="$("$bin" "$CORPORA" "$oracle_dir" "${mode_flag[@]}" "${corpora[@]}")"
status=$?
set -e
echo "$report"

echo
printf '%-10s %12s %10s %10s\n' corpus reference_s rust_s ratio
total_ref=0
for c in "${corpora[@]}"; do
    rust="$(awk -v c="$c" '$1 == c { for (i = 1; i <= NF; i++) if ($i == "rust") { sub("s", "", $(i+1)); print $(i+1) } }' <<<"$report")"
    printf '%-10s %12.3f %10.3f %9.0fx\n' "$c" "${ref_s[$c]}" "$rust" "$(awk -v r="${ref_s[$c]}" -v s="$rust" 'BEGIN { print (s > 0 ? r / s : 0) }')"
    total_ref="$(awk -v a="$total_ref" -v b="${ref_s[$c]}" 'BEGIN { print a + b }')"
done
total_rust="$(awk '/^rust_seconds/ {print $2}' <<<"$report")"
printf '%-10s %12.3f %10.3f %9.0fx\n' ALL "$total_ref" "$total_rust" "$(awk -v r="$total_ref" -v s="$total_rust" 'BEGIN { print (s > 0 ? r / s : 0) }')"
echo "speed ratio (reference seconds / Rust seconds): $(awk -v r="$total_ref" -v s="$total_rust" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }')"
exit $status
