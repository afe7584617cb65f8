"""Optional proxy authentication: clients present an accepted key as a Bearer token.

Accepted keys come from `server.client_keys_file` (one key per line, `#` comments) and/or the
environment variable named by `server.client_keys_env` (comma-separated): those keys belong to the
client `default`, which has no locks. Each `[[clients]]` entry adds a named client whose keys come
from its own `keys_env` / `keys_file` (issue 9 §3). With no key configured anywhere, auth is off.
Keys are held as SHA-256 digests, compared in constant time against every accepted key, and never
logged. `check` says *who* the client is; what it may do is `proxy.server.clients`' business.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from proxy.config import Config, ConfigError
from proxy.server.errors import AuthenticationError

#: the client name of the keys in `server.client_keys_file` / `server.client_keys_env`
DEFAULT_CLIENT = "default"


def _read_keys(file: str | None, env: str | None, where: str) -> list[str]:
    keys: list[str] = []
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read {where}_file {file!r}: {exc.strerror}") from exc
        keys += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if env is not None:
        keys += [k.strip() for k in os.environ.get(env, "").split(",") if k.strip()]
    if not keys:
        raise ConfigError(f"Expected at least one key in {where}_file or {where}_env, got none")
    return keys


class ClientKeys:
    """The accepted client keys (as SHA-256 digests), each with the name of its client."""

    __slots__ = ("_digests",)

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("Expected at least one client key, got none")
        self._digests = tuple((hashlib.sha256(k.encode()).digest(), name) for name, k in keys)

    @classmethod
    def from_config(cls, config: Config) -> ClientKeys | None:
        """Read every configured key; `None` when proxy auth is not configured."""
        server = config.server
        keys: list[tuple[str, str]] = []
        if server.client_keys_file is not None or server.client_keys_env is not None:
            legacy = _read_keys(
                server.client_keys_file, server.client_keys_env, "server.client_keys"
            )
            keys += [(DEFAULT_CLIENT, key) for key in legacy]
        for client in config.clients:
            where = f"clients[{client.name}].keys"
            keys += [
                (client.name, key) for key in _read_keys(client.keys_file, client.keys_env, where)
            ]
        seen: dict[str, str] = {}
        for name, key in keys:
            if seen.setdefault(key, name) != name:
                raise ConfigError(
                    f"Expected each client key to belong to one client, got a key shared by"
                    f" {seen[key]!r} and {name!r}"
                )
        return cls(keys) if keys else None

    def check(self, authorization: str | None) -> str:
        """The client name of `Bearer <key>`; `AuthenticationError` (401) if no key matches."""
        if not authorization:
            raise AuthenticationError("Expected an 'Authorization: Bearer <key>' header, got none")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "Expected an 'Authorization: Bearer <key>' header, got another scheme"
            )
        digest = hashlib.sha256(token.strip().encode()).digest()
        matched: str | None = None
        for accepted, name in self._digests:  # every digest is compared: constant time
            if hmac.compare_digest(digest, accepted):
                matched = name
        if matched is None:
            raise AuthenticationError("Incorrect API key provided for this proxy")
        return matched
