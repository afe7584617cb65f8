"""What an authenticated client may choose: its modes, and its configured `[[clients]]` entry.

`client_config(config, name)` finds the `[[clients]]` entry of an authenticated client (None for
the unlocked `default` client of `server.client_keys_*` and with auth off). `client_mode` applies
the entry's `modes`: no `X-Assurance-Mode` header means the client's first mode; a mode it may
not use is 403 `mode_not_allowed`. Policy locks are applied by `proxy.assurance.client_policy`.
"""

from __future__ import annotations

from proxy.config import AssuranceMode, ClientConfig, Config
from proxy.server.errors import PermissionDeniedError


def client_config(config: Config, name: str | None) -> ClientConfig | None:
    """The `[[clients]]` entry named `name`, if any."""
    if name is None:
        return None
    return next((client for client in config.clients if client.name == name), None)


def client_mode(
    client: ClientConfig | None, requested: AssuranceMode | None, default: AssuranceMode
) -> AssuranceMode:
    """The mode of this call: the request's if the client may use it, else 403."""
    if client is None:
        return requested if requested is not None else default
    if requested is None:
        return client.modes[0]
    if requested not in client.modes:
        raise PermissionDeniedError(
            f"Expected X-Assurance-Mode to be one of {list(client.modes)} for client"
            f" {client.name!r}, got {requested!r}",
            param="X-Assurance-Mode",
            code="mode_not_allowed",
        )
    return requested
