"""Certificate builders (SPEC 5.1-5.6): grounding, residue, embedding, actions, stability, card.

The verifier (`certifiers.verify`, `certifiers.verification`) never imports this package.
"""

from __future__ import annotations

from certifiers.builders.certify import certify

__all__ = ["certify"]
