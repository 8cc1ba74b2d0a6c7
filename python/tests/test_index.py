"""clamp3.Index: the records of `clamp3 search --json`, from an index directory and from a
PostgreSQL database (the same top-k), incremental adds."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import clamp3
from conftest import fresh_database, repo

COLLECTION = {
    "fixtures/model/inputs/bach_bwv66_6.abc": "scores/bach.abc",
    "fixtures/model/inputs/essen_han1_tune3.mtf": "scores/essen.mtf",
    "fixtures/mtf/deb_pianobooster_lavenders_blue.mid": "scores/lavender.mid",
    "fixtures/model/inputs/multilingual.txt": "notes.txt",
    "fixtures/model/inputs/en_reel.txt": "reel.txt",
    "fixtures/model/inputs/features_long.npy": "recording.npy",
}


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    c = tmp_path_factory.mktemp("collection")
    for src, dst in COLLECTION.items():
        (c / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo(src), c / dst)
    return c


@pytest.fixture(scope="module")
def model(tiny_model):
    return clamp3.Model(str(tiny_model))


def cli_search(clamp3_bin, index, query, *args):
    o = subprocess.run(
        [str(clamp3_bin), "search", "--index", str(index), "--json", *args, query],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(o.stdout)


def test_index_add_and_search_give_the_cli_records(model, collection, tmp_path, clamp3_bin):
    ix = clamp3.Index(str(tmp_path / "ix"), model=model)
    r = ix.add([str(collection)])
    assert (r["added"], r["updated"], r["unchanged"], r["failed"]) == (6, 0, 0, [])
    assert len(ix) == 6 and ix.model_id == model.model_id
    assert ix.add([str(collection)])["unchanged"] == 6
    for query, args, kw in [
        ("ein Volkslied", [], {}),
        ("a reel", ["-k", "3", "--modality", "symbolic"], {"k": 3, "modality": "symbolic"}),
        (str(collection / "scores/bach.abc"), ["--approx"], {"approx": True}),
    ]:
        got = ix.search(query, **kw)
        assert got == cli_search(clamp3_bin, tmp_path / "ix", query, *args)
    # A vector query: the same results.
    v = model.embed_text(["ein Volkslied"])[0]
    assert ix.search(v)["results"] == ix.search("ein Volkslied")["results"]
    # Opened without a model: search by vector works, adding does not.
    ro = clamp3.Index(str(tmp_path / "ix"))
    assert ro.search(v, k=2)["results"] == ix.search(v, k=2)["results"]
    with pytest.raises(clamp3.ModelError):
        ro.add([str(collection)])
    with pytest.raises(clamp3.InputError):
        ro.search(np.zeros(3, np.float32))
    with pytest.raises(clamp3.ModelError):
        clamp3.Index(str(tmp_path / "nothing-here"))


def test_postgresql_index_gives_the_same_top_k(model, collection, tmp_path, pg_url, clamp3_bin):
    url = fresh_database(pg_url, "pytest_index")
    pg = clamp3.Index(url, model=model)
    lite = clamp3.Index(str(tmp_path / "ix"), model=model)
    assert pg.add([str(collection)])["added"] == 6
    lite.add([str(collection)])
    for query in ["ein Volkslied", str(collection / "reel.txt")]:
        a, b = lite.search(query, k=6), pg.search(query, k=6)
        assert [h["path"] for h in a["results"]] == [h["path"] for h in b["results"]]
        for x, y in zip(a["results"], b["results"]):
            assert abs(x["score"] - y["score"]) < 1e-5
            assert (x["metadata"], x["modality"], x["rank"]) == (y["metadata"], y["modality"], y["rank"])
        assert b == cli_search(clamp3_bin, url, query, "-k", "6")
    assert pg.search("a reel", k=2, approx=True, ef=40, m=8, ef_construction=32)["results"]
