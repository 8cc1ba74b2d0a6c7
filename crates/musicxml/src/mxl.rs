//! Compressed MusicXML (`.mxl`, a zip archive) -> the text of its score document.
//!
//! Two ways of choosing the score inside the archive:
//!
//! * [`MxlSelection::Container`] — the MusicXML standard: the first `rootfile` named by
//!   `META-INF/container.xml`; when that is missing or broken, the first member outside
//!   `META-INF/` ending in `.xml` or `.musicxml`.
//! * [`MxlSelection::Reference`] — what the reference's xml2abc command line does: the first
//!   archive member whose name does not start with `META` and ends in `.xml` (any case). An
//!   archive whose score is a `.musicxml` member has no such entry, and the reference prints
//!   nothing for it; this selection then fails with [`XmlError::NoScoreInArchive`].
//! * [`MxlSelection::Lenient`] — the reference's member where it has one (so results match the
//!   reference wherever the reference reads the archive), else the container's: what the
//!   embedder and the trainer use, so that `.musicxml`-member archives are not lost.

use std::io::{Cursor, Read};

use crate::{decode::decode_xml, XmlError};

/// Largest member inflated (the biggest score in the music21 corpus is about 11 MB): checked
/// against the size the archive declares before inflating, and again while inflating (a
/// declared size can lie), so a zip bomb costs at most this much memory.
pub const MAX_MEMBER_BYTES: u64 = 64 * 1024 * 1024;

/// Which member of an `.mxl` archive holds the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MxlSelection {
    /// The reference pipeline's choice (first non-`META*` member ending in `.xml`).
    #[default]
    Reference,
    /// The MusicXML container's `rootfile`, with a sensible fallback.
    Container,
    /// [`MxlSelection::Reference`] when it finds a member, else [`MxlSelection::Container`].
    Lenient,
}

/// Open the archive and return the chosen member's decoded text.
pub fn read_mxl_with(bytes: &[u8], selection: MxlSelection) -> Result<String, XmlError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| XmlError::Archive(e.to_string()))?;
    let names: Vec<String> = (0..archive.len())
        .map(|i| {
            archive
                .name_for_index(i)
                .and_then(|r| r.ok())
                .map(|n| n.to_string())
                .unwrap_or_default()
        })
        .collect();
    let reference = || names.iter().position(|n| reference_pick(n));
    let mut container = || {
        container_rootfile(&mut archive)
            .and_then(|root| names.iter().position(|n| *n == root))
            .or_else(|| {
                names.iter().position(|n| {
                    let l = n.to_lowercase();
                    !n.starts_with("META-INF/") && (l.ends_with(".xml") || l.ends_with(".musicxml"))
                })
            })
    };
    let chosen = match selection {
        MxlSelection::Reference => reference(),
        MxlSelection::Container => container(),
        MxlSelection::Lenient => reference().or_else(container),
    };
    let index = chosen.ok_or(XmlError::NoScoreInArchive)?;
    let data = read_member(&mut archive, index)?;
    decode_xml(&data)
}

/// The reference's test on one member name: `n[:4] != 'META' and n[-4:].lower() == '.xml'`.
fn reference_pick(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    head != "META" && tail.to_lowercase() == ".xml"
}

fn read_member(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    index: usize,
) -> Result<Vec<u8>, XmlError> {
    let file = archive
        .by_index(index)
        .map_err(|e| XmlError::Archive(e.to_string()))?;
    let too_large = |size: u64| XmlError::MemberTooLarge {
        size,
        limit: MAX_MEMBER_BYTES,
    };
    if file.size() > MAX_MEMBER_BYTES {
        return Err(too_large(file.size()));
    }
    let mut data = Vec::with_capacity(file.size() as usize);
    file.take(MAX_MEMBER_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| XmlError::Archive(e.to_string()))?;
    if data.len() as u64 > MAX_MEMBER_BYTES {
        return Err(too_large(data.len() as u64));
    }
    Ok(data)
}

/// `full-path` of the first `rootfile` in `META-INF/container.xml`, if readable.
fn container_rootfile(archive: &mut zip::ZipArchive<Cursor<&[u8]>>) -> Option<String> {
    let index = archive.index_for_name("META-INF/container.xml")?;
    let data = read_member(archive, index).ok()?;
    let text = decode_xml(&data).ok()?;
    let doc = roxmltree::Document::parse_with_options(
        &text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .ok()?;
    let path = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "rootfile")?
        .attribute("full-path")?
        .to_string();
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::reference_pick;

    #[test]
    fn reference_member_rule() {
        assert!(reference_pick("score.xml"));
        assert!(reference_pick("dir/Score.XML"));
        assert!(!reference_pick("META-INF/container.xml"));
        assert!(!reference_pick("METAscore.xml"));
        assert!(!reference_pick("score.musicxml"));
        assert!(!reference_pick("xml"));
    }
}
