"""Prior-exposure categories from the lines of therapy given before the index date.

The agents that define exposure are configured (config ``prior_exposure``: ``agents`` and
``classes``, a class naming every agent of that class in the study's drug dictionary:
``contract.AGENT_CLASSES`` with config ``drugs.agents`` merged in);
bortezomib by default, the seed study's grouping. ``prior_exposure: null`` means no grouping
(``exposure_categories`` is then not called; ADSL carries PEXGRP = "none", PEXFL = 0).

Seed-study definition (clinical-criteria.md section 7), on the most recent
exposure-defining line (a line containing any of the configured agents) before the index
date:

- naive: no exposure-defining line before the index date;
- sensitive (potentially sensitive): best response of that line >= PR AND progression
  came more than ``sensitive_relapse_after_days`` days after its last dose;
- refractory: exposed and not potentially sensitive.

The last dose is the line's ``end_date``; ``last_bortezomib_date`` replaces it when the
exposure is defined by bortezomib alone (that column dates the last bortezomib dose, not
another agent's). A missing progression date is imputed by the start of the next line (or
the index date when the exposure line is the last line before salvage) and flagged
(PEXPDIM = 1).

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

from .contract import DrugDictionary
from .derive_common import days_between, sort_stable

RESPONDED = ("CR", "VGPR", "PR")
NO_RESPONSE = ("NR", "NE")
NO_GROUP = "none"  # PEXGRP when the study has no prior-exposure grouping
LAST_DOSE_COLUMN = {"bortezomib": "last_bortezomib_date"}  # agent -> its last-dose column


def contains_agents(agents: pd.Series, names) -> pd.Series:
    """True where the ';'-separated agent list names any of ``names`` (case-insensitive)."""
    want = {str(n).strip().lower() for n in names}
    # the regimens repeat: match each distinct agent list once, then broadcast
    codes, uniq = pd.factorize(agents.fillna(""))
    hit = np.array([bool(want.intersection(x.strip() for x in str(u).lower().split(";"))) for u in uniq], dtype=bool)
    return pd.Series(hit[codes] if len(codes) else np.zeros(0, dtype=bool), index=agents.index)


def prior_lines(lines: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Lines started before the index date (columns of ``lines`` plus index_date)."""
    m = lines.merge(index[["patient_id", "index_date"]], on="patient_id", how="inner")
    return m[m["start_date"] < m["index_date"]]


def no_grouping(index: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``exposure_categories`` for a study without grouping: PEXGRP
    "none", the flags 0, no line or dates."""
    out = index[["patient_id"]].drop_duplicates().reset_index(drop=True)
    out["PEXFL"] = np.zeros(len(out), dtype="int64")
    out["PEXGRP"] = pd.Series([NO_GROUP] * len(out), dtype=object)
    out["PEXR60"] = np.zeros(len(out), dtype="int64")
    out["PEXPDIM"] = np.zeros(len(out), dtype="int64")
    return out


def exposure_categories(
    lines: pd.DataFrame, index: pd.DataFrame, cfg: Mapping | None, drugs: DrugDictionary
) -> pd.DataFrame:
    """One row per patient of ``index`` (patient_id, index_date): PEXFL, PEXGRP,
    PEXR60, PEXPDIM, PEXLINE (the exposure line), PEXLDDT (last dose), PEXPDDT
    (progression date used). ``cfg`` is the ``prior_exposure`` config section; None (no
    grouping) gives ``no_grouping``. ``drugs``: the study's drug dictionary (config
    ``drugs`` merged in), in which ``cfg``'s agents and classes are looked up."""
    if cfg is None:
        return no_grouping(index)
    names = drugs.exposure_agents(cfg)  # an unknown agent or an empty class: ValueError
    last_col = LAST_DOSE_COLUMN.get(names[0]) if len(names) == 1 else None
    prior = sort_stable(prior_lines(lines, index), ["patient_id", "line"])
    # next line's start (within the prior lines), else the index date
    prior["next_start"] = prior.groupby("patient_id")["start_date"].shift(-1)
    prior["next_start"] = prior["next_start"].fillna(prior["index_date"])

    ex = prior[contains_agents(prior["agents"], names)]
    last = ex.groupby("patient_id", sort=True).tail(1).set_index("patient_id")

    last_dose = last[last_col].fillna(last["end_date"]) if last_col and last_col in last else last["end_date"]
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
            "PEXLINE": last["line"].astype("int64"),
            "PEXLDDT": last_dose,
            "PEXPDDT": prog,
        },
        index=last.index,
    )
    out = index[["patient_id"]].drop_duplicates().merge(per, left_on="patient_id", right_index=True, how="left")
    out["PEXFL"] = out["PEXFL"].fillna(0).astype("int64")
    out["PEXGRP"] = out["PEXGRP"].fillna("naive").astype(object)
    out["PEXR60"] = out["PEXR60"].fillna(0).astype("int64")
    out["PEXPDIM"] = out["PEXPDIM"].fillna(0).astype("int64")
    out["PEXLINE"] = out["PEXLINE"].astype("Int64")
    return out.reset_index(drop=True)
