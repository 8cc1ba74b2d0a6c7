//! Fuzz target: standard ABC -> interleaved ABC must never panic, on any UTF-8 text.
#![no_main]

use clamp3_formats::interleave::interleave_abc_with_warnings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(out) = interleave_abc_with_warnings(text) {
        // rotate_abc always writes the bar-0 line, which starts with the `V:1` voice
        assert!(out.abc.ends_with('\n'));
        assert!(out.abc.contains("[V:1]"));
    }
});
