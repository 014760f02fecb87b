"""Tests of the seeded synthetic demo cohort (alsalvage.synthetic).

Expected numbers are hand-derived from the seed study (published percentages of 50
patients) and from the clinical rules; the arithmetic is written next to each case.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import contract
from alsalvage import synthetic as syn
from helpers import BIN, DEMO, REPO, require, snakemake

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
N_DEMO = CONFIG["demo"]["n_patients"]
SEED = CONFIG["demo"]["seed"]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# words that would reveal a derived category in a raw table header
DERIVED_WORDS = ("stage", "mayo", "refract", "sensitiv", "evaluab", "measurab", "hemresp", "organ_resp", "bortgrp", "pexgrp")


@pytest.fixture(scope="module")
def demo_tmp(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    syn.write_cohort(N_DEMO, SEED, out)
    return out


@pytest.fixture(scope="module")
def raw(demo_tmp):
    return {t: pd.read_csv(demo_tmp / f"{t}.csv", dtype=str, keep_default_na=False) for t in contract.TABLES}


@pytest.fixture(scope="module")
def plan():
    return syn.plan_cohort(N_DEMO, SEED)


# ---------------------------------------------------------------- reproducibility
def test_config_defaults_are_the_reference_cohort():
    assert (N_DEMO, SEED) == (50, 20190607)


@pytest.mark.parametrize("table", list(contract.TABLES))
def test_committed_demo_equals_regeneration(demo_tmp, table):
    committed = DEMO / f"{table}.csv"
    assert committed.exists(), f"{committed} missing: regenerate with python -m alsalvage.synthetic"
    assert (demo_tmp / f"{table}.csv").read_bytes() == committed.read_bytes()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    syn.write_cohort(40, 7, a)
    syn.write_cohort(40, 7, b)
    syn.write_cohort(40, 8, c)
    for t in contract.TABLES:
        assert (a / f"{t}.csv").read_bytes() == (b / f"{t}.csv").read_bytes(), t
    for t in ("patients", "therapy_lines", "salvage_cycles", "outcomes", "labs", "adverse_events"):
        assert (a / f"{t}.csv").read_bytes() != (c / f"{t}.csv").read_bytes(), t


# ---------------------------------------------------------------- file format and contract
@pytest.mark.parametrize("table", list(contract.TABLES))
def test_csv_format(demo_tmp, table):
    data = (demo_tmp / f"{table}.csv").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert b"\r" not in data, "'\\n' line endings only"
    text = data.decode("utf-8")
    assert text.endswith("\n")
    header = text.split("\n", 1)[0].split(",")
    assert header == [c.name for c in contract.TABLES[table].columns if not c.omit_when_absent]  # no centre


@pytest.mark.parametrize("table", list(contract.TABLES))
def test_no_derived_category_columns(raw, table):
    for col in raw[table].columns:
        assert not any(w in col.lower() for w in DERIVED_WORDS), f"{table}.{col} looks derived"


@pytest.mark.parametrize("table", list(contract.TABLES))
def test_tables_satisfy_the_contract(raw, table):
    spec = contract.TABLES[table]
    df = raw[table]
    for col in spec.columns:
        if col.omit_when_absent and col.name not in df.columns:
            continue  # an optional column the generator does not make (centre)
        s = df[col.name]
        empty = s == ""
        if not col.nullable:
            assert not empty.any(), f"{table}.{col.name}: empty cells"
        v = s[~empty]
        if col.kind == contract.DATE:
            assert v.str.match(ISO).all(), f"{table}.{col.name}: non-ISO date"
            pd.to_datetime(v, format="%Y-%m-%d")  # raises on an impossible date
        elif col.kind in (contract.INT, contract.FLOAT, contract.FLAG):
            x = pd.to_numeric(v)
            if col.kind == contract.INT:
                assert (x == np.floor(x)).all()
            if col.kind == contract.FLAG:
                assert set(x) <= {0, 1}
            if col.minimum is not None:
                assert (x >= col.minimum).all(), f"{table}.{col.name} below minimum"
            if col.maximum is not None:
                assert (x <= col.maximum).all(), f"{table}.{col.name} above maximum"
        elif col.kind == contract.CATEGORY:
            assert set(v) <= set(col.vocabulary), f"{table}.{col.name}: {set(v) - set(col.vocabulary)}"
    assert not df.duplicated(list(spec.key)).any(), f"{table}: duplicate key"
    # rows in a stable order: sorted by the key
    key = df[list(spec.key)].copy()
    for k in spec.key:
        if spec.column(k).kind == contract.INT:
            key[k] = key[k].astype(int)
    assert key.equals(key.sort_values(list(spec.key), kind="mergesort")), f"{table}: rows not in key order"


def test_lab_values_and_units(raw):
    labs = raw["labs"]
    for analyte, g in labs.groupby("analyte"):
        a = contract.ANALYTES[analyte]
        if a.qualitative:
            assert set(g["value"]) <= {"positive", "negative"}
            assert (g["unit"] == "").all()
            continue
        assert set(g["unit"]) <= set(a.units), f"{analyte}: {set(g['unit']) - set(a.units)}"
        canonical = pd.to_numeric(g["value"]) * g["unit"].map(a.units)
        assert (canonical >= a.minimum).all() and (canonical <= a.maximum).all(), analyte
    # each alternative unit is exercised at least once
    for unit in ("mg/dL", "umol/L", "pg/mL", "ug/L", "g/L", "/mm3"):
        assert (labs["unit"] == unit).any(), unit
    assert (labs.loc[labs["analyte"] == "alp", "uln"] != "").all()
    assert (labs.loc[labs["analyte"] != "alp", "uln"] == "").all()


# ---------------------------------------------------------------- allocation rule
@pytest.mark.parametrize(
    "counts, n, expected",
    [
        # N = 50 returns the reference counts unchanged
        ((10, 21, 19), 50, [10, 21, 19]),
        # 100 = 2 x 50: every count doubles
        ((10, 21, 19), 100, [20, 42, 38]),
        # n = 7: exact 1.4 / 2.94 / 2.66 -> floors 1/2/2 (5), 2 left to the largest
        # remainders .94 (II) and .66 (III) -> 1/3/3
        ((10, 21, 19), 7, [1, 3, 3]),
        # male 33 of 50 at n = 75: 49.5 / 25.5 -> floors 49/25, one left, tie -> first -> 50/25
        ((33, 17), 75, [50, 25]),
        # n = 2000: 40 x (14, 15, 21)
        ((14, 15, 21), 2000, [560, 600, 840]),
    ],
)
def test_allocate_largest_remainder(counts, n, expected):
    assert syn.allocate(counts, n).tolist() == expected


@pytest.mark.parametrize(
    "count50, denom50, denom_n, expected",
    [
        (8, 14, 14, 8),  # naive responders at N = 50
        (8, 14, 28, 16),  # twice the group
        (3, 31, 62, 6),  # renal responders, twice the evaluable patients
        (9, 21, 10, 4),  # 9 x 10 / 21 = 4.29 -> 4
        (11, 15, 9, 7),  # 11 x 9 / 15 = 6.6 -> 7
    ],
)
def test_share(count50, denom50, denom_n, expected):
    assert syn.share(count50, denom50, denom_n) == expected


def test_planned_allocation_for_50(plan):
    """The planned category sizes for the 50 patients of the seed study (hand calculation:
    published percentage x 50, rounded to a whole patient within the tolerance rule)."""
    assert (~plan["female"]).sum() == 33  # male 67% x 50 = 33.5 -> 33
    assert plan["heart"].sum() == 36  # 72% x 50
    assert plan["kidney"].sum() == 37  # 75% x 50 = 37.5 -> 37
    assert plan["nerve"].sum() == 16  # 33% x 50 = 16.5 -> 16
    assert plan["liver"].sum() == 12  # 24% x 50
    assert plan["dialysis"].sum() == 6  # 12% x 50
    assert np.bincount(plan["stage"]).tolist() == [10, 21, 19]  # 21/41/38% -> 10.5/20.5/19
    assert np.bincount(plan["bort"]).tolist() == [14, 15, 21]  # naive 28%, sensitive 30%, refractory 42%
    responders = plan["resp"] > 0
    assert responders.sum() == 28  # ITT 57% x 50 = 28.5 -> 28
    assert [int(responders[plan["bort"] == g].sum()) for g in range(3)] == [8, 11, 9]
    assert np.bincount(plan["resp"], minlength=4).tolist() == [22, 14, 12, 2]  # NR / PR 28% / VGPR 24% / CR 5%
    stops = dict(zip(syn.STOP_ORDER, np.bincount(plan["stop"], minlength=len(syn.STOP_ORDER)).tolist()))
    # progression or no response 10% = 5, toxicity 26% = 13, decision 10% = 5, died on therapy 17% = 8.5 -> 8
    assert stops["progression"] + stops["no_response"] == 5
    assert stops["toxicity"] == 13
    assert stops["patient_decision"] + stops["physician_decision"] == 5
    assert stops["death"] == 8
    assert stops["completed"] == 50 - 5 - 13 - 5 - 8
    assert plan["dial_prog"].sum() == 10  # 10 patients progressed to dialysis
    assert (plan["dial_prog"] & plan["dialysis"]).sum() == 0
    assert plan["renal_resp"].sum() == 3  # 11% of 31 renal-evaluable = 3.4 -> 3
    assert plan["liver_resp"].sum() == 1  # 8% of 12 = 0.96 -> 1
    assert np.bincount(plan["n_lines"]).tolist() == [0, 27, 13, 7, 3]  # median 1, range 1-4


# ---------------------------------------------------------------- figures read straight from the raw tables
def _frames(raw):
    p = raw["patients"].set_index("patient_id")
    c = raw["salvage_cycles"]
    idx = pd.to_datetime(c[c["cycle"] == "1"].set_index("patient_id")["start_date"])
    o = raw["outcomes"].set_index("patient_id")
    labs = raw["labs"].copy()
    labs["date"] = pd.to_datetime(labs["date"])
    labs["t"] = (labs["date"] - labs["patient_id"].map(idx)).dt.days
    num = pd.to_numeric(labs["value"].replace({"positive": "1", "negative": "0"}))
    factor = [contract.ANALYTES[a].units[u] for a, u in zip(labs["analyte"], labs["unit"])]
    labs["v"] = num * np.asarray(factor)
    return p, idx, o, labs


def test_baseline_figures_from_raw(raw, plan):
    p, idx, o, labs = _frames(raw)
    birth = pd.to_datetime(p["birth_date"])
    # age in completed calendar years at index
    age = idx.dt.year - birth.dt.year - ((idx.dt.month * 100 + idx.dt.day) < (birth.dt.month * 100 + birth.dt.day))
    assert (age.min(), age.max(), age.median()) == (42, 82, 63)  # published 63 (42-82)
    assert (p["sex"] == "M").sum() == 33
    assert [int(p[o_].astype(int).sum()) for o_ in ("heart", "kidney", "nerve", "liver")] == [36, 37, 16, 12]
    dial = pd.to_datetime(o["dialysis_start_date"]) <= idx
    assert dial.sum() == 6
    base = labs[(labs["t"] >= -30) & (labs["t"] <= 0)]
    bl = base.sort_values("date").groupby(["patient_id", "analyte"])["v"].last().unstack()
    # Mayo 2004: NT-proBNP >= 332 ng/L and cTnT >= 35 ng/L -> 0/1/2 markers = I/II/III
    stage = (bl["ntprobnp"] >= 332).astype(int) + (bl["ctnt"] >= 35).astype(int)
    assert np.bincount(stage, minlength=3).tolist() == [10, 21, 19]
    assert bl["ntprobnp"].median() == 2369  # published median 2369 pg/mL
    # baseline markers stay well away from the staging thresholds
    nt, tn = bl["ntprobnp"], bl["ctnt"]
    assert ((nt < 300) | (nt > 450)).all() and ((tn < 30) | (tn > 45)).all()
    # every baseline value the plan needs is present (baseline rows are never missing)
    needed = ["flc_kappa", "flc_lambda", "serum_ife", "ntprobnp", "ctnt", "creatinine", "proteinuria_24h", "alp"]
    assert bl[needed].notna().all().all()


def test_prior_bortezomib_groups_from_raw(raw, plan):
    tl = raw["therapy_lines"]
    b = tl[tl["agents"].str.split(";").apply(lambda a: "bortezomib" in a)].copy()
    b["line"] = b["line"].astype(int)
    last = b.sort_values("line").groupby("patient_id").last()
    last_dose = pd.to_datetime(last["last_bortezomib_date"].replace("", None)).fillna(pd.to_datetime(last["end_date"]))
    gap = (pd.to_datetime(last["progression_date"]) - last_dose).dt.days
    sensitive = last["best_response"].isin(["CR", "VGPR", "PR"]) & (gap > 182.6)
    assert len(last) == 36 and sensitive.sum() == 15  # prior bortezomib 72%, sensitive 30%
    # far from the 6-month threshold on both sides
    assert ((gap > 240) | (gap < 130)).all()
    ids = syn.patient_ids(N_DEMO)
    planned = pd.Series(plan["bort"], index=ids)
    assert (planned[last.index[sensitive]] == 1).all() and (planned[last.index[~sensitive]] == 2).all()


def test_hematologic_best_response_from_raw(raw, plan):
    """Best response by the consensus rules, per patient, equals the planned one."""
    p, idx, o, labs = _frames(raw)
    w = labs.pivot_table(index=["patient_id", "date", "t"], columns="analyte", values="v").reset_index()
    kappa = p["isotype"] == "kappa"
    iso = w["patient_id"].map(kappa)
    w["dflc"] = np.where(iso, w["flc_kappa"] - w["flc_lambda"], w["flc_lambda"] - w["flc_kappa"])
    w["ratio"] = w["flc_kappa"] / w["flc_lambda"]
    b = w[(w["t"] >= -30) & (w["t"] <= 0)].sort_values("date").groupby("patient_id")["dflc"].last()
    stop = pd.concat(
        [
            pd.to_datetime(o["salvage_end_date"]) + pd.Timedelta(days=60),
            pd.to_datetime(o["next_line_date"].replace("", None)),
            pd.to_datetime(o["last_contact_date"]),
        ],
        axis=1,
    ).min(axis=1)
    a = w[(w["t"] > 0) & (w["date"] <= w["patient_id"].map(stop))].copy()
    d0 = a["patient_id"].map(b)
    measurable = d0 >= 50
    cat = np.zeros(len(a), dtype=int)
    cat = np.where(measurable & (a["dflc"] < 0.5 * d0), 1, cat)  # PR: fall > 50%
    cat = np.where(measurable & (a["dflc"] < 40), 2, cat)  # VGPR: dFLC < 40 mg/L
    cr = (a["serum_ife"] == 0) & (a["urine_ife"] == 0) & a["ratio"].between(0.26, 1.65)
    cat = np.where(cr, 3, cat)
    best = pd.Series(cat, index=a.index).groupby(a["patient_id"]).max().reindex(p.index, fill_value=0)
    assert best.tolist() == plan["resp"].tolist()
    assert not ((b >= 20) & (b < 50)).any(), "no low-dFLC patient (its response is a config choice)"


def test_exposure_and_toxicity_from_raw(raw):
    c = raw["salvage_cycles"]
    dose = pd.to_numeric(c["lenalidomide_mg"])
    per_patient = dose.groupby(c["patient_id"]).median()
    assert per_patient.median() == 10 and dose.min() == 5 and dose.max() == 15  # 10 (5-15), never 25
    ncyc = c.groupby("patient_id")["cycle"].count()
    assert ncyc.median() == 7  # median 7 cycles
    o = raw["outcomes"]
    days = (
        pd.to_datetime(o["salvage_end_date"])
        - pd.to_datetime(o["patient_id"].map(c[c["cycle"] == "1"].set_index("patient_id")["start_date"]))
    ).dt.days
    assert round(days.median() / 30.4375, 1) == 7.2  # 219 days / 30.4375 = 7.195
    ae = raw["adverse_events"]
    g3 = ae[ae["grade"].astype(int) >= 3].groupby("term")["patient_id"].nunique().to_dict()
    # 6/15/6/9/15/15/4/8% of 50 -> 3/7.5/3/4.5/7.5/7.5/2/4 (halves to either side)
    assert g3 == {
        "platelet count decreased": 3,
        "anemia": 7,
        "neutrophil count decreased": 3,
        "diarrhea": 5,
        "fatigue": 8,
        "rash maculo-papular": 7,
        "pneumonitis": 2,
        "acute kidney injury": 4,
    }
    stop = o["stop_reason"].value_counts()
    disc = ae[ae["action"] == "discontinued"]["patient_id"].unique()
    assert set(disc) == set(o.loc[o["stop_reason"] == "toxicity", "patient_id"])
    assert stop["toxicity"] == 13
    # deaths on therapy: death date on the salvage end date
    died = o[(o["death_date"] != "") & (o["death_date"] == o["salvage_end_date"])]
    assert len(died) == 8 and (died["stop_reason"] == "death").all()


def test_survival_helpers_hand_computed():
    # KM: 4 deaths at 1, 2, 3, 4 -> S = .75, .5, .25: S sits at exactly .5 on [2, 3),
    # so the median is the midpoint (2 + 3) / 2 = 2.5 (R's convention, as the stats stage)
    assert syn.km_median(np.array([1, 2, 3, 4]), np.array([1, 1, 1, 1])) == 2.5
    # 5 deaths at 1..5: S = .8, .6, .4 -> first S <= .5 at t = 3, no flat .5 -> median 3
    assert syn.km_median(np.arange(1, 6), np.ones(5)) == 3
    # censored at 1; deaths at 2, 3, 4 (3 at risk at t=2): S(2) = 2/3, S(3) = 1/3 -> median 3
    assert syn.km_median(np.array([1, 2, 3, 4]), np.array([0, 1, 1, 1])) == 3
    # median not reached: S(1) = 2/3 only
    assert syn.km_median(np.array([1, 5, 6]), np.array([1, 0, 0])) == float("inf")
    # deaths at 1, 2, censored at 3, 4: the curve ends at exactly .5 -> R (and the stats
    # stage) take the midpoint of [2, last follow-up 4] = 3; the generator's former own
    # copy said 2 (it now calls survival.km_median)
    assert syn.km_median(np.array([1, 2, 3, 4]), np.array([1, 1, 0, 0])) == 3
    # log-rank, identical groups interleaved: O1 = E1 -> p = 1
    t = np.array([1.0, 1.0, 2.0, 2.0])
    assert syn.logrank_p(t, np.ones(4, bool), np.array([1, 0, 1, 0])) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "egfr, age, female, scr",
    [(67.67, 55, False, 1.2), (54.22, 60, False, 1.4), (78.46, 63, True, 0.8)],  # CKD-EPI 2009 test vectors
)
def test_creatinine_inverts_ckd_epi_2009(egfr, age, female, scr):
    assert syn.egfr_ckd_epi_2009(scr, age, female) == pytest.approx(egfr, abs=0.01)
    assert syn.creatinine_for_egfr(egfr, age, female) == pytest.approx(scr, abs=0.001)


def test_force_order_stats():
    v = syn.force_order_stats(np.array([50.0, 60, 70, 65, 90, 30]), 63, 42, 82)
    # sorted 30 50 60 65 70 90 -> ends forced to 42 / 82, middle pair to 63 / 63
    assert v.tolist() == [42, 50, 63, 63, 70, 82]


# ---------------------------------------------------------------- scale
def test_rows_scale_with_n():
    small = syn.generate(50, SEED)
    big = syn.generate(2000, SEED)
    assert big["patients"].num_rows == 2000 and big["outcomes"].num_rows == 2000
    for t in ("therapy_lines", "salvage_cycles", "labs", "adverse_events"):
        ratio = big[t].num_rows / small[t].num_rows
        assert 40 * 0.75 <= ratio <= 40 * 1.25, f"{t}: {ratio:.1f}x for 40x the patients"


def test_chunked_labs_keep_key_order(monkeypatch):
    """Labs are built in blocks of LAB_CHUNK patients; blocks join in key order."""
    monkeypatch.setattr(syn, "LAB_CHUNK", 16)  # 50 patients -> 4 blocks
    labs = syn.generate(50, SEED)["labs"].to_pandas()
    key = labs[["patient_id", "date", "analyte"]]
    assert key.equals(key.sort_values(list(key.columns), kind="mergesort").reset_index(drop=True))
    assert not key.duplicated().any()
    assert labs["patient_id"].nunique() == 50
    ids = syn.patient_ids(100_000)
    assert list(ids[:3]) == ["SYN-000001", "SYN-000002", "SYN-000003"] and list(ids) == sorted(ids)


# ---------------------------------------------------------------- the Snakemake rule
@pytest.mark.workflow
@pytest.mark.slow
def test_demo_cohort_rule(project):
    require((BIN / "snakemake").exists(), "snakemake not installed")
    target = "results/synthetic/n30_seed11/patients.csv"
    snakemake(project, target, check=True)
    out = project / "results/synthetic/n30_seed11"
    ref = project / "ref"
    syn.write_cohort(30, 11, ref)
    for t in contract.TABLES:
        assert (out / f"{t}.csv").read_bytes() == (ref / f"{t}.csv").read_bytes(), t
    assert (project / "logs/demo_cohort/n30_seed11.log").exists()
    assert (project / "benchmarks/demo_cohort/n30_seed11.tsv").exists()


@pytest.mark.parametrize("n", [0, 5, 9])
def test_too_small_cohort_is_a_clear_error(n):
    with pytest.raises(ValueError, match=rf"n must be >= 10 \(got {n}\)"):
        syn.plan_cohort(n, SEED)
