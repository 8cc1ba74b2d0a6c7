//! The music side of an item: the standard ABC handed to the interleaver, and facts measured
//! on the converted music (bars, notes, pitch range, duration).

/// Information fields the builder removes from the sheet music before interleaving: the
/// bibliographic and descriptive ones (area, book, discography, file, group, history, notes,
/// origin, rhythm, source, transcription, remarks). The four text fields are made from them,
/// so keeping them would put the answer into the music (WikiMT-X's lead sheets come from
/// MusicXML through xml2abc and carry no such fields). `X:`, `T:`, `C:`, `W:`, `w:` and `Z:`
/// are removed by the reference interleaver itself.
const DESCRIPTIVE_FIELDS: &[&str] = &[
    "A:", "B:", "D:", "F:", "G:", "H:", "N:", "O:", "R:", "S:", "Z:", "r:",
];

/// The standard ABC the builder interleaves, made from one tune's text:
/// 1. lines starting with a descriptive field ([`DESCRIPTIVE_FIELDS`]) and plain comment
///    lines (`%` but not a `%%` directive) are removed;
/// 2. if no line reads exactly `V:1` (after stripping ASCII whitespace), a `V:1` line is
///    inserted right after the first `K:` line, with that line's own line ending. The
///    reference interleaver finds the tune body at the last line that is exactly `V:1`, so
///    without it every single-voice folk tune fails ("tunebody index not found"); this is
///    what the conformance corpus `music21_v1` does (scripts/conformance/split_abc_tunes.py).
///
/// Everything else (music lines, `L:`, `M:`, `K:`, `Q:`, `P:`, `I:`, `V:`, `%%` directives)
/// is kept byte for byte.
pub(crate) fn prepare_sheet(tune: &str) -> String {
    let lines: Vec<&str> = tune
        .split_inclusive('\n')
        .filter(|l| {
            let plain_comment = l.starts_with('%') && !l.starts_with("%%");
            !plain_comment && !DESCRIPTIVE_FIELDS.iter().any(|f| l.starts_with(f))
        })
        .collect();
    let has_v1 = lines
        .iter()
        .any(|l| l.trim_matches(|c: char| c.is_ascii_whitespace()) == "V:1");
    let mut out = String::with_capacity(tune.len() + 8);
    let mut inserted = has_v1;
    for line in lines {
        if !inserted && line.starts_with("K:") {
            let ending = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else if line.ends_with('\r') {
                "\r"
            } else {
                ""
            };
            out.push_str(line);
            if ending.is_empty() {
                out.push('\n');
                out.push_str("V:1\n");
            } else {
                out.push_str("V:1");
                out.push_str(ending);
            }
            inserted = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Bars and voices of an interleaved ABC text: one output line per bar, each holding
/// `[V:n]` once per voice (CLAMP3.md §5.3 step 7).
pub(crate) fn bars_and_voices(interleaved: &str) -> (usize, usize) {
    let mut bars = 0;
    let mut voices = 0;
    for line in interleaved.lines() {
        if line.starts_with("[V:") {
            if bars == 0 {
                voices = line.matches("[V:").count();
            }
            bars += 1;
        }
    }
    (bars, voices)
}

/// Facts measured on an MTF text (the MIDI as the model sees it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MtfStats {
    /// Sounding notes (`note_on` with a velocity above 0).
    pub notes: usize,
    /// Lowest and highest MIDI note number of those notes.
    pub range: Option<(u8, u8)>,
    /// Length in seconds (ticks converted with the file's tempo changes; 120 bpm until the
    /// first `set_tempo`, as in the MIDI standard).
    pub seconds: f64,
}

/// Meta message types: in MTF their delta time is the last value (CLAMP3.md §5.5).
const META_TYPES: &[&str] = &[
    "time_signature",
    "key_signature",
    "set_tempo",
    "midi_port",
    "channel_prefix",
    "sequence_number",
    "smpte_offset",
    "sequencer_specific",
    "end_of_track",
    "unknown_meta",
    "text",
    "copyright",
    "track_name",
    "instrument_name",
    "lyrics",
    "marker",
    "cue_marker",
    "device_name",
];

/// Measures an MTF text. Lines that do not parse are ignored (the text comes from
/// [`clamp3_formats::mtf::midi_to_mtf`], whose grammar is fixed).
pub(crate) fn mtf_stats(mtf: &str) -> MtfStats {
    let mut lines = mtf.lines();
    let tpb: f64 = lines
        .next()
        .and_then(|l| l.strip_prefix("ticks_per_beat "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(480.0);
    let mut tempo = 500_000.0_f64; // microseconds per beat
    let mut seconds = 0.0;
    let mut notes = 0;
    let mut range: Option<(u8, u8)> = None;
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        let Some(&kind) = parts.first() else { continue };
        let delta = if META_TYPES.contains(&kind) {
            parts.last()
        } else {
            parts.get(1)
        }
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
        seconds += delta as f64 * tempo / (tpb * 1e6);
        match kind {
            "set_tempo" => {
                if let Some(t) = parts.get(1).and_then(|t| t.parse::<f64>().ok()) {
                    tempo = t;
                }
            }
            "note_on" => {
                let note = parts.get(3).and_then(|n| n.parse::<u8>().ok());
                let vel = parts.get(4).and_then(|n| n.parse::<u8>().ok());
                if let (Some(n), Some(v)) = (note, vel) {
                    if v > 0 {
                        notes += 1;
                        range = Some(match range {
                            None => (n, n),
                            Some((lo, hi)) => (lo.min(n), hi.max(n)),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    MtfStats {
        notes,
        range,
        seconds,
    }
}

/// Scientific pitch name of a MIDI note (60 = `C4`), sharps spelled `#`.
pub(crate) fn note_name(n: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    let octave = i32::from(n / 12) - 1;
    format!("{}{}", NAMES[usize::from(n % 12)], octave)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_v1_after_k_and_drops_descriptive_fields() {
        let t = "X:1\nT:Tune\nN: Notiz\nO: Europa\nR: reel]\n% comment\n%%MIDI program 1\nM:2/4\nK:G\nabc|def|\n";
        assert_eq!(
            prepare_sheet(t),
            "X:1\nT:Tune\n%%MIDI program 1\nM:2/4\nK:G\nV:1\nabc|def|\n"
        );
        // CRLF kept, an existing V:1 means no insertion
        assert_eq!(
            prepare_sheet("X:1\r\nK:C\r\nab|\r\n"),
            "X:1\r\nK:C\r\nV:1\r\nab|\r\n"
        );
        let with_v1 = "X:1\nK:C\nV:1 \nab|\n";
        assert_eq!(prepare_sheet(with_v1), with_v1);
        // no K: line: nothing to insert after (the interleaver then reports no body)
        assert_eq!(prepare_sheet("X:1\nab|\n"), "X:1\nab|\n");
        // a K: line without a line ending
        assert_eq!(prepare_sheet("X:1\nK:C"), "X:1\nK:C\nV:1\n");
    }

    #[test]
    fn counts_bars_and_voices() {
        let abc = "L:1/8\nK:G\n[V:1]abc|[V:2]def|\n[V:1]g|[V:2]a|\n";
        assert_eq!(bars_and_voices(abc), (2, 2));
        assert_eq!(bars_and_voices("K:G\n"), (0, 0));
    }

    #[test]
    fn measures_mtf() {
        let mtf = "ticks_per_beat 480\nset_tempo 1000000 0\nnote_on 0 0 60 90\nnote_on 480 0 60 0\nnote_on 0 0 72 80\nnote_off 480 0 72 0\nend_of_track 0";
        let s = mtf_stats(mtf);
        assert_eq!(s.notes, 2);
        assert_eq!(s.range, Some((60, 72)));
        assert!((s.seconds - 2.0).abs() < 1e-9);
        assert_eq!(note_name(60), "C4");
        assert_eq!(note_name(69), "A4");
        assert_eq!(note_name(61), "C#4");
        assert_eq!(note_name(0), "C-1");
    }
}
