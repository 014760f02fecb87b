"""Prior-bortezomib categories from the lines of therapy given before the index date.

Seed-study definition (clinical-criteria.md section 7), on the most recent
bortezomib-containing line before the index date:

- naive: no bortezomib-containing line before the index date;
- sensitive (potentially sensitive): best response of that line >= PR AND progression
  came more than ``sensitive_relapse_after_days`` days after its last bortezomib dose;
- refractory: exposed and not potentially sensitive.

The last dose is ``last_bortezomib_date``, else the line's ``end_date``. A missing
progression date is imputed by the start of the next line (or the index date when the
bortezomib line is the last line before salvage) and flagged (PEXPDIM = 1).

An imputed date is a stand-in, not an observed progression, and is used one way only:
it may make a responder *potentially sensitive* (next line more than 6 months after the
last dose; PEXPDIM = 1 marks that the category rests on it). A responder whose imputed
date falls within 6 months has no evidence of a response lasting 6 months and stays
*refractory* under the seed definition (exposed and not potentially sensitive), which
needs no progression date at all.

``refractory_60d`` (Rajkumar et al., Blood 2011), on the same line: no response
(best response NR or NE) or a DOCUMENTED progression within
``refractory_progression_within_days`` days of the last dose (progression on therapy,
i.e. before the last dose, included). An imputed date never makes a patient refractory
by this rule: the next line may have started for another reason than progression.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .derive_common import days_between, sort_stable

RESPONDED = ("CR", "VGPR", "PR")
NO_RESPONSE = ("NR", "NE")
_BORTEZOMIB = r"(?:^|;)\s*bortezomib\s*(?:;|$)"


def contains_bortezomib(agents: pd.Series) -> pd.Series:
    """True where the ';'-separated agent list names bortezomib (case-insensitive)."""
    # the regimens repeat: match each distinct agent list once, then broadcast
    codes, uniq = pd.factorize(agents.fillna(""))
    hit = pd.Series(uniq, dtype=object).str.lower().str.contains(_BORTEZOMIB, regex=True).to_numpy(dtype=bool)
    return pd.Series(hit[codes] if len(codes) else np.zeros(0, dtype=bool), index=agents.index)


def prior_lines(lines: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Lines started before the index date (columns of ``lines`` plus index_date)."""
    m = lines.merge(index[["patient_id", "index_date"]], on="patient_id", how="inner")
    return m[m["start_date"] < m["index_date"]]


def bortezomib_categories(lines: pd.DataFrame, index: pd.DataFrame, cfg: Mapping) -> pd.DataFrame:
    """One row per patient of ``index`` (patient_id, index_date): PEXFL, PEXGRP,
    PEXR60, PEXPDIM, BORTLINE, BORTLDDT (last dose), BORTPDDT (progression date used)."""
    prior = sort_stable(prior_lines(lines, index), ["patient_id", "line"])
    # next line's start (within the prior lines), else the index date
    prior["next_start"] = prior.groupby("patient_id")["start_date"].shift(-1)
    prior["next_start"] = prior["next_start"].fillna(prior["index_date"])

    bz = prior[contains_bortezomib(prior["agents"])]
    last = bz.groupby("patient_id", sort=True).tail(1).set_index("patient_id")

    last_dose = (
        last["last_bortezomib_date"].fillna(last["end_date"]) if "last_bortezomib_date" in last else last["end_date"]
    )
    imputed = last["progression_date"].isna()
    prog = last["progression_date"].fillna(last["next_start"])
    gap = days_between(last_dose, prog)
    responded = last["best_response"].isin(RESPONDED)
    sensitive = responded & (gap > float(cfg["sensitive_relapse_after_days"]))
    # refractoriness needs an observed progression; an imputed date only supports sensitivity
    early_pd = ~imputed & (gap <= float(cfg["refractory_progression_within_days"]))
    r60 = last["best_response"].isin(NO_RESPONSE) | early_pd

    per = pd.DataFrame(
        {
            "PEXFL": 1,
            "PEXGRP": np.where(sensitive, "sensitive", "refractory"),
            "PEXR60": r60.astype("int64"),
            "PEXPDIM": imputed.astype("int64"),
            "BORTLINE": last["line"].astype("int64"),
            "BORTLDDT": last_dose,
            "BORTPDDT": prog,
        },
        index=last.index,
    )
    out = index[["patient_id"]].drop_duplicates().merge(per, left_on="patient_id", right_index=True, how="left")
    out["PEXFL"] = out["PEXFL"].fillna(0).astype("int64")
    out["PEXGRP"] = out["PEXGRP"].fillna("naive").astype(object)
    out["PEXR60"] = out["PEXR60"].fillna(0).astype("int64")
    out["PEXPDIM"] = out["PEXPDIM"].fillna(0).astype("int64")
    out["BORTLINE"] = out["BORTLINE"].astype("Int64")
    return out.reset_index(drop=True)
