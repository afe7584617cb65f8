"""On-disk cache of oracle outputs for the evaluation harness, keyed by an input digest.

The key of one call is `sha256` over the canonical JSON of {cache format version, oracle role,
adapter, model, model_version (e.g. a TEI server's url and `model_sha`, an upstream name, a local
model's file fingerprint), adapter settings that change outputs (e.g. NLI aggregation, `url`,
`upstream`), the call's inputs}. The identity is read after the adapter's `prepare()` (TEI's
`GET /info`), so two servers or upstreams serving different models never share entries. A
hit returns the stored record (decoded with its msgspec type) without calling the oracle, so a
threshold sweep or a second run re-uses every model output. Failed calls are never cached. The key
also holds a digest of the adapter's source folder (`code_digest`), so an edited adapter misses; a
changed dependency under an unchanged model id and version does not (delete the directory then).
This module is used by `proxy.evaluation` only; the proxy's request path does not cache oracle
outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import msgspec

from oracles.protocols import Decomposer, Embedder, NLIJudge
from oracles.types import Decomposition, EmbeddingBatch, NLIJudgments

CACHE_FORMAT = 2

_Record = TypeVar("_Record")


def code_digest(oracle: object) -> str:
    """sha256 over the `.py` files beside the module defining the oracle's class.

    Part of every cache key, so editing an adapter (or its sibling helpers) invalidates its entries
    even when its adapter name and model id stay the same.
    """
    module = sys.modules.get(type(oracle).__module__)
    location = getattr(module, "__file__", None)
    if not isinstance(location, str):
        return "unknown"
    digest = hashlib.sha256()
    for source in sorted(Path(location).parent.glob("*.py")):
        digest.update(source.name.encode("utf-8") + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


class _Identified:
    """The identity half of a cache key, settled lazily after the inner oracle's `prepare()`."""

    def __init__(self, inner: object, settings: Mapping[str, object]) -> None:
        self._inner = inner
        self._settings = dict(settings)
        self._code = code_digest(inner)

    async def identity(self) -> dict[str, object]:
        """adapter, model, model_version, settings and code digest of the inner oracle."""
        prepare = getattr(self._inner, "prepare", None)
        if prepare is not None:
            await prepare()
        return {
            "adapter": getattr(self._inner, "adapter", ""),
            "model": getattr(self._inner, "model", ""),
            "model_version": getattr(self._inner, "model_version", ""),
            "settings": self._settings,
            "code": self._code,
        }


class CacheStats(msgspec.Struct, kw_only=True):
    """Hits and misses (= oracle calls made) per oracle role."""

    hits: dict[str, int] = msgspec.field(default_factory=dict)
    misses: dict[str, int] = msgspec.field(default_factory=dict)


class OracleCache:
    """A directory of `<role>/<aa>/<digest>.json` files holding encoded oracle records.

    With `directory=None` nothing is read or written, but calls are still counted as misses.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.stats = CacheStats()

    @staticmethod
    def key(role: str, identity: Mapping[str, object], inputs: Mapping[str, object]) -> str:
        """The hex sha256 of the canonical JSON of (format, role, identity, inputs)."""
        payload = {"format": CACHE_FORMAT, "role": role, "identity": identity, "inputs": inputs}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, role: str, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / role / key[:2] / f"{key}.json"

    def load(self, role: str, key: str, record_type: type[_Record]) -> _Record | None:
        """The stored record for `key`, or None (an unreadable entry is a miss, then replaced)."""
        path = self._path(role, key)
        try:
            if path is None:
                raise FileNotFoundError(role)
            record = msgspec.json.decode(path.read_bytes(), type=record_type)
        except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError, ValueError):
            self.stats.misses[role] = self.stats.misses.get(role, 0) + 1
            return None
        self.stats.hits[role] = self.stats.hits.get(role, 0) + 1
        return record

    def store(self, role: str, key: str, record: object) -> None:
        """Write the record atomically (temporary file + rename)."""
        path = self._path(role, key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(msgspec.json.encode(record))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class CachedDecomposer:
    """A `Decomposer` that answers from the cache and calls `inner` only on a miss."""

    def __init__(
        self, inner: Decomposer, cache: OracleCache, settings: Mapping[str, object]
    ) -> None:
        self.inner, self.cache = inner, cache
        self.adapter, self.model = inner.adapter, inner.model
        self._identity = _Identified(inner, settings)

    async def decompose(self, answer: str, *, query: str | None) -> Decomposition:
        """Cached `inner.decompose`."""
        identity = await self._identity.identity()
        key = OracleCache.key("decomposer", identity, {"answer": answer, "query": query})
        cached = self.cache.load("decomposer", key, Decomposition)
        if cached is not None:
            return cached
        record = await self.inner.decompose(answer, query=query)
        self.cache.store("decomposer", key, record)
        return record


class CachedNLIJudge:
    """An `NLIJudge` that answers from the cache and calls `inner` only on a miss."""

    def __init__(self, inner: NLIJudge, cache: OracleCache, settings: Mapping[str, object]) -> None:
        self.inner, self.cache = inner, cache
        self.adapter, self.model = inner.adapter, inner.model
        self._identity = _Identified(inner, settings)

    async def judge(
        self, claims: Sequence[str], evidence: Sequence[str], *, query: str | None = None
    ) -> NLIJudgments:
        """Cached `inner.judge`."""
        identity = await self._identity.identity()
        inputs = {"claims": list(claims), "evidence": list(evidence), "query": query}
        key = OracleCache.key("nli", identity, inputs)
        cached = self.cache.load("nli", key, NLIJudgments)
        if cached is not None:
            return cached
        record = await self.inner.judge(claims, evidence, query=query)
        self.cache.store("nli", key, record)
        return record


class CachedEmbedder:
    """An `Embedder` that answers from the cache and calls `inner` only on a miss."""

    def __init__(self, inner: Embedder, cache: OracleCache, settings: Mapping[str, object]) -> None:
        self.inner, self.cache = inner, cache
        self.adapter, self.model = inner.adapter, inner.model
        self._identity = _Identified(inner, settings)

    async def embed(self, texts: Sequence[str]) -> EmbeddingBatch:
        """Cached `inner.embed`."""
        identity = await self._identity.identity()
        key = OracleCache.key("embedder", identity, {"texts": list(texts)})
        cached = self.cache.load("embedder", key, EmbeddingBatch)
        if cached is not None:
            return cached
        record = await self.inner.embed(texts)
        self.cache.store("embedder", key, record)
        return record
