//! Convert one file and print the ABC (or the error) — a debugging aid.
//!
//! `cargo run --release -p clamp3-musicxml --example xml2abc_one -- FILE`
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: xml2abc_one FILE");
        std::process::exit(2);
    };
    match clamp3_musicxml::file_to_abc(&path) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
