"""Hematologic response and progression (Palladini 2012; Comenzo 2012; Milani 2017).

Every expected value is worked out by hand from the published rule in the comment
next to the case (defaults: measurable dFLC >= 50, low-dFLC 20-<50, VGPR dFLC < 40,
PR fall > 50%, low-dFLC response dFLC < 10, normal ratio 0.26-1.65, progression
rise >= 50% to > 100 mg/L iFLC / > 5 g/L serum M / > 200 mg urine M).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import datasets
from alsalvage import hematologic as hem
from helpers import REPO

HP = yaml.safe_load((REPO / "config.yaml").read_text())["hematologic"]
NaN = math.nan
T0 = pd.Timestamp("2020-01-01")


def d(days: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=days)


# ------------------------------------------------------------------ baseline groups
@pytest.mark.parametrize(
    "dflc, expected",
    [
        (50.0, "measurable"),  # 50 >= 50
        (49.9, "low_dflc"),  # 20 <= 49.9 < 50
        (20.0, "low_dflc"),  # 20 >= 20 (lower bound included)
        (19.9, "not_measurable"),  # below 20
        (-5.0, "not_measurable"),  # negative dFLC at baseline
        (NaN, "not_measurable"),  # no baseline FLC
    ],
)
def test_baseline_group(dflc, expected):
    # ratio and IFE unknown: the dFLC alone decides
    assert hem.baseline_group([dflc], [NaN], [NaN], [NaN], HP)[0] == expected


# (dFLC, kappa/lambda ratio, serum IFE, urine IFE, expected): no detectable clone = the
# baseline itself meets the CR definition (ratio in [0.26, 1.65], both IFE negative)
NO_CLONE_CASES = [
    (5.0, 1.5, 0, 0, "no_clone"),  # kappa 15 / lambda 10: normal ratio, both IFE negative
    (5.0, 1.65, 0, 0, "no_clone"),  # upper limit of the ratio is normal
    (5.0, 0.26, 0, 0, "no_clone"),  # lower limit of the ratio is normal
    (5.0, 1.66, 0, 0, "not_measurable"),  # ratio abnormal: a clone is detectable
    (5.0, 0.25, 0, 0, "not_measurable"),  # ratio abnormal (low)
    (5.0, 1.5, 1, 0, "not_measurable"),  # serum IFE positive
    (5.0, 1.5, 0, 1, "not_measurable"),  # urine IFE positive
    (5.0, 1.5, NaN, 0, "not_measurable"),  # serum IFE missing: absence of a clone not shown
    (5.0, 1.5, 0, NaN, "not_measurable"),  # urine IFE missing
    (NaN, NaN, 0, 0, "not_measurable"),  # no baseline FLC pair: no ratio
    (60.0, 1.5, 0, 0, "no_clone"),  # kappa 180 / lambda 120: dFLC 60 but polyclonal
    (60.0, 1.5, 1, 0, "measurable"),  # the same with a positive serum IFE: a clone
    (30.0, 1.5, 0, 1, "low_dflc"),  # kappa 90 / lambda 60, urine IFE positive
]


@pytest.mark.parametrize("dflc, ratio, sife, uife, expected", NO_CLONE_CASES)
def test_baseline_group_no_detectable_clone(dflc, ratio, sife, uife, expected):
    assert hem.baseline_group([dflc], [ratio], [sife], [uife], HP)[0] == expected


# ---------------------------------------------------------------- FLC measures
@pytest.mark.parametrize(
    "kappa, lam, isotype, iflc, uflc, dflc, ratio",
    [
        (100.0, 20.0, "kappa", 100.0, 20.0, 80.0, 5.0),  # kappa clone: 100 - 20
        (100.0, 20.0, "lambda", 20.0, 100.0, -80.0, 5.0),  # lambda clone: 20 - 100 = -80
        (10.0, 250.0, "lambda", 250.0, 10.0, 240.0, 0.04),  # 10 / 250 = 0.04
        (NaN, 250.0, "lambda", 250.0, NaN, NaN, NaN),  # kappa missing: no dFLC, no ratio
    ],
)
def test_flc_measures(kappa, lam, isotype, iflc, uflc, dflc, ratio):
    m = hem.flc_measures([kappa], [lam], [isotype]).iloc[0]
    for got, want in ((m.IFLC, iflc), (m.UFLC, uflc), (m.DFLC, dflc), (m.KLRAT, ratio)):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


# ------------------------------------------------------------ category per assessment
# (group, baseline dFLC, kappa, lambda, isotype, serum IFE, urine IFE, expected)
CATEGORY_CASES = [
    # dFLC exactly 40 (lambda 50 - kappa 10) is not < 40; fall (200-40)/200 = 80% > 50 -> PR;
    # ratio 10/50 = 0.2 abnormal so no CR even with negative IFE
    ("measurable", 200, 10, 50, "lambda", 0, 0, "PR"),
    # dFLC 39.9 < 40 -> VGPR
    ("measurable", 200, 10, 49.9, "lambda", 0, 0, "VGPR"),
    # dFLC 20 at assessment: 20 < 40 -> VGPR
    ("measurable", 200, 30, 10, "kappa", 1, 1, "VGPR"),
    # baseline 100, dFLC 50 (60 - 10): fall exactly 50% is not > 50; 50 not < 40 -> NR
    ("measurable", 100, 60, 10, "kappa", 1, 1, "NR"),
    # baseline 1000, dFLC 499 (509 - 10): fall 50.1% > 50 -> PR
    ("measurable", 1000, 509, 10, "kappa", 1, 1, "PR"),
    # baseline dFLC exactly 50 is measurable: dFLC 24.9 (34.9 - 10) -> VGPR
    ("measurable", 50, 34.9, 10, "kappa", 1, 1, "VGPR"),
    # ratio 16.5/10 = 1.65 (upper limit, normal) + both IFE negative -> CR
    ("measurable", 200, 16.5, 10, "kappa", 0, 0, "CR"),
    # ratio 16.6/10 = 1.66 abnormal -> no CR; dFLC 6.6 < 40 -> VGPR
    ("measurable", 200, 16.6, 10, "kappa", 0, 0, "VGPR"),
    # ratio 2.6/10 = 0.26 (lower limit, normal) + IFE negative -> CR
    ("measurable", 200, 2.6, 10, "lambda", 0, 0, "CR"),
    # ratio 2.5/10 = 0.25 abnormal -> no CR; dFLC 10 - 2.5 = 7.5 < 40 -> VGPR
    ("measurable", 200, 2.5, 10, "lambda", 0, 0, "VGPR"),
    # serum IFE missing: cannot be CR (capped at VGPR); dFLC 0 < 40 -> VGPR
    ("measurable", 200, 10, 10, "kappa", NaN, 0, "VGPR"),
    # urine IFE missing, otherwise CR-like -> VGPR
    ("measurable", 200, 10, 10, "kappa", 0, NaN, "VGPR"),
    # serum IFE positive -> no CR -> VGPR
    ("measurable", 200, 10, 10, "kappa", 1, 0, "VGPR"),
    # negative dFLC: lambda clone, kappa 30, lambda 10 -> dFLC -20 < 40 -> VGPR
    ("measurable", 200, 30, 10, "lambda", 1, 1, "VGPR"),
    # same chains, kappa vs lambda clone: kappa clone dFLC 100 - 20 = 80, fall 60% -> PR
    ("measurable", 200, 100, 20, "kappa", 1, 1, "PR"),
    # ... lambda clone dFLC 20 - 100 = -80 < 40 -> VGPR
    ("measurable", 200, 100, 20, "lambda", 1, 1, "VGPR"),
    # low-dFLC baseline 30: dFLC 9.9 (19.9 - 10) < 10 -> LOWDFLC
    ("low_dflc", 30, 10, 19.9, "lambda", 1, 1, "LOWDFLC"),
    # low-dFLC: dFLC exactly 10 is not < 10 -> NR
    ("low_dflc", 30, 10, 20, "lambda", 1, 1, "NR"),
    # low-dFLC patient is not measurable: dFLC 5 is LOWDFLC, never VGPR
    ("low_dflc", 45, 15, 10, "kappa", 1, 1, "LOWDFLC"),
    # low-dFLC patient can still reach CR (ratio 1.0, IFE negative)
    ("low_dflc", 30, 10, 10, "kappa", 0, 0, "CR"),
    # not measurable (baseline 15): dFLC 5 -> NR ...
    ("not_measurable", 15, 15, 10, "kappa", 1, 0, "NR"),
    # ... but CR is open to it (ratio 1.5, IFE negative)
    ("not_measurable", 15, 15, 10, "kappa", 0, 0, "CR"),
    # no detectable clone at baseline: the same CR-like assessment is NR, never CR
    ("no_clone", 5, 15, 10, "kappa", 0, 0, "NR"),
    # ... and a dFLC of 60 (kappa 180 / lambda 120, polyclonal) is no VGPR/PR either
    ("no_clone", 60, 180, 120, "kappa", 0, 0, "NR"),
]


@pytest.mark.parametrize("group, dbl, kappa, lam, iso, sife, uife, expected", CATEGORY_CASES)
def test_category(group, dbl, kappa, lam, iso, sife, uife, expected):
    m = hem.flc_measures([kappa], [lam], [iso])
    a = m.assign(SIFE=[sife], UIFE=[uife], DFLCBL=[dbl], HEMEVAL=[group])
    assert hem.classify(a, HP)[0] == expected


def test_lowdflc_rank_follows_config():
    # counted: VGPR-equivalent rank (4 = VGPR); not counted: between NR (1) and PR (3)
    assert hem.lowdflc_rank(HP) == hem.RANK["VGPR"]
    assert hem.lowdflc_rank(dict(HP, low_dflc_counts_as_response=False)) == 2
    assert hem.RANK["NR"] < 2 < hem.RESPONSE_MIN_RANK


# ---------------------------------------------------------------------- windows
@pytest.mark.parametrize(
    "end, nxt, death, last, win, prg",
    [
        # salvage end + 60 = day 240; next line day 200 is earlier -> 200; prog look-out 200
        (180, 200, None, 400, 200, 200),
        # end + 60 = 240 earlier than next line 300 and last contact 400; look-out 300
        (180, 300, None, 400, 240, 300),
        # ongoing (no end): last contact day 400
        (None, None, None, 400, 400, 400),
        # death day 100 before everything
        (180, None, 100, 100, 100, 100),
    ],
)
def test_window_ends(end, nxt, death, last, win, prg):
    conv = lambda x: pd.NaT if x is None else d(x)  # noqa: E731
    w, p = hem.window_ends([conv(end)], [conv(nxt)], [conv(death)], [conv(last)], 60)
    assert w[0] == d(win)
    assert p[0] == d(prg)


# ------------------------------------------------- assessments, best response, ITT
def make_case(patients: dict, assessments: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """patients: id -> dict(isotype, kappa_bl, lambda_bl, sm_bl, um_bl, sife_bl, uife_bl,
    winend, prgend); assessments: (id, day, {analyte: value}). Baseline rows derived by
    hand (baseline IFE unknown unless given)."""
    rows = []
    base = []
    for pid, p in patients.items():
        m = hem.flc_measures([p["kappa_bl"]], [p["lambda_bl"]], [p["isotype"]]).iloc[0]
        base.append(
            dict(
                USUBJID=pid,
                TRTSDT=T0,
                ISOTYPE=p["isotype"],
                DFLCBL=m.DFLC,
                KLRATBL=m.KLRAT,
                SIFEBL=p.get("sife_bl", NaN),
                UIFEBL=p.get("uife_bl", NaN),
                IFLCBL=m.IFLC,
                SMPROTBL=p.get("sm_bl", NaN),
                UMPROTBL=p.get("um_bl", NaN),
                WINEND=d(p.get("winend", 1000)),
                PRGEND=d(p.get("prgend", 2000)),
            )
        )
    for pid, day, values in assessments:
        for an, v in values.items():
            rows.append(dict(patient_id=pid, date=d(day), analyte=an, value=float(v)))
    base = pd.DataFrame(base)
    base["HEMEVAL"] = hem.baseline_group(base["DFLCBL"], base["KLRATBL"], base["SIFEBL"], base["UIFEBL"], HP)
    labs = pd.DataFrame(rows, columns=["patient_id", "date", "analyte", "value"])
    return base, labs


def flc(k, lm, s=1, u=1, **extra):
    return {"flc_kappa": k, "flc_lambda": lm, "serum_ife": s, "urine_ife": u, **extra}


def test_best_response_window_and_itt():
    base, labs = make_case(
        {
            # kappa clone, baseline dFLC 400 - 10 = 390 (measurable); window ends day 200
            "P1": dict(isotype="kappa", kappa_bl=400, lambda_bl=10, winend=200),
            # no assessment at all -> NR under ITT, EVALFL N
            "P2": dict(isotype="kappa", kappa_bl=400, lambda_bl=10),
            # low-dFLC (30 - 5 = 25): reaches dFLC 8 -> LOWDFLC
            "P3": dict(isotype="lambda", kappa_bl=5, lambda_bl=30),
        },
        [
            ("P1", -10, flc(400, 10)),  # before index: not an assessment
            ("P1", 0, flc(400, 10)),  # on the index date: baseline, not an assessment
            ("P1", 30, flc(160, 10)),  # dFLC 150, fall 61.5% -> PR
            ("P1", 90, flc(45, 10)),  # dFLC 35 < 40 -> VGPR (best in window)
            ("P1", 200, flc(130, 10)),  # dFLC 120, fall 69% -> PR (last day of window, included)
            ("P1", 201, flc(10, 10, 0, 0)),  # CR but after the window -> excluded
            ("P3", 60, flc(5, 13)),  # dFLC 8 < 10 -> LOWDFLC
        ],
    )
    a = hem.assessments(labs, base, HP)
    assert list(a["ADT"]) == [d(30), d(90), d(200), d(201), d(60)]
    assert list(a["AVALC"]) == ["PR", "VGPR", "PR", "CR", "LOWDFLC"]
    assert list(a["ANL01FL"]) == ["Y", "Y", "Y", "N", "Y"]
    best = hem.best_response(a, base).set_index("USUBJID")
    assert best.loc["P1", "AVALC"] == "VGPR" and best.loc["P1", "ADT"] == d(90)
    assert best.loc["P1", "EVALFL"] == "Y"
    assert best.loc["P2", "AVALC"] == "NR" and pd.isna(best.loc["P2", "ADT"])
    assert best.loc["P2", "AVAL"] == hem.RANK["NR"] and best.loc["P2", "EVALFL"] == "N"
    # LOWDFLC shown as its own category with the VGPR-equivalent rank (counted)
    assert best.loc["P3", "AVALC"] == "LOWDFLC" and best.loc["P3", "AVAL"] == 4


def test_lowdflc_not_counted_ranks_below_pr():
    base, labs = make_case(
        {"P3": dict(isotype="lambda", kappa_bl=5, lambda_bl=30)},  # dFLC 25: low-dFLC
        [("P3", 60, flc(5, 13))],  # dFLC 8 -> LOWDFLC
    )
    hp = dict(HP, low_dflc_counts_as_response=False)
    best = hem.best_response(hem.assessments(labs, base, hp), base)
    assert best["AVALC"][0] == "LOWDFLC"
    assert best["AVAL"][0] < hem.RESPONSE_MIN_RANK  # 2 < 3: not a response


# ------------------------------------------------------------------- progression
def progressed(patients, assessments, hp=HP):
    base, labs = make_case(patients, assessments)
    prog = hem.first_progression(hem.assessments(labs, base, hp), hp)
    return dict(zip(prog["USUBJID"], prog["ADT"]))


K400 = dict(isotype="kappa", kappa_bl=400, lambda_bl=10)  # baseline iFLC 400, dFLC 390


@pytest.mark.parametrize(
    "steps, expected_day",
    [
        # PR at day 30 (iFLC 60, dFLC 50, fall 87%): nadir 60. Day 60 iFLC 100: +66.7% but
        # not > 100 -> no; day 90 iFLC 101: +68.3% and > 100 -> progression at day 90
        ([(30, flc(60, 10)), (60, flc(100, 10)), (90, flc(101, 10))], 90),
        # PR at day 30 (iFLC 80, dFLC 70, fall 82%): nadir 80; day 90 iFLC 120 = +50%
        # exactly (>= 50) and > 100 -> progression
        ([(30, flc(80, 10)), (90, flc(120, 10))], 90),
        # nadir 80 -> 119: +48.75% < 50 -> no progression
        ([(30, flc(80, 10)), (90, flc(119, 10))], None),
        # VGPR at day 30 (iFLC 45, dFLC 35 < 40): nadir 45; day 60 iFLC 100 (+122%) is not
        # > 100 -> no; day 90 iFLC 101 -> progression at day 90
        ([(30, flc(45, 10)), (60, flc(100, 10)), (90, flc(101, 10))], 90),
    ],
)
def test_progression_iflc(steps, expected_day):
    got = progressed({"P": K400}, [("P", day, v) for day, v in steps])
    assert got.get("P") == (None if expected_day is None else d(expected_day))


# Hematologic PFS for non-responders (decision, docs/methods.md): by default
# (progression_from_nonresponse true) a patient whose best so far is NR progresses by the
# PR/VGPR rise rules from the nadir (baseline included); with false (the letter of
# Comenzo 2012) only responders can progress.
STRICT = dict(HP, progression_from_nonresponse=False)


@pytest.mark.parametrize(
    "steps, default_day, strict_day",
    [
        # first assessment: the state before it is baseline (NR). iFLC 400 -> 700: +75%
        # from the baseline nadir 400 and > 100 -> PD day 30 (default); none (strict)
        ([(30, flc(700, 10))], 30, None),
        # NR day 30 (iFLC 400, dFLC 390, fall 0%); day 60 iFLC 700: +75% from 400 -> PD
        ([(30, flc(400, 10)), (60, flc(700, 10))], 60, None),
        # NR day 30 at iFLC 300 (dFLC 290, fall 25.6%): nadir 300; day 60 iFLC 440 is
        # +46.7% < 50 -> no; day 90 iFLC 450 is +50% (>= 50) and > 100 -> PD day 90
        ([(30, flc(300, 10)), (60, flc(440, 10)), (90, flc(450, 10))], 90, None),
        # NR with a rise of serum M-protein only: baseline 10 g/L, day 30 NR (iFLC 400)
        # with M 10; day 60 M 15 (+50%, > 5 g/L) on a date without FLC -> PD day 60
        ([(30, flc(400, 10, serum_mprotein=10)), (60, {"serum_mprotein": 15})], 60, None),
        # a responder is judged the same way under both settings: PR day 30 (iFLC 60),
        # day 60 iFLC 120 (+100%, > 100) -> PD day 60
        ([(30, flc(60, 10)), (60, flc(120, 10))], 60, 60),
    ],
)
def test_progression_of_nonresponders(steps, default_day, strict_day):
    p = dict(K400, sm_bl=10)
    rows = [("P", day, v) for day, v in steps]
    assert HP["progression_from_nonresponse"] is True  # the shipped default
    for hp, want in ((HP, default_day), (STRICT, strict_day)):
        got = progressed({"P": p}, rows, hp)
        assert got.get("P") == (None if want is None else d(want))


@pytest.mark.parametrize(
    "sm_bl, um_bl, m1, m2, expected",
    [
        # serum M: nadir 4 -> 6 (+50%, > 5 g/L) -> PD
        (10, NaN, {"serum_mprotein": 4}, {"serum_mprotein": 6}, True),
        # serum M: nadir 4 -> 5.9 (+47.5%) -> no
        (10, NaN, {"serum_mprotein": 4}, {"serum_mprotein": 5.9}, False),
        # serum M: nadir 3 -> 5.0 (+66.7%) but not > 5 g/L -> no
        (10, NaN, {"serum_mprotein": 3}, {"serum_mprotein": 5.0}, False),
        # urine M: nadir 150 -> 225 (+50%, > 200 mg) -> PD
        (NaN, 900, {"urine_mprotein": 150}, {"urine_mprotein": 225}, True),
        # urine M: nadir 100 -> 200 (+100%) but not > 200 mg -> no
        (NaN, 900, {"urine_mprotein": 100}, {"urine_mprotein": 200}, False),
    ],
)
def test_progression_from_vgpr_by_m_protein(sm_bl, um_bl, m1, m2, expected):
    # day 30: iFLC 45, dFLC 35 < 40 -> VGPR; day 60 iFLC 46 (+2%) so only M-protein matters
    p = dict(K400, sm_bl=sm_bl, um_bl=um_bl)
    got = progressed({"P": p}, [("P", 30, flc(45, 10, **m1)), ("P", 60, flc(46, 10, **m2))])
    assert ("P" in got) is expected


@pytest.mark.parametrize(
    "after_cr, expected",
    [
        # serum IFE reappears -> PD
        (flc(15, 10, s=1, u=0), True),
        # urine IFE reappears -> PD
        (flc(15, 10, s=0, u=1), True),
        # ratio 30/10 = 3.0 abnormal and iFLC 30 = 2 x nadir 15 -> PD
        (flc(30, 10, s=0, u=0), True),
        # ratio 2.9 abnormal but iFLC 29 < 2 x 15 -> no
        (flc(29, 10, s=0, u=0), False),
        # iFLC doubled (15 -> 30) but ratio 30/20 = 1.5 normal, IFE negative -> no
        (flc(30, 20, s=0, u=0), False),
    ],
)
def test_progression_from_cr(after_cr, expected):
    # day 30: kappa 15, lambda 10, ratio 1.5, IFE negative -> CR, nadir iFLC 15
    got = progressed({"P": K400}, [("P", 30, flc(15, 10, 0, 0)), ("P", 60, after_cr)])
    assert ("P" in got) is expected


def test_progression_lookout_beyond_window_until_next_line():
    # window ends day 100 but progression is looked for until day 300 (next line):
    # PR day 30 (iFLC 60), day 200 iFLC 150 (+150%, > 100) -> PD day 200 (ANL01FL N);
    # P2: the same rise on day 301, after the look-out -> not counted
    p1 = dict(K400, winend=100, prgend=300)
    base, labs = make_case(
        {"P1": p1, "P2": p1},
        [
            ("P1", 30, flc(60, 10)),
            ("P1", 200, flc(150, 10)),
            ("P2", 30, flc(60, 10)),
            ("P2", 301, flc(150, 10)),
        ],
    )
    prog = hem.first_progression(hem.assessments(labs, base, HP), HP)
    assert list(prog["USUBJID"]) == ["P1"]
    assert prog["ADT"][0] == d(200) and prog["ANL01FL"][0] == "N" and prog["AVALC"][0] == "PD"


def test_first_progression_date_only():
    # PR day 30 (nadir 60); PD day 60 (iFLC 120, +100%); again day 90 -> one row, day 60
    got = progressed({"P": K400}, [("P", 30, flc(60, 10)), ("P", 60, flc(120, 10)), ("P", 90, flc(200, 10))])
    assert got == {"P": d(60)}


def test_pct_change_exact_boundaries():
    # (50 - 100) / 100 = -50% exactly, (1.3 - 1) / 1 = 30% exactly after rounding
    assert hem.pct_change([50.0], [100.0])[0] == -50.0
    assert hem.pct_change([1.3], [1.0])[0] == 30.0
    assert np.isnan(hem.pct_change([NaN], [1.0])[0])


# ------------------------------------------------------------- ADRS assembly
def _adsl_outcomes():
    from alsalvage.responses import ADSL_COLUMNS

    adsl = pd.DataFrame({c: [NaN, NaN] for c in ADSL_COLUMNS})
    adsl["USUBJID"] = ["P1", "P2"]
    adsl["TRTSDT"] = [T0, T0]
    adsl["SEX"] = ["M", "F"]
    adsl["BRTHDT"] = pd.Timestamp("1960-01-01")
    adsl["ISOTYPE"] = ["kappa", "lambda"]
    adsl[["HEART", "KIDNEY", "LIVER", "DIALBL"]] = 0
    # P1: kappa 400 / lambda 10 -> DFLCBL 390, measurable; P2: no baseline FLC
    adsl["DFLCBL"], adsl["IFLCBL"] = [390.0, NaN], [400.0, NaN]
    adsl["HEMEVAL"] = ["measurable", "not_measurable"]  # as ADSL derives them
    out = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "salvage_end_date": [d(180), d(180)],
            "next_line_date": [pd.NaT, pd.NaT],
            "dialysis_start_date": [pd.NaT, pd.NaT],
            "last_contact_date": [d(400), d(400)],
            "death_date": [pd.NaT, pd.NaT],
        }
    )
    return adsl, out


def test_derive_adrs_rows():
    from alsalvage.responses import derive_adrs

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    adsl, out = _adsl_outcomes()
    labs = pd.DataFrame(
        [dict(patient_id="P1", date=d(30), analyte=an, value=v) for an, v in flc(45, 10).items()]
    )  # dFLC 35 < 40 -> VGPR on day 30
    adrs = derive_adrs(adsl, out, labs, {k: cfg[k] for k in ("hematologic", "cardiac", "renal", "liver", "egfr")})
    p1 = adrs[adrs["USUBJID"] == "P1"].set_index("PARAMCD")
    assert p1.loc["HEMRESP", "AVALC"] == "VGPR" and p1.loc["HEMRESP", "ADY"] == 30
    assert p1.loc["BESTHEM", "AVALC"] == "VGPR" and p1.loc["BESTHEM", "EVALFL"] == "Y"
    # no organ involved: every organ best row is NE and BESTORG is NE
    assert list(p1.loc[["BESTCARD", "BESTREN", "BESTLIV", "BESTORG"], "AVALC"]) == ["NE"] * 4
    p2 = adrs[adrs["USUBJID"] == "P2"].set_index("PARAMCD")
    assert p2.loc["BESTHEM", "AVALC"] == "NR" and pd.isna(p2.loc["BESTHEM", "ADY"])
    assert list(adrs.columns) == [
        "USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "ADY", "EVALFL", "ANL01FL", "IMIDFL", "EGFRFLFL"
    ]
    assert datasets.conform("adrs", adrs) == []  # columns and dtypes of the spec


def test_responses_bad_input_lists_every_problem():
    from alsalvage.derive_common import DerivationError
    from alsalvage.responses import check_inputs

    adsl, out = _adsl_outcomes()
    adsl.loc[1, "TRTSDT"] = pd.NaT  # P2: index date missing (CSV line 3)
    files = {"adsl": "results/derived/adsl.parquet", "outcomes": "o.parquet", "labs": "l.parquet"}
    labs = pd.DataFrame(columns=["patient_id", "date", "analyte", "value"])
    with pytest.raises(DerivationError) as err:
        check_inputs(adsl, out.iloc[[1]], labs, files)
    msg = str(err.value)
    assert "rule derive_responses: 2 problem(s)" in msg
    assert "no row for patient_id P1" in msg
    assert "row 3 (USUBJID P2), column TRTSDT" in msg
    with pytest.raises(DerivationError, match="column 'ISOTYPE' is missing"):
        check_inputs(adsl.drop(columns="ISOTYPE"), out, labs, files)


# ------------------------------------- progression judged on every date with a value
# VGPR on day 30 (iFLC 45, dFLC 35 < 40) with serum M 4 g/L (baseline 10) and urine M
# 150 mg (baseline 900): nadirs 4 and 150. Day 45 carries an M-protein only (no FLC, no
# IFE); day 60 iFLC 46 (+2.2%) and no M-protein, so only day 45 can show progression.
@pytest.mark.parametrize(
    "m_only, expected_day",
    [
        ({"serum_mprotein": 6}, 45),  # 4 -> 6: +50% (>= 50) and > 5 g/L -> PD day 45
        ({"serum_mprotein": 5.9}, None),  # 4 -> 5.9: +47.5% < 50
        ({"urine_mprotein": 225}, 45),  # 150 -> 225: +50% and > 200 mg -> PD day 45
        ({"urine_mprotein": 200}, None),  # 150 -> 200: +33% and not > 200
    ],
)
def test_progression_by_m_protein_on_a_date_without_flc(m_only, expected_day):
    p = dict(K400, sm_bl=10, um_bl=900)
    rows = [
        ("P", 30, flc(45, 10, serum_mprotein=4, urine_mprotein=150)),
        ("P", 45, m_only),
        ("P", 60, flc(46, 10)),
    ]
    for hp in (HP, STRICT):  # a responder: the same under both settings
        got = progressed({"P": p}, rows, hp)
        assert got.get("P") == (None if expected_day is None else d(expected_day))


def test_date_without_flc_or_ife_has_no_category_and_carries_the_best_on():
    base, labs = make_case(
        {
            "P": dict(K400, sm_bl=10),
            # only M-protein after the index date: no categorised assessment
            "Q": dict(K400, sm_bl=10),
        },
        [
            ("P", 30, flc(45, 10, serum_mprotein=4)),  # VGPR (dFLC 35 < 40)
            ("P", 40, {"serum_mprotein": 4.1}),  # M only: NE; +2.5% from nadir 4 -> no PD
            # iFLC 101: +124% from nadir 45 and > 100 -> PD, judged from VGPR (the best
            # before the NE date is carried on; under STRICT NR could not progress)
            ("P", 60, flc(101, 10)),
            ("Q", 30, {"serum_mprotein": 9}),
        ],
    )
    a = hem.assessments(labs, base, STRICT)
    assert list(zip(a["USUBJID"], a["ADT"], a["AVALC"])) == [
        ("P", d(30), "VGPR"), ("P", d(40), "NE"), ("P", d(60), "PR"), ("Q", d(30), "NE")
    ]  # day 60: dFLC 91, fall (390 - 91) / 390 = 76.7% -> PR
    assert a["AVAL"].isna().tolist() == [False, True, False, True]
    prog = hem.first_progression(a, STRICT)
    assert dict(zip(prog["USUBJID"], prog["ADT"])) == {"P": d(60)}
    best = hem.best_response(a, base).set_index("USUBJID")
    assert (best.loc["P", "AVALC"], best.loc["P", "ADT"], best.loc["P", "EVALFL"]) == ("VGPR", d(30), "Y")
    # Q: an M-protein value is no response assessment -> NR under ITT, not evaluable
    assert best.loc["Q", "AVALC"] == "NR" and pd.isna(best.loc["Q", "ADT"]) and best.loc["Q", "EVALFL"] == "N"


# ------------------------------------------ CR components paired over a window (days)
# K400 (baseline dFLC 390). flc(15, 10): ratio 1.5 (normal), dFLC 5 < 40 -> VGPR unless
# CR. Expected: best response and its date.
W7 = dict(HP, assessment_pairing_days=7)
W0 = dict(HP, assessment_pairing_days=0)


@pytest.mark.parametrize(
    "rows, hp, best, best_day",
    [
        # serum IFE negative 7 days before the FLC + urine IFE date: inside the window -> CR day 30
        ([(23, {"serum_ife": 0}), (30, flc(15, 10, s=NaN, u=0))], W7, "CR", 30),
        # 8 days before: outside -> VGPR day 30 (the day-23 serum IFE alone is NR)
        ([(22, {"serum_ife": 0}), (30, flc(15, 10, s=NaN, u=0))], W7, "VGPR", 30),
        # the same 7 days apart with pairing off (0): same date only -> VGPR
        ([(23, {"serum_ife": 0}), (30, flc(15, 10, s=NaN, u=0))], W0, "VGPR", 30),
        # urine IFE 7 days after the FLC and serum IFE: CR when complete, dated day 37
        ([(30, flc(15, 10, s=0, u=NaN)), (37, {"urine_ife": 0})], W7, "CR", 37),
        # urine IFE 8 days after: no CR (day 38 is an IFE-only date: NR) -> VGPR day 30
        ([(30, flc(15, 10, s=0, u=NaN)), (38, {"urine_ife": 0})], W7, "VGPR", 30),
        # the most recent serum IFE counts: negative day 25, positive day 28 -> VGPR
        ([(25, {"serum_ife": 0}), (28, {"serum_ife": 1}), (30, flc(15, 10, s=NaN, u=0))], W7, "VGPR", 30),
        # the ratio is paired too: FLC day 30, both IFE negative day 33 -> CR day 33
        ([(30, flc(15, 10, s=NaN, u=NaN)), (33, {"serum_ife": 0, "urine_ife": 0})], W7, "CR", 33),
        # no pairing across the index date: serum IFE on day 0 is baseline -> VGPR day 3
        ([(0, {"serum_ife": 0}), (3, flc(15, 10, s=NaN, u=0))], W7, "VGPR", 3),
    ],
)
def test_cr_components_pairing_window(rows, hp, best, best_day):
    base, labs = make_case({"P": K400}, [("P", day, v) for day, v in rows])
    labs = labs.dropna(subset=["value"])  # NaN = not measured
    got = hem.best_response(hem.assessments(labs, base, hp), base).iloc[0]
    assert (got["AVALC"], got["ADT"]) == (best, d(best_day))


def test_pairing_default_is_seven_days():
    assert HP["assessment_pairing_days"] == 7


# ----------------------------- M-protein response for FLC-non-measurable patients
def test_no_m_protein_response_without_measurable_flc():
    # Decision (docs/methods.md): response follows the FLC-based consensus criteria only.
    # Baseline kappa 20 / lambda 10 (dFLC 10: not measurable), serum M 20 g/L; day 60
    # M 5 g/L (-75%) with the same FLC and IFE positive: NR, not PR; not evaluable.
    base, labs = make_case(
        {"P": dict(isotype="kappa", kappa_bl=20, lambda_bl=10, sm_bl=20)},
        [("P", 60, flc(20, 10, serum_mprotein=5))],
    )
    assert base["HEMEVAL"][0] == "not_measurable"
    best = hem.best_response(hem.assessments(labs, base, HP), base).iloc[0]
    assert (best["AVALC"], best["EVALFL"]) == ("NR", "N")


# ------------------------------------ no detectable clone: ITT NR, never CR, counted
def test_no_clone_patient_is_nr_and_progresses_only_if_the_clone_reappears():
    nc = dict(isotype="kappa", kappa_bl=15, lambda_bl=10, sife_bl=0, uife_bl=0)  # ratio 1.5
    base, labs = make_case(
        {"N1": nc, "N2": nc, "N3": nc},
        [
            # CR-like assessments (ratio 1.5, IFE negative): NR, never CR
            ("N1", 30, flc(15, 10, 0, 0)),
            ("N1", 60, flc(16, 10, 0, 0)),
            # N2: serum IFE positive on day 60 -> the clone reappears: PD (the CR rule)
            ("N2", 30, flc(15, 10, 0, 0)),
            ("N2", 60, flc(15, 10, 1, 0)),
            # N3: iFLC 15 -> 200 (+1233%, > 100) with ratio 200/150 = 1.33 normal and IFE
            # negative: a polyclonal rise, no PD (the PR/VGPR rules do not apply)
            ("N3", 30, flc(200, 150, 0, 0)),
        ],
    )
    assert set(base["HEMEVAL"]) == {"no_clone"}
    a = hem.assessments(labs, base, HP)
    assert set(a["AVALC"]) == {"NR"}
    best = hem.best_response(a, base)
    assert list(best["AVALC"]) == ["NR"] * 3 and list(best["EVALFL"]) == ["N"] * 3
    prog = hem.first_progression(a, HP)
    assert dict(zip(prog["USUBJID"], prog["ADT"])) == {"N2": d(60)}


def test_no_clone_row_in_the_response_table():
    """derive_adrs -> stats.response on four treated patients, counted by hand:
    P1 measurable, CR day 30 (ratio 1.5, IFE negative); P2 no detectable clone (ratio
    1.5, IFE negative at baseline), the same CR-like assessment -> NR; P3 measurable, no
    assessment -> NR; P4 measurable, dFLC 150 (fall 61.5%) -> PR.
    ITT (n = 4): CR 1, PR 1, NR 2, >= PR 2, no detectable clone 1.
    Evaluable (P1, P4; n = 2): CR 1, PR 1, NR 0."""
    from alsalvage.stats.response import response
    from config_defaults import analysis_params
    from alsalvage.responses import ADSL_COLUMNS, derive_adrs

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    ids = ["P1", "P2", "P3", "P4"]
    adsl = pd.DataFrame({c: [NaN] * 4 for c in ADSL_COLUMNS})
    adsl["USUBJID"], adsl["TRTSDT"], adsl["ISOTYPE"] = ids, T0, "kappa"
    adsl["SEX"], adsl["BRTHDT"] = "M", pd.Timestamp("1960-01-01")
    adsl[["HEART", "KIDNEY", "LIVER", "DIALBL"]] = 0
    adsl["DFLCBL"] = [390.0, 5.0, 390.0, 390.0]  # kappa 400 / lambda 10; P2 kappa 15 / lambda 10
    adsl["IFLCBL"] = [400.0, 15.0, 400.0, 400.0]
    adsl["KLRATBL"] = [40.0, 1.5, 40.0, 40.0]
    adsl["SIFEBL"], adsl["UIFEBL"] = [1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0]
    adsl["HEMEVAL"] = ["measurable", "no_clone", "measurable", "measurable"]
    adsl["SAFFL"], adsl["PEXGRP"], adsl["PEXFL"] = "Y", "naive", 0
    out = pd.DataFrame(
        {
            "patient_id": ids,
            "salvage_end_date": d(180),
            "next_line_date": pd.NaT,
            "dialysis_start_date": pd.NaT,
            "last_contact_date": d(400),
            "death_date": pd.NaT,
        }
    )
    rows = [("P1", flc(15, 10, 0, 0)), ("P2", flc(15, 10, 0, 0)), ("P4", flc(160, 10))]
    labs = pd.DataFrame(
        [dict(patient_id=p, date=d(30), analyte=an, value=float(v)) for p, vals in rows for an, v in vals.items()]
    )
    params = {k: cfg[k] for k in ("hematologic", "cardiac", "renal", "liver", "egfr")}
    adrs = derive_adrs(adsl, out, labs, params)
    best = adrs[adrs["PARAMCD"] == "BESTHEM"].set_index("USUBJID")
    assert list(best["AVALC"].astype(str)) == ["CR", "NR", "NR", "PR"]
    assert list(best["EVALFL"].astype(str)) == ["Y", "N", "N", "Y"]
    recs = {r["key"]: (r["n"], r["denominator"]) for r in response(adsl, adrs, **analysis_params("response"))}
    assert recs["hem.itt.cr"] == (1, 4) and recs["hem.itt.pr"] == (1, 4)
    assert recs["hem.itt.nr"] == (2, 4) and recs["hem.itt.ge_pr"] == (2, 4)
    assert recs["hem.itt.no_clone"] == (1, 4)
    assert recs["hem.evaluable.cr"] == (1, 2) and recs["hem.evaluable.nr"] == (0, 2)
