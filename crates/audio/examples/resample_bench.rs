//! Throughput of decode → mono → resample to 24 kHz (one thread), in seconds of audio per
//! second, and the ratio to torchaudio on the same file when its timing is given.
//!
//! ```text
//! cargo run --release -p clamp3-audio --example resample_bench -- FILE [TORCH_SECONDS]
//! ```
//! `TORCH_SECONDS`: wall time of `soundfile.read` + `torch.mean` + `torchaudio.transforms.Resample`
//! on the same file (printed by `scripts/golden/gen_audio_goldens.py --bench`).

use std::time::Instant;

use clamp3_audio::{AudioReader, AudioSource, DecodeOptions, Mono24kStream, Resampler};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: resample_bench FILE [TORCH_SECONDS]")?;
    let torch_secs: Option<f64> = args.next().map(|s| s.parse()).transpose()?;
    let opts = DecodeOptions::default();

    // 1. Decode only.
    let t = Instant::now();
    let mut r = AudioReader::open(&path, &opts)?;
    let (rate, channels) = (r.sample_rate(), r.channels());
    let mut buf = Vec::new();
    while r.read_chunk(&mut buf)? > 0 {
        buf.clear();
    }
    let frames = r.frames_read();
    let decode = t.elapsed().as_secs_f64();
    let audio_secs = frames as f64 / f64::from(rate);
    println!("{path}: {audio_secs:.1} s of audio, {rate} Hz, {channels} ch");
    println!(
        "decode only:                  {decode:7.3} s  ({:8.0} x real time)",
        audio_secs / decode
    );

    // 2. Resampling alone, on the whole mono signal in memory.
    let whole = clamp3_audio::decode_file(&path)?;
    let mono = whole.to_mono();
    drop(whole);
    let t = Instant::now();
    let out = Resampler::new(rate, 24_000)?.resample(&mono);
    let resample = t.elapsed().as_secs_f64();
    println!(
        "resample only (one shot):     {resample:7.3} s  ({:8.0} x real time), {} samples",
        audio_secs / resample,
        out.len()
    );
    drop((mono, out));

    // 3. The streaming pipeline: decode + mono + resample.
    let t = Instant::now();
    let mut s = Mono24kStream::open(&AudioSource::path(&path), &opts)?;
    let mut n = 0usize;
    let mut chunk = Vec::new();
    while s.next_into(&mut chunk)? {
        n += chunk.len();
        chunk.clear();
    }
    let total = t.elapsed().as_secs_f64();
    println!(
        "decode + mono + resample:     {total:7.3} s  ({:8.0} x real time), {n} samples",
        audio_secs / total
    );
    if let Some(ts) = torch_secs {
        println!(
            "torchaudio (same steps):      {ts:7.3} s  -> Rust is {:.1}x faster",
            ts / total
        );
    }
    Ok(())
}
