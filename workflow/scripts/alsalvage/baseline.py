"""ADSL: one row per patient with baseline, staging, prior-therapy and exposure variables.

Input: the validated tables (docs/interfaces.md, canonical units already applied by the
validation stage). Output columns and their order: ``ADSL_COLUMNS``, taken from the
derived-dataset spec ``alsalvage.datasets`` (ADSL). All work is vectorised (merge/groupby); choices are documented in
docs/methods.md, section "Baseline, staging and prior therapy".

``params`` (a mapping, built by the rule from config):
  window_days                baseline window (days before index, inclusive)
  egfr_equation              'ckd_epi_2009' or 'ckd_epi_2021'
  staging                    the ``staging`` config section
  prior_exposure             the ``prior_exposure`` config section (None: no grouping)
  drugs                      the ``drugs`` config section (agents and aliases the grouping may name)
  measurable_dflc_mg_l       hematologic evaluability: dFLC-measurable at or above
  low_dflc_min_mg_l          low-dFLC group lower bound (inclusive)
  flc_ratio_low/_high        normal kappa/lambda ratio (no detectable clone at baseline)
  days_per_month             days per month
  death_on_treatment_days    death within this many days after the last dose = on therapy
  agents                     the salvage agents (config study.agents): their dose columns
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import censored, datasets
from . import contract as C
from . import exposure as pex
from . import hematologic as hem
from . import staging
from .contract import ANALYTES
from .derive_common import (
    ORGAN_COLUMNS,
    OUTCOME_COLUMNS,
    DerivationError,
    age_at,
    baseline_values,
    baseline_wide,
    days_between,
    in_window,
    last_in_window,
    months,
    outcomes_adam,
    sort_stable,
    upcr_as_proteinuria,
    used_categories,
)
from .egfr import baseline_egfr

RULE = "derive_baseline"

# analyte -> ADSL baseline column (FLCs are handled as a same-day pair, see below)
LAB_COLUMNS = {
    "serum_ife": "SIFEBL",
    "urine_ife": "UIFEBL",
    "serum_mprotein": "SMPROTBL",
    "urine_mprotein": "UMPROTBL",
    "ntprobnp": "NTPROBL",
    "ctnt": "CTNTBL",
    "hs_ctnt": "HSCTNTBL",
    "ctni": "CTNIBL",
    "creatinine": "CREATBL",
    "egfr": "EGFRREP",  # reported eGFR, input to EGFRBL
    "proteinuria_24h": "PROTUBL",
    "alp": "ALPBL",
    "nyha": "NYHABL",
    "lvef": "LVEFBL",
}

EARLY_STOP_REASONS = (
    "progression",
    "no_response",
    "toxicity",
    "patient_decision",
    "physician_decision",
    "other",
)

ADSL_COLUMNS = datasets.columns("adsl")  # the order of the spec (alsalvage.datasets)

def required_inputs(agents) -> dict[str, list[str]]:
    """The validated columns ADSL is derived from; salvage_cycles: the dose column of each
    salvage agent (config study.agents)."""
    return {
        "patients": ["patient_id", "sex", "birth_date", "diagnosis_date", "isotype", *ORGAN_COLUMNS],
        "therapy_lines": ["patient_id", "line", "agents", "start_date", "end_date", "best_response",
                          "progression_date"],
        "salvage_cycles": ["patient_id", "cycle", "start_date", *(a["dose_column"] for a in agents)],
        "outcomes": list(OUTCOME_COLUMNS),
        "labs": ["patient_id", "date", "analyte", "value"],
    }


REQUIRED = required_inputs(C.DEFAULT_AGENTS)  # the default study's (tables to read: its keys)


def age_years(birth: pd.Series, at: pd.Series) -> pd.Series:
    """Completed years between ``birth`` and ``at`` (floor), nullable integer, on the
    index of ``at``."""
    return pd.Series(age_at(birth, at), index=at.index).astype("Int64")


def index_dates(cycles: pd.DataFrame) -> pd.DataFrame:
    """patient_id, index_date = start of the first salvage cycle (cycle 1 day 1)."""
    first = sort_stable(cycles, ["patient_id", "cycle"]).groupby("patient_id").head(1)
    return first[["patient_id", "start_date"]].rename(columns={"start_date": "index_date"}).reset_index(drop=True)


def check_inputs(tables: Mapping[str, pd.DataFrame], files: Mapping[str, str] | None = None,
                 agents=C.DEFAULT_AGENTS) -> None:
    """Raise one DerivationError listing every structural problem of the inputs."""
    files = files or {k: k for k in tables}
    problems: list[str] = []
    for name, cols in required_inputs(agents).items():
        if name not in tables:
            problems.append(f"table {name}: not given (needed by rule {RULE})")
            continue
        problems += [
            f"file {files.get(name, name)}: column '{c}' is missing (needed by rule {RULE})"
            for c in cols
            if c not in tables[name].columns
        ]
    if problems:
        raise DerivationError(RULE, problems)
    known = set(tables["patients"]["patient_id"])
    for name in ("therapy_lines", "salvage_cycles", "outcomes", "labs"):
        pid = tables[name]["patient_id"]  # no copy of the (long) table: positions only
        if _distinct(pid) <= known:
            continue
        bad = np.flatnonzero(~pid.isin(known).to_numpy())
        for i in bad[:20]:
            problems.append(
                f"file {files.get(name, name)}: row {i + 1} column 'patient_id': "
                f"'{pid.iloc[i]}' is not in patients"
            )
        if len(bad) > 20:
            problems.append(f"file {files.get(name, name)}: {len(bad) - 20} more unknown patient_id rows")
    problems += canonical_unit_problems(tables["labs"], files.get("labs", "labs"))
    out = tables["outcomes"]
    missing = sorted(known - set(out["patient_id"]))
    for pid in missing[:20]:
        problems.append(f"file {files.get('outcomes', 'outcomes')}: column 'patient_id': no row for patient '{pid}'")
    if len(missing) > 20:
        problems.append(f"file {files.get('outcomes', 'outcomes')}: {len(missing) - 20} more patients without a row")
    if problems:
        raise DerivationError(RULE, problems)


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` of a column (codes, distinct values; code -1 = missing); a
    categorical column gives its own codes and categories (no hashing of the rows)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype("int64"), values.cat.categories
    return pd.factorize(values)


def _distinct(values: pd.Series) -> set:
    """The distinct values of a column as a set (NaN included when a value is missing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        used = used_categories(codes, len(values.cat.categories))
        out = set(values.cat.categories[used])
        if (codes < 0).any():
            out.add(np.nan)
        return out
    return set(pd.unique(values))


def canonical_unit_problems(labs: pd.DataFrame, file: str, rule: str = RULE) -> list[str]:
    """Derivations read canonical units only (converted at validation): report every lab
    row whose unit is not the canonical unit of its analyte (a table that skipped validation)."""
    if "unit" not in labs.columns:
        return []
    canon = {k: a.canonical_unit for k, a in ANALYTES.items()}
    # compare on the distinct (analyte, unit) pairs (cheap on millions of rows, also on
    # categorical columns), then locate the rows of the bad pairs; code -1 = missing
    a_codes, a_uni = _codes(labs["analyte"])
    u_codes, u_uni = _codes(labs["unit"])
    a_names = np.append(np.asarray(a_uni, dtype=object), None)
    u_names = np.append(np.asarray(u_uni, dtype=object), "")
    base = len(u_names)
    pair = (a_codes.astype("int64") + 1) * base + (u_codes + 1)
    seen = np.flatnonzero(np.bincount(pair, minlength=len(a_names) * base))
    bad_pairs = [p for p in seen if canon.get(a_names[p // base - 1]) != u_names[p % base - 1]]
    if not bad_pairs:
        return []
    bad = np.flatnonzero(np.isin(pair, bad_pairs))
    analyte = a_names[a_codes[bad]]
    unit = u_names[u_codes[bad]]
    problems = [
        f"file {file}: row {i + 1} column 'unit': '{u}' for analyte '{a}' "
        f"is not the canonical unit '{canon.get(a)}' (rule {rule} reads validated tables only)"
        for i, a, u in list(zip(bad, analyte, unit))[:20]
    ]
    if len(bad) > 20:
        problems.append(f"file {file}: {len(bad) - 20} more rows with a non-canonical unit")
    return problems


def _flc_pair(labs: pd.DataFrame, index: pd.DataFrame, window_days: float) -> pd.DataFrame:
    """Baseline kappa and lambda from the last day in the window with both measured."""
    flc = labs[labs["analyte"].isin(["flc_kappa", "flc_lambda"])].dropna(subset=["value"])
    if "qualifier" not in flc.columns:
        flc = flc.assign(qualifier="")
    # the signs of censored chains, pivoted alike
    wide = flc.pivot_table(
        index=["patient_id", "date"], columns="analyte", values="value", aggfunc="last", observed=True
    ).reset_index()
    qual = flc.assign(qualifier=flc["qualifier"].astype(object)).pivot_table(
        index=["patient_id", "date"], columns="analyte", values="qualifier", aggfunc="last", observed=True
    ).reset_index()
    for a in ("flc_kappa", "flc_lambda"):
        if a not in wide.columns:
            wide[a] = np.nan
        wide[a + "_q"] = qual[a].to_numpy(dtype=object) if a in qual.columns else ""
    wide = wide.dropna(subset=["flc_kappa", "flc_lambda"])
    sel = last_in_window(wide, index, window_days)
    return sel[["patient_id", "flc_kappa", "flc_lambda", "flc_kappa_q", "flc_lambda_q"]].rename(
        columns={"flc_kappa": "KAPPABL", "flc_lambda": "LAMBDABL", "flc_kappa_q": "KAPPABL_Q",
                 "flc_lambda_q": "LAMBDABL_Q"}
    )


def _lab_baselines(labs: pd.DataFrame, index: pd.DataFrame, window_days: float) -> pd.DataFrame:
    long = baseline_values(labs, index, window_days, analytes=list(LAB_COLUMNS))
    wide = baseline_wide(long, "value", LAB_COLUMNS).rename(columns=LAB_COLUMNS)
    alp = long[long["analyte"] == "alp"].set_index("patient_id")
    wide["ALPULNBL"] = alp["uln"] if "uln" in alp.columns else np.nan
    cols = [*LAB_COLUMNS.values(), "ALPULNBL"]
    if "qualifier" in long.columns:
        q = baseline_wide(long.assign(qualifier=long["qualifier"].astype(object)), "qualifier", LAB_COLUMNS)
        for an, col in LAB_COLUMNS.items():
            wide[col + "_Q"] = q[an].reindex(wide.index)
            cols.append(col + "_Q")
    return wide[cols].reset_index()


def _prior_therapy(lines: pd.DataFrame, index: pd.DataFrame, days_per_month: float) -> pd.DataFrame:
    prior = pex.prior_lines(lines, index)
    agg = prior.groupby("patient_id").agg(NPRIOR=("line", "size"), FLSTDT=("start_date", "min"))
    out = index.merge(agg, left_on="patient_id", right_index=True, how="left")
    out["NPRIOR"] = out["NPRIOR"].fillna(0).astype("int64")
    out["FLTOIDXM"] = months(days_between(out["FLSTDT"], out["index_date"]), days_per_month)
    return out[["patient_id", "NPRIOR", "FLSTDT", "FLTOIDXM"]]


def _exposure(cycles: pd.DataFrame, agents) -> pd.DataFrame:
    """Salvage exposure per patient (wide dose columns, one per agent of config
    study.agents). TRTAGENT: the agents given (dose > 0 in some cycle), ';'-joined in config
    order; STDOS / MDDOS / MXDOS: first, median and highest dose of the patient's agent (the
    first of study.agents the patient was given) over its dosed cycles, in DOSEU (its
    unit); NCYCLES: cycles with a dose of any agent above 0."""
    agents = list(agents)
    cols = [a["dose_column"] for a in agents]
    cycles = sort_stable(cycles, ["patient_id", "cycle"])
    given = np.column_stack([cycles[c].to_numpy(dtype="float64", na_value=np.nan) > 0 for c in cols])
    any_dose = given.any(axis=1)
    pid = cycles["patient_id"]
    per = pd.DataFrame(given, columns=cols).groupby(pid.to_numpy(), sort=True).any()
    out = pd.DataFrame({"patient_id": per.index[per.any(axis=1).to_numpy()]})
    per = per.loc[out["patient_id"]]
    names = np.array([a["name"] for a in agents], dtype=object)
    out["TRTAGENT"] = [";".join(names[row]) for row in per.to_numpy()]
    first = per.to_numpy().argmax(axis=1)  # the patient's agent: first of study.agents given
    out["DOSEU"] = np.array([a["dose_unit"] for a in agents], dtype=object)[first]
    primary = pd.Series(first, index=out["patient_id"]).reindex(pid.to_numpy()).to_numpy()
    rows = ~np.isnan(primary)
    dose = np.full(len(cycles), np.nan)
    stack = np.column_stack([cycles[c].to_numpy(dtype="float64", na_value=np.nan) for c in cols])
    dose[rows] = stack[np.flatnonzero(rows), primary[rows].astype(int)]
    d = pd.DataFrame({"patient_id": pid.to_numpy(), "dose": dose})
    stats = d[d["dose"] > 0].groupby("patient_id", sort=True)["dose"].agg(STDOS="first", MDDOS="median", MXDOS="max")
    counts = pd.Series(any_dose).groupby(pid.to_numpy(), sort=True).sum().rename("NCYCLES")
    out = out.merge(stats, left_on="patient_id", right_index=True, how="left")
    out = out.merge(counts, left_on="patient_id", right_index=True, how="left")
    return out[["patient_id", "TRTAGENT", "STDOS", "MDDOS", "MXDOS", "DOSEU", "NCYCLES"]]


def derive_adsl(tables: Mapping[str, pd.DataFrame], params: Mapping, files: Mapping[str, str] | None = None):
    """Build ADSL from the validated tables (see module docstring for ``params``)."""
    agents = params["agents"]
    check_inputs(tables, files, agents)
    pts = tables["patients"]
    lines = tables["therapy_lines"]
    cycles = tables["salvage_cycles"]
    outc = tables["outcomes"]
    labs = tables["labs"]
    if params["upcr_as_proteinuria"]:
        labs = upcr_as_proteinuria(labs)
    window = float(params["window_days"])
    dpm = float(params["days_per_month"])

    idx = pts[["patient_id"]].merge(index_dates(cycles), on="patient_id", how="left")
    a = pts.rename(
        columns={
            "patient_id": "USUBJID",
            "sex": "SEX",
            "birth_date": "BRTHDT",
            "diagnosis_date": "DIAGDT",
            "isotype": "ISOTYPE",
            "centre": "SITEID",  # optional column (multi-centre cohorts)
        }
    )
    a = a.merge(idx.rename(columns={"patient_id": "USUBJID", "index_date": "TRTSDT"}), on="USUBJID", how="left")
    a["AGE"] = age_years(a["BRTHDT"], a["TRTSDT"])
    a["DXTOIDXM"] = months(days_between(a["DIAGDT"], a["TRTSDT"]), dpm)
    for src, dst in ORGAN_COLUMNS.items():
        a[dst] = a[src].fillna(False).astype(bool).astype("int64")
    a["NORGAN"] = a[list(ORGAN_COLUMNS.values())].sum(axis=1).astype("int64")

    # outcomes
    o = outcomes_adam(outc)
    a = a.merge(o, on="USUBJID", how="left")
    a["DIALBL"] = (a["DIALDT"].notna() & a["TRTSDT"].notna() & (a["DIALDT"] <= a["TRTSDT"])).astype("int64")

    # baseline labs: one pass over the whole labs table, then work on the window only
    labs = in_window(labs, idx, window).drop(columns="index_date")
    labs = labs.astype({c: object for c in labs.columns if isinstance(labs[c].dtype, pd.CategoricalDtype)})
    labsbl = _lab_baselines(labs, idx, window).rename(columns={"patient_id": "USUBJID"})
    flc = _flc_pair(labs, idx, window).rename(columns={"patient_id": "USUBJID"})
    a = a.merge(labsbl, on="USUBJID", how="left").merge(flc, on="USUBJID", how="left")
    for c in [*LAB_COLUMNS.values(), "ALPULNBL", "KAPPABL", "LAMBDABL"]:
        a[c] = a[c].astype("float64")
    a["IFLCBL"], a["UFLCBL"] = hem.involved_chains(a["KAPPABL"].to_numpy(), a["LAMBDABL"].to_numpy(), a["ISOTYPE"])
    # censored baselines (alsalvage.censored): each column keeps its number; the signs
    # go to BLQUAL. dFLC from one censored chain is a bound; from two, unknown. The
    # kappa/lambda ratio from a censored chain is left missing (never a normal ratio).
    quals = {c: a[c + "_Q"].to_numpy(dtype=object) if c + "_Q" in a.columns else np.full(len(a), "", object)
             for c in [*LAB_COLUMNS.values(), "KAPPABL", "LAMBDABL"]}
    quals = {c: np.where(pd.isna(q), "", q).astype(object) for c, q in quals.items()}
    quals["IFLCBL"], quals["UFLCBL"] = (
        q.astype(object) for q in hem.involved_chains(quals["KAPPABL"], quals["LAMBDABL"], a["ISOTYPE"], "")
    )
    a["DFLCBL"], quals["DFLCBL"] = censored.difference(a["IFLCBL"], quals["IFLCBL"], a["UFLCBL"], quals["UFLCBL"])
    a["KLRATBL"] = hem.kl_ratio(a["KAPPABL"], a["LAMBDABL"])
    a.loc[(quals["KAPPABL"] != "") | (quals["LAMBDABL"] != ""), "KLRATBL"] = np.nan
    a["BLQUAL"] = censored.qualifier_text(quals)

    egfr, src = baseline_egfr(
        a["CREATBL"], a["AGE"].astype("float64"), a["SEX"], a["EGFRREP"], a["DIALBL"] == 1, params["egfr_equation"]
    )
    a["EGFRBL"] = egfr
    a["EGFRSRC"] = src

    st = params["staging"]
    q = {"ntprobnp": quals["NTPROBL"], "ctnt": quals["CTNTBL"], "hs_ctnt": quals["HSCTNTBL"],
         "ctni": quals["CTNIBL"], "dflc": quals["DFLCBL"], "proteinuria": quals["PROTUBL"],
         "egfr": np.where(a["EGFRSRC"] == "reported", quals["EGFRREP"], "").astype(object)}
    a["MAYO04"] = staging.mayo2004(a["NTPROBL"], a["CTNTBL"], a["HSCTNTBL"], a["CTNIBL"], st, q)
    a["EUSTG"] = staging.european(a["NTPROBL"], a["CTNTBL"], a["HSCTNTBL"], a["CTNIBL"], st, q)
    a["MAYO12"] = staging.mayo2012(a["DFLCBL"], a["NTPROBL"], a["CTNTBL"], a["HSCTNTBL"], st, q)
    a["RENSTG"] = staging.renal_stage(a["EGFRBL"], a["PROTUBL"], a["DIALBL"] == 1, st, q)
    a["STGFL"] = staging.stage_flags(a["MAYO04"], a["EUSTG"], a["MAYO12"], a["RENSTG"], a["DIALBL"] == 1)

    a["HEMEVAL"] = hem.baseline_group(a["DFLCBL"], a["KLRATBL"], a["SIFEBL"], a["UIFEBL"], params,
                                      dflc_qualifier=quals["DFLCBL"])

    # prior therapy
    prior = _prior_therapy(lines, idx, dpm).rename(columns={"patient_id": "USUBJID"})
    drugs = C.drug_dictionary(params["drugs"])
    bcat = pex.exposure_categories(lines, idx, params["prior_exposure"], drugs).rename(columns={"patient_id": "USUBJID"})
    a = a.merge(prior, on="USUBJID", how="left").merge(
        bcat[["USUBJID", "PEXFL", "PEXGRP", "PEXR60", "PEXPDIM"]], on="USUBJID", how="left"
    )

    # exposure and discontinuation
    a = a.merge(_exposure(cycles, agents).rename(columns={"patient_id": "USUBJID"}), on="USUBJID", how="left")
    a["NCYCLES"] = a["NCYCLES"].fillna(0).astype("int64")
    end = a["TRTEDT"].fillna(a["LSTCNTDT"])
    a["TRTDURM"] = months(days_between(a["TRTSDT"], end), dpm)
    a["EARLYDSC"] = a["STOPRSN"].isin(EARLY_STOP_REASONS).astype("int64")
    after_last_dose = days_between(a["TRTEDT"], a["DTHDT"])
    a["DTHONTRT"] = (
        (a["STOPRSN"] == "death")
        | ((after_last_dose >= 0) & (after_last_dose <= float(params["death_on_treatment_days"])))
    ).astype("int64")
    treated = np.where(a["NCYCLES"] > 0, "Y", "N").astype(object)
    a["SAFFL"] = treated
    a["ITTFL"] = treated

    out = a[datasets.columns_present("adsl", a.columns)].sort_values("USUBJID", kind="mergesort")
    out = out.reset_index(drop=True)
    if "SITEID" in out.columns:
        out["SITEID"] = out["SITEID"].astype(object)
    for c in ("STDOS", "MDDOS", "MXDOS", "DXTOIDXM", "FLTOIDXM", "TRTDURM", "EGFRBL", "IFLCBL", "UFLCBL", "DFLCBL"):
        out[c] = out[c].astype("float64")
    for c in ("BLQUAL", "MAYO04", "EUSTG", "MAYO12", "RENSTG", "STGFL", "EGFRSRC", "HEMEVAL", "PEXGRP", "TRTAGENT",
              "DOSEU"):
        out[c] = out[c].astype(object)
    return out
