"""ADRS: hematologic and organ responses and hematologic progression, one dataset.

Glue between the ADSL, the validated labs/outcomes and the rule modules
:mod:`alsalvage.hematologic` and :mod:`alsalvage.organ`. Pure functions; the rule
script ``derive_responses.py`` only reads and writes files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from . import hematologic as hem
from . import organ
from .derive_common import DerivationError, require_columns

RULE = "derive_responses"

PARAMS = {
    "HEMRESP": "Hematologic response at assessment",
    "BESTHEM": "Best hematologic response",
    "HEMPROG": "Hematologic progression",
    "CARDRESP": "Cardiac response at assessment",
    "BESTCARD": "Best cardiac response",
    "RENRESP": "Renal response at assessment",
    "BESTREN": "Best renal response",
    "LIVRESP": "Liver response at assessment",
    "BESTLIV": "Best liver response",
    "BESTORG": "Any organ response",
}
ADRS_COLUMNS = [
    "USUBJID",
    "PARAMCD",
    "PARAM",
    "AVALC",
    "AVAL",
    "ADT",
    "ADY",
    "EVALFL",
    "ANL01FL",
    "IMIDFL",
    "EGFRFLFL",
]
ADSL_COLUMNS = [
    "USUBJID",
    "TRTSDT",
    "SEX",
    "BRTHDT",
    "ISOTYPE",
    "HEART",
    "KIDNEY",
    "LIVER",
    "DFLCBL",
    "IFLCBL",
    "SMPROTBL",
    "UMPROTBL",
    "NTPROBL",
    "NYHABL",
    "CTNTBL",
    "HSCTNTBL",
    "CTNIBL",
    "LVEFBL",
    "EGFRBL",
    "PROTUBL",
    "DIALBL",
    "ALPBL",
    "ALPULNBL",
]
OUTCOME_COLUMNS = [
    "patient_id",
    "salvage_end_date",
    "next_line_date",
    "dialysis_start_date",
    "last_contact_date",
    "death_date",
]
LAB_COLUMNS = ["patient_id", "date", "analyte", "value"]
LAB_ANALYTES = hem.HEM_ANALYTES + organ.CARD_ANALYTES + organ.RENAL_ANALYTES + ("alp",)


def read_inputs(files: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Read ADSL, outcomes and the columns of the labs this stage uses (text columns
    of the long labs table as categoricals: less memory, faster filtering)."""
    missing = [f"file {p}: not found" for p in files.values() if not Path(p).exists()]
    if missing:
        raise DerivationError(RULE, missing)
    have = set(pq.read_schema(files["labs"]).names)
    cols = [c for c in LAB_COLUMNS if c in have]
    labs = pq.read_table(files["labs"], columns=cols).to_pandas(strings_to_categorical=True)
    return {"adsl": pd.read_parquet(files["adsl"]), "outcomes": pd.read_parquet(files["outcomes"]), "labs": labs}


def check_inputs(adsl: pd.DataFrame, outcomes: pd.DataFrame, labs: pd.DataFrame, files: Mapping[str, str]) -> None:
    """Every problem at once: absent columns, ADSL patients without an outcome row,
    missing index dates. Raises DerivationError naming file, patient and column."""
    problems = (
        require_columns(adsl, ADSL_COLUMNS, files["adsl"], RULE)
        + require_columns(outcomes, OUTCOME_COLUMNS, files["outcomes"], RULE)
        + require_columns(labs, LAB_COLUMNS, files["labs"], RULE)
    )
    if not problems:
        missing = adsl.loc[~adsl["USUBJID"].isin(outcomes["patient_id"]), "USUBJID"]
        problems += [
            f"file {files['outcomes']}: no row for patient_id {p} (present in {files['adsl']})" for p in missing
        ]
        for i, p in adsl.loc[adsl["TRTSDT"].isna(), "USUBJID"].items():
            problems.append(f"file {files['adsl']}: row {i + 2} (USUBJID {p}), column TRTSDT: index date missing")
    if problems:
        raise DerivationError(RULE, problems)


def build_base(adsl: pd.DataFrame, outcomes: pd.DataFrame, hem_params: Mapping) -> pd.DataFrame:
    """One row per ADSL patient: the ADSL columns used, the outcome dates, the
    hematologic evaluability group (HEMEVAL, recomputed from DFLCBL with the
    hematologic thresholds) and the window ends WINEND / PRGEND."""
    o = outcomes.rename(
        columns={
            "patient_id": "USUBJID",
            "salvage_end_date": "TRTEDT",
            "next_line_date": "NXTLNDT",
            "dialysis_start_date": "DIALDT",
            "last_contact_date": "LSTCNTDT",
            "death_date": "DTHDT",
        }
    )[["USUBJID", "TRTEDT", "NXTLNDT", "DIALDT", "LSTCNTDT", "DTHDT"]]
    base = adsl[ADSL_COLUMNS].merge(o, on="USUBJID", how="left", validate="one_to_one")
    base = base.sort_values("USUBJID", kind="mergesort").reset_index(drop=True)
    base["HEMEVAL"] = hem.baseline_group(base["DFLCBL"], hem_params)
    base["WINEND"], base["PRGEND"] = hem.window_ends(
        base["TRTEDT"],
        base["NXTLNDT"],
        base["DTHDT"],
        base["LSTCNTDT"],
        hem_params["assessment_after_end_days"],
    )
    return base


def _finish(parts: list[pd.DataFrame], base: pd.DataFrame) -> pd.DataFrame:
    """Concatenate the parameter blocks, add PARAM and ADY, order the columns and sort
    the rows by USUBJID, PARAMCD, ADT (a missing ADT first; stable)."""
    rows = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for c in ADRS_COLUMNS:
        if c not in rows.columns:
            rows[c] = np.nan
    rows["PARAM"] = rows["PARAMCD"].map(PARAMS)
    rows["ADT"] = pd.to_datetime(rows["ADT"])
    trtsdt = rows["USUBJID"].map(base.set_index("USUBJID")["TRTSDT"])
    rows["ADY"] = (rows["ADT"] - trtsdt).dt.days.astype("Int64")
    rows["AVAL"] = rows["AVAL"].astype("float64")
    for c in ("IMIDFL", "EGFRFLFL"):
        rows[c] = rows[c].astype(object).where(rows[c].notna(), None)
    order = np.lexsort(
        (
            rows["ADT"].to_numpy().view("int64"),  # NaT is the smallest int64: first
            pd.Categorical(rows["PARAMCD"], categories=sorted(PARAMS)).codes,
            pd.factorize(rows["USUBJID"], sort=True)[0],
        )
    )
    return rows[ADRS_COLUMNS].take(order).reset_index(drop=True)


def encode_patients(
    adsl: pd.DataFrame, outcomes: pd.DataFrame, labs: pd.DataFrame
) -> tuple[pd.Index, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Replace patient identifiers by their rank among the sorted ADSL identifiers
    (integers merge, group and sort much faster than text; the order is the same) and
    keep only the lab rows and columns this stage reads. Returns (ids, adsl, outcomes,
    labs); ``ids[code]`` gives the identifier back. Rows of patients absent from ADSL
    are dropped."""
    ids = pd.Index(np.sort(adsl["USUBJID"].astype(str).to_numpy()))
    adsl = adsl.assign(USUBJID=ids.get_indexer(adsl["USUBJID"]))
    outcomes = outcomes.assign(patient_id=ids.get_indexer(outcomes["patient_id"]))
    outcomes = outcomes[outcomes["patient_id"] >= 0]
    lab = labs[labs["analyte"].isin(list(LAB_ANALYTES))]
    pid = lab["patient_id"]
    if isinstance(pid.dtype, pd.CategoricalDtype):
        cat = ids.get_indexer(pid.cat.categories.astype(str))
        raw = pid.cat.codes.to_numpy()
        codes = np.where(raw >= 0, cat[raw], -1)
    else:
        codes = ids.get_indexer(pid)
    analyte = lab["analyte"]
    if isinstance(analyte.dtype, pd.CategoricalDtype):
        analyte = analyte.cat.remove_unused_categories()
    else:
        analyte = analyte.astype("category")
    lab = pd.DataFrame(
        {"patient_id": codes, "date": lab["date"].to_numpy(), "analyte": analyte.array, "value": lab["value"].to_numpy()}
    )
    return ids, adsl, outcomes, lab[lab["patient_id"] >= 0]


def derive_adrs(
    adsl: pd.DataFrame,
    outcomes: pd.DataFrame,
    labs: pd.DataFrame,
    params: Mapping[str, Mapping],
) -> tuple[pd.DataFrame, list[str]]:
    """The ADRS dataset (sorted by USUBJID, PARAMCD, ADT) and a list of warnings.

    ``params`` has the config sections hematologic, cardiac, renal, liver and egfr.
    """
    ids, adsl, outcomes, labs = encode_patients(adsl, outcomes, labs)
    hp = params["hematologic"]
    base = build_base(adsl, outcomes, hp)
    warnings = []
    if "HEMEVAL" in adsl.columns:
        cmp = base[["USUBJID", "HEMEVAL"]].merge(adsl[["USUBJID", "HEMEVAL"]], on="USUBJID", suffixes=("", "_adsl"))
        n = int((cmp["HEMEVAL"] != cmp["HEMEVAL_adsl"]).sum())
        if n:
            warnings.append(f"HEMEVAL recomputed from DFLCBL differs from ADSL for {n} patient(s)")

    a = hem.assessments(labs, base, hp)
    hemresp = a[["USUBJID", "AVALC", "AVAL", "ADT", "ANL01FL", "HEMEVAL"]].copy()
    hemresp["EVALFL"] = np.where(hemresp["HEMEVAL"].isin([hem.MEASURABLE, hem.LOW_DFLC]), "Y", "N")
    hemresp["PARAMCD"] = "HEMRESP"
    besthem = hem.best_response(a, base).assign(PARAMCD="BESTHEM")
    hemprog = hem.first_progression(a, hp).assign(PARAMCD="HEMPROG")

    egfr = organ.followup_egfr(labs, base, params["egfr"]["equation"])
    card = organ.cardiac_calls(labs, base, egfr, params["cardiac"])
    ren = organ.renal_calls(labs, base, egfr, params["renal"])
    liv = organ.liver_calls(labs, base, params["liver"])
    bests = [
        organ.best_organ(card, base, organ.cardiac_evaluable(base, params["cardiac"]), "BESTCARD"),
        organ.best_organ(ren, base, organ.renal_evaluable(base, params["renal"]), "BESTREN"),
        organ.best_organ(liv, base, organ.liver_evaluable(base, params["liver"]), "BESTLIV"),
    ]
    bestorg = organ.best_any_organ(bests)
    adrs = _finish([hemresp.drop(columns="HEMEVAL"), besthem, hemprog, card, ren, liv, *bests, bestorg], base)
    adrs["USUBJID"] = ids.to_numpy(dtype=object)[adrs["USUBJID"].to_numpy()]
    return adrs, warnings
