//! Hand-written CPU inference kernels for the encoders' forward pass.
//!
//! Why hand-written: measured on the project's 2-core machines, the forward pass built from
//! candle's CPU ops spent about half its time outside the matrix products — a batched
//! attention product at 40 % of the GEMM rate, a fresh allocation (and page faults) per op,
//! single-threaded scalar `erf` for GELU, a sequential f64 LayerNorm. These kernels keep the
//! matrix products in the `gemm` crate (the same one candle calls; it reaches the machine's
//! measured GEMM ceiling) except those over few rows, where its packing dominates, and do the
//! rest in few passes over reused buffers:
//!
//! - [`gemm`]: strided matrix views over `f32` slices and a safe wrapper around `gemm::gemm`;
//! - [`small_gemm`]: products with few rows (a short segment's linear layers), where `gemm`'s
//!   packing costs as much as the product;
//! - [`math`]: vectorisable `exp` and exact-GELU (through `erfc`) within a few ulp;
//! - [`norm`]: LayerNorm rows (f64 moments, as stable as PyTorch's), per-channel GroupNorm;
//! - [`attention`]: scaled dot-product attention per (item, head) with the additive mask and
//!   softmax fused between the two products, never materialising `[B, heads, L, L]`;
//! - [`encoder`]: a post-LN transformer layer (BERT, XLM-R, MERT) on those pieces;
//! - [`bf16_tiles`]: products on the CPU's bf16 matrix tiles (AMX), for reduced-precision
//!   models;
//! - [`pool`]: reusable buffers, so that a pass does not map fresh pages for its
//!   intermediates;
//! - [`conv`]: strided 1-D convolutions (MERT's feature encoder and positional convolution)
//!   as single GEMMs over overlapping rows, with no im2col copy.
//!
//! They are used only for inference: f32 on the CPU with no tracked tensor (training, other
//! dtypes and devices go through candle's differentiable ops). Every kernel keeps each
//! golden and parity test at its tolerance; the differences from the op-by-op path are float
//! rounding (summation order), measured in the tests of this module and of the crate.

/// Defines the function given (signature and body) compiled three times — with AVX-512, with
/// AVX2 + FMA, and for the baseline target — and picks the widest the CPU supports at run
/// time. Rust never fuses `a * b + c` on its own and `mul_add` is fused everywhere, so all
/// three compute the same values; the wider ones are only faster.
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn widest($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU supports the features `widest` is compiled for.
                    return unsafe { widest($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub mod attention;
pub mod bf16_tiles;
pub mod conv;
pub mod encoder;
pub mod gemm;
pub mod math;
pub mod norm;
pub mod pool;
pub mod small_gemm;

use candle_core::{CpuStorage, Storage, Tensor};

/// Read access to the `f32` values of a contiguous CPU tensor.
///
/// Holds the tensor's storage lock for as long as it lives; [`TensorRead::slice`] borrows the
/// values.
pub struct TensorRead<'a> {
    guard: candle_core::StorageRef<'a>,
    start: usize,
    end: usize,
}

impl<'a> TensorRead<'a> {
    /// Locks `t`'s storage; errors unless `t` is a contiguous f32 CPU tensor.
    pub fn new(t: &'a Tensor) -> candle_core::Result<Self> {
        let (guard, layout) = t.storage_and_layout();
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("kernel input is not contiguous")
        };
        match &*guard {
            Storage::Cpu(CpuStorage::F32(_)) => {}
            _ => candle_core::bail!("kernel input is not an f32 CPU tensor"),
        }
        Ok(TensorRead { guard, start, end })
    }

    /// The values, in row-major order.
    pub fn slice(&self) -> &[f32] {
        match &*self.guard {
            Storage::Cpu(CpuStorage::F32(v)) => &v[self.start..self.end],
            // Checked in `new`.
            _ => &[],
        }
    }
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the kernels on or off for the whole process (on by default). Off, every forward
/// pass runs on candle's ops: for benchmarks and for checking one path against the other.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the kernels are on (see [`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// True when `t` can feed a kernel: kernels on, f32, on the CPU, and not tracked for
/// gradients.
pub fn usable(t: &Tensor) -> bool {
    enabled() && t.device().is_cpu() && t.dtype() == candle_core::DType::F32 && !t.track_op()
}
