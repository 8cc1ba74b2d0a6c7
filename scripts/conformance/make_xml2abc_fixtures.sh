#!/usr/bin/env bash
# Rebuild the committed MusicXML -> ABC goldens under fixtures/xml2abc/.
#
#   scripts/conformance/make_xml2abc_fixtures.sh [MUSIC21_CORPUS]
#
# 1. copies a small, feature-diverse sample of the music21 corpus (see the list below) to
#    fixtures/xml2abc/inputs/music21/ (same relative paths);
# 2. writes the hand-made probe scores (make_xml2abc_probes.py) to fixtures/xml2abc/inputs/probes/;
# 3. runs the reference oracle (xml2abc_oracle.py: xml2abc.py -d 8 -x, as the reference
#    pipeline runs it) over inputs/, writing expected/<path>.abc or expected/<path>.error.
#
# crates/musicxml/tests/conformance.rs compares the Rust converter with these byte for byte.
# Environment: PY (oracle interpreter, default /work/venv-oracle/bin/python).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CORPUS="${1:-/tmp/data/music21/corpus}"
PY="${PY:-/work/venv-oracle/bin/python}"
FIX="$REPO/fixtures/xml2abc"

# Small files covering: SATB chorales with lyrics, a .mxl whose score member is .musicxml
# (the reference prints nothing), chord symbols, several verses, nested tuplets, percussion,
# voices with chords, transposing instruments, lead sheets, early music, piano staves.
SAMPLE=(
    bach/bwv66.6.mxl
    bach/bwv10.7.mxl
    bach/bwv165.6.mxl
    bach/bwv248.23-s.mxl
    bach/bwv113.8.mxl
    demos/ComprehensiveChordSymbolsTestFile.mxl
    demos/multiple-verses.xml
    demos/chorale_with_parallels.mxl
    demos/chord_realization_exercise.mxl
    demos/incorrect_time_signature_pv.mxl
    demos/nested_tuplet_finale_test.xml
    demos/drum_sample.xml
    demos/voices_with_chords.xml
    demos/two-voices.xml
    leadSheet/fosterBrownHair.mxl
    leadSheet/berlinAlexandersRagtime.mxl
    theoryExercises/TriadExercise.mxl
    theoryExercises/checker_demo.mxl
    trecento/PMFC_13_01-Kyrie-Summe-Clementissime.mxl
    trecento/PMFC_13_02-Kyrie-Questa-fanciulla.mxl
    monteverdi/madrigal.4.9.mxl
    mozart/k545/movement1_exposition.mxl
    schoenberg/opus19/movement2.mxl
    schoenberg/opus19/movement6.mxl
    handel/rinaldo/Lascia_chio_pianga.mxl
    joplin/maple_leaf_rag.mxl
    ciconia/quod_jactatur.xml
)

rm -rf "$FIX/inputs" "$FIX/expected"
mkdir -p "$FIX/inputs/music21" "$FIX/inputs/probes"
for rel in "${SAMPLE[@]}"; do
    mkdir -p "$FIX/inputs/music21/$(dirname "$rel")"
    cp "$CORPUS/$rel" "$FIX/inputs/music21/$rel"
done
python3 "$HERE/make_xml2abc_probes.py" "$FIX/inputs/probes" >/dev/null

cd "$REPO"
"$PY" "$HERE/xml2abc_oracle.py" fixtures/xml2abc/inputs fixtures/xml2abc/expected -j 2
rm -f "$FIX/expected/timings.tsv"
du -sb "$FIX" | awk '{printf "fixtures/xml2abc: %d bytes\n", $1}'
