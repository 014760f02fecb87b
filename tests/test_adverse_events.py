"""ADAE: worst CTCAE grade per patient, term and treatment-emergent flag (clinical-criteria
section 9, toxicity; TRTEMFL window: docs/methods.md, adverse events)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from alsalvage.adverse_events import ADAE_COLUMNS, derive_adae, incidence
from alsalvage.derive_common import DerivationError
from helpers import REPO

TEAE_DAYS = yaml.safe_load((REPO / "config.yaml").read_text())["exposure"]["teae_days_after_last_dose"]

# patient, term, grade, onset, action
EVENTS = [
    ("P1", "anemia", 2, "2020-01-10", "none"),
    ("P1", "anemia", 3, "2020-02-01", "dose_reduced"),
    ("P1", "anemia", 3, "2020-01-20", "interrupted"),
    ("P1", "fatigue", 2, "2020-03-01", "discontinued"),
    ("P2", "rash maculo-papular", 4, "2020-02-02", "none"),
    ("P2", "diarrhea", 1, "2020-02-10", "none"),
    ("P2", "Diarrhea ", 3, "2020-03-10", "dose_reduced"),
    ("P3", "thrombocytopenia", 3, "2020-04-01", "none"),
    ("P3", "thrombocytopenia", 5, "2020-05-01", "none"),
]

# patient, term, AETOXGR, GR3FL, AEACN, ASTDT, hand reasoning
EXPECTED = [
    (
        "P1",
        "anemia",
        3,
        "Y",
        "interrupted",
        "2020-01-20",
        "worst 3 (twice): earliest onset; interrupted > dose_reduced",
    ),
    ("P1", "fatigue", 2, "N", "discontinued", "2020-03-01", "grade 2 < 3 but it led to discontinuation"),
    ("P2", "rash maculo-papular", 4, "Y", "none", "2020-02-02", "single event"),
    ("P2", "diarrhea", 3, "Y", "dose_reduced", "2020-03-10", "term case/space normalised: worst of 1 and 3"),
    ("P3", "thrombocytopenia", 5, "Y", "none", "2020-05-01", "grade 5 wins"),
]


def _ae(rows=EVENTS):
    df = pd.DataFrame(rows, columns=["patient_id", "term", "grade", "onset_date", "action"])
    df["onset_date"] = pd.to_datetime(df["onset_date"])
    df["grade"] = df["grade"].astype("int64")
    return df


def _adsl(rows):
    """ADSL rows (USUBJID, TRTSDT first dose, TRTEDT last dose or None when ongoing,
    optionally NXTLNDT start of the next line, None when there is none)."""
    rows = [tuple(r) + (None,) * (4 - len(r)) for r in rows]
    df = pd.DataFrame(rows, columns=["USUBJID", "TRTSDT", "TRTEDT", "NXTLNDT"])
    for c in ("TRTSDT", "TRTEDT", "NXTLNDT"):
        df[c] = pd.to_datetime(df[c])
    return df


# first dose 2020-01-01, ongoing: every event of EVENTS is treatment-emergent
ADSL = _adsl([(p, "2020-01-01", None) for p in ("P1", "P2", "P3", "P4", "P5")])


def _derive(ae, adsl=ADSL, days=TEAE_DAYS, **kw):
    return derive_adae(ae, adsl, days, **kw)


@pytest.fixture(scope="module")
def adae():
    out = _derive(_ae())
    assert (out["TRTEMFL"] == "Y").all()
    return out.drop(columns="TRTEMFL").set_index(["USUBJID", "AETERM"])


def test_one_row_per_patient_and_term(adae):
    assert adae.index.is_unique
    assert len(adae) == len(EXPECTED)
    assert ["USUBJID", "AETERM", "TRTEMFL", *adae.columns] == ADAE_COLUMNS


@pytest.mark.parametrize("pid,term,grade,gr3,act,start,how", EXPECTED)
def test_worst_grade(adae, pid, term, grade, gr3, act, start, how):
    row = adae.loc[(pid, term)]
    assert row["AETOXGR"] == grade, how
    assert row["GR3FL"] == gr3, how
    assert row["AEACN"] == act, how
    assert row["ASTDT"] == pd.Timestamp(start), how
    assert row["ANYFL"] == "Y"


def test_incidence_counts_patients_not_events(adae):
    inc = incidence(adae.reset_index().assign(TRTEMFL="Y"), treated=50).set_index("AETERM")
    # anemia: P1 had two grade-3 events but counts once: 1/50 = 2%
    assert inc.at["anemia", "n"] == 1 and inc.at["anemia", "pct"] == pytest.approx(2.0)
    assert "fatigue" not in inc.index  # worst grade 2


def test_bad_rows_reported_together():
    bad = _ae(EVENTS + [("P4", "rash", 2, "2020-01-01", "stopped"), ("P5", "rash", 2, "2020-01-01", "paused")])
    with pytest.raises(DerivationError) as err:
        _derive(bad, file="results/validated/adverse_events.parquet")
    probs = err.value.problems
    assert len(probs) == 2
    assert "row 10 column 'action'" in probs[0] and "stopped" in probs[0]
    assert "row 11" in probs[1] and "derive_adverse_events" in str(err.value)


def test_missing_column_is_named():
    with pytest.raises(DerivationError, match="column 'grade'"):
        _derive(_ae().drop(columns=["grade"]))


def test_input_order_does_not_matter():
    a = _derive(_ae())
    b = _derive(_ae().sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- treatment-emergent window
# Each case is one patient with one grade-3 event: first dose, last dose (None = ongoing),
# onset, expected TRTEMFL, hand reasoning. Window = 30 days (config default) after the
# last dose, inclusive. 2020 is a leap year; June has 30 days, July 31.
WINDOW = [
    ("day_before_first_dose", "2020-01-01", "2020-06-30", "2019-12-31", "N", "onset 1 day before the first dose"),
    ("first_dose_day", "2020-01-01", "2020-06-30", "2020-01-01", "Y", "onset on the first dose day"),
    ("last_dose_day", "2020-01-01", "2020-06-30", "2020-06-30", "Y", "onset on the last dose day"),
    ("last_dose_plus_30", "2020-01-01", "2020-06-30", "2020-07-30", "Y", "06-30 + 30 d = 07-30: inside"),
    ("last_dose_plus_31", "2020-01-01", "2020-06-30", "2020-07-31", "N", "06-30 + 31 d = 07-31: outside"),
    ("ongoing_years_later", "2020-01-01", None, "2023-03-01", "Y", "ongoing therapy: the window has no end"),
    ("ongoing_before_first_dose", "2020-01-01", None, "2019-11-30", "N", "ongoing, but onset before the first dose"),
    ("missing_onset", "2020-01-01", "2020-06-30", None, "Y", "no onset date: counted (conservative)"),
    ("never_dosed", None, None, "2020-02-01", "N", "no first dose: nothing is treatment-emergent"),
]  # fmt: skip


def _window_inputs(cases=WINDOW):
    ae = _ae([(pid, "anemia", 3, onset, "none") for pid, _, _, onset, _, _ in cases])
    return ae, _adsl([(pid, first, last) for pid, first, last, _, _, _ in cases])


@pytest.fixture(scope="module")
def window():
    ae, adsl = _window_inputs()
    return _derive(ae, adsl).set_index("USUBJID")


@pytest.mark.parametrize("pid,first,last,onset,flag,how", WINDOW, ids=[c[0] for c in WINDOW])
def test_treatment_emergent_window(window, pid, first, last, onset, flag, how):
    assert window.at[pid, "TRTEMFL"] == flag, how
    # the row stays in ADAE whatever the flag, with its grade
    assert window.at[pid, "AETOXGR"] == 3 and window.at[pid, "GR3FL"] == "Y"


# The next line of therapy ends the window: an event from the day the next line starts
# belongs to that line. Each case: first dose, last dose, next line start, onset, expected
# TRTEMFL, hand reasoning (window 30 days after the last dose).
NEXT_LINE = [
    ("before_next_line", "2020-01-01", "2020-06-30", "2020-07-15", "2020-07-14", "Y", "07-14 < next line 07-15, inside 30 d"),
    ("on_next_line_day", "2020-01-01", "2020-06-30", "2020-07-15", "2020-07-15", "N", "onset on the next line's first day"),
    ("after_next_line", "2020-01-01", "2020-06-30", "2020-07-15", "2020-07-20", "N", "inside 30 d of the last dose, but on the next line"),
    ("next_line_after_window", "2020-01-01", "2020-06-30", "2020-09-01", "2020-07-30", "Y", "next line later than last dose + 30 d: no effect"),
    ("ongoing_then_next_line", "2020-01-01", None, "2021-01-01", "2021-02-01", "N", "no last dose recorded, next line ends the window"),
    ("ongoing_before_next_line", "2020-01-01", None, "2021-01-01", "2020-12-31", "Y", "no last dose, onset the day before the next line"),
    ("no_next_line", "2020-01-01", "2020-06-30", None, "2020-07-30", "Y", "no next line: the 30-day window alone"),
]  # fmt: skip


@pytest.mark.parametrize("pid,first,last,nxt,onset,flag,how", NEXT_LINE, ids=[c[0] for c in NEXT_LINE])
def test_next_line_ends_the_window(pid, first, last, nxt, onset, flag, how):
    ae = _ae([(pid, "anemia", 3, onset, "none")])
    out = _derive(ae, _adsl([(pid, first, last, nxt)]))
    assert out["TRTEMFL"].tolist() == [flag], how


def test_missing_onset_counts_even_with_a_next_line():
    out = _derive(_ae([("P1", "anemia", 3, None, "none")]), _adsl([("P1", "2020-01-01", "2020-06-30", "2020-07-15")]))
    assert out["TRTEMFL"].tolist() == ["Y"]


def test_window_length_is_the_parameter():
    # 31 days after the last dose: outside with 30, inside with 31
    ae, adsl = _window_inputs([c for c in WINDOW if c[0] == "last_dose_plus_31"])
    assert _derive(ae, adsl, 30)["TRTEMFL"].tolist() == ["N"]
    assert _derive(ae, adsl, 31)["TRTEMFL"].tolist() == ["Y"]


def test_events_outside_the_window_get_their_own_row_and_no_incidence():
    # P1 anemia: grade 3 before the first dose (N), grade 2 on therapy (Y); P2 fatigue:
    # grade 4 at last dose + 40 d (N) and grade 1 on therapy (Y). Hand count of treatment-
    # emergent grade >= 3 patients: none (the grade-3/4 events are outside the window).
    ae = _ae(
        [
            ("P1", "anemia", 3, "2019-12-15", "none"),
            ("P1", "anemia", 2, "2020-02-01", "dose_reduced"),
            ("P2", "fatigue", 4, "2020-08-09", "none"),
            ("P2", "fatigue", 1, "2020-03-01", "none"),
        ]
    )
    adsl = _adsl([("P1", "2020-01-01", None), ("P2", "2020-01-01", "2020-06-30")])
    out = _derive(ae, adsl).set_index(["USUBJID", "AETERM", "TRTEMFL"])
    assert len(out) == 4
    assert out.loc[("P1", "anemia", "N"), "AETOXGR"] == 3
    assert out.loc[("P1", "anemia", "Y"), "AETOXGR"] == 2
    assert out.loc[("P1", "anemia", "Y"), "AEACN"] == "dose_reduced"
    assert out.loc[("P1", "anemia", "N"), "AEACN"] == "none"
    assert out.loc[("P2", "fatigue", "N"), "ASTDT"] == pd.Timestamp("2020-08-09")  # 06-30 + 40 d
    assert out.loc[("P2", "fatigue", "Y"), "GR3FL"] == "N"
    assert incidence(out.reset_index(), treated=2).empty


def test_patient_not_in_adsl_is_reported():
    ae = _ae([("P9", "rash", 2, "2020-01-05", "none")])
    with pytest.raises(DerivationError, match="patient 'P9' is not in adsl"):
        _derive(ae)
