"""Cross-check of the survival statistics against R's survival package (Rscript).

KM median and its CI (log-log transform), KM survival at fixed times, log-rank chi-square
and p, Cox coefficients, SE and Wald p (Efron ties) and the cox.zph rank-transform p must
agree with R to 1e-6, on seeded random cohorts (with and without tied times), on the
median-at-S=0.5 cases and on the demo cohort. The Aalen-Johansen cumulative incidence,
its standard error and log-log CI must equal R's multi-state survfit (and the estimate
cmprsk::cuminc) to 1e-10 on tied data with events at time 0. Skips locally without
Rscript; in CI a missing R is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import REPO, require, schema_default
from stats_data import demo_derived, demo_stats_project, random_survival  # noqa: F401 (fixtures)

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import survival as S  # noqa: E402

ALPHA = schema_default("stats.alpha")

TOL = 1e-6

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
out <- function(key, value) cat(key, "=", sprintf("%.15g", value), "\n", sep = "")
fit <- survfit(Surv(T, E) ~ 1, data = d, conf.type = "log-log")
q <- quantile(fit, 0.5)
out("median", q$quantile); out("median_low", q$lower); out("median_high", q$upper)
for (t in c(6, 12, 24)) {
  if (t <= max(d$T)) {
    s <- summary(fit, times = t)
    out(paste0("surv_", t), s$surv); out(paste0("low_", t), s$lower); out(paste0("high_", t), s$upper)
  }
}
if (length(unique(d$group)) > 1) {
  lr <- survdiff(Surv(T, E) ~ group, data = d)
  out("lr_chisq", lr$chisq); out("lr_p", pchisq(lr$chisq, length(lr$n) - 1, lower.tail = FALSE))
  sub <- d[d$group %in% c("sensitive", "refractory"), ]
  lr2 <- survdiff(Surv(T, E) ~ group, data = sub)
  out("lr2_chisq", lr2$chisq); out("lr2_p", pchisq(lr2$chisq, 1, lower.tail = FALSE))
}
if (!is.null(d$stage) && length(unique(d$stage)) == 3) {
  d$s2 <- as.numeric(d$stage == "II"); d$s3 <- as.numeric(d$stage == "III")
  cx <- coxph(Surv(T, E) ~ x + s2 + s3, data = d, ties = "efron",
              control = coxph.control(eps = 1e-14, iter.max = 200, toler.chol = 1e-15))
  co <- summary(cx)$coefficients
  for (v in rownames(co)) { out(paste0("coef_", v), co[v, 1]); out(paste0("se_", v), co[v, 3]);
                            out(paste0("p_", v), co[v, 5]) }
  zph <- cox.zph(cx, transform = "rank")$table
  for (v in rownames(co)) out(paste0("ph_", v), zph[v, "p"])
}
"""

# Cumulative incidence (competing risks): R's multi-state survfit with the log-log CI, at
# every distinct time, and cmprsk::cuminc's estimate at the same times.
R_CIF = r"""
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- survfit(Surv(T, factor(status, 0:2)) ~ 1, data = d, conf.type = "log-log")
ci <- cuminc(d$T, d$status, cencode = 0)
for (k in 1:2) {
  j <- k + 1  # column 1 is the initial state
  est <- timepoints(ci, fit$time)$est
  cu <- if (paste("1", k) %in% rownames(est)) est[paste("1", k), ] else rep(0, length(fit$time))
  tab <- data.frame(cause = k, time = fit$time, cif = fit$pstate[, j], se = fit$std.err[, j],
                    lower = fit$lower[, j], upper = fit$upper[, j], cuminc = cu)
  tab[] <- lapply(tab, function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v)))  # all digits
  write.table(tab, stdout(), sep = ",", quote = FALSE, row.names = FALSE, col.names = (k == 1))
}
"""


def run_r(df: pd.DataFrame, tmp_path: Path) -> dict[str, float]:
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    data = tmp_path / "d.csv"
    script = tmp_path / "check.R"
    df.to_csv(data, index=False, float_format="%.17g", na_rep="NA")
    script.write_text(R_SCRIPT)
    proc = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    vals = {}
    for line in proc.stdout.splitlines():
        k, _, v = line.partition("=")
        vals[k.strip()] = float("nan") if v.strip() == "NA" else float(v)
    return vals


def same(a: float, b: float, what: str) -> None:
    if np.isnan(a) or np.isnan(b):
        assert np.isnan(a) and np.isnan(b), f"{what}: python {a} vs R {b}"
    else:
        assert abs(a - b) <= TOL * max(1.0, abs(b)), f"{what}: python {a!r} vs R {b!r}"


def compare(df: pd.DataFrame, tmp_path: Path, cox: bool = True) -> dict:
    r = run_r(df, tmp_path)
    k = S.km(df["T"], df["E"], ALPHA)
    same(k.median, r["median"], "KM median")
    same(k.median_low, r["median_low"], "KM median lower")
    same(k.median_high, r["median_high"], "KM median upper")
    for t in (6, 12, 24):
        if f"surv_{t}" in r:
            s, lo, hi = k.at(t)
            same(s, r[f"surv_{t}"], f"S({t})")
            same(lo, r[f"low_{t}"], f"S({t}) lower")
            same(hi, r[f"high_{t}"], f"S({t}) upper")
    if "lr_chisq" in r:
        lr = S.logrank(df["T"], df["E"], df["group"])
        same(lr.statistic, r["lr_chisq"], "log-rank chi-square")
        same(lr.p, r["lr_p"], "log-rank p")
        a, b = df[df["group"] == "sensitive"], df[df["group"] == "refractory"]
        lr2 = S.logrank_pair(a["T"], a["E"], b["T"], b["E"])
        same(lr2.statistic, r["lr2_chisq"], "pairwise log-rank chi-square")
        same(lr2.p, r["lr2_p"], "pairwise log-rank p")
    if cox and "coef_x" in r:
        m = df.assign(s2=(df["stage"] == "II").astype(float), s3=(df["stage"] == "III").astype(float))
        res = S.cox(m, "T", "E", ["x", "s2", "s3"], ALPHA, schema_default("stats.events_per_parameter"))
        for v in ("x", "s2", "s3"):
            same(res.summary.loc[v, "coef"], r[f"coef_{v}"], f"Cox coef {v}")
            same(res.summary.loc[v, "se"], r[f"se_{v}"], f"Cox SE {v}")
            same(res.summary.loc[v, "p"], r[f"p_{v}"], f"Cox Wald p {v}")
            same(res.summary.loc[v, "ph_p"], r[f"ph_{v}"], f"cox.zph rank p {v}")
    return r


@pytest.mark.parametrize(
    "n, seed, ties",
    [(30, 1, True), (50, 2, True), (80, 3, False), (150, 4, True), (200, 5, False), (50, 20190607, True)],
)
def test_random_cohorts_agree_with_r(n, seed, ties, tmp_path):
    compare(random_survival(n, seed, ties), tmp_path)


def test_logrank_with_missing_groups_agrees_with_r(tmp_path):
    """15 of 120 group labels missing: survdiff leaves them out (na.omit); so must logrank."""
    df = random_survival(120, 6, ties=True)
    df.loc[df.index[::8], "group"] = None
    assert df["group"].isna().sum() == 15
    r = compare(df, tmp_path, cox=False)
    lr = S.logrank(df["T"], df["E"], df["group"])
    assert (lr.df, lr.n_dropped) == (2, 15)
    same(lr.statistic, r["lr_chisq"], "log-rank chi-square without the missing labels")


@pytest.mark.parametrize(
    "times, events, median",
    [
        # S = 0.75, 0.5, 0.25, 0: S = 0.5 on [2, 3) -> midpoint 2.5 (lifelines says 2)
        ([1, 2, 3, 4], [1, 1, 1, 1], 2.5),
        # S = 0.75, 0.5 and flat to the last follow-up (4): midpoint of [2, 4] = 3
        ([1, 2, 3, 4], [1, 1, 0, 0], 3.0),
        # no flat 0.5: first time S <= 0.5 (S = 0.8, 0.6, 0.4, ...) -> 3
        ([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], 3.0),
        # never reaches 0.5: not reached
        ([1, 2, 3, 4], [1, 0, 0, 0], float("nan")),
    ],
)
def test_median_convention_agrees_with_r(times, events, median, tmp_path):
    df = pd.DataFrame({"T": times, "E": events, "group": "a"})
    r = compare(df, tmp_path, cox=False)
    same(S.km(times, events, ALPHA).median, median, "hand median")
    same(r["median"], median, "R median")


@pytest.mark.workflow
@pytest.mark.slow
def test_demo_cohort_agrees_with_r(demo_derived, tmp_path):
    adsl = pd.read_parquet(demo_derived / "adsl.parquet")
    adtte = pd.read_parquet(demo_derived / "adtte.parquet")
    os_ = adtte[adtte["PARAMCD"] == "OS"].merge(
        adsl[["USUBJID", "PEXGRP", "PEXFL", "MAYO04"]], on="USUBJID"
    )
    df = pd.DataFrame(
        {
            "T": os_["AVAL"].astype(float),
            "E": (os_["CNSR"] == 0).astype(int),
            "group": os_["PEXGRP"],
            "x": 1 - os_["PEXFL"].astype(int),  # naive = 1, as in the report's model
            "stage": os_["MAYO04"],
        }
    ).dropna()
    compare(df, tmp_path)
    # cumulative incidence of dialysis (CAUSEN 0 censored, 1 dialysis, 2 death without dialysis)
    dial = adtte[adtte["PARAMCD"] == "TTDIAL"]
    compare_cif(dial["AVAL"].to_numpy(float), dial["CAUSEN"].to_numpy(int), tmp_path)


# --------------------------------------------------------------------------- competing risks
CIF_TOL = 1e-10


def run_r_cif(t, status, tmp_path: Path) -> pd.DataFrame:
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    data = tmp_path / "cif.csv"
    script = tmp_path / "cif.R"
    pd.DataFrame({"T": t, "status": status}).to_csv(data, index=False, float_format="%.17g")
    script.write_text(R_CIF)
    proc = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from io import StringIO

    return pd.read_csv(StringIO(proc.stdout), na_values=["NA"], float_precision="round_trip")


def compare_cif(t, status, tmp_path: Path) -> None:
    """Every distinct time, both causes: the estimate to 1e-10 against survfit and cuminc,
    the infinitesimal-jackknife SE and the log-log limits to 1e-10 against survfit."""
    r = run_r_cif(t, status, tmp_path)
    for cause in (1, 2):
        want = r[r["cause"] == cause].reset_index(drop=True)
        got = S.aj_table(t, status, cause, ALPHA)
        np.testing.assert_array_equal(got["time"].to_numpy(), want["time"].to_numpy())
        for col, ref in (("cif", "cif"), ("cif", "cuminc"), ("se", "se"), ("lower", "lower"), ("upper", "upper")):
            np.testing.assert_allclose(
                got[col].to_numpy(), want[ref].to_numpy(), rtol=0, atol=CIF_TOL, equal_nan=True,
                err_msg=f"cause {cause}: {col} vs R {ref}",
            )  # fmt: skip
        cif = S.aalen_johansen(t, status, ALPHA)
        for i in range(len(want)):  # the lookup the tables use, at each time
            est, lo, hi = cif(float(want["time"][i]), cause)
            same(est, want["cif"][i], "cif(t)")
            if want["cif"][i] > 0:
                same(lo, want["lower"][i], "cif lower")
                same(hi, want["upper"][i], "cif upper")


def random_competing(n: int, seed: int, max_time: int, p_zero: float) -> tuple[np.ndarray, np.ndarray]:
    """Seeded whole-unit times (heavy ties), a share p_zero of them at time 0, status 0/1/2."""
    rng = np.random.default_rng(seed)
    t = rng.integers(1, max_time + 1, n).astype(float)
    t[rng.random(n) < p_zero] = 0.0
    return t, rng.choice([0, 1, 2], n, p=[0.3, 0.3, 0.4])


@pytest.mark.parametrize(
    "n, seed, max_time, p_zero",
    [(20, 1, 5, 0.15), (60, 2, 10, 0.1), (200, 3, 24, 0.05), (500, 4, 36, 0.0), (1000, 5, 60, 0.02)],
)
def test_cumulative_incidence_agrees_with_r(n, seed, max_time, p_zero, tmp_path):
    t, status = random_competing(n, seed, max_time, p_zero)
    assert (t == 0).any() == (p_zero > 0)
    compare_cif(t, status, tmp_path)


@pytest.mark.parametrize(
    "times, status",
    [
        ([0, 1, 2, 3, 4], [1, 0, 2, 1, 0]),  # the example: cif(3) = 7/15
        ([0, 0, 0, 1, 2, 2], [1, 2, 0, 1, 2, 1]),  # events of both causes and a censoring at 0
        ([2, 2, 2, 2], [1, 1, 2, 0]),  # everything tied
        ([1, 2, 3], [1, 1, 1]),  # the curve reaches 1 (no CI there)
    ],
)
def test_cumulative_incidence_small_cases_agree_with_r(times, status, tmp_path):
    compare_cif(np.array(times, float), np.array(status), tmp_path)


# --------------------------------------------------------------------------- Gray's test
R_GRAY = r"""
suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
ci <- if (is.null(d$centre)) cuminc(d$T, d$status, d$group, rho = 0, cencode = 0) else
  cuminc(d$T, d$status, d$group, strata = d$centre, rho = 0, cencode = 0)
tst <- ci$Tests
for (cause in rownames(tst)) {
  cat("stat_", cause, "=", sprintf("%.15g", tst[cause, "stat"]), "\n", sep = "")
  cat("p_", cause, "=", sprintf("%.15g", tst[cause, "pv"]), "\n", sep = "")
}
"""


def run_r_gray(df: pd.DataFrame, tmp_path: Path) -> dict[str, float]:
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-cmprsk) is not installed")
    data, script = tmp_path / "g.csv", tmp_path / "gray.R"
    df.to_csv(data, index=False, float_format="%.17g")
    script.write_text(R_GRAY)
    proc = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {k.strip(): float(v) for k, _, v in (line.partition("=") for line in proc.stdout.splitlines())}


def random_competing_groups(n: int, seed: int, groups: int, ties: bool) -> pd.DataFrame:
    """Seeded competing-risks data: status 0 censored / 1 event / 2 competing; groups
    differ in the event hazard; ties by rounding to whole months (plus time-0 events)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["naive", "sensitive", "refractory"][:groups], n)
    lam1 = 0.02 * np.where(g == "naive", 1.0, np.where(g == "sensitive", 1.6, 2.4))
    t1, t2, tc = rng.exponential(1 / lam1), rng.exponential(1 / 0.03, n), rng.uniform(3, 60, n)
    t = np.minimum(np.minimum(t1, t2), tc)
    status = np.where(t == tc, 0, np.where(t == t1, 1, 2))
    t = np.round(t, 0) if ties else np.round(t, 6)  # whole months: ties
    if ties:  # events (both causes) and a censoring at time 0
        t[:3], status[:3] = 0.0, [1, 2, 0]
    return pd.DataFrame({"T": t, "status": status, "group": g})


@pytest.mark.parametrize(
    "n, seed, groups, ties",
    [(30, 1, 2, True), (60, 2, 3, True), (120, 3, 2, False), (200, 4, 3, True), (400, 5, 3, False), (50, 20190607, 2, True)],
)
def test_gray_test_agrees_with_cmprsk(n, seed, groups, ties, tmp_path):
    df = random_competing_groups(n, seed, groups, ties)
    if ties:
        assert df["T"].duplicated().any() and (df["T"] == 0).any()
    r = run_r_gray(df, tmp_path)
    for cause in (1, 2):
        g = S.gray_test(df["T"], df["status"], df["group"], cause=cause)
        assert g.df == groups - 1
        same(g.statistic, r[f"stat_{cause}"], f"Gray statistic, cause {cause}")
        same(g.p, r[f"p_{cause}"], f"Gray p, cause {cause}")


# Gray's test stratified by centre (cmprsk::cuminc(strata = ), its routine crstm: per-centre
# score vectors and variance matrices summed): 2-3 centres of unequal size, a group absent
# from a centre, a centre with no event of interest, a centre of one patient.
@pytest.mark.parametrize(
    "n, seed, groups, ties, centres",
    [(60, 11, 2, True, 2), (150, 12, 3, True, 3), (240, 13, 3, False, 3), (90, 14, 2, False, 2)],
)
def test_stratified_gray_test_agrees_with_cmprsk(n, seed, groups, ties, centres, tmp_path):
    df = random_competing_groups(n, seed, groups, ties)
    rng = np.random.default_rng(seed)
    share = np.array([0.5, 0.3, 0.2])[:centres]
    df["centre"] = rng.choice(["Athens", "Pavia", "Heidelberg"][:centres], n, p=share / share.sum())
    if centres == 3:
        # no patient of the first group in Heidelberg; one-patient centre; a centre without
        # an event of interest
        df.loc[(df["centre"] == "Heidelberg") & (df["group"] == df["group"].iloc[0]), "centre"] = "Athens"
        df.loc[df.index[-1], "centre"] = "Lyon"
        quiet = df.index[-6:-1]
        df.loc[quiet, "centre"], df.loc[quiet, "status"] = "Zurich", [0, 2, 0, 2, 0]
    r = run_r_gray(df, tmp_path)
    for cause in (1, 2):
        g = S.gray_test(df["T"], df["status"], df["group"], cause=cause, strata=df["centre"])
        plain = S.gray_test(df["T"], df["status"], df["group"], cause=cause)
        assert g.df == groups - 1 and g.n_dropped == 0
        same(g.statistic, r[f"stat_{cause}"], f"stratified Gray statistic, cause {cause}")
        same(g.p, r[f"p_{cause}"], f"stratified Gray p, cause {cause}")
        assert g.statistic != pytest.approx(plain.statistic, rel=1e-9)  # the strata count


@pytest.mark.workflow
@pytest.mark.slow
def test_demo_gray_test_agrees_with_cmprsk(demo_derived, tmp_path):
    """Dialysis by bortezomib group on the demo cohort, as tables.renal computes it."""
    adsl = pd.read_parquet(demo_derived / "adsl.parquet")
    adtte = pd.read_parquet(demo_derived / "adtte.parquet")
    tt = adtte[adtte["PARAMCD"] == "TTDIAL"].merge(adsl[["USUBJID", "PEXGRP", "SAFFL"]], on="USUBJID")
    tt = tt[tt["SAFFL"] == "Y"]
    df = pd.DataFrame({"T": tt["AVAL"].astype(float), "status": tt["CAUSEN"].astype(int), "group": tt["PEXGRP"]})
    r = run_r_gray(df, tmp_path)
    for cause in (1, 2):
        g = S.gray_test(df["T"], df["status"], df["group"], cause=cause)
        same(g.statistic, r[f"stat_{cause}"], f"Gray statistic, cause {cause}")
        same(g.p, r[f"p_{cause}"], f"Gray p, cause {cause}")
