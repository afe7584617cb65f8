"""The verifier's failure collector: named obligations, each with expected and got values.

A `Report` accumulates failures such as `grounding.masses.supported: expected 3/5, got 2/3`; the
checks never raise on bad data, so one run lists every failed obligation. It also keeps notes:
data taken as recorded rather than re-derived (an accepted bundle's stated limits). It decides
nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from certifiers.rational import format_rational

__all__ = ["Report", "show"]

_MAX_SHOWN = 120


def show(value: object) -> str:
    """Render a value for a failure message: rationals as "p/q", long text shortened."""
    if isinstance(value, bool) or value is None:
        text = repr(value)
    elif isinstance(value, Fraction):
        text = format_rational(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, tuple | list):
        text = "[" + ", ".join(show(item) for item in value) + "]"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        return text[: _MAX_SHOWN - 3] + "..."
    return text


class Report:
    """Accumulates failed obligations in the order they are checked."""

    __slots__ = ("_failures", "_notes")

    def __init__(self) -> None:
        self._failures: list[str] = []
        self._notes: list[str] = []

    @property
    def notes(self) -> tuple[str, ...]:
        """Data taken as recorded rather than re-derived (not failures), in the order noted."""
        return tuple(self._notes)

    def note(self, text: str) -> None:
        """Record a datum the verifier takes as recorded (e.g. non-inlined embedding data)."""
        self._notes.append(text)

    @property
    def failures(self) -> tuple[str, ...]:
        """Every failure recorded so far."""
        return tuple(self._failures)

    @property
    def ok(self) -> bool:
        """True while no failure has been recorded."""
        return not self._failures

    def fail(self, obligation: str, detail: str) -> None:
        """Record `obligation: detail`."""
        self._failures.append(f"{obligation}: {detail}")

    def expect(self, obligation: str, expected: object, got: object) -> bool:
        """Record a failure unless `got == expected`; return whether they matched."""
        if _same(expected, got):
            return True
        self.fail(obligation, f"expected {show(expected)}, got {show(got)}")
        return False

    def require(self, obligation: str, condition: bool, detail: str) -> bool:
        """Record `obligation: detail` unless `condition` holds; return `condition`."""
        if not condition:
            self.fail(obligation, detail)
        return condition


def _same(expected: object, got: object) -> bool:
    """Equality that never conflates bool with int (True == 1) or str with its sequence."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(got, Sequence) or isinstance(got, str) or len(got) != len(expected):
            return False
        return all(_same(e, g) for e, g in zip(expected, got, strict=True))
    return expected == got
