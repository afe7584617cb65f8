"""Upstream providers: the `Upstream` contract every client implements, the OpenAI-compatible
client, the Anthropic client with its pure OpenAI <-> Anthropic translation, routing by model name,
the
registry that opens and closes the configured clients, and the loopback demo upstream.
"""
