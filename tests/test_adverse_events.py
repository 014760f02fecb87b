"""ADAE: worst CTCAE grade per patient and term (clinical-criteria section 9, toxicity)."""

from __future__ import annotations

import pandas as pd
import pytest

from alsalvage.adverse_events import ADAE_COLUMNS, derive_adae, incidence
from alsalvage.derive_common import DerivationError

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


@pytest.fixture(scope="module")
def adae():
    return derive_adae(_ae()).set_index(["USUBJID", "AETERM"])


def test_one_row_per_patient_and_term(adae):
    assert adae.index.is_unique
    assert len(adae) == len(EXPECTED)
    assert ["USUBJID", "AETERM", *adae.columns] == ADAE_COLUMNS


@pytest.mark.parametrize("pid,term,grade,gr3,act,start,how", EXPECTED)
def test_worst_grade(adae, pid, term, grade, gr3, act, start, how):
    row = adae.loc[(pid, term)]
    assert row["AETOXGR"] == grade, how
    assert row["GR3FL"] == gr3, how
    assert row["AEACN"] == act, how
    assert row["ASTDT"] == pd.Timestamp(start), how
    assert row["ANYFL"] == "Y"


def test_incidence_counts_patients_not_events(adae):
    inc = incidence(adae.reset_index(), treated=50).set_index("AETERM")
    # anemia: P1 had two grade-3 events but counts once: 1/50 = 2%
    assert inc.at["anemia", "n"] == 1 and inc.at["anemia", "pct"] == pytest.approx(2.0)
    assert "fatigue" not in inc.index  # worst grade 2


def test_bad_rows_reported_together():
    bad = _ae(EVENTS + [("P4", "rash", 2, "2020-01-01", "stopped"), ("P5", "rash", 2, "2020-01-01", "paused")])
    with pytest.raises(DerivationError) as err:
        derive_adae(bad, file="results/validated/adverse_events.parquet")
    probs = err.value.problems
    assert len(probs) == 2
    assert "row 10 column 'action'" in probs[0] and "stopped" in probs[0]
    assert "row 11" in probs[1] and "derive_adverse_events" in str(err.value)


def test_missing_column_is_named():
    with pytest.raises(DerivationError, match="column 'grade'"):
        derive_adae(_ae().drop(columns=["grade"]))


def test_input_order_does_not_matter():
    a = derive_adae(_ae())
    b = derive_adae(_ae().sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a, b)
