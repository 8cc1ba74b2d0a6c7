//! `clamp3-annotate`: the annotation pipeline as a stand-alone command (the same arguments
//! as `clamp3 annotate`).

use std::process::ExitCode;

use clamp3_annotate::cli::{run, AnnotateArgs};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "clamp3-annotate",
    version,
    about = "Annotate a music collection as M4-RAG JSONL"
)]
struct Cli {
    #[command(flatten)]
    args: AnnotateArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
