#![no_main]
//! Audio decoding (symphonia behind `clamp3_audio`'s guards), mono mixdown and resampling:
//! arbitrary bytes must give audio or an `AudioError`, never an escaping panic, a hang or a huge
//! allocation.
//!
//! Panics inside symphonia are caught by the crate (`catch_unwind`) and become
//! `AudioError::DecoderPanic`; the panic hook is replaced by one that only logs each new panic
//! location once, so a caught panic does not abort. A panic that escapes the crate's API still
//! aborts (libfuzzer-sys catches it around the target) and is reported as a crash.

use std::collections::HashSet;
use std::sync::{Mutex, Once};

use clamp3_audio::{mix_to_mono, AudioReader, DecodeOptions, Resampler};
use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn install_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let loc = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut g) = SEEN.lock() {
                if g.get_or_insert_with(HashSet::new).insert(loc.clone()) {
                    eprintln!(
                        "[audio_decode] panic (caught unless the run aborts) at {loc}: {info}"
                    );
                }
            }
        }));
    });
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fuzz_target!(|data: &[u8]| {
    install_hook();
    // The first byte picks strict or tolerant decoding (concealment of damaged packets).
    let tolerant = data.first().is_some_and(|b| b & 1 == 1);
    let opts = DecodeOptions {
        max_frames: Some(1 << 20),
        max_corrupt_packets: if tolerant { 8 } else { 0 },
        allow_truncated: tolerant,
        ..DecodeOptions::default()
    };
    let Ok(reader) = AudioReader::from_bytes(data.to_vec(), None, &opts) else {
        return;
    };
    let (rate, channels) = (reader.sample_rate(), reader.channels());
    assert!(rate > 0 && rate <= clamp3_audio::MAX_SAMPLE_RATE);
    assert!(channels > 0 && channels <= clamp3_audio::MAX_CHANNELS);
    let Ok(audio) = reader.read_all() else {
        return;
    };
    assert_eq!(audio.samples.len() % channels, 0);
    assert!(audio.samples.iter().all(|v| v.is_finite()));
    let mono = mix_to_mono(&audio.samples, channels);
    assert_eq!(mono.len(), audio.frames());
    // Resample a prefix when the kernel is small (odd rates build large kernels by design).
    let o = u64::from(rate) / gcd(u64::from(rate), 24_000);
    if o <= 4000 {
        let r = Resampler::new(rate, 24_000).expect("valid rates");
        let prefix = &mono[..mono.len().min(8192)];
        let out = r.resample(prefix);
        assert_eq!(out.len() as u64, r.output_len(prefix.len() as u64));
    }
});
