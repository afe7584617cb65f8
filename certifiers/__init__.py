"""The trusted core: pure, deterministic certificate builders and the independent verifier.

Imports only the standard library (none of its IO, clock, randomness, thread or network modules)
and msgspec, as tests/certifiers/test_core_imports.py checks; exact `Fraction` arithmetic. Oracle
numbers enter through one crossing, `certifiers.quantize` (SPEC 4.1).
"""
