"""Tests of the pure-Python Clopper-Pearson intervals against closed forms and reference values."""

from __future__ import annotations

import math

import pytest

from proxy.evaluation.stats import (
    clopper_pearson,
    inverse_regularized_incomplete_beta,
    regularized_incomplete_beta,
)

# Reference values of the exact interval (R `binom.test(x, n)$conf.int`, 95 %).
REFERENCE = [
    ((5, 10), (0.18708602844739855, 0.8129139715526015)),
    ((13, 203), (0.034535832539498997, 0.10701984729457244)),
    ((1, 1000), (2.531748749129404e-05, 0.005558924279826672)),
    ((37, 50), (0.5965523212719342, 0.8536994156034454)),
]


def test_zero_of_ten_has_upper_bound_0_3085() -> None:
    """0 successes in 10 trials give the interval (0, 0.3085)."""
    low, high = clopper_pearson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.30850, abs=5e-6)


@pytest.mark.parametrize("n", [1, 2, 7, 50, 264, 1000])
def test_extreme_counts_match_the_closed_forms(n: int) -> None:
    """At x = 0 the upper bound is 1 - (a/2)^(1/n); at x = n the lower bound is (a/2)^(1/n)."""
    assert clopper_pearson(0, n)[1] == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-10)
    low, high = clopper_pearson(n, n)
    assert low == pytest.approx(0.025 ** (1 / n), rel=1e-10)
    assert high == 1.0


@pytest.mark.parametrize(("counts", "expected"), REFERENCE)
def test_interior_counts_match_reference_values(
    counts: tuple[int, int], expected: tuple[float, float]
) -> None:
    """Interior counts agree with a reference implementation to 1e-12."""
    low, high = clopper_pearson(*counts)
    assert low == pytest.approx(expected[0], abs=1e-12)
    assert high == pytest.approx(expected[1], abs=1e-12)


def test_incomplete_beta_matches_a_polynomial_case() -> None:
    """For integers, I_x(2, 3) equals P(Binomial(4, x) >= 2)."""
    for x in (0.1, 0.35, 0.5, 0.9):
        expected = sum(math.comb(4, k) * x**k * (1 - x) ** (4 - k) for k in range(2, 5))
        assert regularized_incomplete_beta(x, 2, 3) == pytest.approx(expected, abs=1e-13)


def test_inverse_incomplete_beta_inverts() -> None:
    """The bisection inverse returns an x whose I_x(a, b) is the requested probability."""
    x = inverse_regularized_incomplete_beta(0.3, 4.5, 2.25)
    assert regularized_incomplete_beta(x, 4.5, 2.25) == pytest.approx(0.3, abs=1e-12)


def test_no_trials_give_the_whole_unit_interval() -> None:
    """With n = 0 nothing is known: the interval is (0, 1)."""
    assert clopper_pearson(0, 0) == (0.0, 1.0)


def test_more_successes_than_trials_is_rejected() -> None:
    """x > n is a programming error and names both numbers."""
    with pytest.raises(ValueError, match="successes=4, trials=3"):
        clopper_pearson(4, 3)
