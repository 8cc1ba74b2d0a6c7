//! Byte-for-byte comparison with the committed goldens of the reference converter
//! (fixtures/xml2abc: inputs/ and, per input, expected/<path>.abc or expected/<path>.error;
//! rebuilt by scripts/conformance/make_xml2abc_fixtures.sh).

use std::path::{Path, PathBuf};

use clamp3_musicxml::{
    file_to_abc, file_to_abc_with, musicxml_bytes_to_abc, musicxml_to_abc, read_mxl,
    read_mxl_as_reference, MxlSelection, XmlError,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/xml2abc")
}

fn inputs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("fixture directory").flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures().join("inputs"), &mut out);
    out.sort();
    out
}

fn expected(input: &Path, suffix: &str) -> PathBuf {
    let rel = input
        .strip_prefix(fixtures().join("inputs"))
        .expect("input under inputs/");
    let mut p = fixtures().join("expected").join(rel).into_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

#[test]
fn every_fixture_matches_the_reference() {
    let files = inputs();
    assert!(
        files.len() >= 60,
        "fixture set is incomplete: {} inputs",
        files.len()
    );
    let mut failures = Vec::new();
    let (mut converted, mut rejected) = (0, 0);
    for input in &files {
        let got = file_to_abc(input);
        let abc = std::fs::read(expected(input, ".abc")).ok();
        let error = expected(input, ".error").exists();
        match (got, abc) {
            (Ok(text), Some(want)) => {
                if text.as_bytes() == want.as_slice() {
                    converted += 1;
                } else {
                    failures.push(format!("{}: output differs", input.display()));
                }
            }
            (Err(_), None) if error => rejected += 1,
            (Err(e), Some(_)) => failures.push(format!("{}: fails ({e})", input.display())),
            (Ok(_), None) => failures.push(format!(
                "{}: converts, but the reference prints nothing",
                input.display()
            )),
            (Err(e), None) => failures.push(format!("{}: no golden ({e})", input.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Both outcomes must be exercised by the fixture set.
    assert!(
        converted >= 50 && rejected >= 10,
        "{converted} converted, {rejected} rejected"
    );
}

#[test]
fn text_bytes_and_file_entry_points_agree() {
    let path = fixtures().join("inputs/music21/demos/multiple-verses.xml");
    let bytes = std::fs::read(&path).expect("fixture");
    let text = String::from_utf8(bytes.clone()).expect("utf-8 fixture");
    let from_file = file_to_abc(&path).expect("converts");
    assert_eq!(musicxml_to_abc(&text).expect("converts"), from_file);
    assert_eq!(musicxml_bytes_to_abc(&bytes).expect("converts"), from_file);
    // The same document as UTF-16 with a byte order mark.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(musicxml_bytes_to_abc(&utf16).expect("converts"), from_file);
}

#[test]
fn mxl_member_selection() {
    // Ordinary archive: container rootfile and the reference's choice are the same member.
    let path = fixtures().join("inputs/music21/bach/bwv66.6.mxl");
    let bytes = std::fs::read(&path).expect("fixture");
    assert_eq!(
        read_mxl(&bytes).expect("readable"),
        read_mxl_as_reference(&bytes).expect("readable")
    );
    // Score stored as `bwv113.8.musicxml`: the reference reads nothing (golden is .error);
    // the container-based reader finds it.
    let path = fixtures().join("inputs/music21/bach/bwv113.8.mxl");
    let bytes = std::fs::read(&path).expect("fixture");
    assert!(expected(&path, ".error").exists());
    assert!(matches!(
        read_mxl_as_reference(&bytes),
        Err(XmlError::NoScoreInArchive)
    ));
    assert!(matches!(
        file_to_abc(&path),
        Err(XmlError::NoScoreInArchive)
    ));
    let text = read_mxl(&bytes).expect("container names the score");
    assert!(text.contains("<score-partwise"));
    let abc = file_to_abc_with(&path, MxlSelection::Container).expect("converts");
    assert!(abc.starts_with("X:1\n") && abc.contains("\nV:4\n"));
}

#[test]
fn file_names_and_archives_are_checked() {
    let dir = std::env::temp_dir().join(format!("clamp3-musicxml-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let txt = dir.join("score.txt");
    std::fs::write(&txt, "<score-partwise/>").expect("write");
    assert!(matches!(file_to_abc(&txt), Err(XmlError::Extension(_))));
    let missing = dir.join("missing.xml");
    assert!(matches!(file_to_abc(&missing), Err(XmlError::Io { .. })));
    let not_zip = dir.join("broken.mxl");
    std::fs::write(&not_zip, b"not a zip archive").expect("write");
    assert!(matches!(file_to_abc(&not_zip), Err(XmlError::Archive(_))));
    // Upper-case extensions are accepted, as by the reference.
    let upper = dir.join("VERSES.XML");
    std::fs::copy(
        fixtures().join("inputs/music21/demos/multiple-verses.xml"),
        &upper,
    )
    .expect("copy");
    assert!(file_to_abc(&upper).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_and_unsupported_inputs_are_errors() {
    assert!(matches!(
        musicxml_to_abc("<score-partwise>"),
        Err(XmlError::Parse(_))
    ));
    assert!(matches!(musicxml_to_abc(""), Err(XmlError::Parse(_))));
    assert!(matches!(
        musicxml_bytes_to_abc(b"<?xml version='1.0' encoding='EBCDIC-XYZ'?><a/>"),
        Err(XmlError::Encoding(_))
    ));
    // A well-formed document with no parts: the reference writes nothing.
    assert!(matches!(
        musicxml_to_abc("<score-partwise><part-list/></score-partwise>"),
        Err(XmlError::NoNotes)
    ));
    assert!(matches!(
        musicxml_to_abc("<score-partwise/>"),
        Err(XmlError::Rejected(_))
    ));
}

/// A one-part score around the given measure content.
fn one_part(measure: &str) -> String {
    format!(
        "<score-partwise><part-list><score-part id=\"P1\"><part-name>A</part-name></score-part>\
         </part-list><part id=\"P1\"><measure number=\"1\">{measure}</measure></part></score-partwise>"
    )
}

const ATTRS: &str = "<attributes><divisions>1</divisions><key><fifths>0</fifths></key>\
    <time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>";

#[test]
fn extreme_numbers_are_errors_not_panics() {
    // Values at the ends of the integer range. The reference fails on all of these octaves
    // (Python cannot repeat an octave mark that often) and on the key (no such key); for the
    // verse number and the durations Python's unbounded ints would go on (without ever
    // finishing, for the verse). This crate reports the octaves, verse and durations as
    // `Unsupported` (its documented limits) and the key as `Rejected`, as the reference.
    let note = |inner: &str| {
        one_part(&format!(
            "{ATTRS}<note>{inner}<duration>4</duration></note>"
        ))
    };
    let huge_octave = note("<pitch><step>C</step><octave>9223372036854775807</octave></pitch>");
    assert!(matches!(
        musicxml_to_abc(&huge_octave),
        Err(XmlError::Unsupported(_))
    ));
    let low_octave = note("<pitch><step>C</step><octave>-9223372036854775808</octave></pitch>");
    assert!(matches!(
        musicxml_to_abc(&low_octave),
        Err(XmlError::Unsupported(_))
    ));
    let too_big = note("<pitch><step>C</step><octave>99999999999999999999</octave></pitch>");
    assert!(matches!(
        musicxml_to_abc(&too_big),
        Err(XmlError::Unsupported(_))
    ));
    let fifths = one_part(
        "<attributes><divisions>1</divisions><key><fifths>-9223372036854775808</fifths></key></attributes>\
         <note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration></note>",
    );
    assert!(matches!(
        musicxml_to_abc(&fifths),
        Err(XmlError::Rejected(_))
    ));
    let verses = note(
        "<pitch><step>C</step><octave>4</octave></pitch>\
         <lyric number=\"9223372036854775807\"><text>a</text></lyric><lyric number=\"0\"><text>b</text></lyric>",
    );
    assert!(matches!(
        musicxml_to_abc(&verses),
        Err(XmlError::Unsupported(_))
    ));
    let duration = one_part(&format!(
        "{ATTRS}<note><pitch><step>C</step><octave>4</octave></pitch><duration>9223372036854775807</duration></note>\
         <note><pitch><step>D</step><octave>4</octave></pitch><duration>9223372036854775807</duration></note>"
    ));
    assert!(matches!(
        musicxml_to_abc(&duration),
        Err(XmlError::Unsupported(_))
    ));
}

#[test]
fn a_minimal_score_converts() {
    let abc = musicxml_to_abc(&one_part(&format!(
        "{ATTRS}<note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration></note>"
    )))
    .expect("converts");
    // As printed by the reference for this input: header, voice, bar with its number comment.
    assert_eq!(
        abc,
        "X:1\nT:Title\nL:1/8\nM:4/4\nK:C\nV:1 treble nm=\"A\"\nV:1\n C8 | %1\n\n"
    );
}

#[test]
fn internal_dtd_attribute_defaults_are_refused() {
    // expat applies `<!ATTLIST note print-object CDATA "no">` (every note becomes an invisible
    // rest and the reference prints nothing); this crate refuses instead of ignoring it.
    let score = one_part(&format!(
        "{ATTRS}<note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration></note>"
    ));
    let with_default =
        format!("<!DOCTYPE score-partwise [<!ATTLIST note print-object CDATA \"no\">]>{score}");
    assert!(matches!(
        musicxml_to_abc(&with_default),
        Err(XmlError::Unsupported(_))
    ));
    // Declarations without defaults, entities and comments are fine.
    let harmless = format!(
        "<!DOCTYPE score-partwise PUBLIC \"-//x\" \"y.dtd\" [<!-- <!ATTLIST a b CDATA \"c\"> -->\
         <!ATTLIST note print-object CDATA #IMPLIED><!ENTITY who \"me\">]>{score}"
    );
    assert_eq!(
        musicxml_to_abc(&harmless).expect("converts"),
        musicxml_to_abc(&score).expect("converts")
    );
}
