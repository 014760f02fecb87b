"""The analysis plan as configuration (`analysis:` section, issue 13): the OS Cox model's
terms (analysis.cox_covariates). Each case lists the terms asked for and the hazard-ratio
keys and labels the model must report; the fit is checked against R's coxph."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from alsalvage.stats import time_to_event as tte
from helpers import require, schema_default

ALPHA = schema_default("stats.alpha")
EPP = schema_default("stats.events_per_parameter")


def cohort(n=90, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "T": np.round(rng.exponential(20, n), 2),
            "E": rng.binomial(1, 0.7, n),
            "PEXFL": rng.binomial(1, 0.6, n),
            "MAYO04": rng.choice(["I", "II", "III", None], n, p=[0.3, 0.35, 0.3, 0.05]),
            "MAYO12": rng.choice(["I", "II", "III", "IV"], n),
            "EUSTG": rng.choice(["I", "II", "IIIa", "IIIb"], n),
            "AGE": rng.integers(45, 85, n).astype(float),
            "SEX": rng.choice(["female", "male"], n),
            "DIALBL": rng.binomial(1, 0.15, n),
            "NPRIOR": rng.integers(1, 5, n),
        }
    )


def hr_records(recs):
    return {r["key"]: r for r in recs if r["key"].endswith(".hr")}


CASES = {
    "default: naive adjusted for Mayo 2004": (
        ["naive", "mayo2004"],
        {
            "os.cox.naive_vs_exposed.hr": "HR naive vs exposed, adjusted for Mayo 2004 stage",
            "os.cox.mayo2004_II.hr": "HR mayo2004 II vs I",
            "os.cox.mayo2004_III.hr": "HR mayo2004 III vs I",
        },
    ),
    "naive alone": (["naive"], {"os.cox.naive_vs_exposed.hr": "HR naive vs exposed, unadjusted"}),
    "no grouping term": (
        ["age", "sex", "dialysis"],
        {
            "os.cox.age.hr": "HR age (per 10 years)",
            "os.cox.sex.hr": "HR sex (male vs female)",
            "os.cox.dialysis.hr": "HR dialysis at start",
        },
    ),
    "another stage and prior lines": (
        ["naive", "eustage", "prior_lines"],
        {
            "os.cox.naive_vs_exposed.hr": (
                "HR naive vs exposed, adjusted for European 2015 stage, prior lines (per line)"
            ),
            "os.cox.eustage_II.hr": "HR eustage II vs I",
            "os.cox.eustage_IIIa.hr": "HR eustage IIIa vs I",
            "os.cox.eustage_IIIb.hr": "HR eustage IIIb vs I",
            "os.cox.prior_lines.hr": "HR prior lines (per line)",
        },
    ),
}


@pytest.mark.parametrize("covariates, expected", CASES.values(), ids=CASES.keys())
def test_cox_terms_follow_the_configuration(covariates, expected):
    recs = tte.cox_naive_vs_exposed(cohort(), ALPHA, EPP, covariates)
    hrs = hr_records(recs)
    assert {k: r["label"] for k, r in hrs.items()} == expected
    assert all(np.isfinite(r["estimate"]) for r in hrs.values())
    epp = next(r for r in recs if r["key"] == "os.cox.events_per_parameter")
    assert epp["n"] == len(expected)  # one parameter per reported term


def test_default_is_todays_model():
    default = schema_default("analysis.cox_covariates")
    assert default == ["naive", "mayo2004"]
    recs = tte.cox_naive_vs_exposed(cohort(), ALPHA, EPP, default)
    meth = hr_records(recs)["os.cox.naive_vs_exposed.hr"]["method"]
    assert meth == (
        "Cox proportional hazards, Efron ties, Wald test; adjusted for Mayo 2004 stage "
        "(dummy-coded, stage I reference); complete cases"
    )


def test_missing_column_is_named():
    with pytest.raises(KeyError, match="NPRIOR"):
        tte.cox_naive_vs_exposed(cohort().drop(columns="NPRIOR"), ALPHA, EPP, ["prior_lines"])


R_COX = r"""
suppressPackageStartupMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
d$naive <- 1 - d$PEXFL; d$age <- d$AGE / 10; d$sex <- as.numeric(d$SEX == "male")
cx <- coxph(Surv(T, E) ~ naive + age + sex + DIALBL, data = d, ties = "efron",
            control = coxph.control(eps = 1e-14, iter.max = 200, toler.chol = 1e-15))
ci <- exp(confint(cx))
for (v in names(coef(cx))) cat(v, exp(coef(cx)[v]), ci[v, 1], ci[v, 2], "\n")
"""


def test_cox_with_configured_terms_agrees_with_r(tmp_path):
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    d = cohort(120, 11)
    d.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "cox.R").write_text(R_COX)
    proc = subprocess.run(
        ["Rscript", str(tmp_path / "cox.R"), str(tmp_path / "d.csv")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    r = {ln.split()[0]: [float(x) for x in ln.split()[1:]] for ln in proc.stdout.splitlines()}
    hrs = hr_records(tte.cox_naive_vs_exposed(d, ALPHA, EPP, ["naive", "age", "sex", "dialysis"]))
    for term, key in (("naive", "naive_vs_exposed"), ("age", "age"), ("sex", "sex"), ("DIALBL", "dialysis")):
        rec = hrs[f"os.cox.{key}.hr"]
        got = (rec["estimate"], rec["ci_low"], rec["ci_high"])
        assert np.allclose(got, r[term], rtol=1e-6), (term, got, r[term])


# ------------------------------------------------------------------ headline endpoints
def _adsl(ids):
    return pd.DataFrame({"USUBJID": ids, "SAFFL": "Y"})


def test_no_endpoint_adds_no_record():
    assert tte.headline_endpoints(_adsl(["P1"]), None, None, [], ALPHA, [12], True, 30.4375) == []
    assert tte.headline_endpoints(_adsl(["P1"]), None, None, ["os"], ALPHA, [12], True, 30.4375) == []


def test_time_to_response_among_responders():
    dpm = 30.4375
    adrs = pd.DataFrame(
        [
            # P1: PR on day 61 (first response), CR later
            ("P1", "HEMRESP", "NR", 30, "Y"), ("P1", "HEMRESP", "PR", 61, "Y"), ("P1", "HEMRESP", "CR", 120, "Y"),
            ("P2", "HEMRESP", "NR", 30, "Y"),  # never responds: not in the denominator
            ("P3", "HEMRESP", "VGPR", 30, "Y"),
            ("P4", "HEMRESP", "PR", 400, "N"),  # after the best-response window: not counted
            ("P5", "HEMRESP", "LOWDFLC", 91, "Y"),  # low-dFLC response (counted by default)
            ("X9", "HEMRESP", "CR", 10, "Y"),  # not treated (absent from ADSL)
        ],
        columns=["USUBJID", "PARAMCD", "AVALC", "ADY", "ANL01FL"],
    )  # fmt: skip
    recs = {
        r["key"]: r
        for r in tte.headline_endpoints(
            _adsl(["P1", "P2", "P3", "P4", "P5"]), None, adrs, ["time_to_response"], ALPHA, [12], True, dpm
        )
    }
    med = recs["hem.time_to_response.median"]
    assert med["n"] == 3 and med["estimate"] == pytest.approx(61 / dpm)
    assert recs["hem.time_to_response.min"]["estimate"] == pytest.approx(30 / dpm)
    assert recs["hem.time_to_response.max"]["estimate"] == pytest.approx(91 / dpm)
    assert med["formatted"] == "2.0 (1.0-3.0)"
    recs = tte.headline_endpoints(
        _adsl(["P1", "P2", "P3", "P4", "P5"]), None, adrs, ["time_to_response"], ALPHA, [12], False, dpm
    )
    assert next(r for r in recs if r["key"] == "hem.time_to_response.median")["n"] == 2  # low-dFLC not counted


R_KM = r"""
suppressPackageStartupMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
fit <- survfit(Surv(T, E) ~ 1, data = d, conf.type = "log-log")
q <- quantile(fit, 0.5); s <- summary(fit, times = 12)
cat(q$quantile, q$lower, q$upper, s$surv, s$lower, s$upper, "\n")
"""


def test_hematologic_pfs_agrees_with_r(tmp_path):
    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    rng = np.random.default_rng(3)
    n = 70
    ids = [f"P{i:03d}" for i in range(n)]
    adtte = pd.DataFrame(
        {
            "USUBJID": ids * 2,
            "PARAMCD": ["HEMPFS"] * n + ["OS"] * n,
            "AVAL": np.concatenate([np.round(rng.exponential(14, n), 1), rng.exponential(30, n)]),
            "CNSR": np.concatenate([rng.binomial(1, 0.3, n), rng.binomial(1, 0.5, n)]),
        }
    )
    p = adtte[adtte["PARAMCD"] == "HEMPFS"]
    pd.DataFrame({"T": p["AVAL"], "E": 1 - p["CNSR"]}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "km.R").write_text(R_KM)
    proc = subprocess.run(
        ["Rscript", str(tmp_path / "km.R"), str(tmp_path / "d.csv")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    r = [float(x) for x in proc.stdout.split()]
    recs = {r_["key"]: r_ for r_ in tte.headline_endpoints(_adsl(ids), adtte, None, ["hem_pfs"], ALPHA, [12], True, 30.4375)}
    med, s12 = recs["hempfs.median"], recs["hempfs.surv_12m"]
    got = [med["estimate"], med["ci_low"], med["ci_high"], s12["estimate"], s12["ci_low"], s12["ci_high"]]
    assert np.allclose(got, r, rtol=1e-6), (got, r)
    assert recs["hempfs.events"]["estimate"] == int((p["CNSR"] == 0).sum())


HEADLINE_CASES = {
    "none configured": ([], []),
    "os only": (["os"], ["os.median", "os.surv_12m", "os.surv_24m"]),
    "in the configured order": (
        ["time_to_response", "hem_pfs", "os"],
        ["hem.time_to_response.median", "hempfs.median", "hempfs.surv_12m", "hempfs.surv_24m", "os.median",
         "os.surv_12m", "os.surv_24m"],
    ),  # fmt: skip
}


@pytest.mark.parametrize("endpoints, keys", HEADLINE_CASES.values(), ids=HEADLINE_CASES.keys())
def test_report_headline_rows(endpoints, keys):
    from alsalvage import report

    every = ["os.median", "os.surv_12m", "os.surv_24m", "os.events", "hempfs.median", "hempfs.surv_12m",
             "hempfs.surv_24m", "hem.time_to_response.median", "hem.time_to_response.q1"]  # fmt: skip
    recs = {k: {"label": k.upper(), "formatted": "1"} for k in every}
    rows = report.headline_rows(recs, endpoints, [12, 24])
    assert [r["key"] for r in rows] == keys
