//! Fuzz target: MIDI -> MTF must never panic, on any bytes, in either mode.
#![no_main]

use clamp3_formats::mtf::{midi_to_mtf, midi_to_mtf_with_options, MtfOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = midi_to_mtf(data) {
        // Every successful conversion starts with the header line and ends with the final
        // end_of_track that merged_track appends.
        assert!(text.starts_with("ticks_per_beat "));
        assert!(text
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("end_of_track ")));
    }
    let _ = midi_to_mtf_with_options(
        data,
        MtfOptions {
            m3_compatible: false,
        },
    );
});
