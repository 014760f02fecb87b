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

from helpers import REPO, schema_default
from stats_data import random_survival

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import survival as S  # noqa: E402

ALPHA = schema_default("stats.alpha")  # config defaults: the schema is their one source
EPP = schema_default("stats.events_per_parameter")

Z = 1.959963984540054
NAN = float("nan")

# 7 patients: times 1, 2, 2+, 3, 4+, 5, 5 (+ = censored)
T7 = [1, 2, 2, 3, 4, 5, 5]
E7 = [1, 1, 0, 1, 0, 1, 1]


def test_km_curve_by_hand():
    k = S.km(T7, E7, ALPHA)
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
    _, l1, h1 = S.km(T7, E7, ALPHA).at(1)
    assert (l1, h1) == pytest.approx((lo, hi), rel=1e-9)


def test_km_ci_undefined_where_survival_is_zero():
    tab = S.km(T7, E7, ALPHA).table
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
    k = S.km(times, events, ALPHA)
    if median is None:
        # hand: S(1..5) = 0.9, 0.8, 0.7, 0.6, 0.5; 6, 7 censored (S stays 0.5);
        # at t = 8, 3 at risk: S = 0.5 * 2/3 = 1/3 -> S = 0.5 on [5, 8): median 6.5
        median = 6.5
    if math.isnan(median):
        assert math.isnan(k.median)
    else:
        assert k.median == pytest.approx(median)
    assert S.lifelines_median(times, events, ALPHA)[0] == pytest.approx(lifelines_median)


def test_reverse_km_follow_up_by_hand():
    """t = 1..5, deaths at 1 and 3. Reverse KM (censoring = event): at 2, 4 at risk -> 3/4;
    at 4, 2 at risk -> 3/8 <= 0.5: median follow-up 4."""
    assert S.reverse_km([1, 2, 3, 4, 5], [1, 0, 1, 0, 0], ALPHA).median == pytest.approx(4.0)


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


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA])
def test_logrank_leaves_out_a_missing_group(missing):
    """The example above plus a death at 5 with no group: left out (never a third group
    with df = 2), counted in n_dropped; same chi-square 8/13 on 1 df."""
    m = S.logrank([1, 3, 2, 4, 5], [1, 1, 1, 1, 1], ["a", "a", "b", "b", missing])
    assert (m.statistic, m.df, m.n_dropped) == (pytest.approx(8 / 13, rel=1e-12), 1, 1)
    assert m.p == pytest.approx(math.erfc(math.sqrt(8 / 13 / 2)), rel=1e-9)
    # a pandas Series with its own index and two missing labels
    g = pd.Series(["a", missing, "a", "b", missing, "b"], index=[9, 8, 7, 6, 5, 4])
    m = S.logrank([1, 7, 3, 2, 0.5, 4], [1, 0, 1, 1, 1, 1], g)
    assert (m.statistic, m.df, m.n_dropped) == (pytest.approx(8 / 13, rel=1e-12), 1, 2)
    # only one group left: no test
    m = S.logrank([1, 2, 3], [1, 1, 1], ["a", "a", missing])
    assert math.isnan(m.p) and (m.df, m.n_dropped) == (0, 1)


def test_aalen_johansen_by_hand():
    """Times 1 (dialysis), 2 (death), 3 (dialysis), 4 (censored); no ties.
    All-cause KM just before: 1, 3/4 (after 1), 1/2 (after 2).
    CIF dialysis: at 1: 1 * 1/4 = 1/4; at 3: 1/4 + 1/2 * 1/2 = 1/2. CIF death at 2: 3/4 * 1/3 = 1/4."""
    cif = S.aalen_johansen([1, 2, 3, 4], [1, 2, 1, 0], ALPHA)
    assert cif(0.5, 1)[0] == 0.0
    assert cif(2.5, 1)[0] == pytest.approx(0.25)
    assert cif(3, 1)[0] == pytest.approx(0.5)
    assert cif(3, 2)[0] == pytest.approx(0.25)
    assert math.isnan(cif(5, 1)[0])  # beyond follow-up


# Exact Aalen-Johansen by hand: (times, status, cause, {t: F(t)}). F(t) = sum over event
# times s <= t of S(s-) d_k(s) / n(s), S the Kaplan-Meier curve of either event.
AJ_CASES = [
    # the example. t=0: n=5, d1=1 -> F1 = 1/5, S = 4/5; 1 censored; t=2: n=3,
    # competing -> S = 4/5 * 2/3 = 8/15, F2 = 4/5 * 1/3 = 4/15; t=3: n=2 -> F1 = 1/5 + 8/15 / 2
    ([0, 1, 2, 3, 4], [1, 0, 2, 1, 0], 1, {0: 1 / 5, 2.9: 1 / 5, 3: 7 / 15, 4: 7 / 15}),
    ([0, 1, 2, 3, 4], [1, 0, 2, 1, 0], 2, {0: 0.0, 2: 4 / 15, 4: 4 / 15}),
    # events at 0 count, a censoring at 0 is at risk there: n=6 at 0, F1(0) = F2(0) = 1/6,
    # S = 4/6; t=1: n=3 (1 event) -> F1 = 1/6 + 4/6 / 3 = 7/18, S = 4/9; t=2: n=2, both
    # events (1 and 2) -> F1 = F2 + ... : F1 = 7/18 + 4/9 / 2 = 11/18, F2 = 1/6 + 2/9 = 7/18
    ([0, 0, 0, 1, 2, 2], [1, 2, 0, 1, 2, 1], 1, {0: 1 / 6, 1: 7 / 18, 2: 11 / 18}),
    ([0, 0, 0, 1, 2, 2], [1, 2, 0, 1, 2, 1], 2, {0: 1 / 6, 1: 1 / 6, 2: 7 / 18}),
    # all tied: at 2, n=4: F1 = 2/4, F2 = 1/4 (a tie is never split)
    ([2, 2, 2, 2], [1, 1, 2, 0], 1, {1.99: 0.0, 2: 1 / 2}),
    ([2, 2, 2, 2], [1, 1, 2, 0], 2, {2: 1 / 4}),
    # ties within and across causes: t=1: n=5, 1 dialysis + 1 death -> F1 = 1/5, S = 3/5;
    # t=3: n=3, 2 dialysis -> F1 = 1/5 + 3/5 * 2/3 = 3/5
    ([1, 1, 3, 3, 3], [1, 2, 1, 1, 0], 1, {1: 1 / 5, 3: 3 / 5}),
]


@pytest.mark.parametrize("times, status, cause, expected", AJ_CASES)
def test_aalen_johansen_exact_by_hand(times, status, cause, expected):
    cif = S.aalen_johansen(times, status, ALPHA)
    for t, want in expected.items():
        assert cif(t, cause)[0] == pytest.approx(want, abs=1e-15), t
    assert cif(-0.5, cause)[0] == 0.0
    assert math.isnan(cif(max(times) + 0.1, cause)[0])  # beyond follow-up


def test_aalen_johansen_rows_in_any_order_give_the_same_numbers():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 12, 300).astype(float)
    s = rng.choice([0, 1, 2], 300)
    ref = {c: S.aj_table(t, s, c, ALPHA) for c in (1, 2)}
    for _ in range(3):
        order = rng.permutation(300)
        for c in (1, 2):
            pd.testing.assert_frame_equal(S.aj_table(t[order], s[order], c, ALPHA), ref[c], check_exact=True)


def test_cox_events_per_parameter_warning():
    few = random_survival(25, 3, ties=False)
    few = few.assign(s2=(few["stage"] == "II").astype(float), s3=(few["stage"] == "III").astype(float))
    res = S.cox(few, "T", "E", ["x", "s2", "s3"], ALPHA, min_events_per_parameter=10)
    assert res.events == int(few["E"].sum()) and res.events < 30
    assert res.events_per_parameter == pytest.approx(res.events / 3)
    assert res.warning is not None and "per parameter" in res.warning
    assert S.cox(few, "T", "E", ["x"], ALPHA, min_events_per_parameter=1).warning is None


def test_cox_hazard_ratio_is_exp_coef_and_ci_is_wald():
    d = random_survival(120, 8, ties=True)
    res = S.cox(d, "T", "E", ["x"], ALPHA, EPP)
    row = res.summary.loc["x"]
    assert row["hr"] == pytest.approx(math.exp(row["coef"]))
    assert row["hr_low"] == pytest.approx(math.exp(row["coef"] - Z * row["se"]))
    assert row["p"] == pytest.approx(math.erfc(abs(row["coef"] / row["se"]) / math.sqrt(2)))
    assert 0 <= row["ph_p"] <= 1


def test_cox_constant_covariate_is_an_error():
    d = random_survival(40, 9).assign(c=1.0)
    with pytest.raises(ValueError, match="constant"):
        S.cox(d, "T", "E", ["x", "c"], ALPHA, EPP)


def test_bad_survival_input_is_rejected():
    with pytest.raises(ValueError):
        S.km([1, -2], [1, 0], ALPHA)
    with pytest.raises(ValueError):
        S.km([1, 2], [1, 3], ALPHA)
    with pytest.raises(ValueError):
        S.aalen_johansen([1, 2], [1, 5], ALPHA)


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


@pytest.mark.parametrize(
    "times, events, x, chisq",
    [
        # beta = 0, deaths at 1, 2, 3, x = 0, 1, 0. g = rank - mean rank of deaths = -1, 0, 1.
        # Residuals -1/3, 1/2, 0 -> u = 1/3. V_t (variance of x in the risk set): 2/9, 1/4, 0:
        # I = [[17/36, -2/9], [-2/9, 2/9]], det 1/18, [I^-1]_22 = 17/2 -> chisq = 17/18
        ([1, 2, 3], [1, 1, 1], [0, 1, 0], 17 / 18),
        # two deaths tied at 1: ranks 1.5, 1.5, 3, 4 (averaged), g = -1, -1, 1/2, 3/2.
        # t=1 (Efron, x 0,1 die, risk 0,1,0,1): means 1/2 and (2 - 1/2)/(4 - 1) = 1/2,
        # residuals -1/2, 1/2; V = 1/4 + 1/4. t=2: risk {0, 1}: residual -1/2, V = 1/4.
        # t=3: V = 0. u = -1 * 0 + 1/2 * -1/2 = -1/4; I11 = 3/4, I12 = -1/2 + 1/8 = -3/8,
        # I22 = 1/2 + 1/16 = 9/16; det 9/32, [I^-1]_22 = 8/3 -> chisq = 1/16 * 8/3 = 1/6
        ([1, 1, 2, 3], [1, 1, 1, 1], [0, 1, 0, 1], 1 / 6),
        # censored rows are ranked too (as R): 2+ has rank 2; deaths at 1 and 3 have ranks 1, 3,
        # mean 2, g = -1, 1. t=1 risk {0,1,0}: V = 2/9; t=3 risk {0}: V = 0, so
        # I = 2/9 [[1, -1], [-1, 1]] is singular: no test (NaN), not an error
        ([1, 2, 3], [1, 0, 1], [0, 1, 0], float("nan")),
    ],
)
def test_zph_rank_test_by_hand(times, events, x, chisq):
    """R's cox.zph(transform = "rank") statistic (R gives 17/18 and 1/6 for these, at
    coxph(init = 0, iter.max = 0))."""
    n = len(times)
    got = S.zph_rank_test(
        np.array(x, float)[:, None], np.array(times, float), np.array(events, bool), np.ones(n), np.zeros(1)
    )
    assert got == pytest.approx([chisq], rel=1e-12, nan_ok=True)


def test_cox_and_ph_test_do_not_depend_on_row_order():
    """Heavy ties (whole months): shuffling the rows changes no number of the Cox model,
    its PH test included (tied times share one averaged rank; rows are put in one order
    before fitting)."""
    d = random_survival(300, 12, ties=True)
    d = d.assign(s2=(d["stage"] == "II").astype(float), s3=(d["stage"] == "III").astype(float))
    assert d["T"].duplicated().sum() > 200
    ref = S.cox(d, "T", "E", ["x", "s2", "s3"], ALPHA, EPP).summary
    rng = np.random.default_rng(5)
    for _ in range(3):
        got = S.cox(d.iloc[rng.permutation(len(d))], "T", "E", ["x", "s2", "s3"], ALPHA, EPP).summary
        pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.parametrize(
    "times, status, cause, t, cif, var",
    [
        # Infinitesimal jackknife: var = sum_i (dF(t)/dw_i)^2 over the case weights w_i.
        # Times 0-4, status 1 0 2 1 0: F1(3) = w1/n0 + (1 - w1/n0)(1 - w3/n2)(w4/n3) with
        # n0 = w1+..+w5 = 5, n2 = w3+w4+w5 = 3, n3 = w4+w5 = 2. Derivatives (x 225):
        # 24, -6, -26, 34, -26 (they sum to 0) -> var = 3120 / 225^2 = 208/3375.
        ([0, 1, 2, 3, 4], [1, 0, 2, 1, 0], 1, 3, 7 / 15, 208 / 3375),
        # at the first time F = d/n and the jackknife gives the binomial p(1-p)/n: 1/5 4/5 / 5
        ([0, 1, 2, 3, 4], [1, 0, 2, 1, 0], 1, 0, 1 / 5, 4 / 125),
        # times 1-4, status 1 2 1 0: F1(3) = w1/n1 + (1 - w1/n1)(1 - w2/n2)(w3/n3) = 1/2;
        # derivatives 1/8, -1/8, 1/8, -1/8 -> var = 4/64 = 1/16
        ([1, 2, 3, 4], [1, 2, 1, 0], 1, 3, 1 / 2, 1 / 16),
        # F2(2) = (1 - w1/n1) w2/n2 = 1/4; derivatives -1/16, 3/16, -1/16, -1/16 -> 12/256
        ([1, 2, 3, 4], [1, 2, 1, 0], 2, 2, 1 / 4, 3 / 64),
    ],
)
def test_aalen_johansen_variance_and_ci_by_hand(times, status, cause, t, cif, var):
    tab = S.aj_table(times, status, cause, ALPHA)
    row = tab[tab["time"] == t].iloc[0]
    assert row["cif"] == pytest.approx(cif, abs=1e-15)
    assert row["se"] ** 2 == pytest.approx(var, rel=1e-12)
    # log(-log) CI: F ** exp(+-z se / (F |log F|)) (lower with +)
    c = Z * math.sqrt(var) / (cif * abs(math.log(cif)))
    assert row["lower"] == pytest.approx(cif ** math.exp(c), rel=1e-12)
    assert row["upper"] == pytest.approx(cif ** math.exp(-c), rel=1e-12)
    assert S.aalen_johansen(times, status, ALPHA)(t, cause) == (row["cif"], row["lower"], row["upper"])


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


def test_stratified_gray_test():
    """Gray's test with strata (cmprsk crstm; checked against R in test_r_crosscheck): one
    stratum is the plain test; strata split in two sum their scores and variances; a
    missing stratum leaves the row out; row order does not matter."""
    rng = np.random.default_rng(5)
    n = 80
    t = rng.integers(0, 15, n).astype(float)
    s = rng.choice([0, 1, 2], n)
    g = rng.choice(["x", "y", "z"], n)
    c = rng.choice(["A", "B"], n)
    plain = S.gray_test(t, s, g)
    one = S.gray_test(t, s, g, strata=["all"] * n)
    assert (one.statistic, one.p, one.df) == (pytest.approx(plain.statistic, rel=1e-12), pytest.approx(plain.p, rel=1e-12), 2)
    two = S.gray_test(t, s, g, strata=c)
    sa, va = S._gray_score_variance(t[c == "A"], np.where(s == 0, 0, np.where(s == 1, 1, 2))[c == "A"],
                                    pd.Categorical(g, categories=["x", "y", "z"]).codes[c == "A"], 3, 0.0)
    sb, vb = S._gray_score_variance(t[c == "B"], np.where(s == 0, 0, np.where(s == 1, 1, 2))[c == "B"],
                                    pd.Categorical(g, categories=["x", "y", "z"]).codes[c == "B"], 3, 0.0)
    want = (sa + sb) @ np.linalg.solve(va + vb, sa + sb)
    assert two.statistic == pytest.approx(want, rel=1e-12) and two.statistic != pytest.approx(plain.statistic)
    perm = rng.permutation(n)
    assert S.gray_test(t[perm], s[perm], g[perm], strata=c[perm]).statistic == pytest.approx(two.statistic, rel=1e-10)
    cm = pd.Series(c, dtype=object)
    cm[:4] = None
    dropped = S.gray_test(t, s, g, strata=cm)
    assert dropped.n_dropped == 4
    assert dropped.statistic == pytest.approx(S.gray_test(t[4:], s[4:], g[4:], strata=c[4:]).statistic, rel=1e-12)
    # a stratum whose patients are all censored adds nothing
    cat = np.concatenate
    extra = S.gray_test(cat([t, [3.0, 4.0]]), cat([s, [0, 0]]), cat([g, ["x", "y"]]), strata=cat([c, ["C", "C"]]))
    assert extra.statistic == pytest.approx(two.statistic, rel=1e-12)
    with pytest.raises(ValueError, match="strata differ in length"):
        S.gray_test(t, s, g, strata=c[:-1])


def test_aalen_johansen_ci_undefined_at_0_and_1():
    tab = S.aj_table([1, 2, 3], [1, 1, 1], 1, ALPHA)  # F = 1/3, 2/3, 1
    assert tab["cif"].iloc[-1] == 1.0 and tab[["lower", "upper"]].iloc[-1].isna().all()
    assert S.aj_table([1, 2], [2, 0], 1, ALPHA)[["lower", "upper"]].isna().all().all()  # F = 0
