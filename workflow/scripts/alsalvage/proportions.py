"""Proportions and 2x2 comparisons.

- Clopper-Pearson exact CI from the beta distribution:
  lower = Beta(alpha/2; x, n - x + 1) (0 when x = 0),
  upper = Beta(1 - alpha/2; x + 1, n - x) (1 when x = n).
- Fisher's exact test (two-sided, scipy's "sum of tables no more likely than the observed"),
  the p-value quoted; Pearson chi-square without continuity correction beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

CP_METHOD = "Clopper-Pearson exact {level}% CI"


def clopper_pearson(x: int, n: int, alpha: float) -> tuple[float, float, float]:
    """Return (proportion, low, high) at level 1 - alpha (config stats.alpha); NaNs when n = 0."""
    x, n = int(x), int(n)
    if n <= 0:
        return (float("nan"),) * 3
    if not 0 <= x <= n:
        raise ValueError(f"clopper_pearson: x={x} outside 0..n={n}")
    low = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x == n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return x / n, low, high


@dataclass(frozen=True)
class TwoByTwo:
    table: tuple[tuple[int, int], tuple[int, int]]
    p_fisher: float
    odds_ratio: float
    chi2: float
    p_chi2: float
    df: int
    expected_min: float


def compare_2x2(a: int, b: int, c: int, d: int) -> TwoByTwo:
    """Rows = groups, columns = (event, no event): [[a, b], [c, d]].

    Fisher two-sided p is the quoted one; Pearson chi-square (no Yates correction) beside it.
    A table with an empty row or column has no chi-square (NaN) and Fisher p = 1."""
    table = np.array([[a, b], [c, d]], dtype=int)
    if (table < 0).any():
        raise ValueError(f"compare_2x2: negative count in {table.tolist()}")
    odds, p_f = stats.fisher_exact(table, alternative="two-sided")
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        chi2, p_c, df, exp_min = float("nan"), float("nan"), 1, float("nan")
    else:
        chi2, p_c, df, expected = stats.chi2_contingency(table, correction=False)
        exp_min = float(expected.min())
    return TwoByTwo(
        table=((int(a), int(b)), (int(c), int(d))),
        p_fisher=float(p_f),
        odds_ratio=float(odds),
        chi2=float(chi2),
        p_chi2=float(p_c),
        df=int(df),
        expected_min=exp_min,
    )
