"""Organ response and progression: heart, kidney, liver.

Expected values are worked out by hand from the published rules (Palladini 2012,
Comenzo 2012, Palladini 2014; config defaults) in the comment next to each case.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from alsalvage import organ
from helpers import REPO

CFG = yaml.safe_load((REPO / "config.yaml").read_text())
CP, RP, LP = CFG["cardiac"], CFG["renal"], CFG["liver"]
NaN = math.nan
T0 = pd.Timestamp("2020-01-01")


def d(days):
    return T0 + pd.Timedelta(days=days)


def patient(pid="P", **kw):
    row = dict(
        USUBJID=pid,
        TRTSDT=T0,
        TRTEDT=d(180),
        SEX="M",
        BRTHDT=pd.Timestamp("1960-01-01"),
        HEART=1,
        KIDNEY=1,
        LIVER=1,
        NTPROBL=NaN,
        NYHABL=NaN,
        CTNTBL=NaN,
        HSCTNTBL=NaN,
        CTNIBL=NaN,
        LVEFBL=NaN,
        EGFRBL=NaN,
        PROTUBL=NaN,
        DIALBL=0,
        ALPBL=NaN,
        ALPULNBL=NaN,
        DIALDT=pd.NaT,
        WINEND=d(240),
    )
    row.update(kw)
    return row


def labs_of(rows):
    return pd.DataFrame(
        [dict(patient_id=p, date=d(day), analyte=an, value=float(v)) for p, day, an, v in rows],
        columns=["patient_id", "date", "analyte", "value"],
    )


NO_EGFR = pd.DataFrame(columns=["USUBJID", "ADT", "EGFR", "EGFRFALL"]).astype(
    {"ADT": "datetime64[ns]", "EGFR": "float64", "EGFRFALL": "float64"}
)


# ------------------------------------------------------------------------ cardiac
@pytest.mark.parametrize(
    "heart, ntpro, nyha, expected",
    [
        (1, 649, NaN, False),  # 649 < 650
        (1, 650, NaN, True),  # 650 >= 650
        (0, 5000, NaN, False),  # heart not involved
        (1, 300, 3, True),  # NYHA III qualifies without NT-proBNP
        (1, 300, 2, False),  # NYHA II does not
    ],
)
def test_cardiac_evaluable(heart, ntpro, nyha, expected):
    base = pd.DataFrame([patient(HEART=heart, NTPROBL=ntpro, NYHABL=nyha)])
    assert bool(organ.cardiac_evaluable(base, CP)[0]) is expected


@pytest.mark.parametrize(
    "bl, values, expected",
    [
        # 964 -> 665: fall 299 ng/L (31.0%): > 30% but not > 300 ng/L -> no response
        (dict(NTPROBL=964), {"ntprobnp": 665}, "STABLE"),
        # 1000 -> 690: fall 310 ng/L (31%) -> response
        (dict(NTPROBL=1000), {"ntprobnp": 690}, "RESP"),
        # 1000 -> 700: fall exactly 30% is not > 30% -> no response
        (dict(NTPROBL=1000), {"ntprobnp": 700}, "STABLE"),
        # 5000 -> 3499: fall 1501 (30.02%) -> response
        (dict(NTPROBL=5000), {"ntprobnp": 3499}, "RESP"),
        # 1000 -> 1301: rise 301 ng/L (30.1%) -> progression
        (dict(NTPROBL=1000), {"ntprobnp": 1301}, "PROG"),
        # 1000 -> 1300: rise exactly 30% is not > 30% -> stable
        (dict(NTPROBL=1000), {"ntprobnp": 1300}, "STABLE"),
        # 800 -> 1100: rise 37.5% but exactly 300 ng/L, not > 300 -> stable
        (dict(NTPROBL=800), {"ntprobnp": 1100}, "STABLE"),
        # troponin T 100 -> 133 ng/L: +33% (>= 33) -> progression
        (dict(NTPROBL=1000, CTNTBL=100), {"ctnt": 133}, "PROG"),
        # troponin T 100 -> 132.9: +32.9% -> stable
        (dict(NTPROBL=1000, CTNTBL=100), {"ctnt": 132.9}, "STABLE"),
        # troponin assays are not mixed: hs-cTnT at follow-up but only cTnT at baseline
        (dict(NTPROBL=1000, CTNTBL=10), {"hs_ctnt": 50}, "STABLE"),
        # LVEF 55 -> 45: down 10 points -> progression
        (dict(NTPROBL=1000, LVEFBL=55), {"lvef": 45}, "PROG"),
        # LVEF 55 -> 45.5: down 9.5 points -> stable
        (dict(NTPROBL=1000, LVEFBL=55), {"lvef": 45.5}, "STABLE"),
        # NYHA III -> I: 2 classes -> response
        (dict(NTPROBL=1000, NYHABL=3), {"nyha": 1}, "RESP"),
        # NYHA III -> II: 1 class -> stable
        (dict(NTPROBL=1000, NYHABL=3), {"nyha": 2}, "STABLE"),
        # NT-proBNP response (2000 -> 1000) with an LVEF fall of 12 points: progression wins
        (dict(NTPROBL=2000, LVEFBL=60), {"ntprobnp": 1000, "lvef": 48}, "PROG"),
    ],
)
def test_cardiac_call(bl, values, expected):
    base = pd.DataFrame([patient(**bl)])
    labs = labs_of([("P", 30, an, v) for an, v in values.items()])
    calls = organ.cardiac_calls(labs, base, NO_EGFR, CP)
    assert list(calls["AVALC"]) == [expected]


def test_cardiac_flags_imid_and_falling_egfr():
    # index day 0, salvage end day 180; EGFRBL 60: day 50 eGFR 45.1 (24.8% fall, no flag),
    # day 100 eGFR 45 (25% fall -> flag from day 100 on)
    base = pd.DataFrame([patient(NTPROBL=2000, EGFRBL=60), patient("Q", NTPROBL=2000, EGFRBL=60, TRTEDT=pd.NaT)])
    labs = labs_of(
        [
            ("P", 30, "ntprobnp", 3000),  # +50%, +1000 -> PROG, on lenalidomide
            ("P", 50, "egfr", 45.1),
            ("P", 60, "ntprobnp", 3000),
            ("P", 100, "egfr", 45),
            ("P", 120, "egfr", 59),  # recovery does not clear the flag ("fell by that date")
            ("P", 150, "ntprobnp", 3000),
            ("P", 200, "ntprobnp", 3000),  # after salvage end (day 180) -> IMIDFL N
            ("Q", 400, "ntprobnp", 2100),  # ongoing therapy -> IMIDFL Y
        ]
    )
    egfr = organ.followup_egfr(labs, base, "ckd_epi_2009")
    calls = organ.cardiac_calls(labs, base, egfr, CP)
    assert list(calls["ADT"]) == [d(30), d(60), d(150), d(200), d(400)]
    assert list(calls["IMIDFL"]) == ["Y", "Y", "Y", "N", "Y"]
    assert list(calls["EGFRFLFL"]) == ["N", "N", "Y", "Y", "N"]


def test_cardiac_flag_on_dialysis_start():
    # dialysis started day 90: calls from day 90 on are flagged
    base = pd.DataFrame([patient(NTPROBL=2000, EGFRBL=40, DIALDT=d(90))])
    labs = labs_of([("P", 60, "ntprobnp", 2000), ("P", 90, "ntprobnp", 2000)])
    calls = organ.cardiac_calls(labs, base, NO_EGFR, CP)
    assert list(calls["EGFRFLFL"]) == ["N", "Y"]


# -------------------------------------------------------------------------- renal
@pytest.mark.parametrize(
    "kidney, prot, dial, expected",
    [
        (1, 0.5, 0, True),  # 0.5 >= 0.5
        (1, 0.49, 0, False),  # below 0.5
        (0, 3.0, 0, False),  # kidney not involved
        (1, 3.0, 1, False),  # on dialysis at index: never renal-evaluable
    ],
)
def test_renal_evaluable(kidney, prot, dial, expected):
    base = pd.DataFrame([patient(KIDNEY=kidney, PROTUBL=prot, DIALBL=dial)])
    assert bool(organ.renal_evaluable(base, RP)[0]) is expected


@pytest.mark.parametrize(
    "protbl, prot, egfr, expected",
    [
        (4.0, 2.8, 60, "RESP"),  # 4.0 -> 2.8: fall 30% (>= 30), eGFR stable
        (4.0, 2.81, 60, "STABLE"),  # fall 29.75%
        (0.6, 0.49, 60, "RESP"),  # 0.49 < 0.5 g/24h (fall only 18%)
        (0.6, 0.5, 60, "STABLE"),  # 0.5 is not < 0.5; fall 16.7%
        (4.0, 2.0, 45, "PROG"),  # 50% fall vetoed: eGFR 60 -> 45 is a 25% fall (progression)
        (4.0, 2.0, 45.1, "RESP"),  # eGFR fall 24.8% -> no progression, response stands
    ],
)
def test_renal_call(protbl, prot, egfr, expected):
    base = pd.DataFrame([patient(PROTUBL=protbl, EGFRBL=60)])
    labs = labs_of([("P", 90, "proteinuria_24h", prot), ("P", 90, "egfr", egfr)])
    eg = organ.followup_egfr(labs, base, "ckd_epi_2009")
    calls = organ.renal_calls(labs, base, eg, RP)
    assert list(calls["AVALC"]) == [expected]


def test_renal_egfr_carried_forward_and_dialysis_progression():
    # eGFR 60 -> 44 at day 60 (26.7% fall); proteinuria 4.0 -> 1.0 at day 90 (75% fall)
    # is vetoed by the carried-forward eGFR; dialysis from day 150 is progression.
    base = pd.DataFrame([patient(PROTUBL=4.0, EGFRBL=60, DIALDT=d(150))])
    labs = labs_of([("P", 60, "egfr", 44), ("P", 90, "proteinuria_24h", 1.0)])
    eg = organ.followup_egfr(labs, base, "ckd_epi_2009")
    calls = organ.renal_calls(labs, base, eg, RP)
    assert list(calls["ADT"]) == [d(60), d(90), d(150)]
    assert list(calls["AVALC"]) == ["PROG", "PROG", "PROG"]
    # dialysis not counted as progression: no dialysis row
    calls = organ.renal_calls(labs, base, eg, dict(RP, dialysis_is_progression=False))
    assert list(calls["ADT"]) == [d(60), d(90)]


def test_followup_egfr_computed_from_creatinine():
    # CKD-EPI 2009, man aged 60 at the date (born 1960-01-01, date 2020-01-31), Scr 1.4:
    # test vector of the criteria: 54.22; a reported eGFR on the same date would win
    base = pd.DataFrame([patient(EGFRBL=60.0)])
    labs = labs_of([("P", 30, "creatinine", 1.4), ("P", 60, "creatinine", 1.4), ("P", 60, "egfr", 50)])
    eg = organ.followup_egfr(labs, base, "ckd_epi_2009")
    assert eg["EGFR"][0] == pytest.approx(54.22, abs=0.01)
    assert eg["EGFR"][1] == 50.0
    assert eg["EGFRFALL"][1] == pytest.approx(100 * 10 / 60)


# -------------------------------------------------------------------------- liver
@pytest.mark.parametrize(
    "liver, alp, uln, expected",
    [
        (1, 120, 120, False),  # ALP at the ULN is not above it
        (1, 121, 120, True),  # above the ULN
        (0, 500, 120, False),  # liver not involved
    ],
)
def test_liver_evaluable(liver, alp, uln, expected):
    base = pd.DataFrame([patient(LIVER=liver, ALPBL=alp, ALPULNBL=uln)])
    assert bool(organ.liver_evaluable(base, LP)[0]) is expected


def test_liver_calls():
    # baseline 240: day 30 ALP 120 (fall 50% -> RESP), day 60 ALP 121 (49.6%: stable
    # vs baseline; +0.8% over nadir 120), day 90 ALP 180 (+50% over nadir 120 -> PROG),
    # day 120 ALP 179 (+49.2% -> STABLE)
    base = pd.DataFrame([patient(ALPBL=240, ALPULNBL=120)])
    labs = labs_of([("P", 30, "alp", 120), ("P", 60, "alp", 121), ("P", 90, "alp", 180), ("P", 120, "alp", 179)])
    calls = organ.liver_calls(labs, base, LP)
    assert list(calls["AVALC"]) == ["RESP", "STABLE", "PROG", "STABLE"]


# --------------------------------------------------------------------- best organ
def test_best_organ_and_any_organ():
    # P: liver RESP day 30 then PROG day 90 -> best RESP (day 30); a RESP at day 300 is
    # after the window (day 240) and is ignored for Q whose only in-window call is STABLE.
    # R: liver not evaluable (ALP at ULN) -> NE; S: evaluable without any call -> NR.
    base = pd.DataFrame(
        [
            patient("P", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("Q", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("R", ALPBL=120, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("S", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
        ]
    )
    labs = labs_of(
        [
            ("P", 30, "alp", 120),
            ("P", 90, "alp", 200),
            ("Q", 30, "alp", 200),
            ("Q", 300, "alp", 100),
        ]
    )
    calls = organ.liver_calls(labs, base, LP)
    best = organ.best_organ(calls, base, organ.liver_evaluable(base, LP), "BESTLIV").set_index("USUBJID")
    assert best.loc["P", "AVALC"] == "RESP" and best.loc["P", "ADT"] == d(30)
    assert best.loc["Q", "AVALC"] == "STABLE"
    assert best.loc["R", "AVALC"] == "NE" and best.loc["R", "EVALFL"] == "N"
    assert best.loc["S", "AVALC"] == "NR" and best.loc["S", "EVALFL"] == "Y"
    none_ev = organ.best_organ(calls.iloc[0:0], base, [False] * 4, "BESTCARD")
    anyo = organ.best_any_organ([best.reset_index(), none_ev]).set_index("USUBJID")
    # P responded (Y); Q, S evaluable without response (N); R evaluable for nothing (NE)
    assert list(anyo["AVALC"]) == ["Y", "N", "NE", "N"]
    assert list(anyo["EVALFL"]) == ["Y", "Y", "N", "Y"]
