"""Builds the configured upstream clients (`[[upstreams]]`) in config order, one object per entry.

`kind = "openai"` gives `proxy.upstreams.openai.OpenAIUpstream`; `kind = "anthropic"` gives
`proxy.upstreams.anthropic.AnthropicUpstream`.
Keys are read from the environment here, once, at start-up. This module does not route or forward
requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from proxy.config import Config, UpstreamConfig
from proxy.upstreams.anthropic import AnthropicUpstream
from proxy.upstreams.base import Upstream
from proxy.upstreams.openai import OpenAIUpstream

_log = structlog.get_logger("proxy.upstreams.registry")


def build_upstream(
    config: UpstreamConfig, *, forward_client_auth: bool, max_connections: int
) -> Upstream:
    """One upstream client for one `[[upstreams]]` entry (call inside a running event loop)."""
    if config.kind == "anthropic":
        return AnthropicUpstream(config, forward_client_auth=forward_client_auth)
    openai_upstream = OpenAIUpstream.from_env(
        config, forward_client_auth=forward_client_auth, max_connections=max_connections
    )
    if config.api_key_env and not openai_upstream.has_key:
        _log.warning(
            "upstream_key_missing",
            upstream=config.name,
            api_key_env=config.api_key_env,
            effect="client Authorization is forwarded instead"
            if forward_client_auth
            else "no key sent",
        )
    return openai_upstream


async def open_upstreams(config: Config, *, forward_client_auth: bool) -> list[Upstream]:
    """Every configured upstream in config order (= routing order); all or none are opened."""
    built: list[Upstream] = []
    try:
        for upstream_config in config.upstreams:
            built.append(
                build_upstream(
                    upstream_config,
                    forward_client_auth=forward_client_auth,
                    max_connections=config.server.max_concurrency,
                )
            )
    except BaseException:
        # close what was already opened before reporting the failure
        await close_upstreams(built)
        raise
    return built


async def close_upstreams(upstreams: Sequence[Upstream]) -> None:
    """Close every upstream's sessions."""
    for upstream in upstreams:
        await upstream.aclose()
