#!/usr/bin/env bash
# Checks that the CUDA build (`--features cuda`) compiles and links on a machine without a GPU
# or a system CUDA toolkit: the toolkit comes from NVIDIA's PyPI wheels, and the driver library
# (libcuda, which only a GPU driver installs) is replaced at link time by a stub exporting the
# driver symbols that candle/cudarc reference. The binary it makes runs only where a real
# driver is installed; with the stub it fails cleanly at `--device cuda`.
#
#   scripts/cuda_build_check.sh [WORK_DIR]     # default /tmp/clamp3-cuda; ~2 GB download
#
# Not run by CI (CI is CPU-only). Environment knobs: CUDA_COMPUTE_CAP (default 90, H100),
# CUDA_MAJOR (default 13), CUDARC_CUDA_VERSION (default 13040: cudarc 0.19 knows up to 13.4).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/clamp3-cuda}"
MAJOR="${CUDA_MAJOR:-13}"
mkdir -p "$WORK/wheels" "$WORK/tree"

if [ ! -x "$WORK/tree/nvidia/cu$MAJOR/bin/nvcc" ]; then
  python3 -m pip download --no-deps -q -d "$WORK/wheels" \
    "nvidia-cuda-nvcc==$MAJOR.*" "nvidia-cuda-runtime==$MAJOR.*" "nvidia-cuda-cccl==$MAJOR.*" \
    "nvidia-nvvm==$MAJOR.*" "nvidia-cuda-crt==$MAJOR.*" "nvidia-cuda-nvrtc==$MAJOR.*" \
    "nvidia-curand" "nvidia-cublas==$MAJOR.*"
  for w in "$WORK"/wheels/*.whl; do unzip -q -o "$w" 'nvidia/*' -d "$WORK/tree"; done
fi
ROOT="$WORK/tree/nvidia/cu$MAJOR"
chmod +x "$ROOT"/bin/* "$ROOT"/nvvm/bin/* 2>/dev/null || true
# Unversioned names for the linker.
for lib in "$ROOT"/lib/lib*.so.*; do
  base="${lib%%.so.*}.so"
  [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"
done

export PATH="$ROOT/bin:$PATH" CUDA_ROOT="$ROOT" CUDA_PATH="$ROOT"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13040}"
TARGET="${CARGO_TARGET_DIR:-target-cuda}"

# First pass: everything compiles; the link needs libcuda.
if ! [ -e "$ROOT/lib/libcuda.so" ]; then
  cargo build --release --features cuda -p clamp3-cli --target-dir "$TARGET" 2>/dev/null || true
  nm -u --quiet "$TARGET"/release/deps/lib{cudarc,candle_core,candle_nn}-*.rlib 2>/dev/null \
    | awk '{print $2}' | grep -E '^cu[A-Z]' | sort -u \
    | awk '{print "int " $1 "(void) { return 3; }"}' > "$WORK/cuda_stub.c"
  gcc -shared -fPIC -o "$ROOT/lib/libcuda.so" -Wl,-soname,libcuda.so.1 "$WORK/cuda_stub.c"
fi
cargo build --release --features cuda -p clamp3-cli --target-dir "$TARGET"
echo "CUDA build OK: $TARGET/release/clamp3 (needs the NVIDIA driver's libcuda.so.1 to run;"
echo "  LD_LIBRARY_PATH=$ROOT/lib for the toolkit libraries)"
