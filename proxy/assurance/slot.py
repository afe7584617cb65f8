"""The per-app slot holding the loaded pipeline (oracles, certifier, policies, default actions).

Filled by `proxy.assurance.lifecycle` once the oracles are loaded and emptied at shutdown; request
handlers take it with `require()`, which answers 503 `assurance_not_ready` while it is empty.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from oracles.factory import OracleSet
from proxy.assurance.actions_file import DefaultActions
from proxy.assurance.certify import Certifier
from proxy.assurance.executors import CPUPools
from proxy.config import Config
from proxy.server.errors import ProxyError


class AssuranceNotReadyError(ProxyError):
    """A shadow/enforce request arrived before the oracles finished loading."""

    status = 503
    code = "assurance_not_ready"


@dataclass(slots=True)
class Pipeline:
    """Everything the assurance modes need, loaded once per app."""

    config: Config
    oracles: OracleSet
    certifier: Certifier
    known_policies: frozenset[str]
    default_actions: DefaultActions
    pools: CPUPools


@dataclass(slots=True)
class PipelineSlot:
    pipeline: Pipeline | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # POST /v1/assurance/verify calls running now (bounded by [assurance] max_concurrent_verify)
    verifying: int = 0

    def require(self) -> Pipeline:
        if self.pipeline is None:
            raise AssuranceNotReadyError(
                "Expected the assurance pipeline to be loaded, got a proxy starting up"
            )
        return self.pipeline


PIPELINE: web.AppKey[PipelineSlot] = web.AppKey("assurance_pipeline", PipelineSlot)
