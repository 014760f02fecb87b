"""ADAE: worst CTCAE grade per patient per term.

One row per patient and term: AETOXGR = worst grade; ANYFL = 'Y'; GR3FL = 'Y' when the
worst grade is >= 3; AEACN = the most severe action taken with lenalidomide for that
term over all its events (discontinued > interrupted > dose_reduced > none); ASTDT =
onset of the worst-grade event (the earliest when several share the worst grade).
"""

from __future__ import annotations

import pandas as pd

from .derive_common import DerivationError

RULE = "derive_adverse_events"
ACTION_RANK = {"none": 0, "dose_reduced": 1, "interrupted": 2, "discontinued": 3}
ADAE_COLUMNS = ["USUBJID", "AETERM", "AETOXGR", "ANYFL", "GR3FL", "AEACN", "ASTDT"]
REQUIRED = ["patient_id", "term", "grade", "onset_date", "action"]


def derive_adae(ae: pd.DataFrame, grade3: int = 3, file: str = "adverse_events") -> pd.DataFrame:
    """ADAE from the validated adverse_events table."""
    problems = [f"file {file}: column '{c}' is missing (needed by rule {RULE})" for c in REQUIRED if c not in ae]
    if not problems:
        df = ae.reset_index(drop=True)
        bad = df.index[~df["action"].isin(list(ACTION_RANK))]
        problems += [
            f"file {file}: row {i + 1} column 'action': unknown action '{df.at[i, 'action']}'" for i in bad[:20]
        ]
    if problems:
        raise DerivationError(RULE, problems)

    df = ae.assign(_act=ae["action"].map(ACTION_RANK), term=ae["term"].str.strip().str.lower())
    key = ["patient_id", "term"]
    # worst grade first, then earliest onset: the first row per key is the worst-grade event
    worst = df.sort_values([*key, "grade", "onset_date"], ascending=[True, True, False, True], kind="mergesort")
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
    return out[ADAE_COLUMNS].sort_values(["USUBJID", "AETERM"], kind="mergesort").reset_index(drop=True)


def incidence(adae: pd.DataFrame, treated: int) -> pd.DataFrame:
    """Patients with grade >= 3 per term and percentage of ``treated`` (a helper for checks)."""
    g3 = adae[adae["GR3FL"] == "Y"].groupby("AETERM")["USUBJID"].nunique()
    return pd.DataFrame({"n": g3, "pct": 100.0 * g3 / treated}).reset_index()
