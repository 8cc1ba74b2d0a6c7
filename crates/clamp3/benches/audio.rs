//! Audio embedding speed: a recording through decoding, resampling, MERT-v1-95M and the CLaMP 3
//! audio encoder, at the official sizes with synthetic weights. Prints seconds of audio
//! embedded per second of wall time (the inverse real-time factor) and peak memory, beside the
//! PyTorch reference path (`scripts/bench/audio_torch.py`) when `CLAMP3_BENCH_PYTHON` names a
//! Python with torch, torchaudio, transformers and soundfile.
//!
//!     cargo bench -p clamp3 --bench audio [-- SECONDS]      (default: 60 s of 44.1 kHz stereo)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use clamp3::mert::FeatureExtractor;
use clamp3::{Device, EmbedOptions, Embedder, Embedding};
use clamp3_model::mert::{Mert, MertConfig};
use clamp3_model::{synthetic, Clamp3Config, Clamp3Model, Modality, Parts};

/// A deterministic test recording: a few decaying tones over noise, 44.1 kHz stereo, 16 bit.
fn write_recording(path: &Path, seconds: usize) {
    let rate = 44_100usize;
    let n = rate * seconds;
    let mut data = Vec::with_capacity(44 + n * 4);
    let riff = |tag: &[u8], out: &mut Vec<u8>| out.extend_from_slice(tag);
    riff(b"RIFF", &mut data);
    data.extend_from_slice(&((36 + n * 4) as u32).to_le_bytes());
    riff(b"WAVEfmt ", &mut data);
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&(rate as u32).to_le_bytes());
    data.extend_from_slice(&((rate * 4) as u32).to_le_bytes());
    data.extend_from_slice(&4u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    riff(b"data", &mut data);
    data.extend_from_slice(&((n * 4) as u32).to_le_bytes());
    let mut s = 1u64;
    for i in 0..n {
        let t = i as f64 / rate as f64;
        let note = 220.0 * 2f64.powf(((t * 2.0) as u64 % 12) as f64 / 12.0);
        let env = (-(t * 2.0).fract() * 3.0).exp();
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((s >> 40) as f64 / 16_777_216.0 - 0.5) * 0.05;
        let l = 0.4 * env * (2.0 * std::f64::consts::PI * note * t).sin() + noise;
        let r = 0.4 * env * (2.0 * std::f64::consts::PI * note * 1.5 * t).sin() + noise;
        for v in [l, r] {
            data.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
        }
    }
    std::fs::write(path, data).expect("write recording");
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let seconds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("recording.wav");
    write_recording(&wav, seconds);

    let dev = Device::Cpu;
    let cfg = Clamp3Config::default();
    let model = Clamp3Model::load(
        &cfg,
        Parts::of([Modality::Audio]),
        synthetic::var_builder(&dev),
    )
    .expect("model");
    let mert = Mert::load(&MertConfig::default(), synthetic::var_builder(&dev)).expect("mert");
    let mut e = Embedder::from_parts(model, None).expect("embedder");
    e.set_mert(FeatureExtractor::new(mert, &dev))
        .expect("mert width");

    let t = Instant::now();
    let r = e
        .embed_files(&[wav.as_path()], &EmbedOptions::default())
        .remove(0)
        .expect("embed");
    let dt = t.elapsed().as_secs_f64();
    assert!(matches!(r, Embedding::Global(ref v) if v.len() == 768));
    println!("CLaMP 3 audio benchmark: {seconds} s of 44.1 kHz stereo, official MERT + audio encoder (synthetic weights)");
    println!(
        "rust:  {dt:.2} s wall, {:.2} s of audio per second (real-time factor {:.3}), peak memory {:.0} MB",
        seconds as f64 / dt,
        dt / seconds as f64,
        peak_rss_mb()
    );
    if let Ok(py) = std::env::var("CLAMP3_BENCH_PYTHON") {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/audio_torch.py");
        match Command::new(py).arg(script).arg(&wav).output() {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let v: serde_json::Value =
                    serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap_or_default();
                let ts = v["seconds"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "torch: {ts:.2} s wall, {:.2} s of audio per second, peak memory {:.0} MB",
                    seconds as f64 / ts,
                    v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
                );
                println!("ratio (torch seconds / rust seconds): {:.2}", ts / dt);
            }
            Ok(o) => eprintln!(
                "PyTorch bench failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("PyTorch bench failed: {e}"),
        }
    } else {
        println!("PyTorch not run: set CLAMP3_BENCH_PYTHON for the side-by-side ratio");
    }
}
