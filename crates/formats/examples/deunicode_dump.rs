//! Prints `deunicode::deunicode_char` for every Unicode scalar value >= U+0080, one line each:
//! `<code point hex>\t<output bytes hex>` (`-` when the crate has no entry).
//!
//! Input of `scripts/gen_unidecode_table.py`, which compares these base outputs with Python
//! `unidecode` 1.3.6 and writes the override table `src/unidecode/table.rs`.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for cp in 0x80u32..=0x10FFFF {
        let Some(c) = char::from_u32(cp) else {
            continue; // surrogates are not scalar values
        };
        match deunicode::deunicode_char(c) {
            Some(s) => {
                let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                writeln!(out, "{cp:x}\t{hex}")?;
            }
            None => writeln!(out, "{cp:x}\t-")?,
        }
    }
    out.flush()
}
