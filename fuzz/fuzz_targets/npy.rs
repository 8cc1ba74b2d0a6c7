#![no_main]
//! `.npy` reader: arbitrary bytes must give an array or an error, never a panic or a huge
//! allocation.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = clamp3_formats::npy::read_npy(data) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
});
