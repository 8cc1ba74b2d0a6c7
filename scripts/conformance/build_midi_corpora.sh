#!/usr/bin/env bash
# Build the MIDI corpora used by the MIDI -> MTF conformance suite (docs/reference.md §5.5).
#
#   scripts/conformance/build_midi_corpora.sh [OUT_ROOT]
#
# OUT_ROOT defaults to <repo>/testdata/corpora/midi. Corpora (one folder each):
#   essen      every tune of music21's essenFolksong ABC files (8,514), split one tune
#              per file and rendered with abc2midi (Debian package abcmidi).
#   debian     every MIDI file of the Debian packages openttd-openmsx,
#              planetblupi-music-midi, pianobooster, solfege and timidity
#              (`.mid.gz` files are decompressed to `.mid`).
#   music21    the MIDI test files shipped inside the music21 10.5.1 wheel.
#   synthetic  hand-crafted edge cases (scripts/conformance/make_edge_midi.py).
#   random     deterministic random, mostly valid files (every message type, running
#              status, unknown metas, mid-track end_of_track, huge delta times).
#   mutated    deterministic random mutations of the files above (byte flips,
#              truncations, inserted bytes), for reject/accept parity.
#
# Idempotent: a corpus folder that already holds its stamp file is kept as is
# (delete the folder to rebuild it). Prints the file count of every corpus.
#
# Environment:
#   MUSIC21_WHEEL  path of music21-10.5.1-py3-none-any.whl
#                  (default /tmp/data/d/...; downloaded with pip when missing)
#   PYTHON         python used for the helper scripts (default: /work/venv-oracle/bin/python
#                  when present, else python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$REPO/testdata/corpora/midi}"
WHEEL="${MUSIC21_WHEEL:-/tmp/data/d/music21-10.5.1-py3-none-any.whl}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x /work/venv-oracle/bin/python ]]; then PYTHON=/work/venv-oracle/bin/python; else PYTHON=python3; fi
fi
DEBIAN_PKGS=(openttd-openmsx planetblupi-music-midi pianobooster solfege timidity)

mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

need_wheel() {
    if [[ ! -f "$WHEEL" ]]; then
        echo "music21 wheel not found at $WHEEL; downloading with pip" >&2
        "$PYTHON" -m pip download --no-deps music21==10.5.1 -d "$WORK/wheel" >&2
        WHEEL="$(ls "$WORK"/wheel/music21-*.whl)"
    fi
}

# ---------------------------------------------------------------- music21
build_music21() {
    local dir="$OUT/music21"
    [[ -f "$dir/.complete" ]] && return 0
    need_wheel
    rm -rf "$dir" && mkdir -p "$dir"
    unzip -q -o "$WHEEL" 'music21/*.mid' 'music21/*.midi' -d "$WORK/m21" 2>/dev/null || true
    # Keep the wheel's layout below music21/ (e.g. midi/testPrimitive/test01.mid).
    (cd "$WORK/m21/music21" && find . -type f \( -name '*.mid' -o -name '*.midi' \) -print0 |
        while IFS= read -r -d '' f; do mkdir -p "$dir/$(dirname "$f")"; cp "$f" "$dir/$f"; done)
    touch "$dir/.complete"
}

# ---------------------------------------------------------------- debian
build_debian() {
    local dir="$OUT/debian"
    [[ -f "$dir/.complete" ]] && return 0
    rm -rf "$dir" && mkdir -p "$dir"
    local pkg f
    for pkg in "${DEBIAN_PKGS[@]}"; do
        if ! dpkg -L "$pkg" >/dev/null 2>&1; then
            echo "warning: Debian package $pkg is not installed (apt-get install -y --no-install-recommends $pkg)" >&2
            continue
        fi
        mkdir -p "$dir/$pkg"
        while IFS= read -r f; do
            [[ -f "$f" ]] || continue
            case "$f" in
                *.gz) gzip -dc "$f" > "$dir/$pkg/$(basename "${f%.gz}")" ;;
                *) cp "$f" "$dir/$pkg/" ;;
            esac
        done < <(dpkg -L "$pkg" | grep -iE '\.(mid|midi)(\.gz)?$')
    done
    touch "$dir/.complete"
}

# ---------------------------------------------------------------- essen
build_essen() {
    local dir="$OUT/essen"
    [[ -f "$dir/.complete" ]] && return 0
    need_wheel
    rm -rf "$dir" && mkdir -p "$dir"
    unzip -q -o "$WHEEL" 'music21/corpus/essenFolksong/*.abc' -d "$WORK/essen"
    # One tune per file: a tune starts at an `X:` line (the Essen files have no file header).
    "$PYTHON" - "$WORK/essen/music21/corpus/essenFolksong" "$WORK/abc" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for name in sorted(os.listdir(src)):
    if not name.endswith('.abc'):
        continue
    stem = name[:-4]
    os.makedirs(os.path.join(dst, stem), exist_ok=True)
    with open(os.path.join(src, name), 'rb') as f:
        lines = f.read().split(b'\n')
    tunes, cur = [], None
    for line in lines:
        if line.startswith(b'X:'):
            cur = [line]
            tunes.append(cur)
        elif cur is not None:
            cur.append(line)
    for i, tune in enumerate(tunes, 1):
        with open(os.path.join(dst, stem, f'{stem}_{i:04d}.abc'), 'wb') as f:
            f.write(b'\n'.join(tune).rstrip(b'\n') + b'\n')
        n += 1
print(f'essen: split {n} tunes', file=sys.stderr)
EOF
    # Render every tune; abc2midi's console output is discarded (it warns a lot).
    (cd "$WORK/abc" && find . -name '*.abc' -print0 | sort -z |
        xargs -0 -P "$(nproc)" -n 64 sh -c '
            for a in "$@"; do
                d="'"$dir"'/$(dirname "$a")"; mkdir -p "$d"
                abc2midi "$a" -o "$d/$(basename "${a%.abc}").mid" >/dev/null 2>&1 || true
            done' sh)
    touch "$dir/.complete"
}

# ---------------------------------------------------------------- synthetic
build_synthetic() {
    local dir="$OUT/synthetic"
    [[ -f "$dir/.complete" ]] && return 0
    rm -rf "$dir" && mkdir -p "$dir"
    "$PYTHON" "$HERE/make_edge_midi.py" "$dir"
    touch "$dir/.complete"
}

# ---------------------------------------------------------------- random
build_random() {
    local dir="$OUT/random"
    [[ -f "$dir/.complete" ]] && return 0
    rm -rf "$dir" && mkdir -p "$dir"
    "$PYTHON" "$HERE/make_edge_midi.py" --random "$dir"
    touch "$dir/.complete"
}

# ---------------------------------------------------------------- mutated
build_mutated() {
    local dir="$OUT/mutated"
    [[ -f "$dir/.complete" ]] && return 0
    rm -rf "$dir" && mkdir -p "$dir"
    "$PYTHON" "$HERE/make_edge_midi.py" --mutate "$dir" "$OUT/debian" "$OUT/music21" "$OUT/essen" "$OUT/synthetic"
    touch "$dir/.complete"
}

build_music21
build_debian
build_essen
build_synthetic
build_random
build_mutated

for c in essen debian music21 synthetic random mutated; do
    printf '%-10s %6d MIDI files\n' "$c" "$(find "$OUT/$c" -type f \( -name '*.mid' -o -name '*.midi' \) | wc -l)"
done
