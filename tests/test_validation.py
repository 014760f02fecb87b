"""Validation stage: unit tests of the checks, and a corpus of malformed demo cohorts.

Expected values are worked out by hand from the published rules (clinical-criteria
section 1 for units) and written next to each case.
"""

from __future__ import annotations

import codecs
import copy
import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from alsalvage import contract as C
from alsalvage import validation as V
from helpers import DEMO, REPO, copy_project, snakemake, validation_settings

# the shipped validation limits (config.yaml equals the schema defaults: test_config)
LIMITS = yaml.safe_load((REPO / "config.yaml").read_text())["validation"]
# what rule validate passes the checks (from the schema defaults); a test overrides some
SETTINGS = validation_settings()


def check_all(paths, files=None, **settings):
    """validation.check_all with the schema-default settings, some overridden."""
    return V.check_all(paths, files, **{**SETTINGS, **settings})

# --------------------------------------------------------------------------- a hand-written cohort

HEAD = {t.name: [c.name for c in t.columns if not c.omit_when_absent] for t in C.TABLES.values()}
ROWS = {
    "patients": [
        # P01: heart+kidney; P02: kidney+liver
        ["P01", "M", "1955-03-10", "2015-06-01", "kappa", "1", "1", "0", "0", "0", "0", "0"],
        ["P02", "F", "1960-01-20", "2016-02-15", "lambda", "0", "1", "1", "0", "0", "0", "0"],
    ],
    "therapy_lines": [
        ["P01", "1", "VCD", "bortezomib;cyclophosphamide;dexamethasone", "2015-07-01", "2015-12-01", "PR",
         "2016-09-01", "2015-11-20"],
        ["P01", "2", "MDex", "melphalan;dexamethasone", "2016-10-01", "2017-03-01", "NR", "", ""],
        ["P02", "1", "BMDex", "bortezomib;melphalan;dexamethasone", "2016-03-01", "2016-09-01", "VGPR",
         "2017-10-01", ""],
    ],
    "salvage_cycles": [
        ["P01", "1", "2017-05-01", "10", "20", "none"],
        ["P01", "2", "2017-05-29", "10", "20", "none"],
        ["P01", "3", "2017-06-26", "5", "20", "none"],
        ["P02", "1", "2018-01-10", "15", "", "cyclophosphamide"],
        ["P02", "2", "2018-02-07", "15", "", "cyclophosphamide"],
    ],
    "outcomes": [
        ["P01", "2017-07-23", "toxicity", "", "", "2019-05-01", ""],
        ["P02", "2018-03-06", "death", "", "2018-02-20", "2018-03-06", "2018-03-06"],
    ],
    "labs": [
        ["P01", "2017-04-20", "flc_kappa", "12.5", "mg/dL", ""],
        ["P01", "2017-04-20", "flc_lambda", "12", "mg/L", ""],
        ["P01", "2017-04-20", "ntprobnp", "2500", "pg/mL", ""],
        ["P01", "2017-04-20", "creatinine", "132.6", "umol/L", ""],
        ["P01", "2017-04-20", "proteinuria_24h", "3200", "mg/24h", ""],
        ["P01", "2017-04-20", "serum_ife", "positive", "", ""],
        ["P01", "2017-04-20", "alp", "90", "U/L", "120"],
        ["P01", "2017-04-20", "hemoglobin", "115", "g/L", ""],
        ["P01", "2017-04-20", "platelets", "210000", "/mm3", ""],
        ["P01", "2017-04-20", "ctnt", "0.04", "ug/L", ""],
        ["P01", "2017-04-20", "serum_mprotein", "1.2", "g/dL", ""],
        ["P01", "2017-06-20", "flc_kappa", "60", "mg/L", ""],
        ["P02", "2018-01-05", "flc_kappa", "20", "mg/L", ""],
        ["P02", "2018-01-05", "flc_lambda", "300", "mg/L", ""],
        ["P02", "2018-01-05", "ntprobnp", "200", "ng/L", ""],
        ["P02", "2018-01-05", "creatinine", "1.1", "mg/dL", ""],
        ["P02", "2018-01-05", "proteinuria_24h", "1.0", "g/24h", ""],
        ["P02", "2018-01-05", "alp", "300", "U/L", "120"],
        ["P02", "2018-01-05", "urine_ife", "negative", "", ""],
    ],
    "adverse_events": [
        ["P01", "anemia", "3", "2017-06-01", "dose_reduced"],
        ["P02", "rash", "2", "2018-01-20", "none"],
    ],
}


def write_cohort(directory: Path, rows=None, head=None) -> dict:
    rows = rows or ROWS
    head = head or HEAD
    directory.mkdir(parents=True, exist_ok=True)
    for table in HEAD:
        with open(directory / f"{table}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(head[table])
            w.writerows(rows[table])
    return {t: directory / f"{t}.csv" for t in HEAD}


def run(tmp_path, edit=None):
    """Check the hand cohort after ``edit(rows, head)``; returns (tables, findings)."""
    rows, head = copy.deepcopy(ROWS), copy.deepcopy(HEAD)
    if edit:
        edit(rows, head)
    paths = write_cohort(tmp_path / "raw", rows, head)
    return check_all(paths, {t: f"raw/{t}.csv" for t in paths})


def cell(table, row, column, value):
    """An edit that sets one cell (row counted from 0 among data rows)."""

    def edit(rows, head):
        rows[table][row][HEAD[table].index(column)] = value

    return edit


def errors(f):
    return f[f["severity"] == "error"]


def test_hand_cohort_is_valid(tmp_path):
    tables, f = run(tmp_path)
    assert f.empty, f.to_string()


# --------------------------------------------------------------------------- units

# (analyte, value, unit, canonical value, canonical unit) -- clinical-criteria section 1
UNIT_CASES = [
    ("flc_kappa", "12.5", "mg/dL", 125.0, "mg/L"),  # mg/dL x 10
    ("flc_lambda", "3", "mg/L", 3.0, "mg/L"),  # already canonical
    ("creatinine", "132.6", "umol/L", 1.5, "mg/dL"),  # 132.6 / 88.4 = 1.5
    ("creatinine", "88.4", "umol/L", 1.0, "mg/dL"),  # 88.4 / 88.4 = 1
    ("ctnt", "0.04", "ug/L", 40.0, "ng/L"),  # ug/L x 1000
    ("ctni", "0.1", "ng/mL", 100.0, "ng/L"),  # ng/mL = ug/L, x 1000
    ("hs_ctnt", "52", "ng/L", 52.0, "ng/L"),
    ("serum_mprotein", "1.2", "g/dL", 12.0, "g/L"),  # g/dL x 10
    ("proteinuria_24h", "3200", "mg/24h", 3.2, "g/24h"),  # mg/24h / 1000
    ("hemoglobin", "115", "g/L", 11.5, "g/dL"),  # g/L / 10
    ("platelets", "210000", "/mm3", 210.0, "10^9/L"),  # /mm3 / 1000
    ("anc", "1500", "/mm3", 1.5, "10^9/L"),  # /mm3 / 1000
    ("ntprobnp", "2369", "pg/mL", 2369.0, "ng/L"),  # pg/mL is the same number
    ("urine_mprotein", "0.3", "g/24h", 300.0, "mg/24h"),  # g/24h x 1000
    ("serum_ife", "positive", "", 1.0, ""),
    ("urine_ife", "negative", "", 0.0, ""),
]


@pytest.mark.parametrize("analyte,value,unit,expected,canonical", UNIT_CASES,
                         ids=[f"{c[0]}-{c[2] or 'none'}" for c in UNIT_CASES])
def test_units_convert_to_canonical(tmp_path, analyte, value, unit, expected, canonical):
    tables, f = run(tmp_path, lambda r, h: r["labs"].append(["P01", "2017-05-02", analyte, value, unit, ""]))
    assert errors(f).empty, f.to_string()
    labs = V.output_frame(tables["labs"], C.LABS)
    row = labs[(labs["date"] == "2017-05-02") & (labs["analyte"] == analyte)].iloc[0]
    assert row["value"] == pytest.approx(expected, rel=1e-12)
    assert row["unit"] == canonical


def test_uln_is_converted_with_its_value(tmp_path):
    tables, _ = run(tmp_path)
    labs = V.output_frame(tables["labs"], C.LABS)
    alp = labs[(labs["analyte"] == "alp") & (labs["patient_id"] == "P02")].iloc[0]
    assert (alp["value"], alp["uln"]) == (300.0, 120.0)


# (analyte, value, unit, rule, column)
LAB_ERROR_CASES = [
    ("creatinine", "1.2", "mmol/L", "unit", "unit"),  # unknown unit for a known analyte
    ("flc_kappa", "12", "g/l", "unit", "unit"),  # a real unit, not one of FLC's (aliases do not invent factors)
    ("creatinine", "1.2", "mmol/l", "unit", "unit"),  # case-normalised but still unknown for creatinine
    ("platelets", "210", "10^6/L", "unit", "unit"),
    ("ntprobnp", "<", "pg/mL", "number-format", "value"),  # a sign without a number
    ("ntprobnp", "<<5", "pg/mL", "number-format", "value"),
    ("ntprobnp", "5<", "pg/mL", "number-format", "value"),
    ("ntprobnp", "~5", "pg/mL", "number-format", "value"),
    ("serum_ife", "<1", "", "vocabulary", "value"),  # IFE is never censored
    ("ntprobnp", "<-5", "pg/mL", "range", "value"),  # a censored value is range-checked on its number
    ("flc_kappa", "12", "", "unit", "unit"),  # a number needs a unit
    ("serum_ife", "positive", "mg/L", "unit", "unit"),  # IFE has no unit
    ("ntprobnp", "300", "pmol/L", "unit", "unit"),
    ("bnp", "300", "pg/mL", "unknown-analyte", "analyte"),  # BNP is not NT-proBNP
    ("troponin", "0.02", "ug/L", "unknown-analyte", "analyte"),
    ("serum_ife", "weak", "", "vocabulary", "value"),  # IFE must be positive/negative
    ("urine_ife", "Positive", "", "vocabulary", "value"),
    ("flc_kappa", "-5", "mg/L", "range", "value"),  # no negative FLC
    ("flc_lambda", "-0.1", "mg/dL", "range", "value"),
    ("nyha", "5", "class", "range", "value"),  # NYHA 1-4
    ("nyha", "0", "class", "range", "value"),
    ("nyha", "2.5", "class", "range", "value"),  # NYHA is a whole class
    ("lvef", "101", "%", "range", "value"),  # LVEF 0-100
    ("lvef", "-1", "%", "range", "value"),
    ("hemoglobin", "300", "g/dL", "range", "value"),  # max 25 g/dL
    ("creatinine", "abc", "mg/dL", "number-format", "value"),
    ("creatinine", "1,2", "mg/dL", "number-format", "value"),
    ("creatinine", "nan", "mg/dL", "number-format", "value"),
    ("creatinine", "", "mg/dL", "missing-value", "value"),
]


# (analyte, reported unit, value, canonical value): spellings of lab systems -- the
# canonical value equals that of the accepted spelling (same factor, hand-derived)
ALIAS_CASES = [
    ("flc_kappa", "mg/dl", "12.5", 125.0),  # case: mg/dL x 10
    ("flc_kappa", "MG/DL", "12.5", 125.0),
    ("flc_lambda", "mg/l", "3", 3.0),
    ("creatinine", "\u00b5mol/l", "132.6", 1.5),  # micro sign U+00B5: umol/L / 88.4
    ("creatinine", "\u03bcmol/L", "132.6", 1.5),  # Greek mu U+03BC
    ("creatinine", "umol/l", "88.4", 1.0),
    ("creatinine", "\u00b5mol / L", "88.4", 1.0),  # inner blanks
    ("creatinine", "mcmol/L", "88.4", 1.0),
    ("ntprobnp", "pg/ml", "2369", 2369.0),  # pg/mL = ng/L
    ("ntprobnp", "ng/l", "2369", 2369.0),
    ("ctnt", "\u00b5g/l", "0.04", 40.0),  # ug/L x 1000
    ("ctnt", "mcg/L", "0.04", 40.0),
    ("alp", "U/l", "90", 90.0),
    ("alp", "IU/L", "90", 90.0),
    ("hemoglobin", "g/dl", "11.5", 11.5),
    ("hemoglobin", "g/l", "115", 11.5),  # g/L / 10
    ("platelets", "x10^9/L", "210", 210.0),
    ("platelets", "10*9/l", "210", 210.0),
    ("platelets", "x10E9/L", "210", 210.0),
    ("platelets", "Gpt/L", "210", 210.0),
    ("anc", "/\u00b5L", "1500", 1.5),  # per microlitre = per mm3: / 1000
    ("proteinuria_24h", "mg/24 h", "3200", 3.2),
    ("proteinuria_24h", "g/day", "3.2", 3.2),
    ("upcr", "mg/mmol", "113.1", 1.0),  # 113.1 mg/mmol = 1 g/g
    ("upcr", "mg/mmol", "56.55", 0.5),
    ("upcr", "mg/g", "500", 0.5),  # mg/g / 1000
    ("upcr", "mg/mg", "2.5", 2.5),
    ("upcr", "g/g", "2.5", 2.5),
]


@pytest.mark.parametrize("analyte,unit,value,expected", ALIAS_CASES, ids=[f"{c[0]}-{c[1]}" for c in ALIAS_CASES])
def test_unit_aliases_convert_like_the_accepted_spelling(tmp_path, analyte, unit, value, expected):
    tables, f = run(tmp_path, lambda r, h: r["labs"].append(["P01", "2017-05-02", analyte, value, unit, ""]))
    assert errors(f).empty, f.to_string()
    labs = V.output_frame(tables["labs"], C.LABS)
    row = labs[(labs["date"] == "2017-05-02") & (labs["analyte"] == analyte)].iloc[0]
    assert row["value"] == pytest.approx(expected, rel=1e-12)
    assert row["unit"] == C.ANALYTES[analyte].canonical_unit


def test_unit_aliases_from_config(tmp_path):
    """validation.unit_aliases adds spellings; without it the same spelling is an error."""
    def edit(r, h):
        r["labs"].append(["P01", "2017-05-02", "platelets", "210", "Mrd/L", ""])

    _, f = run(tmp_path / "a", edit)
    assert errors(f)["rule"].tolist() == ["unit"]
    rows, head = copy.deepcopy(ROWS), copy.deepcopy(HEAD)
    edit(rows, head)
    paths = write_cohort(tmp_path / "b", rows, head)
    tables, f = check_all(paths, limits={**LIMITS, "unit_aliases": [{"spelling": "Mrd/L", "unit": "10^9/L"}]})
    assert errors(f).empty, f.to_string()
    labs = V.output_frame(tables["labs"], C.LABS)
    assert labs.loc[labs["date"] == "2017-05-02", "value"].tolist() == [210.0]
    # an alias to a unit the analyte does not accept stays a unit error
    rows[("labs")][-1][3:5] = ["5", "Mrd/L"]
    rows["labs"][-1][2] = "creatinine"
    paths = write_cohort(tmp_path / "c", rows, head)
    _, f = check_all(paths, limits={**LIMITS, "unit_aliases": [{"spelling": "Mrd/L", "unit": "10^9/L"}]})
    assert errors(f)["rule"].tolist() == ["unit"]


@pytest.mark.parametrize("unit,expected", [
    ("mg/dL", "mg/dL"), ("mg/dl", "mg/dL"), (" \u00b5mol/l ", "umol/L"), ("\u03bcg/L", "ug/L"),
    ("10*9/l", "10^9/L"), ("mmol/L", "mmol/L"), ("", ""), ("furlongs", "furlongs"),
])
def test_unit_alias(unit, expected):
    assert V.unit_alias(unit) == expected


# (value text, analyte, unit, stored value, qualifier) -- censored results keep the number
CENSORED_CASES = [
    ("<5", "ntprobnp", "pg/mL", 5.0, "<"),
    ("< 10", "ntprobnp", "ng/L", 10.0, "<"),
    (">35000", "ntprobnp", "ng/L", 35000.0, ">"),
    ("<=0.1", "proteinuria_24h", "g/24h", 0.1, "<="),
    (">= 3", "hs_ctnt", "ng/L", 3.0, ">="),
    ("\u2264 50", "proteinuria_24h", "mg/24h", 0.05, "<="),  # '≤ 50 mg/24h' -> <= 0.05 g/24h
    ("\u22653", "hs_ctnt", "ng/L", 3.0, ">="),
    ("<0.01", "ctnt", "ug/L", 10.0, "<"),  # converted like any value: 0.01 ug/L = 10 ng/L
    ("<0.5", "flc_kappa", "mg/dL", 5.0, "<"),
    ("42", "ntprobnp", "ng/L", 42.0, ""),
]


@pytest.mark.parametrize("text,analyte,unit,value,qualifier", CENSORED_CASES, ids=[c[0] for c in CENSORED_CASES])
def test_censored_values_keep_number_and_qualifier(tmp_path, text, analyte, unit, value, qualifier):
    tables, f = run(tmp_path, lambda r, h: r["labs"].append(["P01", "2017-05-02", analyte, text, unit, ""]))
    assert errors(f).empty, f.to_string()
    labs = V.output_frame(tables["labs"], C.LABS)
    row = labs[(labs["date"] == "2017-05-02") & (labs["analyte"] == analyte)].iloc[0]
    assert row["value"] == pytest.approx(value, rel=1e-12)
    assert row["qualifier"] == qualifier
    assert (labs.loc[labs["date"] != "2017-05-02", "qualifier"] == "").all()


def test_upcr_unused_is_a_warning(tmp_path):
    def edit(r, h):
        r["labs"].append(["P01", "2017-05-02", "upcr", "200", "mg/mmol", ""])

    _, f = run(tmp_path / "a", edit)
    assert errors(f).empty
    hit = f[f["rule"] == "upcr-unused"]
    assert hit[["severity", "file", "column", "value"]].values.tolist() == [["warning", "raw/labs.csv", "analyte",
                                                                               "upcr"]]
    rows, head = copy.deepcopy(ROWS), copy.deepcopy(HEAD)
    edit(rows, head)
    paths = write_cohort(tmp_path / "b", rows, head)
    _, f = check_all(paths, upcr_as_proteinuria=True)
    assert not (f["rule"] == "upcr-unused").any()
    _, f = run(tmp_path / "c")  # no upcr rows: no warning
    assert not (f["rule"] == "upcr-unused").any()


@pytest.mark.parametrize("analyte,value,unit,rule,column", LAB_ERROR_CASES,
                         ids=[f"{c[3]}-{c[0]}-{c[1] or 'empty'}-{c[2] or 'none'}" for c in LAB_ERROR_CASES])
def test_lab_errors(tmp_path, analyte, value, unit, rule, column):
    tables, f = run(tmp_path, lambda r, h: r["labs"].append(["P01", "2017-05-02", analyte, value, unit, ""]))
    line = len(ROWS["labs"]) + 2  # appended after the header and the cohort rows
    e = errors(f)
    hit = e[(e["rule"] == rule) & (e["column"] == column) & (e["row"] == line) & (e["file"] == "raw/labs.csv")]
    assert len(hit) == 1, f.to_string()
    assert len(e) == 1, f"one defect, one error:\n{f.to_string()}"


# --------------------------------------------------------------------------- cell formats

# (text, real date?)
DATE_CASES = [
    ("2020-01-31", True),
    ("2020-02-29", True),  # leap year
    ("2021-02-29", False),  # not a leap year
    ("2021-02-30", False),
    ("2021-04-31", False),
    ("2021-13-01", False),
    ("2021-00-10", False),
    ("2021-1-5", False),  # not zero-padded
    ("05/01/2021", False),
    ("2021-01-05T00:00", False),
    ("20210105", False),
    ("2021/01/05", False),
    ("", False),
]


@pytest.mark.parametrize("text,ok", DATE_CASES, ids=[c[0] or "empty" for c in DATE_CASES])
def test_parse_dates(text, ok):
    values, bad = V.parse_dates(pd.Series(["2000-01-01", text], dtype=V.STRING))
    assert values.dtype == "datetime64[ns]"
    assert values.notna().tolist() == [True, ok]
    assert bad.tolist() == [False, not ok and text != ""]
    if ok:
        assert values[1] == pd.Timestamp(text)


# (table, column, text, rule): one bad cell of the hand cohort, first data row (line 2)
CELL_CASES = [
    ("salvage_cycles", "cycle", "1.0", "integer-format"),
    ("salvage_cycles", "cycle", "one", "integer-format"),
    ("salvage_cycles", "lenalidomide_mg", "10mg", "number-format"),
    ("salvage_cycles", "lenalidomide_mg", "-5", "range"),  # dose 0-50 mg
    ("salvage_cycles", "lenalidomide_mg", "75", "range"),
    ("salvage_cycles", "partner", "unobtainium", "unknown-agent"),  # any drug of the dictionary is valid
    ("patients", "heart", "2", "flag-format"),
    ("patients", "heart", "Y", "flag-format"),
    ("patients", "sex", "male", "vocabulary"),
    ("patients", "sex", "m", "vocabulary"),  # vocabularies are case-sensitive
    ("patients", "isotype", "IgG", "vocabulary"),
    ("patients", "sex", "", "missing-value"),
    ("patients", "patient_id", " P01", "whitespace"),
    # identifiers a spreadsheet would run as formulas (CSV injection)
    ("patients", "patient_id", "=1+1", "identifier-format"),
    ("patients", "patient_id", "+P01", "identifier-format"),
    ("patients", "patient_id", "-2+3", "identifier-format"),
    ("patients", "patient_id", "@SUM(A1)", "identifier-format"),
    ("labs", "patient_id", "=HYPERLINK(\"http://x\")", "identifier-format"),
    ("patients", "isotype", "kappa ", "whitespace"),
    ("patients", "birth_date", "10/03/1955", "date-format"),
    ("therapy_lines", "best_response", "sCR", "vocabulary"),
    ("therapy_lines", "agents", "Bortezomib;dexamethasone", "agents-format"),
    ("therapy_lines", "agents", "bortezomib, dexamethasone", "agents-format"),
    ("therapy_lines", "agents", "bortezomib;;dexamethasone", "agents-format"),
    ("therapy_lines", "agents", "bortezomib+dexamethasone", "agents-format"),
    ("therapy_lines", "regimen", "", "missing-value"),
    ("outcomes", "stop_reason", "stopped", "vocabulary"),
    ("outcomes", "last_contact_date", "", "missing-value"),
    ("adverse_events", "grade", "0", "range"),  # CTCAE 1-5
    ("adverse_events", "grade", "6", "range"),
    ("adverse_events", "grade", "III", "integer-format"),
    ("adverse_events", "action", "stopped", "vocabulary"),
]


@pytest.mark.parametrize("table,column,text,rule", CELL_CASES,
                         ids=[f"{c[0]}.{c[1]}={c[2] or 'empty'}" for c in CELL_CASES])
def test_cell_errors(tmp_path, table, column, text, rule):
    _, f = run(tmp_path, cell(table, 0, column, text))
    e = errors(f)
    hit = e[(e["rule"] == rule) & (e["column"] == column) & (e["row"] == 2) & (e["file"] == f"raw/{table}.csv")]
    assert len(hit) == 1, f.to_string()


@pytest.mark.parametrize("text", ["0", "1", "true", "FALSE", "Yes", "no"])
def test_flag_spellings_accepted(tmp_path, text):
    tables, f = run(tmp_path, cell("patients", 0, "nerve", text))
    assert errors(f).empty, f.to_string()
    expected = text.lower() in ("1", "true", "yes")
    assert V.output_frame(tables["patients"], C.PATIENTS)["nerve"][0] == expected


def test_whitespace_reported_once_and_value_still_checked(tmp_path):
    # ' M' is a whitespace error only; after stripping, 'M' is in the vocabulary
    _, f = run(tmp_path, cell("patients", 1, "sex", " F"))
    assert errors(f)[["row", "column", "rule"]].values.tolist() == [[3, "sex", "whitespace"]]


# --------------------------------------------------------------------------- rows, keys, links


def drop_row(table, row):
    return lambda r, h: r[table].pop(row)


def dup_row(table, row):
    return lambda r, h: r[table].append(list(r[table][row]))


def both(*edits):
    def edit(r, h):
        for e in edits:
            e(r, h)

    return edit


# (id, edit, table, line, column, rule) -- line = data row index + 2
ROW_CASES = [
    ("duplicate patient", cell("patients", 1, "patient_id", "P01"), "patients", 3, "patient_id", "unique-key"),
    ("duplicate outcome", both(dup_row("outcomes", 0), cell("outcomes", 2, "stop_reason", "completed")),
     "outcomes", 4, "patient_id", "unique-key"),
    ("duplicate line number", cell("therapy_lines", 1, "line", "1"), "therapy_lines", 3, "patient_id,line",
     "unique-key"),
    ("duplicate cycle number", cell("salvage_cycles", 2, "cycle", "2"), "salvage_cycles", 4,
     "patient_id,cycle", "unique-key"),
    ("exact duplicate lab row", dup_row("labs", 3), "labs", len(ROWS["labs"]) + 2, "", "duplicate-row"),
    ("unknown patient in labs", cell("labs", 4, "patient_id", "P99"), "labs", 6, "patient_id", "foreign-key"),
    ("unknown patient in cycles", cell("salvage_cycles", 0, "patient_id", "P9"), "salvage_cycles", 2,
     "patient_id", "foreign-key"),
    ("patient without outcome", drop_row("outcomes", 1), "patients", 3, "patient_id", "cardinality"),
    ("patient without cycles",
     both(drop_row("salvage_cycles", 4), drop_row("salvage_cycles", 3)), "patients", 3, "patient_id",
     "cardinality"),
    ("line numbers with a gap", cell("therapy_lines", 1, "line", "3"), "therapy_lines", 3, "line", "sequence"),
    ("lines start at 2", cell("therapy_lines", 2, "line", "2"), "therapy_lines", 4, "line", "sequence"),
    ("cycle numbers with a gap", cell("salvage_cycles", 2, "cycle", "4"), "salvage_cycles", 4, "cycle",
     "sequence"),
    ("cycle start not increasing", cell("salvage_cycles", 1, "start_date", "2017-05-01"), "salvage_cycles", 3,
     "start_date", "date-order"),
    # P01 line 1 starts 2015-07-01; line 2 moved to 2015-06-15 (after diagnosis 2015-06-01)
    ("line start not increasing", cell("therapy_lines", 1, "start_date", "2015-06-15"), "therapy_lines", 3,
     "start_date", "date-order"),
]


@pytest.mark.parametrize("edit,table,line,column,rule", [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES])
def test_row_errors(tmp_path, edit, table, line, column, rule):
    _, f = run(tmp_path, edit)
    e = errors(f)
    hit = e[(e["rule"] == rule) & (e["column"] == column) & (e["row"] == line) & (e["file"] == f"raw/{table}.csv")]
    assert len(hit) == 1, f.to_string()


# --------------------------------------------------------------------------- dates and consistency

# (id, edit, table, line, column, rule)
DATE_ORDER_CASES = [
    # birth 1955-03-10 must precede diagnosis
    ("diagnosis before birth", cell("patients", 0, "diagnosis_date", "1950-01-01"), "patients", 2,
     "diagnosis_date", "date-order"),
    # age at diagnosis (2015-06-01 - 2005-06-01) = 10.0 years < 18
    ("age 10 at diagnosis", cell("patients", 0, "birth_date", "2005-06-01"), "patients", 2, "birth_date",
     "range"),
    # 2015-06-01 - 1910-01-01 = 105.4 years > 100
    ("age 105 at diagnosis", cell("patients", 0, "birth_date", "1910-01-01"), "patients", 2, "birth_date",
     "range"),
    # line 1 of P01 starts 2015-05-01, before diagnosis 2015-06-01
    ("line before diagnosis", cell("therapy_lines", 0, "start_date", "2015-05-01"), "therapy_lines", 2,
     "start_date", "date-order"),
    ("line end before start", cell("therapy_lines", 0, "end_date", "2015-06-30"), "therapy_lines", 2,
     "end_date", "date-order"),
    # P01 cycle 1 is 2017-05-01: a prior line must start before it
    ("line starts on salvage start", cell("therapy_lines", 1, "start_date", "2017-05-01"), "therapy_lines", 3,
     "start_date", "date-order"),
    ("last bortezomib after line end", cell("therapy_lines", 0, "last_bortezomib_date", "2015-12-02"),
     "therapy_lines", 2, "last_bortezomib_date", "date-order"),
    ("last bortezomib before line start", cell("therapy_lines", 0, "last_bortezomib_date", "2015-06-30"),
     "therapy_lines", 2, "last_bortezomib_date", "date-order"),
    ("salvage end before cycle 1", cell("outcomes", 0, "salvage_end_date", "2017-04-30"), "outcomes", 2,
     "salvage_end_date", "date-order"),
    # P02 died 2018-03-06
    ("cycle after death", cell("salvage_cycles", 4, "start_date", "2018-03-07"), "salvage_cycles", 6,
     "start_date", "date-order"),
    ("lab after death", cell("labs", 12, "date", "2018-03-07"), "labs", 14, "date", "date-order"),
    ("adverse event after death", cell("adverse_events", 1, "onset_date", "2018-04-01"), "adverse_events", 3,
     "onset_date", "date-order"),
    ("dialysis after death", cell("outcomes", 1, "dialysis_start_date", "2018-03-07"), "outcomes", 3,
     "dialysis_start_date", "date-order"),
    ("next line after death", cell("outcomes", 1, "next_line_date", "2018-03-10"), "outcomes", 3,
     "next_line_date", "date-order"),
    ("death before salvage end", cell("outcomes", 1, "death_date", "2018-03-05"), "outcomes", 3,
     "salvage_end_date", "date-order"),
    ("last contact before death", cell("outcomes", 1, "last_contact_date", "2018-03-05"), "outcomes", 3,
     "last_contact_date", "date-order"),
    # P01 last contact 2019-05-01
    ("lab after last contact", cell("labs", 11, "date", "2019-05-02"), "labs", 13, "date", "date-order"),
    ("next line after last contact", cell("outcomes", 0, "next_line_date", "2019-06-01"), "outcomes", 2,
     "next_line_date", "date-order"),
    # follow-up 2015-06-01 -> 2056-01-01 = 40.6 years > 40
    ("follow-up over 40 years", cell("outcomes", 0, "last_contact_date", "2056-01-01"), "outcomes", 2,
     "last_contact_date", "range"),
    ("end empty while not ongoing", cell("outcomes", 0, "salvage_end_date", ""), "outcomes", 2,
     "salvage_end_date", "consistency"),
    ("ongoing with an end date", cell("outcomes", 0, "stop_reason", "ongoing"), "outcomes", 2,
     "salvage_end_date", "consistency"),
    ("death reason without death date",
     both(cell("outcomes", 0, "stop_reason", "death")), "outcomes", 2, "death_date", "consistency"),
    # P02 died 2018-03-06: 'ongoing' (end date emptied, as ongoing requires) contradicts the death
    ("ongoing with a death date",
     both(cell("outcomes", 1, "stop_reason", "ongoing"), cell("outcomes", 1, "salvage_end_date", "")), "outcomes",
     3, "stop_reason", "consistency"),
]


@pytest.mark.parametrize("edit,table,line,column,rule", [c[1:] for c in DATE_ORDER_CASES],
                         ids=[c[0] for c in DATE_ORDER_CASES])
def test_date_rules(tmp_path, edit, table, line, column, rule):
    _, f = run(tmp_path, edit)
    e = errors(f)
    hit = e[(e["rule"] == rule) & (e["column"] == column) & (e["row"] == line) & (e["file"] == f"raw/{table}.csv")]
    assert len(hit) == 1, f.to_string()


def test_ongoing_without_end_date_is_valid(tmp_path):
    edit = both(cell("outcomes", 0, "stop_reason", "ongoing"), cell("outcomes", 0, "salvage_end_date", ""))
    _, f = run(tmp_path, edit)
    assert errors(f).empty, f.to_string()


def test_event_on_the_death_day_is_valid(tmp_path):
    # P02 died 2018-03-06: a lab that day is allowed (death not *before* the event)
    _, f = run(tmp_path, cell("labs", 12, "date", "2018-03-06"))
    assert errors(f).empty, f.to_string()


def test_age_limits_come_from_params(tmp_path):
    # P01: 1955-03-10 -> 2015-06-01 = 60.2 years; P02: 1960-01-20 -> 2016-02-15 = 56.1 years.
    # A minimum of 57 makes P02 (line 3) implausible; a maximum of 60 makes P01 (line 2) implausible.
    paths = write_cohort(tmp_path / "raw")
    _, f = check_all(paths, limits={**LIMITS, "min_age_years": 57, "max_age_years": 100})
    assert errors(f)[["row", "column", "rule"]].values.tolist() == [[3, "birth_date", "range"]]
    _, f = check_all(paths, limits={**LIMITS, "min_age_years": 18, "max_age_years": 60})
    assert errors(f)[["row", "column", "rule"]].values.tolist() == [[2, "birth_date", "range"]]


# --------------------------------------------------------------------------- impossible records

# (id, edit, table, line, column, rule): each edit makes one record impossible; expected by
# hand from the hand cohort's dates (P01 born 1955-03-10, diagnosed 2015-06-01, cycles
# 2017-05-01 / 05-29 / 06-26, salvage end 2017-07-23; P02 diagnosed 2016-02-15)
IMPOSSIBLE_CASES = [
    # the next line must start after cycle 1 day 1 (2017-05-01): the day itself and the day before
    ("next line on salvage start", cell("outcomes", 0, "next_line_date", "2017-05-01"), "outcomes", 2,
     "next_line_date", "date-order"),
    ("next line before salvage start", cell("outcomes", 0, "next_line_date", "2017-04-30"), "outcomes", 2,
     "next_line_date", "date-order"),
    # line 1 of P01 starts 2015-07-01
    ("progression before line start", cell("therapy_lines", 0, "progression_date", "2015-06-30"), "therapy_lines",
     2, "progression_date", "date-order"),
    # cycle 3 starts 2017-06-26: the salvage cannot end the day before
    ("salvage end before last cycle", cell("outcomes", 0, "salvage_end_date", "2017-06-25"), "outcomes", 2,
     "salvage_end_date", "date-order"),
    # line 2 of P01 is melphalan;dexamethasone (2016-10-01 to 2017-03-01)
    ("last bortezomib on a line without it", cell("therapy_lines", 1, "last_bortezomib_date", "2016-11-01"),
     "therapy_lines", 3, "last_bortezomib_date", "consistency"),
    ("misspelt agent", cell("therapy_lines", 1, "agents", "melphalan;dexamethazone"), "therapy_lines", 3, "agents",
     "unknown-agent"),
    ("unknown agent", cell("therapy_lines", 1, "agents", "melphalan;foo"), "therapy_lines", 3, "agents",
     "unknown-agent"),
    # ALP of P01 (labs line 8) has uln 120
    ("ULN zero", cell("labs", 6, "uln", "0"), "labs", 8, "uln", "range"),
    ("ULN minus zero", cell("labs", 6, "uln", "-0"), "labs", 8, "uln", "range"),
    ("ULN infinite", cell("labs", 6, "uln", "1e999"), "labs", 8, "uln", "range"),
    ("ULN negative", cell("labs", 6, "uln", "-5"), "labs", 8, "uln", "range"),
    # before the birth (1955-03-10)
    ("lab before birth", cell("labs", 11, "date", "1955-03-09"), "labs", 13, "date", "date-order"),
    ("adverse event before birth", cell("adverse_events", 0, "onset_date", "1950-01-01"), "adverse_events", 2,
     "onset_date", "date-order"),
    ("dialysis before birth", cell("outcomes", 0, "dialysis_start_date", "1955-03-09"), "outcomes", 2,
     "dialysis_start_date", "date-order"),
    ("line before birth", cell("therapy_lines", 0, "start_date", "1950-01-01"), "therapy_lines", 2, "start_date",
     "date-order"),
    # more than 365 days before diagnosis: 2015-06-01 - 366 days = 2014-05-31
    ("adverse event a year before diagnosis", cell("adverse_events", 0, "onset_date", "2014-05-31"),
     "adverse_events", 2, "onset_date", "early-date"),
    # P02's cycle 1 before its diagnosis (2016-02-15); its line 1 (2016-03-01) then is not
    # before the salvage start either, reported on therapy_lines
    ("cycle before diagnosis", cell("salvage_cycles", 3, "start_date", "2016-02-14"), "salvage_cycles", 5,
     "start_date", "date-order"),
]


@pytest.mark.parametrize("edit,table,line,column,rule", [c[1:] for c in IMPOSSIBLE_CASES],
                         ids=[c[0] for c in IMPOSSIBLE_CASES])
def test_impossible_records(tmp_path, edit, table, line, column, rule):
    _, f = run(tmp_path, edit)
    e = errors(f)
    hit = e[(e["rule"] == rule) & (e["column"] == column) & (e["row"] == line) & (e["file"] == f"raw/{table}.csv")]
    assert len(hit) == 1, f.to_string()


# the edge of each rule above, on the allowed side: no error at all
POSSIBLE_CASES = [
    ("next line the day after salvage start", cell("outcomes", 0, "next_line_date", "2017-05-02")),
    ("progression on the line's first day", cell("therapy_lines", 0, "progression_date", "2015-07-01")),
    ("salvage end on the last cycle's first day", cell("outcomes", 0, "salvage_end_date", "2017-06-26")),
    ("adverse event 365 days before diagnosis", cell("adverse_events", 0, "onset_date", "2014-06-01")),
    ("lab 365 days before diagnosis", cell("labs", 11, "date", "2014-06-01")),
    # 2015-06-01 - 5 x 365.25 days (1826) = 2010-06-01
    ("dialysis 5 years before diagnosis", cell("outcomes", 0, "dialysis_start_date", "2010-06-01")),
    # ALP 90 is not > 1.5 x 61 = 91.5: the liver flag 0 still agrees
    ("ULN positive", cell("labs", 6, "uln", "61")),
    # brand names and regimen abbreviations stand for generic names
    ("last bortezomib on a Velcade line", both(cell("therapy_lines", 1, "agents", "velcade;melphalan"),
                                               cell("therapy_lines", 1, "last_bortezomib_date", "2016-11-01"))),
    ("last bortezomib on a CyBorD line", both(cell("therapy_lines", 1, "agents", "cybord"),
                                              cell("therapy_lines", 1, "last_bortezomib_date", "2016-11-01"))),
]


@pytest.mark.parametrize("edit", [c[1] for c in POSSIBLE_CASES], ids=[c[0] for c in POSSIBLE_CASES])
def test_possible_records(tmp_path, edit):
    _, f = run(tmp_path, edit)
    assert f.empty, f.to_string()


def test_one_finding_per_impossible_date(tmp_path):
    """A salvage end before cycle 1 is also before the last cycle, and a line start before
    the birth is also before the diagnosis: one finding each, the more telling one."""
    _, f = run(tmp_path, cell("outcomes", 0, "salvage_end_date", "2017-04-30"))
    hit = f[(f["file"] == "raw/outcomes.csv") & (f["column"] == "salvage_end_date")]
    assert hit["message"].str.contains("cycle 1").tolist() == [True], f.to_string()
    _, f = run(tmp_path, cell("therapy_lines", 0, "start_date", "1950-01-01"))
    hit = f[(f["file"] == "raw/therapy_lines.csv") & (f["column"] == "start_date")]
    assert hit["message"].str.contains("birth_date").tolist() == [True], f.to_string()


def test_misspelt_agent_names_the_value_and_a_suggestion(tmp_path):
    _, f = run(tmp_path, cell("therapy_lines", 1, "agents", "melphalan;dexamethazone"))
    assert f[["value", "rule"]].values.tolist() == [["dexamethazone", "unknown-agent"]]
    assert "did you mean 'dexamethasone'?" in f["message"].iloc[0]
    _, f = run(tmp_path, cell("therapy_lines", 1, "agents", "melphalan;foo"))
    assert f["value"].tolist() == ["foo"] and "did you mean" not in f["message"].iloc[0]
    # an unknown name on a line with a last bortezomib date: only the name is reported
    _, f = run(tmp_path, cell("therapy_lines", 0, "agents", "velcde;cyclophosphamide;dexamethasone"))
    assert f[["row", "column", "value", "rule"]].values.tolist() == [[2, "agents", "velcde", "unknown-agent"]]
    assert "did you mean 'velcade' (bortezomib)?" in f["message"].iloc[0]


# agents as written -> agents of the validated table (aliases replaced, each drug once)
AGENT_CASES = [
    ("bortezomib;dexamethasone", "bortezomib;dexamethasone"),
    ("velcade;dexamethasone", "bortezomib;dexamethasone"),
    ("revlimid", "lenalidomide"),
    ("darzalex;cybord", "daratumumab;cyclophosphamide;bortezomib;dexamethasone"),
    ("vcd;dexamethasone", "cyclophosphamide;bortezomib;dexamethasone"),
    ("rd", "lenalidomide;dexamethasone"),
]


@pytest.mark.parametrize("written,validated", AGENT_CASES)
def test_agent_aliases_become_generic_names(tmp_path, written, validated):
    tables, f = run(tmp_path, cell("therapy_lines", 1, "agents", written))
    assert f.empty, f.to_string()
    t = tables["therapy_lines"].typed
    assert t.loc[t["_line"] == 3, "agents"].tolist() == [validated]


def test_agent_list_is_generic_lower_case():
    assert all(re.fullmatch(V.AGENTS_RE, a) for a in list(C.AGENTS) + list(C.AGENT_ALIASES))
    assert set(C.AGENTS).isdisjoint(C.AGENT_ALIASES)
    assert all(set(g) <= set(C.AGENTS) for g in C.AGENT_ALIASES.values())


def test_date_limits_come_from_params(tmp_path):
    # earliest_year 2016: P01's diagnosis (2015-06-01) and its line 1 dates (2015-07-01,
    # 2015-12-01, last bortezomib 2015-11-20) are before 2016-01-01; nothing else is (P01's
    # line 2 starts 2016-10-01, P02 is diagnosed 2016-02-15); birth dates are exempt
    paths = write_cohort(tmp_path / "raw")
    _, f = check_all(paths, {t: f"raw/{t}.csv" for t in paths}, limits={**LIMITS, "earliest_year": 2016})
    got = errors(f)[["file", "row", "column", "rule"]].values.tolist()
    assert got == [["raw/patients.csv", 2, "diagnosis_date", "early-date"],
                   ["raw/therapy_lines.csv", 2, "end_date", "early-date"],
                   ["raw/therapy_lines.csv", 2, "last_bortezomib_date", "early-date"],
                   ["raw/therapy_lines.csv", 2, "start_date", "early-date"]], f.to_string()
    # 2015: 2015-06-01 is not before 2015-01-01
    _, f = check_all(paths, limits={**LIMITS, "earliest_year": 2015})
    assert f.empty, f.to_string()
    # max_days_before_diagnosis 30: P01's adverse event 2015-04-30 is 32 days before
    # 2015-06-01 (error); at 32 days it is allowed
    rows = copy.deepcopy(ROWS)
    rows["adverse_events"][0][3] = "2015-04-30"
    paths = write_cohort(tmp_path / "raw2", rows)
    _, f = check_all(paths, limits={**LIMITS, "max_days_before_diagnosis": 30})
    assert errors(f)[["row", "column", "rule"]].values.tolist() == [[2, "onset_date", "early-date"]]
    _, f = check_all(paths, limits={**LIMITS, "max_days_before_diagnosis": 32})
    assert f.empty, f.to_string()


# --------------------------------------------------------------------------- warnings

# (id, edit, table, line, column, rule); expected by the involvement definitions of
# clinical-criteria section 5 with the hand cohort's baseline values
WARNING_CASES = [
    # P01 kappa/lambda/NT-proBNP/creatinine on 2017-04-20, cycle 1 on 2017-05-01 (11 days before)
    ("no baseline kappa", cell("labs", 0, "date", "2017-03-31"), "labs", None, "analyte", "baseline-missing"),
    # 2017-05-01 - 30 days = 2017-04-01: still inside the window
    ("baseline on window edge is fine", cell("labs", 0, "date", "2017-04-01"), None, None, None, None),
    ("no baseline NT-proBNP", cell("labs", 14, "analyte", "hs_ctnt"), "labs", None, "analyte",
     "baseline-missing"),
    # eGFR stands in for creatinine
    ("egfr instead of creatinine", both(cell("labs", 15, "analyte", "egfr"), cell("labs", 15, "value", "60"),
                                        cell("labs", 15, "unit", "mL/min/1.73m2")), None, None, None, None),
    # P01 kidney=1 with proteinuria 3200 mg/24h = 3.2 g >= 0.5 ; 400 mg/24h = 0.4 g < 0.5
    ("kidney flag vs proteinuria", cell("labs", 4, "value", "400"), "patients", 2, "kidney", "involvement-flag"),
    # 0.5 g is exactly the threshold (>= 0.5): agrees with the flag
    ("proteinuria at threshold", cell("labs", 4, "value", "500"), None, None, None, None),
    # P02 heart=0 with NT-proBNP 200; 333 > 332 -> disagreement; 332 is not > 332
    ("heart flag vs NT-proBNP", cell("labs", 14, "value", "333"), "patients", 3, "heart", "involvement-flag"),
    ("NT-proBNP at threshold", cell("labs", 14, "value", "332"), None, None, None, None),
    # on dialysis at the index date (renal failure): NT-proBNP does not define heart involvement
    ("NT-proBNP on dialysis", both(cell("labs", 14, "value", "5000"),
                                   cell("outcomes", 1, "dialysis_start_date", "2017-12-01")), None, None, None, None),
    # P02 liver=1 with ALP 300, ULN 120: 1.5 x 120 = 180; ALP 180 is not > 180
    ("liver flag vs ALP", cell("labs", 17, "value", "180"), "patients", 3, "liver", "involvement-flag"),
    # without the ULN the liver flag is not judged; P02 (liver=1) is then not evaluable for
    # liver response (evaluable needs ALP > ULN): one evaluability warning on P02's row
    ("liver flag without ULN", both(cell("labs", 17, "value", "100"), cell("labs", 17, "uln", "")), "patients", 3,
     "liver", "evaluability"),
    # a lab 366 days before P01's diagnosis (2015-06-01): kept, with a warning
    ("lab a year before diagnosis", cell("labs", 11, "date", "2014-05-31"), "labs", 13, "date", "early-date"),
    # dialysis more than 5 x 365.25 = 1826 days before diagnosis: 2015-06-01 - 1827 days;
    # P01 is then on dialysis at the index date (not kidney-evaluable, heart flag not judged)
    ("dialysis long before diagnosis", cell("outcomes", 0, "dialysis_start_date", "2010-05-31"), "outcomes", 2,
     "dialysis_start_date", "early-date"),
    # P02's urine IFE is the only one: without it CR is impossible for everybody
    ("no urine IFE at all", lambda r, h: r["labs"].pop(18), "labs", None, "analyte", "criterion-impossible"),
    # P01 (kidney=1) loses its proteinuria (row 4 becomes a urine M-protein): not renal-evaluable
    ("kidney-involved without proteinuria", cell("labs", 4, "analyte", "urine_mprotein"), "patients", 2, "kidney",
     "evaluability"),
    # ... unless on dialysis at the index date (never renal-evaluable)
    ("kidney-involved on dialysis without proteinuria", both(cell("labs", 4, "analyte", "urine_mprotein"),
                                                             cell("outcomes", 0, "dialysis_start_date",
                                                                  "2017-01-01")), None, None, None, None),
    ("unknown extra column", lambda r, h: (h["patients"].append("height_cm"),
                                            [x.append("170") for x in r["patients"]]),
     "patients", 1, "height_cm", "unknown-column"),
]


@pytest.mark.parametrize("edit,table,line,column,rule", [c[1:] for c in WARNING_CASES],
                         ids=[c[0] for c in WARNING_CASES])
def test_warnings(tmp_path, edit, table, line, column, rule):
    _, f = run(tmp_path, edit)
    assert errors(f).empty, f.to_string()
    if rule is None:
        assert f.empty, f.to_string()
        return
    assert len(f) == 1, f.to_string()
    w = f.iloc[0]
    assert (w["severity"], w["file"], w["column"], w["rule"]) == ("warning", f"raw/{table}.csv", column, rule)
    assert (pd.isna(w["row"]) and line is None) or w["row"] == line


# --------------------------------------------------------------------------- criteria made impossible (demo cohort)


def check_demo(tmp_path, table, edit):
    """check_all on a copy of the demo cohort with ``edit(frame) -> frame`` applied to ``table``."""
    raw = tmp_path / "demo"
    raw.mkdir()
    for t in C.TABLES:
        frame = pd.read_csv(DEMO / f"{t}.csv", dtype=str, keep_default_na=False)
        if t == table:
            frame = edit(frame)
        frame.to_csv(raw / f"{t}.csv", index=False, lineterminator="\n")
    paths = {t: raw / f"{t}.csv" for t in C.TABLES}
    return check_all(paths, {t: f"demo/{t}.csv" for t in C.TABLES}, limits=LIMITS)[1]


def drop_analyte(name):
    return lambda f: f[f["analyte"] != name]


def test_demo_cohort_has_no_findings(tmp_path):
    assert check_demo(tmp_path, None, None).empty


# (id, edit of labs, the analyte value of the one criterion-impossible warning, its column)
CRITERION_CASES = [
    ("no urine IFE", drop_analyte("urine_ife"), "urine_ife", "analyte"),
    ("no serum IFE", drop_analyte("serum_ife"), "serum_ife", "analyte"),
    ("no NT-proBNP", drop_analyte("ntprobnp"), "ntprobnp", "analyte"),
    ("no proteinuria", drop_analyte("proteinuria_24h"), "proteinuria_24h", "analyte"),
    ("no ALP", drop_analyte("alp"), "alp", "analyte"),
    ("no ALP ULN", lambda f: f.assign(uln=""), "alp", "uln"),
    ("no FLC lambda", drop_analyte("flc_lambda"), "flc_lambda", "analyte"),
    ("no FLC at all", lambda f: f[~f["analyte"].isin(["flc_kappa", "flc_lambda"])], "flc_kappa", "analyte"),
]


@pytest.mark.parametrize("edit,value,column", [c[1:] for c in CRITERION_CASES], ids=[c[0] for c in CRITERION_CASES])
def test_criterion_made_impossible_warns_once(tmp_path, edit, value, column):
    f = check_demo(tmp_path, "labs", edit)
    assert errors(f).empty, f.to_string()
    hit = f[(f["rule"] == "criterion-impossible") & (f["value"] == value)]
    assert hit[["severity", "file", "column"]].values.tolist() == [["warning", "demo/labs.csv", column]], f.to_string()
    assert hit["row"].isna().all()
    # the organ criteria say it once, not once per involved patient
    assert not (f["rule"] == "evaluability").any(), f.to_string()


def test_kidney_patients_without_proteinuria_are_counted(tmp_path):
    # SYN-002 (patients line 3) is kidney-involved and not on dialysis at cycle 1; the demo
    # has 31 such patients (synthetic.py: renal_evaluable = 31). Without its proteinuria
    # rows it alone is not evaluable: 1 of 31.
    f = check_demo(tmp_path, "labs", lambda f: f[~((f["patient_id"] == "SYN-002")
                                                    & (f["analyte"] == "proteinuria_24h"))])
    assert f[["severity", "file", "row", "column", "value", "rule"]].values.tolist() == [
        ["warning", "demo/patients.csv", 3, "kidney", "1", "evaluability"]], f.to_string()
    assert "(1 of 31 kidney-involved patients)" in f["message"].iloc[0]


# --------------------------------------------------------------------------- files


def test_missing_file(tmp_path):
    raw, f = V.read_table(tmp_path / "nope.csv", C.PATIENTS, "in/nope.csv")
    assert raw is None
    assert f[["file", "rule"]].values.tolist() == [["in/nope.csv", "missing-file"]]


@pytest.mark.parametrize(
    "content,rule,row",
    [
        (b"", "empty-file", None),
        (b"patient_id,term,grade,onset_date,action\n", "empty-file", None),
        (b"\xef\xbb\xbfpatient_id,term,grade,onset_date,action\nP01,rash,2,2018-01-20,none\n", "encoding", 1),
        (b"patient_id,term,grade,onset_date,action\nP01,rash,2,2018-01-20,none\nP01,\xe9ruption,2,2018-01-21,none\n",
         "encoding", 3),
        (b"patient_id,term,grade,onset_date,action\nP01,rash,2,2018-01-20,none,extra\n", "row-length", 2),
        (b"patient_id,term,grade,onset_date\nP01,rash,2,2018-01-20\n", "required-column", 1),
        (b"patient_id,term,grade,grade,onset_date,action\nP01,rash,2,2,2018-01-20,none\n", "duplicate-column", 1),
        (b"patient_id, term,grade,onset_date,action\nP01,rash,2,2018-01-20,none\n", "whitespace", 1),
        (b"\npatient_id,term,grade,onset_date,action\nP01,rash,2,2018-01-20,none\n", "empty-file", 1),
        (b'patient_id,term,grade,onset_date,action\nP01,"rash,2,2018-01-20,none\n', "row-length", 2),
    ],
    ids=["zero-bytes", "header-only", "bom", "latin1", "extra-field", "missing-column", "duplicate-column",
         "header-space", "blank-first-line", "unclosed-quote-ends-at-line-end"],
)
def test_file_level_problems(tmp_path, content, rule, row):
    path = tmp_path / "adverse_events.csv"
    path.write_bytes(content)
    _, f = V.read_table(path, C.ADVERSE_EVENTS, "raw/adverse_events.csv")
    hit = f[f["rule"] == rule]
    assert len(hit) == 1, f.to_string()
    assert hit.iloc[0]["file"] == "raw/adverse_events.csv"
    assert (pd.isna(hit.iloc[0]["row"]) and row is None) or hit.iloc[0]["row"] == row
    assert "raw/adverse_events.csv" in hit.iloc[0]["message"] or rule not in ("encoding", "empty-file")


def test_line_numbers_survive_skipped_rows(tmp_path):
    path = tmp_path / "ae.csv"
    path.write_text(
        "patient_id,term,grade,onset_date,action\n"
        "P01,rash,2,2018-01-20,none\n"  # line 2
        "P01,rash\n"  # line 3: too few fields
        "P01,anemia,9,2018-01-21,none\n"  # line 4: grade out of range
        "\n"  # line 5: blank line = a row of empty cells
        "P01,fatigue,2,2018-01-22,none,x\n"  # line 6: too many fields
        "P01,fever,7,2018-01-23,none\n"  # line 7: grade out of range
    )
    raw, f = V.read_table(path, C.ADVERSE_EVENTS)
    assert f[["row", "rule"]].values.tolist() == [[3, "row-length"], [6, "row-length"]]
    V.check_whitespace(raw)
    g = V.concat([V.parse_table(raw, C.ADVERSE_EVENTS), V.check_columns(raw, C.ADVERSE_EVENTS)])
    assert sorted(g.loc[g["rule"] == "range", "row"].tolist()) == [4, 7]
    assert set(g.loc[g["rule"] == "missing-value", "row"]) == {5}


def test_all_problems_reported_at_once(tmp_path):
    edit = both(cell("patients", 0, "sex", "X"), cell("labs", 0, "unit", "g/L"),
                cell("adverse_events", 0, "grade", "9"), cell("salvage_cycles", 3, "patient_id", "P77"))
    _, f = run(tmp_path, edit)
    got = set(map(tuple, errors(f)[["file", "row", "rule"]].values.tolist()))
    assert got >= {("raw/patients.csv", 2, "vocabulary"), ("raw/labs.csv", 2, "unit"),
                   ("raw/adverse_events.csv", 2, "range"), ("raw/salvage_cycles.csv", 5, "foreign-key")}


def test_missing_column_skips_only_dependent_checks(tmp_path):
    def edit(r, h):
        i = h["outcomes"].index("death_date")
        h["outcomes"].pop(i)
        for row in r["outcomes"]:
            row.pop(i)
        r["patients"][0][1] = "X"  # an unrelated error is still found

    _, f = run(tmp_path, edit)
    got = errors(f)[["file", "column", "rule"]].values.tolist()
    assert ["raw/outcomes.csv", "death_date", "required-column"] in got
    assert ["raw/patients.csv", "sex", "vocabulary"] in got


def test_log_states_the_failure(tmp_path):
    _, f = run(tmp_path, both(cell("patients", 0, "sex", "X"), cell("patients", 1, "sex", "Y")))
    text = V.format_log(f)
    assert "validation failed in rule validate: 2 errors" in text
    assert "raw/patients.csv" in text and "line 2, column sex [vocabulary]" in text


def test_validate_tables_writes_nothing_on_failure(tmp_path):
    rows = copy.deepcopy(ROWS)
    rows["patients"][0][1] = "X"
    paths = write_cohort(tmp_path / "raw", rows)
    out = {t: tmp_path / "results" / f"{t}.parquet" for t in paths}
    with pytest.raises(V.ValidationFailed, match="validation failed in rule validate: 1 errors"):
        V.validate_tables(paths, {t: str(p) for t, p in paths.items()}, tables_out=out,
                          findings_out=tmp_path / "results" / "findings.csv", log_path=tmp_path / "logs" / "v.log",
                          log_findings=tmp_path / "logs" / "v.csv", inputs_out=tmp_path / "results" / "inputs.json",
                          **SETTINGS)
    assert not (tmp_path / "results").exists()
    assert pd.read_csv(tmp_path / "logs" / "v.csv")["rule"].tolist() == ["vocabulary"]


def test_validate_records_hash_and_rows_of_each_raw_input(tmp_path):
    """results/validated/inputs.json: per table in the order of config inputs, the
    configured path, the SHA-256 of the file's bytes and its data rows (what the report's
    provenance prints, without reading the raw files again)."""
    paths = write_cohort(tmp_path / "raw", copy.deepcopy(ROWS))
    files = {t: f"exports/{t}.csv" for t in reversed(list(paths))}  # configured paths, config order
    out = tmp_path / "results"
    V.validate_tables(paths, files, tables_out={t: out / f"{t}.parquet" for t in paths},
                      findings_out=out / "findings.csv", log_path=tmp_path / "v.log", log_findings=tmp_path / "v.csv",
                      inputs_out=out / "inputs.json", **SETTINGS)
    text = (out / "inputs.json").read_text()
    record = json.loads(text)
    assert list(record) == list(files)
    for t, p in paths.items():
        with open(p, newline="", encoding="utf-8") as fh:
            rows = sum(1 for _ in csv.reader(fh)) - 1
        assert record[t] == {"path": files[t], "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "rows": rows}
    assert rows > 0


@pytest.mark.parametrize(
    "content",
    [
        b"patient_id,sex\nP1,F",  # last row without final newline still counts
        b"patient_id,sex\nP1,F\nP2,M\n",
        b"patient_id,sex\n\nP1,F\n\n",  # csv.reader yields a record for each blank line
        b'patient_id,sex\n"P\n1",F\n',  # quoted line break: one record
        b"patient_id,sex\r\nP1,F\r\nP2,M\r\n",  # CRLF
        b"patient_id,sex\r\nP1,F\r\n\r\n",  # CRLF, a blank line at the end
        b'patient_id,sex\n"P\r\n1",F\r\nP2,M',
        b"patient_id,sex\nP1,F,x\nP2\nP3,M\n",  # rows of the wrong length count too
        b"\xef\xbb\xbfpatient_id,sex\nP1,F\n",  # byte-order mark
        "patient_id,sex\n\u00e9,F\n".encode(),
    ],
)
def test_read_table_counts_records_like_csv_reader_and_hashes_the_bytes(tmp_path, content):
    """The row count and hash validate records of a raw input are those of the file as it is
    (the count of csv.reader, header excluded), whatever its quotes, line ends and blanks."""
    f = tmp_path / "patients.csv"
    f.write_bytes(content)
    raw, _ = V.read_table(f, C.TABLES["patients"])
    with open(f, newline="", encoding="utf-8-sig") as fh:
        assert raw.records == sum(1 for _ in csv.reader(fh)) - 1
    assert raw.sha256 == hashlib.sha256(content).hexdigest()


# --------------------------------------------------------------------------- what real exports contain (issue 15)
# One-defect variants of the hand cohort per class: never a crash, the problem named in an
# error finding (file, line, column), and legitimate Excel habits accepted with a warning.


def _header_edits():
    """(id, edit, table, column, rule or None) for every contract column dropped or doubled."""
    cases = []
    for table in C.TABLES.values():
        for col in table.columns:
            name = col.name
            if col.omit_when_absent:  # not in the hand cohort (centre): nothing to drop or double
                continue

            def drop(r, h, t=table.name, c=name):
                i = h[t].index(c)
                h[t].pop(i)
                for row in r[t]:
                    row.pop(i)

            def twice(r, h, t=table.name, c=name):  # the copy first: the reader takes the first
                i = h[t].index(c)
                h[t].insert(0, c)
                for row in r[t]:
                    row.insert(0, row[i])

            required = name in table.required_columns
            cases.append((f"{table.name}-without-{name}", drop, table.name, name,
                          "required-column" if required else None))
            cases.append((f"{table.name}-{name}-twice", twice, table.name, name, "duplicate-column"))
    return cases


HEADER_CASES = _header_edits()


@pytest.mark.parametrize("edit,table,column,rule", [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES])
def test_missing_or_doubled_header_is_a_finding_not_a_crash(tmp_path, edit, table, column, rule):
    _, f = run(tmp_path, edit)  # must not raise (labs without unit was a TypeError)
    hit = f[(f["file"] == f"raw/{table}.csv") & (f["column"] == column) & (f["row"] == 1)]
    if rule is None:  # an optional column left out is no problem
        assert errors(hit).empty, f.to_string()
    else:
        assert errors(hit)["rule"].tolist() == [rule], f.to_string()


# (table, row, column, text) -> one `range` error at line row + 2 of that column
TOO_LARGE_CASES = [
    ("adverse_events", 0, "grade", "99999999999999999999"),  # 20 digits: beyond int64
    ("adverse_events", 0, "grade", "-99999999999999999999"),
    ("salvage_cycles", 3, "cycle", "9223372036854775808"),  # int64 max + 1 (19 digits)
    ("salvage_cycles", 0, "lenalidomide_mg", "1e400"),  # float64 overflows to inf
    ("patients", 0, "birth_date", "0001-01-01"),  # not storable as datetime64[ns]
    ("patients", 1, "birth_date", "1600-01-01"),
    ("labs", 0, "date", "1600-01-01"),
    ("labs", 0, "date", "1899-12-31"),  # one day before the plausible range
    ("adverse_events", 1, "onset_date", "2999-01-01"),
    ("outcomes", 0, "last_contact_date", "9999-12-31"),
    ("outcomes", 0, "last_contact_date", "2100-01-01"),  # one day after it
    ("therapy_lines", 0, "end_date", "2262-04-12"),  # past datetime64[ns]'s last day
]


@pytest.mark.parametrize("table,row,column,text", TOO_LARGE_CASES, ids=[f"{c[2]}={c[3]}" for c in TOO_LARGE_CASES])
def test_numbers_and_dates_beyond_storage_are_range_findings(tmp_path, table, row, column, text):
    _, f = run(tmp_path, cell(table, row, column, text))
    hit = errors(f)[(errors(f)["file"] == f"raw/{table}.csv") & (errors(f)["column"] == column)
                    & (errors(f)["row"] == row + 2)]
    assert hit[["rule", "value"]].values.tolist() == [["range", text]], f.to_string()


def test_date_range_bounds_and_leading_zeros():
    values, bad, far = V._parse_distinct_dates(
        pa.array(["1900-01-01", "2099-12-31", "1899-12-31", "2100-01-01", "0001-01-01", "9999-12-31", ""]))
    assert far.tolist() == [False, False, True, True, True, True, False]
    assert not bad.any()
    assert str(values[0])[:10] == "1900-01-01" and np.isnat(values[2])


def test_long_integer_with_leading_zeros_is_its_value(tmp_path):
    # 21 characters but the number 3: only significant digits count towards the 18
    tables, f = run(tmp_path, cell("adverse_events", 0, "grade", "000000000000000000003"))
    assert errors(f).empty, f.to_string()
    assert V.output_frame(tables["adverse_events"], C.ADVERSE_EVENTS)["grade"].tolist()[0] == 3


def test_directory_or_unreadable_input_is_a_finding(tmp_path):
    paths = write_cohort(tmp_path / "raw")
    paths["adverse_events"].unlink()
    paths["adverse_events"].mkdir()
    _, f = check_all(paths, {t: f"raw/{t}.csv" for t in paths})
    hit = errors(f)[errors(f)["file"] == "raw/adverse_events.csv"]
    assert hit["rule"].tolist() == ["missing-file"] and hit["row"].isna().all(), f.to_string()
    assert "not a file" in hit["message"].iloc[0]


def excel_bytes(data: bytes, blank_lines: int = 2) -> bytes:
    """What Excel's 'CSV UTF-8' writes: a BOM, CR LF line ends; then blank lines at the end."""
    return codecs.BOM_UTF8 + data.replace(b"\n", b"\r\n") + b"\r\n" * blank_lines


def test_excel_csv_utf8_is_accepted_with_warnings(tmp_path):
    plain_tables, plain = run(tmp_path / "plain")
    paths = write_cohort(tmp_path / "excel")
    for p in paths.values():
        p.write_bytes(excel_bytes(p.read_bytes()))
    tables, f = check_all(paths, {t: f"raw/{t}.csv" for t in paths})
    assert errors(f).empty, f.to_string()
    # per file: the BOM (line 1), the CR LF line ends, and the 2 blank lines after the
    # last record, whose lines are (header + rows) + 1 and + 2
    for name in C.TABLES:
        w = f[f["file"] == f"raw/{name}.csv"]
        assert sorted(w["rule"]) == ["blank-lines", "encoding", "line-ends"], w.to_string()
        assert (w["severity"] == "warning").all()
        n = len(ROWS[name]) + 1
        assert f"(lines {n + 1}-{n + 2}) ignored" in w.loc[w["rule"] == "blank-lines", "message"].iloc[0]
        assert w.loc[w["rule"] == "encoding", "row"].tolist() == [1]
        assert V.output_frame(tables[name], C.TABLES[name]).equals(
            V.output_frame(plain_tables[name], C.TABLES[name])), name


def test_blank_line_between_records_is_still_an_error(tmp_path):
    path = tmp_path / "ae.csv"
    path.write_bytes(b"patient_id,term,grade,onset_date,action\r\nP01,rash,2,2018-01-20,none\r\n\r\n"
                     b"P01,fever,2,2018-01-23,none\r\n\r\n")
    raw, f = V.read_table(path, C.ADVERSE_EVENTS, "raw/ae.csv")
    g = V.parse_table(raw, C.ADVERSE_EVENTS)
    assert set(g.loc[g["rule"] == "missing-value", "row"]) == {3}  # line 3 is between records
    assert f.loc[f["rule"] == "blank-lines", "message"].tolist() == ["1 blank line(s) at the end of raw/ae.csv "
                                                                    "(line 5) ignored"]


# (id, text of the adverse_events term of row 0 (line 2), control character named)
CONTROL_CASES = [
    ("nul", "ra\x00sh", "NUL"),
    ("tab-inside", "ra\tsh", "TAB"),
    ("tab-at-end", "rash\t", "TAB"),
    ("lf-in-quotes", "ra\nsh", "line break (LF)"),
    ("crlf-in-quotes", "ra\r\nsh", "carriage return (CR)"),
    ("escape", "ra\x1bsh", "control character U+001B"),
    ("del", "ra\x7fsh", "control character U+007F"),
    ("c1-nel", "ra\x85sh", "control character U+0085"),
]


@pytest.mark.parametrize("text,name", [c[1:] for c in CONTROL_CASES], ids=[c[0] for c in CONTROL_CASES])
def test_control_characters_are_rejected_by_cell(tmp_path, text, name):
    _, f = run(tmp_path, cell("adverse_events", 0, "term", text))
    e = errors(f)
    # one defect, one error: without the character the cell is 'rash', which is valid
    assert e[["file", "row", "column", "rule"]].values.tolist() == [
        ["raw/adverse_events.csv", 2, "term", "control-character"]], f.to_string()
    assert name in e["message"].iloc[0]
    assert "\\" in e["value"].iloc[0] and text not in e["value"].iloc[0]  # shown escaped


def test_control_characters_in_ignored_columns_and_header(tmp_path):
    def edit(r, h):
        h["patients"].append("note")
        r["patients"][0].append("a\x00b")
        r["patients"][1].append("ok")
        h["adverse_events"][1] = "term\x07"

    _, f = run(tmp_path, edit)
    e = errors(f)
    got = e[e["rule"] == "control-character"][["file", "row", "column"]].values.tolist()
    assert got == [["raw/patients.csv", 2, "note"], ["raw/adverse_events.csv", 1, "term\x07"]], f.to_string()


def test_line_numbers_are_physical_after_quoted_line_breaks(tmp_path):
    path = tmp_path / "ae.csv"
    path.write_bytes(
        b"patient_id,term,grade,onset_date,action\n"  # line 1
        b'P01,"ra\nsh",2,2018-01-20,none\n'  # lines 2-3: one record
        b"P01,anemia,9,2018-01-21,none\n"  # line 4: grade out of range
        b'P01,"a\n\nb",2\n'  # lines 5-7: too few fields
        b"P01,rash\n"  # line 8: too few fields
        b'P01,"x\r\ny",7,2018-01-23,none\n'  # lines 9-10: grade out of range
        b"P01,fever,8,2018-01-24,none\n"  # line 11: grade out of range
    )
    raw, f = V.read_table(path, C.ADVERSE_EVENTS, "raw/ae.csv")
    assert f.loc[f["rule"] == "row-length", "row"].tolist() == [5, 8]
    assert f.loc[f["rule"] == "control-character", "row"].tolist() == [2, 9]
    V.check_whitespace(raw)
    g = V.concat([V.parse_table(raw, C.ADVERSE_EVENTS), V.check_columns(raw, C.ADVERSE_EVENTS)])
    assert sorted(g.loc[g["rule"] == "range", "row"].tolist()) == [4, 9, 11]


def test_record_lines():
    # records (header = 1): 2 kept (1 break), 3 skipped (2 breaks), 4 kept, 5 skipped, 6 kept
    kept, skipped = V.record_lines(3, [(3, 2), (5, 0)], np.array([1, 0, 0]))
    # lines: record 2 = 2-3, record 3 = 4-6, record 4 = 7, record 5 = 8, record 6 = 9
    assert kept.tolist() == [2, 7, 9] and skipped.tolist() == [4, 8]
    kept, skipped = V.record_lines(3, [(3, 0)])  # no line breaks: record numbers
    assert kept.tolist() == [2, 4, 5] and skipped.tolist() == [3]


def test_log_opens_with_distinct_problems_and_groups_knock_ons(tmp_path):
    def edit(r, h):
        for row in r["labs"]:
            if row[2] == "creatinine":
                row[4] = "mmol/L"  # P01 line 5, P02 line 17: rejected -> no creatinine baseline
        for g in range(6, 13):  # 7 different grades out of range, lines 4-10
            r["adverse_events"].append(["P01", f"term{g}", str(g), "2017-06-02", "none"])
        r["labs"] = [row for row in r["labs"] if not (row[0] == "P02" and row[2] == "ntprobnp")]

    _, f = run(tmp_path, edit)
    tables, _ = run(tmp_path / "again", edit)
    causes = V.knock_on_causes(f, tables)
    text = V.format_log(f, causes=causes)
    lines = text.splitlines()
    assert lines[0] == "validation failed in rule validate: 9 errors, 3 warnings"
    assert lines[1].startswith("Distinct problems")
    # lab rows after the P02 NT-proBNP row moved up one line: P02 creatinine is line 16
    assert lines[2] == "  ERROR [unit] raw/labs.csv, column unit, value 'mmol/L': 2 finding(s) (lines 5, 16)"
    assert lines[4] == "      -> 2 baseline-missing warning(s) follow from it (values: creatinine); not listed as " \
                       "problems"
    assert lines[5] == ("  ERROR [range] raw/adverse_events.csv, column grade: 7 finding(s), 7 distinct values "
                        "(lines 4, 5, 6, 7, 8, ...)")
    # the NT-proBNP that is really missing is a problem of its own
    assert "  WARNING [baseline-missing] raw/labs.csv, column analyte, value 'ntprobnp': 1 finding(s)" in lines
    # the knock-ons are not in the per-file list either; the real one is (summary + list)
    assert "has no creatinine or egfr" not in text and text.count("[baseline-missing]") == 2
    assert lines[-1] == "validation failed in rule validate: 9 errors, 3 warnings"


def test_broken_labs_file_makes_every_missing_baseline_a_knock_on(tmp_path):
    def edit(r, h):
        i = h["labs"].index("unit")
        h["labs"].pop(i)
        for row in r["labs"]:
            row.pop(i)

    tables, f = run(tmp_path, edit)
    causes = V.knock_on_causes(f, tables)
    bm = f["rule"] == "baseline-missing"
    assert bm.sum() == 8  # 2 patients x 4 baseline analytes: no value can be converted
    assert set(causes[bm]) == {"ERROR [required-column] raw/labs.csv, column unit"}
    assert (causes[~bm] == "").all()


def test_rule_log_keeps_expected_refusals_free_of_tracebacks(tmp_path):
    from alsalvage.rulelog import rule_log

    with pytest.raises(V.ValidationFailed):
        with rule_log(str(tmp_path / "a.log"), "validate", expected=(V.ValidationFailed,)) as log:
            log.error("validation failed in rule validate: 1 errors, 0 warnings")
            raise V.ValidationFailed("x", V.empty_findings())
    assert "Traceback" not in (tmp_path / "a.log").read_text()
    with pytest.raises(KeyError):
        with rule_log(str(tmp_path / "b.log"), "validate", ["in.csv"], expected=(V.ValidationFailed,)):
            raise KeyError("boom")
    text = (tmp_path / "b.log").read_text()
    assert "Traceback" in text and "KeyError: 'boom'" in text and "in.csv" in text


# --------------------------------------------------------------------------- registry-scale helpers
# The validator works on integer codes of each column's distinct values (issue 7); these
# cases pin the code arithmetic and that a result computed once per distinct value
# reaches every cell holding it.


def test_combine_codes_equal_exactly_when_rows_equal():
    # two columns of 2**40 values each: 2**40 * 2**40 overflows int64, so the first code is
    # renumbered before the second column is mixed in; -1 (missing) is a value of its own
    big = 2**40
    a = np.array([0, 1, 0, 1, -1, 0])
    b = np.array([5, 5, 5, 6, -1, big - 1])
    codes = V.combine_codes([(a, big), (b, big)])
    # rows: (0,5) (1,5) (0,5) (1,6) (-,-) (0,big-1): only rows 0 and 2 are equal
    assert codes[0] == codes[2]
    assert len(set(codes[[0, 1, 3, 4, 5]].tolist())) == 5


def test_combine_codes_keep_the_lexicographic_order():
    # the key sort of the validated tables argsorts these codes: a row sorts before another
    # exactly when its first differing column holds the smaller code (missing, -1, first),
    # also across the int64 renumbering of the case above
    big = 2**40
    a = np.array([1, 0, 1, -1, 0, 0, 1])
    b = np.array([0, big - 1, 0, 3, 2, -1, big - 1])
    codes = V.combine_codes([(a, big), (b, big)])
    # by hand: (-1,3) < (0,-1) < (0,2) < (0,big-1) < (1,0) = (1,0) < (1,big-1)
    assert np.argsort(codes, kind="stable").tolist() == [3, 5, 4, 1, 0, 2, 6]


def test_duplicates():
    # code 7 first at 0, code 3 first at 1, code 9 first at 4: rows 2, 3, 5 repeat 0, 1, 0
    dup, first = V.duplicates(np.array([7, 3, 7, 3, 9, 7]))
    assert dup.tolist() == [False, False, True, True, False, True]
    assert first.tolist() == [0, 1, 0]


def test_parse_dates_repeated_values():
    # each distinct text is parsed once; every cell gets its own text's result
    s = pd.Series(["2021-02-30", "2020-02-29", "2021-02-30", "", "2020-02-29"], dtype=V.STRING)
    values, bad = V.parse_dates(s)
    assert values.isna().tolist() == [True, False, True, True, False]
    assert values[1] == values[4] == pd.Timestamp("2020-02-29")
    assert bad.tolist() == [True, False, True, False, False]  # empty is not a format error


def test_failures_reach_every_cell_with_the_value(tmp_path):
    # the same unknown analyte and the same negative ULN on two rows each: four errors
    def edit(r, h):
        r["labs"].append(["P01", "2017-05-02", "bnp", "300", "pg/mL", ""])
        r["labs"].append(["P02", "2018-01-06", "bnp", "300", "pg/mL", ""])
        r["labs"].append(["P01", "2017-05-03", "alp", "90", "U/L", "-1"])
        r["labs"].append(["P02", "2018-01-07", "alp", "90", "U/L", "-1"])

    _, f = run(tmp_path, edit)
    first = len(ROWS["labs"]) + 2  # line of the first appended row
    got = errors(f)[["row", "column", "rule"]].values.tolist()
    assert got == [[first, "analyte", "unknown-analyte"], [first + 1, "analyte", "unknown-analyte"],
                   [first + 2, "uln", "range"], [first + 3, "uln", "range"]], f.to_string()


def test_key_compares_typed_numbers(tmp_path):
    # cycle '01' is cycle 1: a second (P01, 1) row, reported on its own line (8) with the text
    edit = lambda r, h: r["salvage_cycles"].append(["P01", "01", "2017-07-24", "5", "20", "none"])  # noqa: E731
    _, f = run(tmp_path, edit)
    hit = f[f["rule"] == "unique-key"]
    assert hit[["row", "column", "value"]].values.tolist() == [[7, "patient_id,cycle", "P01|01"]], f.to_string()


def test_output_sorted_by_key_whatever_the_file_order(tmp_path):
    tables, f = run(tmp_path, lambda r, h: r["labs"].reverse())
    assert errors(f).empty, f.to_string()
    labs = V.output_frame(tables["labs"], C.LABS)
    expected = sorted((row[0], row[1], row[2]) for row in ROWS["labs"])
    got = list(zip(labs["patient_id"], labs["date"].dt.strftime("%Y-%m-%d"), labs["analyte"]))
    assert got == expected


def test_baseline_is_the_latest_value_in_the_window(tmp_path):
    # P01 (heart flag 1), index date 2017-05-01, window 2017-04-01..2017-05-01: NT-proBNP
    # 2500 on 04-20, 100 on 04-25 (latest in the window) and 5000 on 05-02 (after the
    # index date, ignored) -> baseline 100, not > 332: the flag disagrees
    def edit(r, h):
        r["labs"].append(["P01", "2017-04-25", "ntprobnp", "100", "ng/L", ""])
        r["labs"].append(["P01", "2017-05-02", "ntprobnp", "5000", "ng/L", ""])

    _, f = run(tmp_path, edit)
    assert errors(f).empty, f.to_string()
    assert f[["row", "column", "rule", "message"]].values.tolist() == [
        [2, "heart", "involvement-flag",
         "clinician heart flag is '1' but baseline ntprobnp is 100 (definition: NT-proBNP > 332 ng/L)"]]


# --------------------------------------------------------------------------- data dictionary


def test_data_dictionary_mentions_every_column_and_analyte():
    text = (REPO / "docs" / "data-dictionary.md").read_text()
    for table in C.TABLES.values():
        assert f"{table.name}.csv" in text, table.name
        for col in table.columns:
            assert f"`{col.name}`" in text, f"{table.name}.{col.name}"
    for a in C.ANALYTES.values():
        assert f"`{a.name}`" in text, a.name
        for unit in a.units:
            if unit:
                assert unit in text, f"{a.name} {unit}"
    for rule in V.RULES:
        assert f"`{rule}`" in text, rule


# --------------------------------------------------------------------------- the workflow on the demo cohort

VALIDATED = [f"results/validated/{t}.parquet" for t in C.TABLES] + ["results/validated/findings.csv"]


def demo_frame(project, table):
    return pd.read_csv(project / "resources" / "demo" / f"{table}.csv", dtype=str, keep_default_na=False)


def write_frame(project, table, frame):
    frame.to_csv(project / "resources" / "demo" / f"{table}.csv", index=False, lineterminator="\n")


def first(frame, mask):
    """Index of the first row matching mask (the defect is applied there)."""
    idx = frame.index[mask]
    assert len(idx), "the demo cohort has no row to apply this defect to"
    return idx[0]


def set_cell(column, value, where=None):
    """Defect: one cell of the first row (or the first row matching ``where(frame)``)."""

    def apply(frame):
        i = first(frame, where(frame)) if where else 0
        frame.loc[i, column] = value(frame, i) if callable(value) else value
        return frame, i + 2

    return apply


def analyte(name):
    return lambda f: f["analyte"] == name


def drop_column(column):
    return lambda f: (f.drop(columns=[column]), 1)


def append_copy(row=0):
    return lambda f: (pd.concat([f, f.iloc[[row]]], ignore_index=True), len(f) + 2)


def single_line_patient(f):
    n = f.groupby("patient_id")["line"].transform("size")
    return n == 1


def shift_date(column, days):
    return lambda f, i: (pd.Timestamp(f.loc[i, column]) + pd.Timedelta(days=days)).strftime("%Y-%m-%d")


def raw_bytes(fn):
    """Defect on the bytes of the file; fn(bytes) -> (bytes, expected line or None)."""
    return ("bytes", fn)


def latin1_term(data: bytes):
    lines = data.split(b"\n")
    head, row = lines[0], lines[1].split(b",")
    row[1] = "\u00e9ruption".encode("latin-1")
    lines[1] = b",".join(row)
    return b"\n".join(lines), 2


def extra_field(data: bytes):
    lines = data.split(b"\n")
    lines[1] = lines[1] + b",extra"
    return b"\n".join(lines), 2


def duplicate_column(column):
    """Defect: the column twice in the header (the copy in front)."""
    return lambda f: (pd.concat([f[[column]], f], axis=1), 1)


def in_quotes(row: int, column: int, text):
    """Defect on the bytes: field ``column`` of data row ``row`` (0-based) becomes the
    quoted ``text`` (or ``text(old field)``); returns the line of that record (no earlier
    record spans lines)."""

    def apply(data: bytes):
        lines = data.split(b"\n")
        fields = lines[row + 1].split(b",")
        new = text(fields[column].decode()) if callable(text) else text
        fields[column] = b'"' + new.encode() + b'"'
        lines[row + 1] = b",".join(fields)
        return b"\n".join(lines), row + 2

    return apply


def as_directory(data: bytes):
    return None, None  # test_malformed_demo_is_rejected makes the path a directory


def ongoing_after_death(frame):
    """Defect: the first patient who died is recorded as still on therapy ('ongoing', no
    end date, as 'ongoing' requires): only the death date contradicts it."""
    i = first(frame, frame["death_date"] != "")
    frame.loc[i, "stop_reason"] = "ongoing"
    frame.loc[i, "salvage_end_date"] = ""
    return frame, i + 2


def line_at_salvage_start(project):
    """Defect needing two tables: a prior line that starts on the patient's cycle 1 day 1."""
    cycles = demo_frame(project, "salvage_cycles")
    c1 = cycles[cycles["cycle"] == "1"].set_index("patient_id")["start_date"]

    def apply(frame):
        i = frame.index[-1]  # the last line of the last patient
        frame.loc[i, "start_date"] = c1[frame.loc[i, "patient_id"]]
        frame.loc[i, "end_date"] = c1[frame.loc[i, "patient_id"]]
        frame.loc[i, "progression_date"] = ""
        frame.loc[i, "last_bortezomib_date"] = ""
        return frame, i + 2

    return apply


def demo_cycles():
    return pd.read_csv(DEMO / "salvage_cycles.csv", dtype=str, keep_default_na=False)


def next_line_before_salvage(frame):
    """Defect: the first patient with a next line starts it the day before cycle 1."""
    c1 = demo_cycles().query("cycle == '1'").set_index("patient_id")["start_date"]
    i = first(frame, frame["next_line_date"] != "")
    frame.loc[i, "next_line_date"] = (pd.Timestamp(c1[frame.loc[i, "patient_id"]]) - pd.Timedelta(days=1)).strftime(
        "%Y-%m-%d")
    return frame, i + 2


def salvage_end_before_last_cycle(frame):
    """Defect: a patient with >= 2 cycles ends lenalidomide the day before the last cycle."""
    cycles = demo_cycles()
    last = cycles.assign(n=cycles["cycle"].astype(int)).sort_values("n").groupby("patient_id").last()
    i = first(frame, frame["patient_id"].map(last["n"]).ge(2) & (frame["salvage_end_date"] != ""))
    frame.loc[i, "salvage_end_date"] = (pd.Timestamp(last.loc[frame.loc[i, "patient_id"], "start_date"])
                                        - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    return frame, i + 2


def no_bortezomib(f):
    return ~f["agents"].str.contains("bortezomib")


# (id, table, defect, column, rule, check the row?) -- one defect per variant
CORPUS = [
    ("latin1", "adverse_events", raw_bytes(latin1_term), "", "encoding", True),
    ("zero-bytes", "adverse_events", raw_bytes(lambda b: (b"", None)), "", "empty-file", True),
    ("header-only", "salvage_cycles", raw_bytes(lambda b: (b.split(b"\n")[0] + b"\n", None)), "", "empty-file",
     True),
    ("extra-field", "labs", raw_bytes(extra_field), "", "row-length", True),
    ("missing-column", "patients", drop_column("sex"), "sex", "required-column", True),
    ("trailing-space", "patients", set_cell("isotype", lambda f, i: f.loc[i, "isotype"] + " "), "isotype",
     "whitespace", True),
    ("date-format", "patients", set_cell("birth_date", "19/12/1944"), "birth_date", "date-format", True),
    ("impossible-date", "therapy_lines", set_cell("end_date", "2011-02-30"), "end_date", "date-format", True),
    ("integer-format", "salvage_cycles", set_cell("cycle", "1.5"), "cycle", "integer-format", True),
    ("number-format", "salvage_cycles", set_cell("lenalidomide_mg", "ten"), "lenalidomide_mg", "number-format",
     True),
    ("flag-format", "patients", set_cell("heart", "maybe"), "heart", "flag-format", True),
    ("sex-vocabulary", "patients", set_cell("sex", "X"), "sex", "vocabulary", True),
    ("stop-reason-vocabulary", "outcomes", set_cell("stop_reason", "lost"), "stop_reason", "vocabulary", True),
    ("grade-6", "adverse_events", set_cell("grade", "6"), "grade", "range", True),
    ("negative-flc", "labs", set_cell("value", "-5", analyte("flc_kappa")), "value", "range", True),
    ("nyha-5", "labs", set_cell("value", "5", analyte("nyha")), "value", "range", True),
    ("lvef-150", "labs", set_cell("value", "150", analyte("lvef")), "value", "range", True),
    ("bnp-analyte", "labs", set_cell("analyte", "bnp", analyte("ntprobnp")), "analyte", "unknown-analyte", True),
    ("unknown-unit", "labs", set_cell("unit", "mmol/L", analyte("creatinine")), "unit", "unit", True),
    ("unknown-unit-lower-case", "labs", set_cell("unit", "mmol/l", analyte("creatinine")), "unit", "unit", True),
    ("unit-of-another-analyte", "labs", set_cell("unit", "g/dl", analyte("flc_kappa")), "unit", "unit", True),
    ("censored-without-number", "labs", set_cell("value", "<", analyte("ntprobnp")), "value", "number-format",
     True),
    ("ife-value", "labs", set_cell("value", "equivocal", analyte("serum_ife")), "value", "vocabulary", True),
    ("duplicate-patient", "patients", set_cell("patient_id", lambda f, i: f.loc[0, "patient_id"],
                                               lambda f: f.index == 1), "patient_id", "unique-key", True),
    ("duplicate-lab-row", "labs", append_copy(0), "", "duplicate-row", True),
    ("unknown-patient", "labs", set_cell("patient_id", "SYN-999"), "patient_id", "foreign-key", True),
    ("line-gap", "therapy_lines", set_cell("line", "2", single_line_patient), "line", "sequence", True),
    ("cycle-dates-not-increasing", "salvage_cycles",
     set_cell("start_date", lambda f, i: f.loc[i - 1, "start_date"], lambda f: f["cycle"] == "2"), "start_date",
     "date-order", True),
    ("lab-after-last-contact", "labs", set_cell("date", "2099-01-01"), "date", "date-order", True),
    ("birth-after-diagnosis", "patients", set_cell("birth_date", shift_date("diagnosis_date", 1)),
     "diagnosis_date", "date-order", True),
    ("age-10-at-diagnosis", "patients", set_cell("birth_date", shift_date("diagnosis_date", -3653)),
     "birth_date", "range", True),
    ("line-end-before-start", "therapy_lines", set_cell("end_date", shift_date("start_date", -1)), "end_date",
     "date-order", True),
    ("end-empty-not-ongoing", "outcomes",
     set_cell("salvage_end_date", "", lambda f: f["stop_reason"] != "ongoing"), "salvage_end_date",
     "consistency", True),
    ("death-reason-without-date", "outcomes",
     set_cell("stop_reason", "death", lambda f: f["death_date"] == ""), "death_date", "consistency", True),
    ("ongoing-with-death-date", "outcomes", ongoing_after_death, "stop_reason", "consistency", True),
    ("last-contact-before-death", "outcomes",
     set_cell("last_contact_date", shift_date("death_date", -1), lambda f: f["death_date"] != ""),
     "last_contact_date", "date-order", True),
    ("agents-format", "therapy_lines", set_cell("agents", "Cyclophosphamide, thalidomide"), "agents",
     "agents-format", True),
    # impossible records across tables (issue 15)
    ("next-line-before-salvage", "outcomes", next_line_before_salvage, "next_line_date", "date-order", True),
    ("progression-before-line-start", "therapy_lines",
     set_cell("progression_date", shift_date("start_date", -1), lambda f: f["progression_date"] != ""),
     "progression_date", "date-order", True),
    ("salvage-end-before-last-cycle", "outcomes", salvage_end_before_last_cycle, "salvage_end_date", "date-order",
     True),
    ("last-bortezomib-without-bortezomib", "therapy_lines",
     set_cell("last_bortezomib_date", lambda f, i: f.loc[i, "start_date"], no_bortezomib), "last_bortezomib_date",
     "consistency", True),
    ("misspelt-agent", "therapy_lines", set_cell("agents", "bortezomib;dexamethazone"), "agents", "unknown-agent",
     True),
    ("uln-zero", "labs", set_cell("uln", "0", analyte("alp")), "uln", "range", True),
    ("uln-infinite", "labs", set_cell("uln", "1e400", analyte("alp")), "uln", "range", True),
    # the demo's patients are born 1928 or later and diagnosed 2001 or later
    ("lab-before-birth", "labs", set_cell("date", "1920-01-01"), "date", "date-order", True),
    ("adverse-event-before-birth", "adverse_events", set_cell("onset_date", "1920-01-01"), "onset_date",
     "date-order", True),
    ("line-before-birth", "therapy_lines", set_cell("start_date", "1920-01-01"), "start_date", "date-order", True),
    ("dialysis-before-birth", "outcomes", set_cell("dialysis_start_date", "1920-01-01"), "dialysis_start_date",
     "date-order", True),
    ("adverse-event-years-before-diagnosis", "adverse_events", set_cell("onset_date", "1995-01-01"), "onset_date",
     "early-date", True),
    ("diagnosis-before-1950", "patients", set_cell("diagnosis_date", "1949-12-31"), "diagnosis_date", "early-date",
     True),
    # issue 15: inputs that crashed the validator, and control characters
    ("labs-without-unit", "labs", drop_column("unit"), "unit", "required-column", True),
    ("labs-value-twice", "labs", duplicate_column("value"), "value", "duplicate-column", True),
    ("integer-beyond-int64", "salvage_cycles", set_cell("cycle", "99999999999999999999"), "cycle", "range", True),
    ("date-year-1", "patients", set_cell("birth_date", "0001-01-01"), "birth_date", "range", True),
    ("date-year-1600", "labs", set_cell("date", "1600-01-01"), "date", "range", True),
    ("date-year-2999", "adverse_events", set_cell("onset_date", "2999-01-01"), "onset_date", "range", True),
    ("date-year-9999", "outcomes", set_cell("last_contact_date", "9999-12-31"), "last_contact_date", "range",
     True),
    ("input-is-a-directory", "adverse_events", raw_bytes(as_directory), "", "missing-file", True),
    ("nul-in-cell", "adverse_events", set_cell("term", lambda f, i: f.loc[i, "term"] + "\x00x"), "term",
     "control-character", True),
    ("tab-in-cell", "therapy_lines", set_cell("regimen", lambda f, i: f.loc[i, "regimen"] + "\tx"), "regimen",
     "control-character", True),
    ("line-break-in-quotes", "adverse_events", raw_bytes(in_quotes(2, 1, "rash\nmaculo-papular")), "term",
     "control-character", True),
    ("escape-in-id", "patients", set_cell("patient_id", lambda f, i: f.loc[i, "patient_id"] + "\x1b"),
     "patient_id", "control-character", True),
]


@pytest.mark.workflow
@pytest.mark.parametrize("table,defect,column,rule,check_row", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malformed_demo_is_rejected(project, table, defect, column, rule, check_row):
    path = project / "resources" / "demo" / f"{table}.csv"
    if isinstance(defect, tuple):
        data, line = defect[1](path.read_bytes())
        if data is None:
            path.unlink()
            path.mkdir()
        else:
            path.write_bytes(data)
    else:
        frame, line = defect(demo_frame(project, table))
        write_frame(project, table, frame)
    proc = snakemake(project, "results/validated/patients.parquet")
    assert proc.returncode != 0
    found = pd.read_csv(project / "logs" / "validate.findings.csv", dtype={"row": "Int64"}, keep_default_na=False,
                        na_values={"row": [""]})
    hit = found[(found["severity"] == "error") & (found["file"] == f"resources/demo/{table}.csv")
                & (found["column"] == column) & (found["rule"] == rule)]
    assert len(hit) >= 1, found.to_string()
    if check_row:
        rows = hit["row"].tolist()
        assert (line in rows) if line is not None else hit["row"].isna().all(), found.to_string()
    assert "validation failed in rule validate" in (project / "logs" / "validate.log").read_text()
    assert not list((project / "results").glob("validated/*.parquet"))
    assert not (project / "results" / "validated" / "findings.csv").exists()
    # the real rule script: the summary of problems on the terminal, no traceback, and
    # (default profile) not the findings table
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "validation failed in rule validate" in proc.stderr
    assert f"[{rule}] resources/demo/{table}.csv" in proc.stderr, proc.stderr
    assert ",".join(V.FINDING_COLUMNS) not in proc.stderr + proc.stdout


@pytest.mark.workflow
def test_defect_needing_two_tables(project):
    frame, line = line_at_salvage_start(project)(demo_frame(project, "therapy_lines"))
    write_frame(project, "therapy_lines", frame)
    proc = snakemake(project, "results/validated/patients.parquet")
    assert proc.returncode != 0
    found = pd.read_csv(project / "logs" / "validate.findings.csv", keep_default_na=False)
    hit = found[(found["file"] == "resources/demo/therapy_lines.csv") & (found["rule"] == "date-order")
                & (found["column"] == "start_date") & (found["row"].astype(str) == str(line))]
    assert len(hit) == 1, found.to_string()
    assert not (project / "results").exists() or not list((project / "results").rglob("*.parquet"))


@pytest.mark.workflow
def test_excel_exports_of_the_demo_pass_validation(project, tmp_path):
    """Legitimate inputs: every demo file as Excel's 'CSV UTF-8' (BOM, CR LF) with blank
    lines at the end validates to the same tables as the plain files, with warnings."""
    plain = snakemake(copy_project(tmp_path / "plain"), *VALIDATED, check=True)
    del plain
    for name in C.TABLES:
        path = project / "resources" / "demo" / f"{name}.csv"
        path.write_bytes(excel_bytes(path.read_bytes(), blank_lines=3))
    snakemake(project, *VALIDATED, check=True)
    for name in C.TABLES:
        got = pd.read_parquet(project / "results" / "validated" / f"{name}.parquet")
        want = pd.read_parquet(tmp_path / "plain" / "results" / "validated" / f"{name}.parquet")
        assert got.equals(want), name
    found = pd.read_csv(project / "results" / "validated" / "findings.csv", keep_default_na=False)
    assert (found["severity"] == "warning").all()
    for name in C.TABLES:
        rules = set(found.loc[found["file"] == f"resources/demo/{name}.csv", "rule"])
        assert {"encoding", "line-ends", "blank-lines"} <= rules, (name, rules)
    log = (project / "logs" / "validate.log").read_text()
    assert "byte-order mark" in log and "3 blank line(s) at the end" in log


@pytest.mark.workflow
def test_physical_line_numbers_after_a_multi_line_cell(project):
    """A quoted line break in the patient_id of labs data row 2 (lines 4-5) and a bad unit
    on physical line 11 (data row 8): the unit is reported at line 11, the break at 4."""
    path = project / "resources" / "demo" / "labs.csv"
    data, line = in_quotes(2, 0, lambda pid: pid[:4] + "\n" + pid[4:])(path.read_bytes())
    assert line == 4
    lines = data.split(b"\n")  # element i is physical line i + 1
    unit = lines[0].split(b",").index(b"unit")
    fields = lines[10].split(b",")
    fields[unit] = b"furlongs"
    lines[10] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    proc = snakemake(project, "results/validated/patients.parquet")
    assert proc.returncode != 0
    found = pd.read_csv(project / "logs" / "validate.findings.csv", dtype={"row": "Int64"}, keep_default_na=False,
                        na_values={"row": [""]})
    e = found[found["severity"] == "error"]
    assert e[["file", "row", "column", "rule"]].values.tolist() == [
        ["resources/demo/labs.csv", 4, "patient_id", "control-character"],
        ["resources/demo/labs.csv", 11, "unit", "unit"]], found.to_string()


@pytest.mark.workflow
def test_unexpected_error_lands_in_the_log_with_its_traceback(project):
    """Not a rejection but a bug: the rule fails and logs/validate.log holds the traceback."""
    code = project / "workflow" / "scripts" / "alsalvage" / "validation.py"
    code.write_text(code.read_text() + "\n\ndef check_followup(*args, **kwargs):\n"
                    "    raise RuntimeError('injected fault')\n")
    proc = snakemake(project, "results/validated/patients.parquet")
    assert proc.returncode != 0
    log = (project / "logs" / "validate.log").read_text()
    assert "Traceback" in log and "RuntimeError: injected fault" in log and "resources/demo/labs.csv" in log
    assert not list((project / "results").glob("validated/*.parquet"))


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 25
    assert len({c[0] for c in CORPUS}) == len(CORPUS)


def digests(directory: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.glob("*.csv"))}


@pytest.mark.workflow
def test_demo_cohort_passes_with_typed_canonical_tables(project):
    before = digests(project / "resources" / "demo")
    snakemake(project, *VALIDATED, check=True)
    assert digests(project / "resources" / "demo") == before, "inputs must not be modified"
    out = project / "results" / "validated"
    expected = {
        "patients": {"patient_id": "object", "birth_date": "datetime64[ns]", "heart": "bool", "gi": "bool"},
        "therapy_lines": {"line": "int64", "start_date": "datetime64[ns]", "last_bortezomib_date": "datetime64[ns]"},
        "salvage_cycles": {"cycle": "int64", "lenalidomide_mg": "float64", "dexamethasone_mg": "float64"},
        "outcomes": {"death_date": "datetime64[ns]", "stop_reason": "object"},
        "labs": {"date": "datetime64[ns]", "value": "float64", "qualifier": "object", "unit": "object",
                 "uln": "float64"},
        "adverse_events": {"grade": "int64", "onset_date": "datetime64[ns]"},
    }
    for name, table in C.TABLES.items():
        frame = pd.read_parquet(out / f"{name}.parquet")
        cols = [c.name for c in table.columns if not c.omit_when_absent]  # the demo has no centre
        if name == "labs":  # the censoring sign follows the value
            cols.insert(cols.index("value") + 1, "qualifier")
        assert list(frame.columns) == cols, name
        assert len(frame) == len(demo_frame(project, name)), name
        for col, dtype in expected[name].items():
            assert str(frame[col].dtype) == dtype, f"{name}.{col}: {frame[col].dtype}"
        assert frame.equals(frame.sort_values(list(table.key)).reset_index(drop=True)), f"{name} not sorted"
    labs = pd.read_parquet(out / "labs.parquet")
    canonical = {a.name: a.canonical_unit for a in C.ANALYTES.values()}
    assert (labs["unit"] == labs["analyte"].map(canonical)).all()
    # the raw rows in a non-canonical unit, converted by hand factors (clinical-criteria section 1)
    raw = demo_frame(project, "labs")
    hand = {("creatinine", "umol/L"): 1 / 88.4, ("flc_kappa", "mg/dL"): 10, ("hemoglobin", "g/L"): 0.1,
            ("platelets", "/mm3"): 0.001, ("ctnt", "ug/L"): 1000, ("ntprobnp", "pg/mL"): 1}
    merged = raw.assign(date=pd.to_datetime(raw["date"])).merge(labs, on=["patient_id", "date", "analyte"],
                                                                 suffixes=("_raw", ""))
    checked = 0
    for (name, unit), factor in hand.items():
        sel = merged[(merged["analyte"] == name) & (merged["unit_raw"] == unit)]
        np.testing.assert_allclose(sel["value"], sel["value_raw"].astype(float) * factor, rtol=1e-12)
        checked += len(sel)
    assert checked > 0, "the demo cohort has no non-canonical units to check"
    findings_csv = pd.read_csv(out / "findings.csv")
    assert list(findings_csv.columns) == V.FINDING_COLUMNS
    assert (findings_csv["severity"] == "warning").all()


@pytest.mark.workflow
def test_outputs_are_byte_identical_across_runs(project, tmp_path):
    snakemake(project, *VALIDATED, check=True)
    first_run = {p.name: p.read_bytes() for p in (project / "results" / "validated").iterdir()}
    snakemake(project, *VALIDATED, "--forcerun", "validate", check=True)
    second = {p.name: p.read_bytes() for p in (project / "results" / "validated").iterdir()}
    assert first_run == second


@pytest.mark.workflow
def test_warnings_do_not_stop_the_run(project):
    frame = demo_frame(project, "patients")
    frame["height_cm"] = "170"
    write_frame(project, "patients", frame)
    before = digests(project / "resources" / "demo")
    snakemake(project, *VALIDATED, check=True)
    found = pd.read_csv(project / "results" / "validated" / "findings.csv", keep_default_na=False)
    hit = found[(found["rule"] == "unknown-column") & (found["column"] == "height_cm")]
    assert hit[["severity", "file", "row"]].values.tolist() == [["warning", "resources/demo/patients.csv", 1]]
    assert "height_cm" not in pd.read_parquet(project / "results" / "validated" / "patients.parquet").columns
    assert digests(project / "resources" / "demo") == before


@pytest.mark.workflow
def test_failing_run_leaves_inputs_untouched(project):
    frame = demo_frame(project, "adverse_events")
    frame.loc[0, "grade"] = "9"
    write_frame(project, "adverse_events", frame)
    before = digests(project / "resources" / "demo")
    assert snakemake(project, *VALIDATED).returncode != 0
    assert digests(project / "resources" / "demo") == before


# --------------------------------------------------------------------------- legitimate exports


LAB_SPELLINGS = {  # accepted spelling -> as another lab system writes it
    "mg/dL": "mg/dl", "mg/L": "mg/l", "umol/L": "\u00b5mol/l", "pg/mL": "pg/ml", "ng/L": "ng/l", "U/L": "U/l",
    "g/dL": "g/dl", "g/L": "g/l", "10^9/L": "x10^9/L", "/mm3": "/\u03bcl", "ug/L": "\u03bcg/L",
    "g/24h": "g/24 h",
}


@pytest.mark.workflow
def test_unit_spellings_of_lab_systems_validate_to_the_same_table(project):
    """Every unit of the demo labs respelt (case, micro signs, x10^9/L): the validated
    labs are the same as from the canonical spellings (same factors)."""
    snakemake(project, "results/validated/labs.parquet", check=True)
    before = pd.read_parquet(project / "results" / "validated" / "labs.parquet")
    frame = demo_frame(project, "labs")
    respelt = frame["unit"].map(LAB_SPELLINGS).fillna(frame["unit"])
    assert (respelt != frame["unit"]).sum() > 1000, "most rows respelt"
    write_frame(project, "labs", frame.assign(unit=respelt))
    snakemake(project, "results/validated/labs.parquet", check=True)
    after = pd.read_parquet(project / "results" / "validated" / "labs.parquet")
    pd.testing.assert_frame_equal(after, before)


@pytest.mark.workflow
def test_censored_lab_values_reach_the_validated_labs(project):
    """'<50' NT-proBNP, '< 0.01' ug/L cTnT and '>35000' NT-proBNP: accepted, stored as
    the (converted) limit with the qualifier; no error, nothing dropped."""
    frame = demo_frame(project, "labs")
    nt = frame.index[frame["analyte"] == "ntprobnp"]
    ct = frame.index[(frame["analyte"] == "ctnt") & (frame["unit"] == "ug/L")]
    edits = {nt[0]: ("< 50", "pg/mL", 50.0, "<"), nt[1]: (">35000", "ng/L", 35000.0, ">"),
             ct[0]: ("<0.01", "ug/L", 10.0, "<")}  # 0.01 ug/L = 10 ng/L
    for i, (text, unit, _, _) in edits.items():
        frame.loc[i, ["value", "unit"]] = [text, unit]
    write_frame(project, "labs", frame)
    snakemake(project, *VALIDATED, check=True)
    labs = pd.read_parquet(project / "results" / "validated" / "labs.parquet")
    assert len(labs) == len(frame)
    for i, (_, _, value, qual) in edits.items():
        key = (labs["patient_id"] == frame.loc[i, "patient_id"]) & (labs["date"] == frame.loc[i, "date"]) & (
            labs["analyte"] == frame.loc[i, "analyte"])
        assert labs.loc[key, ["value", "qualifier"]].values.tolist() == [[value, qual]]
    assert (labs["qualifier"] != "").sum() == 3


@pytest.mark.workflow
def test_upcr_is_accepted_and_reported_unused(project):
    frame = demo_frame(project, "labs")
    row = frame[frame["analyte"] == "proteinuria_24h"].iloc[[0]].assign(analyte="upcr", value="226.2",
                                                                          unit="mg/mmol")
    write_frame(project, "labs", pd.concat([frame, row], ignore_index=True))
    snakemake(project, *VALIDATED, check=True)
    labs = pd.read_parquet(project / "results" / "validated" / "labs.parquet")
    upcr = labs[labs["analyte"] == "upcr"]
    assert upcr[["value", "unit"]].values.tolist() == [[pytest.approx(2.0), "g/g"]]  # 226.2 / 113.1
    found = pd.read_csv(project / "results" / "validated" / "findings.csv", keep_default_na=False)
    assert found.loc[found["rule"] == "upcr-unused", "severity"].tolist() == ["warning"]


@pytest.mark.workflow
def test_censored_aliased_and_upcr_labs_run_through_the_derivations(project):
    """A legitimate export with censored values, respelt units and UPCR (opted in) runs to
    ADSL and ADRS; the censored cTnT baseline is listed in BLQUAL."""
    frame = demo_frame(project, "labs")
    ct = frame.index[frame["analyte"] == "ctnt"]
    frame.loc[ct, "value"] = "<0.01"  # every cTnT below 0.01 ug/L = 10 ng/L
    frame.loc[ct, "unit"] = "\u00b5g/l"
    nt = frame.index[frame["analyte"] == "ntprobnp"][-1]
    frame.loc[nt, "value"] = ">35000"
    frame["unit"] = frame["unit"].replace({"mg/dL": "mg/dl", "umol/L": "\u00b5mol/L", "pg/mL": "pg/ml"})
    prot = frame[frame["analyte"] == "proteinuria_24h"].iloc[[0]]
    upcr = prot.assign(analyte="upcr", value="113.1", unit="mg/mmol",
                       date=(pd.Timestamp(prot["date"].iloc[0]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
    write_frame(project, "labs", pd.concat([frame, upcr], ignore_index=True))
    (project / "upcr.yaml").write_text("renal:\n  upcr_as_proteinuria: true\n")
    snakemake(project, "results/derived/adsl.csv", "results/derived/adrs.csv", "--configfile", "config.yaml",
              "upcr.yaml", check=True)
    adsl = pd.read_csv(project / "results" / "derived" / "adsl.csv", keep_default_na=False)
    labs = pd.read_parquet(project / "results" / "validated" / "labs.parquet")
    assert sorted(labs["qualifier"].unique()) == ["", "<", ">"]
    with_ctnt = adsl[adsl["CTNTBL"] != ""]
    assert len(with_ctnt) > 0
    assert (with_ctnt["CTNTBL"].astype(float) == 10.0).all()
    assert with_ctnt["BLQUAL"].str.contains("CTNTBL<", regex=False).all()
    assert not adsl.loc[adsl["CTNTBL"] == "", "BLQUAL"].str.contains("CTNTBL", regex=False).any()
    adrs = pd.read_csv(project / "results" / "derived" / "adrs.csv", keep_default_na=False)
    assert len(adrs) > 0
    found = pd.read_csv(project / "results" / "validated" / "findings.csv", keep_default_na=False)
    assert not (found["rule"] == "upcr-unused").any()  # opted in: used, no warning


def test_findings_csv_neutralises_formulas(tmp_path):
    """A value that a spreadsheet would run as a formula is written with a leading quote;
    numbers, negative ones included, are written as they are."""
    _, f = run(tmp_path, both(cell("therapy_lines", 0, "best_response", "=cmd|' /C calc'!A0"),
                              cell("adverse_events", 0, "grade", "-5")))
    path = tmp_path / "findings.csv"
    V.write_findings(f, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert "'=cmd|' /C calc'!A0" in back["value"].tolist()
    assert "-5" in back["value"].tolist()
    assert not back.apply(lambda c: c.str.match(r"^[=+@]")).any().any()


# --------------------------------------------------------------------------- drug dictionary


def test_every_shipped_agent_has_a_class_and_every_alias_names_shipped_agents():
    assert tuple(C.AGENT_CLASSES) == C.AGENTS
    assert all(isinstance(c, str) and c for c in C.AGENT_CLASSES.values())
    assert {C.AGENT_CLASSES[a] for a in ("bortezomib", "carfilzomib", "ixazomib")} == {C.PROTEASOME_INHIBITOR}
    assert {C.AGENT_CLASSES[a] for a in ("thalidomide", "lenalidomide", "pomalidomide")} == {C.IMID}
    assert C.AGENT_CLASSES["daratumumab"] == C.ANTI_CD38
    assert C.AGENT_CLASSES["venetoclax"] == C.BCL2_INHIBITOR


@pytest.mark.parametrize("drugs, text, expected", [
    ({}, "revlimid;dexamethasone", ("lenalidomide;dexamethasone", [])),
    ({}, "iberdomide;dexamethasone", ("dexamethasone", ["iberdomide"])),
    ({"agents": {"iberdomide": "IMiD"}}, "iberdomide;dexamethasone", ("iberdomide;dexamethasone", [])),
    ({"agents": {"iberdomide": "IMiD"}, "aliases": {"ird": ["iberdomide", "dexamethasone"]}}, "ird;velcade",
     ("iberdomide;dexamethasone;bortezomib", [])),
    ({"aliases": {"dara-rd": ["daratumumab", "lenalidomide", "dexamethasone"]}}, "dara-rd",
     ("daratumumab;lenalidomide;dexamethasone", [])),
])
def test_drug_dictionary_merges_the_config(drugs, text, expected):
    assert C.drug_dictionary(drugs).normalise(text) == expected


@pytest.mark.parametrize("drugs, match", [
    ({"aliases": {"xd": ["xyzumab"]}}, "unknown agent"),
    ({"aliases": {"bortezomib": ["carfilzomib"]}}, "generic name"),
])
def test_drug_dictionary_rejects_bad_aliases(drugs, match):
    with pytest.raises(ValueError, match=match):
        C.drug_dictionary(drugs)


def test_drug_dictionary_classes_select_agents():
    d = C.drug_dictionary({"agents": {"iberdomide": "IMiD"}})
    assert set(d.agents_of_classes(["IMiD"])) == {"thalidomide", "lenalidomide", "pomalidomide", "iberdomide"}
    assert d.agents_of_classes([]) == ()


def test_configured_agent_is_accepted_by_the_validator(tmp_path):
    """An agent outside the shipped dictionary is an unknown-agent error until config
    drugs.agents names it; then the validated table holds it (and aliases expand)."""
    rows = copy.deepcopy(ROWS)
    rows["therapy_lines"][1][HEAD["therapy_lines"].index("agents")] = "ird"  # P01 line 2 (no bortezomib)
    paths = write_cohort(tmp_path / "raw", rows)
    _, f = check_all(paths)
    assert "unknown-agent" in set(f["rule"])
    tables, f = check_all(paths, drugs={"agents": {"iberdomide": "IMiD"},
                                        "aliases": {"ird": ["iberdomide", "dexamethasone"]}})
    assert "unknown-agent" not in set(f["rule"])
    assert tables["therapy_lines"].typed["agents"].iloc[1] == "iberdomide;dexamethasone"
