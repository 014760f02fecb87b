"""Seed-study check: the baseline, prior-therapy, exposure, discontinuation and toxicity
figures derived from the shipped demo cohort (resources/demo) match the published ones.

The demo tables go through the real validation stage (package call, parquet written to a
temporary directory) and then through derive_adsl / derive_adae (treatment-emergent events), as in the workflow.

Tolerance rules (never loosened to make a figure pass):
- a percentage of the n treated patients may differ from the published one by at most
  100/n + 0.5 points (one patient's worth plus rounding; the seed-study rule);
- a median or range limit must round to the published figure at the precision it is
  published with: |reproduced - published| <= half a unit of the last published digit
  (0.5 for whole numbers such as an age of 63 or an NT-proBNP of 2369; 0.05 for 7.2
  months); doses, given in whole mg steps, must be equal.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from alsalvage import contract as C
from alsalvage import validation as V
from alsalvage.adverse_events import REQUIRED as AE_REQUIRED
from alsalvage.adverse_events import derive_adae
from alsalvage.baseline import REQUIRED, derive_adsl
from alsalvage.derive_common import read_validated
from helpers import DEMO, REPO

CFG = yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    assert (DEMO / "patients.csv").exists(), "the demo cohort resources/demo is missing"
    out = tmp_path_factory.mktemp("demo")
    paths = {t: str(DEMO / f"{t}.csv") for t in C.TABLES}
    V.validate_tables(
        paths=paths,
        files=paths,
        limits=CFG["validation"],
        window_days=CFG["baseline"]["window_days"],
        involvement={
            "kidney_proteinuria_g": CFG["renal"]["involvement_proteinuria_g"],
            "heart_ntprobnp_ng_l": CFG["cardiac"]["involvement_ntprobnp_ng_l"],
            "liver_alp_x_uln": CFG["liver"]["involvement_alp_x_uln"],
        },
        drugs=CFG["drugs"],
        agents=CFG["study"]["agents"],
        tables_out={t: out / f"{t}.parquet" for t in C.TABLES},
        findings_out=out / "findings.csv",
        inputs_out=out / "inputs.json",
        log_path=out / "validate.log",
        log_findings=out / "validate.findings.csv",
        upcr_as_proteinuria=CFG["renal"]["upcr_as_proteinuria"],
    )
    files = {t: out / f"{t}.parquet" for t in REQUIRED}
    tables = read_validated(files, "derive_baseline", REQUIRED)
    params = {
        "window_days": CFG["baseline"]["window_days"],
        "egfr_equation": CFG["egfr"]["equation"],
        "staging": CFG["staging"],
        "prior_exposure": CFG["prior_exposure"],
        "drugs": CFG["drugs"],
        "measurable_dflc_mg_l": CFG["hematologic"]["measurable_dflc_mg_l"],
        "low_dflc_min_mg_l": CFG["hematologic"]["low_dflc_min_mg_l"],
        "flc_ratio_low": CFG["hematologic"]["flc_ratio_low"],
        "flc_ratio_high": CFG["hematologic"]["flc_ratio_high"],
        "days_per_month": CFG["endpoints"]["days_per_month"],
        "death_on_treatment_days": CFG["exposure"]["death_on_treatment_days"],
        "agents": CFG["study"]["agents"],
        "upcr_as_proteinuria": CFG["renal"]["upcr_as_proteinuria"],
    }
    adsl = derive_adsl(tables, params)
    ae = read_validated({"adverse_events": out / "adverse_events.parquet"}, "x", {"adverse_events": AE_REQUIRED})
    adae = derive_adae(ae["adverse_events"], adsl, CFG["exposure"]["teae_days_after_last_dose"])
    treated = adsl[adsl["SAFFL"] == "Y"]
    # the toxicity figures count treatment-emergent events only, as the tables do
    return treated, adae[adae["USUBJID"].isin(treated["USUBJID"]) & (adae["TRTEMFL"] == "Y")]


def _pct_ok(count, n, published):
    got = 100.0 * count / n
    tol = 100.0 / n + 0.5
    assert abs(got - published) <= tol, f"{got:.1f}% ({count}/{n}) vs published {published}% (tolerance {tol:.1f})"


def _median_ok(got, published, half_unit=0.5):
    assert abs(got - published) <= half_unit, f"{got} vs published {published} (+-{half_unit})"


def test_cohort_is_fifty_treated_patients(derived):
    adsl, _ = derived
    assert len(adsl) == 50  # 50 patients with >= 1 dose (SAFFL = Y)


# figure, ADSL column, published median, min, max (None = not published)
MEDIANS = [
    ("age", "AGE", 63, 42, 82),
    ("eGFR at start", "EGFRBL", 53, None, None),
    ("NT-proBNP at start", "NTPROBL", 2369, None, None),
    ("months first-line start -> lenalidomide", "FLTOIDXM", 14, 1, 108),
    ("prior lines", "NPRIOR", 1, 1, 4),
    ("cycles", "NCYCLES", 7, None, None),
]


@pytest.mark.parametrize("figure,col,med,lo,hi", MEDIANS, ids=[m[0] for m in MEDIANS])
def test_medians_and_ranges(derived, figure, col, med, lo, hi):
    adsl, _ = derived
    x = adsl[col].astype("float64").dropna()  # eGFR: the patients not on dialysis
    _median_ok(x.median(), med)
    if lo is not None:
        _median_ok(x.min(), lo)
        _median_ok(x.max(), hi)


def test_duration_of_therapy(derived):
    adsl, _ = derived
    _median_ok(adsl["TRTDURM"].median(), 7.2, 0.05)  # published 7.2 months


def test_lenalidomide_dose(derived):
    adsl, _ = derived
    start = adsl["STDOS"]
    assert (start.median(), start.min(), start.max()) == (10, 5, 15)  # 10 (5-15) mg
    assert (adsl["MXDOS"] >= 25).sum() == 0  # nobody received 25 mg


# figure, mask on ADSL, published %
PERCENTS = [
    ("male", lambda a: a["SEX"] == "M", 67),
    ("heart", lambda a: a["HEART"] == 1, 72),
    ("kidney", lambda a: a["KIDNEY"] == 1, 75),
    ("peripheral nerve", lambda a: a["NERVE"] == 1, 33),
    ("liver", lambda a: a["LIVER"] == 1, 24),
    ("on dialysis at start", lambda a: a["DIALBL"] == 1, 12),
    ("Mayo 2004 I", lambda a: a["MAYO04"] == "I", 21),
    ("Mayo 2004 II", lambda a: a["MAYO04"] == "II", 41),
    ("Mayo 2004 III", lambda a: a["MAYO04"] == "III", 38),
    ("prior bortezomib", lambda a: a["PEXFL"] == 1, 72),
    ("bortezomib refractory", lambda a: a["PEXGRP"] == "refractory", 42),
    ("potentially bortezomib sensitive", lambda a: a["PEXGRP"] == "sensitive", 30),
    ("early discontinuation", lambda a: a["EARLYDSC"] == 1, 46),
    ("stop: progression or no response", lambda a: a["STOPRSN"].isin(["progression", "no_response"]), 10),
    ("stop: toxicity", lambda a: a["STOPRSN"] == "toxicity", 26),
    ("stop: patient's or physician's decision", lambda a: a["STOPRSN"].isin(["patient_decision", "physician_decision"]), 10),
    ("died on therapy", lambda a: a["DTHONTRT"] == 1, 17),
]  # fmt: skip


@pytest.mark.parametrize("figure,mask,published", PERCENTS, ids=[p[0] for p in PERCENTS])
def test_percentages(derived, figure, mask, published):
    adsl, _ = derived
    _pct_ok(int(mask(adsl).sum()), len(adsl), published)


def test_early_discontinuation_is_the_three_reasons(derived):
    # the seed study's 10% + 26% + 10% make up its 46%: death is counted apart
    adsl, _ = derived
    early = adsl[adsl["EARLYDSC"] == 1]
    assert not (early["STOPRSN"] == "death").any()


# CTCAE term, published % of treated patients with grade >= 3 (AKI: any grade)
TOX = [
    ("platelet count decreased", 6, True),
    ("anemia", 15, True),
    ("neutrophil count decreased", 6, True),
    ("diarrhea", 9, True),
    ("fatigue", 15, True),
    ("rash maculo-papular", 15, True),
    ("pneumonitis", 4, True),
    ("acute kidney injury", 8, False),
]


@pytest.mark.parametrize("term,published,grade3", TOX, ids=[t[0] for t in TOX])
def test_toxicity(derived, term, published, grade3):
    adsl, adae = derived
    rows = adae[(adae["AETERM"] == term) & ((adae["GR3FL"] == "Y") if grade3 else True)]
    _pct_ok(rows["USUBJID"].nunique(), len(adsl), published)
