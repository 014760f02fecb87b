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
    assert tte.headline_endpoints(_adsl(["P1"]), None, None, [], ALPHA, [12], True, 30.4375, "event") == []
    assert tte.headline_endpoints(_adsl(["P1"]), None, None, ["os"], ALPHA, [12], True, 30.4375, "event") == []


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
            _adsl(["P1", "P2", "P3", "P4", "P5"]), None, adrs, ["time_to_response"], ALPHA, [12], True, dpm, "event"
        )
    }
    med = recs["hem.time_to_response.median"]
    assert med["n"] == 3 and med["estimate"] == pytest.approx(61 / dpm)
    assert recs["hem.time_to_response.min"]["estimate"] == pytest.approx(30 / dpm)
    assert recs["hem.time_to_response.max"]["estimate"] == pytest.approx(91 / dpm)
    assert med["formatted"] == "2.0 (1.0-3.0)"
    recs = tte.headline_endpoints(
        _adsl(["P1", "P2", "P3", "P4", "P5"]), None, adrs, ["time_to_response"], ALPHA, [12], False, dpm, "event"
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
    recs = {r_["key"]: r_ for r_ in tte.headline_endpoints(_adsl(ids), adtte, None, ["hem_pfs"], ALPHA, [12], True, 30.4375, "event")}
    med, s12 = recs["hempfs.median"], recs["hempfs.surv_12m"]
    got = [med["estimate"], med["ci_low"], med["ci_high"], s12["estimate"], s12["ci_low"], s12["ci_high"]]
    assert np.allclose(got, r, rtol=1e-6), (got, r)
    assert recs["hempfs.events"]["estimate"] == int((p["CNSR"] == 0).sum())


R_TTNT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); death_rule <- args[2]
# days from the index date; NA = no such date
nxt <- !is.na(d$next_line) & (is.na(d$death) | d$next_line <= d$death)
dead <- !nxt & !is.na(d$death)
d$T <- ifelse(nxt, d$next_line, ifelse(dead, d$death, d$last)) / 30.4375
d$E <- as.numeric(nxt | (dead & death_rule == "event"))
fit <- survfit(Surv(T, E) ~ 1, data = d, conf.type = "log-log")
q <- quantile(fit, 0.5); s <- summary(fit, times = 12)
cat(q$quantile, q$lower, q$upper, s$surv, s$lower, s$upper, sum(d$E), "\n")
"""


@pytest.mark.parametrize("death", ["event", "censor"])
def test_time_to_next_treatment_agrees_with_r(death, tmp_path):
    """From the outcome dates to the headline records: ADTTE TTNT (endpoints.derive_adtte)
    and its Kaplan-Meier median, CI and 12-month survival (headline_endpoints) equal R's
    survfit on times and events R works out from the same dates (next line before or on
    the day of death: event; death first: event or censored; else last contact). Seeded
    cohort with tied days, same-day next line and death, and patients without either."""
    from alsalvage import endpoints as ep

    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    rng = np.random.default_rng(13)
    n = 90
    ids = [f"P{i:03d}" for i in range(n)]
    nxt = np.where(rng.random(n) < 0.55, rng.integers(20, 900, n), -1)
    dth = np.where(rng.random(n) < 0.4, rng.integers(10, 1200, n), -1)
    dth[:6] = np.where(nxt[:6] > 0, nxt[:6], 300)  # same day as the next line
    last = np.maximum(np.maximum(nxt, dth), rng.integers(30, 1300, n))
    last = np.where(dth > 0, dth, last)  # the dead were last seen at death
    nxt = np.where(nxt > last, -1, nxt)  # no next line after the last contact
    t0 = pd.Timestamp("2020-01-01")
    day = lambda x: pd.NaT if x < 0 else t0 + pd.Timedelta(days=int(x))  # noqa: E731
    adsl = pd.DataFrame({"USUBJID": ids, "TRTSDT": t0, "DIALBL": 0, "SAFFL": "Y"})
    outcomes = pd.DataFrame(
        {
            "patient_id": ids,
            "salvage_end_date": [day(10)] * n,
            "stop_reason": "completed",
            "next_line_date": [day(x) for x in nxt],
            "dialysis_start_date": pd.NaT,
            "last_contact_date": [day(x) for x in last],
            "death_date": [day(x) for x in dth],
        }
    )
    empty = pd.DataFrame({"USUBJID": [], "PARAMCD": [], "ADT": pd.to_datetime([])})
    dpm = 30.4375
    adtte = ep.derive_adtte(
        adsl[["USUBJID", "TRTSDT", "DIALBL"]], empty, outcomes,
        {"days_per_month": dpm, "regimen": "lenalidomide", "ttnt_death": death},
    )  # fmt: skip
    na = lambda a: np.where(a < 0, np.nan, a)  # noqa: E731
    pd.DataFrame({"next_line": na(nxt), "death": na(dth), "last": last}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "ttnt.R").write_text(R_TTNT)
    proc = subprocess.run(
        ["Rscript", str(tmp_path / "ttnt.R"), str(tmp_path / "d.csv"), death],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = [float(x) for x in proc.stdout.split()]
    recs = {
        r_["key"]: r_
        for r_ in tte.headline_endpoints(adsl, adtte, None, ["time_to_next_treatment"], ALPHA, [12], True, dpm, death)
    }
    med, s12 = recs["ttnt.median"], recs["ttnt.surv_12m"]
    got = [med["estimate"], med["ci_low"], med["ci_high"], s12["estimate"], s12["ci_low"], s12["ci_high"]]
    assert np.allclose(got, r[:6], rtol=1e-6), (got, r)
    assert recs["ttnt.events"]["estimate"] == r[6] and recs["ttnt.events"]["n"] == n
    words = {"event": "next line or death", "censor": "next line; death censored"}[death]
    assert med["label"] == f"Time to next treatment ({words}): median"


def test_ttnt_counts_the_treated_only():
    adtte = pd.DataFrame(
        {"USUBJID": ["P1", "P2", "P3"], "PARAMCD": "TTNT", "AVAL": [1.0, 2.0, 3.0], "CNSR": [0, 1, 0]}
    )
    adsl = pd.DataFrame({"USUBJID": ["P1", "P2", "P3"], "SAFFL": ["Y", "Y", "N"]})
    recs = {r["key"]: r for r in tte.headline_endpoints(
        adsl, adtte, None, ["time_to_next_treatment"], ALPHA, [12], True, 30.4375, "event")}  # fmt: skip
    assert recs["ttnt.events"]["formatted"] == "1/2"
    assert set(recs) == {"ttnt.events", "ttnt.median", "ttnt.surv_12m"}


HEADLINE_CASES = {
    "none configured": ([], []),
    "os only": (["os"], ["os.median", "os.surv_12m", "os.surv_24m"]),
    "in the configured order": (
        ["time_to_response", "hem_pfs", "os"],
        ["hem.time_to_response.median", "hempfs.median", "hempfs.surv_12m", "hempfs.surv_24m", "os.median",
         "os.surv_12m", "os.surv_24m"],
    ),  # fmt: skip
    "time to next treatment": (
        ["time_to_next_treatment", "os"],
        ["ttnt.median", "ttnt.surv_12m", "ttnt.surv_24m", "os.median", "os.surv_12m", "os.surv_24m"],
    ),
}


@pytest.mark.parametrize("endpoints, keys", HEADLINE_CASES.values(), ids=HEADLINE_CASES.keys())
def test_report_headline_rows(endpoints, keys):
    from alsalvage import report

    every = ["os.median", "os.surv_12m", "os.surv_24m", "os.events", "hempfs.median", "hempfs.surv_12m",
             "hempfs.surv_24m", "hem.time_to_response.median", "hem.time_to_response.q1", "ttnt.events",
             "ttnt.median", "ttnt.surv_12m", "ttnt.surv_24m"]  # fmt: skip
    recs = {k: {"label": k.upper(), "formatted": "1"} for k in every}
    rows = report.headline_rows(recs, endpoints, [12, 24])
    assert [r["key"] for r in rows] == keys


# ------------------------------------------------------------------ optional centre column
def _demo_copy(tmp_path, centres=None, bad_lab_rows=()):
    import shutil as sh

    from helpers import DEMO

    d = tmp_path / "raw"
    d.mkdir()
    for f in DEMO.glob("*.csv"):
        sh.copy(f, d / f.name)
    p = pd.read_csv(d / "patients.csv", dtype=str, keep_default_na=False)
    if centres is not None:
        p["centre"] = [centres(i) for i in range(len(p))]
        p.to_csv(d / "patients.csv", index=False)
    labs = pd.read_csv(d / "labs.csv", dtype=str, keep_default_na=False)
    for i in bad_lab_rows:
        labs.loc[i, "value"] = "999999"  # out of range: an error on that row
    labs.to_csv(d / "labs.csv", index=False)
    return {t: d / f"{t}.csv" for t in ("patients", "therapy_lines", "salvage_cycles", "outcomes", "labs",
                                        "adverse_events")}, p, labs  # fmt: skip


def test_findings_counted_per_centre(tmp_path):
    from alsalvage import contract as C
    from alsalvage import validation as V
    from helpers import validation_settings

    paths, p, labs = _demo_copy(tmp_path, lambda i: "" if i == 0 else ("Athens" if i % 3 else "Pavia"), (0, 1, 500))
    tables, f = V.check_all(paths, {t: str(v) for t, v in paths.items()}, **validation_settings())
    centre = dict(zip(p["patient_id"], p["centre"]))
    expected = pd.Series([centre[labs.loc[i, "patient_id"]] or "(no centre)" for i in (0, 1, 500)]).value_counts()
    text = V.findings_per_centre(f, V.finding_centres(f, tables))
    assert text.startswith("Findings per centre")
    for c, n in expected.items():
        assert f"  {c}: {n} error(s), 0 warning(s)" in text
    assert len(text.splitlines()) == 1 + len(expected)
    assert V.output_frame(tables["patients"], C.PATIENTS).columns[-1] == "centre"
    # findings.csv names each finding's centre ("(no centre)": a patient without one)
    centres = V.finding_centres(f, tables)
    assert sorted(centres) == sorted(c or "(no centre)" for c in (centre[labs.loc[i, "patient_id"]] for i in (0, 1, 500)))
    V.write_findings(f.assign(centre=centres.to_numpy()), tmp_path / "findings.csv")
    written = pd.read_csv(tmp_path / "findings.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == V.FINDING_COLUMNS + ["centre"]
    assert sorted(written["centre"]) == sorted(centres)
    # the report counts them per centre, as the log does
    from alsalvage import report

    shown = report.findings_rows(written.to_dict("records"), [])
    assert shown["has_centre"] and {r["centre"]: r["errors"] for r in shown["by_centre"]} == expected.to_dict()


def test_without_centre_column_nothing_changes(tmp_path):
    from alsalvage import contract as C
    from alsalvage import validation as V
    from helpers import validation_settings

    paths, _, _ = _demo_copy(tmp_path, None, (0,))
    tables, f = V.check_all(paths, {t: str(v) for t, v in paths.items()}, **validation_settings())
    assert len(f) == 1 and V.findings_per_centre(f, V.finding_centres(f, tables)) == ""
    assert V.finding_centres(f, tables) is None
    assert "centre" not in V.output_frame(tables["patients"], C.PATIENTS).columns
    V.write_findings(f, tmp_path / "findings.csv")
    assert (tmp_path / "findings.csv").read_text().splitlines()[0] == ",".join(V.FINDING_COLUMNS)


# ------------------------------------------------------------------ centre as a stratum
R_STRATA = r"""
suppressPackageStartupMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
lr <- survdiff(Surv(T, E) ~ g + strata(c), data = d)
cat("lr", lr$chisq, pchisq(lr$chisq, length(unique(d$g)) - 1, lower.tail = FALSE), "\n")
sub <- d[d$g %in% c("a", "b"), ]
lr2 <- survdiff(Surv(T, E) ~ g + strata(c), data = sub)
cat("lr2", lr2$chisq, pchisq(lr2$chisq, 1, lower.tail = FALSE), "\n")
d$b <- as.numeric(d$g == "b")
cx <- coxph(Surv(T, E) ~ x + b + strata(c), data = d, ties = "efron",
            control = coxph.control(eps = 1e-14, iter.max = 200, toler.chol = 1e-15))
co <- summary(cx)$coefficients
for (v in rownames(co)) cat(v, co[v, 1], co[v, 3], co[v, 5], "\n")
"""


@pytest.mark.parametrize("n, seed, ties", [(60, 1, True), (150, 5, False), (200, 9, True)])
def test_stratified_logrank_and_cox_agree_with_r(n, seed, ties, tmp_path):
    from alsalvage import survival as S

    require(shutil.which("Rscript") is not None, "Rscript (r-base-core, r-cran-survival) is not installed")
    rng = np.random.default_rng(seed)
    t = rng.exponential(10, n)
    d = pd.DataFrame(
        {
            "T": np.round(t) + 1 if ties else t,
            "E": rng.binomial(1, 0.7, n),
            "g": rng.choice(["a", "b", "c"], n),
            "c": rng.choice(["Athens", "Pavia", "Heidelberg"], n, p=[0.5, 0.3, 0.2]),
            "x": rng.normal(size=n),
        }
    )
    d.to_csv(tmp_path / "d.csv", index=False, float_format="%.17g")
    (tmp_path / "s.R").write_text(R_STRATA)
    proc = subprocess.run(
        ["Rscript", str(tmp_path / "s.R"), str(tmp_path / "d.csv")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    r = {ln.split()[0]: [float(x) for x in ln.split()[1:]] for ln in proc.stdout.splitlines()}
    lr = S.logrank_stratified(d["T"], d["E"], d["g"], d["c"])
    assert np.allclose([lr.statistic, lr.p], r["lr"], rtol=1e-6) and lr.df == 2
    sub = d[d["g"].isin(["a", "b"])]
    lr2 = S.logrank_stratified(sub["T"], sub["E"], sub["g"], sub["c"])
    assert np.allclose([lr2.statistic, lr2.p], r["lr2"], rtol=1e-6) and lr2.df == 1
    res = S.cox(d.assign(b=(d["g"] == "b").astype(float)), "T", "E", ["x", "b"], ALPHA, EPP, strata="c")
    for v in ("x", "b"):
        got = res.summary.loc[v, ["coef", "se", "p"]].to_numpy(float)
        assert np.allclose(got, r[v], rtol=1e-6), (v, got, r[v])
    assert res.summary["ph_p"].isna().all()  # not computed for a stratified model


def test_one_stratum_is_the_plain_logrank():
    from alsalvage import survival as S

    d = cohort(80, 2)
    g = np.where(d["PEXFL"] == 1, "exposed", "naive")
    plain = S.logrank(d["T"], d["E"], g)
    one = S.logrank_stratified(d["T"], d["E"], g, ["all"] * len(d))
    assert one.statistic == pytest.approx(plain.statistic, rel=1e-9) and one.p == pytest.approx(plain.p, rel=1e-9)
    # a missing stratum leaves the patient out, as survdiff's na.omit
    centre = pd.Series(["A"] * len(d), dtype=object)
    centre[:5] = None
    assert S.logrank_stratified(d["T"], d["E"], g, centre).n_dropped == 5


# ------------------------------------------------------------------ centre in the analyses
def _with_centre():
    from stats_data import small_cohort

    d = small_cohort()
    # P01-P05 Athens, P06-P09 Pavia, P10 without a centre
    d["adsl"] = d["adsl"].assign(SITEID=["Athens"] * 5 + ["Pavia"] * 4 + [None])
    return d


def _analyse(d, name, **params):
    from alsalvage.stats.registry import BY_NAME
    from alsalvage.stats.run import run_analysis
    from config_defaults import stats_params

    return {r["key"]: r for r in run_analysis(BY_NAME[name], d, stats_params(**params))[0]}


def test_table1_by_centre():
    d = _with_centre()
    off = _analyse(d, "table1")
    assert not any(".by_centre." in k for k in off)
    r = _analyse(d, "table1", centre={"table1_by_centre": True, "stratify": False})
    rest = {k: v for k, v in r.items() if ".by_centre." not in k}
    assert rest.keys() == off.keys()  # the other rows unchanged
    assert all(rest[k].get("formatted") == off[k].get("formatted") for k in off)
    assert r["baseline.by_centre.Athens.n"]["estimate"] == 5 and r["baseline.by_centre.Pavia.n"]["estimate"] == 4
    assert r["baseline.by_centre.missing"]["estimate"] == 1
    # ages: Athens 50 60 70 42 82 -> median 60; Pavia 63 55 66 71 -> 64.5
    assert r["baseline.age.by_centre.Athens.median"]["estimate"] == 60
    assert r["baseline.age.by_centre.Pavia.median"]["estimate"] == 64.5
    # male: Athens P01 P02 P04 (3 of 5), Pavia P06 P08 P09 (3 of 4)
    male = r["baseline.sex.by_centre.Pavia.male"]
    assert (male["n"], male["denominator"]) == (3, 4)
    assert r["baseline.age.by_centre.Pavia.median"]["group"] == "Pavia"


def test_table1_by_centre_needs_the_column():
    from stats_data import small_cohort

    with pytest.raises(Exception, match="centre column"):
        _analyse(small_cohort(), "table1", centre={"table1_by_centre": True, "stratify": False})


def test_centre_strata_in_survival():
    from alsalvage import survival as S

    d = _with_centre()
    plain = _analyse(d, "survival", timepoints=(12, 24), landmarks=(3, 6))
    r = _analyse(d, "survival", timepoints=(12, 24), landmarks=(3, 6), centre={"table1_by_centre": False, "stratify": True})
    # the OS estimates do not change; the tests across groups do, and say so
    assert r["os.median"]["formatted"] == plain["os.median"]["formatted"] == "20.0 (2.0-NR)"
    os_ = d["adtte"][d["adtte"]["PARAMCD"] == "OS"].merge(d["adsl"], on="USUBJID")
    want = S.logrank_stratified(os_["AVAL"], (os_["CNSR"] == 0).astype(int), os_["PEXGRP"], os_["SITEID"])
    got = r["os.by_pexgrp.logrank_p"]
    assert got["p"] == pytest.approx(want.p) and got["method"].endswith("stratified by centre")
    assert r["os.naive_vs_exposed.logrank_p"]["method"] == "log-rank test, 2 groups, stratified by centre"
    assert "stratified by centre" in r["os.cox.naive_vs_exposed.hr"]["method"]
    assert "stratified by centre" not in plain["os.cox.naive_vs_exposed.hr"]["method"]
    assert r["os.cox.ph.naive.p"]["note"] == "not computed for a model stratified by centre"
    # the landmark log-rank tests too
    for lm in (3, 6):
        key = f"os.landmark_{lm}m.logrank_p"
        assert r[key]["method"] == plain[key]["method"] + ", stratified by centre"
    # P10 has no centre: left out of the stratified model
    assert r["os.cox.events"]["n"] <= plain["os.cox.events"]["n"]
    with pytest.raises(Exception, match="centre column"):
        from stats_data import small_cohort

        _analyse(small_cohort(), "survival", centre={"table1_by_centre": False, "stratify": True})


def test_landmark_logrank_stratified_by_centre():
    """From the landmark, responders vs the others stratified by centre: the stratified
    log-rank of the landmark times (survival.logrank_stratified)."""
    from alsalvage import survival as S
    from alsalvage.stats.responders import responded_by

    d = _with_centre()
    r = _analyse(d, "survival", timepoints=(12,), landmarks=(3,), centre={"table1_by_centre": False, "stratify": True})
    os_ = d["adtte"][d["adtte"]["PARAMCD"] == "OS"].merge(d["adsl"], on="USUBJID")
    alive = os_[os_["AVAL"] > 3]
    from config_defaults import stats_params

    prm = stats_params()
    resp = alive["USUBJID"].isin(responded_by(d["adrs"], 3, prm["days_per_month"], prm["low_dflc_counts"]))
    want = S.logrank_stratified(alive["AVAL"] - 3, (alive["CNSR"] == 0).astype(int), np.where(resp, "r", "n"), alive["SITEID"])
    got = r["os.landmark_3m.logrank_p"]
    assert got["p"] == pytest.approx(want.p, nan_ok=True) and got["statistic"] == pytest.approx(want.statistic, nan_ok=True)


@pytest.mark.parametrize("stratify", [False, True])
def test_gray_test_of_dialysis_stratified_by_centre(stratify):
    """Gray's test of dialysis by group: stratified by centre (survival.gray_test strata=)
    under analysis.centre.stratify, the cumulative incidences themselves unchanged."""
    from alsalvage import survival as S

    d = _with_centre()
    plain = _analyse(d, "renal", timepoints=(12,))
    r = _analyse(d, "renal", timepoints=(12,), centre={"table1_by_centre": False, "stratify": stratify})
    tt = d["adtte"][d["adtte"]["PARAMCD"] == "TTDIAL"].merge(d["adsl"], on="USUBJID")
    tt = tt[tt["PEXGRP"].isin(["naive", "sensitive", "refractory"])]
    want = S.gray_test(tt["AVAL"], tt["CAUSEN"].astype(int), tt["PEXGRP"], cause=1,
                       strata=tt["SITEID"] if stratify else None)
    got = r["renal.dialysis.by_pexgrp.gray_p"]
    assert got["p"] == pytest.approx(want.p, nan_ok=True)
    assert got["method"].endswith("stratified by centre") == stratify
    assert {k: v["formatted"] for k, v in r.items() if "gray" not in k} == {
        k: v["formatted"] for k, v in plain.items() if "gray" not in k
    }
    if not stratify:  # NaN fields: compared as text
        assert repr(r) == repr(plain)
