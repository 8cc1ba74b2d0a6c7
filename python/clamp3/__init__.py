"""CLaMP 3 in Python: text in ~100 languages, sheet music (ABC, MusicXML), MIDI and audio in
one embedding space, computed by the clamp3-rs library (Rust), with the same vectors as the
``clamp3`` command-line tool.

>>> import clamp3
>>> m = clamp3.Model("saas")                       # or a model directory, or "c2"
>>> v = m.embed_text(["a lively Irish reel"])      # float32 (1, 768), raw (not normalised)
>>> w = m.embed_files(["tune.abc", "song.mid"])    # (2, 768)
>>> x = m.embed_bytes([open("tune.abc", "rb").read()], formats=["abc"])
>>> ix = clamp3.Index("library/", model=m)         # or "postgresql://user@host/db"
>>> ix.add(["music/"])  # doctest: +SKIP
>>> ix.search("a melancholic waltz", k=5)          # the records of `clamp3 search --json`

Computation releases the GIL: threads sharing one ``Model`` run in parallel. Errors are
``clamp3.InputError`` (the input's fault; ``.input`` names it) or ``clamp3.ModelError`` (the
model, its files, the index or the database), both subclasses of ``clamp3.Error``.
"""

from ._native import (  # noqa: F401
    Error,
    Index,
    InputError,
    Model,
    ModelError,
    __version__,
    content_hash,
    file_hash,
    modality_of,
    shard_of,
)

__all__ = [
    "Error",
    "Index",
    "InputError",
    "Model",
    "ModelError",
    "content_hash",
    "file_hash",
    "modality_of",
    "shard_of",
]
