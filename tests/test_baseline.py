"""ADSL derivation on hand-built validated tables (docs/interfaces.md shapes).

Every expected value is worked out by hand next to its case. Index date is cycle 1
day 1; 2020 is a leap year (Feb has 29 days), so 2020-03-01 minus 30 days is 2020-01-31
and minus 31 days is 2020-01-30.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import csvout, datasets
from alsalvage import derive_common as dc
from alsalvage.baseline import ADSL_COLUMNS, age_years, derive_adsl

# the cohorts of these tests have no centre column: ADSL leaves the optional SITEID out
ADSL_WITHOUT_CENTRE = [c for c in ADSL_COLUMNS if c not in datasets.OPTIONAL["adsl"]]
from helpers import REPO

CFG = yaml.safe_load((REPO / "config.yaml").read_text())
IDX = "2020-03-01"
UNITS = {
    "flc_kappa": "mg/L", "flc_lambda": "mg/L", "ntprobnp": "ng/L", "ctnt": "ng/L", "hs_ctnt": "ng/L",
    "ctni": "ng/L", "creatinine": "mg/dL", "egfr": "mL/min/1.73m2", "proteinuria_24h": "g/24h",
    "alp": "U/L", "serum_ife": "", "urine_ife": "",
}  # fmt: skip


def params(**over):
    p = {
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
    p.update(over)
    return p


# One dict per patient: what differs from the default patient.
# Default: M, born 1964-06-15, kappa clone, heart+kidney, index 2020-03-01, one prior
# line (melphalan, 2019-03-01), cycles 10/10/5/0 mg, stop 'completed' 2020-09-27.
PATIENTS = {
    "P01": {},  # the default patient
    "P02": {"sex": "F", "isotype": "lambda", "kappa": 20, "lambda": 60, "egfr": 45, "creat": 0.8},
    "P03": {"isotype": "lambda", "kappa": 30, "lambda": 10},
    "P04": {"kappa": 40, "lambda": 20},
    "P05": {"kappa": 39.9, "lambda": 20},
    "P06": {"dialysis": "2019-01-01", "creat": 6.0},
    "P07": {"dialysis": "2020-03-02"},
    "P08": {"dialysis": IDX},
    "P09": {"doses": [0.0]},
    "P10": {"stop": "toxicity", "end": "2020-05-01", "death": "2020-05-11"},
    "P11": {"stop": "death", "end": "2020-06-01", "death": "2020-06-01"},
    "P12": {"stop": "completed", "end": "2020-06-01", "death": "2020-07-01"},
    "P13": {"stop": "completed", "end": "2020-06-01", "death": "2020-07-02"},
    "P14": {"stop": "ongoing", "end": None, "contact": "2020-12-01"},
    "P15": {"birth": "1964-03-01", "doses": [15, 10]},
    "P16": {"ntprobnp": None},
    "P17": {"stop": "progression"},
    "P18": {"stop": "no_response"},
    "P19": {"stop": "patient_decision"},
    "P20": {"stop": "physician_decision"},
}


def build(patients=PATIENTS):
    pts, lines, cycles, outc, labs = [], [], [], [], []
    idx = pd.Timestamp(IDX)
    for pid, o in patients.items():
        g = o.get
        pts.append(
            dict(
                patient_id=pid, sex=g("sex", "M"), birth_date=g("birth", "1964-06-15"), diagnosis_date="2018-12-01",
                isotype=g("isotype", "kappa"), heart=True, kidney=True, liver=False, nerve=g("nerve", False),
                autonomic=False, soft_tissue=False, gi=False,
            )
        )  # fmt: skip
        lines.append(
            dict(
                patient_id=pid, line=1, regimen="MDex", agents="melphalan;dexamethasone", start_date="2019-03-01",
                end_date="2019-09-01", best_response="PR", progression_date="2020-02-01", last_bortezomib_date=None,
            )
        )  # fmt: skip
        for i, dose in enumerate(g("doses", [10.0, 10.0, 5.0, 0.0])):
            cycles.append(
                dict(
                    patient_id=pid, cycle=i + 1, start_date=idx + pd.Timedelta(days=28 * i), lenalidomide_mg=dose,
                    dexamethasone_mg=20.0, partner="none",
                )
            )  # fmt: skip
        outc.append(
            dict(
                patient_id=pid, salvage_end_date=g("end", "2020-09-27"), stop_reason=g("stop", "completed"),
                next_line_date=None, dialysis_start_date=g("dialysis"), last_contact_date=g("contact", "2021-03-01"),
                death_date=g("death"),
            )
        )  # fmt: skip
        day = idx - pd.Timedelta(days=3)
        vals = {
            "flc_kappa": g("kappa", 70.0), "flc_lambda": g("lambda", 20.0), "ntprobnp": g("ntprobnp", 332.0),
            "ctnt": 34.9, "creatinine": g("creat", 1.2), "proteinuria_24h": 5.0, "egfr": g("egfr"),
            "serum_ife": g("sife"), "urine_ife": g("uife"),
        }  # fmt: skip
        for analyte, v in vals.items():
            if v is not None:
                labs.append(dict(patient_id=pid, date=day, analyte=analyte, value=float(v), unit=UNITS[analyte]))
    t = {
        "patients": pd.DataFrame(pts),
        "therapy_lines": pd.DataFrame(lines),
        "salvage_cycles": pd.DataFrame(cycles),
        "outcomes": pd.DataFrame(outc),
        "labs": pd.DataFrame(labs),
    }
    for name, cols in {
        "patients": ["birth_date", "diagnosis_date"],
        "therapy_lines": ["start_date", "end_date", "progression_date", "last_bortezomib_date"],
        "salvage_cycles": ["start_date"],
        "outcomes": ["salvage_end_date", "next_line_date", "dialysis_start_date", "last_contact_date", "death_date"],
        "labs": ["date"],
    }.items():
        for c in cols:
            t[name][c] = pd.to_datetime(t[name][c])
    t["labs"]["uln"] = np.nan
    return t


@pytest.fixture(scope="module")
def adsl():
    return derive_adsl(build(), params()).set_index("USUBJID")


def test_columns_are_the_interface(adsl):
    assert ["USUBJID", *adsl.columns] == ADSL_WITHOUT_CENTRE
    # columns and dtypes as alsalvage.datasets specifies them (a column added to the
    # writer but not to the spec fails here)
    assert datasets.conform("adsl", adsl.reset_index()) == []
    assert adsl.index.is_unique and len(adsl) == len(PATIENTS)


# patient, column, expected, hand calculation
CASES = [
    ("P01", "AGE", 55, "2020-03-01 - 1964-06-15: 56 years minus 1 (birthday not reached)"),
    ("P15", "AGE", 56, "born 1964-03-01, index on the birthday: 56"),
    ("P01", "TRTSDT", pd.Timestamp(IDX), "cycle 1 day 1"),
    ("P01", "NORGAN", 2, "heart + kidney"),
    # kappa clone: iFLC = kappa
    ("P01", "IFLCBL", 70.0, "kappa 70"),
    ("P01", "UFLCBL", 20.0, "lambda 20"),
    ("P01", "DFLCBL", 50.0, "70 - 20"),
    ("P01", "KLRATBL", 3.5, "70 / 20"),
    ("P01", "HEMEVAL", "measurable", "dFLC exactly 50 >= 50"),
    # lambda clone: iFLC = lambda
    ("P02", "IFLCBL", 60.0, "lambda clone: lambda 60"),
    ("P02", "UFLCBL", 20.0, "kappa 20"),
    ("P02", "DFLCBL", 40.0, "60 - 20"),
    ("P02", "KLRATBL", 1 / 3, "kappa/lambda = 20/60 (ratio is always kappa over lambda)"),
    ("P02", "HEMEVAL", "low_dflc", "20 <= 40 < 50"),
    ("P03", "DFLCBL", -20.0, "lambda clone: 10 - 30 (negative dFLC is kept)"),
    ("P03", "HEMEVAL", "not_measurable", "-20 < 20"),
    ("P04", "HEMEVAL", "low_dflc", "dFLC exactly 20: 40 - 20, lower bound included"),
    ("P05", "HEMEVAL", "not_measurable", "dFLC 19.9"),
    # eGFR (canonical creatinine mg/dL; AGE 55, M)
    ("P01", "EGFRBL", 67.67, "CKD-EPI 2009, M 55, Scr 1.2 (criteria vector)"),
    ("P01", "EGFRSRC", "ckd_epi_2009", "computed"),
    ("P02", "EGFRBL", 45.0, "reported 45 wins over computed (F 55 Scr 0.8)"),
    ("P02", "EGFRSRC", "reported", ""),
    ("P06", "EGFRBL", None, "dialysis since 2019-01-01: no eGFR"),
    ("P06", "EGFRSRC", "dialysis", ""),
    ("P06", "DIALBL", 1, "dialysis start before index"),
    ("P07", "DIALBL", 0, "dialysis start the day after index"),
    ("P08", "DIALBL", 1, "dialysis start on the index date (<=)"),
    # staging: NT-proBNP 332 (high), cTnT 34.9 (not high); eGFR 67.67, proteinuria 5.0
    ("P01", "MAYO04", "II", "1 marker: NT-proBNP 332 >= 332"),
    ("P01", "EUSTG", "II", ""),
    ("P01", "MAYO12", "II", "1 point: cTnT 34.9 >= 25; dFLC 50 < 180, NT-proBNP 332 < 1800"),
    ("P01", "RENSTG", "I", "eGFR 67.67 >= 50, proteinuria 5 not > 5"),
    ("P06", "RENSTG", None, "dialysis: not staged"),
    ("P06", "STGFL", "dialysis_cardiac_unreliable;renal_not_staged_dialysis", "stage flagged"),
    ("P06", "MAYO04", "II", "cardiac stage kept on dialysis (flagged, not dropped)"),
    ("P16", "MAYO04", None, "no NT-proBNP: missing stage"),
    ("P16", "STGFL", "missing_mayo04;missing_eustg;missing_mayo12", ""),
    ("P02", "RENSTG", "II", "reported eGFR 45 < 50"),
    # prior therapy
    ("P01", "NPRIOR", 1, ""),
    ("P01", "FLSTDT", pd.Timestamp("2019-03-01"), ""),
    ("P01", "FLTOIDXM", 366 / 30.4375, "2019-03-01 -> 2020-03-01 = 366 d (leap Feb) / 30.4375 = 12.02"),
    ("P01", "PEXGRP", "naive", "melphalan only"),
    # exposure
    ("P01", "STDOS", 10.0, "cycle 1"),
    ("P01", "MDDOS", 10.0, "median of 10, 10, 5 (the 0 mg cycle is not a dosed cycle)"),
    ("P01", "MXDOS", 10.0, ""),
    ("P01", "NCYCLES", 3, "three dosed cycles"),
    ("P15", "MDDOS", 12.5, "median of 15, 10"),
    ("P15", "STDOS", 15.0, ""),
    ("P15", "MXDOS", 15.0, ""),
    ("P01", "TRTDURM", 210 / 30.4375, "2020-03-01 -> 2020-09-27 = 31+30+31+30+31+31+26 = 210 d = 6.90 months"),
    ("P14", "TRTDURM", 275 / 30.4375, "ongoing: to last contact 2020-12-01 = 275 d"),
    ("P14", "TRTEDT", None, "ongoing: no end date"),
    ("P09", "SAFFL", "N", "no dose > 0"),
    ("P09", "ITTFL", "N", ""),
    ("P09", "NCYCLES", 0, ""),
    ("P01", "SAFFL", "Y", ""),
    ("P01", "ITTFL", "Y", ""),
    # discontinuation and death on therapy
    ("P01", "EARLYDSC", 0, "completed"),
    ("P14", "EARLYDSC", 0, "ongoing"),
    ("P10", "EARLYDSC", 1, "toxicity"),
    ("P17", "EARLYDSC", 1, "progression"),
    ("P18", "EARLYDSC", 1, "no_response"),
    ("P19", "EARLYDSC", 1, "patient_decision"),
    ("P20", "EARLYDSC", 1, "physician_decision"),
    ("P11", "EARLYDSC", 0, "death is counted apart"),
    ("P11", "DTHONTRT", 1, "stop reason death"),
    ("P10", "DTHONTRT", 1, "died 10 d after stopping for toxicity"),
    ("P12", "DTHONTRT", 1, "died 2020-06-01 + 30 d = 2020-07-01: within 30 days"),
    ("P13", "DTHONTRT", 0, "died 31 d after the last dose"),
    ("P01", "DTHONTRT", 0, "alive"),
    ("P10", "STOPRSN", "toxicity", ""),
]


@pytest.mark.parametrize("pid,col,expected,how", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_adsl_value(adsl, pid, col, expected, how):
    got = adsl.at[pid, col]
    if expected is None:
        assert pd.isna(got), how
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, abs=1e-2 if col == "EGFRBL" else 1e-9), how
    else:
        assert got == expected, how


# No detectable clone at baseline (HEMEVAL no_clone, hematologic.baseline_group): normal
# kappa/lambda ratio [0.26, 1.65] AND serum IFE negative AND urine IFE negative.
@pytest.mark.parametrize(
    "over, expected",
    [
        (dict(kappa=15, lambda_=10, sife=0, uife=0), "no_clone"),  # ratio 1.5, both negative
        (dict(kappa=180, lambda_=120, sife=0, uife=0), "no_clone"),  # dFLC 60 but ratio 1.5: polyclonal
        (dict(kappa=16.6, lambda_=10, sife=0, uife=0), "not_measurable"),  # ratio 1.66 abnormal; dFLC 6.6
        (dict(kappa=15, lambda_=10, sife=1, uife=0), "not_measurable"),  # serum IFE positive
        (dict(kappa=15, lambda_=10, sife=0), "not_measurable"),  # urine IFE not done: not shown absent
        (dict(kappa=180, lambda_=120, sife=0, uife=1), "measurable"),  # urine IFE positive: dFLC 60 >= 50
    ],
)
def test_hemeval_no_detectable_clone(over, expected):
    o = {("lambda" if k == "lambda_" else k): v for k, v in over.items()}
    adsl = derive_adsl(build({"P": o}), params()).set_index("USUBJID")
    assert adsl.loc["P", "HEMEVAL"] == expected


def test_egfr_2021_selectable():
    out = derive_adsl(build({"P01": {}}), params(egfr_equation="ckd_epi_2021")).set_index("USUBJID")
    assert out.at["P01", "EGFRBL"] == pytest.approx(71.42, abs=0.01)  # criteria vector M 55 Scr 1.2
    assert out.at["P01", "EGFRSRC"] == "ckd_epi_2021"


def test_death_window_is_a_parameter():
    # P13 died 31 days after the last dose: on therapy when the window is 31 days
    out = derive_adsl(build({"P13": PATIENTS["P13"]}), params(death_on_treatment_days=31))
    assert out.loc[0, "DTHONTRT"] == 1


def test_uses_canonical_units_and_rejects_unconverted_rows():
    # validated creatinine 1.2 mg/dL (= 106.08 umol/L at import) gives the criteria vector
    t = build({"P01": {}})
    assert derive_adsl(t, params()).loc[0, "EGFRBL"] == pytest.approx(67.67, abs=0.01)
    # a table that skipped validation (umol/L and ug/L) is refused, every row named
    labs = t["labs"].copy()
    labs.loc[labs["analyte"] == "creatinine", ["value", "unit"]] = [106.08, "umol/L"]
    labs.loc[labs["analyte"] == "ctnt", ["value", "unit"]] = [0.0349, "ug/L"]
    t["labs"] = labs
    with pytest.raises(dc.DerivationError) as err:
        derive_adsl(t, params(), files={"labs": "results/validated/labs.parquet"})
    msg = str(err.value)
    assert "derive_baseline" in msg and "results/validated/labs.parquet" in msg
    assert "umol/L" in msg and "ug/L" in msg and "column 'unit'" in msg
    assert len(err.value.problems) == 2


def test_all_input_problems_reported_at_once():
    t = build({"P01": {}})
    t["salvage_cycles"].loc[0, "patient_id"] = "GHOST"
    t["outcomes"] = t["outcomes"].drop(columns=["stop_reason"])
    with pytest.raises(dc.DerivationError) as err:
        derive_adsl(t, params())
    assert any("stop_reason" in p for p in err.value.problems)
    t = build({"P01": {}, "P02": {}})
    t["salvage_cycles"].loc[0, "patient_id"] = "GHOST"
    t["outcomes"] = t["outcomes"].iloc[:1]
    with pytest.raises(dc.DerivationError) as err:
        derive_adsl(t, params())
    probs = err.value.problems
    assert any("GHOST" in p and "row 1" in p for p in probs)
    assert any("P02" in p and "outcomes" in p for p in probs)


def test_inputs_not_modified():
    t = build()
    before = {k: v.copy() for k, v in t.items()}
    derive_adsl(t, params())
    for k in t:
        pd.testing.assert_frame_equal(t[k], before[k])


# ---- baseline window (derive_common) -------------------------------------------------
# offset (days relative to index) of each measurement -> expected baseline value
WINDOW = [
    ([-30], 1.0, "30 days before index counts"),
    ([-31], None, "31 days before index does not"),
    ([+1], None, "after the index date does not"),
    ([0], 1.0, "on the index date counts"),
    ([-20, -5], 2.0, "the last value in the window wins (values 1, 2 in date order)"),
    ([-31, -30, +1], 2.0, "only the -30 value (the 2nd) is in the window"),
]


@pytest.mark.parametrize("offsets,expected,how", WINDOW)
def test_baseline_window(offsets, expected, how):
    idx = pd.DataFrame({"patient_id": ["A"], "index_date": pd.to_datetime([IDX])})
    labs = pd.DataFrame(
        {
            "patient_id": "A",
            "date": [pd.Timestamp(IDX) + pd.Timedelta(days=d) for d in offsets],
            "analyte": "ntprobnp",
            "value": [float(i + 1) for i in range(len(offsets))],
            "uln": np.nan,
        }
    )
    wide = dc.baseline_wide(dc.baseline_values(labs, idx, 30), analytes=["ntprobnp"])
    if expected is None:
        assert "A" not in wide.index or pd.isna(wide.at["A", "ntprobnp"]), how
    else:
        assert wide.at["A", "ntprobnp"] == expected, how


def test_window_is_a_parameter():
    t = build({"P01": {}})
    # move every lab to 31 days before index: outside the default window, inside 31
    t["labs"]["date"] = pd.Timestamp(IDX) - pd.Timedelta(days=31)
    assert pd.isna(derive_adsl(t, params()).loc[0, "NTPROBL"])
    assert derive_adsl(t, params(window_days=31)).loc[0, "NTPROBL"] == 332.0


def test_flc_pair_from_the_same_day():
    # kappa alone on day -1, pair on day -3: the pair is used so that dFLC is consistent
    t = build({"P01": {}})
    extra = pd.DataFrame(
        [dict(patient_id="P01", date=pd.Timestamp(IDX) - pd.Timedelta(days=1), analyte="flc_kappa",
              value=500.0, unit="mg/L", uln=np.nan)]
    )  # fmt: skip
    t["labs"] = pd.concat([t["labs"], extra], ignore_index=True)
    out = derive_adsl(t, params())
    assert out.loc[0, "KAPPABL"] == 70.0 and out.loc[0, "DFLCBL"] == 50.0


@pytest.mark.parametrize(
    "birth,at,expected",
    [
        ("1960-03-01", "2020-02-29", 59),  # day before the 60th birthday
        ("1960-03-01", "2020-03-01", 60),  # on the birthday
        ("1960-02-29", "2021-02-28", 60),  # leap-day birth: birthday not reached on Feb 28
        ("1960-02-29", "2021-03-01", 61),
    ],
)
def test_age_floor(birth, at, expected):
    assert age_years(pd.Series(pd.to_datetime([birth])), pd.Series(pd.to_datetime([at])))[0] == expected


def test_months_and_days():
    assert dc.months(30.4375, 30.4375) == 1.0
    s = dc.days_between(pd.Series(pd.to_datetime(["2020-01-01", None])), pd.Series(pd.to_datetime(["2020-03-01"] * 2)))
    assert s[0] == 60.0 and np.isnan(s[1])  # 31 + 29 (leap February)


def test_write_dataset_is_deterministic(tmp_path):
    out = derive_adsl(build(), params())
    shuffled = out.sample(frac=1, random_state=3)
    csvout.write_dataset(out, tmp_path / "a.csv", tmp_path / "a.parquet", ["USUBJID"])
    csvout.write_dataset(shuffled, tmp_path / "b.csv", tmp_path / "b.parquet", ["USUBJID"])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    text = (tmp_path / "a.csv").read_text()
    assert "2020-03-01," in text and "00:00:00" not in text  # ISO dates, no time
    back = pd.read_parquet(tmp_path / "a.parquet")
    assert list(back.columns) == ADSL_WITHOUT_CENTRE


# ---- the rules, end to end in a temporary copy of the project ---------------------------
TARGETS = ("results/derived/adsl.csv", "results/derived/adae.csv")


@pytest.mark.workflow
@pytest.mark.slow
def test_rules_deterministic_and_refuse_bad_input(project):
    from helpers import snakemake

    snakemake(project, *TARGETS, check=True)
    outs = [project / "results/derived" / f for f in ("adsl.csv", "adsl.parquet", "adae.csv", "adae.parquet")]
    first = [p.read_bytes() for p in outs]
    snakemake(project, *TARGETS, "--forcerun", "derive_baseline", "derive_adverse_events", check=True)
    assert [p.read_bytes() for p in outs] == first  # byte-identical across runs
    adsl = pd.read_csv(outs[0])
    assert list(adsl.columns) == ADSL_WITHOUT_CENTRE and adsl["USUBJID"].is_unique

    # a response threshold is not a parameter of derive_baseline: nothing to rerun;
    # an evaluability threshold is
    cfg_path = project / "config.yaml"
    original = cfg_path.read_text()
    for key, value, reruns in (("vgpr_dflc_below_mg_l", 30, False), ("measurable_dflc_mg_l", 60, True)):
        cfg = yaml.safe_load(original)
        cfg["hematologic"][key] = value
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))  # key order is part of params
        dry = snakemake(project, TARGETS[0], "-n", check=True)
        assert ("derive_baseline" in dry.stdout) is reruns, (key, dry.stdout[-2000:])
    cfg_path.write_text(original)

    # a validated labs table with an unconverted creatinine row: the rule fails, naming
    # the file, the row, the column and the rule, and writes no ADSL
    labs_path = project / "results/validated/labs.parquet"
    labs = pd.read_parquet(labs_path)
    row = int(labs.index[labs["analyte"] == "creatinine"][0])
    labs.loc[row, "unit"] = "umol/L"
    labs.to_parquet(labs_path, index=False)
    for p in outs[:2]:
        p.unlink()
    proc = snakemake(project, TARGETS[0], "--allowed-rules", "derive_baseline")
    assert proc.returncode != 0
    log = (project / "logs/derive_baseline.log").read_text()
    assert "rule derive_baseline" in log and "results/validated/labs.parquet" in log
    assert f"row {row + 1} column 'unit'" in log and "umol/L" in log
    assert not outs[0].exists() and not outs[1].exists()


@pytest.mark.parametrize("cohort", [PATIENTS, {"P01": {}}], ids=["many", "one"])
def test_categorical_labs_give_the_same_adsl(tmp_path, cohort):
    # the rule reads the long labs table with categorical text columns (memory, speed);
    # the result must not depend on it (one patient: the id -> date map is one-to-one)
    t = build(cohort)
    plain = derive_adsl(t, params())
    path = tmp_path / "labs.parquet"
    t["labs"].to_parquet(path, index=False)
    t["labs"] = dc.read_validated({"labs": path}, "derive_baseline", categorical=["labs"])["labs"]
    assert isinstance(t["labs"]["analyte"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(derive_adsl(t, params()), plain)


def test_censored_baselines_reach_blqual_staging_and_hemeval():
    """Default patient: kappa clone 70/20, NT-proBNP 332, cTnT 34.9 ng/L, proteinuria 5 g.
    Hand-derived with the censored signs (docs/methods.md, "Censored lab values"):
    C1 cTnT '<10': known low (< 35) -> Mayo 2004 one point (NT 332 >= 332) = II;
    C2 NT-proBNP '>35000': known high; cTnT 34.9 low -> II; European: NT > 8500 known but stage II, not III;
    C3 NT-proBNP '<500': unknown against 332 -> Mayo 2004 missing (flag missing_mayo04);
    C4 lambda '<20' (uninvolved): dFLC > 50 -> measurable, DFLCBL 50 with sign '>', ratio missing;
    C5 kappa '<70' (involved): dFLC < 50 -> not known >= 50, not known >= 20 -> not_measurable;
    C6 proteinuria '<0.1': renal stage known not > 5 g."""
    t = build({p: PATIENTS["P01"] for p in ("C1", "C2", "C3", "C4", "C5", "C6")})
    labs = t["labs"].assign(qualifier="")
    edits = {("C1", "ctnt"): (10.0, "<"), ("C2", "ntprobnp"): (35000.0, ">"), ("C3", "ntprobnp"): (500.0, "<"),
             ("C4", "flc_lambda"): (20.0, "<"), ("C5", "flc_kappa"): (70.0, "<"),
             ("C6", "proteinuria_24h"): (0.1, "<")}
    for (pid, an), (v, q) in edits.items():
        sel = (labs["patient_id"] == pid) & (labs["analyte"] == an)
        labs.loc[sel, ["value", "qualifier"]] = [v, q]
    t["labs"] = labs
    a = derive_adsl(t, params()).set_index("USUBJID")
    assert a["BLQUAL"].tolist() == ["CTNTBL<", "NTPROBL>", "NTPROBL<", "LAMBDABL<;UFLCBL<;DFLCBL>",
                                    "KAPPABL<;IFLCBL<;DFLCBL<", "PROTUBL<"]
    assert a.loc["C1", "MAYO04"] == "II" and a.loc["C2", "MAYO04"] == "II" and pd.isna(a.loc["C3", "MAYO04"])
    assert "missing_mayo04" in a.loc["C3", "STGFL"]
    assert a.loc["C4", "HEMEVAL"] == "measurable" and a.loc["C4", "DFLCBL"] == 50.0
    assert pd.isna(a.loc["C4", "KLRATBL"])
    assert a.loc["C5", "HEMEVAL"] == "not_measurable"
    assert a.loc["C6", "PROTUBL"] == 0.1 and isinstance(a.loc["C6", "RENSTG"], str)
