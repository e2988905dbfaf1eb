"""Embedding models: text -> unit vectors, for semantic search.

Built in: WordLlama's static embedding (`l2_supercat`, 256 dimensions): a token-embedding
table whose weights ship inside the `wordllama` wheel. A text's vector is the mean of its
tokens' vectors, so it needs no network, no GPU and about a millisecond a passage. We read
the package's files ourselves instead of calling `WordLlama.load()`: that looks for its
tokenizer under the wrong folder and downloads it from Hugging Face, and importing the
package configures the root logger.

`[kb] embeddings_url` replaces it with an OpenAI-compatible `/embeddings` API.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import numpy as np
import numpy.typing as npt
from safetensors import safe_open
from tokenizers import Tokenizer

from gateway.config import KbConfig
from gateway.kb.errors import EmbeddingError

Vectors = npt.NDArray[np.float32]
BUILTIN_MODEL = "wordllama/l2_supercat_256"
_WEIGHTS = "weights/l2_supercat_256.safetensors"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_MAX_TOKENS = 2048  # a passage is far shorter; a question longer than this is cut


class Embedder(Protocol):
    """Turns texts into unit-length float32 rows, one per text."""

    model_id: str  # stored with the vectors: another model means re-embedding

    async def embed(self, texts: Sequence[str]) -> Vectors: ...

    async def aclose(self) -> None: ...


def normalize(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return result


def to_bytes(vector: Vectors) -> bytes:
    """Stored form: float16, little-endian (half the space; cosine needs no more precision)."""
    return vector.astype("<f2").tobytes()


def from_bytes(blobs: Sequence[bytes], dimensions: int) -> Vectors:
    matrix = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), dimensions)
    return matrix.astype(np.float32)


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the {package} package is not installed: pip install {package}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise EmbeddingError(f"{package} has no {relative}: reinstall it")
    return path


class StaticEmbedder:
    """WordLlama's token table, mean-pooled. Loaded on first use, in a worker thread."""

    model_id = BUILTIN_MODEL

    def __init__(self) -> None:
        self._table: Vectors | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._table is not None:
                return
            tokenizer = Tokenizer.from_file(str(package_file("wordllama", _TOKENIZER)))
            tokenizer.no_padding()
            tokenizer.enable_truncation(_MAX_TOKENS)
            with safe_open(str(package_file("wordllama", _WEIGHTS)), framework="np") as weights:
                table = weights.get_tensor("embedding.weight")
            self._tokenizer = tokenizer
            self._table = np.ascontiguousarray(table, dtype=np.float32)

    @property
    def dimensions(self) -> int:
        self.load()
        assert self._table is not None
        return int(self._table.shape[1])

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if self._table is None or len(texts) > 16:
            return await asyncio.to_thread(self.embed_now, texts)
        return self.embed_now(texts)  # a question: tens of microseconds, no thread hop

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        self.load()
        assert self._table is not None
        assert self._tokenizer is not None
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        pooled = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            if encoding.ids:  # a text per step: small gathers stay in cache (10x a batch's)
                pooled[row] = self._table[encoding.ids].mean(axis=0)
        return normalize(pooled)

    async def aclose(self) -> None:
        return None


class HttpEmbedder:
    """An OpenAI-compatible embeddings API: `POST {url}/embeddings` with `{model, input}`."""

    def __init__(self, config: KbConfig) -> None:
        assert config.embeddings_url
        assert config.embeddings_model
        self.url = config.embeddings_url.rstrip("/") + "/embeddings"
        self.model = config.embeddings_model
        self.model_id = f"{self.model}@{config.embeddings_url.rstrip('/')}"
        self.batch = config.embeddings_batch
        self._headers = {"Content-Type": "application/json"}
        if config.embeddings_api_key:
            self._headers["Authorization"] = f"Bearer {config.embeddings_api_key}"
        self._timeout = aiohttp.ClientTimeout(total=config.embeddings_timeout.total_seconds())
        self._session: aiohttp.ClientSession | None = None

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        parts = [
            await self._request(list(texts[start : start + self.batch]))
            for start in range(0, len(texts), self.batch)
        ]
        return normalize(np.vstack(parts))

    async def _request(self, texts: list[str]) -> Vectors:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = {"model": self.model, "input": texts}
        try:
            async with self._session.post(self.url, json=body, headers=self._headers) as answer:
                if answer.status != 200:
                    reason = (await answer.text())[:200]
                    raise EmbeddingError(
                        f"embeddings API {self.url} answered {answer.status}: {reason}"
                    )
                payload = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EmbeddingError(f"embeddings API {self.url} is unreachable: {exc!r}") from None
        return _vectors(payload, len(texts), self.url)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _vectors(payload: Any, count: int, url: str) -> Vectors:
    try:
        data = sorted(payload["data"], key=lambda item: item["index"])
        matrix = np.array([item["embedding"] for item in data], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"embeddings API {url} answered an unexpected body ({exc!r})"
        ) from None
    if matrix.ndim != 2 or len(matrix) != count:
        raise EmbeddingError(f"embeddings API {url} answered {len(matrix)} vectors for {count}")
    return matrix


def embedder_for(config: KbConfig) -> Embedder:
    return HttpEmbedder(config) if config.embeddings_url else StaticEmbedder()
