"""Time-to-event endpoints (ADTTE): OS, time to dialysis, hematologic PFS, time on treatment,
time to next treatment.

Index date 2020-01-01 for everybody; expected days and months worked out by hand
(months = days / 30.4375) in the comment next to each case.
"""

from __future__ import annotations

import pandas as pd
import pytest

from alsalvage import datasets
from alsalvage import endpoints as ep
from alsalvage.derive_common import DerivationError, months

T0 = pd.Timestamp("2020-01-01")
DPM = 30.4375
NaT = pd.NaT
PARAMS = {"days_per_month": DPM, "regimen": "lenalidomide", "ttnt_death": "event"}


def d(days):
    return T0 + pd.Timedelta(days=days)


def cohort(rows):
    """rows: id -> dict of outcome days (None = missing) and DIALBL."""
    adsl, out = [], []
    for pid, r in rows.items():
        adsl.append(dict(USUBJID=pid, TRTSDT=T0, DIALBL=r.get("dialbl", 0)))
        conv = lambda k: NaT if r.get(k) is None else d(r[k])  # noqa: E731
        out.append(
            dict(
                patient_id=pid,
                salvage_end_date=conv("end"),
                stop_reason=r.get("stop", "completed"),
                next_line_date=conv("next"),
                dialysis_start_date=conv("dial"),
                last_contact_date=conv("last"),
                death_date=conv("death"),
            )
        )
    return pd.DataFrame(adsl), pd.DataFrame(out)


def adrs_of(rows):
    return pd.DataFrame(
        [dict(USUBJID=p, PARAMCD=c, ADT=d(day)) for p, c, day in rows], columns=["USUBJID", "PARAMCD", "ADT"]
    ).astype({"ADT": "datetime64[ns]"})


def derive(rows, adrs_rows=(), **params):
    adsl, out = cohort(rows)
    t = ep.derive_adtte(adsl, adrs_of(adrs_rows), out, PARAMS | params)
    assert datasets.conform("adtte", t) == []  # columns and dtypes of alsalvage.datasets
    return {(r.USUBJID, r.PARAMCD): r for r in t.itertuples()}


@pytest.mark.parametrize(
    "days, expected",
    [
        (365.25, 12.0),  # 365.25 / 30.4375 = 12
        (30.4375, 1.0),
        (1461, 48.0),  # four years incl. one leap day: 1461 / 30.4375 = 48
        (0, 0.0),
    ],
)
def test_months(days, expected):
    assert months(days, DPM) == expected


def test_overall_survival():
    t = derive(
        {
            # died 2024-01-01: 366 + 365 + 365 + 365 = 1461 days = 48.0 months, event
            "A": dict(end=100, death=1461, last=1461),
            # alive, last contact day 730 -> censored, 730 / 30.4375 = 23.98 months
            "B": dict(end=100, last=730),
        }
    )
    a, b = t[("A", "OS")], t[("B", "OS")]
    assert (a.CNSR, a.ADT, a.AVAL, a.EVNTDESC) == (0, d(1461), 48.0, "Death (any cause)")
    assert (b.CNSR, b.ADT) == (1, d(730))
    assert b.AVAL == pytest.approx(730 / 30.4375)
    assert b.CNSDTDSC == "Alive at last contact" and b.EVNTDESC is None


# TTDIAL, value by value. ADaM: CNSR 0 = the parameter's event (dialysis), 1 = anything
# else; the competing death is told apart by CAUSEN 2 (0 censored, 1 dialysis), and
# CRSKFL = Y marks every row of the competing-risks parameter.
TTDIAL_CASES = [
    # id, outcome days, (CNSR, CAUSEN, ADT day, EVNTDESC, CNSDTDSC)
    ("DIAL", dict(dial=200, death=400, last=400), (0, 1, 200, "Start of chronic dialysis", None)),
    ("DEAD", dict(death=300, last=300), (1, 2, 300, "Death without dialysis (competing event)", None)),
    ("CENS", dict(last=500), (1, 0, 500, None, "Alive without dialysis at last contact")),
    # dialysis and death on the same day: dialysis is the event, not the competing death
    ("SAME", dict(dial=250, death=250, last=250), (0, 1, 250, "Start of chronic dialysis", None)),
    # dialysis at day 30, alive without death at day 900: the event at day 30
    ("LATE", dict(dial=30, last=900), (0, 1, 30, "Start of chronic dialysis", None)),
]


def test_time_to_dialysis():
    t = derive({pid: r for pid, r, _ in TTDIAL_CASES} | {"ONDIAL": dict(dialbl=1, dial=-100, last=500)})
    for pid, _, (cnsr, causen, day, evnt, cnsd) in TTDIAL_CASES:
        row = t[(pid, "TTDIAL")]
        got = (row.CNSR, row.CAUSEN, row.CRSKFL, row.ADT, row.AVAL, row.EVNTDESC, row.CNSDTDSC)
        assert got == (cnsr, causen, "Y", d(day), pytest.approx(day / 30.4375), evnt, cnsd), pid
        assert (row.PARAM, row.STARTDT) == ("Time to chronic dialysis (months)", T0)
    assert ("ONDIAL", "TTDIAL") not in t  # on dialysis at index -> no row
    assert ("ONDIAL", "OS") in t  # every patient has OS


def test_cnsr_is_adam_and_the_cause_is_separate():
    """Every ADTTE row has CNSR 0/1 only (never 2); CNSR 0 exactly when CAUSEN 1; a
    competing event (CAUSEN 2) only on rows flagged CRSKFL = Y, and CRSKFL only on TTDIAL.
    On the hand cohort a reader of CNSR alone counts 2 dialysis events (DIAL, SAME) and
    3 non-events, the competing death (DEAD) among them: CAUSEN is what separates it."""
    adsl, out = cohort({pid: r for pid, r, _ in TTDIAL_CASES})
    t = ep.derive_adtte(adsl, adrs_of([]), out, PARAMS)
    assert list(t.columns) == ep.ADTTE_COLUMNS
    assert set(t["CNSR"]) == {0, 1}
    assert ((t["CNSR"] == 0) == (t["CAUSEN"] == 1)).all()
    assert set(t.loc[t["CAUSEN"] == 2, "PARAMCD"]) == {"TTDIAL"}
    assert (t["CRSKFL"].eq("Y") == t["PARAMCD"].eq("TTDIAL")).all()
    assert t.loc[t["PARAMCD"] != "TTDIAL", "CRSKFL"].isna().all()
    ttd = t[t["PARAMCD"] == "TTDIAL"].set_index("USUBJID")
    assert sorted(ttd.index[ttd["CNSR"] == 0]) == ["DIAL", "LATE", "SAME"]
    assert list(ttd.index[ttd["CAUSEN"] == 2]) == ["DEAD"]
    # the other parameters: CAUSEN = 1 - CNSR (no competing event)
    other = t[t["PARAMCD"] != "TTDIAL"]
    assert (other["CAUSEN"] == 1 - other["CNSR"]).all()


def test_competing_event_only_in_a_competing_risks_parameter():
    q = pd.DataFrame({"USUBJID": ["A"], "TRTSDT": [T0]})
    with pytest.raises(ValueError, match="OS: a competing event"):
        ep._rows(q, "OS", [d(5)], [2], [None], [None], DPM)




def test_hematologic_pfs():
    t = derive(
        {
            "PROG": dict(death=300, last=300),  # progression day 120 before death -> 120, event
            "DEATH": dict(death=250, last=250),  # no progression, death day 250 -> event
            "NEXT": dict(next=150, death=400, last=400),  # death after next line -> censored
            "NONE": dict(last=365),  # no assessment at all -> censored at index (0 months)
        },
        [
            ("PROG", "HEMRESP", 60),
            ("PROG", "HEMRESP", 120),
            ("PROG", "HEMPROG", 120),
            ("DEATH", "HEMRESP", 90),
            ("NEXT", "HEMRESP", 90),
            ("NEXT", "HEMRESP", 150),  # on the next-line date: still counts as last assessment
            ("NEXT", "HEMRESP", 200),  # after the next line: ignored
        ],
    )
    p, dd, n, z = (t[(k, "HEMPFS")] for k in ("PROG", "DEATH", "NEXT", "NONE"))
    assert (p.CNSR, p.ADT, p.EVNTDESC) == (0, d(120), "Hematologic progression")
    assert (dd.CNSR, dd.ADT, dd.EVNTDESC) == (0, d(250), "Death")
    assert (n.CNSR, n.ADT, n.CNSDTDSC) == (1, d(150), "Last hematologic assessment")
    assert (z.CNSR, z.ADT, z.AVAL) == (1, T0, 0.0)


def test_time_on_treatment():
    t = derive(
        {
            "TOX": dict(end=90, stop="toxicity", last=400),  # stopped day 90 -> event
            "DONE": dict(end=365, stop="completed", last=400),  # completed: also an event
            "ON": dict(end=None, stop="ongoing", last=500),  # ongoing -> censored day 500
        }
    )
    assert (t[("TOX", "TOT")].CNSR, t[("TOX", "TOT")].ADT) == (0, d(90))
    assert t[("TOX", "TOT")].EVNTDESC == "Lenalidomide stopped: toxicity"
    assert (t[("DONE", "TOT")].CNSR, t[("DONE", "TOT")].ADT) == (0, d(365))
    assert (t[("ON", "TOT")].CNSR, t[("ON", "TOT")].ADT) == (1, d(500))
    assert t[("ON", "TOT")].CNSDTDSC == "Ongoing at last contact"


# TTNT, value by value, under both settings of endpoints.ttnt_death. CAUSEN = 1 - CNSR
# (no competing event: a death before a next line is the event or censoring).
NEXT, DEATH_EV = "Start of next line of therapy", "Death without a next line"
ALIVE, DEATH_CNS = "Alive without a next line at last contact", "Death without a next line (censored)"
TTNT_CASES = [
    # id, outcome days, ttnt_death "event": (CNSR, ADT day, EVNTDESC, CNSDTDSC), "censor": the same
    ("NEXT", dict(next=200, death=400, last=400), (0, 200, NEXT, None), (0, 200, NEXT, None)),
    ("DEAD", dict(death=300, last=300), (0, 300, DEATH_EV, None), (1, 300, None, DEATH_CNS)),
    # next line and death on the same day: the next line is the event
    ("SAME", dict(next=250, death=250, last=250), (0, 250, NEXT, None), (0, 250, NEXT, None)),
    # no next line, alive (no death date): censored at last contact
    ("ALIVE", dict(last=500), (1, 500, None, ALIVE), (1, 500, None, ALIVE)),
    # next line on the day of last contact: the event
    ("ATLAST", dict(next=500, last=500), (0, 500, NEXT, None), (0, 500, NEXT, None)),
    # next line, then alive at last contact: the event at the next line
    ("NEXTALIVE", dict(next=30, last=900), (0, 30, NEXT, None), (0, 30, NEXT, None)),
    # a next line dated after the death (validate and check_inputs refuse it): the death ends TTNT
    ("AFTERDEATH", dict(next=400, death=300, last=300), (0, 300, DEATH_EV, None), (1, 300, None, DEATH_CNS)),
]


@pytest.mark.parametrize("death, col", [("event", 2), ("censor", 3)])
def test_time_to_next_treatment(death, col):
    t = derive({case[0]: case[1] for case in TTNT_CASES}, ttnt_death=death)
    for case in TTNT_CASES:
        pid, (cnsr, day, evnt, cnsd) = case[0], case[col]
        row = t[(pid, "TTNT")]
        got = (row.CNSR, row.CAUSEN, row.CRSKFL, row.ADT, row.AVAL, row.EVNTDESC, row.CNSDTDSC)
        assert got == (cnsr, 1 - cnsr, None, d(day), pytest.approx(day / DPM), evnt, cnsd), pid
        assert (row.PARAM, row.STARTDT) == ("Time to next treatment (months)", T0)


def test_every_patient_has_ttnt_and_os_ends_the_same_way():
    """TTNT and OS share the end of follow-up (endpoints.death_or_last_contact): without
    a next line, TTNT ends where OS does, and counts the death as OS does by default."""
    t = derive({case[0]: case[1] for case in TTNT_CASES} | {"ONDIAL": dict(dialbl=1, dial=-100, last=500)})
    for pid in [case[0] for case in TTNT_CASES] + ["ONDIAL"]:
        assert (pid, "TTNT") in t
    for pid in ("DEAD", "ALIVE", "ONDIAL"):
        assert (t[(pid, "TTNT")].ADT, t[(pid, "TTNT")].CNSR) == (t[(pid, "OS")].ADT, t[(pid, "OS")].CNSR), pid


def test_ttnt_death_must_be_event_or_censor():
    with pytest.raises(ValueError, match="endpoints.ttnt_death: 'ignore'"):
        derive({"A": dict(last=100)}, ttnt_death="ignore")


@pytest.mark.parametrize(
    "outcome, problem",
    [
        (dict(next=0, last=100), "column next_line_date: on or before the index date"),
        (dict(next=-10, last=100), "column next_line_date: on or before the index date"),
        (dict(next=200, last=100), "column next_line_date: after the last contact"),
        (dict(next=400, death=300, last=300), "column next_line_date: after the last contact"),
        (dict(next=50, last=None), "column last_contact_date: missing"),
    ],
)
def test_next_line_dates_are_checked(outcome, problem):
    adsl, out = cohort({"A": dict(outcome, end=10)})
    files = {"adsl": "adsl.parquet", "adrs": "adrs.parquet", "outcomes": "o.parquet"}
    with pytest.raises(DerivationError, match=f"patient A, {problem}"):
        ep.check_inputs(adsl, adrs_of([]), out, files)


def test_next_line_dates_in_order_pass_the_checks():
    adsl, out = cohort({case[0]: dict(case[1], end=10) for case in TTNT_CASES if case[0] != "AFTERDEATH"})
    ep.check_inputs(adsl, adrs_of([]), out, {"adsl": "a", "adrs": "r", "outcomes": "o"})


def test_bad_input_lists_every_problem():
    adsl, out = cohort(
        {
            "A": dict(death=-5, last=100),  # death before index
            "B": dict(end=None, stop="toxicity", last=100),  # stopped without an end date
        }
    )
    files = {"adsl": "results/derived/adsl.parquet", "adrs": "results/derived/adrs.parquet", "outcomes": "o.parquet"}
    with pytest.raises(DerivationError) as err:
        ep.check_inputs(adsl, adrs_of([]), out, files)
    msg = str(err.value)
    assert "derive_endpoints" in msg
    assert "patient A, column death_date" in msg
    assert "patient B, column salvage_end_date" in msg
    with pytest.raises(DerivationError, match="column 'DIALBL' is missing"):
        ep.check_inputs(adsl.drop(columns="DIALBL"), adrs_of([]), out, files)


@pytest.mark.parametrize("text", ["plain", "with, comma", 'with "quote"'])
def test_fast_csv_writer_matches_the_shared_writer(tmp_path, text):
    """The Arrow-based writer used for ADRS/ADTTE gives the same bytes as
    the pandas reference writer (the comma/quote cases take csvout's pandas fallback)."""
    import numpy as np

    from alsalvage import csvout
    from helpers import pandas_write_dataset

    df = pd.DataFrame(
        {
            "USUBJID": ["B", "A", "C"],
            "TXT": [text, None, "x"],
            "AVAL": [1.0, np.nan, 15.835728952772074],
            "CNSR": [0, 1, 2],
            "ADY": pd.array([3, None, -1], dtype="Int64"),
            "ADT": [d(1), NaT, d(400)],
            "FL": [True, False, True],
        }
    )
    pandas_write_dataset(df, tmp_path / "a.csv", tmp_path / "a.parquet", ["USUBJID"])
    csvout.write_dataset(df, tmp_path / "b.csv", tmp_path / "b.parquet", ["USUBJID"])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert pd.read_parquet(tmp_path / "a.parquet").equals(pd.read_parquet(tmp_path / "b.parquet"))


def test_hematologic_pfs_of_a_progressing_nonresponder_from_the_labs():
    """Labs -> ADRS (responses.derive_adrs) -> ADTTE. Kappa clone, baseline kappa 400 /
    lambda 10 (iFLC 400, dFLC 390, measurable), serum M 10 g/L; IFE positive throughout.
    NR: day 30 kappa 400 (fall 0%), day 90 kappa 700: +75% from the nadir 400 and > 100
    -> hematologic progression day 90 (default progression_from_nonresponse: true);
    next line day 120, last contact day 400.
    MP: day 30 NR (kappa 400, serum M 10); day 60 serum M 15 only (no FLC, no IFE): +50%
    and > 5 g/L -> progression day 60.
    STRICT (false, the letter of the criteria): neither progresses; NR censored at its last
    assessment day 90 (before the next line), MP at day 60 (a date with M-protein only
    is a date on which progression could have been seen)."""
    import yaml

    from alsalvage.responses import ADSL_COLUMNS, derive_adrs
    from helpers import REPO

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    ids = ["MP", "NR"]
    adsl = pd.DataFrame({c: [float("nan")] * 2 for c in ADSL_COLUMNS})
    adsl["USUBJID"], adsl["TRTSDT"], adsl["ISOTYPE"] = ids, T0, "kappa"
    adsl["SEX"], adsl["BRTHDT"] = "M", pd.Timestamp("1960-01-01")
    adsl[["HEART", "KIDNEY", "LIVER", "DIALBL"]] = 0
    adsl["DFLCBL"], adsl["IFLCBL"], adsl["KLRATBL"] = 390.0, 400.0, 40.0
    adsl["SIFEBL"], adsl["UIFEBL"], adsl["SMPROTBL"] = 1.0, 1.0, 10.0
    adsl["HEMEVAL"] = "measurable"  # ADSL's evaluability (dFLC 390)
    rows = {"patient_id": ids, "salvage_end_date": d(100), "stop_reason": "no_response", "next_line_date": d(120)}
    out = pd.DataFrame(rows | {"dialysis_start_date": NaT, "last_contact_date": d(400), "death_date": NaT})
    panel = {"flc_kappa": 400, "flc_lambda": 10, "serum_ife": 1, "urine_ife": 1}
    labs = [("NR", 30, panel), ("NR", 90, dict(panel, flc_kappa=700))]
    labs += [("MP", 30, dict(panel, serum_mprotein=10)), ("MP", 60, {"serum_mprotein": 15})]
    labs = pd.DataFrame(
        [dict(patient_id=p, date=d(day), analyte=a, value=float(v)) for p, day, vals in labs for a, v in vals.items()]
    )
    got = {}
    for name, flag in (("default", cfg["hematologic"]["progression_from_nonresponse"]), ("strict", False)):
        params = {k: cfg[k] for k in ("hematologic", "cardiac", "renal", "liver", "egfr")}
        params["hematologic"] = dict(params["hematologic"], progression_from_nonresponse=flag)
        adrs = derive_adrs(adsl, out, labs, params)
        adrs = adrs[["USUBJID", "PARAMCD", "ADT"]].astype({"USUBJID": str, "PARAMCD": str})
        t = ep.derive_adtte(adsl[["USUBJID", "TRTSDT", "DIALBL"]], adrs, out,
                            PARAMS)
        got[name] = {r.USUBJID: (r.CNSR, r.ADT) for r in t[t["PARAMCD"] == "HEMPFS"].itertuples()}
    assert got["default"] == {"MP": (0, d(60)), "NR": (0, d(90))}
    assert got["strict"] == {"MP": (1, d(60)), "NR": (1, d(90))}
