"""The proxy's own bounded thread pools for CPU-bound work, one per kind of work.

Certification (`certifiers` decode + certify + sign), the local oracle adapters (sentence splitter,
`lexical`, `rules`, coverage checks, exact embedding decoding) and `POST /v1/assurance/verify` each
get a `ThreadPoolExecutor` sized by `[assurance] certify_workers` / `oracle_workers` /
`verify_workers`, instead of sharing asyncio's default pool: a burst of adversarial verify calls
queues behind its own workers and cannot take the threads certification needs (the GIL is still
shared; see SOUNDNESS.md). `run_in` keeps the caller's context variables (the request id in logs).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from proxy.config import AssuranceConfig

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CPUPools:
    """One bounded pool per kind of CPU-bound work."""

    certify: ThreadPoolExecutor
    oracles: ThreadPoolExecutor
    verify: ThreadPoolExecutor

    @classmethod
    def from_config(cls, config: AssuranceConfig) -> CPUPools:
        """Pools sized by `[assurance] certify_workers`, `oracle_workers`, `verify_workers`."""
        return cls(
            certify=ThreadPoolExecutor(config.certify_workers, "assurance-certify"),
            oracles=ThreadPoolExecutor(config.oracle_workers, "assurance-oracles"),
            verify=ThreadPoolExecutor(config.verify_workers, "assurance-verify"),
        )

    def shutdown(self) -> None:
        """Stop every pool; queued work is cancelled, running work finishes in the background."""
        for pool in (self.certify, self.oracles, self.verify):
            pool.shutdown(wait=False, cancel_futures=True)


async def run_in(pool: Executor | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on `pool` (asyncio's default pool when None), context kept."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)
