"""Seed-study check: the derivations on the shipped demo cohort land on the published figures.

The workflow runs (validate -> ADSL -> ADRS -> ADTTE) in a temporary copy of the project;
the figures are then counted from the derived datasets. Tolerance rule of the seed study
for a percentage with denominator n: |reproduced - published| <= 100/n + 0.5 points.
The median OS (KM, lifelines, used only here) must lie within +-2 months of 29: two
months is about the spacing of the event times around the median in a cohort of 50.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from helpers import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

MEDIAN_OS_MONTHS, MEDIAN_OS_TOL = 29.0, 2.0


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    from helpers import copy_project

    project = copy_project(tmp_path_factory.mktemp("demo") / "project")
    targets = ["results/derived/adsl.parquet", "results/derived/adrs.parquet", "results/derived/adtte.parquet"]
    snakemake(project, *targets, check=True)
    d = project / "results" / "derived"
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    return {
        "adsl": pd.read_parquet(d / "adsl.parquet"),
        "adrs": pd.read_parquet(d / "adrs.parquet"),
        "adtte": pd.read_parquet(d / "adtte.parquet"),
        "cfg": cfg,
    }


def check_pct(label, k, n, published):
    got = 100.0 * k / n
    tol = 100.0 / n + 0.5
    assert abs(got - published) <= tol, f"{label}: {k}/{n} = {got:.1f}% vs published {published}% (tol {tol:.2f})"


def best(derived, paramcd):
    a = derived["adrs"]
    return a[a["PARAMCD"] == paramcd].set_index("USUBJID")


def itt(derived):
    s = derived["adsl"]
    return s[s["ITTFL"] == "Y"].set_index("USUBJID")


def test_cohort_is_fifty_treated(derived):
    assert len(itt(derived)) == 50


def test_hematologic_response_itt(derived):
    ids = itt(derived).index
    b = best(derived, "BESTHEM").loc[ids]
    counted = derived["cfg"]["hematologic"]["low_dflc_counts_as_response"]
    n = len(ids)
    # response = CR, VGPR, PR (+ LOWDFLC when counted, as VGPR-equivalent)
    resp_levels = ["CR", "VGPR", "PR"] + (["LOWDFLC"] if counted else [])
    check_pct(">= PR (ITT)", int(b["AVALC"].isin(resp_levels).sum()), n, 57)
    check_pct("CR", int((b["AVALC"] == "CR").sum()), n, 5)
    vgpr_levels = ["VGPR"] + (["LOWDFLC"] if counted else [])
    check_pct("VGPR (incl. low-dFLC responses)", int(b["AVALC"].isin(vgpr_levels).sum()), n, 24)
    check_pct("PR", int((b["AVALC"] == "PR").sum()), n, 28)


def _ge_pr_rate(derived, mask):
    s = itt(derived)
    ids = s.index[mask(s)]
    b = best(derived, "BESTHEM").loc[ids]
    counted = derived["cfg"]["hematologic"]["low_dflc_counts_as_response"]
    levels = ["CR", "VGPR", "PR"] + (["LOWDFLC"] if counted else [])
    return int(b["AVALC"].isin(levels).sum()), len(ids)


def test_response_by_prior_bortezomib(derived):
    k, n = _ge_pr_rate(derived, lambda s: s["PEXFL"] == 1)
    check_pct("with prior bortezomib", k, n, 56)
    k, n = _ge_pr_rate(derived, lambda s: s["PEXFL"] == 0)
    check_pct("without prior bortezomib", k, n, 58)


def test_response_refractory_vs_non(derived):
    k, n = _ge_pr_rate(derived, lambda s: s["PEXGRP"] == "refractory")
    check_pct("bortezomib refractory", k, n, 38)
    k, n = _ge_pr_rate(derived, lambda s: s["PEXGRP"] != "refractory")
    check_pct("non-refractory (naive + sensitive)", k, n, 62)


@pytest.mark.parametrize(
    "paramcd, published",
    [("BESTORG", 10), ("BESTREN", 11), ("BESTLIV", 8), ("BESTCARD", 0)],
)
def test_organ_responses(derived, paramcd, published):
    ids = itt(derived).index
    b = best(derived, paramcd).loc[ids]
    ev = b[b["EVALFL"] == "Y"]
    assert len(ev) > 0, f"{paramcd}: nobody evaluable"
    hit = "Y" if paramcd == "BESTORG" else "RESP"
    check_pct(f"{paramcd} of evaluable", int((ev["AVALC"] == hit).sum()), len(ev), published)


def test_progression_to_dialysis(derived):
    t = derived["adtte"]
    ttdial = t[(t["PARAMCD"] == "TTDIAL") & t["USUBJID"].isin(itt(derived).index)]
    events = int((ttdial["CNSR"] == 0).sum())
    # 10 patients = 20% of the 50 treated (the seed study's own denominator)
    check_pct("progressed to dialysis (of treated)", events, len(itt(derived)), 20)


def test_median_overall_survival(derived):
    from lifelines import KaplanMeierFitter

    t = derived["adtte"]
    os_ = t[(t["PARAMCD"] == "OS") & t["USUBJID"].isin(itt(derived).index)]
    km = KaplanMeierFitter().fit(os_["AVAL"], event_observed=(os_["CNSR"] == 0))
    median = km.median_survival_time_
    assert abs(median - MEDIAN_OS_MONTHS) <= MEDIAN_OS_TOL, f"median OS {median:.1f} vs published 29 months"

