"""Prometheus metrics of one proxy app, kept in a per-app `CollectorRegistry` (no global registry).

Counts requests by route, status and upstream, times upstream calls with a histogram, and reports
the number of in-flight requests through a callback gauge (read at scrape time, so the hot path does
no gauge bookkeeping). Labelled children are cached in dicts so a request costs one dict lookup per
metric. This module does not know about HTTP handlers; the middleware calls it.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# upstream latency buckets (seconds): sub-millisecond local servers up to slow remote generations
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


class Metrics:
    """The proxy's metrics and the registry that exposes them."""

    def __init__(self, in_flight: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "assurance_proxy_requests",
            "HTTP requests answered by the proxy, by route, status and upstream.",
            ("route", "status", "upstream"),
            registry=self.registry,
        )
        self._upstream_latency = Histogram(
            "assurance_proxy_upstream_latency_seconds",
            "Time from sending a request upstream to receiving its response headers.",
            ("upstream",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._self_check_failures = Counter(
            "assurance_proxy_bundle_self_check_failures",
            "Bundles the in-process independent verifier rejected before emission.",
            registry=self.registry,
        )
        self._self_check_failures.inc(0)
        self._client_requests = Counter(
            "assurance_proxy_client_requests",
            "Requests by authenticated client name ([[clients]] or client_keys).",
            ("client",),
            registry=self.registry,
        )
        in_flight_gauge = Gauge(
            "assurance_proxy_in_flight_requests",
            "Requests currently being handled (health and metrics routes excluded).",
            registry=self.registry,
        )
        in_flight_gauge.set_function(in_flight)
        self._request_children: dict[tuple[str, int, str], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def count_request(self, route: str, status: int, upstream: str) -> None:
        """Count one answered request."""
        key = (route, status, upstream)
        child = self._request_children.get(key)
        if child is None:
            child = self._requests.labels(route=route, status=str(status), upstream=upstream)
            self._request_children[key] = child
        child.inc()

    def count_self_check_failure(self) -> None:
        """Count one bundle the in-process verifier rejected (verify before emit)."""
        self._self_check_failures.inc()

    def count_client(self, client: str) -> None:
        """Count one request of an authenticated client."""
        self._client_requests.labels(client=client).inc()

    def observe_upstream(self, upstream: str, seconds: float) -> None:
        """Record how long one upstream call took to answer."""
        child = self._latency_children.get(upstream)
        if child is None:
            child = self._upstream_latency.labels(upstream=upstream)
            self._latency_children[upstream] = child
        child.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
