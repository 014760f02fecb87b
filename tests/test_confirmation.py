"""Response confirmation (analysis.response_confirmation; docs/methods.md).

Rule: a response (>= PR) is confirmed by the patient's next categorised assessment (NE
dates skipped) before the next line, death or last contact (ADT <= PRGEND) if that one is
>= PR too; the confirmed category is the lower of the two; an unconfirmed response is NR.
Each case gives one patient's assessments as (day, category, in best-response window,
in progression look-out) and the confirmed categories, the best confirmed response and
its day, worked out by hand from the rule.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from alsalvage import hematologic as hem
from alsalvage.stats import responders
from helpers import REPO

T0 = pd.Timestamp("2020-01-01")
RANK = dict(hem.RANK, LOWDFLC=hem.LOWDFLC_COUNTED, NE=math.nan)


def _a(rows, prgend=2000):
    return pd.DataFrame(
        {
            "USUBJID": "P1",
            "ADT": [T0 + pd.Timedelta(days=r[0]) for r in rows],
            "AVALC": [r[1] for r in rows],
            "AVAL": [RANK[r[1]] for r in rows],
            "ANL01FL": [("Y" if r[2] else "N") for r in rows],
            "INPRG": [r[3] for r in rows],
            "PRGEND": T0 + pd.Timedelta(days=prgend),
            "HEMEVAL": "measurable",
        }
    )


W, L = (True, True), (False, True)  # in the window; after it but in the look-out
OUT = (False, False)  # after the next line / death / last contact

CASES = {
    "confirmed by the same level": ([(30, "PR", *W), (60, "PR", *W)], ["PR", "NR"], "PR", 30),
    "last assessment unconfirmed": ([(30, "NR", *W), (60, "VGPR", *W)], ["NR", "NR"], "NR", None),
    "confirmed by a lower response level": ([(30, "CR", *W), (60, "VGPR", *W)], ["VGPR", "NR"], "VGPR", 30),
    "confirmed by a higher level keeps its own": ([(30, "PR", *W), (60, "CR", *W)], ["PR", "NR"], "PR", 30),
    "interrupted by a non-response": (
        [(30, "CR", *W), (60, "NR", *W), (90, "CR", *W)],
        ["NR", "NR", "NR"],
        "NR",
        None,
    ),
    "a date without a category is skipped": (
        [(30, "CR", *W), (45, "NE", *W), (60, "CR", *W)],
        ["CR", "NR"],
        "CR",
        30,
    ),
    "death (or next line) before confirmation": (
        [(30, "VGPR", *W), (90, "VGPR", *OUT)],
        ["NR"],
        "NR",
        None,
    ),
    "confirmed after the window, in the look-out": (
        [(100, "PR", *W), (250, "PR", *L)],
        ["PR", "NR"],
        "PR",
        100,
    ),
    "low-dFLC response confirmed": ([(30, "LOWDFLC", *W), (60, "LOWDFLC", *W)], ["LOWDFLC", "NR"], "LOWDFLC", 30),
    "best confirmed pair, not best single": (
        [(30, "PR", *W), (60, "PR", *W), (90, "CR", *W), (120, "VGPR", *W), (150, "PD", *W)],
        ["PR", "PR", "VGPR", "NR", "PD"],
        "VGPR",
        90,
    ),
}


@pytest.mark.parametrize("rows, confirmed, best, best_day", CASES.values(), ids=CASES.keys())
def test_confirmed_categories_and_best(rows, confirmed, best, best_day):
    a = _a(rows)
    c = hem.confirmed(a)
    assert list(c["AVALC"]) == confirmed
    b = hem.best_response(c, pd.DataFrame({"USUBJID": ["P1"], "HEMEVAL": ["measurable"]})).iloc[0]
    assert b["AVALC"] == best
    if best_day is None:
        assert b["AVALC"] == "NR"
    else:
        assert b["ADT"] == T0 + pd.Timedelta(days=best_day)


def test_confirmation_flag():
    c = hem.confirmed(_a([(30, "CR", *W), (60, "VGPR", *W), (90, "NR", *W)]))
    assert list(c["CONFFL"]) == ["Y", "N", ""]  # confirmed response, unconfirmed response, below PR


def _adrs(paramcd, rows):
    return pd.DataFrame(
        [
            dict(USUBJID=p, PARAMCD=paramcd, AVALC=v, ADY=day, ANL01FL="Y")
            for p, day, v in rows
        ]
    )


def test_responders_read_the_confirmed_rows_when_present():
    hemresp = _adrs("HEMRESP", [("P1", 30, "PR"), ("P1", 60, "NR"), ("P2", 40, "VGPR"), ("P2", 70, "PR")])
    # unconfirmed: every response counts
    assert responders.responded_by(hemresp, 3, 30.4375, True) == {"P1", "P2"}
    hemconf = _adrs("HEMCONF", [("P1", 30, "NR"), ("P1", 60, "NR"), ("P2", 40, "PR"), ("P2", 70, "NR")])
    both = pd.concat([hemresp, hemconf])
    assert responders.response_paramcd(both) == "HEMCONF"
    assert responders.responded_by(both, 3, 30.4375, True) == {"P2"}
    # P2's VGPR is confirmed only as PR
    assert responders.responded_by(both, 3, 30.4375, True, "VGPR") == set()
    assert responders.first_response(both, True).to_dict("records") == [{"USUBJID": "P2", "ADY": 40}]


def test_derive_adrs_confirmation_option():
    from alsalvage.responses import derive_adrs
    from test_hematologic import _adsl_outcomes, d, flc

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    assert cfg["analysis"]["response_confirmation"] is False  # off by default
    params = {k: cfg[k] for k in ("hematologic", "cardiac", "renal", "liver", "egfr")}
    adsl, out = _adsl_outcomes()
    labs = pd.DataFrame(
        [dict(patient_id="P1", date=d(30), analyte=an, value=v) for an, v in flc(45, 10).items()]
    )  # one VGPR on day 30, nothing after it
    off = derive_adrs(adsl, out, labs, params)
    assert "HEMCONF" not in set(off["PARAMCD"])
    on = derive_adrs(adsl, out, labs, params, confirm=True)
    p1 = on[on["USUBJID"] == "P1"].set_index("PARAMCD")
    assert p1.loc["HEMRESP", "AVALC"] == "VGPR"  # the assessment itself is unchanged
    assert p1.loc["HEMCONF", "AVALC"] == "NR"  # never confirmed
    assert p1.loc["BESTHEM", "AVALC"] == "NR"
    assert list(on.columns) == list(off.columns)
