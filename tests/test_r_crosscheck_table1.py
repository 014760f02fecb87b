"""Cross-check of Table 1's group comparisons (alsalvage.compare, stats.table1.table1_comparisons)
against base R: kruskal.test, summary(aov()), chisq.test(correct = FALSE), fisher.test, and
the SMDs written out in R by their formulas (continuous (m1 - m2) / sqrt((s1^2 + s2^2) / 2);
categorical Yang & Dalton with a generalised inverse, the code of MASS::ginv; mean of the
pairwise SMDs as tableone). tableone itself is not installable here, so the formulas are
restated in R independently of the Python code. On seeded random data (ties, empty levels,
a group absent) and on the demo cohort's ADSL; p and statistics agree to 1e-8, SMDs to 1e-10.
Skips locally without Rscript; in CI a missing R is a failure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsalvage.study import Wording
from helpers import REPO, require, schema_default
from stats_data import demo_derived, demo_stats_project  # noqa: F401 (fixtures)

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import compare as C  # noqa: E402
from alsalvage.stats import records, table1  # noqa: E402

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
out <- function(key, value) cat(key, "=", sprintf("%.15g", value), "\n", sep = "")
ginv <- function(X, tol = sqrt(.Machine$double.eps)) {  # MASS::ginv
  s <- svd(X); pos <- s$d > max(tol * s$d[1L], 0)
  if (!any(pos)) return(array(0, dim(X)[2L:1L]))
  s$v[, pos, drop = FALSE] %*% ((1 / s$d[pos]) * t(s$u[, pos, drop = FALSE]))
}
for (v in unique(d$var)) {
  s <- d[d$var == v & !is.na(d$x), ]
  g <- factor(s$g)
  pairs <- combn(levels(g), 2)
  smd <- c()
  if (s$kind[1] == "continuous") {
    k <- kruskal.test(s$x ~ g); out(paste0(v, ".kruskal_p"), k$p.value); out(paste0(v, ".kruskal_stat"), k$statistic)
    a <- summary(aov(s$x ~ g))[[1]]; out(paste0(v, ".anova_p"), a[1, "Pr(>F)"]); out(paste0(v, ".anova_stat"), a[1, "F value"])
    for (j in seq_len(ncol(pairs))) {
      x1 <- s$x[g == pairs[1, j]]; x2 <- s$x[g == pairs[2, j]]
      smd <- c(smd, abs(mean(x1) - mean(x2)) / sqrt((var(x1) + var(x2)) / 2))
    }
  } else {
    tab <- table(factor(s$x), g)
    tab <- tab[rowSums(tab) > 0, colSums(tab) > 0, drop = FALSE]
    ch <- suppressWarnings(chisq.test(tab, correct = FALSE))
    out(paste0(v, ".chisq_p"), ch$p.value); out(paste0(v, ".chisq_stat"), ch$statistic)
    out(paste0(v, ".fisher_p"), fisher.test(tab, workspace = 2e8)$p.value)
    full <- table(factor(s$x), g)
    for (j in seq_len(ncol(pairs))) {
      p1 <- full[, pairs[1, j]] / sum(full[, pairs[1, j]]); p2 <- full[, pairs[2, j]] / sum(full[, pairs[2, j]])
      p1 <- p1[-1]; p2 <- p2[-1]
      cv <- function(p) { m <- -outer(p, p); diag(m) <- p * (1 - p); m }
      Tv <- p1 - p2; S <- (cv(p1) + cv(p2)) / 2
      smd <- c(smd, sqrt(max(as.numeric(t(Tv) %*% ginv(S) %*% Tv), 0)))
    }
  }
  out(paste0(v, ".smd"), mean(smd)); out(paste0(v, ".smd_max"), max(smd))
}
"""


def run_r(long: pd.DataFrame, tmp_path: Path) -> dict[str, float]:
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core) is not installed")
    data, script = tmp_path / "table1.csv", tmp_path / "table1.R"
    long.to_csv(data, index=False)
    script.write_text(R_SCRIPT)
    proc = subprocess.run(["Rscript", str(script), str(data)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        k, _, v = line.partition("=")
        out[k] = float(v)
    return out


def python_side(var, kind, x, g) -> dict[str, float]:
    """The package's p, statistic and SMDs for one variable (x: numbers or level codes)."""
    present = sorted(set(g))
    res = {}
    if kind == "continuous":
        groups = [x[g == lv] for lv in present]
        for test in C.CONTINUOUS_TESTS:
            r = C.continuous_test(groups, test)
            res[f"{var}.{test}_p"], res[f"{var}.{test}_stat"] = r.p, r.statistic
        pairs = [C.smd_continuous(x[g == a], x[g == b]) for a, b in C.pairwise(present)]
    else:
        levels = sorted(set(x))
        tab = C.contingency(x, g, levels, present)
        r = C.categorical_test(tab, "chisq")
        res[f"{var}.chisq_p"], res[f"{var}.chisq_stat"] = r.p, r.statistic
        res[f"{var}.fisher_p"] = C.categorical_test(tab, "fisher").p
        pairs = [C.smd_categorical(tab[:, i], tab[:, j]) for i, j in C.pairwise(range(len(present)))]
    res[f"{var}.smd"], res[f"{var}.smd_max"] = C.smd_summary(pairs)
    return res


def random_cases(seed: int):
    """Variables of a seeded cohort: continuous with ties and a shift, binary, 4 levels with
    an empty level in one group, and a variable recorded in two groups only."""
    rng = np.random.default_rng(seed)
    n = 45
    g = rng.choice(["naive", "refractory", "sensitive"], size=n, p=[0.3, 0.4, 0.3])
    shift = np.where(g == "refractory", 5.0, 0.0)
    cases = [
        ("cont_ties", "continuous", np.round(rng.normal(60, 10, n) + shift), g),
        ("cont_skew", "continuous", rng.lognormal(7, 1, n) * (1 + shift / 5), g),
        ("binary", "categorical", (rng.random(n) < np.where(g == "naive", 0.3, 0.6)).astype(int), g),
        ("four", "categorical", np.where(g == "sensitive", rng.integers(1, 4, n), rng.integers(1, 5, n)), g),
    ]
    two = g != "naive"
    cases.append(("two_groups", "continuous", rng.normal(0, 1, two.sum()), g[two]))
    return cases


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_compare_equals_base_r_on_random_cohorts(tmp_path, seed):
    cases = random_cases(seed)
    long = pd.concat(
        [pd.DataFrame({"var": v, "kind": k, "x": x, "g": g}) for v, k, x, g in cases], ignore_index=True
    )
    r = run_r(long, tmp_path)
    py = {}
    for v, k, x, g in cases:
        py.update(python_side(v, k, np.asarray(x), np.asarray(g)))
    assert set(py) == set(r), set(py) ^ set(r)
    for key, want in r.items():
        tol = 1e-10 if "smd" in key else 1e-8
        assert py[key] == pytest.approx(want, rel=tol, abs=tol), key


def test_table1_comparisons_equal_base_r_on_the_demo_cohort(demo_derived, tmp_path):  # noqa: F811
    adsl = records.treated(pd.read_parquet(demo_derived / "adsl.parquet"))
    parts, variables = [], table1.table1_variables(adsl)
    for key, _label, _section, kind, values in variables:
        if kind == "categorical":
            known = values.dropna()
            obs = set(known)
            levels = [x for x in ("no", "yes") if x in obs] if obs <= {"no", "yes"} else sorted(obs)
            x = values.map(lambda v, lv=levels: np.nan if v is None or v != v else lv.index(v) + 1)
        else:
            x = values
        parts.append(pd.DataFrame({"var": key, "kind": kind, "x": x.to_numpy(float), "g": adsl["PEXGRP"]}))
    r = run_r(pd.concat(parts, ignore_index=True), tmp_path)
    for tests in (
        {"continuous": "kruskal", "categorical": "chisq"},
        {"continuous": "anova", "categorical": "fisher"},
    ):
        recs = {x["key"]: x for x in table1.table1_comparisons(adsl, tests, Wording.from_params(None, schema_default("prior_exposure")))}
        for key, _label, _section, kind, values in variables:
            test = tests[kind]
            rec = recs[f"{key}.by_pexgrp.p"]
            assert rec["method"] == C.TEST_NAMES[test]
            assert rec["p"] == pytest.approx(r[f"{key}.{test}_p"], rel=1e-8, abs=1e-12), (key, test)
            if test != "fisher":
                assert rec["statistic"] == pytest.approx(r[f"{key}.{test}_stat"], rel=1e-8), (key, test)
            assert recs[f"{key}.by_pexgrp.smd"]["estimate"] == pytest.approx(r[f"{key}.smd"], rel=1e-10)
            assert recs[f"{key}.by_pexgrp.smd_max"]["estimate"] == pytest.approx(r[f"{key}.smd_max"], rel=1e-10)
            assert recs[f"{key}.by_pexgrp.missing"]["n"] == int(values.isna().sum())
    assert len(variables) >= 20


# --------------------------------------------------------------------------- without R
@pytest.mark.parametrize(
    "groups, test, note",
    [
        ([[1.0, 2.0, 3.0], []], "kruskal", "fewer than two groups"),
        ([[2.0, 2.0], [2.0, np.nan]], "kruskal", "every value is the same"),
        ([[1.0], [2.0]], "anova", "no residual degrees of freedom"),
    ],
)
def test_continuous_test_not_estimable(groups, test, note):
    r = C.continuous_test([np.array(g) for g in groups], test)
    assert np.isnan(r.p) and note in r.note


@pytest.mark.parametrize(
    "table, test, note",
    [
        ([[3, 4, 5], [0, 0, 0]], "chisq", "fewer than two groups or levels"),
        ([[3, 0, 0], [2, 0, 0]], "fisher", "fewer than two groups or levels"),
        ([[900, 900, 900], [900, 900, 900], [900, 900, 900], [900, 900, 900]], "fisher", "use stats.table1_tests"),
    ],
)
def test_categorical_test_not_estimable(table, test, note):
    r = C.categorical_test(np.array(table), test)
    assert np.isnan(r.p) and note in r.note


@pytest.mark.parametrize("a, b", [([7, 3], [4, 6]), ([1, 9], [9, 1]), ([5, 5], [5, 5])])
def test_binary_smd_is_the_two_proportion_formula(a, b):
    p1, p2 = a[1] / sum(a), b[1] / sum(b)
    want = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert C.smd_categorical(a, b) == pytest.approx(want, rel=1e-12)


def test_smd_summary_is_the_mean_and_max_or_not_estimable():
    assert C.smd_summary([0.1, 0.2, 0.6]) == pytest.approx((0.3, 0.6))
    assert all(np.isnan(C.smd_summary([0.1, float("nan")])))
