"""Group comparisons of Table 1 (as R's tableone / gtsummary add them): a test per row
(configurable, ``stats.table1_tests``) and the standardised mean difference (SMD).

Tests (each equal to base R's function of the same name; tests/test_r_crosscheck_table1.py):
- continuous: ``kruskal`` (Kruskal-Wallis rank-sum, ties corrected; R kruskal.test) or
  ``anova`` (one-way ANOVA F test, equal variances; R summary(aov(x ~ g)));
- categorical: ``chisq`` (Pearson chi-square without continuity correction; R
  chisq.test(correct = FALSE), the same as chisq.test for tables larger than 2x2) or
  ``fisher`` (exact conditional test of an r x c table, the two-sided p of R fisher.test:
  every table with the margins whose probability is at most the observed one's, times
  1 + 1e-7; computed by full enumeration, so it refuses tables with more than
  FISHER_MAX_TABLES candidate tables and says so).
Levels or groups without any patient are dropped before testing (R would return NaN).

SMD (tableone's definition): for each pair of groups, continuous
|m1 - m2| / sqrt((s1^2 + s2^2) / 2) (sample SDs); categorical by Yang & Dalton (2012),
sqrt(T' S^-1 T) with T the differences of the level proportions without the first level
and S the mean of the two groups' multinomial covariance matrices (generalised inverse,
as tableone's MASS::ginv); a binary variable reduces to
|p1 - p2| / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2). With more than two groups the reported
SMD is the mean of the pairwise SMDs (tableone); the largest pairwise SMD is kept too.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

TEST_NAMES = {
    "kruskal": "Kruskal-Wallis rank-sum test",
    "anova": "one-way ANOVA F test",
    "chisq": "Pearson chi-square test without continuity correction",
    "fisher": "Fisher's exact test (r x c, exact enumeration)",
}
CONTINUOUS_TESTS = ("kruskal", "anova")
CATEGORICAL_TESTS = ("chisq", "fisher")
FISHER_MAX_TABLES = 20_000_000
SMD_METHOD = "standardised mean difference: mean of the pairwise SMDs between groups (as tableone)"


@dataclass
class TestResult:
    p: float = math.nan
    statistic: float | None = None
    df: float | None = None
    note: str | None = None


# --------------------------------------------------------------------------- tests
def continuous_test(groups: list[np.ndarray], test: str) -> TestResult:
    from scipy import stats

    groups = [np.asarray(g, float) for g in groups]
    groups = [g[~np.isnan(g)] for g in groups]
    groups = [g for g in groups if g.size]
    if len(groups) < 2:
        return TestResult(note="not estimable: fewer than two groups with a value")
    allv = np.concatenate(groups)
    if np.all(allv == allv[0]):
        return TestResult(note="not estimable: every value is the same")
    if test == "kruskal":
        r = stats.kruskal(*groups)
        return TestResult(float(r.pvalue), float(r.statistic), len(groups) - 1)
    if test == "anova":
        if allv.size <= len(groups):
            return TestResult(note="not estimable: no residual degrees of freedom")
        r = stats.f_oneway(*groups)
        return TestResult(float(r.pvalue), float(r.statistic), len(groups) - 1)
    raise ValueError(f"unknown continuous test {test!r} (one of {CONTINUOUS_TESTS})")


def contingency(values, groups, levels, group_levels) -> np.ndarray:
    """Counts: rows = levels, columns = groups (patients with a known value)."""
    values, groups = np.asarray(values, object), np.asarray(groups, object)
    return np.array([[int(np.sum((values == lv) & (groups == g))) for g in group_levels] for lv in levels])


def _compositions(total: int, bounds: np.ndarray) -> np.ndarray:
    """Every vector of non-negative integers <= bounds summing to total (rows)."""
    m = len(bounds)
    if m == 1:
        return np.array([[total]]) if total <= bounds[0] else np.zeros((0, 1), int)
    out = []
    for first in range(min(total, int(bounds[0])) + 1):
        rest = _compositions(total - first, bounds[1:])
        if len(rest):
            out.append(np.column_stack([np.full(len(rest), first), rest]))
    return np.vstack(out) if out else np.zeros((0, m), int)


def fisher_rxc(table: np.ndarray) -> TestResult:
    """Two-sided exact p of an r x c table (R fisher.test), by enumerating every table with
    the observed margins column by column; the last column is determined by the others."""
    from scipy.special import gammaln

    t = np.asarray(table, int)
    rows, cols = t.sum(1), t.sum(0)
    n = int(t.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)
    obs = const - gammaln(t + 1).sum()
    # the number of candidate tables is at most the product of the column compositions
    size = 1.0
    for c in cols[:-1]:
        size *= math.comb(int(c) + len(rows) - 1, len(rows) - 1)
    if size > FISHER_MAX_TABLES:
        return TestResult(
            note=f"not computed: Fisher's exact test would enumerate about {size:.0e} tables; "
            "use stats.table1_tests.categorical: chisq"
        )
    limit = obs + math.log1p(1e-7)
    total = 0.0

    def walk(j: int, remaining: np.ndarray, logsum: float):
        nonlocal total
        if j == len(cols) - 2:  # the last two columns at once, vectorised
            comp = _compositions(int(cols[j]), remaining)
            last = remaining[None, :] - comp
            ok = (last >= 0).all(1)
            comp, last = comp[ok], last[ok]
            lp = const - logsum - gammaln(comp + 1).sum(1) - gammaln(last + 1).sum(1)
            total += float(np.exp(lp[lp <= limit]).sum())
            return
        for comp in _compositions(int(cols[j]), remaining):
            walk(j + 1, remaining - comp, logsum + float(gammaln(comp + 1).sum()))

    walk(0, rows.copy(), 0.0)
    return TestResult(min(1.0, total), None, None)


def categorical_test(table: np.ndarray, test: str) -> TestResult:
    from scipy import stats

    t = np.asarray(table, int)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0] if t.size else t
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return TestResult(note="not estimable: fewer than two groups or levels with a patient")
    if test == "chisq":
        chi2, p, df, _ = stats.chi2_contingency(t, correction=False)
        return TestResult(float(p), float(chi2), int(df))
    if test == "fisher":
        return fisher_rxc(t)
    raise ValueError(f"unknown categorical test {test!r} (one of {CATEGORICAL_TESTS})")


# --------------------------------------------------------------------------- SMD
def smd_continuous(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size < 2 or b.size < 2:
        return math.nan
    pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    diff = abs(a.mean() - b.mean())
    if pooled == 0:
        return 0.0 if diff == 0 else math.nan
    return float(diff / pooled)


def smd_categorical(counts_a, counts_b) -> float:
    """Yang & Dalton (2012) from the level counts of two groups (same level order)."""
    ca, cb = np.asarray(counts_a, float), np.asarray(counts_b, float)
    if ca.sum() == 0 or cb.sum() == 0:
        return math.nan
    pa, pb = ca / ca.sum(), cb / cb.sum()
    pa, pb = pa[1:], pb[1:]
    if pa.size == 0:
        return 0.0

    def cov(p):
        s = -np.outer(p, p)
        np.fill_diagonal(s, p * (1 - p))
        return s

    T = pa - pb
    S = (cov(pa) + cov(pb)) / 2
    val = float(T @ np.linalg.pinv(S) @ T)
    if np.allclose(S, 0):
        return 0.0 if np.allclose(T, 0) else math.nan
    return math.sqrt(max(val, 0.0))


def smd_summary(pairs: list[float]) -> tuple[float, float]:
    """(mean, max) of the pairwise SMDs; NaN when any pair is not estimable."""
    if not pairs or any(math.isnan(x) for x in pairs):
        return math.nan, math.nan
    return float(np.mean(pairs)), float(np.max(pairs))


def pairwise(items: list) -> list[tuple]:
    return list(itertools.combinations(items, 2))
