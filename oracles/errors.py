"""Errors raised by oracle adapters.

One shallow hierarchy: `OracleError(oracle, reason)` is the base; subclasses say *why* an oracle
failed (bad output, timeout, unreachable model or service, bad configuration). The pipeline turns
any `OracleError` raised at request time into an abstain card naming the oracle (fail closed). This
module does not log and does not decide what happens after a failure.
"""

from __future__ import annotations


class OracleError(Exception):
    """An oracle could not produce a usable record; `oracle` names it (e.g. `nli:tei`)."""

    def __init__(self, oracle: str, reason: str) -> None:
        super().__init__(f"oracle {oracle} failed: {reason}")
        self.oracle = oracle
        self.reason = reason


class OracleOutputError(OracleError):
    """The model answered, but its output did not parse or violated the expected schema."""


class OracleTimeoutError(OracleError):
    """The oracle did not answer within its configured `timeout_s`."""


class OracleUnavailableError(OracleError):
    """The model, upstream or service could not be reached or raised an error of its own."""


class OracleConfigError(OracleError):
    """The `[oracles.*]` configuration cannot be satisfied (raised by `build_oracles`)."""
