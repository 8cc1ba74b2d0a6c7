//! The conversion proper: a walk over the parts and bars of a `score-partwise` document that
//! collects, per bar and per MusicXML voice, the records of [`crate::model`], followed by the
//! ABC writer (voices, lyrics, header).
//!
//! Behaviour follows the reference converter (xml2abc.py VERSION 143 with `-d 8 -x`), worked
//! out from the MusicXML it reads and the ABC it prints; the notes on each step say what the
//! reference does where MusicXML leaves room. Where the reference raises an exception (and so
//! prints nothing), the conversion returns [`XmlError::Rejected`] with the cause.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Arena, ElemText, Item, Note, RepeatHead, RepeatSlot};
use crate::partlist;
use crate::py;
use crate::render;
use crate::xml::{self, Node};
use crate::XmlError;

type R<T> = Result<T, XmlError>;

/// Unit note length (`-d 8`).
const UNIT: i64 = 8;
/// Characters per body line before a new line starts (the reference's default).
const CHARS_PER_LINE: usize = 100;
/// Highest lyric verse number accepted (a documented limit: the reference writes one `w:`
/// line for every number up to the highest, which for absurd numbers never ends).
const MAX_VERSE: i64 = 100_000;

/// Decorations from `<notations>`, in the (sorted) order the reference tries them.
const ORNAMENTS: [(&str, &str); 23] = [
    ("arpeggiate", "!arpeggio!"),
    ("articulations/accent", "!>!"),
    ("articulations/breath-mark", "!breath!"),
    ("articulations/detached-legato", "!tenuto!."),
    ("articulations/scoop", "!slide!"),
    ("articulations/spiccato", "!wedge!"),
    ("articulations/staccatissimo", "!wedge!"),
    ("articulations/staccato", "."),
    ("articulations/strong-accent", "!^!"),
    ("articulations/tenuto", "!tenuto!"),
    ("fermata", "!fermata!"),
    ("ornaments/inverted-mordent", "P"),
    ("ornaments/inverted-turn", "!invertedturn!"),
    ("ornaments/mordent", "M"),
    ("ornaments/trill-mark", "T"),
    ("ornaments/turn", "!turn!"),
    ("technical/down-bow", "v"),
    ("technical/harmonic", "!open!"),
    ("technical/open-string", "!open!"),
    ("technical/snap-pizzicato", "!snap!"),
    ("technical/stopped", "!plus!"),
    ("technical/thumb-position", "!thumb!"),
    ("technical/up-bow", "u"),
];

/// Dynamics marks, in the order the reference tries them.
const DYNAMICS: [&str; 11] = [
    "p", "pp", "ppp", "pppp", "f", "ff", "fff", "ffff", "mp", "mf", "sfz",
];

/// Sound attributes that make a jump mark replace the direction's words.
const JUMPS: [(&str, &str); 6] = [
    ("dacapo", "D.C."),
    ("dalsegno", "D.S."),
    ("tocoda", "dacoda"),
    ("fine", "fine"),
    ("coda", "O"),
    ("segno", "S"),
];

/// Clef sign+line -> ABC clef name.
fn clef_name(sign_line: &str) -> &'static str {
    match sign_line {
        "C1" => "alto1",
        "C2" => "alto2",
        "C3" => "alto",
        "C4" => "tenor",
        "F4" => "bass",
        "F3" => "bass3",
        "G2" => "treble",
        "TAB" => "tab",
        "percussion" => "perc",
        _ => "",
    }
}

/// Key name and the alterations it implies, from `<fifths>` and `<mode>`.
fn key_signature(fifths: i64, mode: &str) -> R<(String, HashMap<String, i64>)> {
    const SHARPNESS: [&str; 21] = [
        "Fb", "Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#",
        "G#", "D#", "A#", "E#", "B#",
    ];
    const STEPS: [&str; 7] = ["F", "C", "G", "D", "A", "E", "B"];
    let mode: String = py::lower(mode).chars().take(3).collect();
    let offset = match mode.as_str() {
        "maj" | "ion" | "non" => 8,
        "m" | "min" | "aeo" => 11,
        "mix" => 9,
        "dor" => 10,
        "phr" => 12,
        "lyd" => 7,
        "loc" => 13,
        _ => return Err(XmlError::invalid(format!("unknown key mode {mode:?}"))),
    };
    let tonic = py::index(&SHARPNESS, py::add(offset, fifths)?)
        .ok_or_else(|| XmlError::invalid(format!("key with {fifths} fifths")))?;
    let key = if offset != 8 {
        format!("{tonic}{mode}")
    } else {
        (*tonic).to_string()
    };
    let mut alts = HashMap::new();
    if fifths >= 0 {
        for s in STEPS.iter().take(usize::try_from(fifths).unwrap_or(7)) {
            alts.insert((*s).to_string(), 1);
        }
    } else {
        let from = fifths.saturating_add(7).max(0) as usize;
        for s in &STEPS[from..] {
            alts.insert((*s).to_string(), -1);
        }
    }
    Ok((key, alts))
}

/// Pitch letter and octave -> ABC pitch without accidental.
fn with_octave(step: &str, octave: i64) -> String {
    let mut p = if octave > 4 {
        py::lower(step)
    } else {
        step.to_string()
    };
    if octave > 5 {
        p.push_str(&"'".repeat(usize::try_from(octave.saturating_sub(5)).unwrap_or(0)));
    }
    if octave < 4 {
        p.push_str(&",".repeat(usize::try_from(4i64.saturating_sub(octave)).unwrap_or(0)));
    }
    p
}

/// Octave marks beyond this many are refused (Python would build them; no score has them).
const MAX_OCTAVE_MARKS: i64 = 10_000;

/// Whether an octave number gives at most [`MAX_OCTAVE_MARKS`] octave marks.
fn octave_in_range(octave: i64) -> bool {
    (5 - MAX_OCTAVE_MARKS..=4 + MAX_OCTAVE_MARKS).contains(&octave)
}

/// MIDI pitch of an ABC note (`-1` when it has no pitch letter).
fn abc_midi(note: &str) -> i64 {
    let chars: Vec<char> = note.chars().collect();
    // First pitch letter, with the accidentals right before it and octave marks after it.
    let Some(pos) = chars
        .iter()
        .position(|c| matches!(c, 'A'..='G' | 'a'..='g'))
    else {
        return -1;
    };
    let mut start = pos;
    while start > 0 && matches!(chars[start - 1], '_' | '^') {
        start -= 1;
    }
    let acc = &chars[start..pos];
    let letter = chars[pos];
    let marks: Vec<char> = chars[pos + 1..]
        .iter()
        .take_while(|c| matches!(c, '\'' | ','))
        .copied()
        .collect();
    let upper = letter.to_ascii_uppercase();
    let semis = match upper {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        _ => 11,
    };
    let mut p = 60 + semis + if upper != letter { 12 } else { 0 };
    if let Some(first) = acc.first() {
        p += if *first == '^' { 1 } else { -1 } * acc.len() as i64;
    }
    if let Some(first) = marks.first() {
        p += if *first == '\'' { 12 } else { -12 } * marks.len() as i64;
    }
    p
}

/// Position of a note on the staff for the percussion map (bass staves read as treble).
fn staff_step(step: Option<&str>, octave: i64, clef: &str) -> R<String> {
    const NM7: [&str; 7] = ["C", "D", "E", "F", "G", "A", "B"];
    let mut ndif = 0;
    if clef.contains("stafflines=1") {
        ndif += 4;
    }
    if clef.starts_with("bass") {
        ndif += 12;
    }
    let mut o = octave;
    let mut ptc: Option<String> = step.map(str::to_string);
    if ndif != 0 {
        let s = ptc.as_deref().unwrap_or("");
        let i = NM7
            .iter()
            .position(|x| *x == s)
            .ok_or_else(|| XmlError::invalid(format!("unpitched step {s:?}")))?;
        let n = i as i64 + ndif;
        ptc = Some(NM7[(n % 7) as usize].to_string());
        o = py::add(o, n / 7)?;
    }
    if o == 4 {
        return Ok(ptc.unwrap_or_else(|| "None".to_string()));
    }
    let p = ptc.ok_or_else(|| XmlError::invalid("unpitched note without display-step"))?;
    if !octave_in_range(o) {
        return Err(XmlError::unsupported("more than 10,000 octave marks"));
    }
    Ok(with_octave(&p, o))
}

/// The reference's lyric number: text up to the last `verse` of the first line is dropped
/// (a Sibelius habit), then it must be an integer.
fn lyric_number(number: &str) -> R<i64> {
    let first_line_end = number.find('\n').unwrap_or(number.len());
    let rest = match number[..first_line_end].rfind("verse") {
        Some(at) => &number[at + "verse".len()..],
        None => number,
    };
    py::int_of(rest, "lyric number")
}

/// One syllable of `<lyric>` in ABC `w:` notation.
fn syllable(lyric: Node<'_>) -> String {
    let mut txt = String::new();
    for e in xml::elements(lyric) {
        if xml::is(e, "elision") {
            txt.push('~');
        } else if xml::is(e, "text") {
            let t = xml::text(e).unwrap_or_default();
            txt.push_str(&t.replace('_', "\\_").replace('-', "\\-").replace(' ', "~"));
        }
    }
    if txt.is_empty() {
        return txt;
    }
    if matches!(
        xml::findtext(lyric, "syllabic").as_deref(),
        Some("begin") | Some("middle")
    ) {
        txt.push('-');
    }
    if xml::child(lyric, "extend").is_some() {
        txt.push('_');
    }
    txt
}

/// The `w:` text of one bar for one verse, and whether a melisma runs on past the bar.
fn bar_lyrics(syllables: &[String], mut melis: bool) -> (String, bool) {
    if syllables.iter().all(String::is_empty) {
        return (String::new(), false);
    }
    let mut out: Vec<String> = Vec::with_capacity(syllables.len());
    for x in syllables {
        let s = if x.is_empty() {
            if melis { "_" } else { "*" }.to_string()
        } else if x.ends_with('_') && !x.ends_with("\\_") {
            melis = true;
            x.replace('_', "")
        } else {
            melis = false;
            x.clone()
        };
        out.push(s);
    }
    (out.join(" "), melis)
}

/// Text of an optional element, `""` when missing (`findtext(path, '')`).
fn text_or_empty(n: Node<'_>, path: &str) -> String {
    xml::findtext(n, path)
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

/// Python's `a or b` on two optional strings (an empty string is false).
fn or_else(a: Option<String>, b: Option<String>) -> Option<String> {
    match a {
        Some(s) if !s.is_empty() => Some(s),
        _ => b,
    }
}

/// The value of `<pitch/alter>` as the reference handles it.
enum Alter {
    /// No alteration given.
    None,
    /// The element's text.
    Text(String),
    /// Natural implied by the key or an earlier accidental in the bar.
    Zero,
}

/// Lyrics of one bar of one voice: verse -> (text, melisma continues).
type BarLyrics = Vec<(i64, (String, bool))>;

/// One percussion map entry: (ABC note, staff step, MIDI pitch, note head).
type DrumEntry = (String, String, i64, String);

/// An open slur: (type, voice, note, grace).
struct Slur {
    kind: String,
    voice: i64,
    note: usize,
    grace: bool,
}

/// State of the part being read.
#[derive(Default)]
struct Part {
    /// MusicXML voices in order of first appearance.
    vnums: Vec<i64>,
    /// Staff -> its voices.
    stf_map: BTreeMap<i64, Vec<i64>>,
    /// Staff -> clef of the first bar.
    clef_map: HashMap<i64, String>,
    /// Voices with at least one note with a stem.
    has_stems: HashSet<i64>,
    /// Voice -> instrument id, in order of first appearance.
    vce_inst: Vec<(i64, Option<String>)>,
    /// (voice, ABC note) -> (staff step, MIDI pitch, note head) for percussion voices.
    drum_notes: BTreeMap<(i64, String), (String, i64, String)>,
    /// Staff -> clef octave change (negated).
    clef_oct: HashMap<i64, i64>,
    /// Staff -> current clef.
    cur_clef: HashMap<i64, String>,
    diafret: bool,
    // bar data
    ixm: i64,
    divs: i64,
    mtr: (i64, i64),
    attr: String,
    lline: String,
    rline: String,
    lnum: String,
    // music of the current bar
    tijd: i64,
    maxtime: i64,
    voices: Vec<Vec<Item>>,
    lyrics: Vec<Vec<usize>>,
    counts: Vec<i64>,
    cur_alts: HashMap<(String, i64), i64>,
    // finished bars: [bar][voice]
    bars: Vec<Vec<Vec<Item>>>,
    bar_lyrics: Vec<Vec<BarLyrics>>,
}

impl Part {
    fn vix(&self, v: i64) -> R<usize> {
        self.vnums
            .iter()
            .position(|&x| x == v)
            .ok_or_else(|| XmlError::invalid(format!("voice {v} has no notes in this part")))
    }

    fn stf_voices(&self, staff: i64) -> R<Vec<i64>> {
        self.stf_map
            .get(&staff)
            .cloned()
            .ok_or_else(|| XmlError::invalid(format!("staff {staff} has no notes in this part")))
    }

    fn reset_voices(&mut self) {
        let n = self.vnums.len();
        self.voices = vec![Vec::new(); n];
        self.lyrics = vec![Vec::new(); n];
    }

    fn inc_time(&mut self, dt: i64) -> R<()> {
        self.tijd = py::add(self.tijd, dt)?;
        if self.tijd < 0 {
            self.tijd = 0;
        }
        if self.tijd > self.maxtime {
            self.maxtime = self.tijd;
        }
        Ok(())
    }
}

/// The whole conversion state.
struct Converter {
    arena: Arena,
    // header
    title: String,
    key: String,
    mtr: String,
    tempo: Option<String>,
    tempo_units: (i64, i64),
    clefs: Vec<(i64, String)>,
    body: Vec<String>,
    // across parts
    slurs: HashMap<String, Slur>,
    directions: HashMap<String, (String, i64)>,
    ingrace: bool,
    lastnote: Option<usize>,
    ped_vce: Option<i64>,
    repeat_str: Vec<(i64, usize)>,
    vce2stf: HashMap<i64, i64>,
    cur_stf: HashMap<i64, i64>,
    msr_alts: HashMap<String, i64>,
    is_sib: bool,
    vce_cnt: i64,
    staff_map: Vec<Vec<Vec<i64>>>,
    drum_maps: Vec<Vec<DrumEntry>>,
    score_parts: usize,
    drum_inst: HashMap<Option<String>, i64>,
    part: Part,
    divisions: Vec<i64>,
}

/// Convert a parsed `score-partwise` document.
pub fn convert(doc: &roxmltree::Document<'_>) -> R<String> {
    let mut c = Converter {
        arena: Arena::default(),
        title: "T:Title".to_string(),
        key: "none".to_string(),
        mtr: "none".to_string(),
        tempo: None,
        tempo_units: (1, 4),
        clefs: Vec::new(),
        body: Vec::new(),
        slurs: HashMap::new(),
        directions: HashMap::new(),
        ingrace: false,
        lastnote: None,
        ped_vce: None,
        repeat_str: Vec::new(),
        vce2stf: HashMap::new(),
        cur_stf: HashMap::new(),
        msr_alts: HashMap::new(),
        is_sib: false,
        vce_cnt: 1,
        staff_map: Vec::new(),
        drum_maps: Vec::new(),
        score_parts: 0,
        drum_inst: HashMap::new(),
        part: Part::default(),
        divisions: Vec::new(),
    };
    c.run(doc.root_element())
}

/// `re.sub(r'\s*[\r\n]\s*', ' ', s)`: a run of white space that holds a line break becomes
/// one space (the greedy match takes the whole run).
fn collapse_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.contains(['\r', '\n']) {
            out.push(' ');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl Converter {
    fn run(&mut self, root: Node<'_>) -> R<String> {
        self.title(root);
        let entries = self.part_list(root)?;
        let mut any_voice = false;
        let parts: Vec<Node<'_>> = xml::children(root, "part").collect();
        for (ip, p) in parts.iter().enumerate() {
            self.read_part(*p)?;
            let vvmap = self.write_voices()?;
            self.add_staff_map(&vvmap);
            self.add_midi_map(ip, &vvmap)?;
            any_voice |= !vvmap.is_empty();
        }
        if !any_voice {
            return Err(XmlError::NoNotes);
        }
        let mut out = self.header(&entries);
        for line in &self.body {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Ok(out)
    }

    // ----- title, part list ------------------------------------------------------------

    fn title(&mut self, root: Node<'_>) {
        let title = text_or_empty(root, "work/work-title").trim().to_string();
        let mvttl = text_or_empty(root, "movement-title").trim().to_string();
        let (mut composer, mut lyricist, mut credits) = (Vec::new(), Vec::new(), Vec::new());
        let lines =
            |t: &str| -> Vec<String> { t.split('\n').map(|l| l.trim().to_string()).collect() };
        for creator in xml::findall(root, "identification/creator") {
            let Some(t) = xml::text(creator).filter(|t| !t.is_empty()) else {
                continue;
            };
            match xml::get(creator, "type") {
                Some("composer") => composer.extend(lines(&t)),
                Some("lyricist") | Some("transcriber") => lyricist.extend(lines(&t)),
                _ => {}
            }
        }
        for rights in xml::findall(root, "identification/rights") {
            if let Some(t) = xml::text(rights).filter(|t| !t.is_empty()) {
                lyricist.extend(lines(&t));
            }
        }
        for credit in xml::children(root, "credit") {
            let mut cs = String::new();
            for w in xml::children(credit, "credit-words") {
                cs.push_str(&xml::text(w).unwrap_or_default());
            }
            credits.push(collapse_newlines(&cs));
        }
        // Credit lines are used only when there is neither a title nor a movement title
        // (the reference's default credit filter, level 0), and then not when they repeat
        // a name or hold no letters.
        let credits: Vec<String> = if !(title.is_empty() && mvttl.is_empty()) {
            Vec::new()
        } else {
            credits
                .into_iter()
                .filter(|x| {
                    !(title.contains(x.as_str())
                        || mvttl.contains(x.as_str())
                        || composer.contains(x)
                        || lyricist.contains(x)
                        || composer.iter().any(|c| x.contains(c.as_str()))
                        || lyricist.iter().any(|c| x.contains(c.as_str()))
                        || x.chars().all(|c| py::is_digit(c) || !py::is_word(c)))
                })
                .collect()
        };
        let mut t = String::new();
        if !title.is_empty() {
            t = format!("T:{}\n", title.replace('\n', "\nT:"));
        }
        if !mvttl.is_empty() {
            t.push_str(&format!("T:{}\n", mvttl.replace('\n', "\nT:")));
        }
        for (prefix, list) in [("T:", &credits), ("C:", &composer), ("Z:", &lyricist)] {
            for x in list.iter() {
                t.push_str(prefix);
                t.push_str(x);
                t.push('\n');
            }
        }
        if !t.is_empty() {
            t.pop();
            self.title = t;
        }
        self.is_sib = xml::findtext(root, "identification/encoding/software")
            .is_some_and(|s| s.contains("Sibelius"));
    }

    fn part_list(&mut self, root: Node<'_>) -> R<Vec<partlist::Entry>> {
        for sp in xml::findall(root, "part-list/score-part") {
            for m in xml::children(sp, "midi-instrument") {
                // The reference converts these settings even though only the percussion
                // pitch is used at the default options; a bad number ends the conversion.
                let field = |name: &str| xml::findtext(m, name).map(|t| t.into_owned());
                if let Some(ch) = field("midi-channel") {
                    py::int_of(&ch, "midi-channel")?;
                }
                if let Some(pr) = field("midi-program") {
                    py::int_of(&pr, "midi-program")?;
                }
                if let Some(vol) = field("volume") {
                    py::float_of(&vol, "volume")?;
                }
                if let Some(pan) = field("pan") {
                    py::float_of(&pan, "pan")?;
                }
                if let Some(up) = field("midi-unpitched").filter(|s| !s.is_empty()) {
                    let pitch = py::int_of(&up, "midi-unpitched")?;
                    self.drum_inst
                        .insert(xml::get(m, "id").map(str::to_string), py::sub(pitch, 1)?);
                }
            }
            self.score_parts += 1;
        }
        let pl = xml::child(root, "part-list")
            .ok_or_else(|| XmlError::invalid("score has no part-list"))?;
        partlist::parse(pl)
    }

    // ----- one part -------------------------------------------------------------------

    /// Voices and staves of a part: each voice lives on the staff most of its notes are on
    /// (ties go to the higher staff number).
    fn staff_allocation(&mut self, p: Node<'_>) -> R<()> {
        let part = &mut self.part;
        part.vnums.clear();
        part.stf_map.clear();
        part.clef_map.clear();
        part.has_stems.clear();
        part.vce_inst.clear();
        let mut vmap: Vec<(i64, Vec<(i64, i64)>)> = Vec::new();
        for n in xml::findall(p, "measure/note") {
            let k = xml::Kids::of(n);
            let v = kids_voice(&k, self.is_sib)?;
            if !part.vnums.contains(&v) {
                part.vnums.push(v);
            }
            let sn = py::int_of(&k.findtext("staff").unwrap_or("1".into()), "staff")?;
            part.stf_map.insert(sn, Vec::new());
            match vmap.iter_mut().find(|(x, _)| *x == v) {
                None => vmap.push((v, vec![(sn, 1)])),
                Some((_, d)) => match d.iter_mut().find(|(s, _)| *s == sn) {
                    Some((_, c)) => *c += 1,
                    None => d.push((sn, 1)),
                },
            }
            if let Some(inst) = k.child("instrument") {
                let id = xml::get(inst, "id").map(str::to_string);
                match part.vce_inst.iter_mut().find(|(x, _)| *x == v) {
                    Some((_, old)) => *old = id,
                    None => part.vce_inst.push((v, id)),
                }
            }
            let stem = k.findtext("stem");
            let no_rest = k.child("rest").is_none();
            if no_rest && stem.as_deref().is_none_or(|s| s.is_empty() || s != "none") {
                part.has_stems.insert(v);
            }
        }
        if self.is_sib {
            vmap.sort_by_key(|(v, _)| *v);
        }
        for (v, counts) in &vmap {
            let stf = counts
                .iter()
                .map(|(sn, c)| (*c, *sn))
                .max()
                .map(|(_, sn)| sn)
                .unwrap_or(1);
            part.stf_map.entry(stf).or_default().push(*v);
            self.vce2stf.insert(*v, stf);
            self.cur_stf.insert(*v, stf);
        }
        Ok(())
    }

    fn read_part(&mut self, p: Node<'_>) -> R<()> {
        let maten: Vec<Node<'_>> = xml::children(p, "measure").collect();
        self.staff_allocation(p)?;
        let part = &mut self.part;
        part.drum_notes.clear();
        part.clef_oct.clear();
        part.cur_clef.clear();
        part.diafret = false;
        part.counts = vec![0; part.vnums.len()];
        part.reset_voices();
        part.tijd = 0;
        part.maxtime = 0;
        part.divs = 0;
        part.mtr = (4, 4);
        part.bars.clear();
        part.bar_lyrics.clear();
        let mut divisions = Vec::with_capacity(maten.len());
        for (ixm, maat) in maten.iter().enumerate() {
            let part = &mut self.part;
            part.ixm = ixm as i64;
            part.attr.clear();
            part.lline.clear();
            part.rline = "|".to_string();
            part.lnum.clear();
            part.cur_alts.clear();
            let es: Vec<Node<'_>> = xml::elements(*maat).collect();
            for (i, &e) in es.iter().enumerate() {
                if xml::is(e, "note") {
                    self.note(e)?;
                } else if xml::is(e, "attributes") {
                    self.attributes(e)?;
                } else if xml::is(e, "direction") {
                    self.direction(e, i, &es)?;
                } else if xml::is(e, "sound") {
                    // A sound directly in the measure: read as a direction of the measure.
                    self.direction(*maat, i, &es)?;
                } else if xml::is(e, "harmony") {
                    self.harmony(e, i, &es)?;
                } else if xml::is(e, "barline") {
                    self.barline(e);
                } else if xml::is(e, "backup") || xml::is(e, "forward") {
                    let d = xml::findtext(e, "duration")
                        .ok_or_else(|| XmlError::invalid("backup/forward without duration"))?;
                    let dt = py::int_of(&d, "backup/forward duration")?;
                    if render::counts(dt, self.part.divs) {
                        let step = if xml::is(e, "backup") {
                            py::sub(0, dt)?
                        } else {
                            dt
                        };
                        self.part.inc_time(step)?;
                    }
                }
                // <print> only gives line breaks, which `-x` turns off.
            }
            self.end_bar()?;
            divisions.push(self.part.divs);
        }
        // Measure repeats still open at the end of the part count one bar.
        for (_, slot) in &self.repeat_str {
            if let Some(r) = self.arena.repeats.get_mut(*slot) {
                r.head = RepeatHead::Text(format!(
                    "[I:repeat {} 1]",
                    r.text.as_deref().unwrap_or("None")
                ));
            }
        }
        self.divisions = divisions;
        Ok(())
    }

    // ----- writing into voices --------------------------------------------------------

    fn push_elem(&mut self, v: i64, text: String, counted: bool) -> R<()> {
        let vix = self.part.vix(v)?;
        let id = self.arena.add_elem(self.part.tijd, ElemText::Plain(text));
        self.part.voices[vix].push(Item::Elem(id));
        if counted {
            self.part.counts[vix] += 1;
        }
        Ok(())
    }

    fn push_elem_at(&mut self, v: i64, text: String, tijd: i64) -> R<()> {
        let vix = self.part.vix(v)?;
        let id = self.arena.add_elem(tijd, ElemText::Plain(text));
        self.part.voices[vix].push(Item::Elem(id));
        Ok(())
    }

    fn insert_elem(&mut self, v: i64, text: ElemText) -> R<()> {
        let vix = self.part.vix(v)?;
        let id = self.arena.add_elem(0, text);
        self.part.voices[vix].insert(0, Item::Elem(id));
        Ok(())
    }

    fn push_note(&mut self, v: i64, mut note: Note, noot: &str) -> R<()> {
        let vix = self.part.vix(v)?;
        note.ns.push(format!("{}{noot}", note.ntdec));
        note.tijd = self.part.tijd;
        let dur = note.dur;
        let grace = note.grace;
        let id = self.arena.add_note(note);
        self.part.voices[vix].push(Item::Note(id));
        self.part.inc_time(dur)?;
        self.lastnote = Some(id);
        if noot != "z" && noot != "x" {
            self.part.counts[vix] += 1;
            if !grace {
                self.part.lyrics[vix].push(id);
            }
        }
        Ok(())
    }

    fn add_to_chord(&mut self, note: &Note, noot: &str) -> R<()> {
        let last = self
            .lastnote
            .ok_or_else(|| XmlError::invalid("chord note without a preceding note"))?;
        let ln = self.arena.note_mut(last)?;
        for d in &note.before {
            if !ln.before.contains(d) {
                ln.before.push(d.clone());
            }
        }
        ln.ns.push(format!("{}{noot}", note.ntdec));
        Ok(())
    }

    fn cur_staff(&self, v: i64) -> R<i64> {
        self.cur_stf
            .get(&v)
            .copied()
            .ok_or_else(|| XmlError::invalid(format!("voice {v} without staff")))
    }

    // ----- notes ----------------------------------------------------------------------

    fn note(&mut self, n: Node<'_>) -> R<()> {
        let k = xml::Kids::of(n);
        let mut note = Note::default();
        let v = kids_voice(&k, self.is_sib)?;
        let chord = k.child("chord").is_some();
        let own = |path: &str| k.findtext(path).map(|t| t.into_owned());
        let mut p = or_else(own("pitch/step"), own("unpitched/display-step"));
        let mut o = or_else(own("pitch/octave"), own("unpitched/display-octave"));
        let mut is_rest = k.child("rest").is_some();
        if let Some(numer) = own("time-modification/actual-notes").filter(|s| !s.is_empty()) {
            let denom = own("time-modification/normal-notes")
                .ok_or_else(|| XmlError::invalid("time-modification without normal-notes"))?;
            note.fact = Some((
                py::int_of(&numer, "actual-notes")?,
                py::int_of(&denom, "normal-notes")?,
            ));
        }
        note.tup = k
            .findall("notations/tuplet")
            .into_iter()
            .map(|t| xml::get(t, "type").map(str::to_string))
            .collect();
        let dur = own("duration");
        let grc = k.child("grace");
        note.grace = grc.is_some();
        if let Some(g) = grc.filter(|_| !self.ingrace) {
            self.ingrace = true;
            note.before.push("{".to_string());
            if xml::get(g, "slash") == Some("yes") {
                note.before.push("/".to_string());
            }
        }
        let stopgrace = !note.grace && self.ingrace;
        if stopgrace {
            self.ingrace = false;
            let last = self
                .lastnote
                .ok_or_else(|| XmlError::invalid("grace notes without a note"))?;
            self.arena.note_mut(last)?.after.push('}');
        }
        let dur = if note.grace { None } else { dur };
        let invisible = xml::get(n, "print-object") == Some("no");
        if !is_rest && invisible {
            if chord {
                return Ok(());
            }
            is_rest = true; // invisible notes that take time become invisible rests
        }
        note.dur = match dur {
            None => 0,
            Some(d) => py::int_of(&d, "note duration")?,
        };
        if !is_rest
            && (p.as_deref().unwrap_or("").is_empty() || o.as_deref().unwrap_or("").is_empty())
        {
            p = Some("E".to_string());
            o = Some("5".to_string());
        }
        let staff = self.cur_staff(v)?;
        let is_tab = self
            .part
            .cur_clef
            .get(&staff)
            .is_some_and(|c| c.starts_with("tab"));
        if let Some(nttn) = k.child("notations") {
            self.notations(&mut note, nttn, is_tab)?;
        }
        if !is_rest {
            if let Some(stem) = k.child("stem") {
                if xml::text(stem).as_deref() == Some("none")
                    && (!is_tab || self.part.has_stems.contains(&v))
                {
                    note.before.push("!stemless!".to_string());
                }
            }
        }
        if k.child("accidental")
            .is_some_and(|a| xml::get(a, "parentheses") == Some("yes"))
        {
            note.ntdec.push_str("!courtesy!");
        }
        let mut noot = if is_rest {
            if invisible || is_tab { "x" } else { "z" }.to_string()
        } else {
            let step = p.clone().unwrap_or_default();
            let octave = py::int_of(o.as_deref().unwrap_or(""), "octave")?;
            self.pitch(&step, octave, &k, v)?
        };
        if k.child("unpitched").is_some() {
            noot = self.percussion(&k, v, p.as_deref(), o.as_deref(), noot)?;
        }
        let ties = k
            .findall("tie")
            .into_iter()
            .chain(k.findall("notations/tied"));
        if ties.clone().any(|t| xml::get(t, "type") == Some("start")) {
            noot.push('-');
        }
        note.beam = k
            .children("beam")
            .filter(|b| matches!(xml::text(*b).as_deref(), Some("continue") | Some("end")))
            .count() as i64
            + i64::from(note.grace);
        let mut lyrlast = 0;
        for e in k.children("lyric") {
            let mut num = lyric_number(xml::get(e, "number").unwrap_or("1"))?;
            if num == 0 {
                num = py::add(lyrlast, 1)?;
            } else {
                lyrlast = num;
            }
            let syl = syllable(e);
            match note.lyrs.iter_mut().find(|(k, _)| *k == num) {
                Some((_, s)) => *s = syl,
                None => note.lyrs.push((num, syl)),
            }
        }
        let grace = note.grace;
        if chord {
            self.add_to_chord(&note, &noot)?;
        } else {
            let xmlstaff = py::int_of(&own("staff").unwrap_or_else(|| "1".into()), "staff")?;
            let cur = self.cur_staff(v)?;
            if cur != xmlstaff {
                self.cur_stf.insert(v, xmlstaff);
                self.push_elem(v, format!("[I:staff {:+}]", py::sub(xmlstaff, cur)?), false)?;
            }
            self.push_note(v, note, &noot)?;
        }
        for slur in k.findall("notations/slur") {
            let Some(last) = self.lastnote else { break };
            self.slur(
                xml::get(slur, "type"),
                xml::get(slur, "number"),
                v,
                last,
                grace,
                stopgrace,
            )?;
        }
        Ok(())
    }

    /// Pair slur starts and stops by number; a slur is written only when both ends are in
    /// the same voice, the start comes first, and it is not a grace-to-note slur.
    fn slur(
        &mut self,
        kind: Option<&str>,
        number: Option<&str>,
        v: i64,
        note: usize,
        grace: bool,
        stopgrace: bool,
    ) -> R<()> {
        let kind = match kind {
            Some(k @ ("start" | "stop")) => k,
            _ => return Ok(()),
        };
        let number = number.unwrap_or("1").to_string();
        match self.slurs.remove(&number) {
            Some(open) if open.kind != kind => {
                if open.voice == v && open.kind == "start" && (!open.grace || !stopgrace) {
                    self.arena
                        .note_mut(open.note)?
                        .before
                        .insert(0, "(".to_string());
                    self.arena.note_mut(note)?.after.push(')');
                }
            }
            _ => {
                self.slurs.insert(
                    number,
                    Slur {
                        kind: kind.to_string(),
                        voice: v,
                        note,
                        grace,
                    },
                );
            }
        }
        Ok(())
    }

    fn notations(&mut self, note: &mut Note, nttn: Node<'_>, is_tab: bool) -> R<()> {
        for (path, deco) in ORNAMENTS {
            if xml::find(nttn, path).is_some() {
                note.before.push(deco.to_string());
            }
        }
        if let Some(trem) = xml::find(nttn, "ornaments/tremolo") {
            let strokes = |trem: Node<'_>| -> R<String> {
                let t =
                    xml::text(trem).ok_or_else(|| XmlError::invalid("tremolo without marks"))?;
                let k = py::int_of(&t, "tremolo")?;
                if k > 10_000 {
                    return Err(XmlError::unsupported(
                        "tremolo with more than 10,000 strokes",
                    ));
                }
                Ok("/".repeat(usize::try_from(k).unwrap_or(0)))
            };
            if xml::get(trem, "type") == Some("single") {
                note.before.insert(0, format!("!{}!", strokes(trem)?));
            } else {
                note.fact = None; // a two-note tremolo has no time modification in ABC
                if xml::get(trem, "type") == Some("start") {
                    note.before.insert(0, format!("!{}-!", strokes(trem)?));
                }
            }
        }
        for finger in xml::findall(nttn, "technical/fingering") {
            if !is_tab {
                let t = xml::text(finger);
                note.before
                    .push(format!("!{}!", t.as_deref().unwrap_or("None")));
            }
        }
        if let Some(string) = xml::find(nttn, "technical/string").filter(|_| is_tab) {
            let deco = format!("!{}!", xml::text(string).as_deref().unwrap_or("None"));
            if !note.ntdec.contains(&deco) {
                note.ntdec.push_str(&deco);
            }
        }
        if let Some(w) = xml::find(nttn, "ornaments/wavy-line") {
            match xml::get(w, "type") {
                Some("start") => note.before.insert(0, "!trill(!".to_string()),
                Some("stop") => note.before.insert(0, "!trill)!".to_string()),
                _ => {}
            }
        }
        let glis = xml::child(nttn, "glissando").or_else(|| xml::child(nttn, "slide"));
        if let Some(g) = glis {
            let lt = if xml::get(g, "line-type") == Some("wavy") {
                '~'
            } else {
                '-'
            };
            match xml::get(g, "type") {
                Some("start") => note.before.insert(0, format!("!{lt}(!")),
                Some("stop") => note.before.insert(0, format!("!{lt})!")),
                _ => {}
            }
        }
        Ok(())
    }

    /// ABC pitch with the accidental the reader needs: the notated `<accidental>` when
    /// present, else `<alter>` when it differs from the key and from earlier notes of the
    /// same pitch in the bar (tied continuations excepted).
    fn pitch(&mut self, step: &str, octave: i64, k: &xml::Kids<'_>, v: i64) -> R<String> {
        let staff = self.cur_staff(v)?;
        let octave = py::add(octave, self.part.clef_oct.get(&staff).copied().unwrap_or(0))?;
        if !octave_in_range(octave) {
            return Err(XmlError::unsupported("more than 10,000 octave marks"));
        }
        let acc = k.findtext("accidental").map(|t| t.into_owned());
        let mut alt = match k.findtext("pitch/alter") {
            Some(t) => Alter::Text(t.into_owned()),
            None => Alter::None,
        };
        let p = with_octave(step, octave);
        let key_alt = self.msr_alts.get(step).copied().unwrap_or(0);
        if matches!(alt, Alter::None) && key_alt != 0 {
            alt = Alter::Zero;
        }
        let pv = (p.clone(), v);
        if matches!(alt, Alter::None) && self.part.cur_alts.contains_key(&pv) {
            alt = Alter::Zero;
        }
        let value = match (&acc, &alt) {
            (None, Alter::None) => return Ok(p),
            (Some(a), _) => match a.as_str() {
                "double-flat" | "flat-flat" => -2,
                "flat" => -1,
                "natural" => 0,
                "sharp" => 1,
                "sharp-sharp" | "double-sharp" => 2,
                other => return Err(XmlError::invalid(format!("accidental {other:?}"))),
            },
            (None, a) => {
                let value = match a {
                    Alter::Text(t) => {
                        let f = py::float_of(t, "alter")?.trunc();
                        if !f.is_finite() || f.abs() > 1.0e6 {
                            return Err(XmlError::invalid("alter out of range"));
                        }
                        f as i64
                    }
                    _ => 0,
                };
                match self.part.cur_alts.get(&pv) {
                    Some(&prev) => {
                        if value == prev {
                            return Ok(p);
                        }
                    }
                    None => {
                        if value == key_alt {
                            return Ok(p);
                        }
                    }
                }
                let tied_on = k
                    .findall("tie")
                    .into_iter()
                    .chain(k.findall("notations/tied"))
                    .any(|t| xml::get(t, "type") == Some("stop"));
                if tied_on {
                    return Ok(p);
                }
                value
            }
        };
        self.part.cur_alts.insert(pv, value);
        let sign = py::index(&["__", "_", "=", "^", "^^"], value + 2)
            .ok_or_else(|| XmlError::invalid(format!("alteration {value}")))?;
        Ok(format!("{sign}{p}"))
    }

    /// Percussion: note-head accidentals and the data for `I:percmap`.
    fn percussion(
        &mut self,
        k: &xml::Kids<'_>,
        v: i64,
        p: Option<&str>,
        o: Option<&str>,
        mut noot: String,
    ) -> R<String> {
        let staff = self.cur_staff(v)?;
        let clef = self
            .part
            .cur_clef
            .get(&staff)
            .cloned()
            .ok_or_else(|| XmlError::invalid("unpitched note on a staff without clef"))?;
        let octave = py::int_of(
            o.ok_or_else(|| XmlError::invalid("unpitched note without octave"))?,
            "display-octave",
        )?;
        let step = staff_step(p, octave, &clef)?;
        let inst_id = match k.child("instrument") {
            Some(i) => xml::get(i, "id").map(str::to_string),
            None => Some("dummyId".to_string()),
        };
        let midi = self
            .drum_inst
            .get(&inst_id)
            .copied()
            .unwrap_or_else(|| abc_midi(&noot));
        let mut nh = k
            .findtext("notehead")
            .map(|t| t.into_owned())
            .unwrap_or_default()
            .replace(' ', "-");
        if nh == "x" {
            noot = format!("^{}", noot.replace(['^', '_'], ""));
        }
        if matches!(nh.as_str(), "circle-x" | "diamond" | "triangle") {
            noot = format!("_{}", noot.replace(['^', '_'], ""));
        }
        if !nh.is_empty() {
            let filled = k.child("notehead").and_then(|h| xml::get(h, "filled"));
            if filled == Some("yes") {
                nh.push('+');
            }
            if filled == Some("no") {
                nh.push('-');
            }
        }
        self.part
            .drum_notes
            .insert((v, noot.clone()), (step, midi, nh));
        Ok(noot)
    }

    // ----- attributes -----------------------------------------------------------------

    fn attributes(&mut self, e: Node<'_>) -> R<()> {
        if let Some(d) = xml::findtext(e, "divisions").filter(|d| !d.is_empty()) {
            self.part.divs = py::int_of(&d, "divisions")?;
        }
        let mut steps = py::int_of(
            &xml::findtext(e, "transpose/chromatic").unwrap_or("0".into()),
            "transpose/chromatic",
        )?;
        let first = self.part.tijd == 0 && self.part.ixm == 0;
        if let Some(fifths) = xml::findtext(e, "key/fifths").filter(|f| !f.is_empty()) {
            let mode = xml::findtext(e, "key/mode").unwrap_or("major".into());
            let (key, alts) = key_signature(py::int_of(&fifths, "fifths")?, &mode)?;
            self.msr_alts = alts;
            if first && steps == 0 && self.key == "none" {
                self.key = key;
            } else if key != self.key || !first {
                self.part.attr.push_str(&format!("[K:{key}]"));
            }
        }
        if let Some(beats) = xml::findtext(e, "time/beats").filter(|b| !b.is_empty()) {
            let unit = xml::findtext(e, "time/beat-type")
                .ok_or_else(|| XmlError::invalid("time without beat-type"))?;
            let mtr = format!("{beats}/{unit}");
            if first {
                self.mtr = mtr;
            } else {
                self.part.attr.push_str(&format!("[M:{mtr}]"));
            }
            self.part.mtr = (
                py::int_of(&beats, "beats")?,
                py::int_of(&unit, "beat-type")?,
            );
        }
        // The bar length is computed (and can divide by zero) although only warnings use it.
        py::floor_div(
            py::mul(py::mul(self.part.divs, self.part.mtr.0)?, 4)?,
            self.part.mtr.1,
        )?;
        for ms in xml::children(e, "measure-style") {
            let staff = py::int_of(
                xml::get(ms, "number").unwrap_or("1"),
                "measure-style number",
            )?;
            let voices = self.part.stf_voices(staff)?;
            for mr in xml::children(ms, "measure-repeat") {
                match xml::get(mr, "type") {
                    Some("start") => {
                        let text = xml::text(mr).map(|t| t.into_owned());
                        self.arena.repeats.push(RepeatSlot {
                            head: RepeatHead::Start(self.part.ixm),
                            text,
                        });
                        let slot = self.arena.repeats.len() - 1;
                        match self.repeat_str.iter_mut().find(|(s, _)| *s == staff) {
                            Some((_, old)) => *old = slot,
                            None => self.repeat_str.push((staff, slot)),
                        }
                        for &v in &voices {
                            self.insert_elem(v, ElemText::Repeat(slot))?;
                        }
                    }
                    Some("stop") => {
                        let pos = self
                            .repeat_str
                            .iter()
                            .position(|(s, _)| *s == staff)
                            .ok_or_else(|| {
                                XmlError::invalid("measure-repeat stop without start")
                            })?;
                        let (_, slot) = self.repeat_str.remove(pos);
                        let r = self
                            .arena
                            .repeats
                            .get_mut(slot)
                            .ok_or_else(|| XmlError::invalid("internal: repeat slot"))?;
                        let RepeatHead::Start(start) = r.head else {
                            return Err(XmlError::invalid("measure-repeat closed twice"));
                        };
                        let count = py::sub(self.part.ixm, start)?;
                        let text = match r.text.as_deref().filter(|t| !t.is_empty()) {
                            Some(t) => {
                                let per = py::int_of(t, "measure-repeat")?;
                                if per == 0 {
                                    return Err(XmlError::invalid("measure-repeat of 0 bars"));
                                }
                                // '%d' of a float quotient: truncation toward zero.
                                let q = (count as f64 / per as f64).trunc() as i64;
                                format!("[I:repeat {t} {q}]")
                            }
                            None => format!("[I:repeat {count}]"),
                        };
                        r.head = RepeatHead::Text(text);
                    }
                    _ => {}
                }
            }
        }
        if let Some(toct) = xml::findtext(e, "transpose/octave-change").filter(|t| !t.is_empty()) {
            steps = py::add(steps, py::mul(12, py::int_of(&toct, "octave-change")?)?)?;
        }
        for clef in xml::children(e, "clef") {
            let n = py::int_of(xml::get(clef, "number").unwrap_or("1"), "clef number")?;
            let sign = xml::findtext(clef, "sign")
                .ok_or_else(|| XmlError::invalid("clef without sign"))?
                .into_owned();
            let line = if sign == "percussion" || sign == "TAB" {
                String::new()
            } else {
                text_or_empty(clef, "line")
            };
            let mut cs = clef_name(&format!("{sign}{line}")).to_string();
            let oct_text = xml::findtext(clef, "clef-octave-change")
                .filter(|t| !t.is_empty())
                .map(|t| t.into_owned())
                .unwrap_or_else(|| "0".to_string());
            let oct = py::int_of(&oct_text, "clef-octave-change")?;
            cs.push_str(match oct {
                -2 => "-15",
                -1 => "-8",
                1 => "+8",
                2 => "+15",
                _ => "",
            });
            self.part.clef_oct.insert(n, py::sub(0, oct)?);
            if steps != 0 {
                cs.push_str(&format!(" transpose={steps}"));
            }
            if let Some(details) = xml::child(e, "staff-details") {
                let dn = py::int_of(xml::get(details, "number").unwrap_or("1"), "staff-details")?;
                if xml::truthy(details) && dn == n {
                    if let Some(lines) =
                        xml::findtext(details, "staff-lines").filter(|l| !l.is_empty())
                    {
                        let shown = if lines == "3" && sign == "TAB" {
                            "|||"
                        } else {
                            &lines
                        };
                        cs.push_str(&format!(" stafflines={shown}"));
                        py::int_of(&lines, "staff-lines")?;
                    }
                    let strings: Vec<Node<'_>> = xml::children(details, "staff-tuning").collect();
                    if !strings.is_empty() {
                        let mut tuning = Vec::new();
                        for st in strings {
                            let (Some(s), Some(o)) = (
                                xml::findtext(st, "tuning-step"),
                                xml::findtext(st, "tuning-octave"),
                            ) else {
                                return Err(XmlError::invalid("staff-tuning incomplete"));
                            };
                            tuning.push(format!("{s}{o}"));
                        }
                        cs.push_str(&format!(" strings={}", tuning.join(",")));
                    }
                    if let Some(capo) = xml::findtext(details, "capo").filter(|c| !c.is_empty()) {
                        cs.push_str(&format!(" capo={capo}"));
                    }
                }
            }
            self.part.cur_clef.insert(n, cs.clone());
            if first {
                self.part.clef_map.insert(n, cs);
            } else {
                for v in self.part.stf_voices(n)? {
                    let cur = self.cur_staff(v)?;
                    if n != cur {
                        self.cur_stf.insert(v, n);
                        self.push_elem(v, format!("[I:staff {:+}]", py::sub(n, cur)?), false)?;
                    }
                    self.push_elem(v, format!("[K:{cs}]"), false)?;
                }
            }
        }
        Ok(())
    }

    // ----- directions and harmony -----------------------------------------------------

    /// Staff, voice and first voice of the staff a direction belongs to: the voice of the
    /// next note before any `<backup>`, else the first voice of the direction's staff.
    fn direction_voice(&self, i: usize, es: &[Node<'_>]) -> R<(i64, i64, i64)> {
        let stfnum = match es.get(i).and_then(|e| xml::findtext(*e, "staff")) {
            Some(t) => py::int_of(&t, "direction staff")?,
            None => 1,
        };
        let vs = self.part.stf_voices(stfnum)?;
        let v1 = vs.first().copied().unwrap_or(1);
        for e in es.iter().skip(i + 1) {
            if xml::is(*e, "note") {
                let v = voice_of(*e, self.is_sib)?;
                let stf = self
                    .vce2stf
                    .get(&v)
                    .copied()
                    .ok_or_else(|| XmlError::invalid("voice without staff"))?;
                return Ok((stf, v, v1));
            }
            if xml::is(*e, "backup") {
                break;
            }
        }
        Ok((stfnum, v1, v1))
    }

    fn direction(&mut self, e: Node<'_>, i: usize, es: &[Node<'_>]) -> R<()> {
        let mut tempo: Option<String> = None;
        let mut tempo_units = (1, 4);
        let mut words = String::new();
        let mut plc = '^';
        let placement = xml::get(e, "placement");
        let (stf, mut vs, v1) = self.direction_voice(i, es)?;
        let mut jump = "";
        if let Some(t) = xml::child(e, "sound") {
            if let Some(minst) = xml::child(t, "midi-instrument").filter(|m| xml::truthy(*m)) {
                let id = xml::get(minst, "id");
                if let Some((v, _)) = self
                    .part
                    .vce_inst
                    .iter()
                    .find(|(_, vid)| vid.as_deref() == id)
                {
                    vs = *v;
                }
                if let Some(prg) =
                    xml::findtext(t, "midi-instrument/midi-program").filter(|p| !p.is_empty())
                {
                    py::int_of(&prg, "midi-program")?;
                }
            }
            tempo = xml::get(t, "tempo").map(str::to_string);
            if let Some(tp) = tempo.as_deref().filter(|t| !t.is_empty()) {
                tempo = Some(py::fmt_f0(py::float_of(tp, "tempo")?));
                tempo_units = (1, 4);
            }
            for (attr, mark) in JUMPS {
                if xml::get(t, attr).is_some_and(|x| !x.is_empty()) {
                    jump = mark;
                    break;
                }
            }
        }
        for dirtyp in xml::children(e, "direction-type") {
            if let Some(metr) = xml::child(dirtyp, "metronome") {
                tempo_units = match text_or_empty(metr, "beat-unit").as_str() {
                    "whole" => (1, 1),
                    "half" => (1, 2),
                    "eighth" => (1, 8),
                    _ => (1, 4),
                };
                if xml::child(metr, "beat-unit-dot").is_some() {
                    tempo_units = py::simplify(tempo_units.0 * 3, tempo_units.1 * 2)?;
                }
                let per = xml::findtext(metr, "per-minute")
                    .ok_or_else(|| XmlError::invalid("metronome without per-minute"))?;
                if let Some(num) = first_number(&per) {
                    tempo = Some(num);
                }
            }
            if let Some(w) = xml::child(dirtyp, "wedge") {
                self.start_stop("wedge", w, vs, 1)?;
            }
            let mut all: Vec<Node<'_>> = xml::children(dirtyp, "words").collect();
            if all.is_empty() {
                all = xml::children(dirtyp, "rehearsal").collect();
            }
            for w in all {
                if !jump.is_empty() {
                    self.push_elem(vs, format!("!{jump}!"), true)?;
                    break;
                }
                plc = if placement == Some("below") { '_' } else { '^' };
                let y = py::float_of(xml::get(w, "default-y").unwrap_or("0"), "default-y")?;
                if y < 0.0 {
                    plc = '_';
                }
                let t = xml::text(w).unwrap_or_default();
                words.push_str(&t.replace('"', "\\\"").replace('\n', "\\n"));
            }
            words = words.trim().to_string();
            for d in DYNAMICS {
                if xml::find(dirtyp, &format!("dynamics/{d}")).is_some() {
                    self.push_elem(vs, format!("!{d}!"), true)?;
                }
            }
            if xml::child(dirtyp, "coda").is_some() {
                self.push_elem(vs, "O".to_string(), true)?;
            }
            if xml::child(dirtyp, "segno").is_some() {
                self.push_elem(vs, "S".to_string(), true)?;
            }
            if let Some(oct) = xml::child(dirtyp, "octave-shift") {
                self.start_stop("octave-shift", oct, vs, stf)?;
            }
            if let Some(ped) = xml::child(dirtyp, "pedal") {
                let pv = match self.ped_vce {
                    Some(p) if p != 0 => p,
                    _ => {
                        self.ped_vce = Some(vs);
                        vs
                    }
                };
                self.start_stop("pedal", ped, pv, 1)?;
            }
            if xml::findtext(dirtyp, "other-direction").as_deref() == Some("diatonic fretting") {
                self.part.diafret = true;
            }
        }
        if let Some(tp) = tempo.filter(|t| !t.is_empty()) {
            let tp = py::fmt_f0(py::float_of(&tp, "tempo")?);
            if self.part.tijd == 0 && self.part.ixm == 0 {
                self.tempo = Some(tp);
                self.tempo_units = tempo_units;
            } else {
                self.push_elem(
                    v1,
                    format!("[Q:{}/{}={tp}]", tempo_units.0, tempo_units.1),
                    false,
                )?;
            }
        }
        if !words.is_empty() {
            self.push_elem(vs, format!("\"{plc}{words}\""), true)?;
        }
        Ok(())
    }

    /// Spanners (wedges, octave shifts, pedals): the opening mark is written where it is
    /// met; the closing mark where the stop is met, into the voice of the opening. A stop
    /// met before its start is written at the stop's time once the start is seen.
    fn start_stop(&mut self, dtype: &str, t: Node<'_>, vs: i64, stfnum: i64) -> R<()> {
        let kind = xml::get(t, "type").unwrap_or("");
        let key = format!("{dtype}{}", xml::get(t, "number").unwrap_or("1"));
        let opening = |k: &str| match k {
            "down" => Some("!8va(!"),
            "up" => Some("!8vb(!"),
            "crescendo" => Some("!<(!"),
            "diminuendo" => Some("!>(!"),
            "start" => Some("!ped!"),
            _ => None,
        };
        let (x, voice) = if let Some(x) = opening(kind) {
            match self.directions.remove(&key) {
                Some((stype, val)) if stype == "stop" => {
                    self.add_direction(x, vs, Some(val), stfnum)?;
                }
                _ => {
                    self.directions.insert(key, (kind.to_string(), vs));
                }
            }
            (x.to_string(), vs)
        } else if kind == "stop" {
            match self.directions.remove(&key) {
                Some((stype, val)) => {
                    if stype == "stop" {
                        (String::new(), val)
                    } else {
                        let open = opening(&stype)
                            .ok_or_else(|| XmlError::invalid("internal: unknown spanner"))?;
                        (closing(open), val)
                    }
                }
                None => {
                    self.directions
                        .insert(key, ("stop".to_string(), self.part.tijd));
                    (String::new(), vs)
                }
            }
        } else {
            return Err(XmlError::invalid(format!("{dtype} of type {kind:?}")));
        };
        self.add_direction(&x, voice, None, stfnum)
    }

    fn add_direction(&mut self, x: &str, vs: i64, tijd: Option<i64>, stfnum: i64) -> R<()> {
        if x.is_empty() {
            return Ok(());
        }
        let voices = if x.contains("!8v") {
            self.part.stf_voices(stfnum)?
        } else {
            vec![vs]
        };
        for v in voices {
            match tijd {
                Some(t) => self.push_elem_at(v, closing(x), t)?,
                None => self.push_elem(v, x.to_string(), false)?,
            }
        }
        Ok(())
    }

    fn harmony(&mut self, e: Node<'_>, i: usize, es: &[Node<'_>]) -> R<()> {
        let (_, vt, _) = self.direction_voice(i, es)?;
        let alter = |t: Option<std::borrow::Cow<'_, str>>| match t.as_deref() {
            Some("1") => "#",
            Some("-1") => "b",
            _ => "",
        };
        let root = text_or_empty(e, "root/root-step");
        let alt = alter(xml::findtext(e, "root/root-alter"));
        let mut sus = String::new();
        let kind_text = text_or_empty(e, "kind");
        let mut kind = match kind_text.as_str() {
            "major" => String::new(),
            "minor" => "m".to_string(),
            "augmented" => "+".to_string(),
            "diminished" => "dim".to_string(),
            "dominant" => "7".to_string(),
            "half-diminished" => "m7b5".to_string(),
            k if k.contains('-') => {
                let parts: Vec<&str> = k.split('-').collect();
                let [triad, m] = parts[..] else {
                    return Err(XmlError::invalid(format!("chord kind {k:?}")));
                };
                let t = match triad {
                    "major" => "maj",
                    "dominant" => "",
                    "minor" => "m",
                    "diminished" => "dim",
                    "augmented" => "+",
                    "suspended" => "sus",
                    _ => "",
                };
                let md = match m {
                    "second" => "2",
                    "fourth" => "4",
                    "seventh" => "7",
                    "sixth" => "6",
                    "ninth" => "9",
                    "11th" => "11",
                    "13th" => "13",
                    _ => "",
                };
                let k = format!("{t}{md}");
                if k.starts_with("sus") {
                    sus = k;
                    String::new()
                } else {
                    k
                }
            }
            "none" => xml::child(e, "kind")
                .and_then(|k| xml::get(k, "text"))
                .unwrap_or("")
                .to_string(),
            k => k.to_string(),
        };
        for d in xml::children(e, "degree") {
            kind.push_str(alter(xml::findtext(d, "degree-alter")));
            kind.push_str(&text_or_empty(d, "degree-value"));
        }
        let kind = kind
            .replace("79", "9")
            .replace("713", "13")
            .replace("maj6", "6");
        let bass = format!(
            "{}{}",
            text_or_empty(e, "bass/bass-step"),
            alter(xml::findtext(e, "bass/bass-alter"))
        );
        let bass = if bass.is_empty() {
            bass
        } else {
            format!("/{bass}")
        };
        self.push_elem(vt, format!("\"{root}{alt}{kind}{sus}{bass}\""), true)
    }

    fn barline(&mut self, e: Node<'_>) {
        let rep = xml::child(e, "repeat").map(|r| xml::get(r, "direction"));
        let part = &mut self.part;
        if xml::get(e, "location").unwrap_or("right") == "right" {
            match xml::findtext(e, "bar-style").as_deref() {
                Some("light-light") => part.rline = "||".to_string(),
                Some("light-heavy") => part.rline = "|]".to_string(),
                _ => {}
            }
        }
        // A <repeat> without direction does nothing; any direction but forward ends a repeat.
        if let Some(Some(dir)) = rep {
            if dir == "forward" {
                part.lline = ":".to_string();
            } else {
                part.rline = ":|".to_string();
            }
        }
        if let Some(end) = xml::child(e, "ending") {
            if xml::get(end, "type") == Some("start") {
                let n = xml::get(end, "number")
                    .unwrap_or("1")
                    .replace(['.', ' '], "");
                let ok = n.split(',').all(|x| py::int(x).is_some());
                part.lnum = if ok { n } else { format!("\"{}\"", n.trim()) };
            } else if part.rline == "|" {
                part.rline = "||".to_string();
            }
        }
    }

    // ----- end of a bar ---------------------------------------------------------------

    fn end_bar(&mut self) -> R<()> {
        let part = &mut self.part;
        part.tijd = part.maxtime;
        let vnums = part.vnums.clone();
        let mut all_lyrics: Vec<BarLyrics> = Vec::with_capacity(vnums.len());
        let (lline, lnum, attr, rline) = (
            part.lline.clone(),
            part.lnum.clone(),
            part.attr.clone(),
            part.rline.clone(),
        );
        for (vix, &v) in vnums.iter().enumerate() {
            if !lline.is_empty() || !lnum.is_empty() {
                match self
                    .part
                    .bars
                    .last()
                    .and_then(|b| b.get(vix))
                    .and_then(|b| b.last())
                {
                    Some(&Item::Elem(prev)) => {
                        let mut x = self.arena.elem_text(prev)?;
                        if !lline.is_empty() {
                            x = format!("{x}{lline}")
                                .replace(":|:", "::")
                                .replace("||", "|");
                        }
                        if !lnum.is_empty() {
                            x.push_str(&lnum);
                        }
                        if let Some(el) = self.arena.elems.get_mut(prev) {
                            el.text = ElemText::Plain(x);
                        }
                    }
                    Some(&Item::Note(_)) => {
                        return Err(XmlError::invalid("bar ends with a note record"));
                    }
                    None => {
                        if self.part.bars.is_empty() {
                            if !lline.is_empty() {
                                self.insert_elem(v, ElemText::Plain("|:".to_string()))?;
                            }
                        } else {
                            return Err(XmlError::invalid("empty previous bar"));
                        }
                    }
                }
            }
            if !attr.is_empty() {
                self.insert_elem(v, ElemText::Plain(attr.clone()))?;
            }
            self.push_elem(v, format!(" {rline}"), false)?;
            let items = std::mem::take(&mut self.part.voices[vix]);
            let sorted = render::sort_bar(&mut self.arena, items, self.part.divs)?;
            // Lyrics of this bar, verse by verse (highest first, as the reference builds them).
            let notes = std::mem::take(&mut self.part.lyrics[vix]);
            let mut max_num = 0;
            for &id in &notes {
                for (k, _) in &self.arena.note(id)?.lyrs {
                    max_num = max_num.max(*k);
                }
            }
            if max_num > MAX_VERSE {
                // The reference would write every verse number below it, one line each.
                return Err(XmlError::unsupported(format!(
                    "lyric verse number {max_num}"
                )));
            }
            let mut bar_lyr: BarLyrics = Vec::new();
            for num in (1..=max_num).rev() {
                let mut syl = Vec::with_capacity(notes.len());
                for &id in &notes {
                    let n = self.arena.note(id)?;
                    syl.push(
                        n.lyrs
                            .iter()
                            .find(|(k, _)| *k == num)
                            .map(|(_, s)| s.clone())
                            .unwrap_or_default(),
                    );
                }
                let melis = self
                    .part
                    .bar_lyrics
                    .last()
                    .and_then(|b| b.get(vix))
                    .and_then(|d| d.iter().find(|(k, _)| *k == num))
                    .is_some_and(|(_, (_, m))| *m);
                bar_lyr.push((num, bar_lyrics(&syl, melis)));
            }
            render::broken_rhythms(&mut self.arena, &sorted)?;
            self.part.voices[vix] = sorted;
            self.part.lyrics[vix].clear();
            all_lyrics.push(bar_lyr);
        }
        let bar = std::mem::take(&mut self.part.voices);
        self.part.bars.push(bar);
        self.part.bar_lyrics.push(all_lyrics);
        self.part.tijd = 0;
        self.part.maxtime = 0;
        self.part.reset_voices();
        Ok(())
    }

    // ----- writing the voices of a part -------------------------------------------------

    /// Write every voice of the part that has notes; returns (MusicXML voice, ABC voice).
    fn write_voices(&mut self) -> R<Vec<(i64, i64)>> {
        let mut keys = self.part.vnums.clone();
        if self.is_sib {
            keys.sort_unstable();
        }
        let mut vvmap = Vec::new();
        for iv in keys {
            let vix = self.part.vix(iv)?;
            if self.part.counts.get(vix).copied().unwrap_or(0) == 0 {
                continue; // no real notes: the voice is skipped
            }
            let nbars = self.part.bars.len();
            let mut vn: Vec<String> = Vec::with_capacity(nbars);
            let mut vl: Vec<(i64, Vec<String>)> = Vec::new();
            for im in 0..nbars {
                let divs = self.divisions.get(im).copied().unwrap_or(0);
                let bar = self.part.bars[im].get(vix).cloned().unwrap_or_default();
                vn.push(render::bar_text(&mut self.arena, &bar, divs, UNIT)?);
                self.continue_melismas(im, vix)?;
                let lyr = self.part.bar_lyrics[im]
                    .get(vix)
                    .cloned()
                    .unwrap_or_default();
                for (n, (text, _)) in lyr {
                    match vl.iter_mut().find(|(k, _)| *k == n) {
                        Some((_, line)) => {
                            while line.len() < im {
                                line.push(String::new());
                            }
                            line.push(text);
                        }
                        None => {
                            let mut line = vec![String::new(); im];
                            line.push(text);
                            vl.push((n, line));
                        }
                    }
                }
            }
            for (_, line) in &mut vl {
                while line.len() < vn.len() {
                    line.push(String::new());
                }
            }
            vl.sort_by_key(|(n, _)| *n);
            self.body.push(format!("V:{}", self.vce_cnt));
            let lens: Vec<usize> = vn.iter().map(|b| b.chars().count()).collect();
            let mut start = 0;
            while start < vn.len() {
                let mut ib = 1;
                let mut len = lens[start];
                let mut chunk = vn[start].clone();
                while start + ib < vn.len() {
                    if len + lens[start + ib] >= CHARS_PER_LINE {
                        break;
                    }
                    chunk.push_str(&vn[start + ib]);
                    len += lens[start + ib];
                    ib += 1;
                }
                self.body.push(format!("{chunk} %{}", start + ib));
                for (_, line) in &vl {
                    let end = (start + ib).min(line.len());
                    let from = start.min(end);
                    self.body.push(format!("w: {}|", line[from..end].join("|")));
                }
                start += ib;
            }
            vvmap.push((iv, self.vce_cnt));
            self.vce_cnt += 1;
        }
        self.part.bars.clear();
        self.part.bar_lyrics.clear();
        Ok(vvmap)
    }

    /// A melisma running out of the previous bar, in a verse this bar has no syllables for,
    /// is continued with one `_` per note up to the first rest.
    fn continue_melismas(&mut self, im: usize, vix: usize) -> R<()> {
        if im == 0 {
            return Ok(());
        }
        let prev = self.part.bar_lyrics[im - 1]
            .get(vix)
            .cloned()
            .unwrap_or_default();
        for (n, (_, melis)) in prev {
            let present = self.part.bar_lyrics[im]
                .get(vix)
                .is_some_and(|d| d.iter().any(|(k, _)| *k == n));
            if present || !melis {
                continue;
            }
            let mut ms = Vec::new();
            for it in self.part.bars[im]
                .get(vix)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let Item::Note(id) = it else { continue };
                let note = self.arena.note(*id)?;
                if note.grace {
                    continue;
                }
                if "zx".contains(note.first()) {
                    break;
                }
                ms.push("_");
            }
            if !ms.is_empty() {
                if let Some(d) = self.part.bar_lyrics[im].get_mut(vix) {
                    d.push((n, (ms.join(" "), false)));
                }
            }
        }
        Ok(())
    }

    /// Record the part's staves (ABC voice numbers) and each voice's clef.
    fn add_staff_map(&mut self, vvmap: &[(i64, i64)]) {
        let abc = |iv: i64| vvmap.iter().find(|(x, _)| *x == iv).map(|(_, a)| *a);
        let mut staves = Vec::new();
        for (stf, voices) in &self.part.stf_map {
            let locmap: Vec<(i64, i64)> = voices
                .iter()
                .filter_map(|&iv| abc(iv).map(|a| (iv, a)))
                .collect();
            if locmap.is_empty() {
                continue;
            }
            staves.push(locmap.iter().map(|(_, a)| *a).collect());
            let clef = self
                .part
                .clef_map
                .get(stf)
                .cloned()
                .unwrap_or_else(|| "treble".to_string());
            for (iv, a) in locmap {
                let mut attr = String::new();
                if clef.starts_with("tab") {
                    if !self.part.has_stems.contains(&iv) && !clef.contains("nostems") {
                        attr.push_str(" nostems");
                    }
                    if self.part.diafret && !clef.contains("diafret") {
                        attr.push_str(" diafret");
                    }
                }
                let value = format!("{clef}{attr}");
                match self.clefs.iter_mut().find(|(k, _)| *k == a) {
                    Some((_, c)) => *c = value,
                    None => self.clefs.push((a, value)),
                }
            }
        }
        self.staff_map.push(staves);
    }

    /// Record each ABC voice's percussion map (the only MIDI data written at the default
    /// options).
    fn add_midi_map(&mut self, ip: usize, vvmap: &[(i64, i64)]) -> R<()> {
        if ip >= self.score_parts {
            return Err(XmlError::invalid(
                "more parts than score-parts in the part-list",
            ));
        }
        let mut xs: Vec<(i64, Vec<DrumEntry>)> = vvmap
            .iter()
            .map(|&(v, a)| {
                let ds = self
                    .part
                    .drum_notes
                    .iter()
                    .filter(|((vd, _), _)| *vd == v)
                    .map(|((_, nt), (step, midi, head))| {
                        (nt.clone(), step.clone(), *midi, head.clone())
                    })
                    .collect();
                (a, ds)
            })
            .collect();
        xs.sort_by_key(|(a, _)| *a);
        self.drum_maps.extend(xs.into_iter().map(|(_, d)| d));
        Ok(())
    }

    // ----- header -----------------------------------------------------------------------

    fn header(&self, entries: &[partlist::Entry]) -> String {
        let walk = partlist::walk(entries, &self.staff_map);
        let mut names: HashMap<i64, String> = HashMap::new();
        for (part, (name, abbr)) in self.staff_map.iter().zip(walk.names.iter()) {
            let Some(first) = part.first().and_then(|s| s.first()) else {
                continue;
            };
            let clean = |s: &str| {
                s.replace('\n', "\\n")
                    .replace(".:", ".")
                    .trim_matches(':')
                    .to_string()
            };
            let (nm, snm) = (clean(name), clean(abbr));
            let mut s = String::new();
            if !nm.is_empty() {
                s.push_str(&format!("nm=\"{nm}\""));
            }
            if !snm.is_empty() {
                s.push_str(&format!(" snm=\"{snm}\""));
            }
            names.insert(*first, s);
        }
        let mut hd = format!("X:1\n{}\n", self.title);
        if !walk.staves.is_empty() && walk.staves.len() > 1 {
            hd.push_str(&format!("%%score {}\n", walk.staves.join(" ")));
        }
        hd.push_str(&format!("L:1/{UNIT}\n"));
        if let Some(t) = self.tempo.as_deref().filter(|t| !t.is_empty()) {
            hd.push_str(&format!(
                "Q:{}/{}={t}\n",
                self.tempo_units.0, self.tempo_units.1
            ));
        }
        hd.push_str(&format!("M:{}\nK:{}\n", self.mtr, self.key));
        for (vnum, clef) in &self.clefs {
            let dmap = usize::try_from(vnum - 1)
                .ok()
                .and_then(|i| self.drum_maps.get(i))
                .cloned()
                .unwrap_or_default();
            let mut clef = clef.clone();
            if !dmap.is_empty() && !clef.contains("perc") {
                clef = format!("{clef} map=perc").trim().to_string();
            }
            hd.push_str(&format!(
                "V:{vnum} {clef} {}\n",
                names.get(vnum).map(String::as_str).unwrap_or("")
            ));
            if clef.contains("perc") {
                hd.push_str("K:none\n");
            }
            for (note, step, midi, head) in dmap {
                let head = if head.is_empty() {
                    "normal".to_string()
                } else {
                    head
                };
                if abc_midi(&note) != midi || note != step {
                    hd.push_str(&format!("I:percmap {note} {step} {midi} {head}\n"));
                }
            }
        }
        hd
    }
}

/// The MusicXML voice of a note (Sibelius files: made unique per staff).
fn voice_of(n: Node<'_>, is_sib: bool) -> R<i64> {
    kids_voice(&xml::Kids::of(n), is_sib)
}

/// [`voice_of`] on an indexed note.
fn kids_voice(k: &xml::Kids<'_>, is_sib: bool) -> R<i64> {
    let mut v = py::int_of(&k.findtext("voice").unwrap_or("1".into()), "voice")?;
    if is_sib {
        let staff = py::int_of(&k.findtext("staff").unwrap_or("1".into()), "staff")?;
        v = py::add(v, py::mul(100, staff)?)?;
    }
    Ok(v)
}

/// The first run of digits and dots in a metronome's `per-minute` (`[.\d]+`).
fn first_number(s: &str) -> Option<String> {
    let start = s.find(|c: char| c == '.' || py::is_digit(c))?;
    let run: String = s[start..]
        .chars()
        .take_while(|&c| c == '.' || py::is_digit(c))
        .collect();
    Some(run)
}

/// The closing form of an opening spanner mark.
fn closing(open: &str) -> String {
    open.replace('(', ")").replace("ped", "ped-up")
}
