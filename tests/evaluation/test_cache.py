"""Tests of the on-disk oracle cache: keys, hits, misses and damaged entries."""

from __future__ import annotations

from pathlib import Path

from oracles.decomposers import SentenceDecomposer
from oracles.nli_lexical import LexicalJudge
from proxy.evaluation.cache import CachedDecomposer, OracleCache, code_digest
from tests.evaluation.fakes import CountingDecomposer


def test_key_depends_on_adapter_model_settings_and_inputs() -> None:
    """Changing any of adapter, model, settings or inputs changes the digest."""
    identity = {"adapter": "lexical", "model": "v1", "settings": {"aggregation": "concat"}}
    base = OracleCache.key("nli", identity, {"claims": ["a"], "evidence": ["e"]})
    assert base == OracleCache.key("nli", dict(identity), {"claims": ["a"], "evidence": ["e"]})
    variants = [
        ({**identity, "adapter": "tei"}, {"claims": ["a"], "evidence": ["e"]}),
        ({**identity, "model": "v2"}, {"claims": ["a"], "evidence": ["e"]}),
        (
            {**identity, "settings": {"aggregation": "per_chunk"}},
            {"claims": ["a"], "evidence": ["e"]},
        ),
        (identity, {"claims": ["a"], "evidence": ["e", "f"]}),
    ]
    keys = {OracleCache.key("nli", ident, inputs) for ident, inputs in variants}
    assert base not in keys
    assert len(keys) == len(variants)


async def test_cached_decomposer_calls_the_oracle_once_per_input(tmp_path: Path) -> None:
    """The second identical call is served from disk and counted as a hit."""
    inner = CountingDecomposer(SentenceDecomposer())
    cache = OracleCache(tmp_path)
    cached = CachedDecomposer(inner, cache, {})
    first = await cached.decompose("Alpha rose. Beta fell.", query="q")
    second = await cached.decompose("Alpha rose. Beta fell.", query="q")
    await cached.decompose("Alpha rose. Beta fell.", query="another question")
    assert first == second
    assert inner.calls == 2
    assert (cache.stats.hits, cache.stats.misses) == ({"decomposer": 1}, {"decomposer": 2})


def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    """A truncated cache file is not trusted: it counts as a miss."""
    cache = OracleCache(tmp_path)
    key = OracleCache.key("decomposer", {}, {"answer": "a"})
    cache.store("decomposer", key, {"claims": []})
    path = next((tmp_path / "decomposer").rglob("*.json"))
    path.write_bytes(b'{"claims": [')
    assert cache.load("decomposer", key, dict) is None
    assert cache.stats.misses == {"decomposer": 1}


def test_code_digest_follows_the_adapter_source_folder() -> None:
    """Adapters from one folder share a code digest; an adapter defined elsewhere differs."""
    assert code_digest(SentenceDecomposer()) == code_digest(LexicalJudge(aggregation="concat"))
    assert code_digest(SentenceDecomposer()) != code_digest(
        CountingDecomposer(SentenceDecomposer())
    )
    assert len(code_digest(SentenceDecomposer())) == 64
