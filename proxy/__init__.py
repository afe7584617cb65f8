"""The imperative shell: HTTP server, provider clients, streaming, config, storage, logs, metrics.

The shell never computes a certificate field; it calls `certifiers` for that.
"""
