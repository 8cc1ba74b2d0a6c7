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

/// The standard ABC the builder interleaves, made from one tune's text. The steps only
/// change the layout, never the notes, and each one avoids a way in which the reference
/// interleaver (reproduced exactly by [`clamp3_formats::interleave`]) fails on, or silently
/// cuts short, hand-written folk-tune ABC:
/// 1. lines starting with a descriptive field ([`DESCRIPTIVE_FIELDS`]), `W:`/`w:` lyrics
///    (which the reference drops anyway), plain comment lines (`%` but not a `%%`
///    directive) and blank lines are removed;
/// 2. the header (up to the first `K:` line) is kept as it is; the body is regrouped voice
///    by voice, in order of first appearance, each voice starting with a line `V:<id>`
///    (the first word after `V:`; voice attributes and comments are dropped), and the music
///    before any `V:` line belonging to voice 1. So every tune gets a line that is exactly
///    `V:1` after its `K:` line: the reference finds the tune body at the last such line,
///    so without it every single-voice folk tune fails ("tunebody index not found"), as
///    the conformance corpus `music21_v1` shows (scripts/conformance/split_abc_tunes.py
///    inserts `V:1` after `K:`); and a tune whose voices alternate in blocks (`V:1`, `V:2`,
///    `V:1`, ...) is not cut down to its last block;
/// 3. each run of consecutive music lines of a voice is joined into one line: `%`
///    comments and `\` line continuations are removed and the lines joined with a space.
///    The reference parses a voice line by line and drops everything after a repeat sign
///    that ends a line when the next line starts with one (`:|` / `|:`), which cut most
///    O'Neill's and Ryan's tunes short;
/// 4. barlines separated only by spaces are merged into the one barline they stand for
///    ([`normalize_barlines`]: `:| |:` → `::`, `| |:` → `|:`, `:| |` → `:|`), which the
///    reference otherwise reads as an empty bar and fails on or stops at;
/// 5. a voice whose music does not end with a barline gets a final `|` (the reference
///    drops the music after a voice's last barline, and fails when the voice starts with
///    one); the Essen tunes mostly end without a barline.
///
/// Field lines inside the body (`K:`, `M:`, `P:`...) and lines starting with an inline voice
/// field (`[V:`) stay in place in their voice, as they are. Line endings become `\n` (the
/// reference reads files in universal-newline mode).
pub(crate) fn prepare_sheet(tune: &str) -> String {
    let lines: Vec<&str> = tune
        .lines()
        .filter(|l| {
            let plain_comment = l.starts_with('%') && !l.starts_with("%%");
            let lyrics = l.starts_with("W:") || l.starts_with("w:");
            !plain_comment
                && !lyrics
                && !l.trim().is_empty()
                && !DESCRIPTIVE_FIELDS.iter().any(|f| l.starts_with(f))
        })
        .collect();
    let Some(k) = lines.iter().position(|l| l.starts_with("K:")) else {
        // no body: nothing to insert after (the interleaver then reports it)
        return lines.iter().map(|l| format!("{l}\n")).collect();
    };
    let mut out: Vec<String> = lines.iter().take(k + 1).map(|l| l.to_string()).collect();
    // the body, voice by voice, in order of first appearance; music before any `V:` line
    // belongs to voice 1
    let mut voices: Vec<VoiceText> = Vec::new();
    let mut cur = 0;
    for line in lines.iter().skip(k + 1) {
        if let Some(rest) = line.strip_prefix("V:") {
            let key = strip_comment(rest).split_whitespace().next().unwrap_or("");
            cur = voice_index(&mut voices, key);
            continue;
        }
        if voices.is_empty() {
            voice_index(&mut voices, "1");
        }
        let Some(v) = voices.get_mut(cur) else {
            continue;
        };
        if is_field_line(line) || line.starts_with('%') || line.starts_with("[V:") {
            v.flush();
            v.lines.push(line.to_string());
        } else {
            let music = strip_comment(line).trim();
            let music = music.strip_suffix('\\').unwrap_or(music).trim_end();
            if !music.is_empty() {
                v.block.push(music.to_string());
            }
        }
    }
    for v in &mut voices {
        v.flush();
        if let Some(last) = v.last_music.and_then(|i| v.lines.get_mut(i)) {
            if !ends_with_barline(last) {
                last.push('|');
            }
        }
        out.push(format!("V:{}", v.key));
        out.append(&mut v.lines);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// One voice's body text while it is being collected.
struct VoiceText {
    /// The voice id (the first word after `V:`).
    key: String,
    /// The output lines.
    lines: Vec<String>,
    /// Music lines not yet joined.
    block: Vec<String>,
    /// Index in `lines` of the last joined music line.
    last_music: Option<usize>,
}

impl VoiceText {
    /// Joins the pending music lines into one output line.
    fn flush(&mut self) {
        if self.block.is_empty() {
            return;
        }
        self.lines.push(normalize_barlines(&self.block.join(" ")));
        self.last_music = Some(self.lines.len() - 1);
        self.block.clear();
    }
}

/// The index of voice `key` in `voices`, added at the end when new.
fn voice_index(voices: &mut Vec<VoiceText>, key: &str) -> usize {
    if let Some(i) = voices.iter().position(|v| v.key == key) {
        return i;
    }
    voices.push(VoiceText {
        key: key.to_string(),
        lines: Vec::new(),
        block: Vec::new(),
        last_music: None,
    });
    voices.len() - 1
}

/// A `<letter>:` information-field line.
fn is_field_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The music before a `%` comment (a `%` inside a `"..."` annotation does not count).
fn strip_comment(line: &str) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '%' if !in_quote => return line.get(..i).unwrap_or(line),
            _ => {}
        }
    }
    line
}

/// Whether a music text ends with a barline (`|`, `||`, `|]`, `:|`, `::`...).
fn ends_with_barline(text: &str) -> bool {
    let t = text.trim_end();
    t.ends_with('|') || t.ends_with("|]") || t.ends_with("::")
}

/// Barlines the reference's abctoolkit splits bars at (its `Barlines` list) and the
/// combinations it was seen to handle (`:|:`, `||:`, `[|:`); other barline spellings are
/// rewritten by [`canonical_barline`].
const SUPPORTED_BARLINES: &[&str] = &[
    "|:", "::", ":|", "[|", "||", "|]", "|", "|]:", ":[|", ":|:", "||:", "[|:",
];

/// Rewrites barlines into spellings the reference reads as one barline:
/// - barlines that only whitespace separates are merged into the one barline they stand for
///   (an end of repeat followed by a start of repeat becomes `::` — ABC 2.1: `::` = `:|:` =
///   `:||:` — a start of repeat absorbs a plain barline, `| |` becomes `|`);
/// - a barline spelled otherwise than [`SUPPORTED_BARLINES`] (`:||`, `:||:`, `|||`, the
///   invisible barline `[|]`, ...) becomes its canonical form ([`canonical_barline`]).
///
/// The reference reads `:||` as `:|` followed by an empty bar and stops there, and `:| |:`
/// as an empty bar between two barlines and fails. Text inside `"..."` and `[...]` (chords,
/// inline fields) is left alone; a volta number after a barline (`:|2`, `[2` stays as it
/// is) is kept, and nothing is merged after a barline that carries one.
///
/// A rewritten barline can run into the characters after it and form a new one, so passes
/// are repeated until nothing changes (every change shortens the text; at most 16 passes).
pub(crate) fn normalize_barlines(text: &str) -> String {
    let mut current = normalize_barlines_once(text);
    for _ in 0..16 {
        let next = normalize_barlines_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// One pass of [`normalize_barlines`].
fn normalize_barlines_once(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |k: usize| chars.get(k).copied();
    let mut out = String::with_capacity(text.len());
    // the last barline written: (start in `out`, its barline part, it has a volta)
    let mut last: Option<(usize, String, bool)> = None;
    let mut i = 0;
    while let Some(c) = at(i) {
        let next = at(i + 1);
        if c == '"' {
            let end = (i + 1..chars.len())
                .find(|&j| chars[j] == '"')
                .map_or(chars.len(), |j| j + 1);
            out.extend(&chars[i..end]);
            i = end;
            last = None;
            continue;
        }
        if c == '[' && next != Some('|') && !next.is_some_and(|d| d.is_ascii_digit()) {
            // a chord or an inline field; a `[` without its `]` is copied alone
            let end = (i + 1..chars.len())
                .find(|&j| chars[j] == ']')
                .map_or(i + 1, |j| j + 1);
            out.extend(&chars[i..end]);
            i = end;
            last = None;
            continue;
        }
        let starts_bar = c == '|'
            || (c == ':' && matches!(next, Some('|' | ':')))
            || (c == ':' && next == Some('[') && at(i + 2) == Some('|'))
            || (c == '[' && next == Some('|'));
        if !starts_bar {
            out.push(c);
            if !c.is_whitespace() {
                last = None;
            }
            i += 1;
            continue;
        }
        let mut j = i;
        loop {
            match at(j) {
                Some('|' | ':') => j += 1,
                Some('[') if at(j + 1) == Some('|') => j += 1,
                Some(']') if j > i && at(j - 1) == Some('|') => j += 1,
                _ => break,
            }
        }
        let bar: String = chars[i..j].iter().collect();
        let mut k = j;
        if at(j).is_some_and(|d| d.is_ascii_digit()) {
            while matches!(at(k), Some(d) if d.is_ascii_digit() || d == ',' || d == '-') {
                k += 1;
            }
        }
        let volta: String = chars[j..k].iter().collect();
        let mergeable = match &last {
            Some((start, prev, false)) => out
                .get(start + prev.len()..)
                .is_some_and(|s| s.trim().is_empty()),
            _ => false,
        };
        let (start, written) = match (&last, mergeable) {
            (Some((start, prev, _)), true) => {
                let merged = merge_barlines(prev, &bar);
                out.truncate(*start);
                (*start, merged)
            }
            _ if SUPPORTED_BARLINES.contains(&bar.as_str()) => (out.len(), bar),
            _ => (out.len(), canonical_barline(&bar)),
        };
        out.push_str(&written);
        out.push_str(&volta);
        last = Some((start, written, !volta.is_empty()));
        i = k;
    }
    out
}

/// Whether a barline ends a repeat and whether it starts one. The invisible barline `[|]`
/// counts as `|`; `|:|` (found at the end of Ryan's tunes) is read as an end of repeat.
fn repeat_flags(bar: &str) -> (bool, bool) {
    let core: String = bar
        .replace("[|]", "|")
        .chars()
        .filter(|c| *c != '[' && *c != ']')
        .collect();
    let ends = core.starts_with(':') || core.ends_with(":|");
    let starts = core.ends_with(':') || (core.starts_with("|:") && !core.ends_with(":|"));
    (ends, starts)
}

/// The barline spelling for repeat flags: `::` when it ends one repeat and starts another,
/// `|:` when it starts one, `:|` when it ends one; `None` for a plain barline.
fn repeat_barline(ends: bool, starts: bool) -> Option<&'static str> {
    match (ends, starts) {
        (true, true) => Some("::"),
        (false, true) => Some("|:"),
        (true, false) => Some(":|"),
        (false, false) => None,
    }
}

/// The canonical spelling of a barline ([`repeat_barline`], else `|]` for a final barline,
/// `||` for a double one, `|` otherwise).
fn canonical_barline(bar: &str) -> String {
    let (ends, starts) = repeat_flags(bar);
    if let Some(r) = repeat_barline(ends, starts) {
        return r.into();
    }
    let plain = bar.replace("[|]", "|");
    if plain.contains("|]") {
        "|]".into()
    } else if plain.matches('|').count() >= 2 {
        "||".into()
    } else {
        "|".into()
    }
}

/// The one barline that two adjacent barlines stand for: the repeats of both, else `|]` if
/// either is final, `|` for two plain single barlines, `||` otherwise.
fn merge_barlines(a: &str, b: &str) -> String {
    let (ea, sa) = repeat_flags(a);
    let (eb, sb) = repeat_flags(b);
    if let Some(r) = repeat_barline(ea || eb, sa || sb) {
        return r.into();
    }
    let (a, b) = (a.replace("[|]", "|"), b.replace("[|]", "|"));
    if a.contains("|]") || b.contains("|]") {
        "|]".into()
    } else if a == "|" && b == "|" {
        "|".into()
    } else {
        "||".into()
    }
}

/// Bars and voices of an interleaved ABC text: one output line per bar, each holding
/// `[V:n]` once per voice (docs/reference.md §5.3 step 11).
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

/// Meta message types: in MTF their delta time is the last value (docs/reference.md §5.5).
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
        // CRLF read as lines; a V:1 line with spaces or a comment becomes `V:1`
        assert_eq!(
            prepare_sheet("X:1\r\nK:C\r\nab|\r\n"),
            "X:1\nK:C\nV:1\nab|\n"
        );
        assert_eq!(
            prepare_sheet("X:1\nK:C\nV:1 \nab|\n"),
            "X:1\nK:C\nV:1\nab|\n"
        );
        assert_eq!(
            prepare_sheet("X:1\nK:C\nV:1 % Fife I\nab|\n"),
            "X:1\nK:C\nV:1\nab|\n"
        );
        // no K: line: nothing to insert after (the interleaver then reports no body)
        assert_eq!(prepare_sheet("X:1\nab|\n"), "X:1\nab|\n");
        // a K: line without a line ending, and no music: no voice
        assert_eq!(prepare_sheet("X:1\nK:C"), "X:1\nK:C\n");
        assert_eq!(prepare_sheet("X:1\nK:C\nab"), "X:1\nK:C\nV:1\nab|\n");
    }

    #[test]
    fn joins_music_lines_and_closes_voices() {
        // continuation, comment, repeat signs across lines, no final barline
        let t = "X:1\nK:A\nuf \\\n| eAA cAA | cde :|\n|: ua % x\n| agf | cfe e2\n\n";
        assert_eq!(
            prepare_sheet(t),
            "X:1\nK:A\nV:1\nuf | eAA cAA | cde :: ua | agf | cfe e2|\n"
        );
        // voices: each block closed before the next V: line; lyrics dropped
        let t = "X:1\nK:C\nV:1\nab|\ncd\nw: la la\nV:2\nef|\ng2|]\n";
        assert_eq!(prepare_sheet(t), "X:1\nK:C\nV:1\nab| cd|\nV:2\nef| g2|]\n");
        // voices alternating in blocks are regrouped; header V: lines stay
        let t = "X:1\nV:1\nV:2 clef=bass\nK:D\nV:1\nab|\nV:2\ncd|\nV:1\nef|\nV:2\ngh\n";
        assert_eq!(
            prepare_sheet(t),
            "X:1\nV:1\nV:2 clef=bass\nK:D\nV:1\nab| ef|\nV:2\ncd| gh|\n"
        );
        // inline voice lines and body field lines are kept as they are
        let t = "X:1\nK:C\n[V:1] ab|\n[V:2] cd|\nP:B\nef\n";
        assert_eq!(
            prepare_sheet(t),
            "X:1\nK:C\nV:1\n[V:1] ab|\n[V:2] cd|\nP:B\nef|\n"
        );
    }

    #[test]
    fn merges_adjacent_barlines() {
        assert_eq!(normalize_barlines("a :| |: b"), "a :: b");
        assert_eq!(normalize_barlines("a || |: b"), "a |: b");
        assert_eq!(normalize_barlines("a :| | b"), "a :| b");
        assert_eq!(normalize_barlines("a | | b |]"), "a | b |]");
        assert_eq!(normalize_barlines("a | |] "), "a |] ");
        assert_eq!(normalize_barlines("a :| |2 b"), "a :|2 b");
        assert_eq!(normalize_barlines("a |1 b :| |2 c"), "a |1 b :|2 c");
        // a barline with a volta is not merged with the next one
        assert_eq!(normalize_barlines("a |1 | b"), "a |1 | b");
        // quotes and brackets are left alone
        assert_eq!(
            normalize_barlines("\"| |:\" [K:D] [CE] | b"),
            "\"| |:\" [K:D] [CE] | b"
        );
        assert_eq!(normalize_barlines("[| ab :|"), "[| ab :|");
        assert_eq!(normalize_barlines("ab ::"), "ab ::");
        // spellings the reference does not read as one barline
        assert_eq!(
            normalize_barlines("a :|| b :||: c ||| d"),
            "a :| b :: c || d"
        );
        assert_eq!(normalize_barlines("a|]"), "a|]");
        assert_eq!(normalize_barlines("g2e\"^Segno\":[|]|]"), "g2e\"^Segno\":|");
        assert_eq!(normalize_barlines("B2D H[|]:|"), "B2D H:|");
        assert_eq!(normalize_barlines("G2z2 |:|"), "G2z2 :|");
        assert_eq!(normalize_barlines("a |: | b | :| c"), "a |: b :| c");
        assert_eq!(
            normalize_barlines("[| a [|: b :|: c ||: d"),
            "[| a [|: b :|: c ||: d"
        );
        // a volta written `[2` is not a bracket group
        assert_eq!(
            normalize_barlines("a :| [2 b | c || |: d"),
            "a :| [2 b | c |: d"
        );
        assert_eq!(normalize_barlines("a [ b | | c"), "a [ b | c");
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

    /// Random ABC-like text (barlines, brackets, quotes, comments, fields, multi-byte
    /// characters): the preparation never panics, always ends lines with `\n`, and barline
    /// normalisation is idempotent.
    #[test]
    fn random_text_never_panics() {
        use clamp3_util::Rng;
        const PIECES: &[&str] = &[
            "|", ":", "[", "]", "\"", "%", "\\", " ", "\n", "\r\n", "K:", "V:", "V:1", "X:", "N:",
            "w:", "abc", "A2", "1", "2", ",", "-", "ä", "中", "(", ")", "?", "!", "::", ":|", "|:",
            "[|]", "[1", "\t",
        ];
        let mut rng = Rng::new(42);
        for _ in 0..20_000 {
            let n = rng.below_unbiased(40) as usize;
            let text: String = (0..n)
                .map(|_| PIECES[rng.below_unbiased(PIECES.len() as u64) as usize])
                .collect();
            let sheet = prepare_sheet(&text);
            assert!(sheet.is_empty() || sheet.ends_with('\n'), "{text:?}");
            let once = normalize_barlines(&text);
            assert_eq!(normalize_barlines(&once), once, "{text:?}");
            let _ = clamp3_formats::interleave::interleave_abc(&sheet);
            let fields = crate::corpus::Fields::parse(&text);
            let facts = crate::text::Facts::from_fields(
                &fields,
                "essenFolksong",
                "x.abc",
                crate::text::MusicFacts::default(),
            );
            for t in [
                facts.background(),
                facts.analysis(),
                facts.description(),
                facts.scene(),
            ] {
                assert!(!t.is_empty());
            }
        }
    }
}
