"""What an authenticated client may choose: its modes, and its configured `[[clients]]` entry.

`client_config(config, name)` finds the `[[clients]]` entry of an authenticated client (None for
the unlocked `default` client of `server.client_keys_*` and with auth off). `client_mode` applies
the entry's `modes`: no `X-Assurance-Mode` header means the client's first mode; a mode it may
not use is 403 `mode_not_allowed`. Policy locks are applied by `proxy.assurance.client_policy`.

`check_passthrough` applies the entry's `passthrough` rules to the routes that are never certified
(pass-through, and `GET /v1/responses/{id}` without a certified copy): a client whose modes exclude
"off" gets, by default, only `LOCKED_PASSTHROUGH`, routes that return no model output, so the
operator's lock to shadow/enforce cannot be side-stepped through `/v1/completions`, batches or
stored completions. Rules match the raw (still percent-encoded) path the upstream receives,
segment by segment; a `*` segment matches one plain id (letters, digits, `_`, `-`, inner dots),
never "..", an encoded slash or an empty segment; a GET rule also admits HEAD. A refusal is 403
`route_not_allowed`.
"""

from __future__ import annotations

import re

from proxy.config import AssuranceMode, ClientConfig, Config
from proxy.server.errors import PermissionDeniedError

#: the never-certified routes a client may use when its modes exclude "off" (no model output)
LOCKED_PASSTHROUGH: tuple[str, ...] = (
    "GET /v1/models/*",
    "POST /v1/moderations",
    "GET /v1/files",
    "POST /v1/files",
    "GET /v1/files/*",
    "DELETE /v1/files/*",
    "POST /v1/uploads",
    "POST /v1/uploads/*/parts",
    "POST /v1/uploads/*/complete",
    "POST /v1/uploads/*/cancel",
    "GET /v1/responses/*/input_items",
    "DELETE /v1/responses/*",
    "DELETE /v1/chat/completions/*",
)
_ID_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


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


def passthrough_rules(client: ClientConfig | None) -> tuple[str, ...] | None:
    """The client's never-certified route rules (None: every route)."""
    if client is None:
        return None
    if client.passthrough is not None:
        return client.passthrough
    return None if "off" in client.modes else LOCKED_PASSTHROUGH


def rule_matches(rule: str, method: str, raw_path: str) -> bool:
    """True when `method raw_path` matches one "METHOD /v1/path" rule (see the module docstring)."""
    rule_method, _, pattern = rule.partition(" ")
    # a HEAD answer has no body: a GET rule covers it
    if rule_method not in ("*", method) and not (rule_method == "GET" and method == "HEAD"):
        return False
    want, got = pattern.split("/"), raw_path.split("/")
    return len(want) == len(got) and all(
        (w == "*" and _ID_SEGMENT.fullmatch(g) is not None) or w == g
        for w, g in zip(want, got, strict=True)
    )


def check_passthrough(client: ClientConfig | None, method: str, raw_path: str) -> None:
    """Refuse (403 `route_not_allowed`) a never-certified route the client's rules do not allow."""
    rules = passthrough_rules(client)
    if client is None or rules is None:
        return
    path = raw_path.partition("?")[0]
    if any(rule_matches(rule, method, path) for rule in rules):
        return
    why = (
        f"clients[{client.name}].passthrough"
        if client.passthrough is not None
        else f"the default for a client whose modes {list(client.modes)} exclude off"
    )
    raise PermissionDeniedError(
        f"Expected a route client {client.name!r} may use uncertified ({why}), got"
        f" {method} {path}: the proxy never certifies it",
        code="route_not_allowed",
    )
