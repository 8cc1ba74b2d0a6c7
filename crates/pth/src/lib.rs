//! PyTorch checkpoints read safely: a restricted pickle reader ([`pickle`]) that never executes
//! anything, and the `torch.save` zip archive layout on top of it ([`archive`]): which tensors a
//! state dict holds, with their type, shape and raw bytes, memory-mapped.

pub mod archive;
pub mod pickle;

#[cfg(unix)]
pub use archive::release_mapped;
pub use archive::{Dtype, PthError, TensorRef, TorchArchive};
