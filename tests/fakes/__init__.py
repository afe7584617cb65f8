"""Fake upstream servers that speak the real wire formats over loopback."""
