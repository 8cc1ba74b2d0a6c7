#!/usr/bin/env python3
"""Pick the committed interleaving goldens (fixtures/abc) from the conformance corpora.

    pick_abc_fixtures.py CORPORA_ROOT ORACLE_ROOT FIXTURES_DIR

CORPORA_ROOT/ORACLE_ROOT as built by build_abc_corpora.sh and interleave_oracle.py. For each
entry of PICKS (a corpus folder and a regex its input must match, or an explicit file) the
smallest matching input that the reference converts is copied to FIXTURES_DIR/<name>.abc with
the oracle's output as <name>.interleaved.abc (and its printed warnings as <name>.warnings).
ERROR_PICKS go to FIXTURES_DIR/errors/<name>.abc with the reference's messages as
<name>.error. Inputs are copied byte for byte. Deterministic: ties go to the first path.
CRAFTED_ERRORS are small hand-written inputs for failure paths that the corpora do not reach;
their .error is what the oracle pipeline prints for them.
"""
import os
import re
import shutil
import sys

# (name, corpus folder, regex the input must match (bytes), regex the oracle's .log must match)
PICKS = [
    ("bach_chorale_a", "xml2abc/bach", rb"%%score", None),
    ("bach_chorale_volta", "xml2abc/bach", rb"\|1", None),
    ("bach_chorale_warnings", "xml2abc/bach", rb"V:4", rb"Odd bar duration"),
    ("xml2abc_tuplets", "xml2abc", rb"\(3", None),
    ("xml2abc_grace_notes", "xml2abc", rb"\{", None),
    ("xml2abc_annotation", "xml2abc", rb'"\^', None),
    ("xml2abc_decorations", "xml2abc", rb"![a-z]+!.*![a-z]+!", None),
    ("xml2abc_inline_key_change", "xml2abc", rb"\[K:", None),
    ("xml2abc_leadsheet_chords", "xml2abc/leadSheet", rb".", None),
    ("xml2abc_trecento", "xml2abc/trecento", rb"V:2", None),
    ("xml2abc_monteverdi", "xml2abc/monteverdi", rb"V:5", None),
    ("xml2abc_mozart", "xml2abc/mozart", rb"V:1", None),
    ("xml2abc_unequal_duration", "xml2abc", rb"V:2", rb"Unequal bar duration"),
    ("essen_v1_last_bar_unterminated", "music21_v1/essenFolksong", rb"O: Europa", None),
    ("essen_v1_china", "music21_v1/essenFolksong", rb"O: China", None),
    ("oneills_v1_voltas", "music21_v1/oneills1850", rb":\|2", None),
    ("oneills_v1_repeats", "music21_v1/oneills1850", rb"\|:.*:\|", None),
    ("airds_v1_triplets", "music21_v1/airdsAirs", rb"\(3", None),
    ("airds_v1_broken_rhythm", "music21_v1/airdsAirs", rb"[a-g]>[a-g]", None),
    ("ryans_v1_chords", "music21_v1/ryansMammoth", rb"\[[A-Ga-g][A-Ga-g]\]", None),
    ("ryans_v1_decorations", "music21_v1/ryansMammoth", rb"![a-z]+!", None),
    ("ryans_v1_unparsable_duration", "music21_v1/ryansMammoth", rb".", rb"Invalid literal"),
    ("josquin_v1", "music21_v1/josquin", rb".", None),
    ("miscfolk_v1_two_voices", "music21_v1/miscFolk", rb"V:2", None),
    ("miscfolk_fife_two_voices", "miscFolk", rb"V:2", None),
    ("abcmidi_demo", "debian_abcmidi", rb"V:2", None),
    ("abcmidi_example", "debian_abcmidi", rb".", None),
    ("abcm2ps_voices", "debian_abcm2ps/voices__0006.abc", None, None),
    ("abcm2ps_deco", "debian_abcm2ps/deco__0002.abc", None, None),
    ("abcm2ps_sample4", "debian_abcm2ps/sample4__0002.abc", None, None),
    ("mutant_crlf", "mutants", rb"\r\n", None),
    ("mutant_cr", "mutants", rb"[^\n]\r[^\n]", None),
    ("mutant_quote_with_barline", "mutants", rb'"\^a\|b"', None),
    ("mutant_escaped_quote", "mutants", rb'\\"', None),
    ("mutant_unicode_space", "mutants", "\u3000".encode(), None),
    ("mutant_info_separator", "mutants", b"\x1c", None),
    ("mutant_arabic_digit", "mutants", "\u0663".encode(), None),
    ("mutant_bom", "mutants", "\ufeff".encode(), None),
    ("mutant_repeated_voice", "mutants", rb"\nV:2[^\n]*\n(.|\n)*\nV:2", None),
    ("mutant_bar_number_comment", "mutants", rb"%\d+\r?\n", None),
    ("mutant_tuplet_spec", "mutants", rb"\(3:2:3", None),
]

# (name, corpus folder, regex of the oracle's .error)
ERROR_PICKS = [
    ("no_body_essen", "essenFolksong", rb"tunebody index not found"),
    ("no_body_oneills", "oneills1850", rb"tunebody index not found"),
    ("strip_index_error", "music21_v1", rb"Error in stripping empty bars: list index"),
    ("strip_unequal_bar_elements", "music21_v1", rb"Error in stripping empty bars: Unequal bar el"),
    ("unequal_bar_numbers", "mutants", rb"Unequal bar numbers"),
    ("empty_piece", "mutants", rb"Empty piece"),
    ("illegal_chord_symbol", "music21_v1", rb"Illegal symbol in \[\]"),
    ("illegal_chord_symbol_xml", "mutants", rb"Illegal symbol in \[\]"),
    ("alignment_index_error", "mutants", rb"^list index out of range"),
    ("alignment_unequal_bar_elements", "mutants", rb"^Unequal bar elements"),
    ("strip_index_error_mutant", "mutants", rb"Error in stripping empty bars: list index"),
]


# (name, input bytes): failure paths not reached by the corpora
CRAFTED_ERRORS = [
    # empty file: the batch driver only takes files of size > 0
    ("empty_input", b""),
    # V:1 bar 0 has no computable duration, so the check stops; the re-wrapped `a::b` then
    # gives V:1 two bars and V:2 one: rotate_abc raises IndexError ("Error in rotating")
    ("rotate_index_error", b"K:C\nV:1\nA3/:\n:b|\nV:2\nab|\n"),
    # the same without the unknown duration: the alignment check raises IndexError
    ("alignment_index_error_crafted", b"K:C\nV:1\na:\n:b|\nV:2\nab|\n"),
    # no music at all in V:2
    ("voice_without_music", b"K:C\nV:1\nabc|\nV:2\n"),
    # text and no barline
    ("voice_without_barline", b"K:C\nV:1\nabc\n"),
    # a leading barline and no closing one
    ("missing_right_barline", b"K:C\nV:1\n|abc|def\n"),
    # only rests
    ("empty_piece_rests", b"K:C\nV:1\nz4|x4|Z|\n"),
    # durations inside a chord
    ("illegal_chord_durations", b"K:C\nV:1\n[C2E2] z2|\n"),
]


def crafted_error(data: bytes) -> bytes:
    import contextlib
    import io

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from interleave_oracle import abc_pipeline

    if not data:
        return b"empty file (the batch driver skips files of size 0)\n"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            lines = abc_pipeline(data)
        except Exception as e:
            print(e)
            lines = None
    if lines is not None:
        raise SystemExit(f"crafted error input converts: {data!r}")
    return buf.getvalue().encode()


def walk(root):
    if os.path.isfile(root):
        yield root
        return
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".abc"):
                yield os.path.join(d, f)


def main():
    corpora, oracle, dest = sys.argv[1:4]
    os.makedirs(os.path.join(dest, "errors"), exist_ok=True)
    used = set()
    total = 0
    for name, folder, pattern, log_pattern in PICKS:
        best = None
        for path in sorted(walk(os.path.join(corpora, folder))):
            rel = os.path.relpath(path, corpora)
            stem = os.path.join(oracle, os.path.splitext(rel)[0])
            if rel in used or not os.path.exists(stem + ".abc"):
                continue
            data = open(path, "rb").read()
            if pattern is not None and not re.search(pattern, data):
                continue
            log = open(stem + ".log", "rb").read() if os.path.exists(stem + ".log") else b""
            if log_pattern is not None and not re.search(log_pattern, log):
                continue
            if best is None or len(data) < best[0]:
                best = (len(data), path, rel, stem, log)
        if best is None:
            print(f"no input for {name}", file=sys.stderr)
            continue
        _, path, rel, stem, log = best
        used.add(rel)
        shutil.copyfile(path, os.path.join(dest, name + ".abc"))
        shutil.copyfile(stem + ".abc", os.path.join(dest, name + ".interleaved.abc"))
        if log:
            with open(os.path.join(dest, name + ".warnings"), "wb") as f:
                f.write(log)
        total += os.path.getsize(path) + os.path.getsize(stem + ".abc") + len(log)
        print(f"{name:<32} <- {rel}")
    for name, folder, err_pattern in ERROR_PICKS:
        best = None
        for path in sorted(walk(os.path.join(corpora, folder))):
            rel = os.path.relpath(path, corpora)
            stem = os.path.join(oracle, os.path.splitext(rel)[0])
            if rel in used or not os.path.exists(stem + ".error"):
                continue
            err = open(stem + ".error", "rb").read()
            if not re.search(err_pattern, err, re.M):
                continue
            size = os.path.getsize(path)
            if best is None or size < best[0]:
                best = (size, path, rel, err)
        if best is None:
            print(f"no input for errors/{name}", file=sys.stderr)
            continue
        _, path, rel, err = best
        used.add(rel)
        shutil.copyfile(path, os.path.join(dest, "errors", name + ".abc"))
        with open(os.path.join(dest, "errors", name + ".error"), "wb") as f:
            f.write(err)
        total += os.path.getsize(path) + len(err)
        print(f"errors/{name:<25} <- {rel}")
    for name, data in CRAFTED_ERRORS:
        with open(os.path.join(dest, "errors", name + ".abc"), "wb") as f:
            f.write(data)
        with open(os.path.join(dest, "errors", name + ".error"), "wb") as f:
            f.write(crafted_error(data))
        print(f"errors/{name:<25} (crafted)")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
