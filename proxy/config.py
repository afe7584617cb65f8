"""The proxy's configuration: one frozen Struct parsed once from TOML plus command-line overrides.

`load_config(path, overrides)` reads the optional TOML file (SPEC 8), applies the flags of
`assurance serve`, and validates everything with msgspec, so a bad key fails at start-up with a
message naming it. TOML decimals are read as `decimal.Decimal` (never float), so policy thresholds
may be written `0.9` as well as `"9/10"`; `[policies.NAME]` tables are resolved once here by
`certifiers.policy.resolve_policies` so a bad value stops start-up naming `policies.NAME.KEY`.
Secrets never live here: upstream keys and client keys are read from the
environment variables (or files) the config names, by the modules that use them. This module does
not open sockets or read keys.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import msgspec

from certifiers.errors import PolicyError
from certifiers.policy import resolve_policies
from certifiers.rational import format_rational
from certifiers.types import Policy
from oracles.config import OraclesConfig

UpstreamKind = Literal["openai", "anthropic"]
AssuranceMode = Literal["off", "shadow", "enforce"]

DEFAULT_UPSTREAM_NAME = "default"
DEFAULT_UPSTREAM_KEY_ENV = "OPENAI_API_KEY"


class ConfigError(Exception):
    """The configuration file or flags are invalid; the message names the offending key."""


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[server]`: listening address and request limits."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 4 * 1024 * 1024
    max_concurrency: int = 256
    shutdown_grace_s: float = 10.0
    # after SIGTERM: /readyz false while still accepting for this long, then stop listening
    drain_s: float = 0.0
    # the longest a request body may take to arrive (slow clients, stalled decoding): then 408
    body_read_timeout_s: float = 30.0
    # optional proxy auth: accepted client keys, one per line in a file, or comma-separated in env
    client_keys_file: str | None = None
    client_keys_env: str | None = None

    def __post_init__(self) -> None:
        _require(0 <= self.port <= 65535, "server.port", "an integer in [0, 65535]", self.port)
        _require(
            self.max_body_bytes > 0,
            "server.max_body_bytes",
            "a positive integer",
            self.max_body_bytes,
        )
        _require(
            self.max_concurrency > 0,
            "server.max_concurrency",
            "a positive integer",
            self.max_concurrency,
        )
        _require(
            self.body_read_timeout_s > 0,
            "server.body_read_timeout_s",
            "a number > 0",
            self.body_read_timeout_s,
        )
        _require(
            self.shutdown_grace_s >= 0,
            "server.shutdown_grace_s",
            "a number >= 0",
            self.shutdown_grace_s,
        )
        _require(self.drain_s >= 0, "server.drain_s", "a number >= 0", self.drain_s)


class UpstreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One `[[upstreams]]` entry: a provider and the model names (glob patterns) it serves."""

    name: str
    kind: UpstreamKind = "openai"
    # OpenAI-style base URL including the version prefix, e.g. "https://api.openai.com/v1"
    base_url: str
    api_key_env: str | None = None
    models: tuple[str, ...] = ("*",)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 600.0
    # glob patterns of `/v1/...` paths routed here when the request names no model (pass-through)
    paths: tuple[str, ...] = ()
    # `/v1/responses`: "native" forwards it; "translate" serves it from `/chat/completions`
    responses: Literal["native", "translate"] = "native"

    def __post_init__(self) -> None:
        where = f"upstreams[{self.name!r}]"
        _require(bool(self.name), "upstreams[].name", "a non-empty string", self.name)
        _require(
            self.base_url.startswith(("http://", "https://")),
            f"{where}.base_url",
            "an http:// or https:// URL",
            self.base_url,
        )
        _require(bool(self.models), f"{where}.models", "at least one model pattern", self.models)
        for path in self.paths:
            _require(path.startswith("/v1/"), f"{where}.paths", "globs starting /v1/", path)
        _require(
            self.connect_timeout_s > 0,
            f"{where}.connect_timeout_s",
            "a number > 0",
            self.connect_timeout_s,
        )
        _require(
            self.read_timeout_s > 0, f"{where}.read_timeout_s", "a number > 0", self.read_timeout_s
        )


class AssuranceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[assurance]`: defaults and limits of the certification pipeline (unused in mode `off`)."""

    default_mode: AssuranceMode = "off"
    default_policy: str = "enterprise_qa"
    signing_key_file: str | None = None
    card_ttl_s: int = 86400
    max_claims: int = 64
    max_evidence_chunks: int = 64
    max_evidence_bytes: int = 1024 * 1024
    oracle_timeout_s: float = 30.0
    # the most answer bytes certified per call (content + tool calls); past it: abstain card
    max_answer_bytes: int = 1024 * 1024
    # true: the `assurance_certified` log line also carries the query and answer text
    log_content: bool = False
    # JSON file {"schemas": [...], "unknown_tools": "allow"|"block"}: default action-gate tool
    # schemas (SPEC 5.4) for requests whose `assurance.actions` brings none
    actions_file: str | None = None
    # "auto": embedding vectors inlined in the bundle only when small (4096 coordinates), else the
    # measurements are recorded data bound by a digest; "always": always inlined (re-derivable)
    inline_embeddings: Literal["auto", "always"] = "auto"
    # end-to-end bound on one call's oracle work, counted from the request's arrival (a client's
    # `assurance.deadline_s` may shorten it): an oracle call past it fails as a timeout (abstain)
    deadline_s: float = 60.0
    # worker threads of the proxy's own bounded pools for CPU-bound work (not asyncio's default
    # pool): certification, the local oracle adapters, and POST /v1/assurance/verify
    certify_workers: int = 2
    oracle_workers: int = 4
    verify_workers: int = 1
    # POST /v1/assurance/verify: at most this many at once (more: 429), bodies up to this size
    max_concurrent_verify: int = 2
    max_verify_body_bytes: int = 1024 * 1024
    # a session whose counters have not advanced for this long starts afresh (and is purged)
    session_ttl_s: int = 86400

    def __post_init__(self) -> None:
        _require(
            self.session_ttl_s > 0, "assurance.session_ttl_s", "an integer > 0", self.session_ttl_s
        )
        for name in (
            "max_claims",
            "max_evidence_chunks",
            "max_evidence_bytes",
            "max_answer_bytes",
            "certify_workers",
            "oracle_workers",
            "verify_workers",
            "max_concurrent_verify",
            "max_verify_body_bytes",
        ):
            value = getattr(self, name)
            _require(value > 0, f"assurance.{name}", "an integer > 0", value)
        for name in ("oracle_timeout_s", "deadline_s"):
            value = getattr(self, name)
            _require(value > 0, f"assurance.{name}", "a number > 0", value)


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[store]`: where bundles and sessions are kept: a SQLite `path`, or a PostgreSQL `url`."""

    path: str = "assurance-store.sqlite3"
    # postgresql://user@host:5432/db selects PostgreSQL (shared by replicas); `path` is then unused
    url: str | None = None
    # environment variable holding the PostgreSQL password (instead of writing it in `url`)
    password_env: str | None = None
    pool_min_size: int = 1
    pool_max_size: int = 10
    # connect / pool-checkout timeout; past it the store counts as down
    timeout_s: float = 5.0
    # bundles older than this many days are purged in the background; None keeps them forever
    retention_days: int | None = None
    # how often the background task pings the store (readiness) and purges
    maintenance_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.url is not None:
            _require(
                self.url.startswith(("postgresql://", "postgres://")),
                "store.url",
                "a postgresql:// URL",
                _redacted(self.url),
            )
        _require(
            self.pool_min_size >= 0, "store.pool_min_size", "an integer >= 0", self.pool_min_size
        )
        _require(
            self.pool_max_size >= max(1, self.pool_min_size),
            "store.pool_max_size",
            "an integer >= max(1, store.pool_min_size)",
            self.pool_max_size,
        )
        _require(self.timeout_s > 0, "store.timeout_s", "a number > 0", self.timeout_s)
        if self.retention_days is not None:
            _require(
                self.retention_days > 0,
                "store.retention_days",
                "an integer > 0",
                self.retention_days,
            )
        _require(
            self.maintenance_interval_s > 0,
            "store.maintenance_interval_s",
            "a number > 0",
            self.maintenance_interval_s,
        )


def _redacted(url: str) -> str:
    # never echo a password written into a URL
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


PolicyOverrides = Literal["none", "tighten", "any"]


class ClientConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[[clients]]`: one authenticated client and what the operator lets it choose (issue 9 §3).

    `modes`: modes it may use, the first is its default; `policy`: when set, the only policy its
    calls are certified under; `policy_overrides`: "none" | "tighten" (only stricter values) |
    "any" (default "none" when `policy` is set, else "any"); `passthrough`: the never-certified
    routes it may use, as "METHOD /v1/path" rules (METHOD or a path segment may be `*`; default:
    every route when `modes` has "off", else `proxy.server.clients.LOCKED_PASSTHROUGH`).
    """

    name: str
    keys_env: str | None = None
    keys_file: str | None = None
    modes: tuple[AssuranceMode, ...] = ("off", "shadow", "enforce")
    policy: str | None = None
    policy_overrides: PolicyOverrides | None = None
    passthrough: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "clients[].name", "a non-empty name", self.name)
        for rule in self.passthrough or ():
            _require(
                is_route_rule(rule),
                f"clients[{self.name}].passthrough",
                "rules 'METHOD /v1/path' (METHOD GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
                " or *; path segments literal or *)",
                rule,
            )
        _require(
            self.keys_env is not None or self.keys_file is not None,
            f"clients[{self.name}].keys_env",
            "keys_env or keys_file",
            None,
        )
        _require(bool(self.modes), f"clients[{self.name}].modes", "at least one mode", [])
        dupes = len(set(self.modes)) != len(self.modes)
        _require(not dupes, f"clients[{self.name}].modes", "distinct modes", list(self.modes))

    @property
    def overrides(self) -> PolicyOverrides:
        """The effective `policy_overrides` (its documented default)."""
        if self.policy_overrides is not None:
            return self.policy_overrides
        return "none" if self.policy is not None else "any"


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration; built once by `load_config` and never mutated."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    upstreams: tuple[UpstreamConfig, ...] = ()
    assurance: AssuranceConfig = msgspec.field(default_factory=AssuranceConfig)
    oracles: OraclesConfig = msgspec.field(default_factory=OraclesConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    # policy name -> raw fields; certifiers.policy validates them (SPEC 5.7)
    policies: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    # authenticated clients with operator-imposed modes and policy (issue 9 §3)
    clients: tuple[ClientConfig, ...] = ()

    def __post_init__(self) -> None:
        names = [u.name for u in self.upstreams]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Expected unique upstreams[].name values, got duplicates {duplicates}"
            )
        clients = [c.name for c in self.clients]
        duplicates = sorted({n for n in clients if clients.count(n) > 1})
        if duplicates:
            raise ValueError(f"Expected unique clients[].name values, got duplicates {duplicates}")


class CliOverrides(msgspec.Struct, frozen=True, kw_only=True):
    """Command-line flags of `assurance serve`; `None` means "not given, keep the file's value"."""

    host: str | None = None
    port: int | None = None
    upstream_url: str | None = None
    upstream_key_env: str | None = None


ROUTE_RULE_METHODS = frozenset({"*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def is_route_rule(rule: str) -> bool:
    """True for a `[[clients]] passthrough` rule: "METHOD /v1/seg/..." with no empty segment."""
    method, _, path = rule.partition(" ")
    segments = path.split("/")
    return (
        method in ROUTE_RULE_METHODS
        and path.startswith("/v1/")
        and all(segments[1:])
        and not any(ch.isspace() or ch in "?#%" for ch in path)
    )


def _require(ok: bool, key: str, expected: str, got: object) -> None:
    # ValueError inside __post_init__ becomes a msgspec.ValidationError carrying the path
    if not ok:
        raise ValueError(f"Expected {key} to be {expected}, got {got!r}")


def load_config(path: str | Path | None = None, overrides: CliOverrides | None = None) -> Config:
    """Read the TOML file at `path` (if any), apply `overrides`, and validate the result.

    `--upstream-url` adds (or replaces) an OpenAI-compatible upstream named `default` serving every
    model (`*`); it is placed first so it wins routing for the models it serves.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = read_toml(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read config file {str(path)!r}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {str(path)!r} is not valid TOML: {exc}") from exc
    if overrides is not None:
        raw = _apply_overrides(raw, overrides)
    return config_from_mapping(raw)


def read_toml(text: str) -> dict[str, Any]:
    """Parse TOML text with decimals as exact `Decimal`s (float-typed fields still accept them)."""
    return tomllib.loads(text, parse_float=Decimal)


def config_from_mapping(raw: dict[str, Any]) -> Config:
    """Validate an already-parsed mapping (the TOML document's shape) into a `Config`.

    Besides the schema, `[policies.NAME]` tables are resolved (as the pipeline will resolve them)
    and `[assurance] default_policy` must name a built-in or configured policy.
    """
    try:
        config = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"Invalid configuration: {_toml_path(str(exc))}") from exc
    known = _check_policies(config.policies)
    for client in config.clients:
        if client.policy is not None and client.policy not in known:
            raise ConfigError(
                f"Invalid configuration: expected clients[{client.name}].policy to name a policy"
                f" in {sorted(known)}, got {client.policy!r} - at `clients.policy`"
            )
    default = config.assurance.default_policy
    if default not in known:
        raise ConfigError(
            f"Invalid configuration: expected assurance.default_policy to name a policy in"
            f" {sorted(known)}, got {default!r} - at `assurance.default_policy`"
        )
    return config


_AT_PATH = re.compile(r"`?\$(\.[^`\s]*)?`?")


def _check_policies(policies: dict[str, dict[str, Any]]) -> frozenset[str]:
    """Resolve the policy tables in order; the first bad one is a ConfigError naming its key."""
    names = list(policies)
    for end, name in enumerate(names, start=1):
        try:
            resolve_policies({n: policies[n] for n in names[:end]})
        except PolicyError as exc:
            raise ConfigError(f"Invalid configuration: {_policy_message(str(exc), name)}") from exc
    resolved = resolve_policies(policies)
    for name in names:
        _check_ranges(resolved[name])
    return frozenset(resolved)


def _policy_message(message: str, name: str) -> str:
    """Rewrite certifiers.policy paths (`$.field`, relative to the policy) as `policies.NAME...`."""
    where = f"policies.{name}"
    if " - at " in message or "`$" in message:
        return _AT_PATH.sub(lambda m: f"`{where}{m.group(1) or ''}`", message)
    if "extends" in message:
        return f"{message} - at `{where}.extends`"
    return f"{message} - at `{where}`"


def _check_ranges(policy: Policy) -> None:
    """Masses in [0, 1]; thresholds θ_g, θ_c in (0, 1] and θ_e, θ_r in [0, 1] (SPEC 5.1)."""
    t = policy.thresholds
    bounds: list[tuple[str, Fraction, bool]] = [
        ("min_supported_mass", policy.min_supported_mass, False),
        ("max_contradicted_mass", policy.max_contradicted_mass, False),
        ("max_contested_mass", policy.max_contested_mass, False),
        ("theta_g", t.theta_g, True),
        ("theta_c", t.theta_c, True),
        ("theta_e", t.theta_e, False),
        ("theta_r", t.theta_r, False),
    ]
    for key, value, open_below in bounds:
        low_ok = value > 0 if open_below else value >= 0
        if not (low_ok and value <= 1):
            interval = "(0, 1]" if open_below else "[0, 1]"
            raise ConfigError(
                f"Invalid configuration: expected policies.{policy.name}.{key} in {interval},"
                f" got {format_rational(value)} - at `policies.{policy.name}.{key}`"
            )


def _toml_path(message: str) -> str:
    # msgspec reports paths like "$.server.port"; TOML readers think in "server.port"
    return message.replace("`$.", "`").replace("`$`", "`<top level>`")


def _apply_overrides(raw: dict[str, Any], overrides: CliOverrides) -> dict[str, Any]:
    merged = dict(raw)
    server = dict(merged.get("server", {}))
    if overrides.host is not None:
        server["host"] = overrides.host
    if overrides.port is not None:
        server["port"] = overrides.port
    if server:
        merged["server"] = server
    if overrides.upstream_url is not None:
        cli_upstream: dict[str, Any] = {
            "name": DEFAULT_UPSTREAM_NAME,
            "kind": "openai",
            "base_url": overrides.upstream_url,
            "api_key_env": overrides.upstream_key_env or DEFAULT_UPSTREAM_KEY_ENV,
            "models": ["*"],
        }
        others = [
            u
            for u in merged.get("upstreams", [])
            if not (isinstance(u, dict) and u.get("name") == DEFAULT_UPSTREAM_NAME)
        ]
        merged["upstreams"] = [cli_upstream, *others]
    return merged
