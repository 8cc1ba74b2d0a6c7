//! Which kind an input file is, told by its extension, and which encoder reads it.

use std::fmt;
use std::path::Path;

use clamp3_model::Modality;

/// The kinds of input the embedder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
    /// `.txt`: text in any language; lines are de-duplicated and joined with `</s>`.
    Text,
    /// `.abc`: interleaved ABC, or standard ABC (interleaved on the fly).
    Abc,
    /// `.mtf`: MIDI text format.
    Mtf,
    /// `.npy`: MERT-v1-95M features of shape (1, N, D).
    Features,
    /// `.mid`, `.midi`: Standard MIDI Files (converted to MTF on the fly).
    Midi,
    /// MusicXML (`.xml`, `.musicxml`, compressed `.mxl`): converted to ABC as the reference's
    /// xml2abc does, then interleaved.
    MusicXml,
    /// Audio recordings (`.wav`, `.flac`, `.mp3`, `.ogg`, `.m4a`, `.aiff`...), turned into MERT
    /// features on the fly.
    Audio,
    /// Images (`.png`, `.jpg`/`.jpeg`, `.webp`): BLIP writes a caption, which is embedded as a
    /// `.txt` file holding it would be (the reference's image route).
    Image,
}

/// Every accepted extension (lower case) and its kind: the one table the other functions read.
const EXTENSIONS: &[(&str, InputKind)] = &[
    ("txt", InputKind::Text),
    ("abc", InputKind::Abc),
    ("mtf", InputKind::Mtf),
    ("npy", InputKind::Features),
    ("mid", InputKind::Midi),
    ("midi", InputKind::Midi),
    ("xml", InputKind::MusicXml),
    ("musicxml", InputKind::MusicXml),
    ("mxl", InputKind::MusicXml),
    ("wav", InputKind::Audio),
    ("wave", InputKind::Audio),
    ("flac", InputKind::Audio),
    ("mp3", InputKind::Audio),
    ("ogg", InputKind::Audio),
    ("oga", InputKind::Audio),
    ("opus", InputKind::Audio),
    ("m4a", InputKind::Audio),
    ("mp4", InputKind::Audio),
    ("aac", InputKind::Audio),
    ("alac", InputKind::Audio),
    ("aif", InputKind::Audio),
    ("aiff", InputKind::Audio),
    ("aifc", InputKind::Audio),
    ("caf", InputKind::Audio),
    ("mka", InputKind::Audio),
    ("webm", InputKind::Audio),
    ("png", InputKind::Image),
    ("jpg", InputKind::Image),
    ("jpeg", InputKind::Image),
    ("webp", InputKind::Image),
];

impl InputKind {
    /// Every kind.
    pub const ALL: [InputKind; 8] = [
        InputKind::Text,
        InputKind::Abc,
        InputKind::Mtf,
        InputKind::Features,
        InputKind::Midi,
        InputKind::MusicXml,
        InputKind::Audio,
        InputKind::Image,
    ];

    /// The kind of a file extension (without the dot, any case); `None` if unsupported.
    pub fn from_extension(ext: &str) -> Option<Self> {
        let ext = ext.to_ascii_lowercase();
        EXTENSIONS
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, kind)| *kind)
    }

    /// The kind of `path`, from its extension (case-insensitive); `None` if unsupported.
    pub fn of(path: &Path) -> Option<Self> {
        Self::from_extension(path.extension()?.to_str()?)
    }

    /// Every supported extension, lower case, in table order.
    pub fn all_extensions() -> impl Iterator<Item = &'static str> {
        EXTENSIONS.iter().map(|(e, _)| *e)
    }

    /// The extensions of this kind.
    pub fn extensions(self) -> impl Iterator<Item = &'static str> {
        EXTENSIONS
            .iter()
            .filter(move |(_, k)| *k == self)
            .map(|(e, _)| *e)
    }

    /// The supported extensions as a comma-separated list, for messages.
    pub fn extension_list() -> String {
        Self::all_extensions().collect::<Vec<_>>().join(", ")
    }

    /// The encoder that reads this kind.
    pub fn modality(self) -> Modality {
        match self {
            InputKind::Text | InputKind::Image => Modality::Text,
            InputKind::Abc | InputKind::Mtf | InputKind::Midi | InputKind::MusicXml => {
                Modality::Symbolic
            }
            InputKind::Features | InputKind::Audio => Modality::Audio,
        }
    }

    /// Whether this kind needs MERT-v1-95M (raw recordings).
    pub fn needs_mert(self) -> bool {
        self == InputKind::Audio
    }

    /// Whether this kind needs BLIP (images, captioned into text).
    pub fn needs_blip(self) -> bool {
        self == InputKind::Image
    }

    /// Whether this kind needs the XLM-R tokenizer (texts, and the captions of images).
    pub fn needs_tokenizer(self) -> bool {
        self.modality() == Modality::Text
    }

    /// A short lower-case name (`text`, `abc`, `mtf`, `features`, `midi`, `musicxml`, `audio`).
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Text => "text",
            InputKind::Abc => "abc",
            InputKind::Mtf => "mtf",
            InputKind::Features => "features",
            InputKind::Midi => "midi",
            InputKind::MusicXml => "musicxml",
            InputKind::Audio => "audio",
            InputKind::Image => "image",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_kinds_in_any_case() {
        assert_eq!(InputKind::of(Path::new("a/B.MID")), Some(InputKind::Midi));
        assert_eq!(InputKind::of(Path::new("x.Mxl")), Some(InputKind::MusicXml));
        assert_eq!(InputKind::of(Path::new("x.opus")), Some(InputKind::Audio));
        assert_eq!(InputKind::of(Path::new("x.md")), None);
        assert_eq!(InputKind::of(Path::new("noext")), None);
        // The list and the lookup are one table: every listed extension is accepted.
        for e in InputKind::all_extensions() {
            let k = InputKind::from_extension(e).unwrap();
            assert!(k.extensions().any(|x| x == e));
        }
        assert_eq!(
            InputKind::Midi.extensions().collect::<Vec<_>>(),
            vec!["mid", "midi"]
        );
        assert_eq!(InputKind::Audio.modality(), Modality::Audio);
        assert_eq!(InputKind::MusicXml.modality(), Modality::Symbolic);
    }
}
