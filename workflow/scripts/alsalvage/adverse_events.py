"""ADAE: worst CTCAE grade per patient, term and treatment-emergent flag.

An event is treatment-emergent (TRTEMFL = 'Y') when its onset is on or after the first
dose (ADSL TRTSDT, cycle 1 day 1) and no later than ``teae_days`` days after the last
dose (ADSL TRTEDT, the salvage end date), and before the start of the next line of
therapy (ADSL NXTLNDT): an event from the day the next line starts belongs to that line,
even inside the days after the last dose. While therapy is ongoing (TRTEDT empty) the
window has no end other than a next line. An event without an onset date is counted as treatment-emergent (the
conservative convention: it cannot be shown to fall outside the window); the validation
stage requires an onset date, so this only applies to callers outside the workflow. A
patient without a first dose (no TRTSDT) has no treatment-emergent event.

One row per patient, term and TRTEMFL, so that events outside the window stay in ADAE
(flagged 'N') without touching the treatment-emergent row of the same term: AETOXGR =
worst grade; ANYFL = 'Y'; GR3FL = 'Y' when the worst grade is >= 3; AEACN = the most
severe action taken with the salvage regimen for that term over its events (discontinued >
interrupted > dose_reduced > none); ASTDT = onset of the worst-grade event (the earliest
when several share the worst grade). The toxicity tables count TRTEMFL = 'Y' rows only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import datasets
from .derive_common import DerivationError, days_between

RULE = "derive_adverse_events"
ACTION_RANK = {"none": 0, "dose_reduced": 1, "interrupted": 2, "discontinued": 3}
ADAE_COLUMNS = datasets.columns("adae")
REQUIRED = ["patient_id", "term", "grade", "onset_date", "action"]
ADSL_REQUIRED = ["USUBJID", "TRTSDT", "TRTEDT", "NXTLNDT"]  # checked by datasets.problems


def treatment_emergent(
    onset: pd.Series,
    first_dose: pd.Series,
    last_dose: pd.Series,
    teae_days: float,
    next_line: pd.Series | None = None,
) -> pd.Series:
    """True where an onset falls in the treatment-emergent window (module docstring);
    the series share one index. ``next_line``: start of the next line of therapy (None or
    empty = no next line)."""
    after_first = days_between(first_dose, onset) >= 0
    since_last = days_between(last_dose, onset)
    within_end = last_dose.isna() | (since_last <= float(teae_days))
    if next_line is not None:
        within_end &= next_line.isna() | (days_between(next_line, onset) < 0)
    dosed = first_dose.notna()
    return dosed & (onset.isna() | (after_first & within_end))


def derive_adae(
    ae: pd.DataFrame,
    adsl: pd.DataFrame,
    teae_days: float,
    grade3: int = 3,
    file: str = "adverse_events",
    adsl_file: str = "adsl",
) -> pd.DataFrame:
    """ADAE from the validated adverse_events table and ADSL (first and last dose)."""
    problems = [f"file {file}: column '{c}' is missing (needed by rule {RULE})" for c in REQUIRED if c not in ae]
    problems += datasets.problems({"adsl": adsl}, {"adsl": adsl_file}, {"adsl": ADSL_REQUIRED}, RULE)
    if not problems:
        df = ae.reset_index(drop=True)
        bad = df.index[~df["action"].isin(list(ACTION_RANK))]
        problems += [
            f"file {file}: row {i + 1} column 'action': unknown action '{df.at[i, 'action']}'" for i in bad[:20]
        ]
        unknown = df.index[~df["patient_id"].isin(adsl["USUBJID"])]
        problems += [
            f"file {file}: row {i + 1} column 'patient_id': patient '{df.at[i, 'patient_id']}' is not in {adsl_file}"
            for i in unknown[:20]
        ]
    if problems:
        raise DerivationError(RULE, problems)

    dates = adsl[ADSL_REQUIRED].drop_duplicates("USUBJID").set_index("USUBJID")
    pid = ae["patient_id"]
    first = pd.Series(dates["TRTSDT"].reindex(pid).to_numpy(), index=ae.index)
    last = pd.Series(dates["TRTEDT"].reindex(pid).to_numpy(), index=ae.index)
    nxt = pd.Series(dates["NXTLNDT"].reindex(pid).to_numpy(), index=ae.index)
    teae = treatment_emergent(ae["onset_date"], first, last, teae_days, nxt)

    df = ae.assign(
        _act=ae["action"].map(ACTION_RANK),
        term=ae["term"].str.strip().str.lower(),
        TRTEMFL=np.where(teae, "Y", "N").astype(object),
    )
    key = ["patient_id", "term", "TRTEMFL"]
    # worst grade first, then earliest onset: the first row per key is the worst-grade event
    worst = df.sort_values([*key, "grade", "onset_date"], ascending=[True, True, True, False, True], kind="mergesort")
    worst = worst.groupby(key, sort=True).head(1).set_index(key)
    act = df.groupby(key, sort=True)["_act"].max()
    inv = {v: k for k, v in ACTION_RANK.items()}
    out = pd.DataFrame(
        {
            "AETOXGR": worst["grade"].astype("int64"),
            "ANYFL": "Y",
            "GR3FL": (worst["grade"] >= grade3).map({True: "Y", False: "N"}),
            "AEACN": act.map(inv).reindex(worst.index),
            "ASTDT": worst["onset_date"],
        }
    ).reset_index()
    out = out.rename(columns={"patient_id": "USUBJID", "term": "AETERM"})
    order = ["USUBJID", "AETERM", "TRTEMFL"]
    return out[ADAE_COLUMNS].sort_values(order, kind="mergesort").reset_index(drop=True)


def incidence(adae: pd.DataFrame, treated: int) -> pd.DataFrame:
    """Patients with a treatment-emergent grade >= 3 event per term and percentage of
    ``treated`` (a helper for checks)."""
    g3 = adae[(adae["GR3FL"] == "Y") & (adae["TRTEMFL"] == "Y")].groupby("AETERM")["USUBJID"].nunique()
    return pd.DataFrame({"n": g3, "pct": 100.0 * g3 / treated}).reset_index()
