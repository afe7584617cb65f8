"""Exact Clopper-Pearson binomial intervals in pure Python (no SciPy).

The regularized incomplete beta function I_x(a, b) is evaluated by its continued fraction (modified
Lentz method) with `math.lgamma` for the prefactor; its inverse in x is found by bisection, which
is slow but monotone and cannot diverge. This module only computes interval bounds as floats for
reporting; it makes no emission decision and is not part of the certificate path.
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPS = 1e-15
_MAX_TERMS = 10_000
_BISECTION_STEPS = 200


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes `betacf`, modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        # odd step
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(
        f"Expected the incomplete-beta continued fraction to converge within {_MAX_TERMS} terms, "
        f"got no convergence - at a={a}, b={b}, x={x}"
    )


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for a, b > 0 and x in [0, 1]."""
    if a <= 0 or b <= 0:
        raise ValueError(
            f"Expected a > 0 and b > 0, got a={a}, b={b} - at regularized_incomplete_beta"
        )
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"Expected x in [0, 1], got {x} - at regularized_incomplete_beta")
    if x in (0.0, 1.0):
        return x
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The fraction converges fast for x < (a + 1) / (a + b + 2); on the other side use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def inverse_regularized_incomplete_beta(p: float, a: float, b: float) -> float:
    """The x in [0, 1] with I_x(a, b) = p, by bisection (I_x is increasing in x)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"Expected p in [0, 1], got {p} - at inverse_regularized_incomplete_beta")
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if regularized_incomplete_beta(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(
    successes: int, trials: int, *, confidence: float = 0.95
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a binomial proportion.

    lower = B^-1(a/2; x, n - x + 1) (0 when x = 0), upper = B^-1(1 - a/2; x + 1, n - x)
    (1 when x = n), with a = 1 - confidence.
    With no trials the proportion is unconstrained and the interval is (0, 1).
    """
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(
            f"Expected 0 <= successes <= trials, got successes={successes}, trials={trials} "
            "- at clopper_pearson"
        )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected confidence in (0, 1), got {confidence} - at clopper_pearson")
    if trials == 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    x, n = successes, trials
    lower = 0.0 if x == 0 else inverse_regularized_incomplete_beta(alpha / 2.0, x, n - x + 1)
    upper = 1.0 if x == n else inverse_regularized_incomplete_beta(1.0 - alpha / 2.0, x + 1, n - x)
    return (lower, upper)
