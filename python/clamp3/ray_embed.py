"""Embed a large collection on a Ray cluster, writing Parquet that ``clamp3 index import``
loads into an index directory or a PostgreSQL database.

    python -m clamp3.ray_embed --model saas --out embeddings/ music/ [--workers 4]
    clamp3 index import --index postgresql://user@host/music --model saas embeddings/

The job is a Ray Data pipeline:

1. the input files (walked from the given paths; every supported extension) are hashed in
   parallel (SHA-256 of the content, as ``clamp3 index add`` does);
2. inputs already in the output folder with the same path, content hash and model id are
   dropped, so a re-run (after a failure, or with new files) embeds only what is new;
3. ``map_batches`` with :class:`Embedder`, a class holding one ``clamp3.Model`` per worker
   (an actor: the model is loaded once per worker, not per batch), embeds each batch from the
   files' bytes (recordings are streamed from their files);
4. the rows go to Parquet files in a new sub-folder of the output folder per run
   (``run-<UTC start time>``; nothing is rewritten), one row per input: ``id``, ``path``, ``modality``, ``content_hash``, ``model_id``, ``size``, ``vector``
   (float32 list), and ``error`` (null, or why this input could not be embedded; such rows
   have an empty vector, are skipped by ``index import`` and retried by the next run).

Each worker uses ``--threads`` CPU threads (``RAYON_NUM_THREADS``); give Ray one worker per
``threads`` cores. Run it on a cluster with ``ray.init(address="auto")`` (``--address``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

import numpy as np

#: Columns of the output Parquet files.
COLUMNS = ["id", "path", "modality", "content_hash", "model_id", "size", "vector", "error"]


def list_inputs(paths: Iterable[str]) -> List[str]:
    """The supported input files among ``paths`` (folders walked), absolute, sorted."""
    import clamp3

    out: List[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for root, _, files in os.walk(p):
                for f in files:
                    if clamp3.modality_of(f) is not None:
                        out.append(str(Path(root, f).resolve()))
        elif p.is_file():
            out.append(str(p.resolve()))
        else:
            raise FileNotFoundError(p)
    return sorted(set(out))


def done_items(out_dir: str, model_id: str) -> Set[Tuple[str, str]]:
    """(path, content_hash) of the inputs already embedded by ``model_id`` in ``out_dir``."""
    import pyarrow.dataset as pads

    if not Path(out_dir).is_dir() or not any(Path(out_dir).rglob("*.parquet")):
        return set()
    table = pads.dataset(out_dir, format="parquet").to_table(
        columns=["path", "content_hash", "model_id", "error"]
    )
    rows = table.to_pydict()
    return {
        (p, h)
        for p, h, m, e in zip(rows["path"], rows["content_hash"], rows["model_id"], rows["error"])
        if m == model_id and e is None
    }


def hash_batch(batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Adds ``content_hash`` and ``size`` to a batch of ``path`` rows."""
    import clamp3

    paths = [str(p) for p in batch["path"]]
    hashes, sizes = [], []
    for p in paths:
        try:
            hashes.append(clamp3.file_hash(p))
            sizes.append(os.path.getsize(p))
        except (OSError, clamp3.Error):
            hashes.append("")  # unreadable: the embedder reports it
            sizes.append(0)
    return {
        "path": np.array(paths, dtype=object),
        "content_hash": np.array(hashes, dtype=object),
        "size": np.array(sizes, dtype=np.int64),
    }


class Embedder:
    """A Ray Data ``map_batches`` class: one ``clamp3.Model`` per worker.

    Batches hold ``path``, ``content_hash`` and ``size`` (and optionally ``bytes``, e.g. from
    ``ray.data.read_binary_files(..., include_paths=True)``); the output rows have the
    :data:`COLUMNS`.
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        mert: Optional[str] = None,
        modalities: Optional[List[str]] = None,
    ):
        import clamp3

        self.clamp3 = clamp3
        self.model = clamp3.Model(model, device=device, mert=mert, modalities=modalities)

    def _embed(self, paths: List[str], contents: Optional[List[bytes]]) -> List[Tuple[Optional[np.ndarray], Optional[str]]]:
        m = self.model
        try:
            if contents is None:
                vs = m.embed_files(paths)
            else:
                formats = [Path(p).suffix.lstrip(".").lower() for p in paths]
                vs = m.embed_bytes(contents, formats)
            return [(v, None) for v in vs]
        except self.clamp3.Error:
            if len(paths) == 1:
                raise
        # One bad input fails the whole call: embed one by one so only it fails.
        out: List[Tuple[Optional[np.ndarray], Optional[str]]] = []
        for i, p in enumerate(paths):
            try:
                one = self._embed([p], None if contents is None else [contents[i]])
                out.append(one[0])
            except self.clamp3.Error as e:
                out.append((None, str(e)))
        return out

    def __call__(self, batch: Dict[str, np.ndarray]):
        import pyarrow as pa

        paths = [str(p) for p in batch["path"]]
        if "bytes" in batch:
            contents = [bytes(b) for b in batch["bytes"]]
            # Recordings are streamed from their files, never held whole.
            audio = [i for i, p in enumerate(paths) if self.clamp3.modality_of(p) == "audio"]
            other = [i for i in range(len(paths)) if i not in set(audio)]
            results: List[Tuple[Optional[np.ndarray], Optional[str]]] = [(None, None)] * len(paths)
            for idx, use_bytes in ((audio, False), (other, True)):
                if idx:
                    got = self._embed(
                        [paths[i] for i in idx], [contents[i] for i in idx] if use_bytes else None
                    )
                    for i, r in zip(idx, got):
                        results[i] = r
        else:
            results = self._embed(paths, None)
        hashes = [str(h) for h in batch["content_hash"]]
        return pa.table(
            {
                "id": pa.array(hashes, pa.string()),
                "path": pa.array(paths, pa.string()),
                "modality": pa.array([self.clamp3.modality_of(p) for p in paths], pa.string()),
                "content_hash": pa.array(hashes, pa.string()),
                "model_id": pa.array([self.model.model_id] * len(paths), pa.string()),
                "size": pa.array([int(x) for x in batch["size"]], pa.int64()),
                "vector": pa.array(
                    [[] if v is None else v.tolist() for v, _ in results], pa.list_(pa.float32())
                ),
                "error": pa.array([e for _, e in results], pa.string()),
            }
        )


def model_id_of(model: str, modalities: Optional[List[str]] = None) -> str:
    """The model id (as the index records it) of ``model``."""
    import clamp3

    return clamp3.Model(model, mert=None, modalities=modalities).model_id


def run(
    inputs: List[str],
    model: str,
    out_dir: str,
    workers: int = 1,
    batch_size: int = 16,
    threads: int = 1,
    device: str = "cpu",
    mert: Optional[str] = None,
    modalities: Optional[List[str]] = None,
) -> Dict[str, float]:
    """Embeds the files ``inputs`` (absolute paths) into Parquet under ``out_dir``, skipping
    those already there; Ray must be initialised. Returns counts and timings."""
    import ray

    t0 = time.perf_counter()
    mid = model_id_of(model, modalities)
    done = done_items(out_dir, mid)
    # Enough blocks that every worker gets batches.
    blocks = max(1, min(len(inputs), workers * 8))
    ds = ray.data.from_items([{"path": p} for p in inputs], override_num_blocks=blocks)
    ds = ds.map_batches(hash_batch, batch_size=256)
    todo = ds.filter(lambda r: (r["path"], r["content_hash"]) not in done).materialize()
    n_todo = todo.count()
    skipped = len(inputs) - n_todo
    t1 = time.perf_counter()
    failed = 0
    if n_todo:
        out = todo.map_batches(
            Embedder,
            fn_constructor_kwargs={
                "model": model,
                "device": device,
                "mert": mert,
                "modalities": modalities,
            },
            batch_size=batch_size,
            concurrency=workers,
            num_cpus=threads,
            runtime_env={"env_vars": {"RAYON_NUM_THREADS": str(threads)}},
        ).materialize()
        # One sub-folder per run, named by its start time: `index import` reads the files in
        # path order, so a file re-embedded after a change is stored with its newest vector.
        stamp = time.strftime("run-%Y%m%dT%H%M%S", time.gmtime())
        run_dir, i = Path(out_dir) / stamp, 1
        while run_dir.exists():
            run_dir, i = Path(out_dir) / f"{stamp}-{i}", i + 1
        out.write_parquet(str(run_dir))
        failed = out.filter(lambda r: r["error"] is not None).count()
    t2 = time.perf_counter()
    return {
        "inputs": len(inputs),
        "embedded": n_todo - failed,
        "failed": failed,
        "skipped": skipped,
        "embed_seconds": t2 - t1,
        "total_seconds": t2 - t0,
        "items_per_second": (n_todo / (t2 - t1)) if n_todo and t2 > t1 else 0.0,
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clamp3.ray_embed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model directory, weights file, saas or c2")
    ap.add_argument("--out", required=True, help="output folder of Parquet files")
    ap.add_argument("--workers", type=int, default=1, help="model workers (Ray actors)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (and Ray CPUs) per worker")
    ap.add_argument("--batch-size", type=int, default=16, help="inputs per map_batches call")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mert", default=None, help="MERT-v1-95M directory, for recordings")
    ap.add_argument(
        "--modalities", default=None, help="load only these encoders, e.g. symbolic,text"
    )
    ap.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    ap.add_argument("paths", nargs="+", help="files or folders")
    a = ap.parse_args(argv)
    import ray

    ray.init(address=a.address)
    modalities = a.modalities.split(",") if a.modalities else None
    r = run(
        list_inputs(a.paths),
        a.model,
        a.out,
        a.workers,
        a.batch_size,
        a.threads,
        a.device,
        a.mert,
        modalities,
    )
    print(
        f"{r['embedded']} embedded, {r['failed']} failed, {r['skipped']} already done, of "
        f"{r['inputs']} inputs; {r['items_per_second']:.2f} items/s with {a.workers} worker(s)",
        file=sys.stderr,
    )
    return 1 if r["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
