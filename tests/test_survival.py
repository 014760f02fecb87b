"""Survival statistics against hand-worked examples (alsalvage.survival).

R's survival package is the reference for the conventions; tests/test_r_crosscheck.py
compares with R itself.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import REPO
from stats_data import random_survival

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import survival as S  # noqa: E402

Z = 1.959963984540054
NAN = float("nan")

# 7 patients: times 1, 2, 2+, 3, 4+, 5, 5 (+ = censored)
T7 = [1, 2, 2, 3, 4, 5, 5]
E7 = [1, 1, 0, 1, 0, 1, 1]


def test_km_curve_by_hand():
    k = S.km(T7, E7)
    tab = k.table.set_index("time")
    # S(1) = 6/7; S(2) = 6/7 * 5/6 = 5/7; S(3) = 5/7 * 3/4 = 15/28; S(4) = 15/28 (censoring); S(5) = 0
    assert tab["surv"].tolist() == pytest.approx([6 / 7, 5 / 7, 15 / 28, 15 / 28, 0.0])
    assert tab["n_risk"].tolist() == [7, 6, 4, 3, 2]
    assert k.events == 5 and k.n == 7
    assert k.at(2.5)[0] == pytest.approx(5 / 7)
    assert k.at(0.5) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in k.at(6))  # beyond the last follow-up


def test_km_loglog_ci_by_hand():
    """At t = 1: S = 6/7, Greenwood var(log S) = 1 / (7 * 6); log(-log) CI:
    exp(-exp(log(-log S) -+ z se / log S))."""
    s, se = 6 / 7, math.sqrt(1 / 42)
    lo = math.exp(-math.exp(math.log(-math.log(s)) - Z * se / math.log(s)))
    hi = math.exp(-math.exp(math.log(-math.log(s)) + Z * se / math.log(s)))
    assert (lo, hi) == pytest.approx((0.334054, 0.978561), abs=1e-6)
    _, l1, h1 = S.km(T7, E7).at(1)
    assert (l1, h1) == pytest.approx((lo, hi), rel=1e-9)


def test_km_ci_undefined_where_survival_is_zero():
    tab = S.km(T7, E7).table
    last = tab.iloc[-1]
    assert last["surv"] == 0 and math.isnan(last["lower"]) and math.isnan(last["upper"])


@pytest.mark.parametrize(
    "times, events, median, lifelines_median",
    [
        # S = 0.75, 0.5, 0.25, 0: S(t) = 0.5 exactly on [2, 3). R: midpoint 2.5; lifelines: 2
        ([1, 2, 3, 4], [1, 1, 1, 1], 2.5, 2.0),
        # S = 0.75, 0.5 then flat to the last follow-up at 4: midpoint of [2, 4] = 3
        ([1, 2, 3, 4], [1, 1, 0, 0], 3.0, 2.0),
        # S = 0.8, 0.6, 0.4, 0.2, 0: no flat 0.5 -> first time S <= 0.5 = 3 (both agree)
        ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], 3.0, 3.0),
        # S = 0.9, ..., 0.5 at t = 5 until t = 8 (the next event): (5 + 8) / 2 = 6.5
        (list(range(1, 11)), [1, 1, 1, 1, 1, 0, 0, 1, 1, 1], None, 5.0),
        # S = 0.75 and never lower: not reached
        ([1, 2, 3, 4], [1, 0, 0, 0], NAN, math.inf),
    ],
)
def test_median_convention(times, events, median, lifelines_median):
    k = S.km(times, events)
    if median is None:
        # hand: S(1..5) = 0.9, 0.8, 0.7, 0.6, 0.5; 6, 7 censored (S stays 0.5);
        # at t = 8, 3 at risk: S = 0.5 * 2/3 = 1/3 -> S = 0.5 on [5, 8): median 6.5
        median = 6.5
    if math.isnan(median):
        assert math.isnan(k.median)
    else:
        assert k.median == pytest.approx(median)
    assert S.lifelines_median(times, events)[0] == pytest.approx(lifelines_median)


def test_reverse_km_follow_up_by_hand():
    """t = 1..5, deaths at 1 and 3. Reverse KM (censoring = event): at 2, 4 at risk -> 3/4;
    at 4, 2 at risk -> 3/8 <= 0.5: median follow-up 4."""
    assert S.reverse_km([1, 2, 3, 4, 5], [1, 0, 1, 0, 0]).median == pytest.approx(4.0)


def test_logrank_by_hand():
    """A: deaths at 1, 3; B: deaths at 2, 4.
    t=1: n=4 (2A), E_A = 1/2, V = 2*2*1*3/(16*3) = 1/4
    t=2: n=3 (1A), E_A = 1/3, V = 1*2*1*2/(9*2) = 2/9
    t=3: n=2 (1A), E_A = 1/2, V = 1*1*1*1/(4*1) = 1/4
    O_A - E_A = 2 - 4/3 = 2/3; V = 13/18; chi2 = (4/9) / (13/18) = 8/13."""
    r = S.logrank_pair([1, 3], [1, 1], [2, 4], [1, 1])
    assert r.statistic == pytest.approx(8 / 13, rel=1e-12)
    assert r.p == pytest.approx(math.erfc(math.sqrt(8 / 13 / 2)), rel=1e-9)
    m = S.logrank([1, 3, 2, 4], [1, 1, 1, 1], ["a", "a", "b", "b"])
    assert (m.statistic, m.df) == (pytest.approx(8 / 13, rel=1e-12), 1)


def test_aalen_johansen_by_hand():
    """Times 1 (dialysis), 2 (death), 3 (dialysis), 4 (censored); no ties.
    All-cause KM just before: 1, 3/4 (after 1), 1/2 (after 2).
    CIF dialysis: at 1: 1 * 1/4 = 1/4; at 3: 1/4 + 1/2 * 1/2 = 1/2. CIF death at 2: 3/4 * 1/3 = 1/4."""
    cif = S.aalen_johansen([1, 2, 3, 4], [1, 2, 1, 0], seed=1)
    assert cif(0.5, 1)[0] == 0.0
    assert cif(2.5, 1)[0] == pytest.approx(0.25)
    assert cif(3, 1)[0] == pytest.approx(0.5)
    assert cif(3, 2)[0] == pytest.approx(0.25)
    assert math.isnan(cif(5, 1)[0])  # beyond follow-up


def test_aalen_johansen_jitter_is_seeded():
    """Tied event times are jittered by lifelines; the same seed gives the same numbers."""
    d = random_survival(60, 11, ties=True)
    status = np.where(d["E"] == 1, np.where(d["x"] == 1, 1, 2), 0)
    a = [S.aalen_johansen(d["T"], status, seed=7)(t, 1) for t in (12, 24)]
    b = [S.aalen_johansen(d["T"], status, seed=7)(t, 1) for t in (12, 24)]
    assert a == b
    assert 0 < a[0][0] < a[1][0] < 1


def test_cox_events_per_parameter_warning():
    few = random_survival(25, 3, ties=False)
    few = few.assign(s2=(few["stage"] == "II").astype(float), s3=(few["stage"] == "III").astype(float))
    res = S.cox(few, "T", "E", ["x", "s2", "s3"], min_events_per_parameter=10)
    assert res.events == int(few["E"].sum()) and res.events < 30
    assert res.events_per_parameter == pytest.approx(res.events / 3)
    assert res.warning is not None and "per parameter" in res.warning
    assert S.cox(few, "T", "E", ["x"], min_events_per_parameter=1).warning is None


def test_cox_hazard_ratio_is_exp_coef_and_ci_is_wald():
    d = random_survival(120, 8, ties=True)
    res = S.cox(d, "T", "E", ["x"])
    row = res.summary.loc["x"]
    assert row["hr"] == pytest.approx(math.exp(row["coef"]))
    assert row["hr_low"] == pytest.approx(math.exp(row["coef"] - Z * row["se"]))
    assert row["p"] == pytest.approx(math.erfc(abs(row["coef"] / row["se"]) / math.sqrt(2)))
    assert 0 <= row["ph_p"] <= 1


def test_cox_constant_covariate_is_an_error():
    d = random_survival(40, 9).assign(c=1.0)
    with pytest.raises(ValueError, match="constant"):
        S.cox(d, "T", "E", ["x", "c"])


def test_bad_survival_input_is_rejected():
    with pytest.raises(ValueError):
        S.km([1, -2], [1, 0])
    with pytest.raises(ValueError):
        S.km([1, 2], [1, 3])
    with pytest.raises(ValueError):
        S.aalen_johansen([1, 2], [1, 5], seed=1)


@pytest.mark.parametrize(
    "times, x, expected",
    [
        # beta = 0, all deaths, no ties: xbar(t) is the plain mean of x over the risk set
        # t=1: {0,1,0} -> 1/3; t=2: {1,0} -> 1/2; t=3: {0} -> 0
        ([1, 2, 3], [0, 1, 0], [-1 / 3, 1 / 2, 0.0]),
        # two deaths tied at t=1 (Efron): S0_R=3, S1_R=1, S0_D=2, S1_D=1;
        # l=0: 1/3, l=1: (1 - 1/2) / (3 - 1) = 1/4; xbar = (1/3 + 1/4) / 2 = 7/24
        ([1, 1, 2], [0, 1, 0], [-7 / 24, 17 / 24, 0.0]),
    ],
)
def test_schoenfeld_residuals_by_hand(times, x, expected):
    X = np.array(x, dtype=float)[:, None]
    n = len(times)
    got = S.schoenfeld_residuals(X, np.array(times, float), np.ones(n, bool), np.ones(n), np.zeros(1))
    assert got[:, 0] == pytest.approx(expected, abs=1e-15)


def test_schoenfeld_residuals_skip_censored_rows_but_keep_them_at_risk():
    # times 1, 2+, 3 with x = 0, 1, 0 (beta = 0): t=1 risk {0,1,0} -> 1/3; t=3 risk {0} -> 0
    X = np.array([[0.0], [1.0], [0.0]])
    got = S.schoenfeld_residuals(X, np.array([1.0, 2.0, 3.0]), np.array([True, False, True]), np.ones(3), np.zeros(1))
    assert got[:, 0] == pytest.approx([-1 / 3, 0.0], abs=1e-15)


@pytest.mark.parametrize("n, decimals, seed", [(40, 0, 1), (300, 0, 2), (2000, 3, 3), (5000, 0, 4)])
def test_ph_test_equals_lifelines_proportional_hazard_test(n, decimals, seed):
    """The vectorised test gives lifelines' proportional_hazard_test(rank) p-values, with
    heavy ties (times rounded to whole units) and without."""
    import warnings

    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"a": rng.integers(0, 2, n).astype(float), "b": rng.integers(0, 3, n).astype(float), "c": rng.normal(size=n)}
    )
    df["T"] = np.round(rng.exponential(10, n) * np.exp(-0.4 * df["a"]), decimals) + 1
    df["E"] = (rng.random(n) < 0.7).astype(float)
    cph = CoxPHFitter().fit(df, "T", "E", fit_options=S.COX_FIT_OPTIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = proportional_hazard_test(cph, df, time_transform="rank").summary["p"]
    got = S.ph_test_rank(cph, df)
    assert list(got.index) == ["a", "b", "c"]
    assert got.to_numpy() == pytest.approx(ref.to_numpy(), rel=1e-12)


def test_aalen_johansen_variance_by_hand():
    """4 patients: event of interest at t1, competing event at t2, event at t3, one
    censored after. n = 4, 3, 2; S before each time 1, 3/4, 1/2; F = 1/4, 1/4, 1/2.
    Var at t3 = (1/12)(1/2 - 1/4)^2 + (3/4)^2 * 1 * 2 / 27 - 2 * (1/4)(3/4)(1/9)
              = 1/192 + 1/24 - 1/24 = 1/192; at t2: 0 + 1/24 - 0 = 1/24; at t1: 0."""
    got = S.aj_variance([1, 0, 1], [4, 3, 2], [0, 1, 0], [1, 0.75, 0.5], [0.25, 0.25, 0.5])
    assert got == pytest.approx([0.0, 1 / 24, 1 / 192], abs=1e-15)


@pytest.mark.parametrize("n, seed", [(60, 1), (800, 2), (20_000, 3)])
def test_aalen_johansen_bounds_equal_lifelines(n, seed):
    """The vectorised variance gives lifelines' own AalenJohansenFitter estimate and CI
    (tied times, so lifelines' seeded jitter is exercised too)."""
    import warnings

    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(seed)
    t = pd.Series(np.round(rng.exponential(20, n), 1) + 0.1)
    s = pd.Series(rng.choice([0, 1, 2], n, p=[0.3, 0.2, 0.5]))
    fits = []
    for cls in (AalenJohansenFitter, S._fast_aalen_johansen_class()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(cls(seed=7, alpha=0.05, calculate_variance=True).fit(t, s, event_of_interest=1))
    ref, got = fits
    assert got.cumulative_density_.equals(ref.cumulative_density_)
    np.testing.assert_allclose(got.variance_.to_numpy(), ref.variance_.to_numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        got.confidence_interval_.to_numpy(), ref.confidence_interval_.to_numpy(), rtol=1e-12, equal_nan=True
    )


def test_gray_test_by_hand():
    """Group A: event of interest at 1, competing event at 2; group B: event at 3,
    censored at 4. Score of A (Gray 1988; cmprsk's crst), only t = 1 contributes:
    n_A = n_B = 2, S(1-) = 1, F(1-) = 0 in both, so s_A = d_A - d n_A / (n_A + n_B)
    = 1 - 2/4 = 1/2 (at t = 3 group A is no longer at risk: 0).
    Variance: a(1) = [[1, -1], [-1, 1]] (h = n/S = 2, 2; a = diag(h) - h h'/sum h),
    c = a(1) d / (sum h (1 - F(1-))) = a/4; pooled F(1) = 1/4, F(3) = 3/4.
    t = 1 (event): k = A: t4 = 1 - (3/4)/(1/2) = -1/2, t3 = 1/8, b = 1 + 1/8 = 9/8;
                   k = B: t4 = 1/4, t3 = 1/8, b = -1 + 1/16 = -15/16;
    t = 2 (competing in A): S_A(2) = 0, no term;
    t = 3 (event in B): a = 0, t4 = 1/2, t3 = 1/4, b = 1/8.
    sum b^2 t3 = 81/512 + 225/2048 + 1/256 = 557/2048; v3 = (1/32, 9/128),
    v2_A = (-9/128, -15/512 + 1/64 = -7/512); c'v3c = 13/2048, 2 c'v2 = -58/2048:
    V = (557 + 13 - 58)/2048 = 1/4; statistic = (1/2)^2 / (1/4) = 1; p = P(chi2_1 > 1).
    R: cmprsk::cuminc(c(1,2,3,4), c(1,2,1,0), c("A","A","B","B"))$Tests gives
    stat 1.0, pv 0.317310507862914 for cause 1 (and 0.8, 0.371093369522698 for cause 2)."""
    r = S.gray_test([1, 2, 3, 4], [1, 2, 1, 0], ["A", "A", "B", "B"])
    assert (r.statistic, r.df) == (pytest.approx(1.0, abs=1e-12), 1)
    assert r.p == pytest.approx(0.317310507862914, abs=1e-12)
    r2 = S.gray_test([1, 2, 3, 4], [1, 2, 1, 0], ["A", "A", "B", "B"], cause=2)
    assert (r2.statistic, r2.p) == (pytest.approx(0.8, abs=1e-12), pytest.approx(0.371093369522698, abs=1e-12))


def test_gray_test_does_not_depend_on_row_order_or_labels():
    rng = np.random.default_rng(3)
    n = 60
    t = rng.integers(0, 12, n).astype(float)  # many ties
    s = rng.choice([0, 1, 2], n)
    g = rng.choice(["x", "y", "z"], n)
    ref = S.gray_test(t, s, g)
    perm = rng.permutation(n)
    shuffled = S.gray_test(t[perm], s[perm], g[perm])
    relabelled = S.gray_test(t, s, np.select([g == "x", g == "y"], ["c", "a"], "b"))  # other group dropped
    assert ref.df == 2 and ref.statistic > 0
    for other in (shuffled, relabelled):
        assert other.statistic == pytest.approx(ref.statistic, rel=1e-10)
        assert other.p == pytest.approx(ref.p, rel=1e-10)


def test_gray_test_edge_cases():
    one = S.gray_test([1, 2, 3], [1, 2, 0], ["a", "a", "a"])
    assert math.isnan(one.statistic) and one.df == 0 and math.isnan(one.p)
    with pytest.raises(ValueError, match="missing group label"):
        S.gray_test([1, 2, 3], [1, 2, 0], ["a", None, "b"])
    # no event of interest in any group: nothing to compare (cmprsk: singular, -1) -> NaN
    none = S.gray_test([1, 2, 3, 4], [2, 0, 2, 0], ["a", "a", "b", "b"])
    assert math.isnan(none.statistic) and none.df == 1
