"""The Ray job (clamp3.ray_embed) on a local Ray instance over a real slice of the music21
corpus: its vectors are the CLI's, a re-run embeds only what is new, and `clamp3 index import`
loads its Parquet into an index that searches like one built by `clamp3 index add`."""

import json
import subprocess

import numpy as np
import pyarrow.dataset as pads
import pytest

import clamp3
from clamp3 import ray_embed
from conftest import cli_vectors, cosine, repo

CORPUS = repo("testdata/music21/corpus")


def corpus_slice(n: int):
    """`n` single-tune-sized ABC files of the corpus (300 B to 3 kB), in path order."""
    assert CORPUS.is_dir(), "run scripts/fetch-test-data.sh"
    files = sorted(p for p in CORPUS.rglob("*.abc") if 300 <= p.stat().st_size <= 3000)
    assert len(files) >= n
    return [str(p.resolve()) for p in files[:: max(1, len(files) // n)][:n]]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


def rows(out_dir):
    t = pads.dataset(str(out_dir), format="parquet").to_table().to_pydict()
    return [dict(zip(t, vals)) for vals in zip(*t.values())]


def test_ray_job_embeds_like_the_cli_resumes_and_imports(local_ray, tiny_model, clamp3_bin, tmp_path):
    files = corpus_slice(24)
    out = tmp_path / "embeddings"
    model = str(tiny_model)

    first = ray_embed.run(files[:16], model, str(out), workers=2, batch_size=4)
    assert (first["embedded"], first["skipped"], first["failed"]) == (16, 0, 0), first
    # A re-run over more files embeds only the new ones; a third run, nothing.
    second = ray_embed.run(files, model, str(out), workers=2, batch_size=4)
    assert (second["embedded"], second["skipped"], second["failed"]) == (8, 16, 0), second
    third = ray_embed.run(files, model, str(out), workers=1, batch_size=4)
    assert (third["embedded"], third["skipped"]) == (0, 24), third

    got = rows(out)
    assert sorted(r["path"] for r in got) == sorted(files), "each input once"
    m = clamp3.Model(model)
    cli = cli_vectors(clamp3_bin, tiny_model, files, tmp_path)
    for r in got:
        assert r["error"] is None
        assert r["modality"] == "symbolic" and r["model_id"] == m.model_id
        assert r["content_hash"] == clamp3.file_hash(r["path"]) == r["id"]
        v = np.array(r["vector"], np.float32)
        want = cli[r["path"]]
        assert cosine(v, want) >= 0.999999 and np.max(np.abs(v - want)) <= 1e-5, r["path"]

    # Parquet -> index; incremental.
    ix = tmp_path / "imported"
    imp = lambda: subprocess.run(  # noqa: E731
        [str(clamp3_bin), "index", "import", "--index", str(ix), "--model", model, str(out)],
        check=True, capture_output=True, text=True,
    ).stderr
    assert "24 added, 0 updated, 0 unchanged" in imp()
    assert "0 added, 0 updated, 24 unchanged" in imp()
    # The same search results as an index built by `clamp3 index add` of the same files.
    added = tmp_path / "added"
    subprocess.run(
        [str(clamp3_bin), "index", "add", "--index", str(added), "--model", model, *files],
        check=True, capture_output=True,
    )

    def search(index, query):
        o = subprocess.run(
            [str(clamp3_bin), "search", "--index", str(index), "--json", "-k", "5", query],
            check=True, capture_output=True, text=True,
        )
        return json.loads(o.stdout)["results"]

    for q in [files[3], "a jig in G"]:
        a, b = search(ix, q), search(added, q)
        assert [(h["path"], h["metadata"], h["rank"]) for h in a] == [
            (h["path"], h["metadata"], h["rank"]) for h in b
        ]
        assert all(abs(x["score"] - y["score"]) < 1e-5 for x, y in zip(a, b))
    assert search(ix, files[3])[0]["path"] == files[3]


def test_shards_split_the_corpus_like_the_cli(tiny_model, clamp3_bin, tmp_path):
    """`clamp3 embed --shard I/N` and clamp3.shard_of agree, and the shards partition the job."""
    files = corpus_slice(12)
    seen = []
    for i in range(3):
        out = tmp_path / f"shard{i}.jsonl"
        subprocess.run(
            [str(clamp3_bin), "embed", "--format", "jsonl", "--shard", f"{i}/3", "--model",
             str(tiny_model), "--out", str(out), *files],
            check=True, capture_output=True,
        )
        paths = [json.loads(l)["path"] for l in out.read_text().splitlines()]
        assert paths == [f for f in files if clamp3.shard_of(clamp3.file_hash(f), 3) == i]
        seen += paths
    assert sorted(seen) == sorted(files)


def test_index_import_refuses_bad_parquet_clearly(tiny_model, clamp3_bin, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    m = clamp3.Model(str(tiny_model), modalities=["text"])
    good = {
        "id": ["a"], "path": ["/music/a.abc"], "modality": ["symbolic"], "content_hash": ["00ff"],
        "model_id": [m.model_id], "size": [3],
        "vector": pa.array([[0.5] * m.dim], pa.list_(pa.float32())),
    }

    def imp(name, table=None, raw=None):
        f = tmp_path / name
        if raw is not None:
            f.write_bytes(raw)
        else:
            pq.write_table(pa.table(table), f)
        return subprocess.run(
            [str(clamp3_bin), "index", "import", "--index", str(tmp_path / "ix"), str(f)],
            capture_output=True, text=True,
        )

    o = imp("garbage.parquet", raw=b"not parquet at all")
    assert o.returncode == 2 and "garbage.parquet" in o.stderr, o.stderr
    o = imp("novector.parquet", {k: v for k, v in good.items() if k != "vector"})
    assert o.returncode == 2 and "no list-of-float `vector` column" in o.stderr, o.stderr
    o = imp("good.parquet", good)
    assert o.returncode == 0 and "1 added" in o.stderr, o.stderr
    other = dict(good, model_id=["file:another-model"], path=["/music/b.abc"])
    o = imp("other.parquet", other)
    assert o.returncode == 2 and "holds vectors of model" in o.stderr, o.stderr
    # Rows the job could not embed are skipped.
    failed = dict(good, path=["/music/c.abc"], error=["input 0: empty"],
                  vector=pa.array([[]], pa.list_(pa.float32())))
    pq.write_table(pa.table(failed), tmp_path / "failed.parquet")
    o = subprocess.run(
        [str(clamp3_bin), "index", "import", "--index", str(tmp_path / "ix"),
         str(tmp_path / "failed.parquet"), str(tmp_path / "good.parquet")],
        capture_output=True, text=True,
    )
    assert o.returncode == 0 and "0 added, 0 updated, 1 unchanged from 2 file(s); 1 items" in o.stderr, o.stderr
    o = imp("failed.parquet", failed)
    assert o.returncode == 2 and "no embeddings" in o.stderr, o.stderr


def test_a_changed_file_is_re_embedded_and_imported_with_its_new_vector(
    local_ray, tiny_model, clamp3_bin, tmp_path
):
    col = tmp_path / "tunes"
    col.mkdir()
    src = corpus_slice(3)
    files = []
    for i, f in enumerate(src):
        files.append(str(col / f"tune{i}.abc"))
        (col / f"tune{i}.abc").write_bytes(open(f, "rb").read())
    out, model = tmp_path / "emb", str(tiny_model)
    assert ray_embed.run(files, model, str(out), workers=1)["embedded"] == 3
    (col / "tune1.abc").write_bytes(open(src[2], "rb").read())  # now tune2's content
    r = ray_embed.run(files, model, str(out), workers=1)
    assert (r["embedded"], r["skipped"]) == (1, 2), r
    ix = tmp_path / "ix"
    o = subprocess.run(
        [str(clamp3_bin), "index", "import", "--index", str(ix), str(out)],
        check=True, capture_output=True, text=True,
    )
    assert "3 items in all" in o.stderr, o.stderr
    # tune1 is stored with its new content's vector: tune2's, at cosine 1.
    hits = clamp3.Index(str(ix)).search(
        clamp3.Model(model).embed_files([files[2]])[0], k=2
    )["results"]
    assert sorted(h["path"] for h in hits) == sorted([files[1], files[2]])
    assert all(abs(h["score"] - 1.0) < 1e-5 for h in hits)


def test_parquet_imports_into_postgresql_like_into_a_directory(
    local_ray, tiny_model, clamp3_bin, tmp_path, pg_url
):
    from conftest import fresh_database

    files = corpus_slice(8)
    out, model = tmp_path / "emb", str(tiny_model)
    assert ray_embed.run(files, model, str(out), workers=1)["embedded"] == 8
    url = fresh_database(pg_url, "pytest_import")
    for ix in [url, str(tmp_path / "ix")]:
        o = subprocess.run(
            [str(clamp3_bin), "index", "import", "--index", ix, "--model", model, str(out)],
            check=True, capture_output=True, text=True,
        )
        assert "8 added, 0 updated, 0 unchanged" in o.stderr, o.stderr
    m = clamp3.Model(model, modalities=["symbolic"])
    q = m.embed_files([files[5]])[0]
    a = clamp3.Index(url).search(q, k=4)["results"]
    b = clamp3.Index(str(tmp_path / "ix")).search(q, k=4)["results"]
    assert [(h["path"], h["metadata"]) for h in a] == [(h["path"], h["metadata"]) for h in b]
    assert a[0]["path"] == files[5]
