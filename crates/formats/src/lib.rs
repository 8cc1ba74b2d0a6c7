//! Input formats of CLaMP 3.
//!
//! Everything between a user's file and the integer/float arrays the encoders read:
//! MIDI -> MTF text ([`mtf`]), standard ABC -> interleaved ABC ([`interleave`]),
//! interleaved ABC / MTF -> M3 patches ([`patch`]), the reference's ASCII transliteration
//! ([`unidecode`]), text preparation ([`text`]) and `.npy` arrays ([`npy`]). Each converter
//! reproduces the reference implementation byte for byte; see `docs/reference.md` §5.

pub mod interleave;
pub mod mtf;
pub mod npy;
pub mod patch;
pub mod text;
pub mod unidecode;
