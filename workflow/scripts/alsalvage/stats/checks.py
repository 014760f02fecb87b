"""The checks of rule stats' inputs: every problem of the derived datasets at once, each
named by file, row (the line of the CSV export) and column, with the analyses it stops.

REQUIRED lists the columns every analysis needs; the columns only some analyses need are
their registry records' `columns` (stats/registry.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import datasets
from .records import PEXGRPS
from .registry import ANALYSES, NAMES

REQUIRED = {
    "adsl": ["USUBJID", "SAFFL", "AGE", "SEX", "PEXGRP", "PEXFL", "MAYO04", "DIALBL"],
    "adrs": ["USUBJID", "PARAMCD", "AVALC", "ADY", "EVALFL", "ANL01FL"],
    "adtte": ["USUBJID", "PARAMCD", "AVAL", "CNSR"],
    "adae": ["USUBJID", "AETERM", "TRTEMFL", "AETOXGR", "GR3FL"],
    "labs": ["patient_id", "date", "analyte", "value"],
}


def input_problems(frames: dict, files: dict) -> list[tuple[str, str]]:
    """Every problem of the derived inputs, as (dataset, message naming file, row, column);
    the columns only some analyses need (registry: Analysis.columns) are checked by stats_problems."""
    problems = []

    def bad(name, mask, column, message):
        df = frames[name]
        for i in np.flatnonzero(np.asarray(mask)):
            value = df[column].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value  # 7, not np.int64(7)
            # row = line in the CSV export (header = line 1)
            problems.append((name, f"{files[name]}: row {i + 2}, column {column}: {message} (value {value!r})"))

    for name, df in frames.items():
        missing = column_problems(name, df, files, REQUIRED.get(name, []))
        problems += [(name, msg) for msg in missing]
        if missing:
            continue
        if name == "adsl":
            bad(name, df["USUBJID"].duplicated(), "USUBJID", "duplicate patient")
            # "none": a study without prior-exposure grouping (exposure.NO_GROUP)
            bad(name, ~df["PEXGRP"].isin([*PEXGRPS, "none"]), "PEXGRP", f"not one of {[*PEXGRPS, 'none']}")
            bad(name, ~df["SAFFL"].isin(["Y", "N"]), "SAFFL", "not Y/N")
        if name == "adtte":
            bad(name, ~df["CNSR"].isin([0, 1]), "CNSR", "not 0/1")
            aval = pd.to_numeric(df["AVAL"], errors="coerce")
            bad(name, aval.isna() | (aval < 0), "AVAL", "missing or negative time")
            if "CAUSEN" in df.columns:  # required by the renal analysis (registry: Analysis.columns)
                cause = df["CAUSEN"]
                bad(name, ~cause.isin([0, 1, 2]), "CAUSEN", "not 0/1/2")
                ok = cause.isin([0, 1, 2]) & df["CNSR"].isin([0, 1])
                bad(name, ok & ((cause == 1) != (df["CNSR"] == 0)), "CAUSEN", "disagrees with CNSR")
                bad(name, (df["PARAMCD"] != "TTDIAL") & (cause == 2), "CAUSEN", "competing event outside TTDIAL")
        if name == "adae":
            g = pd.to_numeric(df["AETOXGR"], errors="coerce")
            bad(name, ~g.isin([1, 2, 3, 4, 5]), "AETOXGR", "CTCAE grade not 1-5")
            bad(name, ~df["TRTEMFL"].isin(["Y", "N"]), "TRTEMFL", "not Y/N")
    if "adsl" in frames and "USUBJID" in frames["adsl"]:
        known = set(frames["adsl"]["USUBJID"])
        for name in ("adrs", "adtte", "adae"):
            if name in frames and "USUBJID" in frames[name]:
                bad(name, ~frames[name]["USUBJID"].isin(known), "USUBJID", "patient not in ADSL")
    return problems


def column_problems(name: str, frame, files: dict, columns) -> list[str]:
    """The columns of ``columns`` that input ``name`` lacks, by the one checker of every
    stage's inputs: alsalvage.datasets (which also refuses a derived column no stage writes)."""
    if name in datasets.DATASETS:
        return datasets.problems({name: frame}, files, {name: columns}, rule="stats")
    return datasets.missing_columns(frame, files[name], columns, rule="stats")


def stats_problems(frames: dict, files: dict) -> list[str]:
    """Every input problem once, each followed by the analyses it stops."""
    users = {ds: [a.name for a in ANALYSES if ds in a.datasets] for ds in frames}
    stopped: dict[str, list[str]] = {}
    for ds, msg in input_problems(frames, files):
        stopped.setdefault(msg, []).extend(users[ds])
    for analysis in ANALYSES:
        for ds, cols in analysis.columns:
            if ds in frames:
                for msg in column_problems(ds, frames[ds], files, cols):
                    stopped.setdefault(msg, []).append(analysis.name)
    order = list(NAMES)
    return [
        f"{msg} (analyses: {', '.join(sorted(set(names), key=order.index))})" for msg, names in stopped.items()
    ]
