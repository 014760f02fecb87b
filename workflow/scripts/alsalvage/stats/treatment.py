"""Treatment: salvage exposure, discontinuation (`exposure`) and adverse events (`toxicity`).

exposure: starting and highest dose (ADSL STDOS, MXDOS) and the patients who reached the
agent's full dose (config study.agents full_dose), per salvage agent (a study of several
agents: keys exposure.<agent>.*, among the patients whose agent it is, ADSL TRTAGENT's
first), cycles and duration of therapy of the treated patients as median (range); time on treatment (ADTTE TOT) by Kaplan-Meier; early discontinuation and
its reasons (progression or no response, toxicity, decision, other) and death on therapy as
n (%) of all treated patients, Clopper-Pearson CIs.

toxicity: treatment-emergent adverse events only (ADAE TRTEMFL = Y, derived by
adverse_events.treatment_emergent): patients with any event and with any grade >= 3 event,
and per term (slug of AETERM) any grade and grade >= 3, each as n (%) of all treated
patients (worst grade per patient and term), most frequent grade >= 3 first.
"""

from __future__ import annotations

import re

import pandas as pd

from .. import formatting as F
from .records import count, describe, flag, km_records, prop, treated


def _unit_key(unit: str) -> str:
    """A dose unit as part of a results key: 'mg' -> 'mg', 'mg/kg' -> 'mg_kg'."""
    return re.sub(r"[^A-Za-z0-9]+", "_", unit).strip("_")


def dose_records(a: pd.DataFrame, agents) -> list[dict]:
    """Starting and highest dose and the patients who reached the full dose, per salvage
    agent: one agent's keys are exposure.dose, exposure.dose_max, exposure.dose_max.n_<full
    dose><unit> (the default study's exposure.dose_max.n_25mg); with several agents each
    agent's patients (their first agent, ADSL TRTAGENT) under exposure.<agent>.*."""
    recs = []
    first = a["TRTAGENT"].astype(object).map(lambda v: v.split(";")[0] if isinstance(v, str) else None)
    for ag in agents:
        name, unit, full = ag["name"], ag["dose_unit"], float(ag["full_dose"])
        prefix = "exposure" if len(agents) == 1 else f"exposure.{name}"
        d = a if len(agents) == 1 else a[first == name]
        recs += describe(f"{prefix}.dose", f"Starting {name} dose ({unit})", "exposure", d["STDOS"], unit, "range", 0)
        recs += describe(f"{prefix}.dose_max", f"Highest {name} dose ({unit})", "exposure", d["MXDOS"], unit, "range", 0)
        recs.append(
            count(
                f"{prefix}.dose_max.n_{full:g}{_unit_key(unit)}",
                f"Patients who received >= {full:g} {unit}",
                "exposure",
                (pd.to_numeric(d["MXDOS"], errors="coerce") >= full).sum(),
            )
        )
    return recs


def exposure(adsl, adtte, *, alpha, agents) -> list[dict]:
    """Salvage exposure and discontinuation (see the module docstring); ``agents``: config
    study.agents."""
    a = treated(adsl)
    recs = dose_records(a, list(agents))
    recs += describe("exposure.cycles", "Cycles", "exposure", a["NCYCLES"], "count", "range", 0)
    recs += describe(
        "exposure.duration", "Duration of therapy (months)", "exposure", a["TRTDURM"], "months", "range", 1
    )
    tot = adtte[(adtte["PARAMCD"] == "TOT") & adtte["USUBJID"].isin(a["USUBJID"])]
    if len(tot):
        recs += km_records(
            "exposure.tot_km",
            "Time on treatment (Kaplan-Meier)",
            "exposure",
            tot["AVAL"].astype(float),
            (tot["CNSR"] == 0).astype(int),
            (),
            alpha,
        )
    n = len(a)
    early = flag(a["EARLYDSC"])
    recs.append(
        prop(
            "discontinuation.early",
            "Stopped before completing planned therapy",
            "discontinuation",
            early.sum(),
            n,
            alpha,
        )
    )
    reason = a.loc[early, "STOPRSN"].fillna("other").astype(str)
    groups = {
        "progression_or_no_response": ["progression", "no_response"],
        "toxicity": ["toxicity"],
        "decision": ["patient_decision", "physician_decision"],
    }
    known = sum(groups.values(), [])
    for name, vals in groups.items():
        recs.append(
            prop(
                f"discontinuation.reason.{name}",
                f"Early stop: {name.replace('_', ' ')}",
                "discontinuation",
                reason.isin(vals).sum(),
                n,
                alpha,
            )
        )
    recs.append(
        prop(
            "discontinuation.reason.other",
            "Early stop: other reason",
            "discontinuation",
            (~reason.isin(known)).sum(),
            n,
            alpha,
        )
    )
    recs.append(
        prop(
            "discontinuation.death_on_therapy",
            "Died on {regimen}",
            "discontinuation",
            flag(a["DTHONTRT"]).sum(),
            n,
            alpha,
        )
    )
    return recs


# --------------------------------------------------------------------------- toxicity
def toxicity(adsl, adae, *, alpha) -> list[dict]:
    """Treatment-emergent adverse events (see the module docstring)."""
    a = treated(adsl)
    n = len(a)
    # treatment-emergent events only (TRTEMFL, derived by adverse_events.treatment_emergent)
    ae = adae[adae["USUBJID"].isin(a["USUBJID"]) & (adae["TRTEMFL"] == "Y")].copy()
    ae["slug"] = ae["AETERM"].map(F.slug)
    ae["gr3"] = ae["GR3FL"] == "Y"
    per = ae.groupby("slug").agg(term=("AETERM", "first"), any_n=("USUBJID", "nunique"))
    per["gr3_n"] = ae[ae["gr3"]].groupby("slug")["USUBJID"].nunique().reindex(per.index).fillna(0).astype(int)
    per = per.reset_index().sort_values(
        ["gr3_n", "any_n", "slug"], ascending=[False, False, True], kind="mergesort"
    )
    recs = [
        prop("tox.any_event", "Any adverse event", "toxicity", ae["USUBJID"].nunique(), n, alpha),
        prop(
            "tox.any_gr3",
            "Any grade >= 3 adverse event",
            "toxicity",
            ae.loc[ae["gr3"], "USUBJID"].nunique(),
            n,
            alpha,
        ),
    ]
    for row in per.itertuples(index=False):
        recs.append(
            prop(
                f"tox.any.{row.slug}", f"{row.term}, any grade", "toxicity", row.any_n, n, alpha, "any_grade"
            )
        )
        recs.append(
            prop(
                f"tox.gr3.{row.slug}", f"{row.term}, grade >= 3", "toxicity", row.gr3_n, n, alpha, "grade_ge3"
            )
        )
    return recs

