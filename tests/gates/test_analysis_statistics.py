"""Mann-Whitney U (gates/statistics.py) against known values, and against scipy when it is installed.

U is counted by hand (pairs where x > y, ties one half). The p-values follow from the normal
approximation with tie and continuity corrections: e.g. for x = 6..10, y = 1..5: U = 25, mean 12.5,
sd = sqrt(25 * 11 / 12) = 4.787, z = (25 - 12.5 - 0.5) / 4.787 = 2.507, P(Z > z) = 0.00609.
"""

from __future__ import annotations

import math
import random

import pytest

from bayat_deploy.gates.statistics import average_ranks, mann_whitney_u

KNOWN = [
    # x, y, alternative, U, p-value
    ([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], "greater", 25.0, 0.006093),
    ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "greater", 0.0, 0.996692),
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "greater", 17.0, 0.055673),
    # error ratios: three failing windows on the canary against a clean baseline (ties corrected)
    ([0, 0, 0, 0.02, 0.05, 0.04], [0, 0, 0, 0, 0, 0], "greater", 27.0, 0.037005),
    ([1, 2, 2, 3], [2, 3, 3, 4, 5], "less", 3.0, 0.049671),
    ([1, 2, 2, 3], [2, 3, 3, 4, 5], "two-sided", 3.0, 0.099342),
    # every value tied: no evidence of a difference
    ([3, 3, 3], [3, 3, 3, 3], "greater", 6.0, 1.0),
]


@pytest.mark.parametrize("x, y, alternative, u, p", KNOWN)
def test_known_values(x, y, alternative, u, p):
    result = mann_whitney_u(x, y, alternative)
    assert result.u == u
    assert result.p_value == pytest.approx(p, abs=5e-6)


def test_all_ties_are_degenerate_not_significant():
    result = mann_whitney_u([0.0] * 10, [0.0] * 12)
    assert result.degenerate and result.p_value == 1.0


@pytest.mark.parametrize("values, ranks, ties", [
    ([10, 20, 30], [1, 2, 3], [1, 1, 1]),
    ([5, 5, 1, 7], [2.5, 2.5, 1, 4], [1, 2, 1]),
    ([0, 0, 0], [2, 2, 2], [3]),
])
def test_average_ranks(values, ranks, ties):
    assert average_ranks(values) == (ranks, ties)


@pytest.mark.parametrize("x, y, problem", [([], [1.0], "at least one value"), ([math.nan], [1.0], "NaN")])
def test_bad_samples_are_refused_with_a_reason(x, y, problem):
    with pytest.raises(ValueError, match=problem):
        mann_whitney_u(x, y)


def test_agrees_with_scipy_on_random_samples():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(7)
    for trial in range(300):
        n_x, n_y = rng.randint(3, 40), rng.randint(3, 40)
        # coarse values make many ties, as error ratios and bucketed latencies do
        scale = rng.choice([1, 4, 100])
        x = [round(rng.gauss(0.3 if trial % 3 == 0 else 0.0, 1) * scale) / scale for _ in range(n_x)]
        y = [round(rng.gauss(0, 1) * scale) / scale for _ in range(n_y)]
        for alternative in ("greater", "less", "two-sided"):
            ours = mann_whitney_u(x, y, alternative)
            theirs = stats.mannwhitneyu(x, y, alternative=alternative, method="asymptotic", use_continuity=True)
            assert ours.u == pytest.approx(theirs.statistic)
            expected = 1.0 if math.isnan(theirs.pvalue) else theirs.pvalue
            assert ours.p_value == pytest.approx(expected, abs=1e-9), (x, y, alternative)
