//! How the tool reports: an error printed once (its cause chain without repeats, plus the
//! command-line hint that fixes it), and the per-file failure list of batch commands.

use std::fmt::Display;

/// The message of an error and its causes, each cause added only when the message does not
/// already say it (library errors include their cause in their message), followed by a hint
/// naming the flag or command that fixes it, when there is one.
pub fn describe(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if msg.is_empty() {
            msg = s;
        } else if !msg.contains(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
    }
    if let Some(h) = e.chain().find_map(hint) {
        msg.push_str(" (");
        msg.push_str(h);
        msg.push(')');
    }
    msg
}

/// The message of one library error, with its hint (for per-file failures).
pub fn describe_error(e: impl std::error::Error + Send + Sync + 'static) -> String {
    describe(&anyhow::Error::new(e))
}

/// The command-line fix for a library error, if there is one: the library's messages never
/// name flags or commands, so the tool adds them here.
fn hint(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use clamp3::{EmbedError, Error};
    if let Some(e) = e.downcast_ref::<Error>() {
        // Transparent wrappers hide the inner error from the cause chain: look inside.
        return match e {
            Error::MertNotFound { .. } => Some("pass --mert DIR, or run `clamp3 download mert`"),
            Error::BlipNotFound { .. } => Some("pass --blip DIR, or run `clamp3 download blip`"),
            Error::NoTokenizer { .. } => Some("`clamp3 download saas` fetches it"),
            Error::Embed(e) => embed_hint(e),
            Error::Hub(h) => hub_hint(h),
            Error::Index(i) => index_hint(i),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<EmbedError>() {
        return embed_hint(e);
    }
    if let Some(c) = e.downcast_ref::<clamp3::SystemCause>() {
        return system_hint(c);
    }
    if let Some(h) = e.downcast_ref::<clamp3::hub::HubError>() {
        return hub_hint(h);
    }
    e.downcast_ref::<clamp3_index::IndexError>()
        .and_then(index_hint)
}

fn system_hint(c: &clamp3::SystemCause) -> Option<&'static str> {
    use clamp3::SystemCause;
    match c {
        SystemCause::NoMert => Some("pass --mert DIR, or run `clamp3 download mert`"),
        SystemCause::NoBlip => Some("pass --blip DIR, or run `clamp3 download blip`"),
        SystemCause::NoModel => Some("pass --model"),
        SystemCause::NoTokenizer => Some("`clamp3 download saas` fetches the XLM-R tokenizer"),
        _ => None,
    }
}

fn embed_hint(e: &clamp3::EmbedError) -> Option<&'static str> {
    match e {
        clamp3::EmbedError::System { cause, .. } => system_hint(cause),
        clamp3::EmbedError::Input(_) => None,
    }
}

fn hub_hint(h: &clamp3::hub::HubError) -> Option<&'static str> {
    use clamp3::hub::{HubError, Variant};
    match h {
        HubError::NotDownloaded { variant, .. } => Some(match variant {
            Variant::Saas => "run `clamp3 download saas`, or put the files there",
            Variant::C2 => "run `clamp3 download c2`, or put the files there",
        }),
        HubError::NoSuchModel(_) => None,
    }
}

fn index_hint(e: &clamp3_index::IndexError) -> Option<&'static str> {
    use clamp3_index::IndexError;
    match e {
        IndexError::NotAnIndex { .. } => Some("create one with `clamp3 index add`"),
        IndexError::NoIndexAt { .. } => Some("create one with `clamp3 index add --index URL`"),
        IndexError::ModelMismatch { .. } => {
            Some("pass the model the index was built with, or use another index directory")
        }
        _ => None,
    }
}

/// The inputs a batch command could not process, reported at the end.
#[derive(Debug, Default)]
pub struct Failures {
    items: Vec<String>,
}

impl Failures {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure message (it already names its input).
    pub fn push(&mut self, msg: impl Display) {
        self.items.push(msg.to_string());
    }

    /// Records a library error about one input.
    pub fn push_error(&mut self, e: impl std::error::Error + Send + Sync + 'static) {
        self.items.push(describe_error(e));
    }

    /// Number of failures.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Prints `"<summary>, N failed:"` and the failures, one per line, on stderr.
    pub fn print(&self, summary: &str) {
        if self.items.is_empty() {
            eprintln!("{summary}");
        } else {
            eprintln!("{summary}, {} failed:", self.items.len());
            for f in &self.items {
                eprintln!("  {f}");
            }
        }
    }

    /// The exit decision of a batch command: success unless `strict` and something failed.
    pub fn ok(&self, strict: bool) -> bool {
        self.items.is_empty() || !strict
    }
}
