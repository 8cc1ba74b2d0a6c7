//! Time repeated conversions of one file (a profiling aid).
//!
//! `cargo run --release -p clamp3-musicxml --example xml2abc_bench -- FILE [N]`
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: xml2abc_bench FILE [N]");
        std::process::exit(2);
    };
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let bytes = std::fs::read(&path).unwrap_or_default();
    let text = if path.ends_with(".mxl") {
        clamp3_musicxml::read_mxl_as_reference(&bytes).unwrap_or_default()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let t0 = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        total += clamp3_musicxml::musicxml_to_abc(&text)
            .map(|s| s.len())
            .unwrap_or(0);
    }
    let dt = t0.elapsed().as_secs_f64() / f64::from(n);
    println!(
        "{:.3} ms per conversion ({} bytes out)",
        dt * 1000.0,
        total / n as usize
    );
    let t0 = Instant::now();
    let mut nodes = 0;
    for _ in 0..n {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        nodes += roxmltree::Document::parse_with_options(&text, opts)
            .map(|d| d.descendants().count())
            .unwrap_or(0);
    }
    let dt = t0.elapsed().as_secs_f64() / f64::from(n);
    println!(
        "{:.3} ms per roxmltree parse ({} nodes)",
        dt * 1000.0,
        nodes / n as usize
    );
}
