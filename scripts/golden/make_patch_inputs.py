#!/usr/bin/env python3
"""Build the input texts of the patchilizer goldens in fixtures/patches/ (run once; the
outputs are committed, so the goldens do not depend on this machine).

Sources (all public, see the paths below):
  * docs/reference.md §5.3/§5.4 worked examples (typed in here);
  * interleaved ABC: MusicXML from the music21 10.5.1 corpus -> abctoolkit 0.0.4's
    xml2abc.py (-d 8 -x, as preprocessing/abc/batch_xml2abc.py) -> the interleaving steps of
    preprocessing/abc/batch_interleaved_abc.py, calling abctoolkit's functions;
  * MTF: MIDI files of Debian packages -> a mido 1.3.0 driver following
    preprocessing/midi/batch_midi2mtf.py with m3_compatible = True;
  * hand-written edge cases.

Usage: /work/venv-oracle/bin/python scripts/golden/make_patch_inputs.py
Then:  /work/venv-oracle/bin/python scripts/golden/gen_patch_goldens.py
"""

import os
import re
import subprocess
import sys

import abctoolkit
import mido
from abctoolkit.check import check_alignment_unrotated
from abctoolkit.rotate import rotate_abc
from abctoolkit.utils import (Barlines, Quote_re, remove_bar_no_annotations,
                              remove_information_field, strip_empty_bars)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fixtures/patches")
CORPUS = os.environ.get("MUSIC21_CORPUS", "/tmp/data/music21/corpus")
XML2ABC = os.path.join(os.path.dirname(abctoolkit.__file__), "xml2abc.py")

# Short pieces, so the committed goldens stay small.
XML_FILES = [
    "bach/bwv66.6.mxl",
    "bach/bwv165.6.mxl",
    "bach/bwv248.23-s.mxl",
    "bach/bwv145-a.mxl",
    "bach/bwv125.6.mxl",
    "bach/bwv1.6.mxl",
    "bach/bwv10.7.mxl",
    "bach/bwv101.7.mxl",
    "bach/bwv102.7.mxl",
    "bach/bwv103.6.mxl",
    "bach/bwv104.6.mxl",
    "bach/bwv108.6.mxl",
    "leadSheet/fosterBrownHair.mxl",
    "schoenberg/opus19/movement2.mxl",
    "schoenberg/opus19/movement6.mxl",
    "demos/two-parts.xml",
    "demos/multiple-verses.xml",
    "demos/two-voices.xml",
    "monteverdi/madrigal.3.1.mxl",
]

MIDI_FILES = [
    "/usr/share/solfege/exercises/standard/lesson-files/share/fanfare.midi",
    "/usr/share/doc/pianobooster/courses/BoosterMusic/02-LavendersBlue.mid",
    "/usr/share/games/openttd/baseset/openmsx/train_filled_with_cash.mid",
]

SPEC_ABC = """%%score { 1 | 2 }
L:1/8
Q:1/4=120
M:3/4
K:G
V:1 treble nm="Piano" snm="Pno."
V:2 bass
[V:1]!mf!"^Allegro" d2 (GA Bc|[V:2][G,B,D]4 A,2|
[V:1]d2) .G2 .G2|][V:2]B,6|]
"""


def spec_mtf():
    lines = [
        "ticks_per_beat 480",
        "time_signature 3 4 24 8 0",
        "key_signature G 0",
        "set_tempo 500000 0",
        "program_change 0 0 0",
        "control_change 0 0 7 100",
        "control_change 0 0 10 64",
    ]
    for pitch in (60, 64, 67, 72, 76, 79, 84):
        lines += [f"note_on 0 0 {pitch} 80", f"note_on 240 0 {pitch} 0"]
    lines += ["pitchwheel 10 0 -200", "sysex 0 [1, 2, 3]", "end_of_track 0"]
    return "\n".join(lines)


EDGE_CASES = {
    # Non-ASCII in header, annotation and voice name; transliteration happens before splitting.
    "edge_nonascii.abc": (
        "%%score { 1 | 2 }\nL:1/8\nQ:1/4=96\nM:2/4\nK:F\n"
        "V:1 treble nm=\"Flöte\" snm=\"Fl.\"\nV:2 bass nm=\"Violoncello – Bässe\"\n"
        "[V:1]\"^Mäßig bewegt\" A2 c2|[V:2]F,4|\n"
        "[V:1]\"_très doux\" f2 e2|[V:2]C,4|\n"
        "[V:1]\"^北京 ♪\" d4|][V:2]F,,4|]\n"
    ),
    "edge_crlf.abc": "M:4/4\r\nL:1/8\r\nK:C\r\n[V:1]CDEF GABc|[V:2]C,8|\r\n[V:1]c8|][V:2]C,8|]\r\n",
    "edge_no_barline.abc": "M:4/4\nK:C\nCDEF GABc\n[V:1]cdef|\nno barline here\n",
    "edge_trailing_text.abc": "K:C\n[V:1]CDEF|GABc| trailing text\n[V:1]c4 z4|] % comment\n",
    "edge_long_bar.abc": (
        "K:C\n[V:1]" + "C/D/E/F/G/A/B/c/" * 9 + "|[V:2]C,8|\n"
        "[V:1]" + "!trill!c" * 12 + "|]\n"
    ),
    "edge_l14.abc": "L:1/4\nM:3/4\nK:D\n[V:1]DFA|[V:2]D,3|\nL:1/8\n[V:1]d6|][V:2]D,6|]\n",
    "edge_l18_eof.abc": "M:6/8\nK:G\n[V:1]GAB c2d|[V:2]G,3 D,3|\nL:1/8",
    "edge_lone_bar.abc": "M:4/4\nK:C\n[V:1]CDEF|\n|",
    "edge_lone_bar_newline.abc": "M:4/4\nK:C\n|\n[V:1]CDEF|\n||",
    "edge_headers.abc": (
        "%%score 1\n%comment line\nX:1\nT:Title\nw:lyrics | with bars\n1:|not header\n"
        "%%\n%\n:|\n[K:G]|GABc|\n"
    ),
    "edge_delimiters.abc": "|:ab::cd:|ef[|gh||ij|]kl|mn|:|::|:\n::\n|]\n[|x\n",
    "edge_only_text.abc": "just some text without any barline",
    "edge_unicode_newlines.abc": "K:C\n[V:1]C\u2028D|E\u2029F|\n[V:1]\u00bdG|\n",
    "edge_control_ids.abc": "K:C\n[V:1]\x01\x02\x03A|\x00B|\n",
    "edge_mtf_long_runs.mtf": "\n".join(
        ["ticks_per_beat 96", "set_tempo 500000 0"]
        + [f"note_on {i % 7} 0 {40 + i % 40} {i % 128}" for i in range(120)]
        + ["sysex 0 [" + ", ".join(str(i % 128) for i in range(60)) + "]",
           "sysex 0 [1]", "sysex 0 [2]",
           "control_change 0 0 64 127", "control_change 0 0 64 0",
           "end_of_track 0"]),
    "edge_mtf_prefix.mtf": (
        "ticks_per_beat 480\nticks_per_beat 5\nnote 1\nnote_on 0 0 60 64\nnote 2\n"
        " leading space\n\nnote_off 0 0 60 0\nnote_off 1 0 60 0\nend_of_track 0\n"
    ),
    "edge_mtf_crlf.mtf": "ticks_per_beat 480\r\nnote_on 0 0 60 64\r\nnote_on 10 0 60 0\r\nend_of_track 0",
    "edge_mtf_token_only.mtf": "ticks_per_beat",
    "edge_empty.abc": "",
    "edge_only_l18.abc": "L:1/8\nL:1/8\n",
    "edge_private_use.abc": "\ue000\U000f0001",
}


def xml_to_interleaved(path):
    """Standard ABC via xml2abc, then the interleaving steps of batch_interleaved_abc.py."""
    out = subprocess.run([sys.executable, XML2ABC, "-d", "8", "-x", path],
                         capture_output=True, check=True).stdout.decode("utf-8")
    abc_lines = out.splitlines(keepends=True)
    abc_lines = [line for line in abc_lines if line.strip() != ""]
    abc_lines = remove_information_field(
        abc_lines=abc_lines, info_fields=["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"])
    abc_lines = remove_bar_no_annotations(abc_lines)
    for i, line in enumerate(abc_lines):
        if not (re.search(r"^[A-Za-z]:", line) or line.startswith("%")):
            abc_lines[i] = line.replace(r"\"", "")
            for quote_content in re.findall(Quote_re, line):
                for barline in Barlines:
                    if barline in quote_content:
                        line = line.replace(quote_content, "")
                        abc_lines[i] = line
    stripped, _ = strip_empty_bars(abc_lines)
    if stripped is None:
        raise ValueError("failed to strip")
    check_alignment_unrotated(stripped)
    rotated = rotate_abc(stripped)
    if rotated is None:
        raise ValueError("failed to rotate")
    return "".join(rotated)


def midi_to_mtf(path):
    """batch_midi2mtf.py load_midi with m3_compatible = True."""
    skip = {"text", "copyright", "track_name", "instrument_name", "lyrics", "marker",
            "cue_marker", "device_name"}
    mid = mido.MidiFile(path)
    lines = ["ticks_per_beat " + str(mid.ticks_per_beat)]
    for msg in mid.merged_track:
        if msg.is_meta and msg.type in skip:
            continue
        s = " ".join(str(v) for v in msg.dict().values())
        lines.append(s.strip().encode("unicode_escape").decode("utf-8"))
    return "\n".join(lines)


def write(name, text):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("spec_abc_example.abc", SPEC_ABC)
    write("spec_mtf_example.mtf", spec_mtf())
    for rel in XML_FILES:
        name = "abc_" + re.sub(r"[^A-Za-z0-9]+", "_", os.path.splitext(rel)[0]) + ".abc"
        try:
            write(name, xml_to_interleaved(os.path.join(CORPUS, rel)))
        except Exception as e:  # the reference skips such files too
            print(f"skip {rel}: {e}")
    for path in MIDI_FILES:
        stem = os.path.splitext(os.path.basename(path))[0]
        write("mtf_" + re.sub(r"[^A-Za-z0-9]+", "_", stem) + ".mtf", midi_to_mtf(path))
    for name, text in EDGE_CASES.items():
        write(name, text)


if __name__ == "__main__":
    main()
