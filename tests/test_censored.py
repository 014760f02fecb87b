"""Censored lab results ('<5', '>35000'): the owner ``censored.known``/``bounds`` and the
rules that use it. Each expectation is worked out by hand from the interval a censored
result stands for ('<x': true value below x; '<=x': at most x; '>x': above x; '>=x': at
least x) and the published threshold (config defaults) named next to the case.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import censored, hematologic as hem, organ, staging
from alsalvage.derive_common import upcr_as_proteinuria
from helpers import REPO

CFG = yaml.safe_load((REPO / "config.yaml").read_text())
HP, CP, RP, LP, ST = CFG["hematologic"], CFG["cardiac"], CFG["renal"], CFG["liver"], CFG["staging"]
NaN = math.nan
T0 = pd.Timestamp("2020-01-01")


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


# (criterion, value, qualifier, op, threshold, expected 1 known true / 0 known false / NaN unknown)
KNOWN_CASES = [
    # VGPR: dFLC < 40 mg/L
    ("vgpr", 10, "<", "<", 40, 1.0),  # true < 10 <= 40
    ("vgpr", 40, "<", "<", 40, 1.0),  # true < 40
    ("vgpr", 40, "<=", "<", 40, NaN),  # true may be exactly 40
    ("vgpr", 50, "<", "<", 40, NaN),  # true anywhere below 50
    ("vgpr", 35, ">", "<", 40, NaN),  # true above 35: 36 or 400
    ("vgpr", 40, ">", "<", 40, 0.0),  # true > 40
    ("vgpr", 40, ">=", "<", 40, 0.0),  # true >= 40
    ("vgpr", 39.9, "", "<", 40, 1.0),
    ("vgpr", 40, "", "<", 40, 0.0),
    # measurable disease: dFLC >= 50 mg/L
    ("measurable", 50, "<", ">=", 50, 0.0),  # true < 50
    ("measurable", 50, "<=", ">=", 50, NaN),  # true may be 50
    ("measurable", 49, ">", ">=", 50, NaN),  # true 49.5 or 60
    ("measurable", 50, ">=", ">=", 50, 1.0),
    ("measurable", 50, ">", ">=", 50, 1.0),
    ("measurable", 30, "<", ">=", 50, 0.0),
    # Mayo 2004 NT-proBNP >= 332 ng/L
    ("mayo04-nt", 35000, ">", ">=", 332, 1.0),
    ("mayo04-nt", 50, "<", ">=", 332, 0.0),
    ("mayo04-nt", 500, "<", ">=", 332, NaN),
    # cTnT >= 35 ng/L; hs-cTnT >= 50 ng/L
    ("ctnt", 10, "<", ">=", 35, 0.0),  # '<0.01 ug/L' = <10 ng/L
    ("ctnt", 50, "<", ">=", 35, NaN),
    ("hs-ctnt", 3, "<", ">=", 50, 0.0),
    # renal stage: proteinuria > 5 g/24h (strict)
    ("renal-prot", 0.05, "<", ">", 5, 0.0),
    ("renal-prot", 5, ">", ">", 5, 1.0),
    ("renal-prot", 5, ">=", ">", 5, NaN),  # true may be exactly 5
    ("renal-prot", 5, "<=", ">", 5, 0.0),
    # renal stage: eGFR < 50; eGFR reported as '>90' or '>60'
    ("renal-egfr", 90, ">", "<", 50, 0.0),
    ("renal-egfr", 45, ">", "<", 50, NaN),
    # renal response: proteinuria < 0.5 g/24h
    ("renal-resp", 0.5, "<", "<", 0.5, 1.0),
    ("renal-resp", 0.5, "<=", "<", 0.5, NaN),
    ("renal-resp", 0.1, "<", "<", 0.5, 1.0),
    ("renal-resp", 1, "<", "<", 0.5, NaN),
    # NT-proBNP evaluable: >= 650 ng/L
    ("nt-evaluable", 35000, ">", ">=", 650, 1.0),
    ("nt-evaluable", 1000, "<", ">=", 650, NaN),
    # missing value: unknown whatever the sign
    ("missing", NaN, "", ">=", 1, NaN),
    ("missing", NaN, "<", ">=", 1, NaN),
]


@pytest.mark.parametrize("crit,value,qual,op,t,expected", KNOWN_CASES,
                         ids=[f"{c[0]}-{c[2]}{c[1]}{c[3]}{c[4]}" for c in KNOWN_CASES])
def test_known(crit, value, qual, op, t, expected):
    assert same(censored.known([value], [qual], op, t)[0], expected)


@pytest.mark.parametrize("value,qual,lo,hi", [
    (5, "", 5, 5), (5, "<", 0, 5), (5, "<=", 0, 5), (5, ">", 5, NaN), (5, ">=", 5, NaN), (NaN, "", NaN, NaN),
])
def test_bounds(value, qual, lo, hi):
    got = censored.bounds([value], [qual])
    assert same(got[0][0], lo) and same(got[1][0], hi)


# (a, qa, b, qb, value, qualifier) of a - b
@pytest.mark.parametrize("a,qa,b,qb,d,q", [
    (100, "", 10, "", 90, ""),
    (100, "", 10, "<", 90, ">"),  # uFLC < 10: dFLC > 90
    (100, "", 10, "<=", 90, ">="),
    (30, "<", 10, "", 20, "<"),  # iFLC < 30: dFLC < 20
    (100, ">", 10, "", 90, ">"),
    (100, "", 10, ">", 90, "<"),
    (30, "<", 10, "<", NaN, ""),  # both censored: unknown
])
def test_difference(a, qa, b, qb, d, q):
    got_d, got_q = censored.difference([a], [qa], [b], [qb])
    assert same(got_d[0], d) and got_q[0] == q


def test_baseline_qualifier_reads_blqual():
    base = pd.DataFrame({"NTPROBL": [50.0, 35000.0, 20.0], "BLQUAL": ["CTNTBL<;NTPROBL<", "NTPROBL>=", np.nan]})
    assert censored.baseline_qualifier(base, "NTPROBL").tolist() == ["<", ">=", ""]
    assert censored.baseline_qualifier(base, "CTNTBL").tolist() == ["<", "", ""]
    assert censored.baseline_qualifier(base.drop(columns="BLQUAL"), "NTPROBL").tolist() == ["", "", ""]


# ------------------------------------------------------------------- staging
def test_mayo2004_with_censored_markers():
    # NT-proBNP >= 332, cTnT >= 35 ng/L (Mayo 2004); one point each
    nt = [35000, 50, 500, 2000]
    q = {"ntprobnp": np.array([">", "<", "<", ""], dtype=object),
         "ctnt": np.array(["<", "<", "<", "<"], dtype=object)}
    ctnt = [10, 10, 10, 50]  # '<10': below 35 -> 0 points; '<50': unknown
    got = staging.mayo2004(nt, ctnt, [NaN] * 4, [NaN] * 4, ST, q)
    # 1+0 = II; 0+0 = I; NT unknown -> missing; NT 1 + troponin unknown -> missing
    assert [x if isinstance(x, str) else None for x in got] == ["II", "I", None, None]


def test_censored_troponin_does_not_fall_back_to_the_next_assay():
    # cTnT '<50' leaves the marker unknown even though hs-cTnT is 10 (below 50)
    got = staging.mayo2004([100], [50], [10], [NaN], ST, {"ctnt": np.array(["<"], dtype=object)})
    assert not isinstance(got[0], str)


def test_european_iiib_split_unknown_with_a_censored_ntprobnp():
    # III needs NT >= 332 and troponin high; IIIb NT > 8500: '>5000' leaves the split open
    got = staging.european([5000, 9000], [50, 50], [NaN] * 2, [NaN] * 2, ST,
                           {"ntprobnp": np.array([">", ">"], dtype=object)})
    assert not isinstance(got[0], str) and got[1] == "IIIb"


def test_renal_stage_with_censored_values():
    # eGFR < 50 and proteinuria > 5 g/24h: '>90' eGFR and '<0.05' proteinuria -> stage I
    q = {"egfr": np.array([">", ">"], dtype=object), "proteinuria": np.array(["<", ">"], dtype=object)}
    got = staging.renal_stage([90, 45], [0.05, 6], [False, False], ST, q)
    assert got[0] == "I" and not isinstance(got[1], str)  # eGFR '>45' may be 46 or 100


# -------------------------------------------------------------- hematologic
@pytest.mark.parametrize("dflc,q,expected", [
    (60, "", hem.MEASURABLE), (60, ">", hem.MEASURABLE), (60, "<", hem.NOT_MEASURABLE),  # '<60': unknown
    (30, "<", hem.NOT_MEASURABLE), (30, ">", hem.NOT_MEASURABLE),  # '>30': 31 (low) or 300 (measurable)
    (30, "", hem.LOW_DFLC), (45, "<", hem.NOT_MEASURABLE), (20, ">=", hem.NOT_MEASURABLE),
])
def test_baseline_group_with_censored_dflc(dflc, q, expected):
    got = hem.baseline_group([dflc], [NaN], [1], [1], HP, dflc_qualifier=np.array([q], dtype=object))
    assert got[0] == expected


def hem_base(**kw):
    row = dict(USUBJID="P", TRTSDT=T0, ISOTYPE="lambda", DFLCBL=200.0, IFLCBL=210.0, SMPROTBL=NaN, UMPROTBL=NaN,
               HEMEVAL=hem.MEASURABLE, WINEND=T0 + pd.Timedelta(days=300), PRGEND=T0 + pd.Timedelta(days=300))
    row.update(kw)
    return pd.DataFrame([row])


def hem_labs(rows):
    return pd.DataFrame([dict(patient_id="P", date=T0 + pd.Timedelta(days=day), analyte=an, value=float(v),
                              qualifier=q) for day, an, v, q in rows])


def test_vgpr_from_a_censored_involved_chain():
    # lambda clone, baseline dFLC 200. Day 30: lambda '<30', kappa 5 -> dFLC < 25 < 40: VGPR.
    # Day 60: lambda '<60', kappa 5 -> dFLC < 55: not known below 40, but the fall from
    # 200 to at most 55 is > 50 %: PR.
    labs = hem_labs([(30, "flc_lambda", 30, "<"), (30, "flc_kappa", 5, ""),
                     (60, "flc_lambda", 60, "<"), (60, "flc_kappa", 5, "")])
    a = hem.assessments(labs, hem_base(), HP)
    assert a["AVALC"].tolist() == ["VGPR", "PR"]


def test_censored_uninvolved_chain_bounds_dflc_from_above_only():
    # lambda clone 30 with kappa '<5': dFLC in (25, 30] -> still < 40: VGPR;
    # lambda 45 with kappa '<3': dFLC in (42, 45]: not VGPR; fall from 200 > 50 %: PR
    labs = hem_labs([(30, "flc_lambda", 30, ""), (30, "flc_kappa", 5, "<"),
                     (60, "flc_lambda", 45, ""), (60, "flc_kappa", 3, "<")])
    a = hem.assessments(labs, hem_base(), HP)
    assert a["AVALC"].tolist() == ["VGPR", "PR"]


def test_no_progression_towards_a_censored_value():
    # PR reached (lambda 80, kappa 10 -> dFLC 70, fall 65 %), nadir iFLC 80. A later
    # '<400' could be 90 (no rise): no progression; an exact 400 is +400 % and > 100 mg/L.
    base = hem_base()
    rows = [(30, "flc_lambda", 80, ""), (30, "flc_kappa", 10, ""), (60, "flc_lambda", 400, "<"),
            (60, "flc_kappa", 10, "")]
    a = hem.assessments(hem_labs(rows), base, HP)
    assert not hem.progression(a, HP)["PROG"].any()
    rows[2] = (60, "flc_lambda", 400, "")
    a = hem.assessments(hem_labs(rows), base, HP)
    assert hem.progression(a, HP)["PROG"].tolist() == [False, True]


# -------------------------------------------------------------------- organs
def organ_base(**kw):
    row = dict(USUBJID="P", TRTSDT=T0, TRTEDT=T0 + pd.Timedelta(days=180), HEART=1, KIDNEY=1, LIVER=1,
               NTPROBL=NaN, NYHABL=NaN, CTNTBL=NaN, HSCTNTBL=NaN, CTNIBL=NaN, LVEFBL=NaN, PROTUBL=NaN, DIALBL=0,
               ALPBL=NaN, ALPULNBL=NaN, DIALDT=pd.NaT, WINEND=T0 + pd.Timedelta(days=240), BLQUAL=np.nan)
    row.update(kw)
    return pd.DataFrame([row])


NO_EGFR = pd.DataFrame(columns=["USUBJID", "ADT", "EGFR", "EGFRFALL"]).astype(
    {"ADT": "datetime64[ns]", "EGFR": "float64", "EGFRFALL": "float64"})


@pytest.mark.parametrize("value,q,expected", [
    (50, "<", "RESP"),  # 3000 -> < 50: fall > 98 % and > 2950 ng/L: response
    (2500, "<", "STABLE"),  # < 2500 could be 2400: fall 20 % not known > 30 %
    (1000, "<", "RESP"),  # fall > 66 % and > 2000
    (5000, ">", "PROG"),  # > 5000: rise > 66 % and > 2000: progression
    (3500, ">", "STABLE"),  # > 3500: rise > 16 % only known
    (5000, "<", "STABLE"),  # < 5000: neither known
])
def test_ntprobnp_calls_with_censored_follow_up(value, q, expected):
    labs = hem_labs([(30, "ntprobnp", value, q)])
    got = organ.cardiac_calls(labs, organ_base(NTPROBL=3000.0), NO_EGFR, CP)
    assert got["AVALC"].tolist() == [expected], got


def test_ntprobnp_from_a_censored_baseline():
    # baseline '>35000': evaluable (>= 650 known). A fall to 20000 is > 42 % and > 15000
    # from at least 35000: response. A rise is never judged from '>35000' (no upper bound).
    base = organ_base(NTPROBL=35000.0, BLQUAL="NTPROBL>")
    assert organ.ntprobnp_evaluable(base, CP).tolist() == [True]
    got = organ.cardiac_calls(hem_labs([(30, "ntprobnp", 20000, ""), (60, "ntprobnp", 90000, "")]), base, NO_EGFR,
                              CP)
    assert got["AVALC"].tolist() == ["RESP", "STABLE"]
    # '<1000' baseline: not known >= 650: not evaluable by NT-proBNP
    assert organ.ntprobnp_evaluable(organ_base(NTPROBL=1000.0, BLQUAL="NTPROBL<"), CP).tolist() == [False]


@pytest.mark.parametrize("value,q,responds", [
    (0.1, "<", True),  # < 0.1 g/24h: below 0.5 and a 97 % fall from 3
    (2.5, "<", False),  # < 2.5: fall not known >= 30 % (could be 2.4: 20 %)
    (2.0, "<", True),  # < 2.0: fall > 33 %
    (0.2, ">", False),  # > 0.2: no upper bound
])
def test_renal_response_with_censored_proteinuria(value, q, responds):
    got = organ.renal_calls(hem_labs([(30, "proteinuria_24h", value, q)]), organ_base(PROTUBL=3.0), NO_EGFR, RP)
    assert got["AVALC"].tolist() == ["RESP" if responds else "STABLE"], got


def test_renal_evaluable_with_censored_baseline():
    # evaluable: proteinuria > 0.5 g/24h; '<0.5' known not, '>0.5' known yes, '<3' unknown -> not
    base = pd.concat([organ_base(PROTUBL=0.5, BLQUAL="PROTUBL<"), organ_base(PROTUBL=0.5, BLQUAL="PROTUBL>"),
                      organ_base(PROTUBL=3.0, BLQUAL="PROTUBL<")], ignore_index=True)
    assert organ.renal_evaluable(base, RP).tolist() == [False, True, False]


@pytest.mark.parametrize("value,q,expected", [
    (100, "<", "RESP"),  # ALP 300 (ULN 120) -> < 100: fall > 66 % >= 50 %
    (200, "<", "STABLE"),  # < 200: fall not known >= 50 %
    (500, ">", "PROG"),  # > 500 from nadir 300: rise > 66 % >= 50 %
    (500, "<", "STABLE"),
])
def test_liver_calls_with_censored_alp(value, q, expected):
    got = organ.liver_calls(hem_labs([(30, "alp", value, q)]), organ_base(ALPBL=300.0, ALPULNBL=120.0), LP)
    assert got["AVALC"].tolist() == [expected], got


# ---------------------------------------------------------------------- UPCR
def test_upcr_substitutes_only_on_dates_without_24h_urine():
    labs = pd.DataFrame({
        "patient_id": ["P", "P", "P", "Q"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-02-01", "2020-01-01"]),
        "analyte": ["proteinuria_24h", "upcr", "upcr", "ntprobnp"],
        "value": [3.0, 2.5, 1.2, 100.0],
        "unit": ["g/24h", "g/g", "g/g", "ng/L"],
    })
    out = upcr_as_proteinuria(labs)
    # 2020-01-01 keeps the 24-h result (the ratio is dropped); 2020-02-01 takes 1.2 g/g as 1.2 g/24h
    assert out[["patient_id", "analyte", "value", "unit"]].values.tolist() == [
        ["P", "proteinuria_24h", 3.0, "g/24h"], ["P", "proteinuria_24h", 1.2, "g/24h"],
        ["Q", "ntprobnp", 100.0, "ng/L"]]
    assert upcr_as_proteinuria(labs[labs["analyte"] != "upcr"]) is not None
