"""Clopper-Pearson CIs and 2x2 tests against hand-worked values (alsalvage.proportions)."""

from __future__ import annotations

import math
import sys

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage.proportions import clopper_pearson, compare_2x2  # noqa: E402


def binom_tail_ge(x, n, p):
    """P(X >= x), X ~ Bin(n, p), summed term by term."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))


def binom_tail_le(x, n, p):
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(0, x + 1))


@pytest.mark.parametrize(
    "x, n, low, high",
    [
        # x = 0: lower 0, upper solves (1 - p)^n = 0.025 -> 1 - 0.025^(1/10) = 0.308497
        (0, 10, 0.0, 1 - 0.025 ** (1 / 10)),
        # x = n: upper 1, lower solves p^n = 0.025 -> 0.025^(1/10) = 0.691503
        (10, 10, 0.025 ** (1 / 10), 1.0),
        # x = 1, n = 1: lower = 0.025, upper = 1
        (1, 1, 0.025, 1.0),
        # 28/50: R binom.test(28, 50) gives 0.4125441229-0.7000927791
        (28, 50, 0.4125441229, 0.7000927791),
        # 1/10: R binom.test(1, 10) gives 0.0025285785-0.4450161170
        (1, 10, 0.0025285785, 0.4450161170),
    ],
)
def test_clopper_pearson_hand_values(x, n, low, high):
    est, lo, hi = clopper_pearson(x, n, 0.05)
    assert est == pytest.approx(x / n)
    assert lo == pytest.approx(low, abs=1e-9)
    assert hi == pytest.approx(high, abs=1e-9)


@pytest.mark.parametrize("x, n", [(28, 50), (5, 12), (1, 3), (49, 50)])
def test_clopper_pearson_solves_its_defining_tail_equations(x, n):
    """Exact limits: P(X >= x | p_low) = 0.025 and P(X <= x | p_high) = 0.025."""
    _, lo, hi = clopper_pearson(x, n, 0.05)
    assert binom_tail_ge(x, n, lo) == pytest.approx(0.025, abs=1e-10)
    assert binom_tail_le(x, n, hi) == pytest.approx(0.025, abs=1e-10)


def test_clopper_pearson_empty_and_invalid():
    assert all(math.isnan(v) for v in clopper_pearson(0, 0, 0.05))
    with pytest.raises(ValueError):
        clopper_pearson(11, 10, 0.05)


def fisher_by_hand(a, b, c, d):
    """Two-sided Fisher: sum of hypergeometric P(table) over tables no more likely than observed."""
    r1, c1, n = a + b, a + c, a + b + c + d
    denom = math.comb(n, c1)
    probs = {
        k: math.comb(r1, k) * math.comb(n - r1, c1 - k) / denom
        for k in range(max(0, c1 - (n - r1)), min(r1, c1) + 1)
    }
    obs = probs[a]
    return sum(p for p in probs.values() if p <= obs * (1 + 1e-7))


@pytest.mark.parametrize(
    "table, p_fisher, chi2",
    [
        # rows 4/4, columns 4/4: P(a=k) = C(4,k) C(4,4-k) / C(8,4) = (1, 16, 36, 16, 1) / 70;
        # observed a = 3 (16/70): p = (1 + 16 + 16 + 1) / 70 = 34/70. Expected 2 each:
        # chi2 = 4 * (1^2 / 2) = 2.0
        ((3, 1, 1, 3), 34 / 70, 2.0),
        # rows 5/5, responders 6: P(a=k) = C(6,k) C(4,5-k) / 252 = (6, 60, 120, 60, 6) / 252 for k = 1..5;
        # observed a = 2: p = (6 + 60 + 60 + 6) / 252 = 132/252.
        # chi2 = N (ad - bc)^2 / (r1 r2 c1 c2) = 10 * (2 - 12)^2 / (5 * 5 * 6 * 4) = 1000/600
        ((2, 3, 4, 1), 132 / 252, 1000 / 600),
        # 8/21 vs 18/29 (refractory vs non-refractory in the seed study's proportions):
        # chi2 = 50 * (8*11 - 13*18)^2 / (21 * 29 * 26 * 24) = 50 * 21316 / 380016
        ((8, 13, 18, 11), None, 50 * (8 * 11 - 13 * 18) ** 2 / (21 * 29 * 26 * 24)),
    ],
)
def test_2x2_against_hand_calculation(table, p_fisher, chi2):
    res = compare_2x2(*table)
    expected_fisher = p_fisher if p_fisher is not None else fisher_by_hand(*table)
    assert res.p_fisher == pytest.approx(expected_fisher, rel=1e-9)
    assert res.p_fisher == pytest.approx(fisher_by_hand(*table), rel=1e-9)
    assert res.chi2 == pytest.approx(chi2, rel=1e-12)
    # chi-square with 1 df: P(X > c) = erfc(sqrt(c / 2)); no continuity correction
    assert res.p_chi2 == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)
    assert res.df == 1


def test_2x2_chi_square_has_no_continuity_correction():
    # (3, 1, 1, 3): uncorrected chi2 = 2.0; Yates would give 4 * (|1| - 0.5)^2 / 2 = 0.5
    assert compare_2x2(3, 1, 1, 3).chi2 == pytest.approx(2.0)


def test_2x2_degenerate_table():
    res = compare_2x2(0, 5, 0, 5)  # nobody responded: no chi-square, Fisher p = 1
    assert res.p_fisher == 1.0
    assert math.isnan(res.chi2) and math.isnan(res.p_chi2)
    with pytest.raises(ValueError):
        compare_2x2(-1, 2, 3, 4)
