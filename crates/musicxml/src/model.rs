//! The intermediate music records: notes, chords and rests ([`Note`]), everything else that
//! is written into a voice (bar lines, inline fields, annotations: [`Elem`]), and the arena
//! that owns them.
//!
//! Records are addressed by index because the converter keeps pointers into voices it has
//! already moved past: a slur closes on a note of an earlier bar, a grace group is closed on
//! the previous note, a bar line record gets a repeat sign or volta number when the next bar
//! starts, and one measure-repeat record is shared by every voice of a staff.

use crate::XmlError;

/// A note, chord or rest of one voice.
#[derive(Clone, Debug, Default)]
pub struct Note {
    /// Start time in MusicXML divisions, relative to the bar.
    pub tijd: i64,
    /// Duration in divisions (0 for grace notes).
    pub dur: i64,
    /// Tuplet time modification (actual, normal).
    pub fact: Option<(i64, i64)>,
    /// `type` of each `notations/tuplet` (start, stop, ...), consumed while writing tuplets.
    pub tup: Vec<Option<String>>,
    /// ABC tuplet prefix, e.g. `(3`.
    pub tupabc: String,
    /// Beam count (continue/end beams, +1 for grace notes); non-zero means no space before.
    pub beam: i64,
    /// Grace note.
    pub grace: bool,
    /// Decorations and openers written before the note.
    pub before: Vec<String>,
    /// Text written after the note (broken rhythm, slur and grace closers).
    pub after: String,
    /// The pitches (or `z`/`x`) of the note or chord, each with its own decoration prefix.
    pub ns: Vec<String>,
    /// Lyric syllables by verse number (assignment order kept; a repeated number overwrites).
    pub lyrs: Vec<(i64, String)>,
    /// Per-pitch decorations (`!courtesy!`, string numbers).
    pub ntdec: String,
}

impl Note {
    /// The invisible rest that fills a gap in a voice.
    pub fn filler(dur: i64) -> Note {
        Note {
            dur,
            tup: vec![Some(String::new())],
            ns: vec!["x".to_string()],
            ..Note::default()
        }
    }

    /// The first pitch string (every note has at least one).
    pub fn first(&self) -> &str {
        self.ns.first().map(String::as_str).unwrap_or("")
    }
}

/// The text of an [`Elem`]: plain ABC, or a measure-repeat shared between voices.
#[derive(Clone, Debug)]
pub enum ElemText {
    /// ABC text written as is.
    Plain(String),
    /// Index into [`Arena::repeats`].
    Repeat(usize),
}

/// A voice item without duration.
#[derive(Clone, Debug)]
pub struct Elem {
    /// Time in divisions, relative to the bar.
    pub tijd: i64,
    /// What is written.
    pub text: ElemText,
}

/// A measure-repeat (`[I:repeat ...]`) that is opened in one bar and completed later; one
/// slot is shared by all voices of the staff.
#[derive(Clone, Debug)]
pub struct RepeatSlot {
    /// The bar it started in, then the final ABC once it is closed.
    pub head: RepeatHead,
    /// The `<measure-repeat>` text (bars per repeated pattern).
    pub text: Option<String>,
}

/// See [`RepeatSlot::head`].
#[derive(Clone, Debug)]
pub enum RepeatHead {
    /// Still open: the index of its first bar.
    Start(i64),
    /// Closed: the ABC written.
    Text(String),
}

/// One entry of a voice's bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Index into [`Arena::notes`].
    Note(usize),
    /// Index into [`Arena::elems`].
    Elem(usize),
}

/// Owner of all records of one conversion.
#[derive(Default)]
pub struct Arena {
    /// All notes.
    pub notes: Vec<Note>,
    /// All elements.
    pub elems: Vec<Elem>,
    /// All measure-repeat slots.
    pub repeats: Vec<RepeatSlot>,
}

impl Arena {
    /// Store a note, returning its index.
    pub fn add_note(&mut self, note: Note) -> usize {
        self.notes.push(note);
        self.notes.len() - 1
    }

    /// Store an element, returning its index.
    pub fn add_elem(&mut self, tijd: i64, text: ElemText) -> usize {
        self.elems.push(Elem { tijd, text });
        self.elems.len() - 1
    }

    /// The time of an item.
    pub fn tijd(&self, item: Item) -> i64 {
        match item {
            Item::Note(i) => self.notes.get(i).map_or(0, |n| n.tijd),
            Item::Elem(i) => self.elems.get(i).map_or(0, |e| e.tijd),
        }
    }

    /// Mutable access to a note.
    pub fn note_mut(&mut self, i: usize) -> Result<&mut Note, XmlError> {
        self.notes
            .get_mut(i)
            .ok_or_else(|| XmlError::invalid("internal: dangling note index"))
    }

    /// Shared access to a note.
    pub fn note(&self, i: usize) -> Result<&Note, XmlError> {
        self.notes
            .get(i)
            .ok_or_else(|| XmlError::invalid("internal: dangling note index"))
    }

    /// The text an element writes.
    pub fn elem_text(&self, i: usize) -> Result<String, XmlError> {
        let e = self
            .elems
            .get(i)
            .ok_or_else(|| XmlError::invalid("internal: dangling element index"))?;
        match &e.text {
            ElemText::Plain(s) => Ok(s.clone()),
            ElemText::Repeat(r) => match self.repeats.get(*r).map(|s| &s.head) {
                Some(RepeatHead::Text(s)) => Ok(s.clone()),
                _ => Err(XmlError::invalid("measure repeat left without its text")),
            },
        }
    }
}
