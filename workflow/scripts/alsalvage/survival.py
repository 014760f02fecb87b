"""Time-to-event statistics on ADTTE-style data (AVAL months, event indicator 1 = event).

Conventions (docs/methods.md, section "Statistics"):
- Kaplan-Meier with Greenwood variance and the log(-log) ("exponential Greenwood")
  transform for the pointwise survival CI, as lifelines computes it and as R's
  survfit(conf.type = "log-log") does.
- Quantiles (the median) follow R's survival package (quantile.survfit / findq): the
  median is the first time S(t) <= 0.5, except that when S(t) equals 0.5 (within
  sqrt(machine eps)) over a flat interval, the median is the midpoint of that interval
  (or of the interval up to the last follow-up time when the curve ends at 0.5).
  lifelines' median_survival_times takes the left end of the interval instead; the
  project uses R's convention so that its medians equal R's. The median's CI applies the
  same rule to the lower and upper survival-CI curves.
- Survival at t: the KM step function at t (NaN when t is beyond the last follow-up).
- Median follow-up: reverse Kaplan-Meier (censoring as the event).
- Log-rank: lifelines logrank_test / multivariate_logrank_test (chi-square, as survdiff).
- Cox: lifelines CoxPHFitter (Efron ties) with tight Newton-Raphson tolerances; Wald p;
  Schoenfeld-residual test with the rank transform.
- Competing risks: an exact Aalen-Johansen estimator (aj_table; ties kept, no jitter), its
  infinitesimal-jackknife variance and log(-log) CI, as R's survfit for multi-state data.
- Comparison of cumulative incidence curves: Gray's K-sample test (gray_test), as R's
  cmprsk::cuminc with rho = 0 (0.7 s for 100,000 patients in 3 groups).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TOL = math.sqrt(np.finfo(float).eps)
COX_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-14, "max_steps": 500}
KM_METHOD = "Kaplan-Meier, Greenwood variance, log(-log) transformed 95% CI"


def _arrays(durations, events):
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=float)
    if t.shape != e.shape:
        raise ValueError("durations and events differ in length")
    if np.isnan(t).any() or np.isnan(e).any():
        raise ValueError("durations/events contain missing values")
    if (t < 0).any():
        raise ValueError("negative durations")
    if not np.isin(e, (0, 1)).all():
        raise ValueError("events must be 0/1")
    return t, e.astype(int)


def km_table(durations, events, alpha: float) -> pd.DataFrame:
    """The KM curve (lifelines KaplanMeierFitter) at every distinct observed time:
    time, n_risk, n_event, surv, lower, upper.

    lifelines uses the Greenwood variance and the log(-log) transform for the CI. Where
    S = 0 that CI is undefined: lifelines reports 0, R's survfit NA; NaN is used here (as
    R), so that a median CI limit the curve never reaches is "NR", not the last time."""
    from lifelines import KaplanMeierFitter

    t, e = _arrays(durations, events)
    if len(t) == 0:
        return pd.DataFrame(columns=["time", "n_risk", "n_event", "surv", "lower", "upper"], dtype=float)
    kmf = KaplanMeierFitter(alpha=alpha).fit(t, e)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    et = kmf.event_table
    tab = pd.DataFrame(
        {
            "time": sf.index.to_numpy(dtype=float),
            "n_risk": et["at_risk"].to_numpy(),
            "n_event": et["observed"].to_numpy(),
            "surv": sf.to_numpy(dtype=float),
            "lower": ci.iloc[:, 0].to_numpy(dtype=float),
            "upper": ci.iloc[:, 1].to_numpy(dtype=float),
        }
    )
    # lifelines' timeline starts at 0 even when nobody has time 0: keep observed times only
    tab = tab[np.isin(tab["time"], t)].reset_index(drop=True)
    zero = tab["surv"] == 0
    tab.loc[zero, ["lower", "upper"]] = np.nan
    return tab


def quantile_time(times, surv, p: float = 0.5, first_time: float = 0.0, tol: float = TOL) -> float:
    """Time at which 1 - S(t) reaches p (p = 0.5: the median), in R's convention (findq).

    `times`/`surv` are the curve at each distinct observed time (censoring times included),
    the curve being 1 before the first. Returns NaN when the curve never reaches 1 - p
    (median not reached)."""
    x = np.concatenate([[first_time], np.asarray(times, dtype=float)])
    y = np.concatenate([[0.0], 1 - np.asarray(surv, dtype=float)])
    xmax = x[-1]
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    # drop repeated values of y, first occurrence kept (NaN repeats NaN), as R's duplicated()
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    last = y[-1]
    ok = ~np.isnan(y)
    xo, yo = x[ok], y[ok]

    def first_at_least(target_y):
        j = np.searchsorted(target_y, p, side="left")
        return None if j >= len(target_y) else j

    i1 = first_at_least(yo + tol)
    i2 = first_at_least(yo - tol)
    if p == 0:
        return float(x[0])
    if not np.isnan(last) and abs(p - last) < tol:
        return float((xo[i1] + xmax) / 2) if i1 is not None else float("nan")
    if i1 is None or i2 is None:
        return float("nan")
    return float((xo[i1] + xo[i2]) / 2)


def km_median(durations, events) -> float:
    """The Kaplan-Meier median (:func:`quantile_time`, R's convention; NaN if not
    reached) from a product-limit curve computed here with numpy alone: no lifelines fit,
    so that a caller evaluating many curves (the synthetic cohort's calibration) uses
    the statistics stage's median rule, not a copy of it."""
    t, e = _arrays(durations, events)
    if len(t) == 0:
        return float("nan")
    order = np.argsort(t, kind="mergesort")
    t, e = t[order], e[order]
    times, first = np.unique(t, return_index=True)
    deaths = np.add.reduceat(e, first)
    at_risk = t.size - first
    return quantile_time(times, np.cumprod(1.0 - deaths / at_risk))


@dataclass(frozen=True)
class KMSummary:
    n: int
    events: int
    median: float
    median_low: float
    median_high: float
    table: pd.DataFrame = field(repr=False)

    def at(self, t: float) -> tuple[float, float, float]:
        """Survival and CI at time t (the step function); NaN beyond the last follow-up."""
        tab = self.table
        if len(tab) == 0 or t > tab["time"].max():
            return (float("nan"),) * 3
        before = tab[tab["time"] <= t]
        if before.empty:
            return 1.0, 1.0, 1.0
        row = before.iloc[-1]
        return float(row["surv"]), float(row["lower"]), float(row["upper"])


def km(durations, events, alpha: float) -> KMSummary:
    """KM curve, median and its CI (R's quantile convention, log(-log) CI curves)."""
    t, e = _arrays(durations, events)
    tab = km_table(t, e, alpha)
    return KMSummary(
        n=int(len(t)),
        events=int(e.sum()),
        median=quantile_time(tab["time"], tab["surv"]),
        median_low=quantile_time(tab["time"], tab["lower"]),
        median_high=quantile_time(tab["time"], tab["upper"]),
        table=tab,
    )


def lifelines_median(durations, events, alpha: float) -> tuple[float, float, float]:
    """The same median by lifelines (smallest t with S(t) <= 0.5) and its CI from
    median_survival_times on the CI frame - kept for the documented comparison."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter(alpha=alpha).fit(durations, events)
    ci = median_survival_times(kmf.confidence_interval_)
    return float(kmf.median_survival_time_), float(ci.iloc[0, 0]), float(ci.iloc[0, 1])


def reverse_km(durations, events, alpha: float) -> KMSummary:
    """Median follow-up by reverse Kaplan-Meier: censoring is the event, deaths censor."""
    t, e = _arrays(durations, events)
    return km(t, 1 - e, alpha)


@dataclass(frozen=True)
class TestResult:
    statistic: float
    df: int
    p: float
    n_dropped: int = 0  # rows left out of the test (missing group label)
    note: str | None = None  # why the test is not estimable (p NaN), else None


def logrank(durations, events, groups) -> TestResult:
    """Log-rank test across 2 or more groups (chi-square with k - 1 df, as R's survdiff).

    Rows whose group label is missing (None, NaN, pd.NA) are left out, as survdiff's
    na.omit does, and counted in n_dropped: a missing label is not a group of its own.
    (A label that is the string "nan" is a label; pass missing values as such.)"""
    from lifelines.statistics import multivariate_logrank_test

    t, e = _arrays(durations, events)
    labels = pd.Series(groups, dtype=object).reset_index(drop=True)
    if len(labels) != len(t):
        raise ValueError("durations and groups differ in length")
    missing = labels.isna().to_numpy()
    dropped = int(missing.sum())
    t, e, g = t[~missing], e[~missing], labels[~missing].to_numpy()
    k = len(pd.unique(g))
    if k < 2:
        return TestResult(float("nan"), 0, float("nan"), dropped, "not estimable: fewer than 2 groups")
    if not e.any():  # 0/0: R's survdiff gives p = NA
        return TestResult(float("nan"), int(k - 1), float("nan"), dropped, "not estimable: no events")
    res = multivariate_logrank_test(t, g, e)
    return TestResult(float(res.test_statistic), int(k - 1), float(res.p_value), dropped)


def logrank_stratified(durations, events, groups, strata) -> TestResult:
    """Stratified log-rank test (R's ``survdiff(Surv(t, e) ~ group + strata(s))``): the
    observed-minus-expected counts and their hypergeometric variances are computed
    within each stratum and summed; chi-square (O - E)' V^- (O - E) with k - 1 df over
    the k groups. Rows with a missing group or stratum are left out (n_dropped)."""
    from scipy.stats import chi2

    t, e = _arrays(durations, events)
    g = pd.Series(groups, dtype=object).reset_index(drop=True)
    st = pd.Series(strata, dtype=object).reset_index(drop=True)
    if not (len(g) == len(st) == len(t)):
        raise ValueError("durations, groups and strata differ in length")
    keep = ~(g.isna() | st.isna()).to_numpy()
    dropped = int((~keep).sum())
    t, e, g, st = t[keep], e[keep].astype(bool), g[keep].to_numpy(), st[keep].to_numpy()
    levels = pd.unique(g)
    k = len(levels)
    if k < 2:
        return TestResult(float("nan"), 0, float("nan"), dropped, "not estimable: fewer than 2 groups")
    if not e.any():
        return TestResult(float("nan"), int(k - 1), float("nan"), dropped, "not estimable: no events")
    gi = pd.Index(levels).get_indexer(g)
    o_e = np.zeros(k)
    var = np.zeros((k, k))
    for s_ in pd.unique(st):
        m = st == s_
        ts, es, gs = t[m], e[m], gi[m]
        for time in np.unique(ts[es]):
            risk = ts >= time
            n = risk.sum()
            dead = risk & (ts == time) & es
            d = dead.sum()
            n_g = np.bincount(gs[risk], minlength=k).astype(float)
            d_g = np.bincount(gs[dead], minlength=k).astype(float)
            o_e += d_g - d * n_g / n
            if n > 1:
                f = d * (n - d) / (n - 1) / n
                var += f * (np.diag(n_g) - np.outer(n_g, n_g) / n)
    x = o_e[:-1]
    v = var[:-1, :-1]
    stat = float(x @ np.linalg.pinv(v) @ x)
    df = int(np.linalg.matrix_rank(v))
    return TestResult(stat, df, float(chi2.sf(stat, df)) if df else float("nan"), dropped)


def logrank_pair(durations_a, events_a, durations_b, events_b) -> TestResult:
    """Two-group log-rank test (lifelines logrank_test)."""
    from lifelines.statistics import logrank_test

    ta, ea = _arrays(durations_a, events_a)
    tb, eb = _arrays(durations_b, events_b)
    if len(ta) == 0 or len(tb) == 0:
        return TestResult(float("nan"), 1, float("nan"), note="not estimable: a group is empty")
    if not (ea.any() or eb.any()):  # 0/0: R's survdiff gives p = NA
        return TestResult(float("nan"), 1, float("nan"), note="not estimable: no events")
    res = logrank_test(ta, tb, event_observed_A=ea, event_observed_B=eb)
    return TestResult(float(res.test_statistic), 1, float(res.p_value))


@dataclass(frozen=True)
class CoxResult:
    summary: pd.DataFrame  # per term: coef, se, z, p, hr, hr_low, hr_high, ph_p
    n: int
    events: int
    n_parameters: int
    events_per_parameter: float
    warning: str | None


def cox(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: list[str],
    alpha: float,
    min_events_per_parameter: float,
    strata: str | None = None,
) -> CoxResult:
    """Cox PH model (Efron ties) on complete cases; Wald tests; Schoenfeld PH test (rank).

    Columns of `covariates` must be numeric (dummy-code categories beforehand). A term
    constant in the data cannot be estimated and stops with an error naming it.
    ``strata``: a column whose levels get baseline hazards of their own (lifelines
    ``strata=``, as R's ``coxph(... + strata(s))``); the PH test is then not computed
    (ph_p missing: the rank test here pools the risk sets)."""
    from lifelines import CoxPHFitter
    from scipy.stats import norm

    if strata is not None:
        data = df[[duration_col, event_col, *covariates, strata]].dropna()
        codes = pd.factorize(data[strata].astype(str), sort=True)[0]
        data = data.drop(columns=strata).astype(float).assign(**{strata: codes.astype(float)})
    else:
        data = df[[duration_col, event_col, *covariates]].dropna().astype(float)
    # one row order whatever the input's (identical rows are interchangeable), so that
    # sums, the fit and the PH test come out the same to the last bit
    data = data.sort_values(list(data.columns), kind="mergesort").reset_index(drop=True)
    constant = [c for c in covariates if data[c].nunique() < 2]
    if constant:
        raise ValueError(f"Cox model: covariate(s) {constant} constant in the {len(data)} complete cases")
    events = int(data[event_col].sum())
    if events == 0:
        raise ValueError(f"Cox model: no events in the {len(data)} complete cases")
    n_par = len(covariates)
    epp = events / n_par if n_par else float("nan")
    warning = None
    if epp < min_events_per_parameter:
        warning = (
            f"{events} events for {n_par} parameters ({epp:.1f} per parameter, "
            f"fewer than {min_events_per_parameter:g}): estimates may be unstable"
        )
    cph = CoxPHFitter(alpha=alpha)  # Efron ties is lifelines' only (default) method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if strata is None:
            cph.fit(data, duration_col=duration_col, event_col=event_col, fit_options=COX_FIT_OPTIONS)
            ph_p = ph_test_rank(cph, data)
        else:
            cph.fit(data, duration_col=duration_col, event_col=event_col, strata=[strata],
                    fit_options=COX_FIT_OPTIONS)  # fmt: skip
            ph_p = pd.Series(np.nan, index=cph.params_.index)
    s = cph.summary
    z = norm.ppf(1 - alpha / 2)
    with np.errstate(over="ignore"):  # a diverging coefficient gives HR = inf, reported as NR
        out = _cox_table(s, z)
    out["ph_p"] = ph_p.reindex(out.index).to_numpy()
    out.index.name = "term"
    diverging = out.index[(out["coef"].abs() > 10) | ~np.isfinite(out["se"])].tolist()
    if diverging:  # monotone likelihood (e.g. no events in a level): the HR is not estimable
        msg = f"coefficient(s) {diverging} diverge (monotone likelihood): HR not estimable"
        warning = f"{warning}; {msg}" if warning else msg
    return CoxResult(out, int(len(data)), events, n_par, float(epp), warning)


def schoenfeld_residuals(X: np.ndarray, T: np.ndarray, E: np.ndarray, w: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Schoenfeld residuals (Efron ties) of the deaths, rows sorted by time as given.

    For a death i at time t with m tied deaths, the residual is x_i - xbar(t), where
    xbar(t) = (1/m) sum_{l=0}^{m-1} (S1_R - (l/m) S1_D) / (S0_R - (l/m) S0_D), with S0 and S1
    the sums of w exp(x beta) and of w exp(x beta) x over the risk set R (time >= t) and
    over the tied deaths D (Therneau & Grambsch 2000, sec. 6.2; the quantity lifelines'
    CoxPHFitter computes row by row with a growing array, quadratic in the cohort size:
    17 s at 100,000 patients). Here every sum is a cumulative or a segment sum."""
    n, d = X.shape
    score = w * np.exp(X @ beta)
    phi_x = score[:, None] * X
    # risk sets: sums over rows with time >= t, read at the first row of each time
    s0_risk = np.cumsum(score[::-1])[::-1]
    s1_risk = np.cumsum(phi_x[::-1], axis=0)[::-1]
    starts = np.flatnonzero(np.r_[True, T[1:] != T[:-1]])
    e = E.astype(bool)
    m = np.add.reduceat(e.astype(np.int64), starts)
    s0_tie = np.add.reduceat(np.where(e, score, 0.0), starts)
    s1_tie = np.add.reduceat(np.where(e[:, None], phi_x, 0.0), starts, axis=0)
    has = m > 0
    g = np.repeat(np.flatnonzero(has), m[has])  # one entry per death: its time group
    first = np.cumsum(m[has]) - m[has]
    ell = np.arange(len(g)) - np.repeat(first, m[has])  # l = 0..m-1 within each group
    frac = (ell / m[g])[:, None]
    numer = s1_risk[starts[g]] - frac * s1_tie[g]
    denom = s0_risk[starts[g]][:, None] - frac * s0_tie[g][:, None]
    terms = numer / (denom * m[g][:, None])
    xbar = np.add.reduceat(terms, first, axis=0) if len(g) else np.zeros((0, d))
    group_of_row = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    rows = np.flatnonzero(e)
    xbar_by_group = np.zeros((len(starts), d))
    xbar_by_group[has] = xbar
    return X[rows] - xbar_by_group[group_of_row[rows]]


def zph_rank_test(X: np.ndarray, T: np.ndarray, E: np.ndarray, w: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Proportional-hazards score test per covariate with the rank time transform, as R's
    cox.zph(fit, transform = "rank") computes it (survival >= 3.0; Efron ties). Rows must
    be sorted by time. Returns the chi-square (1 df) of each column of X.

    g(t) = rank of t among all observed times (ties averaged, as R's rank()), centred on
    its mean over the deaths: it depends only on the time, never on the row order. The
    test of covariate j is the score test of adding x_j g(t) to the model at beta:
    u_j = sum over deaths of g(t_i) (x_ij - xbar_j(t_i)) (Schoenfeld residuals, Efron),
    and the information of (x, x_j g(t)) is sum_t [V_t, g V_t; g V_t, g^2 V_t] with V_t
    the Efron contribution of the time to the Cox information,
    V_t = w_bar sum_{l=0}^{m-1} (S2_l / S0_l - S1_l S1_l' / S0_l^2), S_l = S_R - (l/m) S_D;
    chisq_j = u_j^2 [I^-1]_{jj} over the p + 1 parameters (beta's score is 0 there);
    NaN when that information matrix is singular."""
    from scipy.stats import rankdata

    n, p = X.shape
    e = E.astype(bool)
    g_row = rankdata(T, method="average")
    g_row = g_row - g_row[e].mean()
    Xc = X - X.mean(axis=0)  # R centres the covariates (numerical stability only)
    score = w * np.exp(Xc @ beta)
    s1 = score[:, None] * Xc
    s2 = s1[:, :, None] * Xc[:, None, :]
    starts = np.flatnonzero(np.r_[True, T[1:] != T[:-1]])
    r0 = np.cumsum(score[::-1])[::-1][starts]
    r1 = np.cumsum(s1[::-1], axis=0)[::-1][starts]
    r2 = np.cumsum(s2[::-1], axis=0)[::-1][starts]
    m = np.add.reduceat(e.astype(np.int64), starts)
    d0 = np.add.reduceat(np.where(e, score, 0.0), starts)
    d1 = np.add.reduceat(np.where(e[:, None], s1, 0.0), starts, axis=0)
    d2 = np.add.reduceat(np.where(e[:, None, None], s2, 0.0), starts, axis=0)
    dw = np.add.reduceat(np.where(e, w, 0.0), starts)
    has = m > 0
    grp = np.repeat(np.flatnonzero(has), m[has])  # one entry per death: its time group
    first = np.cumsum(m[has]) - m[has]
    frac = (np.arange(len(grp)) - np.repeat(first, m[has])) / m[grp]
    s0l = r0[grp] - frac * d0[grp]
    mean = (r1[grp] - frac[:, None] * d1[grp]) / s0l[:, None]
    cov = (r2[grp] - frac[:, None, None] * d2[grp]) / s0l[:, None, None] - mean[:, :, None] * mean[:, None, :]
    wbar = (dw / np.maximum(m, 1))[has]
    V = np.add.reduceat(cov, first, axis=0) * wbar[:, None, None]  # per death time
    g = g_row[starts][has]
    u = (w[e] * g_row[e]) @ schoenfeld_residuals(X, T, e, w, beta)
    i11, i12, i22 = V.sum(axis=0), (g[:, None, None] * V).sum(axis=0), ((g**2)[:, None, None] * V).sum(axis=0)
    stat = np.empty(p)
    for j in range(p):
        imat = np.zeros((p + 1, p + 1))
        imat[:p, :p] = i11
        imat[:p, p] = imat[p, :p] = i12[:, j]
        imat[p, p] = i22[j, j]
        rhs = np.zeros(p + 1)
        rhs[p] = u[j]
        try:
            stat[j] = rhs @ np.linalg.solve(imat, rhs)
        except np.linalg.LinAlgError:  # x_j g(t) not estimable (e.g. one informative time)
            stat[j] = np.nan
    return stat


def ph_test_rank(cph, data: pd.DataFrame) -> pd.Series:
    """Proportional-hazards test p per covariate of a fitted lifelines CoxPHFitter: R's
    cox.zph(transform = "rank") score test (zph_rank_test), equal to R to 1e-6
    (tests/test_r_crosscheck.py). Row order changes no number: tied times share one
    averaged rank. (lifelines' proportional_hazard_test ranks with a cumulative sum, so
    its p moves with the order of tied rows; it also uses the pre-2019 approximation.)"""
    from scipy.stats import chi2

    X, T, E, W = cph._preprocess_dataframe(data)[:4]  # lifelines' design, sorted by time
    stat = zph_rank_test(
        X.to_numpy(dtype=float), T.to_numpy(dtype=float), E.to_numpy(dtype=bool), W.to_numpy(dtype=float),
        cph.params_.to_numpy(dtype=float),
    )  # fmt: skip
    return pd.Series(chi2.sf(stat, 1), index=cph.params_.index)


def _cox_table(s: pd.DataFrame, z: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "coef": s["coef"],
            "se": s["se(coef)"],
            "z": s["z"],
            "p": s["p"],
            "hr": np.exp(s["coef"]),
            "hr_low": np.exp(s["coef"] - z * s["se(coef)"]),
            "hr_high": np.exp(s["coef"] + z * s["se(coef)"]),
        }
    )


def _competing_arrays(durations, status):
    t = np.asarray(durations, dtype=float)
    s = np.asarray(status, dtype=float)
    if t.shape != s.shape or t.ndim != 1:
        raise ValueError("durations and status differ in length")
    if np.isnan(t).any() or np.isnan(s).any():
        raise ValueError("durations/status contain missing values")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("durations must be finite and non-negative")
    if not np.isin(s, (0, 1, 2)).all():
        raise ValueError("status must be 0 (censored), 1 (event) or 2 (competing)")
    return t, s.astype(int)


AJ_COLUMNS = ["time", "n_risk", "n_event", "n_competing", "n_censor", "cif", "se", "lower", "upper"]


def aj_table(durations, status, cause: int, alpha: float) -> pd.DataFrame:
    """Exact Aalen-Johansen cumulative incidence of `cause` (1 or 2; status 0 = censored)
    at every distinct observed time, with its infinitesimal-jackknife standard error and
    log(-log) confidence limits: the numbers of R's
    survfit(Surv(time, factor(status, 0:2)) ~ 1, conf.type = "log-log") (multi-state).

    With distinct times t_1 < ... < t_J, n_j at risk (time >= t_j), d_j events of either
    cause and d_kj of this cause at t_j, and S the Kaplan-Meier curve of any event,
        F(t_j) = sum_{l <= j} S(t_{l-1}) d_kl / n_l        (S(t_0) = 1).
    Ties are exact (no jitter) and events at time 0 count (F(0) = d_k(0) / n).

    Variance: the infinitesimal jackknife, sum_i U_i(t)^2 with U_i the derivative of F(t)
    with respect to subject i's case weight (R's default, and only, variance for
    multi-state survfit without clusters). Writing A_j = sum_{l<=j} d_l/(n_l (n_l - d_l))
    (the Greenwood sum), B_j = sum_{l<=j} S(t_{l-1}) d_kl / n_l^2,
    C_j = sum_{l<=j} (F(t_l) - F(t_{l-1})) A_{l-1}, D = C - B and h_j = S(t_{j-1}) / n_j,
    a subject leaving at t_e (delta = 1 for an event of either cause) has
        U(t_j) = D_j + [event of this cause at t_j] h_j                         (e >= j)
        U(t_j) = (A_e - delta/(n_e - d_e)) (F(t_j) - F(t_e)) + D_e
                 + [event of this cause] h_e                                   (e < j),
    so the sum over subjects is a cumulative sum (linear in the cohort size). The CI is
    F^exp(+-z se / (F log F)), as R's "log-log"; NaN where F is 0 or 1 (as R's NA)."""
    from scipy.stats import norm

    if cause not in (1, 2):
        raise ValueError("cause must be 1 or 2")
    t, s = _competing_arrays(durations, status)
    if len(t) == 0:
        return pd.DataFrame(columns=AJ_COLUMNS, dtype=float)
    order = np.lexsort((s, t))  # one summation order whatever the row order
    t, s = t[order], s[order]
    times, e = np.unique(t, return_inverse=True)
    J = len(times)
    event = s != 0
    mine = s == cause
    n_exit = np.bincount(e, minlength=J).astype(float)
    d = np.bincount(e, weights=event, minlength=J)
    dk = np.bincount(e, weights=mine, minlength=J)
    n = np.cumsum(n_exit[::-1])[::-1]
    surv = np.cumprod(1 - d / n)
    lag = np.r_[1.0, surv[:-1]]
    h = lag / n
    F = np.cumsum(h * dk)
    left = n - d  # 0 only at a last time where everyone at risk has an event
    g = np.divide(1.0, left, out=np.zeros(J), where=left > 0)
    A = np.cumsum(d * g / n)  # that last time's term is never used (no later time)
    D = np.cumsum(np.diff(np.r_[0.0, F]) * np.r_[0.0, A[:-1]]) - np.cumsum(h * dk / n)
    var = n * D**2 + dk * (2 * D * h + h**2)  # subjects still at risk at t_j
    a = A[e] - np.where(event, g[e], 0.0)  # subjects who left before t_j
    b = D[e] + np.where(mine, h[e], 0.0) - a * F[e]

    def before(x):  # sums over subjects leaving strictly before each time
        return np.r_[0.0, np.cumsum(np.bincount(e, weights=x, minlength=J))[:-1]]

    var = var + F**2 * before(a * a) + 2 * F * before(a * b) + before(b * b)
    se = np.sqrt(np.clip(var, 0.0, None))
    z = norm.ppf(1 - alpha / 2)
    inner = (F > 0) & (F < 1)
    Fi = np.where(inner, F, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = z * se / (Fi * np.log(Fi))  # negative: log F < 0
    lower = np.where(inner, np.exp(-np.exp(np.log(-np.log(Fi)) - step)), np.nan)
    upper = np.where(inner, np.exp(-np.exp(np.log(-np.log(Fi)) + step)), np.nan)
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": n,
            "n_event": dk,
            "n_competing": d - dk,
            "n_censor": n_exit - d,
            "cif": F,
            "se": se,
            "lower": lower,
            "upper": upper,
        }
    )


@dataclass(frozen=True)
class CumulativeIncidence:
    """Aalen-Johansen curves of both causes; call it as cif(t, cause) -> (estimate, low, high)."""

    tables: dict[int, pd.DataFrame]
    last_time: float

    def __call__(self, time: float, cause: int = 1) -> tuple[float, float, float]:
        """The step function at `time` (right-continuous); NaN beyond the last follow-up,
        0 with no CI before the first event of the cause."""
        tab = self.tables[cause]
        if len(tab) == 0 or not time <= self.last_time:
            return (float("nan"),) * 3
        i = int(np.searchsorted(tab["time"].to_numpy(), time, side="right")) - 1
        if i < 0 or tab["cif"].iat[i] == 0:
            return 0.0, float("nan"), float("nan")
        return float(tab["cif"].iat[i]), float(tab["lower"].iat[i]), float(tab["upper"].iat[i])


def aalen_johansen(durations, status, alpha: float) -> CumulativeIncidence:
    """Cumulative incidence of the event (status 1) with a competing event (status 2),
    status 0 censored: the exact Aalen-Johansen estimator of `aj_table` for both causes.

    Returns a callable cif(t, cause) -> (estimate, low, high); cif.tables[cause] is the
    whole curve (for figures)."""
    t, s = _competing_arrays(durations, status)
    tables = {cause: aj_table(t, s, cause, alpha) for cause in (1, 2)}
    return CumulativeIncidence(tables, float(t.max()) if len(t) else float("nan"))


def gray_test(durations, status, groups, cause: int = 1, rho: float = 0.0, strata=None) -> TestResult:
    """Gray's K-sample test (Gray 1988, Ann Stat 16:1141) that the cumulative incidence of
    `cause` is the same in every group; status 0 = censored, any other code = an event of
    that cause (the others compete). The statistic and p equal R's
    cmprsk::cuminc(time, status, group, rho = rho)$Tests for that cause (cmprsk 2.2, its
    routine crst, one stratum): score s_k = sum_t w(t) (d_k - n_k (1 - F_k(t-)) / S_k(t-)
    * d / sum_r n_r (1 - F_r(t-)) / S_r(t-)) for the first K - 1 groups, with w = (1 -
    F(t-))^rho, F_k and S_k the group's cumulative incidence and all-cause Kaplan-Meier,
    F the pooled-subdistribution estimate; variance by Gray's formula with its tie
    corrections; statistic s' V^-1 s, chi-square with K - 1 df. Written with cumulative
    sums over the distinct event times, so no number depends on row order.

    ``strata`` (one label per row, e.g. the centre): the stratified test of
    cmprsk::cuminc(..., strata = ) (its routine crstm): score vector and variance matrix
    computed within each stratum (groups as over all rows) and summed before s' V^-1 s.
    Rows with a missing stratum are left out (as cuminc's na.omit; n_dropped).

    A missing group label is an error (never a group of its own). Fewer than 2 groups:
    statistic NaN, df 0. A singular V (cmprsk reports -1): statistic and p NaN."""
    from scipy.stats import chi2

    t = np.asarray(durations, dtype=float)
    s = np.asarray(status)
    g = pd.Series(np.asarray(groups, dtype=object))
    if t.shape != s.shape or len(g) != len(t):
        raise ValueError("durations, status and groups differ in length")
    dropped = 0
    if strata is not None:
        st = pd.Series(np.asarray(strata, dtype=object))
        if len(st) != len(t):
            raise ValueError("durations and strata differ in length")
        keep = st.notna().to_numpy()
        dropped = int((~keep).sum())
        t, s, g, st = t[keep], s[keep], g[keep].reset_index(drop=True), st[keep].to_numpy()
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError("durations missing or negative")
    if g.isna().any():
        raise ValueError(f"{int(g.isna().sum())} missing group label(s): drop them before the test")
    levels = sorted(pd.unique(g))
    k = len(levels)
    if k < 2:
        return TestResult(float("nan"), 0, float("nan"), dropped, "not estimable: fewer than 2 groups")
    gi = pd.Categorical(g, categories=levels).codes
    code = np.where(s == 0, 0, np.where(s == cause, 1, 2))
    if not (code == 1).any():  # cmprsk::crstm gives a zero variance: p NA
        return TestResult(float("nan"), k - 1, float("nan"), dropped, "not estimable: no events of interest")
    if strata is None:
        sc, vv = _gray_score_variance(t, code, gi, k, rho)
    else:
        sc, vv = np.zeros(k - 1), np.zeros((k - 1, k - 1))
        for level in pd.unique(st):
            m = st == level
            s_, v_ = _gray_score_variance(t[m], code[m], gi[m], k, rho)
            sc, vv = sc + s_, vv + v_
    if not np.isfinite(vv).all() or np.linalg.matrix_rank(vv) < k - 1:
        return TestResult(float("nan"), k - 1, float("nan"), dropped, "not estimable: singular variance")
    stat = float(sc @ np.linalg.solve(vv, sc))
    return TestResult(stat, k - 1, float(chi2.sf(stat, k - 1)), dropped)


def _gray_score_variance(t, code, gi, k: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Gray's score vector (first K - 1 groups) and its variance matrix over the rows
    given (one stratum: cmprsk's crst); code 0 censored, 1 event of interest, 2 competing;
    gi the group index 0..K-1. No event in the rows: zeros."""
    if not (code > 0).any():
        return np.zeros(k - 1), np.zeros((k - 1, k - 1))
    times, ti = np.unique(t, return_inverse=True)

    def per_time(mask):  # counts per (distinct time, group)
        out = np.zeros((len(times), k))
        np.add.at(out, (ti[mask], gi[mask]), 1.0)
        return out

    d1, d2, allc = per_time(code == 1), per_time(code == 2), per_time(np.ones(len(t), bool))
    rs = np.cumsum(allc[::-1], axis=0)[::-1]  # at risk: time >= t
    keep = (d1 + d2).sum(axis=1) > 0  # only event times change anything
    d1, d2, rs = d1[keep], d2[keep], rs[keep]
    pos = rs > 0
    safe = np.where(pos, rs, 1.0)
    td = d1 + d2
    skm = np.cumprod(np.where(pos, (rs - td) / safe, 1.0), axis=0)  # right-continuous KM
    skmm = np.vstack([np.ones((1, k)), skm[:-1]])  # left-continuous
    f1 = np.cumsum(np.where(pos, skmm * d1 / safe, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, k)), f1[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(pos, rs / skmm, 0.0)
        tr = h.sum(axis=1)
        tq = np.where(pos, rs * (1 - f1m) / skmm, 0.0).sum(axis=1)
        nd1, nd2 = d1.sum(axis=1), d2.sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.r_[0.0, f[:-1]]
        fb = (1 - fm) ** rho
        a = fb[:, None, None] * (h[:, :, None] * np.eye(k) - h[:, :, None] * h[:, None, :] / tr[:, None, None])
        c = np.cumsum(a * (nd1 / (tr * (1 - fm)))[:, None, None], axis=0)
        score = (fb[:, None] * np.where(pos, d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None]), 0.0)).sum(axis=0)
        # events of interest (cmprsk's first variance loop), group k at risk
        t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(pos & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * safe), 0.0)
        b = a - t4[:, None, :] * c  # b[t, i, k]
        v3 = (t4**2 * t3).sum(axis=0)
        v2 = (b * (t4 * t3)[:, None, :]).sum(axis=0)
        v = np.einsum("tik,tjk,tk->ij", b, b, t3)
        # competing events (second loop), group k with competing events and S_k(t) > 0
        ok2 = (skm > 0) & (d2 > 0)
        u4 = np.where(ok2, (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
        u5 = np.where(d2 > 1, 1 - (d2 - 1) / np.where(rs > 1, rs - 1, 1.0), 1.0)
        u3 = np.where(ok2, u5 * skmm**2 * d2 / safe**2, 0.0)
        w = u4**2 * u3
        v3 = v3 + w.sum(axis=0)
        v2 = v2 - (c * w[:, None, :]).sum(axis=0)
        v = v + np.einsum("tik,tjk,tk->ij", c, c, w)
    cf = c[-1]
    v = v + (cf * v3) @ cf.T + cf @ v2.T + v2 @ cf.T
    return score[: k - 1], v[: k - 1, : k - 1]
