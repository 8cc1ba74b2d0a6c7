#!/usr/bin/env python3
"""Small hand-written MusicXML scores, one feature (or feature clash) each.

    make_xml2abc_probes.py OUT_DIR

Each probe isolates something the reference converter (xml2abc.py VERSION 143, `-d 8 -x`)
handles specially and that the music21 corpus exercises rarely or never: spanners whose
stop comes first, pedals, octave shifts, transposing parts, tablature, staff changes,
part groups, credits, lyric melismas, nested tuplets, broken rhythms, grace groups, tied
chords, voltas, measure repeats, accidentals, percussion maps, chord symbols, tempo marks,
invisible notes, overlaps, tremolos, wide characters in wrapped lines, and inputs that make
the reference print nothing. The files are written by this script (no third-party music),
so they can be committed as fixtures together with the oracle's output.
"""
import os
import sys

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">
"""


def note(step="C", octave=4, dur=2, typ="quarter", extra="", voice=None, staff=None,
         alter=None, pre="", rest=False, attrs=""):
    pitch = "<rest/>" if rest else (
        "<pitch><step>%s</step>%s<octave>%d</octave></pitch>"
        % (step, "" if alter is None else "<alter>%s</alter>" % alter, octave))
    v = "" if voice is None else "<voice>%s</voice>" % voice
    s = "" if staff is None else "<staff>%s</staff>" % staff
    d = "" if dur is None else "<duration>%d</duration>" % dur
    return "<note%s>%s%s%s%s<type>%s</type>%s%s</note>" % (attrs, pre, pitch, d, v, typ, s, extra)


def attrs(divs=2, fifths=0, mode="major", beats=4, btype=4, clefs=("G2",), extra="", staves=None):
    cl = ""
    for i, c in enumerate(clefs):
        num = ' number="%d"' % (i + 1) if len(clefs) > 1 else ""
        if c == "perc":
            cl += "<clef%s><sign>percussion</sign></clef>" % num
        elif c == "TAB":
            cl += "<clef%s><sign>TAB</sign><line>5</line></clef>" % num
        else:
            cl += "<clef%s><sign>%s</sign><line>%s</line></clef>" % (num, c[0], c[1])
    st = "" if staves is None else "<staves>%d</staves>" % staves
    return ("<attributes><divisions>%d</divisions><key><fifths>%d</fifths><mode>%s</mode></key>"
            "<time><beats>%d</beats><beat-type>%d</beat-type></time>%s%s%s</attributes>"
            % (divs, fifths, mode, beats, btype, st, cl, extra))


def score(parts, partlist=None, head="", root="score-partwise"):
    if partlist is None:
        partlist = "".join(
            '<score-part id="P%d"><part-name>Part %d</part-name></score-part>' % (i + 1, i + 1)
            for i in range(len(parts)))
    body = ""
    for i, measures in enumerate(parts):
        body += '<part id="P%d">' % (i + 1)
        for j, m in enumerate(measures):
            body += '<measure number="%d">%s</measure>' % (j + 1, m)
        body += "</part>"
    return HEAD + '<%s version="3.1">%s<part-list>%s</part-list>%s</%s>\n' % (
        root, head, partlist, body, root)


def bar(*notes):
    return "".join(notes)


Q = lambda s="C", o=4, **k: note(s, o, 2, "quarter", **k)
E = lambda s="C", o=4, **k: note(s, o, 1, "eighth", **k)
H = lambda s="C", o=4, **k: note(s, o, 4, "half", **k)
W = lambda s="C", o=4, **k: note(s, o, 8, "whole", **k)
REST = lambda d=8: note(dur=d, typ="whole", rest=True)


def direction(inner, placement=None, staff=None, sound=""):
    p = "" if placement is None else ' placement="%s"' % placement
    s = "" if staff is None else "<staff>%d</staff>" % staff
    return "<direction%s><direction-type>%s</direction-type>%s%s</direction>" % (p, inner, s, sound)


PROBES = {}


def probe(name):
    def deco(f):
        PROBES[name] = f
        return f
    return deco


@probe("octave_shift")
def _():
    m1 = attrs() + direction('<octave-shift type="down" size="8"/>') + Q("C", 6) + Q("D", 6) + Q() + Q()
    m2 = Q("E", 6) + direction('<octave-shift type="stop" size="8"/>') + Q("F", 6) + H()
    m3 = direction('<octave-shift type="up" size="8"/>') + H("C", 2) + direction('<octave-shift type="stop"/>') + H("D", 2)
    return score([[m1, m2, m3]])


@probe("spanner_stop_first")
def _():
    m1 = attrs() + Q() + direction('<wedge type="stop"/>') + Q() + Q() + Q()
    m2 = direction('<wedge type="crescendo"/>') + H() + direction('<wedge type="diminuendo" number="2"/>') + H()
    m3 = H() + direction('<wedge type="stop" number="2"/>') + H()
    return score([[m1, m2, m3]])


@probe("pedal")
def _():
    m1 = attrs() + direction('<pedal type="start" line="yes"/>') + H() + direction('<pedal type="stop"/>') + H()
    m2 = direction('<pedal type="start"/>') + direction('<pedal type="start"/>') + W()
    m3 = direction('<pedal type="stop"/>') + W()
    return score([[m1, m2, m3]])


@probe("pedal_change_fails")
def _():
    m1 = attrs() + direction('<pedal type="start"/>') + H() + direction('<pedal type="change"/>') + H()
    return score([[m1]])


@probe("transposing_parts")
def _():
    tr = "<transpose><diatonic>-1</diatonic><chromatic>-2</chromatic></transpose>"
    p1 = [attrs(fifths=2, extra=tr) + W("D", 5), attrs(fifths=3) + W("E", 5)]
    p2 = [attrs(fifths=0) + W(), W("G")]
    tr2 = "<transpose><chromatic>-3</chromatic><octave-change>-1</octave-change></transpose>"
    p3 = [attrs(fifths=3, mode="minor", extra=tr2) + W("A", 4), W("B", 4)]
    return score([p1, p2, p3])


@probe("tab_staff")
def _():
    sd = "<staff-details><staff-lines>6</staff-lines><staff-tuning line='1'><tuning-step>E</tuning-step><tuning-octave>2</tuning-octave></staff-tuning><staff-tuning line='2'><tuning-step>A</tuning-step><tuning-octave>2</tuning-octave></staff-tuning><capo>2</capo></staff-details>"
    tech = "<notations><technical><string>5</string><fret>3</fret><fingering>2</fingering></technical></notations>"
    m1 = attrs(clefs=("TAB",), extra=sd) + Q("C", 3, extra="<stem>none</stem>" + tech) + Q("D", 3, extra="<stem>none</stem>") + H(rest=True) if False else \
        attrs(clefs=("TAB",), extra=sd) + Q("C", 3, extra="<stem>none</stem>" + tech) + Q("D", 3, extra="<stem>none</stem>") + note(dur=4, typ="half", rest=True)
    m2 = direction("<other-direction>diatonic fretting</other-direction>") + W("E", 3, extra="<stem>none</stem>")
    return score([[m1, m2]])


@probe("piano_staves")
def _():
    m1 = (attrs(clefs=("G2", "F4"), staves=2)
          + Q("E", 5, voice=1, staff=1) + Q("F", 5, voice=1, staff=1) + Q("G", 5, voice=1, staff=1) + Q("A", 5, voice=1, staff=1)
          + "<backup><duration>8</duration></backup>"
          + H("C", 5, voice=2, staff=1) + H("D", 5, voice=2, staff=1)
          + "<backup><duration>8</duration></backup>"
          + W("C", 3, voice=5, staff=2))
    m2 = (Q("E", 5, voice=1, staff=1) + Q("C", 4, voice=1, staff=2) + Q("D", 4, voice=1, staff=2) + Q("G", 5, voice=1, staff=1)
          + "<backup><duration>8</duration></backup>"
          + H("C", 3, voice=5, staff=2)
          + "<attributes><clef number='2'><sign>G</sign><line>2</line></clef></attributes>"
          + H("C", 4, voice=5, staff=2))
    m3 = W("C", 5, voice=1, staff=1) + "<backup><duration>8</duration></backup>" + W("C", 4, voice=5, staff=2)
    pl = '<score-part id="P1"><part-name>Piano</part-name><part-abbreviation>Pno.</part-abbreviation></score-part>'
    return score([[m1, m2, m3]], partlist=pl)


@probe("part_groups")
def _():
    pl = ('<part-group number="1" type="start"><group-name>Strings</group-name><group-abbreviation>Str.</group-abbreviation>'
          '<group-symbol>bracket</group-symbol><group-barline>yes</group-barline></part-group>'
          '<score-part id="P1"><part-name>Violin I</part-name><part-abbreviation>Vl. I</part-abbreviation></score-part>'
          '<part-group number="2" type="start"><group-symbol>brace</group-symbol></part-group>'
          '<score-part id="P2"><part-name>Violin II</part-name></score-part>'
          '<score-part id="P3"><part-name>Viola</part-name></score-part>'
          '<part-group number="1" type="stop"/><part-group number="2" type="stop"/>'
          '<part-group number="3" type="start"><group-name>Solo</group-name><group-abbreviation>S</group-abbreviation></part-group>'
          '<score-part id="P4"><part-name>Cello</part-name><part-abbreviation>Vc.</part-abbreviation></score-part>'
          '<part-group number="3" type="stop"/>'
          '<part-group number="4" type="stop"/>'
          '<part-group number="5" type="start"/>'
          '<score-part id="P5"><part-name>Bass\nline</part-name></score-part>')
    parts = [[attrs() + W()], [attrs() + W("D")], [attrs(clefs=("C3",)) + W("E")],
             [attrs(clefs=("F4",)) + W("F", 3)], [attrs(clefs=("F4",)) + W("G", 2)]]
    return score(parts, partlist=pl)


@probe("part_group_repeated_start")
def _():
    pl = ('<part-group number="1" type="start"><group-symbol>brace</group-symbol></part-group>'
          '<score-part id="P1"><part-name>A</part-name></score-part>'
          '<part-group number="1" type="start"><group-symbol>line</group-symbol><group-barline>yes</group-barline></part-group>'
          '<score-part id="P2"><part-name>B</part-name></score-part>'
          '<score-part id="P3"><part-name>C</part-name></score-part>')
    return score([[attrs() + W()], [attrs() + W()], [attrs() + W()]], partlist=pl)


@probe("more_parts_than_list_fails")
def _():
    pl = '<score-part id="P1"><part-name>A</part-name></score-part>'
    return score([[attrs() + W()], [attrs() + W()]], partlist=pl)


@probe("credits_only")
def _():
    head = ('<identification><creator type="composer">Anon.\n  Second line</creator>'
            '<creator type="lyricist">Someone</creator><creator type="arranger">Arr.</creator>'
            '<rights>(c) 2024\nAll rights</rights></identification>'
            '<credit page="1"><credit-words>A Credit Title</credit-words></credit>'
            '<credit page="1"><credit-words>Anon.</credit-words></credit>'
            '<credit page="1"><credit-words>12 - 34</credit-words></credit>'
            '<credit page="1"><credit-words>Music by Someone</credit-words></credit>'
            '<credit page="1"><credit-words>Sub</credit-words><credit-words>title\n  continued</credit-words></credit>')
    return score([[attrs() + W()]], head=head)


@probe("movement_title_only")
def _():
    head = ('<movement-title>Mvt. I\nAllegro</movement-title>'
            '<credit page="1"><credit-words>Ignored credit</credit-words></credit>')
    return score([[attrs() + W()]], head=head)


@probe("composer_only")
def _():
    head = '<identification><creator type="composer">Just A. Composer</creator></identification>'
    return score([[attrs() + W()]], head=head)


def lyr(text, syl="single", num=None, extend=False, extra=""):
    n = "" if num is None else ' number="%s"' % num
    return "<lyric%s><syllabic>%s</syllabic><text>%s</text>%s%s</lyric>" % (
        n, syl, text, "<extend/>" if extend else "", extra)


@probe("lyrics_melisma")
def _():
    m1 = attrs() + Q(extra=lyr("Hal", "begin", 1) + lyr("Glo", "begin", 2)) + Q("D", extra=lyr("le", "middle", 1) + lyr("ri", "middle", 2)) \
        + Q("E", extra=lyr("lu", "middle", 1, extend=True)) + Q("F", extra=lyr("a", "end", 2))
    m2 = Q("G") + Q("A") + note(dur=2, typ="quarter", rest=True) + Q("B", extra=lyr("jah", "end", 1))
    m3 = Q(extra=lyr("a_b-c d", num="3", extend=True)) + Q() + H()
    m4 = H() + H(extra=lyr("x", num="verse1") + lyr("y", num="0"))
    m5 = W(extra='<lyric number="1"><text>mi</text><elision/><text>o</text></lyric>')
    return score([[m1, m2, m3, m4, m5]])


@probe("lyrics_bad_number_fails")
def _():
    return score([[attrs() + W(extra=lyr("x", num="chorus"))]])


@probe("tuplets")
def _():
    t3 = "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>"
    t5 = "<time-modification><actual-notes>5</actual-notes><normal-notes>4</normal-notes></time-modification>"
    st = "<notations><tuplet type='start'/></notations>"
    sp = "<notations><tuplet type='stop'/></notations>"
    m1 = attrs(divs=6) + note("C", 4, 2, "eighth", extra=t3 + st) + note("D", 4, 2, "eighth", extra=t3) + note("E", 4, 2, "eighth", extra=t3 + sp) \
        + note("F", 4, 6, "quarter") + note("G", 4, 12, "half")
    m2 = "".join(note(s, 5, 1, "16th", extra=t3 + (st if i == 0 else sp if i == 5 else "")) for i, s in enumerate("CDEFGA")) \
        + note("B", 4, 6, "quarter") + note("C", 5, 12, "half")
    m3 = "<attributes><divisions>10</divisions></attributes>" + "".join(
        note(s, 4, 8, "quarter", extra=t5 + (st if i == 0 else sp if i == 4 else "")) for i, s in enumerate("CDEFG"))
    m4 = "".join(note(s, 4, 8, "quarter", extra=t5) for s in "CDEFG")
    return score([[m1, m2, m3, m4]])


@probe("nested_tuplets")
def _():
    t3 = "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>"
    t9 = "<time-modification><actual-notes>9</actual-notes><normal-notes>4</normal-notes></time-modification>"
    m1 = (attrs(divs=18)
          + note("C", 4, 12, "quarter", extra=t3 + "<notations><tuplet type='start' number='1'/></notations>")
          + note("D", 4, 4, "eighth", extra=t9 + "<notations><tuplet type='start' number='2'/></notations>")
          + note("E", 4, 4, "eighth", extra=t9)
          + note("F", 4, 4, "eighth", extra=t9 + "<notations><tuplet type='stop' number='2'/><tuplet type='stop' number='1'/></notations>")
          + note("G", 4, 36, "half"))
    return score([[m1]])


@probe("broken_rhythm")
def _():
    m1 = attrs(divs=4) + note("C", 4, 3, "eighth", extra="<beam number='1'>begin</beam>") \
        + note("D", 4, 1, "16th", extra="<beam number='1'>end</beam>") \
        + note("E", 4, 1, "16th", extra="<beam number='1'>begin</beam>") \
        + note("F", 4, 3, "eighth", extra="<beam number='1'>end</beam>") \
        + note("G", 4, 6, "quarter") + note("A", 4, 2, "eighth", extra="<beam number='1'>end</beam>")
    m2 = note("C", 4, 2, "eighth", extra="<beam number='1'>begin</beam>") + note(dur=2, typ="eighth", rest=True) \
        + note("E", 4, 2, "eighth", extra="<beam number='1'>end</beam>") + note("F", 4, 10, "half")
    return score([[m1, m2]])


@probe("grace_notes")
def _():
    m1 = attrs() + Q() + Q() + Q() + Q("D") \
        + note("E", 4, None, "eighth", pre="<grace slash='yes'/>", extra="<notations><slur type='start'/></notations>") \
        + note("G", 4, None, "eighth", pre="<grace slash='yes'/><chord/>")
    m2 = Q("F", extra="<notations><slur type='stop'/></notations>") + note("A", 4, None, "16th", pre="<grace/>") \
        + note("B", 4, None, "16th", pre="<grace/>") + Q("C", 5) + H()
    return score([[m1, m2]])


@probe("ties_and_chords")
def _():
    ts = "<tie type='start'/><notations><tied type='start'/></notations>"
    tp = "<tie type='stop'/><notations><tied type='stop'/></notations>"
    m1 = attrs() + H("C", extra=ts) + note("E", 4, 4, "half", pre="<chord/>", extra=ts) \
        + H("C", extra=ts) + note("G", 4, 4, "half", pre="<chord/>")
    m2 = H("C", extra=tp) + note("E", 4, 4, "half", pre="<chord/>", extra=tp) + H("F", 4, alter=1, extra=ts)
    m3 = H("F", 4, alter=1, extra=tp) + H("F", 4, alter=1) + "<forward><duration>0</duration></forward>"
    return score([[m1, m2, m3]])


@probe("voltas_and_repeats")
def _():
    left_rep = "<barline location='left'><bar-style>heavy-light</bar-style><repeat direction='forward'/></barline>"
    m1 = attrs() + left_rep + W()
    m2 = "<barline location='left'><ending number='1, 2' type='start'/></barline>" + W("D") \
        + "<barline location='right'><bar-style>light-heavy</bar-style><ending number='1, 2' type='stop'/><repeat direction='backward'/></barline>"
    m3 = "<barline location='left'><ending number='3' type='start'>3.</ending></barline>" + W("E") \
        + "<barline location='right'><ending number='3' type='discontinue'/></barline>"
    m4 = left_rep + W("F") + "<barline location='right'><bar-style>light-light</bar-style></barline>"
    m5 = "<barline location='left'><ending number='last time' type='start'/></barline>" + W("G") \
        + "<barline location='right'><repeat direction='backward'/></barline>"
    m6 = left_rep + W("A") + "<barline><bar-style>light-heavy</bar-style></barline>"
    return score([[m1, m2, m3, m4, m5, m6]])


@probe("measure_repeats")
def _():
    st = "<attributes><measure-style><measure-repeat type='start'>1</measure-repeat></measure-style></attributes>"
    sp = "<attributes><measure-style><measure-repeat type='stop'/></measure-style></attributes>"
    m = [attrs() + W(), st + REST(), REST(), sp + W("D"),
         "<attributes><measure-style><measure-repeat type='start'>2</measure-repeat></measure-style></attributes>" + REST(),
         REST(), REST(), sp + W("E"),
         "<attributes><measure-style><measure-repeat type='start'/></measure-style></attributes>" + REST(), REST()]
    return score([m])


@probe("accidentals")
def _():
    m1 = attrs(fifths=2) + Q("F", 4) + Q("F", 4, alter=0) + Q("F", 4) + Q("C", 5, alter=1)
    m2 = Q("F", 4, alter=1) + Q("B", 4, alter=-1) + Q("B", 4, alter=-1) + Q("B", 4)
    m3 = Q("G", 4, alter="1.0", extra="<accidental parentheses='yes'>sharp</accidental>") \
        + Q("G", 4, alter=1, extra="<accidental>sharp</accidental>") \
        + Q("E", 4, alter=-2) + Q("D", 4, alter=2, extra="<accidental>double-sharp</accidental>")
    ts = "<tie type='start'/>"
    m4 = H("A", 4, alter=-1, extra=ts) + Q("A", 4, alter=-1, extra="<tie type='stop'/>") + Q("A", 4, alter="0.5")
    m5 = Q("C", 6, alter=1) + Q("C", 3, alter=-1, extra="<accidental>flat-flat</accidental>") + H("E", 4, extra="<accidental>natural</accidental>")
    return score([[m1, m2, m3, m4, m5]])


@probe("accidental_quarter_tone_fails")
def _():
    return score([[attrs() + W("C", 4, alter="0.5", extra="<accidental>quarter-sharp</accidental>")]])


@probe("percussion")
def _():
    pl = ('<score-part id="P1"><part-name>Drums</part-name>'
          '<score-instrument id="P1-I36"><instrument-name>Bass Drum</instrument-name></score-instrument>'
          '<score-instrument id="P1-I39"><instrument-name>Snare</instrument-name></score-instrument>'
          '<score-instrument id="P1-I43"><instrument-name>Hi-Hat</instrument-name></score-instrument>'
          '<midi-instrument id="P1-I36"><midi-channel>10</midi-channel><midi-program>1</midi-program><midi-unpitched>36</midi-unpitched><volume>80</volume><pan>-30</pan></midi-instrument>'
          '<midi-instrument id="P1-I39"><midi-channel>10</midi-channel><midi-unpitched>39</midi-unpitched></midi-instrument>'
          '<midi-instrument id="P1-I43"><midi-channel>10</midi-channel><midi-unpitched>43</midi-unpitched></midi-instrument>'
          '</score-part>'
          '<score-part id="P2"><part-name>Toms</part-name></score-part>')

    def un(step, octv, inst, head="", dur=2, typ="quarter", chord=False, voice=1):
        h = "<notehead%s>%s</notehead>" % (' filled="no"' if head == "diamond" else "", head) if head else ""
        return ("<note>%s<unpitched><display-step>%s</display-step><display-octave>%d</display-octave></unpitched>"
                "<duration>%d</duration><instrument id='%s'/><voice>%d</voice><type>%s</type><stem>up</stem>%s</note>"
                % ("<chord/>" if chord else "", step, octv, dur, inst, voice, typ, h))
    m1 = attrs(clefs=("perc",)) + un("F", 4, "P1-I36") + un("G", 5, "P1-I43", "x", chord=True) + un("C", 5, "P1-I39") \
        + un("F", 4, "P1-I36") + un("D", 5, "P1-I39", "diamond")
    m2 = un("G", 5, "P1-I43", "x", 8, "whole")
    p2 = [attrs(clefs=("F4",)) + "<note><unpitched><display-step>A</display-step><display-octave>2</display-octave></unpitched><duration>8</duration><type>whole</type><notehead>triangle</notehead></note>",
          "<note><unpitched><display-step>B</display-step><display-octave>3</display-octave></unpitched><duration>8</duration><type>whole</type></note>"]
    return score([[m1, m2], p2], partlist=pl)


@probe("chord_symbols")
def _():
    def harm(root, kind, alter=None, bass=None, text=None, degrees=""):
        r = "<root><root-step>%s</root-step>%s</root>" % (root, "" if alter is None else "<root-alter>%s</root-alter>" % alter)
        k = "<kind%s>%s</kind>" % ("" if text is None else ' text="%s"' % text, kind)
        b = "" if bass is None else "<bass><bass-step>%s</bass-step></bass>" % bass
        return "<harmony>%s%s%s%s</harmony>" % (r, k, b, degrees)
    m1 = attrs() + harm("C", "major") + Q() + harm("A", "minor") + Q() + harm("D", "dominant-ninth") + Q() + harm("G", "suspended-fourth") + Q()
    m2 = harm("B", "half-diminished", alter=-1) + Q() + harm("E", "major-sixth", bass="G") + Q() \
        + harm("F", "none", alter=1, text="N.C.") + Q() \
        + harm("D", "dominant", degrees="<degree><degree-value>9</degree-value><degree-alter>-1</degree-alter><degree-type>add</degree-type></degree>") + Q()
    m3 = harm("C", "major-seventh") + Q() + harm("C", "augmented-seventh") + Q() + harm("C", "Tristan") + Q() + harm("C", "minor-11th") + Q()
    return score([[m1, m2, m3]])


@probe("words_and_marks")
def _():
    m1 = attrs() + direction('<words>dolce "cantabile"</words>', "below") + Q() \
        + direction('<words default-y="-40">sotto\nvoce</words><words> e piano </words>') + Q() \
        + direction("<rehearsal>A</rehearsal>") + Q() + direction("<dynamics><mf/><sfz/></dynamics>") + Q()
    m2 = direction("<segno/>") + Q() + direction("<coda/>") + Q() \
        + direction("<words>D.S. al Coda</words>", sound="<sound dalsegno='segno'/>") + Q() \
        + direction("<dynamics><other-dynamics>sfp</other-dynamics></dynamics>") + Q()
    return score([[m1, m2]])


@probe("tempo_marks")
def _():
    m1 = attrs() + direction("<metronome><beat-unit>quarter</beat-unit><beat-unit-dot/><per-minute>ca 72.5</per-minute></metronome>") + W()
    m2 = direction("<metronome><beat-unit>half</beat-unit><per-minute>60</per-minute></metronome>", sound="<sound tempo='120'/>") + H() \
        + direction("<words>rit.</words>", sound="<sound tempo='100.5'/>") + H()
    m3 = "<sound tempo='50'/>" + W()
    return score([[m1, m2, m3], [attrs() + W(), W(), W()]])


@probe("metronome_abbreviation_fails")
def _():
    # "c. 72" : the first run of digits and dots is "." (not a number)
    m1 = attrs() + direction("<metronome><beat-unit>quarter</beat-unit><per-minute>c. 72</per-minute></metronome>") + W()
    return score([[m1]])


@probe("metronome_without_number_fails")
def _():
    m1 = attrs() + direction("<metronome><beat-unit>quarter</beat-unit><beat-unit>half</beat-unit></metronome>") + W()
    return score([[m1]])


@probe("invisible_and_forward")
def _():
    m1 = attrs() + Q(attrs=' print-object="no"') + note("E", 4, 2, "quarter", pre="<chord/>", attrs=' print-object="no"') \
        + "<forward><duration>2</duration></forward>" + H()
    m2 = note(dur=4, typ="half", rest=True, attrs=' print-object="no"') + H() + "<backup><duration>8</duration></backup>" \
        + H("G", 5, voice=2) + "<forward><duration>4</duration><voice>2</voice></forward>"
    return score([[m1, m2]])


@probe("overlaps")
def _():
    m1 = attrs() + H() + "<backup><duration>2</duration></backup>" + H("E") + Q("F") + "<backup><duration>1</duration></backup>" + note(dur=1, typ="eighth", rest=True)
    m2 = H(rest=True) + "<backup><duration>2</duration></backup>" + H("G") + Q() + Q()
    m3 = W() + "<backup><duration>8</duration></backup>" + note(dur=4, typ="half", rest=True) + H("D")
    return score([[m1, m2, m3]])


@probe("tremolos")
def _():
    m1 = attrs() + Q(extra="<notations><ornaments><tremolo type='single'>3</tremolo></ornaments></notations>") \
        + Q(extra="<notations><ornaments><tremolo>2</tremolo></ornaments></notations>")
    t = "<time-modification><actual-notes>2</actual-notes><normal-notes>1</normal-notes></time-modification>"
    m1 += note("C", 4, 2, "half", extra=t + "<notations><ornaments><tremolo type='start'>2</tremolo></ornaments></notations>") \
        + note("E", 4, 2, "half", extra=t + "<notations><ornaments><tremolo type='stop'>2</tremolo></ornaments></notations>")
    return score([[m1]])


@probe("ornaments_and_articulations")
def _():
    def n(x, s="C"):
        return Q(s, extra="<notations>%s</notations>" % x)
    m1 = attrs() + n("<ornaments><trill-mark/><wavy-line type='start'/></ornaments>") + n("<ornaments><wavy-line type='stop'/></ornaments>") \
        + n("<ornaments><mordent/><inverted-turn/></ornaments><fermata/>") + n("<articulations><accent/><staccato/><tenuto/></articulations><arpeggiate/>")
    m2 = n("<technical><up-bow/><fingering>4</fingering></technical>") + n("<glissando type='start' line-type='wavy'/>") \
        + n("<glissando type='stop'/><slide type='start'/>", "E") + n("<slide type='stop'/><articulations><detached-legato/><breath-mark/></articulations>")
    m3 = Q(extra="<stem>none</stem>") + Q(extra="<notations><slur type='start' number='1'/><slur type='start' number='1'/></notations>") \
        + Q(extra="<notations><slur type='stop'/></notations>") + Q(extra="<notations><slur type='stop' number='3'/></notations>")
    return score([[m1, m2, m3]])


@probe("wide_characters_wrap")
def _():
    words = ["Ünïcødé — “quoted” 音楽", "Ελληνικά λόγια", "Кириллица", "ÀÉÎÕÜ ñ ç"]
    ms = [attrs() + direction("<words>%s</words>" % words[0]) + W(extra=lyr("Grüß"))]
    for i in range(1, 24):
        ms.append(direction("<words>%s</words>" % words[i % 4]) + H("D", extra=lyr("é%d" % i, "begin")) + H("E", extra=lyr("ß", "end")))
    head = "<work><work-title>Tëst «wide» 曲</work-title></work>"
    return score([ms], head=head)


@probe("divisions_and_meter_changes")
def _():
    m1 = attrs(divs=1, beats=3, btype=4) + note("C", 4, 1, "quarter") + note("D", 4, 1, "quarter") + note("E", 4, 1, "quarter")
    m2 = "<attributes><divisions>4</divisions><time><beats>6</beats><beat-type>8</beat-type></time></attributes>" + note("F", 4, 6, "quarter") + note("G", 4, 6, "quarter")
    m3 = note("A", 4, 6, "quarter") + "<attributes><key><fifths>-3</fifths><mode>dorian</mode></key><time><beats>2</beats><beat-type>2</beat-type></time></attributes>" + note("B", 4, 6, "quarter")
    m4 = "<attributes><key><fifths>1</fifths><mode>lydian</mode></key><clef><sign>C</sign><line>4</line></clef></attributes>" + note("C", 5, 16, "whole")
    return score([[m1, m2, m3, m4]])


@probe("clef_octave_change")
def _():
    m1 = attrs(clefs=("G2",), extra="") .replace("<line>2</line></clef>", "<line>2</line><clef-octave-change>-1</clef-octave-change></clef>") + H("C", 4) + H("G", 3)
    m2 = "<attributes><clef><sign>F</sign><line>4</line><clef-octave-change>-2</clef-octave-change></clef></attributes>" + W("C", 2)
    m3 = "<attributes><clef><sign>G</sign><line>2</line><clef-octave-change>1</clef-octave-change></clef></attributes>" + W("C", 6)
    return score([[m1, m2, m3]])


@probe("multi_measure_rest")
def _():
    ms = [attrs() + W(), "<attributes><measure-style><multiple-rest>3</multiple-rest></measure-style></attributes>" + REST(),
          REST(), REST(), W("D")]
    return score([ms])


@probe("empty_voice_and_words_only_voice")
def _():
    m1 = attrs() + W() + "<backup><duration>8</duration></backup>" + note(dur=8, typ="whole", rest=True, voice=2)
    p2 = [attrs() + note(dur=8, typ="whole", rest=True) + "<backup><duration>8</duration></backup>"
          + direction("<words>tacet</words>") + note(dur=8, typ="whole", rest=True, voice=2)]
    return score([[m1], p2])


@probe("direction_on_staff_without_notes_fails")
def _():
    p2 = [attrs() + direction("<words>tacet</words>") + "<forward><duration>8</duration></forward>"]
    return score([[attrs() + W()], p2])


@probe("no_notes")
def _():
    return score([[attrs() + REST()]])


@probe("score_timewise")
def _():
    return HEAD + ('<score-timewise version="3.1"><part-list><score-part id="P1"><part-name>A</part-name></score-part></part-list>'
                   '<measure number="1"><part id="P1">%s</part></measure></score-timewise>\n' % (attrs() + W()))


@probe("namespaced")
def _():
    return score([[attrs() + W()]]).replace('<score-partwise version="3.1">', '<score-partwise xmlns="http://example.org/mx" version="3.1">')


@probe("no_part_list")
def _():
    return HEAD + '<score-partwise version="3.1"><part id="P1"><measure number="1">%s</measure></part></score-partwise>\n' % (attrs() + W())


@probe("malformed")
def _():
    return score([[attrs() + W()]]).replace("</part>", "")


@probe("sibelius_voices")
def _():
    head = "<identification><encoding><software>Sibelius 7.1</software></encoding></identification>"
    m1 = (attrs(clefs=("G2", "F4"), staves=2) + Q("E", 5, voice=1, staff=1) + Q("F", 5, voice=1, staff=1) + H("G", 5, voice=1, staff=1)
          + "<backup><duration>8</duration></backup>" + W("C", 3, voice=1, staff=2))
    return score([[m1]], head=head)


def encoding_probes():
    """The same small score in several byte encodings (name -> bytes)."""
    body = score([[attrs() + W()]]).split("\n", 1)[1]  # without the XML declaration
    named = body.replace("<part-name>Part 1</part-name>", "<part-name>%s</part-name>")
    decl = "<?xml version='1.0' encoding='%s'?>\n"
    return {
        "enc_latin1": (decl % "ISO-8859-1" + named % "Caf\u00e9 \u00c4").encode("latin-1"),
        "enc_latin1_alias": (decl % "latin1" + named % "Caf\u00e9").encode("latin-1"),
        "enc_cp1252": (decl % "windows-1252" + named % "\u20ac \u201cq\u201d").encode("cp1252"),
        "enc_latin9": (decl % "ISO-8859-15" + named % "\u20ac \u0160").encode("iso8859_15"),
        "enc_utf16be_bom": (decl % "UTF-16" + named % "\u00c4\u20ac\u97f3").encode("utf-16-be").join([b"\xfe\xff", b""]),
        "enc_utf16le_no_bom": (decl % "UTF-16" + named % "\u00c4\u20ac").encode("utf-16-le"),
        "enc_bom_then_latin1": b"\xef\xbb\xbf" + (decl % "ISO-8859-1" + named % "\u00c4").encode("utf-8"),
        "enc_utf8_misnamed_fails": (decl % "UTF8" + named % "\u00c4").encode("utf-8"),
        "enc_ascii_with_8bit_fails": (decl % "US-ASCII" + named % "\u00c4").encode("utf-8"),
        "enc_shift_jis_fails": (decl % "Shift_JIS" + named % "abc").encode("shift_jis"),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "probes"
    os.makedirs(out, exist_ok=True)
    for name, f in PROBES.items():
        with open(os.path.join(out, name + ".xml"), "w", encoding="utf-8") as fh:
            fh.write(f())
    encoded = encoding_probes()
    for name, data in encoded.items():
        with open(os.path.join(out, name + ".xml"), "wb") as fh:
            fh.write(data)
    print("wrote %d probes to %s" % (len(PROBES) + len(encoded), out))


if __name__ == "__main__":
    main()
