"""Model-name routing: pick the upstream that serves a requested model.

Each upstream lists model names or glob patterns (`gpt-*`, `*`); the first upstream in config order
whose patterns match wins. Exact names are checked through a dict before patterns are tried, and
answers are memoised per model name (the set of names a deployment sees is small), so routing is one
dict lookup on the hot path. This module does not talk to upstreams.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

from proxy.server.errors import ModelNotFoundError
from proxy.upstreams.base import Upstream

_GLOB_CHARS = frozenset("*?[")
_MAX_MEMO = 4096


def is_glob(pattern: str) -> bool:
    """Whether `pattern` uses glob syntax rather than naming one model."""
    return any(ch in _GLOB_CHARS for ch in pattern)


class ModelMatcher:
    """Matches model names against a list of exact names and glob patterns (case-sensitive)."""

    __slots__ = ("_exact", "_regex", "patterns")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._exact = frozenset(p for p in self.patterns if not is_glob(p))
        globs = [fnmatch.translate(p) for p in self.patterns if is_glob(p)]
        self._regex = re.compile("|".join(f"(?:{g})" for g in globs)) if globs else None

    def matches(self, model: str) -> bool:
        """Whether `model` is one of the exact names or matches a glob pattern."""
        if model in self._exact:
            return True
        return self._regex is not None and self._regex.match(model) is not None


class Router:
    """Resolves a model name to the first upstream (in config order) that serves it."""

    __slots__ = ("_memo", "_paths", "upstreams")

    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        self.upstreams = tuple(upstreams)
        self._memo: dict[str, Upstream] = {}
        self._paths = [(ModelMatcher(u.config.paths), u) for u in self.upstreams if u.config.paths]

    def resolve_path(self, path: str) -> Upstream | None:
        """The first upstream whose `paths` globs match `path`, else the first upstream, else None.

        For pass-through requests that name no model (`/v1/files`, `/v1/batches/...`).
        """
        for matcher, upstream in self._paths:
            if matcher.matches(path):
                return upstream
        return self.upstreams[0] if self.upstreams else None

    def resolve(self, model: str) -> Upstream:
        """The upstream serving `model`; raises `ModelNotFoundError` (404) when none does."""
        found = self._memo.get(model)
        if found is not None:
            return found
        for upstream in self.upstreams:
            if upstream.serves(model):
                if len(self._memo) < _MAX_MEMO:
                    self._memo[model] = upstream
                return upstream
        raise ModelNotFoundError(
            f"The model {model!r} does not exist or is not served by any configured upstream",
            param="model",
        )
