//! Symbolic music (docs/reference.md §5.2-§5.5): any symbolic file → the model's text (interleaved
//! ABC or MTF) → M3 patches.
//!
//! | kind | model text |
//! |---|---|
//! | `.abc` | standard ABC is interleaved as the reference's `batch_interleaved_abc.py` does; interleaved (or voice-less) ABC is used as is, as `extract_clamp3.py` reads `.abc` files |
//! | `.mtf` | as is |
//! | `.mid`/`.midi` | MIDI → MTF as `batch_midi2mtf.py --m3_compatible` does |
//! | `.xml`/`.musicxml`/`.mxl` | MusicXML → standard ABC as `xml2abc.py -d 8 -x` does, then interleaved; an archive is told by its content and read through an [`MxlSelection`] |

use std::borrow::Cow;

use clamp3_formats::patch::Patchilizer;
use clamp3_formats::{interleave, mtf};
use clamp3_model::Sequence;

pub use clamp3_musicxml::MxlSelection;

use crate::error::InputCause;
use crate::kind::InputKind;
use crate::text;

/// True for standard multi-voice ABC as xml2abc writes it: a line that is exactly `V:1` (after
/// stripping) opens the tune body, which is where the reference's interleaving splits, and no
/// line starts with an inline `[V:` field, as every body line of interleaved ABC does.
pub fn is_standard_abc(abc: &str) -> bool {
    abc.lines().any(|l| l.trim() == "V:1") && !abc.lines().any(|l| l.starts_with("[V:"))
}

/// The ABC the model reads for an `.abc` input: standard ABC is interleaved first (failing
/// where the reference fails); interleaved or voice-less ABC is used as is.
pub fn abc_for_model(abc: &str) -> Result<Cow<'_, str>, InputCause> {
    if is_standard_abc(abc) {
        Ok(Cow::Owned(interleave::interleave_abc(abc)?))
    } else {
        Ok(Cow::Borrowed(abc))
    }
}

/// Standard ABC of a MusicXML file's bytes (plain or an archive, told by content), as the
/// reference's `xml2abc.py -d 8 -x` prints it; `selection` picks an archive's member.
pub fn musicxml_to_abc(bytes: &[u8], selection: MxlSelection) -> Result<String, InputCause> {
    Ok(clamp3_musicxml::score_bytes_to_abc(bytes, selection)?)
}

/// Standard ABC of a MusicXML file, as the reference converts a file: an `.mxl` name means an
/// archive (a broken one fails as an archive), any other name is told by content.
pub fn musicxml_file_to_abc(
    path: &std::path::Path,
    selection: MxlSelection,
) -> Result<String, InputCause> {
    Ok(clamp3_musicxml::file_to_abc_with(path, selection)?)
}

/// Interleaved ABC from standard ABC, byte-identical to the reference's interleaving.
pub fn interleave(standard_abc: &str) -> Result<String, InputCause> {
    Ok(interleave::interleave_abc(standard_abc)?)
}

/// The model text (interleaved ABC or MTF) of a symbolic file's bytes; `selection` is the
/// member rule for `.mxl` archives. `None`-symbolic kinds are [`InputCause::Unsupported`].
pub fn model_text(
    kind: InputKind,
    bytes: &[u8],
    selection: MxlSelection,
) -> Result<String, InputCause> {
    match kind {
        InputKind::Mtf => text::read(bytes),
        InputKind::Abc => {
            let abc = text::read(bytes)?;
            Ok(abc_for_model(&abc)?.into_owned())
        }
        InputKind::Midi => Ok(mtf::midi_to_mtf(bytes)?),
        InputKind::MusicXml => interleave(&musicxml_to_abc(bytes, selection)?),
        _ => Err(InputCause::Unsupported),
    }
}

/// The patch sequence (BOS and EOS patches included) of model text.
pub fn patches(patchilizer: &Patchilizer, model_text: &str) -> Result<Sequence, InputCause> {
    let patches = patchilizer.encode(model_text)?;
    Ok(Sequence::Symbolic {
        patch_size: patches.patch_size(),
        ids: patches.to_u32_vec(),
    })
}
