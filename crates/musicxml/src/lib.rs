//! MusicXML -> ABC for CLaMP 3's sheet-music route (docs/reference.md §5.2).
//!
//! The reference turns every `.xml`, `.musicxml` and `.mxl` score into ABC with Wim Vree's
//! `xml2abc.py` (VERSION 143) run as `xml2abc.py -d 8 -x <file>`: unit length `L:1/8`, no
//! line breaks taken from the score (body lines still wrap after about 100 characters, each
//! ending in a `%<bar number>` comment), no `%%MIDI` output. A file for which it prints
//! nothing is skipped. This crate produces the same text byte for byte, natively, and fails
//! exactly where the reference prints nothing:
//!
//! * [`musicxml_to_abc`] converts the text of a `score-partwise` document;
//! * [`musicxml_bytes_to_abc`] does the same from raw bytes (BOM / XML-declaration
//!   encodings: UTF-8, UTF-16, ISO-8859-1, US-ASCII, windows-1252);
//! * [`read_mxl`] / [`read_mxl_as_reference`] open a compressed `.mxl` archive;
//! * [`file_to_abc`] picks the reader by extension (and content) as the reference pipeline
//!   does.
//!
//! The implementation is written from the MusicXML standard and the reference's observable
//! output; `convert` documents the behaviours that matter for parity.

mod convert;
mod decode;
mod model;
mod mxl;
mod partlist;
mod py;
mod render;
mod xml;

use std::path::Path;

pub use mxl::MxlSelection;

/// Why a score could not be converted. Every case where the reference prints nothing maps
/// to an error here, so callers can skip the file as the reference pipeline does.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not text in the declared (or detected) encoding.
    #[error("text encoding: {0}")]
    Encoding(String),
    /// The document is not well-formed XML.
    #[error("malformed XML: {0}")]
    Parse(String),
    /// The `.mxl` archive could not be read.
    #[error("bad .mxl archive: {0}")]
    Archive(String),
    /// An archive member would inflate to more than the limit (a zip bomb, or not a score).
    #[error(".mxl archive member of {size} bytes (inflated) is over the limit of {limit} bytes")]
    MemberTooLarge {
        /// Its inflated size (declared, or reached while inflating).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The `.mxl` archive has no member the chosen selection accepts (for
    /// [`MxlSelection::Reference`]: no member ending in `.xml` outside `META*`).
    #[error(".mxl archive has no score document the reference would read")]
    NoScoreInArchive,
    /// The path's extension is not one the reference converts.
    #[error("not a MusicXML file name (expected .xml, .musicxml or .mxl): {0}")]
    Extension(String),
    /// The score makes the reference converter fail (it raises and prints nothing); the
    /// message names the cause.
    #[error("the reference converter rejects this score: {0}")]
    Rejected(String),
    /// No part has a voice with notes: the reference writes nothing.
    #[error("no notes: the reference converter writes nothing for this score")]
    NoNotes,
    /// The score needs something this crate deliberately does not do, although the
    /// reference might still print output for it: numbers beyond 64 bits, absurd repeat
    /// counts (more than 10,000 octave marks or tremolo strokes, verse numbers above
    /// 100,000), attribute defaults declared in the internal DTD subset.
    #[error("unsupported input: {0}")]
    Unsupported(String),
}

impl XmlError {
    pub(crate) fn invalid(msg: impl Into<String>) -> XmlError {
        XmlError::Rejected(msg.into())
    }

    pub(crate) fn unsupported(msg: impl Into<String>) -> XmlError {
        XmlError::Unsupported(msg.into())
    }
}

/// Convert the text of a MusicXML (`score-partwise`) document to ABC, exactly as
/// `xml2abc.py -d 8 -x` prints it (trailing empty line included).
pub fn musicxml_to_abc(xml: &str) -> Result<String, XmlError> {
    let text = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(|e| XmlError::Parse(e.to_string()))?;
    let prolog = text.get(..doc.root_element().range().start).unwrap_or("");
    if prolog.contains("<!ATTLIST") && xml::declares_attribute_defaults(prolog) {
        return Err(XmlError::unsupported(
            "attribute defaults declared in the internal DTD subset",
        ));
    }
    convert::convert(&doc)
}

/// [`musicxml_to_abc`] on the raw bytes of an uncompressed MusicXML file, decoding them as
/// the reference's XML parser does.
pub fn musicxml_bytes_to_abc(bytes: &[u8]) -> Result<String, XmlError> {
    musicxml_to_abc(&decode::decode_xml(bytes)?)
}

/// The score document of a compressed MusicXML (`.mxl`) archive, located through
/// `META-INF/container.xml` (first `rootfile`); if that is missing or names no member, the
/// first member outside `META-INF/` ending in `.xml` or `.musicxml`.
///
/// Note: the reference pipeline does not read the container (see [`read_mxl_as_reference`]);
/// use that function where parity matters.
pub fn read_mxl(bytes: &[u8]) -> Result<String, XmlError> {
    mxl::read_mxl_with(bytes, MxlSelection::Container)
}

/// The member of an `.mxl` archive that the reference's xml2abc reads: the first one whose
/// name does not start with `META` and ends in `.xml` (any case). Archives whose score is a
/// `.musicxml` member give [`XmlError::NoScoreInArchive`], as the reference prints nothing
/// for them.
pub fn read_mxl_as_reference(bytes: &[u8]) -> Result<String, XmlError> {
    mxl::read_mxl_with(bytes, MxlSelection::Reference)
}

/// Convert a file as the reference pipeline does (`.mxl` read with
/// [`MxlSelection::Reference`]). See [`file_to_abc_with`].
pub fn file_to_abc(path: impl AsRef<Path>) -> Result<String, XmlError> {
    file_to_abc_with(path, MxlSelection::Reference)
}

/// Convert a `.xml`, `.musicxml` or `.mxl` file (extension in any case, as the reference
/// accepts them): an `.mxl` file is an archive (as the reference decides by name, so a broken
/// one is [`XmlError::Archive`]); any other is told by content, as [`score_bytes_to_abc`] does.
pub fn file_to_abc_with(
    path: impl AsRef<Path>,
    selection: MxlSelection,
) -> Result<String, XmlError> {
    let path = path.as_ref();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    if !matches!(ext.as_str(), "xml" | "musicxml" | "mxl") {
        return Err(XmlError::Extension(path.display().to_string()));
    }
    let bytes = std::fs::read(path).map_err(|source| XmlError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if ext == "mxl" {
        musicxml_to_abc(&mxl::read_mxl_with(&bytes, selection)?)
    } else {
        score_bytes_to_abc(&bytes, selection)
    }
}

/// True when `bytes` are a zip archive (a compressed `.mxl` score), told by content.
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// Convert the bytes of a MusicXML file of either form: a zip archive (recognised by content,
/// [`is_archive`]) through the member `selection` picks, plain MusicXML otherwise. The one
/// place where the two forms are told apart.
///
/// The reference decides by the file name instead (`.mxl` means an archive), so it fails on an
/// archive named `.xml` or a plain score named `.mxl`; both are read here.
pub fn score_bytes_to_abc(bytes: &[u8], selection: MxlSelection) -> Result<String, XmlError> {
    if is_archive(bytes) {
        musicxml_to_abc(&mxl::read_mxl_with(bytes, selection)?)
    } else {
        musicxml_bytes_to_abc(bytes)
    }
}
