"""Request and response headers for transparent pass-through of `/v1/...` routes (RFC 9110 §7.6.1).

The proxy forwards every header a client sent except the hop-by-hop ones, `Host`, the proxy's own
`X-Assurance-*` headers, `Accept-Encoding` (bodies travel as identity so nothing is decompressed
and re-encoded) and `Authorization`, which the upstream client sets itself (its own key, the
client's when allowed, or none). Answers come back with every header except the hop-by-hop ones
and the framing the proxy's server redoes (`Content-Length` is kept only for a known length).
This module only filters headers; it sends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_DROPPED_REQUEST = HOP_BY_HOP | {"host", "accept-encoding", "authorization", "x-api-key"}
_DROPPED_RESPONSE = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


def _connection_tokens(headers: Mapping[str, str]) -> frozenset[str]:
    # headers named in `Connection` are hop-by-hop for this connection too
    value = headers.get("Connection") or headers.get("connection") or ""
    return frozenset(token.strip().lower() for token in value.split(",") if token.strip())


def request_headers(client_headers: Mapping[str, str]) -> dict[str, str]:
    """The client's headers to send upstream (authorization excluded: the upstream sets it)."""
    named = _connection_tokens(client_headers)
    kept: dict[str, str] = {}
    for name, value in client_headers.items():
        lower = name.lower()
        if lower in _DROPPED_REQUEST or lower in named or lower.startswith("x-assurance-"):
            continue
        kept[name] = value
    return kept


def response_headers(upstream_headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The upstream's headers for the client (framing, hop-by-hop excluded; repeats kept)."""
    named = _connection_tokens(upstream_headers)
    kept: CIMultiDict[str] = CIMultiDict()
    # a CIMultiDictProxy yields a repeated header (Set-Cookie) once per value
    for name, value in upstream_headers.items():
        if name.lower() not in _DROPPED_RESPONSE and name.lower() not in named:
            kept.add(name, value)
    return kept
