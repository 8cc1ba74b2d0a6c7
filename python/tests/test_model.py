"""clamp3.Model against the committed goldens (the PyTorch reference on the same synthetic
weights) and the command-line tool, every modality; bad inputs; threads."""

import subprocess
import threading
import time

import numpy as np
import pytest

import clamp3
from conftest import cli_vectors, cosine, repo

INPUTS = repo("fixtures/model/inputs")
# Every golden input: texts, ABC (interleaved and standard), MTF, MERT features.
GOLDEN_FILES = [
    "bach_bwv66_6.abc",
    "bach_nonascii.abc",
    "beethoven_op18no1_mvmt1.abc",
    "crlf_spaces.txt",
    "en_reel.txt",
    "essen_han1_tune3.abc",
    "essen_han1_tune3.mtf",
    "essen_titles_long.txt",
    "features_long.npy",
    "features_short.npy",
    "multilingual.txt",
    "openttd_boogi_marabi.mtf",
    "special_tokens.txt",
]
# Kinds without a golden of their own: checked against the CLI's vectors.
CLI_FILES = [
    repo("fixtures/mtf/deb_pianobooster_lavenders_blue.mid"),
    repo("fixtures/xml2abc/inputs/music21/demos/multiple-verses.xml"),
    repo("fixtures/xml2abc/inputs/music21/bach/bwv66.6.mxl"),
    repo("fixtures/mert/input_24k.wav"),
    repo("fixtures/blip/images/photo_rocket.jpg"),
    repo("fixtures/blip/images/photo_coffee_300x200.webp"),
]


@pytest.fixture(scope="module")
def model(tiny_model):
    return clamp3.Model(str(tiny_model))


def assert_close(got, want, what):
    c = cosine(got, want)
    assert c >= 0.999999, f"{what}: cosine {c}"
    assert np.max(np.abs(got - want)) <= 1e-5, f"{what}: max abs {np.max(np.abs(got - want))}"


def test_files_match_the_reference_goldens(model, goldens):
    v = model.embed_files([INPUTS / f for f in GOLDEN_FILES])
    assert v.dtype == np.float32 and v.shape == (len(GOLDEN_FILES), model.dim)
    for f, row in zip(GOLDEN_FILES, v):
        assert_close(row, goldens[f], f)


def test_bytes_and_texts_give_the_same_vectors_as_files(model, goldens):
    files = [INPUTS / f for f in GOLDEN_FILES]
    formats = [f.suffix[1:] for f in files]
    by_bytes = model.embed_bytes([f.read_bytes() for f in files], formats=formats)
    for f, row in zip(GOLDEN_FILES, by_bytes):
        assert_close(row, goldens[f], f"{f} as bytes")
    # Python reads text files with universal newlines, as the reference does.
    texts = [f for f in GOLDEN_FILES if f.endswith(".txt")]
    by_text = model.embed_text([(INPUTS / f).read_text(encoding="utf-8") for f in texts])
    for f, row in zip(texts, by_text):
        assert_close(row, goldens[f], f"{f} as str")


def test_midi_musicxml_recordings_and_images_match_the_cli(model, tiny_model, clamp3_bin, tmp_path):
    assert model.has_mert and model.has_blip
    cli = cli_vectors(clamp3_bin, tiny_model, CLI_FILES, tmp_path)
    files = model.embed_files(CLI_FILES)
    contents = model.embed_bytes([f.read_bytes() for f in CLI_FILES], formats=[f.suffix for f in CLI_FILES])
    for f, a, b in zip(CLI_FILES, files, contents):
        assert_close(a, cli[str(f)], f.name)
        assert_close(b, cli[str(f)], f"{f.name} as bytes")


def test_bad_inputs_raise_errors_naming_them(model, tiny_model, tmp_path):
    with pytest.raises(clamp3.InputError) as e:
        model.embed_bytes([b"X:1\nK:C\nCDEF|\n", b"MThd garbage"], formats=["abc", "mid"])
    assert e.value.input == 1 and "input 1" in str(e.value)
    assert isinstance(e.value, clamp3.Error)
    missing = tmp_path / "missing.abc"
    with pytest.raises(clamp3.InputError) as e:
        model.embed_files([missing])
    assert e.value.input == str(missing) and str(missing) in str(e.value)
    with pytest.raises(clamp3.InputError, match="unsupported format `pdf`"):
        model.embed_bytes([b"%PDF"], formats=["pdf"])
    with pytest.raises(clamp3.InputError, match="2 inputs but 1 formats"):
        model.embed_bytes([b"a", b"b"], formats=["txt"])
    with pytest.raises(clamp3.InputError):
        model.embed_text([""])
    # The system's fault: no such model; a recording without MERT.
    with pytest.raises(clamp3.ModelError) as e:
        clamp3.Model(str(tmp_path / "no-model"))
    assert not isinstance(e.value, clamp3.InputError)
    no_mert = tmp_path / "no-mert"
    no_mert.mkdir()
    for f in ["config.json", "model.safetensors", "tokenizer.json"]:
        (no_mert / f).symlink_to(tiny_model / f)
    bare = clamp3.Model(str(no_mert), mert=None)
    if not bare.has_mert:  # (a MERT in the download cache would be found)
        with pytest.raises(clamp3.ModelError, match="MERT"):
            bare.embed_files([repo("fixtures/mert/input_24k.wav")])
    with pytest.raises(clamp3.ModelError, match="unknown device"):
        clamp3.Model(str(tiny_model), device="tpu")


def test_threads_share_one_model_and_run_while_it_computes(model, goldens):
    files = [INPUTS / f for f in GOLDEN_FILES]
    want = model.embed_files(files)
    results = {}

    def work(t):
        order = files[t:] + files[:t]
        v = model.embed_files(order)
        results[t] = dict(zip(order, v))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in range(4):
        for f, w in zip(files, want):
            assert_close(results[t][f], w, f"thread {t}: {f.name}")

    # The GIL is released while computing: a Python loop keeps running beside a long call.
    many = files * 6
    done = threading.Event()
    took = {}

    def long_call():
        t0 = time.perf_counter()
        model.embed_files(many)
        took["s"] = time.perf_counter() - t0
        done.set()

    th = threading.Thread(target=long_call)
    last, gap, ticks = time.perf_counter(), 0.0, 0
    th.start()
    while not done.is_set():
        now = time.perf_counter()
        gap, last, ticks = max(gap, now - last), now, ticks + 1
        time.sleep(0.001)
    th.join()
    assert ticks > 10, f"the main thread ran {ticks} times during a {took['s']:.2f} s call"
    assert gap < 0.5 * took["s"], f"longest stall {gap:.3f} s of a {took['s']:.3f} s call"


def test_a_quantised_model_loads_and_gives_the_cli_vectors(tiny_model, clamp3_bin, tmp_path, goldens):
    q8 = tmp_path / "tiny-q8_0"
    subprocess.run([str(clamp3_bin), "quantize", "--to", "q8_0", str(tiny_model), str(q8)], check=True, capture_output=True)
    assert (q8 / "model.gguf").is_file()
    m = clamp3.Model(str(q8))
    f32 = clamp3.Model(str(tiny_model))
    assert m.model_id != f32.model_id, "a quantised model has its own id"
    files = [INPUTS / f for f in GOLDEN_FILES]
    got = m.embed_files(files)
    cli = cli_vectors(clamp3_bin, q8, files, tmp_path)
    for f, row in zip(files, got):
        assert_close(row, cli[str(f)], f"{f.name} (q8_0)")
        # Close to the f32 reference: the tiny model's q8_0 minimum, measured, is 0.999984.
        c = cosine(row, goldens[f.name])
        assert c >= 0.9999, f"{f.name}: q8_0 cosine to the f32 golden {c}"
