"""The shipped example configuration stays loadable as the configuration contract evolves."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from certifiers.policy import resolve_policies
from proxy.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "assurance.example.toml"


def test_example_config_loads_with_every_section() -> None:
    """deploy/assurance.example.toml parses into a Config with its upstreams, oracles and store."""
    config = load_config(EXAMPLE)
    assert [u.name for u in config.upstreams] == ["openai", "claude", "local"]
    assert [u.kind for u in config.upstreams] == ["openai", "anthropic", "openai"]
    assert config.oracles.nli.kind == "tei"
    assert config.oracles.embedder.kind == "sentence_transformers"
    assert config.store.path == "/var/lib/assurance/store.sqlite3"


def test_example_policy_resolves_through_the_trusted_core() -> None:
    """The example's new policy extends enterprise_qa with the overridden exact mass."""
    policies = resolve_policies(load_config(EXAMPLE).policies)
    strict = policies["strict_qa"]
    assert strict.min_supported_mass == Fraction(19, 20)
    assert strict.forbidden_patterns == ("guaranteed cure",)
