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
        EGFRSRC="reported",
        CREATBL=NaN,
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


@pytest.mark.parametrize(
    "bl, values, expected",
    [
        # NYHA-only evaluable (NYHA III, NT-proBNP 300 < 650): NT-proBNP 300 -> 1000 (+233%,
        # +700 ng/L) would be NT-proBNP progression, but the criterion needs the 650 baseline
        (dict(NTPROBL=300, NYHABL=3), {"ntprobnp": 1000}, "STABLE"),
        # NYHA-only (NT-proBNP 640): 640 -> 200 (-69%, -440 ng/L) is no NT-proBNP response
        (dict(NTPROBL=640, NYHABL=3), {"ntprobnp": 200}, "STABLE"),
        # NYHA-only, NT-proBNP missing at baseline (NYHA IV): 5000 at follow-up -> no call from it
        (dict(NYHABL=4), {"ntprobnp": 5000}, "STABLE"),
        # NYHA-only: NYHA III -> I (2 classes) is a response
        (dict(NTPROBL=300, NYHABL=3), {"nyha": 1}, "RESP"),
        # NYHA-only: troponin T 100 -> 133 (+33%, +33 ng/L) is progression (own baseline)
        (dict(NTPROBL=300, NYHABL=3, CTNTBL=100), {"ctnt": 133}, "PROG"),
        # NYHA-only: LVEF 55 -> 45 (10 points) is progression
        (dict(NTPROBL=300, NYHABL=3, LVEFBL=55), {"lvef": 45}, "PROG"),
        # NT-proBNP exactly 650 with NYHA III: NT-proBNP-evaluable, 650 -> 951 (+46%, +301) -> PROG
        (dict(NTPROBL=650, NYHABL=3), {"ntprobnp": 951}, "PROG"),
    ],
)
def test_cardiac_ntprobnp_criteria_need_the_baseline_threshold(bl, values, expected):
    base = pd.DataFrame([patient(**bl)])
    labs = labs_of([("P", 30, an, v) for an, v in values.items()])
    assert list(organ.cardiac_calls(labs, base, NO_EGFR, CP)["AVALC"]) == [expected]


@pytest.mark.parametrize(
    "ctntbl, ctnt, floor, expected",
    [
        (0, 0, 10, "STABLE"),  # 0 -> 0: no rise (0/0 is no percentage)
        (0, 9, 10, "STABLE"),  # from 0: infinite %, but +9 ng/L < 10
        (0, 10, 10, "PROG"),  # from 0: infinite %, +10 ng/L >= 10
        (1, 3, 10, "STABLE"),  # near zero: +200% but +2 ng/L < 10
        (5, 14.9, 10, "STABLE"),  # +198%, +9.9 ng/L < 10
        (5, 15, 10, "PROG"),  # +200%, +10 ng/L
        (20, 29, 10, "STABLE"),  # +45%, +9 ng/L < 10
        (20, 30, 10, "PROG"),  # +50%, +10 ng/L
        (100, 133, 10, "PROG"),  # +33% (>= 33), +33 ng/L
        (100, 132.9, 10, "STABLE"),  # +32.9% < 33
        (1, 3, 0, "PROG"),  # without the floor (0): the relative rule alone, +200%
        (0, 0.1, 0, "PROG"),  # without the floor: any rise from 0 is an infinite %
    ],
)
def test_troponin_progression_floor(ctntbl, ctnt, floor, expected):
    params = dict(CP, progression_troponin_rise_min_ng_l=floor)
    base = pd.DataFrame([patient(NTPROBL=1000, CTNTBL=ctntbl)])
    labs = labs_of([("P", 30, "ctnt", ctnt)])
    assert list(organ.cardiac_calls(labs, base, NO_EGFR, params)["AVALC"]) == [expected]


def test_cardiac_dialysis_at_baseline_flag_or_exclude():
    # P on dialysis since day -100 (before the index date), NT-proBNP 2000 -> 3000 at day 30
    # (+50%, +1000: NT-proBNP progression). Q: the same with NYHA III -> I at day 60.
    # R: dialysis from day 90, NT-proBNP 2000 -> 3000 at days 60 and 120.
    base = pd.DataFrame(
        [
            patient("P", NTPROBL=2000, DIALBL=1, DIALDT=d(-100)),
            patient("Q", NTPROBL=2000, NYHABL=3, DIALBL=1, DIALDT=d(-100)),
            patient("R", NTPROBL=2000, DIALDT=d(90)),
        ]
    )
    labs = labs_of(
        [
            ("P", 30, "ntprobnp", 3000),
            ("Q", 30, "ntprobnp", 3000),
            ("Q", 60, "nyha", 1),
            ("R", 60, "ntprobnp", 3000),
            ("R", 120, "ntprobnp", 3000),
        ]
    )
    # flag (default): the calls stand, every call on dialysis is flagged (P, Q from the
    # start; R from day 90)
    assert CP["dialysis_ntprobnp"] == "flag"
    calls = organ.cardiac_calls(labs, base, NO_EGFR, CP)
    assert list(calls["USUBJID"]) == ["P", "Q", "Q", "R", "R"]
    assert list(calls["AVALC"]) == ["PROG", "PROG", "RESP", "PROG", "PROG"]
    assert list(calls["EGFRFLFL"]) == ["Y", "Y", "Y", "N", "Y"]
    # exclude: NT-proBNP is set aside on dialysis. P (NT-proBNP-evaluable only) is not
    # cardiac-evaluable; Q stays evaluable by NYHA III (no NT-proBNP call, NYHA response);
    # R keeps the NT-proBNP progression before dialysis (day 60), not after (day 120)
    ex = dict(CP, dialysis_ntprobnp="exclude")
    assert list(organ.cardiac_evaluable(base, ex)) == [False, True, True]
    calls = organ.cardiac_calls(labs, base, NO_EGFR, ex)
    assert list(calls["USUBJID"]) == ["Q", "Q", "R", "R"]
    assert list(calls["AVALC"]) == ["STABLE", "RESP", "PROG", "STABLE"]


# -------------------------------------------------------------------------- renal
@pytest.mark.parametrize(
    "kidney, prot, dial, expected",
    [
        (1, 0.5, 0, False),  # Palladini 2014: > 0.5 g/24h, strictly; 0.5 is not evaluable
        (1, 0.51, 0, True),  # 0.51 > 0.5
        (1, 0.49, 0, False),  # below 0.5
        (0, 3.0, 0, False),  # kidney not involved
        (1, 3.0, 1, False),  # on dialysis at index: never renal-evaluable
    ],
)
def test_renal_evaluable(kidney, prot, dial, expected):
    base = pd.DataFrame([patient(KIDNEY=kidney, PROTUBL=prot, DIALBL=dial)])
    assert bool(organ.renal_evaluable(base, RP)[0]) is expected


def test_renal_evaluable_reads_its_own_key():
    # 0.5 g/24h: involved by Gertz 2005 (>= 0.5, involvement_proteinuria_g, data-quality
    # check) but not response-evaluable (> 0.5, evaluable_proteinuria_g); moving the
    # involvement key does not move evaluability, moving the evaluable key does
    base = pd.DataFrame([patient(PROTUBL=0.5)])
    assert not organ.renal_evaluable(base, dict(RP, involvement_proteinuria_g=0.1))[0]
    assert organ.renal_evaluable(base, dict(RP, evaluable_proteinuria_g=0.4))[0]


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


def test_followup_egfr_compares_like_with_like():
    # men born 1960-01-01, index 2020-01-01, day 30: aged 60 on both dates. CKD-EPI 2009,
    # Scr 1.4 -> 54.22 (test vector of the criteria).
    # A: reported baseline eGFR 75 AND baseline creatinine 1.4; day 30 creatinine 1.4 and a
    #    reported eGFR 50 -> creatinine on both sides: 54.22 vs 54.22, fall 0 (mixing the
    #    reported 75 with the computed 54.22 would give a 27.7% fall: renal progression).
    # B: reported baseline 60, no baseline creatinine; day 30 creatinine 1.4 and reported
    #    45 -> reported on both sides: 45 vs 60, fall 25%.
    # C: reported baseline 60 only; day 30 creatinine 1.4 only -> the only pair is mixed:
    #    54.22 vs 60, fall 9.63%.
    # D: computed baseline only (54.22 from creatinine 1.4); day 30 reported 40 only ->
    #    mixed: 40 vs 54.22, fall 26.2%.
    # E: on dialysis at baseline: no baseline eGFR, no fall.
    base = pd.DataFrame(
        [
            patient("A", EGFRBL=75.0, EGFRSRC="reported", CREATBL=1.4),
            patient("B", EGFRBL=60.0, EGFRSRC="reported"),
            patient("C", EGFRBL=60.0, EGFRSRC="reported"),
            patient("D", EGFRBL=54.2197, EGFRSRC="ckd_epi_2009", CREATBL=1.4),
            patient("E", EGFRBL=NaN, EGFRSRC="dialysis", CREATBL=6.0, DIALBL=1, DIALDT=d(-30)),
        ]
    )
    labs = labs_of(
        [
            ("A", 30, "creatinine", 1.4),
            ("A", 30, "egfr", 50),
            ("B", 30, "creatinine", 1.4),
            ("B", 30, "egfr", 45),
            ("C", 30, "creatinine", 1.4),
            ("D", 30, "egfr", 40),
            ("E", 30, "creatinine", 6.0),
        ]
    )
    eg = organ.followup_egfr(labs, base, "ckd_epi_2009").set_index("USUBJID")
    assert eg.loc["A", "EGFR"] == pytest.approx(54.22, abs=0.01)
    assert eg.loc["A", "EGFRFALL"] == 0.0
    assert eg.loc["B", "EGFR"] == 45.0 and eg.loc["B", "EGFRFALL"] == pytest.approx(25.0)
    assert eg.loc["C", "EGFR"] == pytest.approx(54.22, abs=0.01)
    assert eg.loc["C", "EGFRFALL"] == pytest.approx(100 * (60 - 54.22) / 60, abs=0.02)
    assert eg.loc["D", "EGFR"] == 40.0
    assert eg.loc["D", "EGFRFALL"] == pytest.approx(100 * (54.22 - 40) / 54.22, abs=0.02)
    assert math.isnan(eg.loc["E", "EGFRFALL"])


def test_renal_progression_not_from_mixed_methods():
    # patient A of the test above, kidney-evaluable, proteinuria 4.0 -> 2.0 at day 30
    # (fall 50%): creatinine on both sides gives no eGFR fall -> RESP (mixed methods
    # would have made it a 27.7% fall, PROG vetoing the response)
    base = pd.DataFrame([patient(EGFRBL=75.0, EGFRSRC="reported", CREATBL=1.4, PROTUBL=4.0)])
    labs = labs_of([("P", 30, "creatinine", 1.4), ("P", 30, "proteinuria_24h", 2.0)])
    eg = organ.followup_egfr(labs, base, "ckd_epi_2009")
    assert list(organ.renal_calls(labs, base, eg, RP)["AVALC"]) == ["RESP"]


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


def test_ever_progressed():
    # liver, baseline ALP 240 (ULN 120), window ends day 240:
    # P: 120 (RESP, -50%) d30, 180 (+50% over nadir 120: PROG) d90, 170 (STABLE) d120 ->
    #    best RESP, yet progressed: Y dated day 90
    # Q: 200 (STABLE) d30, then 400 at day 300 (PROG, after the window) -> N
    # R: not evaluable (ALP at the ULN) -> NE; S: evaluable without any call -> N
    base = pd.DataFrame(
        [
            patient("P", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("Q", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("R", ALPBL=120, ALPULNBL=120, HEART=0, KIDNEY=0),
            patient("S", ALPBL=240, ALPULNBL=120, HEART=0, KIDNEY=0),
        ]
    )
    labs = labs_of(
        [("P", 30, "alp", 120), ("P", 90, "alp", 180), ("P", 120, "alp", 170), ("Q", 30, "alp", 200),
         ("Q", 300, "alp", 400)]
    )  # fmt: skip
    calls = organ.liver_calls(labs, base, LP)
    assert list(calls["AVALC"]) == ["RESP", "PROG", "STABLE", "STABLE", "PROG"]
    ev = organ.liver_evaluable(base, LP)
    best = organ.best_organ(calls, base, ev, "BESTLIV").set_index("USUBJID")
    assert best.loc["P", "AVALC"] == "RESP"
    prog = organ.ever_progressed(calls, base, ev, "PROGLIV").set_index("USUBJID")
    assert list(prog["AVALC"]) == ["Y", "N", "NE", "N"]
    assert list(prog["AVAL"].fillna(-1)) == [1.0, 0.0, -1, 0.0]
    assert list(prog["EVALFL"]) == ["Y", "Y", "N", "Y"]
    assert prog.loc["P", "ADT"] == d(90) and prog["ADT"].drop("P").isna().all()
    assert (prog["PARAMCD"] == "PROGLIV").all()
