"""ADTTE: time-to-event endpoints from the index date (salvage cycle 1 day 1).

One row per patient and PARAMCD: OS, TTDIAL (patients not on dialysis at index),
HEMPFS, TOT and TTNT. AVAL = days / days_per_month. CNSR keeps its ADaM meaning, 0 = the
parameter's event, 1 = no event of the parameter; the outcome of a competing-risks
parameter is CAUSEN: 0 censored, 1 the event, 2 the competing event (TTDIAL: death
without dialysis, CNSR 1). CRSKFL = "Y" marks every row of a competing-risks parameter:
analyse it with CAUSEN (cumulative incidence), never as 1 - Kaplan-Meier of CNSR.
Pure, vectorised functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import datasets
from .derive_common import OUTCOME_COLUMNS, DerivationError, days_between, months, outcomes_adam, require_columns
from .hematologic import progression_end
from .study import Wording

RULE = "derive_endpoints"
PARAMS = {
    "OS": "Overall survival (months)",
    "TTDIAL": "Time to chronic dialysis (months)",
    "HEMPFS": "Hematologic progression-free survival (months)",
    "TOT": "Time on {regimen} (months)",  # the study's words: alsalvage.study
    "TTNT": "Time to next treatment (months)",
}
# config endpoints.ttnt_death: a death before any next line ends TTNT as an event or censored
TTNT_DEATH = ("event", "censor")
ADTTE_COLUMNS = datasets.columns("adtte")
# parameters analysed with a competing event (CRSKFL = "Y" on their rows)
COMPETING_RISKS_PARAMS = ("TTDIAL",)
CAUSE_CENSORED, CAUSE_EVENT, CAUSE_COMPETING = 0, 1, 2
# the derived-dataset columns this stage reads (checked by datasets.problems)
NEEDS = {"adsl": ["USUBJID", "TRTSDT", "DIALBL"], "adrs": ["USUBJID", "PARAMCD", "ADT"]}
ADRS_PARAMS_USED = ("HEMPROG", "HEMRESP")


def _rows(df: pd.DataFrame, paramcd: str, adt, cause, evnt, cnsd, days_per_month: float) -> pd.DataFrame:
    """ADTTE rows from the outcome of each patient, `cause` coded CAUSE_* (0/1/2); CNSR
    follows from it (0 only for the parameter's event)."""
    cause = np.asarray(cause, dtype="int64")
    if (cause == CAUSE_COMPETING).any() and paramcd not in COMPETING_RISKS_PARAMS:
        raise ValueError(f"{paramcd}: a competing event in a parameter without competing risks")
    out = pd.DataFrame(
        {
            "USUBJID": df["USUBJID"].to_numpy(),
            "PARAMCD": paramcd,
            "PARAM": PARAMS[paramcd],
            "STARTDT": df["TRTSDT"].to_numpy(),
            "ADT": pd.to_datetime(pd.Series(adt)).to_numpy(),
            "CNSR": np.where(cause == CAUSE_EVENT, 0, 1).astype("int64"),
            "CAUSEN": cause,
            "CRSKFL": "Y" if paramcd in COMPETING_RISKS_PARAMS else None,
            "EVNTDESC": np.asarray(evnt, dtype=object),
            "CNSDTDSC": np.asarray(cnsd, dtype=object),
        }
    )
    out["AVAL"] = months(days_between(out["STARTDT"], out["ADT"]), days_per_month)
    out["EVNTDESC"] = out["EVNTDESC"].where(out["EVNTDESC"].notna(), None)
    out["CNSDTDSC"] = out["CNSDTDSC"].where(out["CNSDTDSC"].notna(), None)
    return out[ADTTE_COLUMNS]


def death_or_last_contact(p: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(end date, died) per patient: the death date for the dead, the last contact for
    the living. The one end of follow-up when the parameter's own event (if any) did not
    happen first: OS, TTDIAL and TTNT call it."""
    dead = p["DTHDT"].notna().to_numpy()
    return np.where(dead, p["DTHDT"], p["LSTCNTDT"]), dead


def overall_survival(p: pd.DataFrame, dpm: float) -> pd.DataFrame:
    """Index -> death from any cause; alive patients censored at last contact."""
    adt, dead = death_or_last_contact(p)
    return _rows(
        p,
        "OS",
        adt,
        np.where(dead, CAUSE_EVENT, CAUSE_CENSORED),
        np.where(dead, "Death (any cause)", None),
        np.where(dead, None, "Alive at last contact"),
        dpm,
    )


def time_to_dialysis(p: pd.DataFrame, dpm: float) -> pd.DataFrame:
    """Patients not on dialysis at index. Event: start of chronic dialysis (CAUSEN 1,
    CNSR 0); death without dialysis: competing event (CAUSEN 2, CNSR 1, at death);
    otherwise censored at last contact (CAUSEN 0, CNSR 1)."""
    q = p[p["DIALBL"].astype("float64") != 1]
    dial = q["DIALDT"].notna().to_numpy()
    end, dead = death_or_last_contact(q)
    dead &= ~dial
    adt = np.where(dial, q["DIALDT"], end)
    return _rows(
        q,
        "TTDIAL",
        adt,
        np.select([dial, dead], [CAUSE_EVENT, CAUSE_COMPETING], CAUSE_CENSORED),
        np.select([dial, dead], ["Start of chronic dialysis", "Death without dialysis (competing event)"], None),
        np.where(dial | dead, None, "Alive without dialysis at last contact"),
        dpm,
    )


def hematologic_pfs(p: pd.DataFrame, adrs: pd.DataFrame, dpm: float) -> pd.DataFrame:
    """Index -> first hematologic progression (ADRS HEMPROG) or death, whichever
    first. A death after the start of a next line does not count. Without an event:
    censored at the last hematologic assessment (ADRS HEMRESP) up to the next-line
    start, death or last contact; with no such assessment, at the index date."""
    prog = adrs.loc[adrs["PARAMCD"] == "HEMPROG"].groupby("USUBJID")["ADT"].min().rename("PRGDT")
    ha = adrs.loc[adrs["PARAMCD"] == "HEMRESP", ["USUBJID", "ADT"]].merge(
        p[["USUBJID", "PRGEND"]], on="USUBJID", how="inner"
    )
    last = ha[ha["ADT"] <= ha["PRGEND"]].groupby("USUBJID")["ADT"].max().rename("LASTADT")
    q = p.merge(prog, on="USUBJID", how="left").merge(last, on="USUBJID", how="left")
    death_ok = q["DTHDT"].notna() & (q["NXTLNDT"].isna() | (q["DTHDT"] <= q["NXTLNDT"]))
    dthdt = q["DTHDT"].where(death_ok)
    is_prog = q["PRGDT"].notna() & (dthdt.isna() | (q["PRGDT"] <= dthdt))
    is_death = dthdt.notna() & ~is_prog
    has_last = q["LASTADT"].notna()
    adt = np.where(is_prog, q["PRGDT"], np.where(is_death, dthdt, np.where(has_last, q["LASTADT"], q["TRTSDT"])))
    event = (is_prog | is_death).to_numpy()
    return _rows(
        q,
        "HEMPFS",
        adt,
        np.where(event, CAUSE_EVENT, CAUSE_CENSORED),
        np.select([is_prog, is_death], ["Hematologic progression", "Death"], None),
        np.select(
            [event, has_last.to_numpy()],
            [None, "Last hematologic assessment"],
            "No hematologic assessment after index (censored at index)",
        ),
        dpm,
    )


def time_on_treatment(p: pd.DataFrame, dpm: float, wording: Wording) -> pd.DataFrame:
    """Index -> salvage end. Event: stop for any reason (completed, progression,
    toxicity, death, decision, ...); 'ongoing' therapy is censored at last contact.
    PARAM and EVNTDESC name the regimen in the study's words (``wording``)."""
    ongoing = (p["STOPRSN"] == "ongoing").to_numpy()
    adt = np.where(ongoing, p["LSTCNTDT"], p["TRTEDT"])
    stopped = wording.regimen[:1].upper() + wording.regimen[1:] + " stopped: "
    out = _rows(
        p,
        "TOT",
        adt,
        np.where(ongoing, CAUSE_CENSORED, CAUSE_EVENT),
        np.where(ongoing, None, stopped + p["STOPRSN"].astype(str)),
        np.where(ongoing, "Ongoing at last contact", None),
        dpm,
    )
    out["PARAM"] = wording.fill(PARAMS["TOT"])
    return out


def time_to_next_treatment(p: pd.DataFrame, dpm: float, death: str) -> pd.DataFrame:
    """Index -> start of the next line of therapy (NXTLNDT; event). A death before any
    next line ends follow-up at the death: an event with ``death`` "event" (config
    endpoints.ttnt_death), censored with "censor". A next line and a death on the same
    day: the next line is the event. Otherwise censored at last contact."""
    if death not in TTNT_DEATH:
        raise ValueError(f"endpoints.ttnt_death: {death!r} is not one of {', '.join(TTNT_DEATH)}")
    nxt = (p["NXTLNDT"].notna() & (p["DTHDT"].isna() | (p["NXTLNDT"] <= p["DTHDT"]))).to_numpy()
    end, dead = death_or_last_contact(p)
    dead &= ~nxt
    death_event = death == "event"
    event = nxt | (dead & death_event)
    return _rows(
        p,
        "TTNT",
        np.where(nxt, p["NXTLNDT"], end),
        np.where(event, CAUSE_EVENT, CAUSE_CENSORED),
        np.select([nxt, dead & death_event], ["Start of next line of therapy", "Death without a next line"], None),
        np.select(
            [event, dead],
            [None, "Death without a next line (censored)"],
            "Alive without a next line at last contact",
        ),
        dpm,
    )


def build_base(adsl: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    o = outcomes_adam(outcomes)
    p = adsl[NEEDS["adsl"]].merge(o, on="USUBJID", how="left", validate="one_to_one")
    p["PRGEND"] = progression_end(p["NXTLNDT"], p["DTHDT"], p["LSTCNTDT"])
    return p.sort_values("USUBJID", kind="mergesort").reset_index(drop=True)


def read_inputs(files: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Read ADSL, the outcomes and the ADRS columns and rows used (USUBJID, PARAMCD, ADT
    of the HEMPROG and HEMRESP rows)."""
    missing = [f"file {p}: not found" for p in files.values() if not Path(p).exists()]
    if missing:
        raise DerivationError(RULE, missing)
    schema = pq.read_schema(files["adrs"])
    have = set(schema.names)
    # only the HEMPROG and HEMRESP rows are used (hematologic PFS): filtered while
    # reading, a third of the 4-5 million ADRS rows of a 100,000-patient cohort
    text = "PARAMCD" in have and pa.types.is_string(schema.field("PARAMCD").type)
    used = [("PARAMCD", "in", list(ADRS_PARAMS_USED))] if text else None
    adrs = pd.read_parquet(files["adrs"], columns=[c for c in NEEDS["adrs"] if c in have], filters=used)
    return {"adsl": pd.read_parquet(files["adsl"]), "adrs": adrs, "outcomes": pd.read_parquet(files["outcomes"])}


def check_inputs(adsl, adrs, outcomes, files: Mapping[str, str]) -> None:
    """Every problem at once, naming file, patient/row and column."""
    problems = datasets.problems({"adsl": adsl, "adrs": adrs}, files, NEEDS, RULE) + require_columns(
        outcomes, list(OUTCOME_COLUMNS), files["outcomes"], RULE
    )
    if problems:
        raise DerivationError(RULE, problems)
    p = build_base(adsl, outcomes)
    fo, fa = files["outcomes"], files["adsl"]
    checks = [
        (p["LSTCNTDT"].isna(), fo, "last_contact_date", "missing (patient has no outcome row?)"),
        (p["TRTSDT"].isna(), fa, "TRTSDT", "index date missing"),
        (p["DTHDT"] < p["TRTSDT"], fo, "death_date", "before the index date"),
        (p["LSTCNTDT"] < p["TRTSDT"], fo, "last_contact_date", "before the index date"),
        (
            (p["DIALBL"].astype("float64") != 1) & (p["DIALDT"] <= p["TRTSDT"]),
            fo,
            "dialysis_start_date",
            "on or before the index date but ADSL DIALBL is not 1",
        ),
        ((p["STOPRSN"] != "ongoing") & p["TRTEDT"].isna(), fo, "salvage_end_date", "missing for a stopped regimen"),
        (p["NXTLNDT"] <= p["TRTSDT"], fo, "next_line_date", "on or before the index date"),
        (p["NXTLNDT"] > p["LSTCNTDT"], fo, "next_line_date", "after the last contact"),
    ]
    for mask, file, col, msg in checks:
        for pid in p.loc[mask.fillna(False).astype(bool), "USUBJID"]:
            problems.append(f"file {file}: patient {pid}, column {col}: {msg}")
    if problems:
        raise DerivationError(RULE, problems)


def derive_adtte(adsl: pd.DataFrame, adrs: pd.DataFrame, outcomes: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """ADTTE from ADSL, ADRS and the validated outcomes; ``params`` = config endpoints and
    ``regimen`` (config study.regimen: the wording of time on treatment); its
    ``ttnt_death`` (event or censor) is how TTNT counts a death before any next line."""
    dpm = float(params["days_per_month"])
    wording = Wording.from_params({"regimen": params["regimen"]}, None)  # the regimen's words only
    p = build_base(adsl, outcomes)
    parts = [
        overall_survival(p, dpm),
        time_to_dialysis(p, dpm),
        hematologic_pfs(p, adrs, dpm),
        time_on_treatment(p, dpm, wording),
        time_to_next_treatment(p, dpm, params["ttnt_death"]),
    ]
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["USUBJID", "PARAMCD"], kind="mergesort").reset_index(drop=True)
