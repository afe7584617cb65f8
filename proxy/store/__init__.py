"""Persistence of certified bundles, keyed by replay handle (SQLite, embedded)."""
