//! Native converters to the model's symbolic formats: MIDI -> MTF and standard ABC ->
//! interleaved ABC, byte-identical to the reference's preprocessing scripts.

use std::borrow::Cow;
use std::path::Path;

use clamp3_formats::{interleave, mtf};

use crate::input::{InputCause, InputError, InputKind};

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

    /// Whether `path` is an input this target converts.
    pub fn accepts(self, path: &Path) -> bool {
        matches!(
            (self, InputKind::of(path)),
            (Target::Mtf, Some(InputKind::Midi))
                | (Target::Abc, Some(InputKind::Abc | InputKind::MusicXml))
                | (Target::StandardAbc, Some(InputKind::MusicXml))
        )
    }

    /// Converts one file's bytes.
    pub fn convert(self, path: &Path, bytes: &[u8]) -> Result<String, InputError> {
        let err = |c: InputCause| InputError::new(path, c);
        if !self.accepts(path) {
            return Err(err(InputCause::Unsupported));
        }
        match self {
            Target::Mtf => mtf::midi_to_mtf(bytes).map_err(|e| err(e.into())),
            Target::Abc if InputKind::of(path) == Some(InputKind::MusicXml) => {
                let abc = musicxml_to_abc(bytes, is_mxl(path), false).map_err(err)?;
                interleave::interleave_abc(&abc).map_err(|e| err(e.into()))
            }
            Target::Abc => {
                let abc = std::str::from_utf8(bytes).map_err(|e| err(InputCause::NotUtf8(e)))?;
                interleave::interleave_abc(abc).map_err(|e| err(e.into()))
            }
            Target::StandardAbc => musicxml_to_abc(bytes, is_mxl(path), false).map_err(err),
        }
    }
}

/// Standard ABC of a MusicXML file's content, as the reference's `xml2abc.py -d 8 -x` prints
/// it. Compressed (`.mxl`) archives are read as the reference does (first `.xml` member);
/// with `lenient`, an archive the reference cannot read (its score is a `.musicxml` member) is
/// read through its `META-INF/container.xml` instead.
pub fn musicxml_to_abc(
    bytes: &[u8],
    compressed: bool,
    lenient: bool,
) -> Result<String, InputCause> {
    if !compressed {
        return Ok(clamp3_musicxml::musicxml_bytes_to_abc(bytes)?);
    }
    let text = match clamp3_musicxml::read_mxl_as_reference(bytes) {
        Err(clamp3_musicxml::XmlError::NoScoreInArchive) if lenient => {
            clamp3_musicxml::read_mxl(bytes)?
        }
        r => r?,
    };
    Ok(clamp3_musicxml::musicxml_to_abc(&text)?)
}

/// Whether a MusicXML path is a compressed archive by the reference's rule (its extension).
fn is_mxl(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mxl"))
}

/// True for standard multi-voice ABC as xml2abc writes it: a line that is exactly `V:1` (after
/// stripping) opens the tune body, which is where the reference's interleaving splits, and no
/// line starts with an inline `[V:` field, as every body line of interleaved ABC does.
pub fn is_standard_abc(abc: &str) -> bool {
    abc.lines().any(|l| l.trim() == "V:1") && !abc.lines().any(|l| l.starts_with("[V:"))
}

/// The ABC the model reads for an `.abc` input: standard ABC is interleaved first (failing
/// where the reference fails); interleaved or voice-less ABC is used as is, as the reference's
/// `extract_clamp3.py` does with `.abc` files.
pub fn abc_for_model(abc: &str) -> Result<Cow<'_, str>, InputCause> {
    if is_standard_abc(abc) {
        Ok(Cow::Owned(interleave::interleave_abc(abc)?))
    } else {
        Ok(Cow::Borrowed(abc))
    }
}

/// Reads `path` and converts it for `target`.
pub fn convert_file(path: &Path, target: Target) -> Result<String, InputError> {
    let bytes = std::fs::read(path).map_err(|e| InputError::new(path, e))?;
    target.convert(path, &bytes)
}
