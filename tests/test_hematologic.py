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
    assert hem.baseline_group([dflc], HP)[0] == expected


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
    """patients: id -> dict(isotype, kappa_bl, lambda_bl, sm_bl, um_bl, winend, prgend)
    assessments: (id, day, {analyte: value}). Baseline rows derived by hand."""
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
    base["HEMEVAL"] = hem.baseline_group(base["DFLCBL"], HP)
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
        # first assessment only: the state before it is baseline (NR) -> no progression
        ([(30, flc(700, 10))], None),
        # NR then iFLC 400 -> 700 (+75%, > 100): progression is not defined from NR (default)
        ([(30, flc(400, 10)), (60, flc(700, 10))], None),
    ],
)
def test_progression_iflc(steps, expected_day):
    got = progressed({"P": K400}, [("P", day, v) for day, v in steps])
    assert got.get("P") == (None if expected_day is None else d(expected_day))


def test_progression_from_nonresponse_when_configured():
    # NR at day 30 (dFLC 390); day 60 iFLC 700: +75% from nadir 400 and > 100 -> PD
    hp = dict(HP, progression_from_nonresponse=True)
    got = progressed({"P": K400}, [("P", 30, flc(400, 10)), ("P", 60, flc(700, 10))], hp)
    assert got["P"] == d(60)


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
    adrs, warnings = derive_adrs(adsl, out, labs, {k: cfg[k] for k in ("hematologic", "cardiac", "renal", "liver", "egfr")})
    assert warnings == []
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
