//! Unit tests of the MIDI -> MTF converter.
//!
//! Every expected text below is the output of the reference conversion (mido 1.3.0, via
//! `scripts/conformance/mtf_oracle.py`) for the same bytes; the byte builders mirror the
//! cases of `scripts/conformance/make_edge_midi.py`.

use super::*;

fn vlq(mut n: u128) -> Vec<u8> {
    let mut out = vec![(n & 0x7f) as u8];
    n >>= 7;
    while n != 0 {
        out.push(0x80 | (n & 0x7f) as u8);
        n >>= 7;
    }
    out.reverse();
    out
}

fn chunk(name: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = name.to_vec();
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn header(format: u16, ntracks: u16, division: u16) -> Vec<u8> {
    let mut v = b"MThd\x00\x00\x00\x06".to_vec();
    for x in [format, ntracks, division] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// Event bytes: delta then raw bytes.
fn ev(delta: u128, bytes: &[u8]) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(bytes);
    v
}

fn meta(delta: u128, t: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vlq(delta);
    v.extend_from_slice(&[0xff, t]);
    v.extend(vlq(data.len() as u128));
    v.extend_from_slice(data);
    v
}

fn eot() -> Vec<u8> {
    meta(0, 0x2f, &[])
}

fn midi(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut v = header(format, tracks.len() as u16, division);
    for t in tracks {
        v.extend(chunk(b"MTrk", t));
    }
    v
}

fn track(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn mtf(bytes: &[u8]) -> String {
    match midi_to_mtf(bytes) {
        Ok(s) => s,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn lines(s: &[&str]) -> String {
    s.join("\n")
}

#[test]
fn basic_format0() {
    let t = track(&[
        meta(0, 0x51, &[0x07, 0xa1, 0x20]),
        meta(0, 0x58, &[3, 2, 24, 8]),
        ev(0, &[0x90, 60, 100]),
        ev(240, &[0x80, 60, 64]),
        ev(0, &[0x90, 62, 90]),
        ev(240, &[0x90, 62, 0]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(0, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "set_tempo 500000 0",
            "time_signature 3 4 24 8 0",
            "note_on 0 0 60 100",
            "note_off 240 0 60 64",
            "note_on 0 0 62 90",
            "note_on 240 0 62 0",
            "end_of_track 0",
        ])
    );
}

#[test]
fn channel_messages_and_pitchwheel_range() {
    let t = track(&[
        ev(0, &[0xa3, 60, 10]),
        ev(5, &[0xb4, 7, 127]),
        ev(0, &[0xc5, 12]),
        ev(1, &[0xd6, 99]),
        ev(2, &[0xe7, 0, 0]),
        ev(0, &[0xe7, 0x7f, 0x7f]),
        ev(0, &[0xe7, 0, 0x40]),
        ev(0, &[0xef, 1, 0]),
        ev(3, &[0x8f, 127, 127]),
        ev(0, &[0x9f, 0, 0]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "polytouch 0 3 60 10",
            "control_change 5 4 7 127",
            "program_change 0 5 12",
            "aftertouch 1 6 99",
            "pitchwheel 2 7 -8192",
            "pitchwheel 0 7 8191",
            "pitchwheel 0 7 0",
            "pitchwheel 0 15 -8191",
            "note_off 3 15 127 127",
            "note_on 0 15 0 0",
            "end_of_track 0",
        ])
    );
}

#[test]
fn running_status_survives_meta() {
    let t = track(&[
        ev(0, &[0x90, 60, 100]),
        ev(10, &[61, 100]),
        meta(3, 0x01, b"x"),
        ev(0, &[62, 0]),
        ev(0, &[0xb0, 1, 2]),
        ev(1, &[3, 4]),
        eot(),
    ]);
    // The text meta is dropped with its delta (3): the next note_on shows 0.
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 0 0 60 100",
            "note_on 10 0 61 100",
            "note_on 0 0 62 0",
            "control_change 0 0 1 2",
            "control_change 1 0 3 4",
            "end_of_track 0",
        ])
    );
}

#[test]
fn running_status_after_sysex_drops_the_data_byte() {
    let mut t = ev(0, &[0xf0, 3, 1, 2, 0xf7]);
    t.extend(ev(4, &[0x05]));
    t.extend_from_slice(&[0x02, 0x07, 0x08]);
    t.extend(eot());
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "sysex 0 [1, 2]",
            "sysex 4 [7, 8]",
            "end_of_track 0"
        ])
    );
}

#[test]
fn sysex_strips_one_f0_and_one_f7() {
    let t = track(&[
        ev(0, &[0xf0, 4, 0x7e, 0x7f, 0x09, 0xf7]),
        ev(1, &[0xf0, 2, 0x41, 0x10]),
        ev(1, &[0xf0, 0]),
        ev(1, &[0xf0, 1, 0xf7]),
        ev(1, &[0xf0, 4, 0xf0, 1, 2, 0xf7]),
        ev(1, &[0xf7, 3, 0xf0, 0x43, 0xf7]),
        ev(1, &[0xf7, 2, 0xf0, 0xf7]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "sysex 0 [126, 127, 9]",
            "sysex 1 [65, 16]",
            "sysex 1 []",
            "sysex 1 []",
            "sysex 1 [1, 2]",
            "sysex 1 [67]",
            "sysex 1 []",
            "end_of_track 0",
        ])
    );
    let bad = midi(
        1,
        480,
        &[track(&[ev(0, &[0xf0, 3, 0x41, 0x90, 0xf7]), eot()])],
    );
    assert!(matches!(
        midi_to_mtf(&bad),
        Err(MtfError::SysexDataByteOutOfRange { byte: 0x90, .. })
    ));
}

#[test]
fn system_common_and_realtime() {
    let t = track(&[
        ev(0, &[0xf1, 0x7f]),
        ev(1, &[0xf2, 0x7f, 0x7f]),
        ev(1, &[0xf3, 5]),
        ev(1, &[0xf6]),
        ev(1, &[0xf8]),
        ev(1, &[0xfa]),
        ev(1, &[0xfb]),
        ev(1, &[0xfc]),
        ev(1, &[0xfe]),
        ev(1, &[0xf1, 0x35]),
        ev(0, &[0x21]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "quarter_frame 0 7 15",
            "songpos 1 16383",
            "song_select 1 5",
            "tune_request 1",
            "clock 1",
            "start 1",
            "continue 1",
            "stop 1",
            "active_sensing 1",
            "quarter_frame 1 3 5",
            "quarter_frame 0 2 1",
            "end_of_track 0",
        ])
    );
}

#[test]
fn meta_values_and_lengths() {
    let t = track(&[
        meta(0, 0x00, &[]),
        meta(5, 0x00, &[1, 2]),
        meta(5, 0x00, &[0xff, 0xff, 9]),
        meta(0, 0x20, &[255, 3]),
        meta(0, 0x21, &[]),
        meta(2, 0x21, &[200]),
        meta(0, 0x51, &[0xff, 0xff, 0xff, 1]),
        meta(0, 0x7f, &[]),
        meta(1, 0x7f, &[5]),
        meta(1, 0x7f, &[0, 0x41, 0xff]),
        meta(0, 0x54, &[0x40, 0, 0, 0, 0]),
        meta(1, 0x54, &[0x20 | 31, 59, 59, 255, 99]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "sequence_number 0 0",
            "sequence_number 258 5",
            "sequence_number 65535 5",
            "channel_prefix 255 0",
            "midi_port 0 0",
            "midi_port 200 2",
            "set_tempo 16777215 0",
            "sequencer_specific () 0",
            "sequencer_specific (5,) 1",
            "sequencer_specific (0, 65, 255) 1",
            "smpte_offset 29.97 0 0 0 0 0 0",
            "smpte_offset 25 31 59 59 255 99 1",
            "end_of_track 0",
        ])
    );
}

#[test]
fn key_signature_names() {
    let mut parts = Vec::new();
    for sf in -7i8..=7 {
        for mode in 0..2u8 {
            parts.push(meta(1, 0x59, &[sf as u8, mode]));
        }
    }
    parts.push(eot());
    let text = mtf(&midi(1, 480, &[track(&parts)]));
    let keys: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    let expected = [
        "480", "Cb", "Abm", "Gb", "Ebm", "Db", "Bbm", "Ab", "Fm", "Eb", "Cm", "Bb", "Gm", "F",
        "Dm", "C", "Am", "G", "Em", "D", "Bm", "A", "F#m", "E", "C#m", "B", "G#m", "F#", "D#m",
        "C#", "A#m", "0",
    ];
    assert_eq!(keys, expected);
    for (sf, mode) in [(8u8, 0u8), (0xf8, 0), (0, 2), (7, 255)] {
        let f = midi(1, 480, &[track(&[meta(0, 0x59, &[sf, mode]), eot()])]);
        assert!(
            matches!(midi_to_mtf(&f), Err(MtfError::InvalidKeySignature { .. })),
            "{sf} {mode}"
        );
    }
}

#[test]
fn time_signature_denominators() {
    let one = |n: u8| {
        midi(
            1,
            480,
            &[track(&[meta(0, 0x58, &[n, n, 255 - n, 0]), eot()])],
        )
    };
    assert_eq!(
        mtf(&one(2)),
        lines(&[
            "ticks_per_beat 480",
            "time_signature 2 4 253 0 0",
            "end_of_track 0"
        ])
    );
    assert_eq!(
        mtf(&one(64)),
        lines(&[
            "ticks_per_beat 480",
            "time_signature 64 18446744073709551616 191 0 0",
            "end_of_track 0"
        ])
    );
    assert_eq!(
        mtf(&one(255)),
        lines(&[
            "ticks_per_beat 480",
            "time_signature 255 57896044618658097711785492504343953926634992332820282019728792003956564819968 0 0 0",
            "end_of_track 0",
        ])
    );
    for n in [29u8, 31, 251] {
        assert!(matches!(
            midi_to_mtf(&one(n)),
            Err(MtfError::InvalidTimeSignatureDenominator { exponent, .. }) if exponent == n
        ));
    }
}

/// The hard-coded list of rejected denominators is what glibc's `log` gives for mido's
/// `math.log(2**n, 2)` check (the reference's platform).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn bad_denominator_list_matches_libm() {
    let computed: Vec<u8> = (0u8..=255)
        .filter(|&n| {
            let v = 2f64.powi(i32::from(n)).ln() / 2f64.ln();
            v != v.trunc()
        })
        .collect();
    let text_ok =
        |n: u8| midi_to_mtf(&midi(1, 480, &[track(&[meta(0, 0x58, &[4, n, 24, 8])])])).is_ok();
    let rejected: Vec<u8> = (0u8..=255).filter(|&n| !text_ok(n)).collect();
    assert_eq!(rejected, computed);
}

#[test]
fn unknown_meta_loses_its_delta_and_end_of_track_carries() {
    let t1 = track(&[
        ev(0, &[0x90, 60, 1]),
        meta(50, 0x08, b"prog"),
        meta(7, 0x0a, &[1]),
        meta(9, 0x4b, &[]),
        ev(10, &[0x80, 60, 0]),
        eot(),
    ]);
    let t2 = track(&[
        meta(100, 0x30, &[1]),
        ev(0, &[0x90, 61, 1]),
        meta(1000, 0x31, &[]),
        eot(),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t1, t2])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 0 0 60 1",
            "unknown_meta 8 (112, 114, 111, 103) 0",
            "unknown_meta 10 (1,) 0",
            "unknown_meta 75 () 0",
            "unknown_meta 48 (1,) 0",
            "note_on 0 0 61 1",
            "unknown_meta 49 () 0",
            "note_off 10 0 60 0",
            "end_of_track 0",
        ])
    );
    // An end_of_track's delta is carried to the next message, even an unknown meta.
    let t = track(&[
        ev(0, &[0x90, 60, 1]),
        meta(30, 0x2f, &[]),
        meta(40, 0x33, &[1]),
        ev(0, &[0x80, 60, 0]),
    ]);
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 0 0 60 1",
            "unknown_meta 51 (1,) 30",
            "note_off 0 0 60 0",
            "end_of_track 0",
        ])
    );
}

#[test]
fn merge_is_stable_and_end_of_track_is_removed() {
    let t0 = track(&[
        meta(0, 0x51, &[7, 0xa1, 0x20]),
        ev(0, &[0x90, 1, 1]),
        ev(10, &[0x90, 2, 1]),
        eot(),
    ]);
    let t1 = track(&[
        ev(0, &[0x91, 3, 1]),
        ev(10, &[0x91, 4, 1]),
        ev(0, &[0x91, 5, 1]),
        eot(),
    ]);
    let t2 = track(&[ev(10, &[0x92, 6, 1]), ev(0, &[0x92, 7, 1]), eot()]);
    let t3 = track(&[eot(), ev(5, &[0x93, 8, 1])]);
    assert_eq!(
        mtf(&midi(1, 480, &[t0, t1, t2, t3])),
        lines(&[
            "ticks_per_beat 480",
            "set_tempo 500000 0",
            "note_on 0 0 1 1",
            "note_on 0 1 3 1",
            "note_on 5 3 8 1",
            "note_on 5 0 2 1",
            "note_on 0 1 4 1",
            "note_on 0 1 5 1",
            "note_on 0 2 6 1",
            "note_on 0 2 7 1",
            "end_of_track 0",
        ])
    );
    let t0 = track(&[
        ev(0, &[0x90, 60, 1]),
        meta(30, 0x2f, &[]),
        ev(10, &[0x80, 60, 0]),
        meta(5, 0x2f, &[]),
        meta(6, 0x2f, &[]),
        ev(1, &[0x90, 62, 5]),
    ]);
    let t1 = track(&[ev(5, &[0x90, 70, 1]), meta(100, 0x2f, &[])]);
    assert_eq!(
        mtf(&midi(1, 480, &[t0, t1])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 0 0 60 1",
            "note_on 5 0 70 1",
            "note_off 35 0 60 0",
            "note_on 12 0 62 5",
            "end_of_track 53",
        ])
    );
}

#[test]
fn text_meta_kept_without_m3_compatibility() {
    let t = track(&[
        meta(0, 0x01, b"plain text"),
        meta(1, 0x02, b"(c) \xa9 caf\xe9"),
        meta(2, 0x03, b"Track\tname\\ \x00\x7f\x80\xff"),
        meta(4, 0x05, b"la\r\nla"),
        meta(9, 0x01, b""),
        meta(0, 0x01, b" lead and trail "),
        eot(),
    ]);
    let bytes = midi(1, 480, &[t]);
    let all = midi_to_mtf_with_options(
        &bytes,
        MtfOptions {
            m3_compatible: false,
        },
    );
    assert_eq!(
        all.as_deref(),
        Ok(lines(&[
            "ticks_per_beat 480",
            "text plain text 0",
            "copyright (c) \\xa9 caf\\xe9 1",
            "track_name Track\\tname\\\\ \\x00\\x7f\\x80\\xff 2",
            "lyrics la\\r\\nla 4",
            "text  9",
            "text  lead and trail  0",
            "end_of_track 0",
        ])
        .as_str())
    );
    assert_eq!(
        mtf(&bytes),
        lines(&["ticks_per_beat 480", "end_of_track 0"])
    );
}

#[test]
fn huge_delta_times_use_unbounded_integers() {
    let mut t0 = vlq((1u128 << 70) + 5);
    t0.extend_from_slice(&[0x90, 60, 1]);
    t0.extend(ev(3, &[0x80, 60, 0]));
    t0.extend(eot());
    let mut t1 = ev(7, &[0x90, 1, 1]);
    t1.extend(vlq(1u128 << 64));
    t1.extend_from_slice(&[0x90, 2, 2]);
    t1.extend(eot());
    assert_eq!(
        mtf(&midi(1, 480, &[t0, t1])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 7 0 1 1",
            "note_on 18446744073709551616 0 2 2",
            "note_on 1162144876643701751806 0 60 1",
            "note_off 3 0 60 0",
            "end_of_track 0",
        ])
    );
    // Two deltas of 2**63 overflow a u64 sum.
    let mut t = vlq(1 << 63);
    t.extend_from_slice(&[0x90, 60, 1]);
    t.extend(vlq(1 << 63));
    t.extend_from_slice(&[0x90, 61, 1]);
    t.extend(ev(1, &[0x90, 62, 1]));
    t.extend(eot());
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&[
            "ticks_per_beat 480",
            "note_on 9223372036854775808 0 60 1",
            "note_on 9223372036854775808 0 61 1",
            "note_on 1 0 62 1",
            "end_of_track 0",
        ])
    );
    // Zero-padded variable-length numbers are read in full.
    let t = [
        &[0x80u8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x05, 0x90, 60, 1][..],
        &eot(),
    ]
    .concat();
    assert_eq!(
        mtf(&midi(1, 480, &[t])),
        lines(&["ticks_per_beat 480", "note_on 5 0 60 1", "end_of_track 0"])
    );
}

#[test]
fn header_quirks() {
    let trk = track(&[ev(0, &[0x90, 60, 1]), eot()]);
    let expected = lines(&["ticks_per_beat 96", "note_on 0 0 60 1", "end_of_track 0"]);
    // Any format but 2 is merged, even undefined ones; extra header bytes are skipped.
    for format in [0u16, 1, 3, 0xffff] {
        assert_eq!(
            mtf(&midi(format, 96, std::slice::from_ref(&trk))),
            expected,
            "format {format}"
        );
    }
    let mut long = b"MThd\x00\x00\x00\x0a\x00\x01\x00\x01\x00\x60\x01\x02\x03\x04".to_vec();
    long.extend(chunk(b"MTrk", &trk));
    assert_eq!(mtf(&long), expected);
    // Trailing garbage and extra chunks after the declared tracks are never read.
    let mut tail = midi(1, 96, std::slice::from_ref(&trk));
    tail.extend(chunk(b"XFKM", b"12"));
    tail.extend_from_slice(b"\x00garbage");
    assert_eq!(mtf(&tail), expected);
    // An SMPTE division is printed as the signed 16-bit value mido reads.
    assert_eq!(
        mtf(&midi(1, 0xe728, std::slice::from_ref(&trk))),
        lines(&["ticks_per_beat -6360", "note_on 0 0 60 1", "end_of_track 0"])
    );
    // A negative track count means no tracks.
    let mut neg = header(1, 0x8000, 96);
    neg.extend(chunk(b"MTrk", &trk));
    assert_eq!(mtf(&neg), lines(&["ticks_per_beat 96", "end_of_track 0"]));
    // Type 2 fails, as in the reference.
    assert_eq!(
        midi_to_mtf(&midi(2, 96, &[trk.clone(), trk])),
        Err(MtfError::Type2Unsupported)
    );
    assert_eq!(
        midi_to_mtf(&header(2, 0, 96)),
        Err(MtfError::Type2Unsupported)
    );
}

#[test]
fn track_length_must_end_exactly_on_a_message() {
    let trk = track(&[ev(0, &[0x90, 60, 1]), eot()]);
    let with_size = |size: u32, extra: &[u8]| {
        let mut v = header(1, 1, 96);
        v.extend_from_slice(b"MTrk");
        v.extend_from_slice(&size.to_be_bytes());
        v.extend_from_slice(&trk);
        v.extend_from_slice(extra);
        v
    };
    // Size 4 ends after the note: the end_of_track bytes after it are never read.
    assert_eq!(
        mtf(&with_size(4, &[])),
        lines(&["ticks_per_beat 96", "note_on 0 0 60 1", "end_of_track 0"])
    );
    assert_eq!(
        mtf(&with_size(0, &[])),
        lines(&["ticks_per_beat 96", "end_of_track 0"])
    );
    // A message crossing the end makes mido read on until the data runs out.
    assert!(matches!(
        midi_to_mtf(&with_size(trk.len() as u32 - 2, &[])),
        Err(MtfError::Truncated { .. })
    ));
    assert!(matches!(
        midi_to_mtf(&with_size(trk.len() as u32 + 10, &[])),
        Err(MtfError::Truncated { .. })
    ));
}

#[test]
fn rejects_what_mido_rejects() {
    let trk = track(&[ev(0, &[0x90, 60, 1]), eot()]);
    let one = |t: Vec<u8>| midi(1, 480, &[t]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("text", b"This is not a MIDI file at all.\n".to_vec()),
        (
            "RIFF",
            [
                &b"RIFF\x1e\x00\x00\x00RMIDdata"[..],
                &midi(0, 96, std::slice::from_ref(&trk)),
            ]
            .concat(),
        ),
        ("only MThd", b"MThd".to_vec()),
        (
            "short header",
            b"MThd\x00\x00\x00\x04\x00\x01\x00\x01".to_vec(),
        ),
        (
            "missing track",
            header(1, 2, 96)
                .into_iter()
                .chain(chunk(b"MTrk", &trk))
                .collect(),
        ),
        (
            "foreign chunk",
            [
                header(1, 1, 96),
                chunk(b"XFIH", b"1234"),
                chunk(b"MTrk", &trk),
            ]
            .concat(),
        ),
        (
            "running status at start",
            one(track(&[ev(0, &[60, 100]), eot()])),
        ),
        (
            "running status on clock",
            one(track(&[ev(0, &[0xf8]), ev(0, &[0x10]), eot()])),
        ),
        ("undefined status", one(track(&[ev(0, &[0xf4]), eot()]))),
        (
            "data byte > 127",
            one(track(&[ev(0, &[0x90, 0x80, 100]), eot()])),
        ),
        (
            "sequence_number len 1",
            one(track(&[meta(0, 0x00, &[1]), eot()])),
        ),
        (
            "channel_prefix empty",
            one(track(&[meta(0, 0x20, &[]), eot()])),
        ),
        (
            "set_tempo short",
            one(track(&[meta(0, 0x51, &[7, 0xa1]), eot()])),
        ),
        (
            "smpte rate 4",
            one(track(&[meta(0, 0x54, &[4 << 5, 0, 0, 0, 0]), eot()])),
        ),
        (
            "smpte minutes",
            one(track(&[meta(0, 0x54, &[0, 60, 0, 0, 0]), eot()])),
        ),
        (
            "smpte sub_frames",
            one(track(&[meta(0, 0x54, &[0, 0, 0, 0, 100]), eot()])),
        ),
        (
            "time_signature short",
            one(track(&[meta(0, 0x58, &[4, 2, 24]), eot()])),
        ),
        (
            "key_signature short",
            one(track(&[meta(0, 0x59, &[1]), eot()])),
        ),
        (
            "meta too long",
            one([&[0x00u8, 0xff, 0x01][..], &vlq(1_000_001), &[0; 5]].concat()),
        ),
        (
            "sysex too long",
            one([&[0x00u8, 0xf0][..], &vlq(1_000_001), &[0; 5]].concat()),
        ),
        (
            "meta truncated",
            one([&[0x00u8, 0xff, 0x01][..], &vlq(40), b"abc"].concat()),
        ),
        ("vlq unterminated", one(vec![0x81, 0x82])),
    ];
    for (name, bytes) in cases {
        assert!(midi_to_mtf(&bytes).is_err(), "{name} should be rejected");
    }
}

#[test]
fn error_messages_name_the_cause() {
    assert_eq!(
        midi_to_mtf(b"RIFF....").map_err(|e| e.to_string()),
        Err("not a MIDI file: the data does not start with an MThd chunk".to_string())
    );
    let e = midi_to_mtf(&header(2, 0, 96)).map_err(|e| e.to_string());
    assert!(e.is_err_and(|m| m.contains("type 2")));
    let foreign = [header(1, 1, 96), chunk(b"XFIH", b"1234")].concat();
    assert_eq!(
        midi_to_mtf(&foreign),
        Err(MtfError::NotATrack {
            track: 0,
            offset: 14,
            found: *b"XFIH"
        })
    );
}

#[test]
fn python_refuses_to_print_ints_of_more_than_4300_digits() {
    let ten_pow = |n: u32| -> Vec<u8> {
        // 10**n as a variable-length quantity, via decimal long multiplication in base 128.
        let mut digits = vec![1u8]; // little-endian base-128 digits
        for _ in 0..n {
            let mut carry = 0u32;
            for d in digits.iter_mut() {
                let v = u32::from(*d) * 10 + carry;
                *d = (v % 128) as u8;
                carry = v / 128;
            }
            while carry > 0 {
                digits.push((carry % 128) as u8);
                carry /= 128;
            }
        }
        let len = digits.len();
        digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| if i + 1 < len { d | 0x80 } else { d })
            .collect()
    };
    let note_after = |delta: Vec<u8>| midi(1, 480, &[[delta, vec![0x90, 60, 1], eot()].concat()]);
    // 10**4299 (4300 digits) prints; 10**4300 (4301 digits) makes str() raise.
    let text = mtf(&note_after(ten_pow(4299)));
    assert_eq!(
        text.lines().nth(1).map(str::len),
        Some("note_on ".len() + 4300 + " 0 60 1".len())
    );
    assert_eq!(
        midi_to_mtf(&note_after(ten_pow(4300))),
        Err(MtfError::IntegerTooLong { limit: 4300 })
    );
    // Only printed values count: a huge delta on a dropped text message is fine in m3 mode.
    let dropped = midi(
        1,
        480,
        &[[
            vec![ten_pow(4300)],
            vec![vec![0xff, 0x01, 1, b'x'], ev(1, &[0x90, 60, 1]), eot()],
        ]
        .concat()
        .concat()],
    );
    assert_eq!(
        mtf(&dropped),
        lines(&["ticks_per_beat 480", "note_on 1 0 60 1", "end_of_track 0"])
    );
    assert!(midi_to_mtf_with_options(
        &dropped,
        MtfOptions {
            m3_compatible: false
        }
    )
    .is_err());
}

#[test]
fn giant_delta_times_are_refused_when_printed() {
    // A 20,000-byte variable-length number (140,000 bits, ~42,000 digits): read in linear
    // time, and refused like Python's str() refuses it.
    let mut t = vec![0xffu8; 19_999];
    t.extend_from_slice(&[0x7f, 0x90, 60, 1]);
    t.extend(eot());
    assert_eq!(
        midi_to_mtf(&midi(1, 480, &[t])),
        Err(MtfError::IntegerTooLong { limit: 4300 })
    );
}
