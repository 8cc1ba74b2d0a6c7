//! Text preparation for the text encoder (docs/reference.md §5.1) and the reference's way of
//! reading text files.

/// Decodes a file's bytes as the reference's `open(path, "r", encoding="utf-8").read()` does:
/// strict UTF-8 (a byte-order mark is kept as U+FEFF) with universal newlines, i.e. `\r\n` and
/// lone `\r` become `\n`. Used for `.txt`, `.abc` and `.mtf` inputs.
pub fn read_text(bytes: &[u8]) -> Result<String, std::str::Utf8Error> {
    let s = std::str::from_utf8(bytes)?;
    Ok(universal_newlines(s))
}

/// Python text-mode newline translation: `\r\n` -> `\n`, then lone `\r` -> `\n`.
pub fn universal_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_string();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The text the tokenizer sees: lines split on `\n`, de-duplicated keeping the **first**
/// occurrence (the reference uses a `set`, whose order is random; docs/reference.md §4.8 #6), empty
/// lines dropped, joined with the separator token `</s>`.
pub fn prepare_text(content: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<&str> = content
        .split('\n')
        .filter(|l| !l.is_empty() && seen.insert(*l))
        .collect();
    lines.join("</s>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_in_first_occurrence_order_and_drops_empty_lines() {
        assert_eq!(prepare_text("b\na\n\nb\nc\n"), "b</s>a</s>c");
        assert_eq!(prepare_text("only one line"), "only one line");
        assert_eq!(prepare_text("\n\n"), "");
        // Whitespace-only lines are not empty: the reference keeps them.
        assert_eq!(prepare_text(" \nx"), " </s>x");
    }

    #[test]
    fn newlines_are_translated_like_python_text_mode() {
        assert_eq!(read_text(b"a\r\nb\rc\n").unwrap(), "a\nb\nc\n");
        assert_eq!(read_text("\u{feff}x".as_bytes()).unwrap(), "\u{feff}x");
        assert!(read_text(b"\xff\xfe").is_err());
    }
}
