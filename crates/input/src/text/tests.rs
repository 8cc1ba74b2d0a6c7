//! The streamed, line-by-line tokenisation against tokenising the whole prepared text at once
//! (the reference's way), with the real XLM-R tokenizer (`scripts/fetch-test-data.sh`).

use super::*;

fn repo(rel: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn tokenizer() -> TextTokenizer {
    let p = repo("testdata/xlm-roberta/tokenizer.json");
    assert!(
        p.is_file(),
        "missing {}: run scripts/fetch-test-data.sh",
        p.display()
    );
    TextTokenizer::from_file(&p).unwrap()
}

/// The reference's way: the whole file decoded, prepared and tokenised at once.
fn whole(tok: &TextTokenizer, bytes: &[u8]) -> Result<Vec<u32>, InputCause> {
    let prepared = prepare(&read(bytes)?);
    if prepared.is_empty() {
        return Err(InputCause::EmptyText);
    }
    tok.encode(&prepared)
}

#[test]
fn line_by_line_ids_equal_the_whole_texts_ids() {
    let tok = tokenizer();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for f in [
        "en_reel.txt",
        "multilingual.txt",
        "essen_titles_long.txt",
        "crlf_spaces.txt",
        "special_tokens.txt",
    ] {
        cases.push(std::fs::read(repo(&format!("fixtures/model/inputs/{f}"))).unwrap());
    }
    for s in [
        "a\r\nb\rc\n\nb\n",
        "a\r\r\nb",
        " \n  x  \n x",
        "\u{feff}BOM first\nsecond",
        "a</s>b\n<s>c\n</s>\n",
        "人民公社实在好\nDas Hildebrandslied\nHello world",
        "trailing\n\n\n",
    ] {
        cases.push(s.as_bytes().to_vec());
    }
    let limits = TextLimits::default();
    for c in &cases {
        let want = whole(&tok, c).unwrap();
        let got = ids_from_reader(&tok, c.as_slice(), &limits).unwrap();
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(c));
    }
    // Errors are the same too.
    for bad in [&b""[..], b"\n\n", b"\r\n\r"] {
        assert!(matches!(
            ids_from_reader(&tok, bad, &limits),
            Err(InputCause::EmptyText)
        ));
    }
    assert!(matches!(
        ids_from_reader(&tok, &b"ok\n\xff\xfe\n"[..], &limits),
        Err(InputCause::NotUtf8(_))
    ));
}

#[test]
fn long_texts_are_the_first_max_tokens_ids() {
    let tok = tokenizer();
    let text: String = (0..3000)
        .map(|i| format!("line {i} of a long text\n"))
        .collect();
    let want = whole(&tok, text.as_bytes()).unwrap();
    let limits = TextLimits {
        max_tokens: 1000,
        ..TextLimits::default()
    };
    assert!(want.len() > 1000);
    let got = ids_from_reader(&tok, text.as_bytes(), &limits).unwrap();
    assert_eq!(got, want[..1000]);
    // A single huge line is cut at a word boundary before the line limit.
    let line = "word ".repeat(100_000);
    let limits = TextLimits {
        max_tokens: 1 << 20,
        max_line_bytes: 10_000,
    };
    let got = ids_from_reader(&tok, line.as_bytes(), &limits).unwrap();
    let cut = &line[..line[..10_000].rfind(' ').unwrap()];
    assert_eq!(got, tok.encode(cut).unwrap());
}
