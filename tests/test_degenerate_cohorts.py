"""Cohorts where something cannot be estimated complete: nobody died, nobody went on
dialysis, one or three patients. Every figure and the report are written, and what cannot
be estimated says so (unit tests of each estimator's degenerate case are below the runs)."""

from __future__ import annotations

import html as htmllib
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from alsalvage import figures, survival
from config_defaults import figure_params
from helpers import DEMO, copy_project, snakemake

def _tables() -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in DEMO.glob("*.csv")}


def no_deaths(t):
    o = t["outcomes"]
    o["death_date"] = ""
    o.loc[o["stop_reason"] == "death", "stop_reason"] = "other"


def no_dialysis(t):
    t["outcomes"]["dialysis_start_date"] = ""


def first_patients(n):
    def edit(t):
        ids = t["patients"]["patient_id"].iloc[:n].tolist()
        for k in t:
            t[k] = t[k][t[k]["patient_id"].isin(ids)]

    return edit


VARIANTS = {
    # three patients, nobody died or went on dialysis: no event of any kind
    "three_no_events": [no_deaths, no_dialysis, first_patients(3)],
    "one_patient": [first_patients(1)],
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def degenerate_run(request, tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp(request.param))
    tables = _tables()
    for edit in VARIANTS[request.param]:
        edit(tables)
    for name, df in tables.items():
        df.to_csv(work / "resources" / "demo" / f"{name}.csv", index=False, lineterminator="\n")
    proc = snakemake(work)
    return request.param, work, proc


@pytest.mark.workflow
@pytest.mark.slow
def test_degenerate_cohort_completes_with_every_output(degenerate_run):
    name, work, proc = degenerate_run
    assert proc.returncode == 0, f"{name}:\n{proc.stderr[-6000:]}"
    assert (work / "results" / "report.html").stat().st_size > 0
    for fig in figures.FIGURES:
        for fmt in (*figures.FORMATS, "json"):
            assert (work / "results" / "figures" / f"{fig}.{fmt}").stat().st_size > 0, (fig, fmt)


@pytest.mark.workflow
@pytest.mark.slow
def test_degenerate_cohort_says_not_estimable(degenerate_run):
    name, work, proc = degenerate_run
    assert proc.returncode == 0
    res = json.loads((work / "results" / "stats" / "results.json").read_text())["results"]
    cox = res["os.cox.naive_vs_exposed.hr"]
    assert cox["estimate"] is None and cox["formatted"] == "not estimable" and "not estimable" in cox["note"]
    # every Cox term keeps its key, whatever the cohort could estimate
    assert {"os.cox.mayo2004_II.hr", "os.cox.mayo2004_III.hr"} <= set(res)
    html = (work / "results" / "report.html").read_text()
    assert "not estimable" in html
    caption = json.loads((work / "results" / "figures" / "forest_cox.json").read_text())
    assert "not estimable" in json.dumps(caption)
    if name == "three_no_events":
        lr = res["os.by_pexgrp.logrank_p"]
        assert lr["p"] is None and lr["note"] == "not estimable: no events"
        assert res["renal.dialysis.by_pexgrp.gray_p"]["p"] is None


# ------------------------------------------------------------------ the estimators' edge cases


def test_logrank_without_events_is_not_estimable():
    """R: survdiff(Surv(t, e) ~ g) with no events gives chisq 0 and p = NA."""
    t = survival.logrank([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert math.isnan(t.p) and t.note == "not estimable: no events"
    t = survival.logrank_pair([1, 2], [0, 0], [3, 4], [0, 0])
    assert math.isnan(t.p) and t.note == "not estimable: no events"
    t = survival.logrank([1, 2], [1, 1], ["a", "a"])
    assert math.isnan(t.p) and t.note == "not estimable: fewer than 2 groups"
    t = survival.logrank_pair([1, 2], [1, 0], [], [])
    assert math.isnan(t.p) and t.note == "not estimable: a group is empty"


@pytest.mark.parametrize("status", [[0, 0, 0, 0], [2, 0, 2, 0]])  # nothing / only competing events
def test_gray_without_events_of_interest_is_not_estimable(status):
    t = survival.gray_test(np.array([1.0, 2, 3, 4]), np.array(status), ["a", "b", "a", "b"], cause=1)
    assert math.isnan(t.p) and t.note == "not estimable: no events of interest"


def test_forest_without_any_estimate_draws_a_not_estimable_panel(tmp_path):
    terms = [{"label": lab, "hr": None, "ci_low": None, "ci_high": None, "p": None} for lab in ("a", "b")]
    data = {"results": {"cox": {"terms": terms, "n": 3, "events": 0,
                                "note": "Cox model not estimable: Cox model: no events in the 3 complete cases"}}}
    fig, caption = figures.draw_forest_cox(data, figure_params())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("Not estimable\nno events in the 3 complete cases") for t in texts), texts
    assert caption.endswith("not estimable in this cohort (no events in the 3 complete cases).")


def test_forest_marks_a_term_that_could_not_be_estimated():
    terms = [{"label": "naive", "hr": 0.5, "ci_low": 0.25, "ci_high": 1.0, "p": 0.05},
             {"label": "stage II", "hr": None, "ci_low": None, "ci_high": None, "p": None}]
    fig, caption = figures.draw_forest_cox({"results": {"cox": {"terms": terms, "n": 9, "events": 4}}}, figure_params())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "not estimable" in texts and any(t.startswith("0.50") for t in texts), texts
    assert "Terms marked not estimable" in caption


# ------------------------------------------------------------------ identifiers as exports spell them

AWKWARD = ["PAT 001", "UKM/2012/002", "Müller-003", "O'Brien-008"]


@pytest.mark.workflow
@pytest.mark.slow
def test_awkward_identifiers_are_accepted_and_masked_in_the_report(tmp_path):
    """Identifiers with spaces, slashes, umlauts and apostrophes pass validation; a warning
    naming them (a missing baseline NT-proBNP) reaches the report with the identifier
    masked, and no identifier appears anywhere in the page."""
    work = copy_project(tmp_path / "ids")
    tables = _tables()
    first_patients(12)(tables)
    old = tables["patients"]["patient_id"].tolist()
    new = {o: (AWKWARD[i] if i < len(AWKWARD) else f"Pat/{i:03d}") for i, o in enumerate(old)}
    for df in tables.values():
        df["patient_id"] = df["patient_id"].map(new)
    labs = tables["labs"]
    tables["labs"] = labs[~labs["patient_id"].isin(AWKWARD) | (labs["analyte"] != "ntprobnp")]
    for name, df in tables.items():
        df.to_csv(work / "resources" / "demo" / f"{name}.csv", index=False, lineterminator="\n")
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-6000:]
    findings = pd.read_csv(work / "results" / "validated" / "findings.csv", dtype=str, keep_default_na=False)
    named = findings[findings["message"].str.contains("|".join(map(re.escape, AWKWARD)))]
    assert len(named) >= len(AWKWARD), findings.to_string()  # the warnings do name them
    page = htmllib.unescape((work / "results" / "report.html").read_text())
    assert "[patient]" in page
    leaked = [pid for pid in new.values() if pid in page]
    assert not leaked, leaked
