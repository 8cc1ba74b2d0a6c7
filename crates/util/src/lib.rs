//! Small pieces that several clamp3-rs crates need and that must behave the same everywhere:
//!
//! - [`fs`]: writing outputs so that nothing already written is lost (temporary file, fsync,
//!   rename), and never replacing what the user pointed at (devices, FIFOs, symlinks);
//! - [`rng`]: SplitMix64, the one deterministic generator of the project (sampling, shuffles,
//!   splits, dropout masks), whose whole state is one `u64`;
//! - [`rank`]: ranks of the correct item among scored candidates, MRR and Hit@k, and the
//!   random-ranking baseline, shared by evaluation and training.

pub mod fs;
pub mod rank;
pub mod rng;

pub use rng::Rng;
