#!/usr/bin/env bash
# Build the standard-ABC corpora for the interleaving conformance suite
# (docs/reference.md §5.2, §5.3).
#
#   scripts/conformance/build_abc_corpora.sh [OUT_ROOT]
#
# OUT_ROOT defaults to testdata/corpora/abc (git-ignored). One folder per corpus:
#   <collection>/     every tune of every .abc file of that music21 corpus collection
#                     (essenFolksong, oneills1850, airdsAirs, ryansMammoth, miscFolk, josquin,
#                     nottingham-dataset), split at `X:` lines, bytes untouched
#   music21_v1/       the same tunes with a `V:1` line added after `K:` (see split_abc_tunes.py):
#                     the reference needs `V:1`, so this is the corpus of single-voice successes
#   xml2abc/          `xml2abc.py -d 8 -x` (abctoolkit 0.0.4, VERSION 143) of every .xml/.mxl/
#                     .musicxml file of the music21 corpus: the reference's sheet-music route
#                     (preprocessing/abc/batch_xml2abc.py); empty output is skipped (recorded
#                     as <name>.xml2abc-empty, which the oracle ignores)
#   debian_abcmidi/, debian_abcm2ps/
#                     the example .abc files of the abcmidi / abcm2ps Debian docs, if installed,
#                     split at `X:` lines
#   mutants/          MUTANTS (default 20000) deterministic random edits of the inputs above
#                     (make_abc_mutants.py): barlines, quotes, fields, line endings, Unicode
#                     whitespace and digits... for differential testing of the edge cases
#
# Idempotent: existing outputs are kept. Uses 2 parallel jobs (PARALLEL=N to change).
# Environment: PY (default /work/venv-oracle/bin/python, needs abctoolkit==0.0.4),
#              MUSIC21_CORPUS (default /tmp/data/music21/corpus; unpacked from the music21
#              10.5.1 wheel, downloaded with pip when missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$REPO/testdata/corpora/abc}"
PY="${PY:-/work/venv-oracle/bin/python}"
PARALLEL="${PARALLEL:-2}"
M21="${MUSIC21_CORPUS:-/tmp/data/music21/corpus}"

if [ ! -d "$M21" ]; then
    wheel_dir=/tmp/data/d
    mkdir -p "$wheel_dir" /tmp/data/music21
    if ! ls "$wheel_dir"/music21-10.5.1-*.whl >/dev/null 2>&1; then
        "$PY" -m pip download --no-deps music21==10.5.1 -d "$wheel_dir"
    fi
    (cd /tmp/data && unzip -q -o "$wheel_dir"/music21-10.5.1-*.whl 'music21/corpus/*')
    M21=/tmp/data/music21/corpus
fi

XML2ABC="$("$PY" -c 'import abctoolkit, os; print(os.path.join(os.path.dirname(abctoolkit.__file__), "xml2abc.py"))')"
grep -q '^VERSION = 143' "$XML2ABC" || { echo "xml2abc.py is not VERSION 143: $XML2ABC" >&2; exit 1; }

mkdir -p "$OUT"
SPLIT="$HERE/split_abc_tunes.py"

# (a) music21 .abc collections, one file per tune; (d) the same with V:1 added.
for coll_dir in "$M21"/*/; do
    coll="$(basename "$coll_dir")"
    if ! find "$coll_dir" -name '*.abc' -print -quit | grep -q .; then continue; fi
    find "$coll_dir" -name '*.abc' -print0 | sort -z \
        | xargs -0 -n 64 -P "$PARALLEL" "$PY" "$SPLIT" "$coll_dir" "$OUT/$coll" >/dev/null
    find "$coll_dir" -name '*.abc' -print0 | sort -z \
        | xargs -0 -n 64 -P "$PARALLEL" "$PY" "$SPLIT" "$coll_dir" "$OUT/music21_v1/$coll" --add-v1 >/dev/null
done

# (b) xml2abc -d 8 -x of every MusicXML file (as batch_xml2abc.py: stdout, empty output skipped).
export PY XML2ABC OUT M21
convert_one() {
    src="$1"
    rel="${src#"$M21"/}"
    dest="$OUT/xml2abc/$rel.abc"          # e.g. xml2abc/bach/bwv66.6.mxl.abc (no .xml/.mxl clash)
    [ -e "$dest" ] || [ -e "$dest.xml2abc-empty" ] && return 0
    mkdir -p "$(dirname "$dest")"
    tmp="$dest.tmp.$$"
    PYTHONIOENCODING=utf-8 timeout 300 "$PY" "$XML2ABC" -d 8 -x "$src" >"$tmp" 2>/dev/null || true
    if [ -s "$tmp" ]; then mv "$tmp" "$dest"; else rm -f "$tmp"; : >"$dest.xml2abc-empty"; fi
}
export -f convert_one
find "$M21" \( -name '*.xml' -o -name '*.mxl' -o -name '*.musicxml' \) -print0 | sort -z \
    | xargs -0 -n 1 -P "$PARALLEL" bash -c 'convert_one "$0"'

# (c) Debian documentation examples.
for pkg in abcmidi abcm2ps; do
    d="/usr/share/doc/$pkg/examples"
    [ -d "$d" ] || continue
    tmpd="$(mktemp -d)"
    for f in "$d"/*.abc "$d"/*.abc.gz; do
        [ -e "$f" ] || continue
        case "$f" in
            *.gz) zcat "$f" >"$tmpd/$(basename "$f" .gz)" ;;
            *) cp "$f" "$tmpd/" ;;
        esac
    done
    find "$tmpd" -name '*.abc' -print0 | sort -z | xargs -0 -r "$PY" "$SPLIT" "$tmpd" "$OUT/debian_$pkg" >/dev/null
    rm -rf "$tmpd"
done

# (e) mutants: deterministic random edits of converted inputs, for differential testing.
"$PY" "$HERE/make_abc_mutants.py" "$OUT/xml2abc,$OUT/music21_v1,$OUT/debian_abcmidi,$OUT/debian_abcm2ps" \
    "$OUT/mutants" "${MUTANTS:-20000}" >/dev/null

echo "corpus                 files"
for c in "$OUT"/*/; do
    n=$(find "$c" -name '*.abc' | wc -l)
    printf '%-22s %6d\n' "$(basename "$c")" "$n"
done
n_empty=$(find "$OUT/xml2abc" -name '*.xml2abc-empty' 2>/dev/null | wc -l)
echo "xml2abc: $n_empty input(s) gave empty output (skipped, as the reference does)"
