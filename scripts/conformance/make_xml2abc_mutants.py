#!/usr/bin/env python3
"""Mutated MusicXML files for differential testing of the MusicXML -> ABC converter.

    make_xml2abc_mutants.py CORPUS_ROOT OUT_ROOT [-n COUNT] [--seed S] [--max-bytes B]

The music21 corpus exercises only part of what the reference converter (xml2abc.py) reads.
This script takes small corpus files (.xml and .mxl up to --max-bytes of XML) and writes
COUNT mutants, each with 1-4 random edits, under OUT_ROOT/<operator>/mNNNNN.xml (the folder
names the first edit's operator, so the conformance example reports a rate per operator):

  delete     remove a random element
  duplicate  repeat a random element in place
  swap       exchange two adjacent siblings
  text       give a leaf element a text seen for that tag elsewhere in the corpus, or an
             odd value (empty, negative, non-numeric)
  attr       same for an attribute value
  inject     insert a feature snippet (ornaments, tremolo, spanners, metronome, harmony,
             endings, measure repeats, clefs, keys, lyrics, grace notes, percussion, ...)
  graft      copy a random element from another corpus file to a parent of the same tag

With --raw P, a fraction P of the mutants also get one edit of the serialized text (the XML
layer): comments between elements, CDATA sections, white space around leaf texts, CRLF line
ends, an internal DTD entity, or a UTF-16 / ISO-8859-1 encoding. Those go to OUT_ROOT/raw-*.

Run the oracle (xml2abc_oracle.py) and the Rust conformance example over OUT_ROOT to compare.
Deterministic for a given seed and corpus.
"""
import argparse
import copy
import io
import os
import random
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict

SNIPPETS = {
    "note": [
        "<notations><ornaments><tremolo type='single'>3</tremolo></ornaments></notations>",
        "<notations><ornaments><tremolo type='start'>2</tremolo></ornaments></notations>",
        "<notations><ornaments><tremolo>2</tremolo></ornaments></notations>",
        "<notations><ornaments><trill-mark/><wavy-line type='start'/></ornaments></notations>",
        "<notations><ornaments><wavy-line type='stop'/><turn/></ornaments></notations>",
        "<notations><ornaments><mordent/><inverted-mordent/><inverted-turn/></ornaments></notations>",
        "<notations><articulations><accent/><staccato/><tenuto/></articulations></notations>",
        "<notations><articulations><strong-accent/><staccatissimo/><spiccato/><breath-mark/></articulations></notations>",
        "<notations><articulations><detached-legato/><scoop/></articulations></notations>",
        "<notations><technical><up-bow/><down-bow/><fingering>3</fingering><fingering>1</fingering></technical></notations>",
        "<notations><technical><harmonic/><open-string/><stopped/><snap-pizzicato/><thumb-position/><fingering/></technical></notations>",
        "<notations><technical><string>2</string><fret>3</fret></technical></notations>",
        "<notations><glissando type='start' line-type='wavy'/></notations>",
        "<notations><glissando type='stop'/></notations>",
        "<notations><slide type='start'/></notations>",
        "<notations><fermata/><arpeggiate/></notations>",
        "<notations><slur type='start' number='2'/></notations>",
        "<notations><slur type='stop' number='2'/></notations>",
        "<notations><slur type='start'/></notations>",
        "<notations><slur type='stop'/></notations>",
        "<notations><slur type='continue'/></notations>",
        "<notations><tied type='start'/></notations>",
        "<notations><tied type='stop'/></notations>",
        "<notations><tuplet type='start'/></notations>",
        "<notations><tuplet type='stop'/></notations>",
        "<tie type='start'/>",
        "<tie type='stop'/>",
        "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>",
        "<time-modification><actual-notes>5</actual-notes><normal-notes>4</normal-notes></time-modification>",
        "<accidental>sharp</accidental>",
        "<accidental parentheses='yes'>natural</accidental>",
        "<accidental>flat-flat</accidental>",
        "<accidental>double-sharp</accidental>",
        "<accidental>quarter-sharp</accidental>",
        "<stem>none</stem>",
        "<stem>up</stem>",
        "<beam number='1'>continue</beam>",
        "<beam number='1'>end</beam>",
        "<beam number='1'>begin</beam>",
        "<grace/>",
        "<grace slash='yes'/>",
        "<chord/>",
        "<lyric number='1'><syllabic>begin</syllabic><text>la</text></lyric>",
        "<lyric number='2'><syllabic>single</syllabic><text>do_re</text><extend/></lyric>",
        "<lyric number='1'><syllabic>end</syllabic><text>mi fa</text><elision/><text>so</text></lyric>",
        "<lyric><text>x-y</text><extend/></lyric>",
        "<lyric number='verse3'><text>v</text></lyric>",
        "<lyric number='0'><text>z</text></lyric>",
        "<staff>2</staff>",
        "<voice>2</voice>",
        "<instrument id='P1-I36'/>",
        "<notehead>x</notehead>",
        "<notehead filled='no'>diamond</notehead>",
        "<notehead filled='yes'>normal</notehead>",
        "<rest/>",
        "<pitch><step>F</step><alter>1</alter><octave>4</octave></pitch>",
        "<pitch><step>B</step><alter>-1</alter><octave>3</octave></pitch>",
        "<pitch><step>C</step><alter>0</alter><octave>6</octave></pitch>",
        "<pitch><step>G</step><alter>-2</alter><octave>2</octave></pitch>",
        "<unpitched><display-step>E</display-step><display-octave>4</display-octave></unpitched>",
    ],
    "measure": [
        "<direction placement='above'><direction-type><words>cresc.</words></direction-type></direction>",
        "<direction placement='below'><direction-type><words default-y='-30'>dolce \"x\"</words><words>poco</words></direction-type></direction>",
        "<direction><direction-type><rehearsal>A</rehearsal></direction-type></direction>",
        "<direction><direction-type><dynamics><ff/></dynamics></direction-type><staff>1</staff></direction>",
        "<direction><direction-type><dynamics><p/><sfz/></dynamics></direction-type></direction>",
        "<direction><direction-type><dynamics><mf/></dynamics></direction-type><direction-type><dynamics><pp/></dynamics></direction-type></direction>",
        "<direction><direction-type><wedge type='crescendo'/></direction-type></direction>",
        "<direction><direction-type><wedge type='diminuendo' number='2'/></direction-type></direction>",
        "<direction><direction-type><wedge type='stop'/></direction-type></direction>",
        "<direction><direction-type><wedge type='stop' number='2'/></direction-type></direction>",
        "<direction><direction-type><wedge type='continue'/></direction-type></direction>",
        "<direction><direction-type><octave-shift type='down' size='8'/></direction-type></direction>",
        "<direction><direction-type><octave-shift type='up' size='8'/></direction-type></direction>",
        "<direction><direction-type><octave-shift type='stop' size='8'/></direction-type></direction>",
        "<direction><direction-type><pedal type='start'/></direction-type></direction>",
        "<direction><direction-type><pedal type='stop'/></direction-type></direction>",
        "<direction><direction-type><pedal type='change'/></direction-type></direction>",
        "<direction><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>92</per-minute></metronome></direction-type><sound tempo='92'/></direction>",
        "<direction><direction-type><metronome><beat-unit>half</beat-unit><beat-unit-dot/><per-minute>c. 60-66</per-minute></metronome></direction-type></direction>",
        "<direction><direction-type><metronome><beat-unit>eighth</beat-unit><per-minute>ca.</per-minute></metronome></direction-type></direction>",
        "<direction><direction-type><metronome><beat-unit>quarter</beat-unit><beat-unit>half</beat-unit></metronome></direction-type></direction>",
        "<direction><direction-type><words>D.C. al Fine</words></direction-type><sound dacapo='yes'/></direction>",
        "<direction><direction-type><words>Fine</words></direction-type><sound fine='yes'/></direction>",
        "<direction><direction-type><segno/></direction-type><sound segno='s1'/></direction>",
        "<direction><direction-type><coda/></direction-type></direction>",
        "<direction><direction-type><other-direction>diatonic fretting</other-direction></direction-type></direction>",
        "<direction><sound tempo='120.5'/></direction>",
        "<direction><sound tempo='abc'/></direction>",
        "<direction><sound><midi-instrument id='P1-I1'><midi-program>41</midi-program></midi-instrument></sound></direction>",
        "<sound tempo='60'/>",
        "<sound dalsegno='s1'/>",
        "<harmony><root><root-step>C</root-step></root><kind>major</kind></harmony>",
        "<harmony><root><root-step>B</root-step><root-alter>-1</root-alter></root><kind>dominant-ninth</kind><bass><bass-step>F</bass-step></bass></harmony>",
        "<harmony><root><root-step>F</root-step><root-alter>1</root-alter></root><kind>half-diminished</kind></harmony>",
        "<harmony><root><root-step>D</root-step></root><kind>suspended-fourth</kind></harmony>",
        "<harmony><root><root-step>G</root-step></root><kind text='7sus'>none</kind><degree><degree-value>9</degree-value><degree-alter>-1</degree-alter><degree-type>add</degree-type></degree></harmony>",
        "<harmony><root><root-step>A</root-step></root><kind>major-sixth</kind></harmony>",
        "<harmony><root><root-step>E</root-step></root><kind>minor-seventh</kind><bass><bass-step>B</bass-step><bass-alter>1</bass-alter></bass></harmony>",
        "<harmony><root><root-step>C</root-step></root><kind>Neapolitan</kind></harmony>",
        "<barline location='left'><bar-style>heavy-light</bar-style><repeat direction='forward'/></barline>",
        "<barline location='right'><bar-style>light-heavy</bar-style><repeat direction='backward'/></barline>",
        "<barline location='right'><bar-style>light-light</bar-style></barline>",
        "<barline location='left'><ending number='1' type='start'/></barline>",
        "<barline location='left'><ending number='1, 2' type='start'/></barline>",
        "<barline location='left'><ending number='2.' type='start'/></barline>",
        "<barline location='left'><ending number='final' type='start'>fin</ending></barline>",
        "<barline location='right'><ending number='1' type='stop'/></barline>",
        "<barline location='right'><ending number='2' type='discontinue'/></barline>",
        "<barline><repeat/></barline>",
        "<attributes><key><fifths>3</fifths><mode>minor</mode></key></attributes>",
        "<attributes><key><fifths>-4</fifths><mode>dorian</mode></key></attributes>",
        "<attributes><key><fifths>2</fifths><mode>mixolydian</mode></key></attributes>",
        "<attributes><key><fifths>-2</fifths></key><time><beats>3</beats><beat-type>8</beat-type></time></attributes>",
        "<attributes><time><beats>6</beats><beat-type>8</beat-type></time></attributes>",
        "<attributes><time symbol='common'><beats>4</beats><beat-type>4</beat-type></time></attributes>",
        "<attributes><time><beats>3+2</beats><beat-type>8</beat-type></time></attributes>",
        "<attributes><clef><sign>F</sign><line>4</line></clef></attributes>",
        "<attributes><clef><sign>C</sign><line>3</line></clef></attributes>",
        "<attributes><clef><sign>G</sign><line>2</line><clef-octave-change>-1</clef-octave-change></clef></attributes>",
        "<attributes><clef number='2'><sign>G</sign><line>2</line></clef></attributes>",
        "<attributes><clef><sign>percussion</sign></clef></attributes>",
        "<attributes><clef><sign>TAB</sign><line>5</line></clef><staff-details><staff-lines>6</staff-lines></staff-details></attributes>",
        "<attributes><divisions>8</divisions></attributes>",
        "<attributes><transpose><diatonic>-1</diatonic><chromatic>-2</chromatic></transpose></attributes>",
        "<attributes><transpose><chromatic>-3</chromatic><octave-change>-1</octave-change></transpose></attributes>",
        "<attributes><measure-style><multiple-rest>4</multiple-rest></measure-style></attributes>",
        "<attributes><measure-style><measure-repeat type='start'>1</measure-repeat></measure-style></attributes>",
        "<attributes><measure-style><measure-repeat type='stop'/></measure-style></attributes>",
        "<attributes><measure-style><measure-repeat type='start'/></measure-style></attributes>",
        "<backup><duration>1</duration></backup>",
        "<forward><duration>2</duration></forward>",
        "<forward><duration>1</duration><voice>2</voice></forward>",
        "<print new-system='yes'/>",
    ],
}


def load_xml(path, max_bytes):
    if path.endswith(".mxl"):
        z = zipfile.ZipFile(path)
        for n in z.namelist():
            if n[:4] != "META" and n[-4:].lower() == ".xml":
                data = z.read(n)
                break
        else:
            return None
    else:
        with open(path, "rb") as f:
            data = f.read()
    if len(data) > max_bytes:
        return None
    try:
        return ET.parse(io.BytesIO(data)).getroot()
    except ET.ParseError:
        return None


def all_elems(root):
    out = []
    for parent in root.iter():
        for i, child in enumerate(list(parent)):
            out.append((parent, i, child))
    return out


ODD_VALUES = ["", "0", "-1", "2.5", "abc", " 3 ", "999", "none", "yes", "stop", "start"]


def mutate(root, rng, pools, donors, op):
    elems = all_elems(root)
    if not elems:
        return
    parent, i, child = rng.choice(elems)
    if op == "delete":
        parent.remove(child)
    elif op == "duplicate":
        parent.insert(i, copy.deepcopy(child))
    elif op == "swap":
        kids = list(parent)
        if i + 1 < len(kids):
            a, b = kids[i], kids[i + 1]
            parent.remove(b)
            parent.insert(i, b)
    elif op == "text":
        leaves = [e for _, _, e in elems if len(e) == 0]
        if leaves:
            e = rng.choice(leaves)
            pool = pools["text"].get(e.tag)
            if pool and rng.random() < 0.75:
                e.text = rng.choice(pool)
            else:
                e.text = rng.choice(ODD_VALUES)
    elif op == "attr":
        with_attrs = [e for _, _, e in elems if e.attrib]
        if with_attrs:
            e = rng.choice(with_attrs)
            k = rng.choice(sorted(e.attrib))
            pool = pools["attr"].get((e.tag, k))
            if pool and rng.random() < 0.75:
                e.set(k, rng.choice(pool))
            else:
                e.set(k, rng.choice(ODD_VALUES))
    elif op == "inject":
        kind = rng.choice(["note", "measure", "measure"])
        targets = [e for _, _, e in elems if e.tag == kind]
        if targets:
            t = rng.choice(targets)
            snippet = ET.fromstring(rng.choice(SNIPPETS[kind]))
            t.insert(rng.randint(0, len(t)), snippet)
    elif op == "graft":
        donor = rng.choice(donors)
        d_elems = all_elems(donor)
        if d_elems:
            _, _, piece = rng.choice(d_elems)
            d_parent_tags = {p.tag for p, _, c in d_elems if c is piece}
            targets = [e for _, _, e in elems if e.tag in d_parent_tags]
            if targets:
                t = rng.choice(targets)
                t.insert(rng.randint(0, len(t)), copy.deepcopy(piece))


import re


def raw_edit(text, rng):
    """One edit of the serialized document; returns (kind, bytes)."""
    kind = rng.choice(["comment", "cdata", "ws", "crlf", "entity", "utf16", "latin1"])
    decl = "<?xml version='1.0' encoding='UTF-8'?>\n"
    if kind == "comment":
        spots = [m.end() for m in re.finditer(r"</?[a-z-]+[^<>]*>", text)]
        for pos in sorted(rng.sample(spots, min(20, len(spots))), reverse=True):
            text = text[:pos] + "<!-- c -->" + text[pos:]
        return kind, (decl + text).encode("utf-8")
    if kind == "cdata":
        def cd(m):
            return ">" + ("<![CDATA[" + m.group(1) + "]]>" if rng.random() < 0.3 else m.group(1)) + "<"
        return kind, (decl + re.sub(r">([^<>&]+)<", cd, text)).encode("utf-8")
    if kind == "ws":
        def pad(m):
            if rng.random() < 0.2:
                return ">" + rng.choice([" ", "\n ", "\t"]) + m.group(1) + rng.choice([" ", "\n", ""]) + "<"
            return m.group(0)
        return kind, (decl + re.sub(r">([^<>\s][^<>]*)<", pad, text)).encode("utf-8")
    if kind == "crlf":
        return kind, (decl + text).replace("\n", "\r\n").encode("utf-8")
    if kind == "entity":
        root_tag = re.match(r"<([a-z-]+)", text).group(1)
        dt = "<!DOCTYPE %s [\n<!ENTITY who \"J. Doe &#233;\">\n]>\n" % root_tag
        text = text.replace("<work-title>", "<work-title>&who; ", 1)
        text = text.replace("<part-name>", "<part-name>&who;", 1)
        return kind, (decl + dt + text).encode("utf-8")
    if kind == "utf16":
        return kind, ("\ufeff<?xml version='1.0' encoding='UTF-16'?>\n" + text).encode("utf-16-le")
    try:
        data = ("<?xml version='1.0' encoding='ISO-8859-1'?>\n" + text).encode("latin-1")
    except UnicodeEncodeError:
        data = ("<?xml version='1.0' encoding='ISO-8859-1'?>\n" + text).encode("latin-1", "xmlcharrefreplace")
    return kind, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-bytes", type=int, default=60000)
    ap.add_argument("--raw", type=float, default=0.0)
    ap.add_argument("--max-edits", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    paths = []
    for r, _d, fs in os.walk(args.corpus):
        for f in fs:
            if f.endswith((".xml", ".mxl")):
                paths.append(os.path.join(r, f))
    paths.sort()
    bases = []
    for p in paths:
        root = load_xml(p, args.max_bytes)
        if root is not None:
            bases.append(root)
    pools = {"text": defaultdict(set), "attr": defaultdict(set)}
    for root in bases:
        for e in root.iter():
            if len(e) == 0 and e.text and len(e.text) < 40:
                pools["text"][e.tag].add(e.text)
            for k, v in e.attrib.items():
                if len(v) < 40:
                    pools["attr"][(e.tag, k)].add(v)
    pools = {
        k: {t: sorted(vs) for t, vs in d.items()} for k, d in pools.items()
    }
    ops = ["delete", "duplicate", "swap", "text", "attr", "inject", "inject", "graft"]
    for n in range(args.n):
        base = rng.choice(bases)
        root = copy.deepcopy(base)
        first = rng.choice(ops)
        mutate(root, rng, pools, bases, first)
        for _ in range(rng.randint(0, args.max_edits - 1)):
            mutate(root, rng, pools, bases, rng.choice(ops))
        text = ET.tostring(root, encoding="unicode")
        if rng.random() < args.raw:
            kind, data = raw_edit(text, rng)
            d = os.path.join(args.out, "raw-" + kind)
        else:
            data = ("<?xml version='1.0' encoding='UTF-8'?>\n" + text).encode("utf-8")
            d = os.path.join(args.out, first)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "m%05d.xml" % n), "wb") as f:
            f.write(data)
    print("wrote %d mutants from %d base files" % (args.n, len(bases)))


if __name__ == "__main__":
    main()
