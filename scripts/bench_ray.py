#!/usr/bin/env python3
"""Throughput of the Ray embedding job (clamp3.ray_embed) with 1 and 2 workers, on a local Ray.

    python3 scripts/bench_ray.py [N_FILES] [ROUNDS]        (default: 48 files, 2 rounds)

The model is the official-size CLaMP 3 configuration with synthetic weights (the
`synthetic_model` example; throughput does not depend on the weights' values), symbolic
encoder only; the inputs are N single-tune ABC files of the music21 corpus. Each worker runs
with one CPU thread. Runs are interleaved (1, 2, 1, 2, ...) into fresh output folders, and
the machine's load average is printed beside each figure (the machines are shared).
Needs `pip install .` and ray[data], pyarrow.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    import ray

    from clamp3 import ray_embed

    corpus = REPO / "testdata/music21/corpus"
    files = sorted(p for p in corpus.rglob("*.abc") if 300 <= p.stat().st_size <= 3000)
    files = [str(p.resolve()) for p in files[:: max(1, len(files) // n)][:n]]
    tmp = Path(tempfile.mkdtemp(prefix="clamp3-ray-bench-"))
    model = tmp / "official-synthetic"
    writer = REPO / "target/release/examples/synthetic_model"
    if not writer.exists():
        subprocess.run(
            ["cargo", "build", "--release", "-p", "clamp3-model", "--example", "synthetic_model"],
            cwd=REPO,
            check=True,
        )
    (tmp / "config.json").write_text("{}")  # every field at the release value
    subprocess.run([str(writer), str(tmp / "config.json"), str(model)], check=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"Ray job throughput: {len(files)} ABC files (music21), official-size model, symbolic encoder")
    print(f"{'workers':>7} {'round':>5} {'items':>5} {'seconds':>8} {'items/s':>8} {'load':>6}")
    for r in range(rounds):
        for workers in (1, 2):
            out = tmp / f"out-{workers}-{r}"
            res = ray_embed.run(
                files, str(model), str(out), workers=workers, batch_size=4, threads=1,
                modalities=["symbolic"],
            )
            assert res["failed"] == 0 and res["embedded"] == len(files), res
            load = os.getloadavg()[0]
            print(
                f"{workers:>7} {r:>5} {res['embedded']:>5} {res['embed_seconds']:>8.1f} "
                f"{res['items_per_second']:>8.2f} {load:>6.2f}",
                flush=True,
            )
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)  # the model is GBs
    return 0


if __name__ == "__main__":
    sys.exit(main())
