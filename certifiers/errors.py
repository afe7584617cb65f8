"""Error hierarchy of the trusted core (STYLE 7): bad data, bad bundles and violated invariants.

Every message says what was expected, what arrived and where (a JSON path such as
`$.nli.entail[3][0]`).
This module defines exceptions only; it performs no checks itself.
"""

from __future__ import annotations


class CertifierError(Exception):
    """Base class of every error raised by `certifiers`."""


class ScenarioError(CertifierError):
    """A certify scenario is malformed; the message names the offending field path."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(message if " - at " in message else f"{message} - at `{path}`")
        self.path = path


class BundleFormatError(CertifierError):
    """A bundle does not decode into the bundle schema (not JSON, unknown field, wrong type)."""


class PolicyError(CertifierError):
    """A policy name is unknown or a policy definition/override is malformed."""


class CertificationError(CertifierError):
    """A builder produced an object violating its own obligation (a bug, never bad input)."""
