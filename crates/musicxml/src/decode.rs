//! Bytes of an XML document -> text, choosing the encoding the way the reference's parser
//! (expat, through Python's ElementTree) does: a byte order mark first, then the bytes of
//! `<?xml` in UTF-16, then the `encoding` of the XML declaration, UTF-8 by default.
//!
//! Supported: UTF-8, UTF-16 (LE/BE), ISO-8859-1, US-ASCII (expat's built-ins, named exactly)
//! and, under their Python codec names and aliases, ISO-8859-1, ISO-8859-15, US-ASCII and
//! windows-1252 (Python's expat binding accepts any single-byte codec). Any other declared
//! encoding is an [`XmlError::Encoding`] error: the reference also fails on multi-byte
//! encodings other than UTF-8/16 (including a UTF-8 declared as `UTF8`), but would read the
//! other single-byte codecs (e.g. `macintosh`), a documented gap.

use crate::XmlError;

/// Decode a whole XML document to a `String` (without any byte order mark).
pub fn decode_xml(bytes: &[u8]) -> Result<String, XmlError> {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, false);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, true);
    }
    if bytes.starts_with(b"\x00<\x00?") {
        return utf16(bytes, true);
    }
    if bytes.starts_with(b"<\x00?\x00") {
        return utf16(bytes, false);
    }
    // After a UTF-8 byte order mark the declaration still decides (expat switches to a
    // declared single-byte encoding).
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(declared) = declared_encoding(bytes) else {
        return utf8(bytes);
    };
    // expat's own encodings, by exact name in any case.
    match declared.to_ascii_lowercase().as_str() {
        "utf-8" => return utf8(bytes),
        "iso-8859-1" => return Ok(latin1(bytes)),
        "us-ascii" => return ascii(bytes),
        "utf-16" | "utf-16le" | "utf-16be" => {
            return Err(XmlError::Encoding(
                "UTF-16 declared but the document is not UTF-16".to_string(),
            ))
        }
        _ => {}
    }
    // Other names go through Python's codec registry, which expat can use only for
    // single-byte codecs.
    match python_codec(declared).as_deref() {
        Some("latin_1") => Ok(latin1(bytes)),
        Some("ascii") => ascii(bytes),
        Some("cp1252") => cp1252(bytes),
        Some("iso8859_15") => Ok(latin9(bytes)),
        _ => Err(XmlError::Encoding(format!(
            "unsupported encoding {declared:?} (supported: UTF-8, UTF-16, ISO-8859-1, \
             ISO-8859-15, US-ASCII, windows-1252)"
        ))),
    }
}

/// The Python codec a declared encoding name resolves to, for the codecs supported here
/// (Python lower-cases the name, turns runs of punctuation into `_`, then looks up aliases).
fn python_codec(name: &str) -> Option<String> {
    let mut norm = String::new();
    let mut pending = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '.' {
            if pending && !norm.is_empty() {
                norm.push('_');
            }
            pending = false;
            norm.push(c);
        } else {
            pending = true;
        }
    }
    let codec = match norm.as_str() {
        "latin_1" | "8859" | "cp819" | "csisolatin1" | "ibm819" | "iso8859" | "iso8859_1"
        | "iso_8859_1" | "iso_8859_1_1987" | "iso_ir_100" | "l1" | "latin" | "latin1" => "latin_1",
        "cp1252" | "1252" | "windows_1252" => "cp1252",
        "ascii" | "646" | "ansi_x3.4_1968" | "ansi_x3.4_1986" | "ansi_x3_4_1968" | "cp367"
        | "csascii" | "ibm367" | "iso646_us" | "iso_646.irv_1991" | "iso_ir_6" | "us"
        | "us_ascii" => "ascii",
        "iso8859_15" | "iso_8859_15" | "l9" | "latin9" => "iso8859_15",
        _ => return None,
    };
    Some(codec.to_string())
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// ISO-8859-15: Latin-1 with eight code points replaced (the euro sign among them).
fn latin9(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0xA4 => '\u{20AC}',
            0xA6 => '\u{0160}',
            0xA8 => '\u{0161}',
            0xB4 => '\u{017D}',
            0xB8 => '\u{017E}',
            0xBC => '\u{0152}',
            0xBD => '\u{0153}',
            0xBE => '\u{0178}',
            _ => char::from(b),
        })
        .collect()
}

fn ascii(bytes: &[u8]) -> Result<String, XmlError> {
    if let Some(pos) = bytes.iter().position(|b| !b.is_ascii()) {
        return Err(XmlError::Encoding(format!(
            "byte 0x{:02X} at offset {pos} is not US-ASCII",
            bytes[pos]
        )));
    }
    utf8(bytes)
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = bytes.strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl.get(at + "encoding".len()..)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let body = rest.get(1..)?;
    let close = body.find(quote)?;
    body.get(..close)
}

fn utf8(bytes: &[u8]) -> Result<String, XmlError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|e| XmlError::Encoding(format!("invalid UTF-8: {}", e.utf8_error())))
}

fn utf16(bytes: &[u8], big_endian: bool) -> Result<String, XmlError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(XmlError::Encoding(
            "UTF-16 document with an odd number of bytes".to_string(),
        ));
    }
    let units = bytes.chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| XmlError::Encoding(format!("invalid UTF-16: {e}")))
}

/// windows-1252 as Python's codec defines it (five bytes undefined).
fn cp1252(bytes: &[u8]) -> Result<String, XmlError> {
    const HIGH: [u16; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    let mut out = String::with_capacity(bytes.len());
    for (pos, &b) in bytes.iter().enumerate() {
        let c = if (0x80..0xA0).contains(&b) {
            let u = HIGH[usize::from(b - 0x80)];
            if u == 0 {
                return Err(XmlError::Encoding(format!(
                    "byte 0x{b:02X} at offset {pos} is undefined in windows-1252"
                )));
            }
            char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER)
        } else {
            char::from(b)
        };
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_declarations() {
        assert_eq!(
            decode_xml(b"\xEF\xBB\xBF<a/>").ok().as_deref(),
            Some("<a/>")
        );
        assert_eq!(
            decode_xml(b"\xFF\xFE<\x00a\x00/\x00>\x00").ok().as_deref(),
            Some("<a/>")
        );
        assert_eq!(
            decode_xml(b"\xFE\xFF\x00<\x00a\x00/\x00>").ok().as_deref(),
            Some("<a/>")
        );
        let latin = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xE9</a>";
        assert_eq!(
            decode_xml(latin).ok().as_deref(),
            Some("<?xml version='1.0' encoding='ISO-8859-1'?><a>\u{e9}</a>")
        );
        let cp = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a>\x80</a>";
        assert!(decode_xml(cp).is_ok_and(|s| s.contains('\u{20AC}')));
        assert!(decode_xml(b"<?xml version='1.0' encoding='Shift_JIS'?><a/>").is_err());
        assert!(decode_xml(b"<a>\xFF</a>").is_err());
        // Checked against the reference: `UTF8` is not expat's name and not single-byte.
        assert!(decode_xml(b"<?xml version='1.0' encoding='UTF8'?><a/>").is_err());
        // A UTF-8 byte order mark does not override a declared Latin-1.
        let bom_latin = b"\xEF\xBB\xBF<?xml version='1.0' encoding='ISO-8859-1'?><a>\xC3\x84</a>";
        assert!(decode_xml(bom_latin).is_ok_and(|s| s.ends_with("<a>\u{c3}\u{84}</a>")));
        let latin9 = b"<?xml version='1.0' encoding='latin9'?><a>\xA4</a>";
        assert!(decode_xml(latin9).is_ok_and(|s| s.ends_with("<a>\u{20AC}</a>")));
        // Python's codec registry knows `latin9` and `ISO 8859 15`, but not `Latin-9`.
        assert!(decode_xml(b"<?xml version='1.0' encoding='ISO 8859 15'?><a/>").is_ok());
        assert!(decode_xml(b"<?xml version='1.0' encoding='Latin-9'?><a/>").is_err());
    }
}
