"""The HTTP server core: the aiohttp application and runner, the edge middleware (request ids, proxy
auth, concurrency limit, error mapping, access log), the route handlers for mode `off` and the
probes, OpenAI-shaped errors and responses, metrics and logging. It knows nothing of certification:
the
assurance modes plug in through the `ASSURED_CHAT` slot in `proxy.server.state`.
"""
