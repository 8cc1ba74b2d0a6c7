#![no_main]
//! `torch.save` archives: arbitrary bytes (seeded with real checkpoints) through the zip layer,
//! the unpickler and the tensor lookup.

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = clamp3_pth::TorchArchive::from_bytes(Path::new("fuzz.pth"), data.to_vec()) {
        for key in [None, Some("model")] {
            if let Ok(tensors) = a.state_dict(key) {
                for (name, t) in &tensors {
                    let _ = a.tensor_bytes(name, t);
                }
            }
        }
    }
});
