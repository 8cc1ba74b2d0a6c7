//! The run's random generator: SplitMix64 ([`clamp3_util::Rng`]), whose whole state is one
//! `u64`, so that a resumed run continues exactly where it stopped.

pub use clamp3_util::Rng;
