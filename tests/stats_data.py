"""Hand-built derived datasets (docs/interfaces.md columns) for the statistics tests.

`small_cohort()` is a fixed 10-patient cohort whose every count is written down in the
tests; `random_cohort()` makes seeded random cohorts for the R cross-check and smoke runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import DEMO, copy_project, require, snakemake

IDX = pd.Timestamp("2015-01-01")


def _adsl(rows):
    cols = [
        "USUBJID",
        "SEX",
        "AGE",
        "PEXGRP",
        "MAYO04",
        "DIALBL",
        "HEART",
        "KIDNEY",
        "LIVER",
        "NERVE",
        "EGFRBL",
        "NTPROBL",
        "STDOS",
        "MXDOS",
        "NCYCLES",
        "TRTDURM",
        "STOPRSN",
        "EARLYDSC",
        "DTHONTRT",
    ]
    a = pd.DataFrame(rows, columns=cols)
    a["PEXFL"] = (a["PEXGRP"] != "naive").astype(int)
    a["TRTAGENT"] = "lenalidomide"
    a["DOSEU"] = "mg"
    a["SAFFL"] = "Y"
    a["ITTFL"] = "Y"
    a["TRTSDT"] = IDX
    return a


def small_cohort():
    """10 treated patients (P01-P10); the tests spell out every count by hand."""
    # fmt: off
    adsl = _adsl(
        [
            # id    sex age  bortgrp      mayo  dial H K L N egfr  ntpro  st  mx  cyc dur  stop                 early death
            ["P01", "M", 50, "naive", "I", 0, 1, 1, 0, 0, 60.0, 300.0, 10, 10, 6, 5.5, "completed", 0, 0],
            ["P02", "M", 60, "naive", "II", 0, 1, 0, 0, 1, 40.0, 2000.0, 10, 15, 8, 7.4, "completed", 0, 0],
            ["P03", "F", 70, "naive", "III", 1, 0, 1, 1, 0, np.nan, 9000.0, 5, 5, 2, 1.8, "toxicity", 1, 0],
            ["P04", "M", 42, "sensitive", "II", 0, 1, 1, 0, 0, 80.0, 1500.0, 15, 15, 12, 11.0, "completed", 0, 0],
            ["P05", "F", 82, "sensitive", "III", 0, 1, 1, 0, 1, 30.0, 5000.0, 10, 10, 3, 2.7, "progression", 1, 0],
            ["P06", "M", 63, "refractory", "I", 0, 0, 1, 0, 0, 90.0, 200.0, 10, 10, 7, 6.4, "patient_decision", 1, 0],
            ["P07", "F", 55, "refractory", "II", 1, 1, 1, 1, 0, np.nan, 3000.0, 5, 10, 4, 3.6, "death", 0, 1],
            ["P08", "M", 66, "refractory", "III", 0, 1, 0, 0, 0, 25.0, 12000.0, 10, 10, 1, 0.9, "toxicity", 1, 0],
            ["P09", "M", 71, "refractory", "II", 0, 1, 1, 0, 0, 55.0, 2500.0, 15, 15, 9, 8.3, "no_response", 1, 0],
            ["P10", "F", 48, "refractory", None, 0, 0, 1, 1, 0, 70.0, np.nan, 10, 10, 10, 9.2, "completed", 0, 0],
        ]
    )
    # fmt: on
    best = ["CR", "VGPR", "NR", "PR", "LOWDFLC", "NR", "PR", "NR", "VGPR", None]
    evalfl = ["Y", "Y", "Y", "Y", "Y", "Y", "Y", "N", "Y", "N"]
    besthem = pd.DataFrame(
        {
            "USUBJID": adsl["USUBJID"],
            "PARAMCD": "BESTHEM",
            "AVALC": best,
            "EVALFL": evalfl,
            "ANL01FL": "Y",
            "ADY": np.nan,
        }
    ).dropna(subset=["AVALC"])
    # response assessments: day of first >= PR
    hem = pd.DataFrame(
        {
            "USUBJID": ["P01", "P01", "P02", "P04", "P05", "P07", "P09"],
            "AVALC": ["PR", "CR", "VGPR", "PR", "LOWDFLC", "PR", "VGPR"],
            "ADY": [30, 150, 80, 100, 60, 170, 200],
        }
    ).assign(PARAMCD="HEMRESP", EVALFL="Y", ANL01FL="Y")
    # best organ responses (evaluable rows) and the any-organ row
    # fmt: off
    organ = pd.DataFrame(
        [
            ("P01", "BESTREN", "RESP", "Y"), ("P03", "BESTREN", "STABLE", "Y"), ("P04", "BESTREN", "PROG", "Y"),
            ("P05", "BESTREN", "NR", "Y"), ("P06", "BESTREN", "STABLE", "Y"),
            ("P01", "BESTCARD", "NR", "Y"), ("P02", "BESTCARD", "PROG", "Y"), ("P04", "BESTCARD", "STABLE", "Y"),
            ("P05", "BESTCARD", "NR", "Y"), ("P07", "BESTCARD", "NR", "Y"),
            ("P03", "BESTLIV", "RESP", "Y"),
            # organ progression ever (P03 progressed, then stabilised: best STABLE, PROGREN Y)
            ("P01", "PROGREN", "N", "Y"), ("P03", "PROGREN", "Y", "Y"), ("P04", "PROGREN", "Y", "Y"),
            ("P05", "PROGREN", "N", "Y"), ("P06", "PROGREN", "N", "Y"), ("P02", "PROGREN", "NE", "N"),
            ("P01", "PROGCARD", "N", "Y"), ("P02", "PROGCARD", "Y", "Y"), ("P04", "PROGCARD", "N", "Y"),
            ("P05", "PROGCARD", "N", "Y"), ("P07", "PROGCARD", "N", "Y"),
            ("P03", "PROGLIV", "N", "Y"),
            ("P01", "BESTORG", "Y", "Y"), ("P02", "BESTORG", "N", "Y"), ("P03", "BESTORG", "Y", "Y"),
            ("P04", "BESTORG", "N", "Y"), ("P05", "BESTORG", "N", "Y"), ("P06", "BESTORG", "N", "Y"),
            ("P07", "BESTORG", "N", "Y"), ("P08", "BESTORG", "NE", "N"), ("P09", "BESTORG", "NE", "N"),
            ("P10", "BESTORG", "NE", "N"),
        ],
        columns=["USUBJID", "PARAMCD", "AVALC", "EVALFL"],
    ).assign(ANL01FL="Y", ADY=np.nan)
    # fmt: on
    card = pd.DataFrame(
        {
            "USUBJID": ["P01", "P02", "P02"],
            "PARAMCD": "CARDRESP",
            "AVALC": ["NR", "PROG", "PROG"],
            "EVALFL": "Y",
            "ANL01FL": "Y",
            "ADY": [90, 90, 180],
            "IMIDFL": ["Y", "Y", "N"],
            "EGFRFLFL": ["N", "Y", "N"],
        }
    )
    adrs = pd.concat([besthem, hem, organ, card], ignore_index=True)
    for c in ("IMIDFL", "EGFRFLFL"):
        adrs[c] = adrs[c].fillna("N")
    # OS months / CNSR; TTDIAL for the 8 not on dialysis
    os_ = pd.DataFrame(
        {
            "USUBJID": adsl["USUBJID"],
            "AVAL": [30.0, 24.0, 4.0, 40.0, 10.0, 15.0, 3.5, 2.0, 20.0, 12.0],
            "CNSR": [1, 0, 0, 1, 0, 1, 0, 0, 0, 1],
        }
    ).assign(PARAMCD="OS", CAUSEN=lambda x: 1 - x["CNSR"])
    ttd = pd.DataFrame(
        {
            "USUBJID": ["P01", "P02", "P04", "P05", "P06", "P08", "P09", "P10"],
            "AVAL": [30.0, 6.0, 18.0, 10.0, 15.0, 2.0, 20.0, 12.0],
            # ADaM: CNSR 0 = dialysis, 1 = no dialysis; CAUSEN 2 = death without dialysis
            "CNSR": [1, 0, 0, 1, 1, 1, 0, 1],
            "CAUSEN": [0, 1, 1, 2, 0, 2, 1, 0],
        }
    ).assign(PARAMCD="TTDIAL", CRSKFL="Y")
    adtte = pd.concat([os_, ttd], ignore_index=True)
    adae = pd.DataFrame(
        {
            "USUBJID": ["P01", "P02", "P03", "P03", "P05", "P08", "P08", "P09"],
            "AETERM": [
                "anemia",
                "anemia",
                "anemia",
                "rash maculo-papular",
                "fatigue",
                "fatigue",
                "anemia",
                "Rash maculo-papular",
            ],
            "AETOXGR": [2, 3, 4, 3, 1, 3, 1, 2],
        }
    )
    adae["TRTEMFL"] = "Y"
    # not treatment-emergent (onset before the first dose, or after the window): in ADAE,
    # never in the toxicity counts
    pre = pd.DataFrame({"USUBJID": ["P01", "P04"], "AETERM": ["anemia", "pneumonitis"], "AETOXGR": [3, 4]})
    adae = pd.concat([adae, pre.assign(TRTEMFL="N")], ignore_index=True)
    adae["GR3FL"] = np.where(adae["AETOXGR"] >= 3, "Y", "N")
    adae["ANYFL"] = "Y"
    labs = pd.DataFrame(
        {
            "patient_id": ["P01", "P01", "P02", "P02", "P04", "P05", "P07"],
            "date": IDX + pd.to_timedelta([95, 180, 85, 200, 120, 91, 60], unit="D"),
            "analyte": "ntprobnp",
            "value": [450.0, 200.0, 3000.0, 1000.0, 1500.0, 4000.0, 3000.0],
        }
    )
    return {"adsl": adsl, "adrs": adrs, "adtte": adtte, "adae": adae, "labs": labs}


def random_survival(n: int, seed: int, ties: bool = True):
    """Seeded random survival data: T (months), E (0/1), group (3 levels), x (0/1), stage (I-III)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["naive", "sensitive", "refractory"], n)
    stage = rng.choice(["I", "II", "III"], n, p=[0.25, 0.4, 0.35])
    lam = 0.03 * np.exp(0.5 * (stage == "II") + 1.0 * (stage == "III") + 0.4 * (group != "naive"))
    t_event = rng.exponential(1 / lam)
    t_cens = rng.uniform(6, 60, n)
    t = np.minimum(t_event, t_cens)
    t = np.round(t, 0 if ties else 6) + (0.5 if ties else 0)
    e = (t_event <= t_cens).astype(int)
    return pd.DataFrame({"T": t, "E": e, "group": group, "stage": stage, "x": (group != "naive").astype(int)})


STATS_RULES = ["stats"]  # the rule that turns derived datasets into tables and results.json


def write_derived(project, data: dict) -> None:
    """Place hand-built derived datasets (and validated labs) in a project copy, as the
    outputs of a finished upstream: validate's other outputs are empty placeholders, older
    than the derived datasets, so that Snakemake plans only rule stats. (--allowed-rules
    alone does not keep the upstream out: rules name their inputs as rules.<name>.output.)"""
    import os
    import time

    derived = project / "results" / "derived"
    validated = project / "results" / "validated"
    derived.mkdir(parents=True, exist_ok=True)
    validated.mkdir(parents=True, exist_ok=True)
    data["labs"].to_parquet(validated / "labs.parquet", index=False)
    upstream = [validated / "labs.parquet"]
    for name in ("patients", "therapy_lines", "salvage_cycles", "outcomes", "adverse_events"):
        (validated / f"{name}.parquet").write_bytes(b"")
        upstream.append(validated / f"{name}.parquet")
    for name in ("findings.csv", "inputs.json"):
        (validated / name).write_text("")
        upstream.append(validated / name)
    written = []
    for k in ("adsl", "adrs", "adtte", "adae"):
        data[k].to_parquet(derived / f"{k}.parquet", index=False)
        data[k].to_csv(derived / f"{k}.csv", index=False)
        written += [derived / f"{k}.parquet", derived / f"{k}.csv"]
    now = time.time()
    for f in upstream:
        os.utime(f, (now - 60, now - 60))
    for f in written:
        os.utime(f, (now, now))


_DEMO_RUN: dict = {}


@pytest.fixture(scope="session")
def demo_stats_project(tmp_path_factory):
    """The demo cohort run through the real workflow up to results/stats/results.json.

    Test modules import this fixture, which gives one fixture per module: the run is
    cached here so that the session runs the workflow once."""
    require((DEMO / "patients.csv").exists(), "the demo cohort (resources/demo/*.csv) is not generated yet")
    if "project" not in _DEMO_RUN:
        project = copy_project(tmp_path_factory.mktemp("stats_demo") / "project")
        snakemake(project, "results/stats/results.json", check=True, timeout=1800)
        _DEMO_RUN["project"] = project
    return _DEMO_RUN["project"]


@pytest.fixture(scope="session")
def demo_derived(demo_stats_project):
    return demo_stats_project / "results" / "derived"
