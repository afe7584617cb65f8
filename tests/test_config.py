"""Configuration: TOML plus flag overrides into one frozen Config; bad keys are named in errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from certifiers.policy import resolve_policies
from proxy.config import CliOverrides, Config, ConfigError, config_from_mapping, load_config
from proxy.upstreams.routing import ModelMatcher

TOML = """
[server]
port = 9000
max_body_bytes = 2048

[[upstreams]]
name = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-*"]

[[upstreams]]
name = "claude"
kind = "anthropic"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
models = ["claude-*"]

[assurance]
default_mode = "shadow"
inline_embeddings = "always"

[oracles.nli]
kind = "tei"
url = "http://127.0.0.1:8081"

[store]
path = "var/cards.sqlite3"

[policies.strict_qa]
min_supported_mass = "19/20"
"""


def test_toml_file_parses_into_a_frozen_config(tmp_path: Path) -> None:
    """Every table of the TOML file lands in its typed field."""
    path = tmp_path / "proxy.toml"
    path.write_text(TOML)
    config = load_config(path)
    assert config.server.port == 9000
    assert [u.name for u in config.upstreams] == ["openai", "claude"]
    assert config.upstreams[1].kind == "anthropic"
    assert config.assurance.default_mode == "shadow"
    assert config.assurance.inline_embeddings == "always"
    assert config.oracles.nli.kind == "tei"
    assert config.store.path == "var/cards.sqlite3"
    assert config.policies == {"strict_qa": {"min_supported_mass": "19/20"}}


def test_flags_override_the_file_and_add_a_catch_all_upstream(tmp_path: Path) -> None:
    """--port and --upstream-url override the file; the flag's upstream routes first, all models."""
    path = tmp_path / "proxy.toml"
    path.write_text(TOML)
    overrides = CliOverrides(port=0, upstream_url="http://127.0.0.1:1234/v1")
    config = load_config(path, overrides)
    assert config.server.port == 0
    assert config.server.max_body_bytes == 2048
    first = config.upstreams[0]
    assert (first.name, first.models, first.api_key_env) == ("default", ("*",), "OPENAI_API_KEY")
    assert len(config.upstreams) == 3


def test_serve_needs_no_config_file() -> None:
    """Flags alone give a complete config with documented defaults."""
    config = load_config(None, CliOverrides(upstream_url="http://h/v1", upstream_key_env="K"))
    assert config.upstreams[0].api_key_env == "K"
    assert config.server.max_body_bytes == 4 * 1024 * 1024
    assert config.server.max_concurrency == 256
    assert config.assurance.default_mode == "off"
    assert config.assurance.log_content is False
    assert config.assurance.inline_embeddings == "auto"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"server": {"prot": 1}}, "prot"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"max_body_bytes": "big"}}, "server.max_body_bytes"),
        ({"upstreams": [{"name": "a", "base_url": "ftp://x"}]}, "base_url"),
        ({"upstreams": [{"name": "a"}]}, "base_url"),
        ({"upstreams": [{"name": "a", "base_url": "http://x", "kind": "gemini"}]}, "kind"),
        ({"assurance": {"default_mode": "audit"}}, "assurance.default_mode"),
        ({"assurance": {"inline_embeddings": "never"}}, "assurance.inline_embeddings"),
        ({"oracles": {"nli": {"kind": "magic"}}}, "oracles.nli.kind"),
        *(
            ({"clients": [{"name": "c", "keys_env": "K", "passthrough": [rule]}]}, rule)
            for rule in (
                "/v1/files",
                "FETCH /v1/files",
                "GET /files",
                "GET /v1//files",
                "GET /v1/files?x=1",
                "GET /v1/files/%2F",
            )
        ),
    ],
)
def test_bad_config_names_the_offending_key(raw: dict[str, object], named: str) -> None:
    """A wrong key or value fails at start-up with a message naming it."""
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(raw)
    assert named in str(caught.value)


def test_duplicate_upstream_names_are_rejected() -> None:
    """Two upstreams with one name are a configuration error."""
    upstream = {"name": "a", "base_url": "http://x"}
    with pytest.raises(ConfigError, match="unique"):
        config_from_mapping({"upstreams": [upstream, upstream]})


def test_invalid_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    """An unreadable or malformed file gives a ConfigError naming the file."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(tmp_path / "absent.toml")


def test_config_round_trips_through_msgspec() -> None:
    """The config is plain data: encoding and decoding it gives an equal Config."""
    config = load_config(None, CliOverrides(upstream_url="http://h/v1"))
    assert msgspec.json.decode(msgspec.json.encode(config), type=Config) == config


def test_model_globs_match_as_documented() -> None:
    """Exact names and glob patterns both match; nothing else does."""
    matcher = ModelMatcher(["gpt-4*", "exact", "o?-mini"])
    assert [matcher.matches(m) for m in ("gpt-4o", "exact", "o3-mini", "gpt-3.5", "exactly")] == [
        True,
        True,
        True,
        False,
        False,
    ]


DECIMAL_TOML = """
[server]
shutdown_grace_s = 2.5

[[upstreams]]
name = "local"
base_url = "http://127.0.0.1:8000/v1"
connect_timeout_s = 0.25
read_timeout_s = 12.5

[assurance]
default_policy = "strict_qa"
oracle_timeout_s = 1.5

[oracles.nli]
kind = "lexical"
timeout_s = 0.75

[policies.clinical]
min_supported_mass = 0.9

[policies.strict_qa]
extends = "enterprise_qa"
min_supported_mass = "99/100"
max_contested_mass = 0.05
theta_g = 0.6
"""


def test_toml_decimals_reach_policies_exactly_and_float_fields_still_decode(
    tmp_path: Path,
) -> None:
    """`0.9` in a policy table becomes exactly 9/10; timeouts written as decimals stay floats."""
    path = tmp_path / "proxy.toml"
    path.write_text(DECIMAL_TOML)
    config = load_config(path)
    assert config.server.shutdown_grace_s == 2.5
    assert (config.upstreams[0].connect_timeout_s, config.upstreams[0].read_timeout_s) == (
        0.25,
        12.5,
    )
    assert config.assurance.oracle_timeout_s == 1.5
    assert config.oracles.nli.timeout_s == 0.75
    assert config.assurance.default_policy == "strict_qa"
    policies = resolve_policies(config.policies)
    assert policies["clinical"].min_supported_mass == Fraction(9, 10)
    assert policies["clinical"].max_age_seconds == 86_400  # the rest of the built-in is kept
    strict = policies["strict_qa"]
    assert (strict.min_supported_mass, strict.max_contested_mass) == (
        Fraction(99, 100),
        Fraction(1, 20),
    )
    assert strict.thresholds.theta_g == Fraction(3, 5)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        (
            '[policies.clinical]\nmin_supported_mass = "nine tenths"',
            "policies.clinical.min_supported_mass",
        ),
        ("[policies.clinical]\nmin_supported_mass = 1.5", "policies.clinical.min_supported_mass"),
        ("[policies.clinical]\nmin_supported_mass = nan", "policies.clinical.min_supported_mass"),
        ("[policies.legal]\nmax_age_seconds = 1.5", "policies.legal.max_age_seconds"),
        ("[policies.strict_qa]\ntheta_g = 0", "policies.strict_qa.theta_g"),
        ('[policies.strict_qa]\nextends = "nope"', "policies.strict_qa.extends"),
        ("[policies.strict_qa]\nno_such_field = 1", "policies.strict_qa"),
        ('[assurance]\ndefault_policy = "strict_qa"', "assurance.default_policy"),
    ],
)
def test_invalid_policy_values_stop_start_up_naming_the_key(
    tmp_path: Path, table: str, named: str
) -> None:
    """A bad `[policies.NAME]` value (or unknown default policy) is a ConfigError naming its key."""
    path = tmp_path / "proxy.toml"
    path.write_text(table + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"`{named}`" in str(caught.value)


def test_python_floats_in_a_policy_mapping_are_refused() -> None:
    """A mapping built in Python with a float threshold is refused rather than rounded."""
    with pytest.raises(ConfigError, match=r"policies\.clinical\.min_supported_mass"):
        config_from_mapping({"policies": {"clinical": {"min_supported_mass": 0.9}}})
