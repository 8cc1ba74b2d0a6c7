//! Fuzz target: MusicXML -> ABC must never panic, on any bytes read as an uncompressed
//! document or as a compressed `.mxl` archive (both member selections).
#![no_main]

use clamp3_musicxml::{musicxml_bytes_to_abc, musicxml_to_abc, read_mxl, read_mxl_as_reference};
use libfuzzer_sys::fuzz_target;

fn check(out: Result<String, clamp3_musicxml::XmlError>) {
    if let Ok(abc) = out {
        // Header first, one empty line after the last voice.
        assert!(abc.starts_with("X:1\n"), "{abc:?}");
        assert!(abc.ends_with("\n\n"), "{abc:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"PK") {
        for text in [read_mxl(data), read_mxl_as_reference(data)].into_iter().flatten() {
            check(musicxml_to_abc(&text));
        }
    } else {
        check(musicxml_bytes_to_abc(data));
    }
});
