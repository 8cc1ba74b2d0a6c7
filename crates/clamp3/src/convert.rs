//! `clamp3 convert`: files in the model's symbolic formats, byte-identical to the reference's
//! preprocessing scripts. The conversions themselves are [`clamp3_input::symbolic`]'s.

use std::path::Path;

use clamp3_input::symbolic::{self, MxlSelection};
use clamp3_input::{text, InputCause, InputError, InputKind};

/// What `clamp3 convert` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// MTF text from MIDI files (`.mtf`).
    Mtf,
    /// Interleaved ABC from standard ABC or MusicXML (`.abc`).
    Abc,
    /// Standard ABC from MusicXML, before interleaving (what the reference's xml2abc step
    /// writes).
    StandardAbc,
}

impl Target {
    /// Extension of the outputs.
    pub fn extension(self) -> &'static str {
        match self {
            Target::Mtf => "mtf",
            Target::Abc | Target::StandardAbc => "abc",
        }
    }

    /// Whether inputs of `kind` are converted to this target.
    pub fn accepts_kind(self, kind: InputKind) -> bool {
        matches!(
            (self, kind),
            (Target::Mtf, InputKind::Midi)
                | (Target::Abc, InputKind::Abc | InputKind::MusicXml)
                | (Target::StandardAbc, InputKind::MusicXml)
        )
    }

    /// Whether `path` is an input this target converts.
    pub fn accepts(self, path: &Path) -> bool {
        InputKind::of(path).is_some_and(|k| self.accepts_kind(k))
    }

    /// Converts the content of an input of `kind`. Archives are read with the reference's member
    /// rule ([`MxlSelection::Reference`]), so outputs and failures match the reference.
    pub fn convert_bytes(self, kind: InputKind, bytes: &[u8]) -> Result<String, InputCause> {
        if !self.accepts_kind(kind) {
            return Err(InputCause::Unsupported);
        }
        match (self, kind) {
            (Target::Mtf, _) => symbolic::model_text(kind, bytes, MxlSelection::Reference),
            (Target::Abc, InputKind::Abc) => symbolic::interleave(&text::read(bytes)?),
            (Target::Abc, _) => symbolic::model_text(kind, bytes, MxlSelection::Reference),
            (Target::StandardAbc, _) => symbolic::musicxml_to_abc(bytes, MxlSelection::Reference),
        }
    }

    /// Reads `path` and converts it.
    pub fn convert_file(self, path: &Path) -> Result<String, InputError> {
        let err = |c: InputCause| InputError::new(path, c);
        let kind = InputKind::of(path).ok_or_else(|| err(InputCause::Unsupported))?;
        if !self.accepts_kind(kind) {
            return Err(err(InputCause::Unsupported));
        }
        if kind == InputKind::MusicXml {
            // By file name, as the reference's xml2abc decides what an archive is.
            let abc = symbolic::musicxml_file_to_abc(path, MxlSelection::Reference).map_err(err)?;
            return match self {
                Target::StandardAbc => Ok(abc),
                _ => symbolic::interleave(&abc).map_err(err),
            };
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.into()))?;
        self.convert_bytes(kind, &bytes).map_err(err)
    }
}
