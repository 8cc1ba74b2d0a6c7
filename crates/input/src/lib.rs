//! Where each CLaMP 3 modality is prepared: the bytes of an input in, the model's input out.
//!
//! One module per modality, and nothing about a modality's preparation lives anywhere else
//! (the embedder, `clamp3 convert`, the trainer's music store and the JSONL evaluation all call
//! these):
//!
//! | modality | module | from | to |
//! |---|---|---|---|
//! | text | [`text`] | `.txt` bytes, strings | prepared text (lines de-duplicated, joined with `</s>`) → XLM-R token ids |
//! | symbolic | [`symbolic`] | `.abc` (standard or interleaved), `.mtf`, `.mid`/`.midi`, `.xml`/`.musicxml`/`.mxl` | model text (interleaved ABC or MTF) → M3 patches |
//! | audio | [`audio`] | recordings (`.wav`, `.mp3`, ...), MERT `.npy` features | windows for MERT ([`audio::Recording`]), or checked features → the feature sequence with its zero BOS/EOS rows |
//! | text, from images | [`image`] | `.png`, `.jpg`, `.webp` | a BLIP caption → the text path |
//!
//! [`kind`] says which kind a file is (one table of extensions) and which encoder reads it;
//! [`prepare`] dispatches an [`Input`] to the right module and returns a [`Prepared`] input;
//! [`error`] says why an input could not be used: always the input's fault ([`InputCause`]),
//! except the one system-side case of a missing tokenizer ([`PrepareError::NoTokenizer`]).
//!
//! Everything here is CPU work that can run on many threads at once; running MERT and the
//! encoders is the embedder's job (`clamp3::Embedder`).

pub mod audio;
pub mod error;
pub mod image;
pub mod kind;
pub mod prepare;
pub mod symbolic;
pub mod text;

pub use clamp3_model::{Modality, Sequence};
pub use error::{InputCause, InputError, InputRef};
pub use kind::InputKind;
pub use prepare::{Input, Limits, PrepareError, Prepared, Preparer};
pub use symbolic::MxlSelection;
pub use text::{TextLimits, TextTokenizer};
