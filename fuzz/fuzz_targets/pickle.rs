#![no_main]
//! The restricted unpickler: arbitrary bytes must give a value or an error, never a panic,
//! a stack overflow or unbounded memory.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clamp3_pth::pickle::read(data);
});
