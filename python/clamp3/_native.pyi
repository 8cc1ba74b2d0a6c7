"""Type stubs of the native module (crates/python/src/lib.rs)."""

import os
from typing import Any, Optional, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Error(Exception):
    """Base class of every clamp3 error."""

class InputError(Error):
    """The input's fault (unreadable, unsupported, empty, malformed)."""

    input: Union[str, int]
    """The input: its path, or its position in the list given."""

class ModelError(Error):
    """The system's fault: a model file, a missing encoder or MERT, the index or the database."""

    input: Union[str, int]

PathLike = Union[str, os.PathLike[str]]

class Model:
    """A loaded CLaMP 3 model (thread-safe; computation releases the GIL)."""

    def __init__(
        self,
        model: PathLike,
        device: str = "cpu",
        mert: Optional[PathLike] = None,
        batch: int = 32,
        modalities: Optional[Sequence[str]] = None,
        blip: Optional[PathLike] = None,
    ) -> None:
        """`model`: a model directory, a weights file, or "saas" / "c2" (downloaded).
        `device`: "cpu", "cuda" or "cuda:N". `mert`: the MERT-v1-95M directory for
        recordings (default: <model dir>/mert, then the download cache). `batch`: at most this many segments per
        encoder forward pass (grouped by length). `modalities` ("text", "symbolic", "audio"): load only these
        encoders (default: all). `blip`: the BLIP captioning model directory for images
        (default: <model dir>/blip, then the download cache); an image is captioned and the
        caption embedded as text."""
    @property
    def model_id(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def has_mert(self) -> bool: ...
    @property
    def has_blip(self) -> bool: ...
    def embed_text(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Texts -> float32 (n, dim)."""
    def embed_files(self, paths: Sequence[PathLike]) -> npt.NDArray[np.float32]:
        """Files of any supported kind -> float32 (n, dim), the vectors `clamp3 embed` writes."""
    def embed_bytes(
        self, data: Sequence[bytes], formats: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        """Contents -> float32 (n, dim); formats[i] is a file extension ("abc", "mid", ...)."""

class SearchHit(TypedDict):
    metadata: Any
    modality: str
    path: str
    rank: int
    score: float

class SearchResults(TypedDict):
    query: str
    results: list[SearchHit]

class AddReport(TypedDict):
    added: int
    updated: int
    unchanged: int
    failed: list[str]

class Index:
    """An index directory or a PostgreSQL database ("postgresql://..."); thread-safe."""

    def __init__(self, location: PathLike, model: Optional[Model] = None) -> None: ...
    @property
    def location(self) -> str: ...
    @property
    def model_id(self) -> str: ...
    def __len__(self) -> int: ...
    def add(self, paths: Sequence[PathLike], commit_every: int = 32) -> AddReport:
        """Embed and store new or changed files (by content hash)."""
    def search(
        self,
        query: Union[str, PathLike, npt.NDArray[np.float32]],
        k: int = 10,
        modality: Optional[str] = None,
        approx: bool = False,
        ef: Optional[int] = None,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
    ) -> SearchResults:
        """The k most similar items, as `clamp3 search --json` prints them."""

def shard_of(content_hash: str, count: int) -> int:
    """The shard of an input, as `clamp3 embed --shard I/N` splits a job."""

def content_hash(data: bytes) -> str:
    """SHA-256 (hex) of bytes: the content hash an index stores."""

def file_hash(path: PathLike) -> str:
    """SHA-256 (hex) of a file's content."""

def modality_of(path: PathLike) -> Optional[str]:
    """"text", "symbolic" or "audio" by the file's extension; None if unsupported."""
