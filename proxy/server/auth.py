"""Optional proxy authentication: clients must present one of the accepted keys as a Bearer token.

Accepted keys come from `server.client_keys_file` (one key per line, `#` comments) and/or the
environment variable named by `server.client_keys_env` (comma-separated). With neither configured,
auth is off. Keys are compared in constant time and never logged. This module does not decide what a
key may do.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from proxy.config import ConfigError, ServerConfig
from proxy.server.errors import AuthenticationError


class ClientKeys:
    """The set of accepted client keys (held as SHA-256 digests)."""

    __slots__ = ("_digests",)

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("Expected at least one client key, got none")
        self._digests = tuple(hashlib.sha256(k.encode()).digest() for k in keys)

    @classmethod
    def from_config(cls, server: ServerConfig) -> ClientKeys | None:
        """Read the configured keys; `None` when proxy auth is not configured."""
        if server.client_keys_file is None and server.client_keys_env is None:
            return None
        keys: list[str] = []
        if server.client_keys_file is not None:
            try:
                text = Path(server.client_keys_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"Cannot read server.client_keys_file {server.client_keys_file!r}: "
                    f"{exc.strerror}"
                ) from exc
            keys += [
                ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")
            ]
        if server.client_keys_env is not None:
            keys += [
                k.strip()
                for k in os.environ.get(server.client_keys_env, "").split(",")
                if k.strip()
            ]
        if not keys:
            raise ConfigError(
                "Expected at least one key in server.client_keys_file or server.client_keys_env,"
                " got none"
            )
        return cls(keys)

    def check(self, authorization: str | None) -> None:
        """Accept `Bearer <key>` for an accepted key; raise `AuthenticationError` (401) if not."""
        if not authorization:
            raise AuthenticationError("Expected an 'Authorization: Bearer <key>' header, got none")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "Expected an 'Authorization: Bearer <key>' header, got another scheme"
            )
        digest = hashlib.sha256(token.strip().encode()).digest()
        matched = False
        for accepted in self._digests:
            matched |= hmac.compare_digest(digest, accepted)
        if not matched:
            raise AuthenticationError("Incorrect API key provided for this proxy")
