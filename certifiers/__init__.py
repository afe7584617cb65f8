"""The trusted core: pure, deterministic certificate builders and the independent verifier.

Imports only the standard library and msgspec; exact `Fraction` arithmetic; no IO, no clocks.
"""
