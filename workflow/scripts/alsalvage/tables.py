"""Statistics tables: every number the report quotes, as records under stable keys.

Each analysis (table1, response, organ, renal, survival, exposure, toxicity) takes the
derived datasets (docs/interfaces.md) and returns a list of records. A record carries
the fields of docs/results.md plus `section` and `group` for the CSV table. The CSV
(results/tables/<name>.csv) lists the records with publication strings AND raw numbers;
results/stats/results.json maps key -> record for every analysis. One job (rule `stats`,
entry `run_stats`) runs the seven analyses in forked worker processes (parallel.fork_map).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import compare as C
from . import formatting as F
from .csvout import neutralise_frame
from .derive_common import ORGAN_COLUMNS as ORGANS
from .parallel import error_summary, fork_map
from .proportions import CP_METHOD, clopper_pearson, compare_2x2

FIELDS = [
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "denominator",
    "p",
    "statistic",
    "df",
    "unit",
    "method",
    "label",
    "formatted",
    "formatted_ci",
    "note",
]
TABLE_COLUMNS = ["key", "section", "group", "label", "formatted", "formatted_ci"] + [
    f for f in FIELDS if f not in ("label", "formatted", "formatted_ci")
]
BORTGRPS = ["naive", "sensitive", "refractory"]
HEM_LEVELS = ["CR", "VGPR", "LOWDFLC", "PR", "NR"]


class StatsInputError(ValueError):
    """Bad derived data: the message lists every problem with file, row, column and rule."""


# --------------------------------------------------------------------------- records
def record(key: str, label: str, section: str, group: str = "overall", **fields) -> dict:
    rec = {"key": key, "section": section, "group": group, "label": label}
    for f in FIELDS:
        if f != "label":
            rec[f] = fields.pop(f, None)
    if fields:
        raise TypeError(f"record {key}: unknown fields {sorted(fields)}")
    return rec


def prop(key, label, section, x, n, alpha, group="overall", note=None, method=None) -> dict:
    est, lo, hi = clopper_pearson(int(x), int(n), alpha)
    level = F.fmt_number(100 * (1 - alpha), 0)
    return record(
        key,
        label,
        section,
        group,
        estimate=est,
        ci_low=lo,
        ci_high=hi,
        n=int(x),
        denominator=int(n),
        unit="proportion",
        method=method or CP_METHOD.format(level=level),
        formatted=F.fmt_n_pct(x, n),
        formatted_ci=F.fmt_pct_ci(lo, hi),
        note=note,
    )


def count(key, label, section, x, unit="count", group="overall", note=None, method="count") -> dict:
    return record(
        key,
        label,
        section,
        group,
        estimate=int(x),
        n=int(x),
        unit=unit,
        method=method,
        formatted=str(int(x)),
        note=note,
    )


def describe(prefix, label, section, values, unit, spread="range", decimals=0, group="overall") -> list[dict]:
    """Median with range or IQR, plus q1/q3/min/max/missing records."""
    v = pd.to_numeric(pd.Series(values), errors="coerce")
    ok = v.dropna()
    n, miss = int(ok.size), int(v.isna().sum())
    if n:
        q1, med, q3 = (float(x) for x in np.percentile(ok, [25, 50, 75]))  # linear (R type 7)
        lo, hi = float(ok.min()), float(ok.max())
    else:
        q1 = med = q3 = lo = hi = float("nan")
    a, b = (lo, hi) if spread == "range" else (q1, q3)
    what = "median (range)" if spread == "range" else "median (IQR)"
    out = [
        record(
            f"{prefix}.median",
            f"{label}, {what}",
            section,
            group,
            estimate=med,
            n=n,
            unit=unit,
            method=f"{what}; quartiles by linear interpolation",
            formatted=F.fmt_median_range(med, a, b, decimals),
        )
    ]
    for stat, val in (("q1", q1), ("q3", q3), ("min", lo), ("max", hi)):
        out.append(
            record(
                f"{prefix}.{stat}",
                f"{label}, {stat}",
                section,
                group,
                estimate=val,
                n=n,
                unit=unit,
                method=stat,
                formatted=F.fmt_number(val, decimals, "NA"),
            )
        )
    out.append(count(f"{prefix}.missing", f"{label}, missing", section, miss, group=group))
    return out


def km_records(
    prefix, label, section, durations, events, timepoints, alpha, group="overall", with_events=True
):
    from . import survival as S

    k = S.km(durations, events, alpha)
    out = []
    if with_events:
        out.append(
            record(
                f"{prefix}.events",
                f"{label}: events",
                section,
                group,
                estimate=k.events,
                n=k.n,
                unit="count",
                method="count",
                formatted=f"{k.events}/{k.n}",
            )
        )
    out.append(
        record(
            f"{prefix}.median",
            f"{label}: median",
            section,
            group,
            estimate=k.median,
            ci_low=k.median_low,
            ci_high=k.median_high,
            n=k.n,
            unit="months",
            method=S.KM_METHOD + "; median by R's survival convention (midpoint of a flat S = 0.5)",
            formatted=F.fmt_median_ci(k.median, k.median_low, k.median_high),
            formatted_ci=F.fmt_ci(k.median_low, k.median_high),
        )
    )
    for t in timepoints:
        s, lo, hi = k.at(t)
        out.append(
            record(
                f"{prefix}.surv_{t:g}m",
                f"{label}: survival at {t:g} months",
                section,
                group,
                estimate=s,
                ci_low=lo,
                ci_high=hi,
                n=k.n,
                unit="proportion",
                method=S.KM_METHOD,
                formatted="NA" if np.isnan(s) else f"{F.fmt_pct(s)}%",
                formatted_ci=F.fmt_pct_ci(lo, hi),
            )
        )
    return out


def p_record(key, label, section, p, statistic=None, df=None, method="", note=None) -> dict:
    return record(
        key,
        label,
        section,
        "test",
        estimate=p,
        p=p,
        statistic=statistic,
        df=df,
        unit="p",
        method=method,
        formatted="not estimable" if F.fmt_p(p) == "NA" and note else F.fmt_p(p),
        note=note,
    )


def _to_records_json(records: list[dict]) -> dict:
    out = {}
    for r in records:
        if r["key"] in out:
            raise ValueError(f"duplicate results key {r['key']}")
        out[r["key"]] = {
            f: (
                F.sig(r[f])
                if f not in ("unit", "method", "label", "formatted", "formatted_ci", "note")
                else r[f]
            )
            for f in FIELDS
        }
    return out


def write_table(records: list[dict], csv_path, footnotes: list[str] = ()) -> None:
    """CSV table of one analysis (records + footnote rows), deterministic."""
    rows = pd.DataFrame(records, columns=TABLE_COLUMNS)
    if footnotes:
        foot = pd.DataFrame(
            {
                "key": [f"footnote.{i + 1}" for i in range(len(footnotes))],
                "section": "footnote",
                "group": "",
                "label": list(footnotes),
            },
            columns=TABLE_COLUMNS,
        )
        rows = pd.concat([rows.astype(object), foot.astype(object)], ignore_index=True)
    for f in ("estimate", "ci_low", "ci_high", "p", "statistic"):
        rows[f] = rows[f].map(F.sig)
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(rows).to_csv(csv_path, index=False, lineterminator="\n")


def dump_json(obj, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def merge_results(parts: dict, meta: dict) -> dict:
    """results.json from the analyses' key -> record mappings ({analysis: mapping});
    a key produced by two analyses is an error naming both."""
    merged, origin = {}, {}
    for name in sorted(parts):
        for k, v in parts[name].items():
            if k in merged:
                raise ValueError(f"results key {k} produced by both analysis {origin[k]} and analysis {name}")
            merged[k], origin[k] = v, name
    meta = dict(meta)
    if "baseline.n" in merged:
        meta["n_treated"] = merged["baseline.n"]["estimate"]
    return {"meta": {k: F.sig(v) for k, v in meta.items()}, "results": merged}


# --------------------------------------------------------------------------- input checks
REQUIRED = {
    "adsl": ["USUBJID", "SAFFL", "AGE", "SEX", "BORTGRP", "BORTEXP", "MAYO04", "DIALBL"],
    "adrs": ["USUBJID", "PARAMCD", "AVALC", "ADY", "EVALFL", "ANL01FL"],
    "adtte": ["USUBJID", "PARAMCD", "AVAL", "CNSR"],
    "adae": ["USUBJID", "AETERM", "TRTEMFL", "AETOXGR", "GR3FL"],
    "labs": ["patient_id", "date", "analyte", "value"],
}


def input_problems(frames: dict, files: dict) -> list[tuple[str, str]]:
    """Every problem of the derived inputs, as (dataset, message naming file, row, column);
    the columns only some analyses need (EXTRA_REQUIRED) are checked by stats_problems."""
    problems = []

    def bad(name, mask, column, message):
        df = frames[name]
        for i in np.flatnonzero(np.asarray(mask)):
            value = df[column].iloc[i]
            value = value.item() if isinstance(value, np.generic) else value  # 7, not np.int64(7)
            # row = line in the CSV export (header = line 1)
            problems.append((name, f"{files[name]}: row {i + 2}, column {column}: {message} (value {value!r})"))

    for name, df in frames.items():
        missing = [c for c in REQUIRED.get(name, []) if c not in df.columns]
        for c in missing:
            problems.append((name, f"{files[name]}: column {c}: required column missing"))
        if missing:
            continue
        if name == "adsl":
            bad(name, df["USUBJID"].duplicated(), "USUBJID", "duplicate patient")
            bad(name, ~df["BORTGRP"].isin(BORTGRPS), "BORTGRP", f"not one of {BORTGRPS}")
            bad(name, ~df["SAFFL"].isin(["Y", "N"]), "SAFFL", "not Y/N")
        if name == "adtte":
            bad(name, ~df["CNSR"].isin([0, 1]), "CNSR", "not 0/1")
            aval = pd.to_numeric(df["AVAL"], errors="coerce")
            bad(name, aval.isna() | (aval < 0), "AVAL", "missing or negative time")
            if "CAUSEN" in df.columns:  # required by the renal analysis (EXTRA_REQUIRED)
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


def treated(adsl: pd.DataFrame) -> pd.DataFrame:
    return adsl[adsl["SAFFL"] == "Y"].reset_index(drop=True)


def _flag(s: pd.Series) -> pd.Series:
    """0/1, bool or Y/N -> bool (missing -> False)."""
    if s.dtype == object:
        return s.isin(["Y", "1", 1, True, "True", "true"])
    return pd.to_numeric(s, errors="coerce").fillna(0).astype(float) == 1


# --------------------------------------------------------------------------- table 1
TABLE1_FOOTNOTES = [
    "Continuous variables: median (range) for age, months since first-line therapy, prior lines and organs; "
    "median (IQR) for eGFR, NT-proBNP and dFLC. Quartiles by linear interpolation.",
    "Categorical variables: n (%) of patients with a known value; percentages rounded half up.",
    "eGFR is not computed for patients on dialysis (counted as missing).",
    "Stages are missing (never guessed) when a marker is missing; missing counts are shown.",
]


TABLE1_COMPARE_FOOTNOTE = (
    "p: difference across the prior-bortezomib groups by the test named in the row ({continuous} for "
    "continuous, {categorical} for categorical variables; stats.table1_tests in config.yaml). SMD: mean of "
    "the pairwise standardised mean differences (as tableone; Yang & Dalton for categorical variables). "
    "Missing: treated patients without a value."
)
DEFAULT_TABLE1_TESTS = {"continuous": "kruskal", "categorical": "chisq"}


def table1_variables(a: pd.DataFrame) -> list[tuple]:
    """Table 1 variables compared across groups: (key, label, section, kind, values), where
    values are numbers (continuous) or category labels (categorical), NaN/None if missing."""
    out = [("baseline.age", "Age (years)", "baseline", "continuous", pd.to_numeric(a["AGE"], errors="coerce"))]
    out.append(
        (
            "baseline.sex.male",
            "Male",
            "baseline",
            "categorical",
            a["SEX"].map(lambda v: None if pd.isna(v) else ("yes" if v == "M" else "no")),
        )
    )

    def binary(series, test):
        v = pd.to_numeric(series, errors="coerce")
        return v.map(lambda x: None if pd.isna(x) else ("yes" if test(x) else "no"))

    for org, col in ORGANS.items():
        if col in a:
            out.append(
                (
                    f"baseline.organ.{org}",
                    f"Organ involved: {org}",
                    "baseline",
                    "categorical",
                    binary(a[col], lambda x: x == 1),
                )
            )
    if "NORGAN" in a:
        out.append(
            (
                "baseline.organ.ge2",
                ">= 2 organs involved",
                "baseline",
                "categorical",
                binary(a["NORGAN"], lambda x: x >= 2),
            )
        )
    out.append(
        (
            "baseline.dialysis",
            "On dialysis at start",
            "baseline",
            "categorical",
            binary(a["DIALBL"], lambda x: x == 1),
        )
    )
    for col, name, label in (
        ("EGFRBL", "egfr", "eGFR"),
        ("NTPROBL", "ntprobnp", "NT-proBNP"),
        ("DFLCBL", "dflc", "dFLC"),
    ):
        if col in a:
            out.append((f"baseline.{name}", label, "baseline", "continuous", pd.to_numeric(a[col], errors="coerce")))
    for col, name, label in (
        ("MAYO04", "mayo2004", "Mayo 2004 stage"),
        ("EUSTG", "eustage", "European stage"),
        ("MAYO12", "mayo2012", "Mayo 2012 stage"),
        ("RENSTG", "renal_stage", "Renal stage"),
        ("HEMEVAL", "hemeval", "FLC evaluability"),
        ("ISOTYPE", "isotype", "Light-chain isotype"),
    ):
        if col in a:
            out.append(
                (
                    f"baseline.{name}",
                    label,
                    "baseline",
                    "categorical",
                    a[col].map(lambda v: None if pd.isna(v) else str(v)),
                )
            )
    if "FLTOIDXM" in a:
        out.append(
            (
                "prior.fl_to_index_months",
                "Months from first-line start to lenalidomide",
                "prior",
                "continuous",
                pd.to_numeric(a["FLTOIDXM"], errors="coerce"),
            )
        )
    if "NPRIOR" in a:
        out.append(("prior.lines", "Prior lines", "prior", "continuous", pd.to_numeric(a["NPRIOR"], errors="coerce")))
    return out


def table1_comparisons(a: pd.DataFrame, tests: dict | None = None) -> list[dict]:
    """For every Table 1 variable: p across the BORTGRP groups (test per tests), the mean
    and largest pairwise SMD and the number of treated patients without a value.
    Keys <variable>.by_bortgrp.{p,smd,smd_max,missing} (docs/results.md)."""
    tests = {**DEFAULT_TABLE1_TESTS, **(tests or {})}
    grp = a["BORTGRP"].to_numpy(object)
    present = [g for g in BORTGRPS if (grp == g).any()]
    recs = []
    for key, label, section, kind, values in table1_variables(a):
        known = values.notna().to_numpy()
        test = tests[kind]
        if kind == "continuous":
            v = values.to_numpy(float)
            res = C.continuous_test([v[grp == g] for g in present], test)
            pairs = [C.smd_continuous(v[grp == g1], v[grp == g2]) for g1, g2 in C.pairwise(present)]
        else:
            v = values.to_numpy(object)
            obs = set(v[known])
            levels = [x for x in ("no", "yes") if x in obs] if obs <= {"no", "yes"} else sorted(obs)
            tab = C.contingency(v[known], grp[known], levels, present)
            res = C.categorical_test(tab, test)
            pairs = [C.smd_categorical(tab[:, i], tab[:, j]) for i, j in C.pairwise(range(len(present)))]
        mean, top = C.smd_summary(pairs)
        test_rec = p_record(
            f"{key}.by_bortgrp.p",
            f"{label}: p across bortezomib groups",
            section,
            res.p,
            res.statistic,
            res.df,
            C.TEST_NAMES[test],
            note=res.note,
        )
        test_rec["n"] = int(known.sum())  # patients compared (every record of Table 1 has n)
        recs.append(test_rec)
        smd_note = None if not np.isnan(mean) else "not estimable: a group has fewer than 2 values or no spread"
        for what, val in (("smd", mean), ("smd_max", top)):
            recs.append(
                record(
                    f"{key}.by_bortgrp.{what}",
                    f"{label}: {'mean' if what == 'smd' else 'largest'} pairwise SMD across bortezomib groups",
                    section,
                    "smd",
                    estimate=None if np.isnan(val) else val,
                    n=int(known.sum()),
                    unit="smd",
                    method=C.SMD_METHOD if what == "smd" else "largest pairwise standardised mean difference",
                    formatted=F.fmt_number(val, 3, "NA"),
                    note=smd_note,
                )
            )
        recs.append(
            count(
                f"{key}.by_bortgrp.missing",
                f"{label}: missing",
                section,
                int((~known).sum()),
                group="missing",
            )
        )
    return recs


def table1(adsl: pd.DataFrame, alpha: float = 0.05, tests: dict | None = None) -> list[dict]:
    a = treated(adsl)
    recs = [count("baseline.n", "Treated patients", "baseline", len(a))]
    groups = [("overall", a)] + [(g, a[a["BORTGRP"] == g]) for g in BORTGRPS]
    for g, d in groups:

        def k(area, rest=None):
            """Overall key, or the group key with .by_bortgrp.<g> after the first two parts."""
            base = area if g == "overall" else f"{area}.by_bortgrp.{g}"
            return base if rest is None else f"{base}.{rest}"

        if g != "overall":
            recs.append(count(f"baseline.by_bortgrp.{g}.n", f"Patients, {g}", "baseline", len(d), group=g))
        recs += describe(k("baseline.age"), "Age (years)", "baseline", d["AGE"], "years", "range", 0, g)
        sex = d["SEX"].dropna()
        recs.append(
            prop(k("baseline.sex", "male"), "Male", "baseline", (sex == "M").sum(), len(sex), alpha, g)
        )
        for org, col in ORGANS.items():
            if col in d:
                v = pd.to_numeric(d[col], errors="coerce").dropna()
                recs.append(
                    prop(
                        k("baseline.organ", org),
                        f"Organ involved: {org}",
                        "baseline",
                        (v == 1).sum(),
                        len(v),
                        alpha,
                        g,
                    )
                )
        if "NORGAN" in d:
            v = pd.to_numeric(d["NORGAN"], errors="coerce").dropna()
            recs.append(
                prop(
                    k("baseline.organ", "ge2"),
                    ">= 2 organs involved",
                    "baseline",
                    (v >= 2).sum(),
                    len(v),
                    alpha,
                    g,
                )
            )
        dial = pd.to_numeric(d["DIALBL"], errors="coerce").dropna()
        recs.append(
            prop(
                k("baseline.dialysis"),
                "On dialysis at start",
                "baseline",
                (dial == 1).sum(),
                len(dial),
                alpha,
                g,
            )
        )
        for col, name, label, unit, spread, dec in (
            ("EGFRBL", "egfr", "eGFR (mL/min/1.73 m2)", "ml_min_1_73m2", "iqr", 0),
            ("NTPROBL", "ntprobnp", "NT-proBNP (ng/L)", "ng_l", "iqr", 0),
            ("DFLCBL", "dflc", "dFLC (mg/L)", "mg_l", "iqr", 0),
        ):
            if col in d:
                recs += describe(k(f"baseline.{name}"), label, "baseline", d[col], unit, spread, dec, g)
        for col, name, levels, label in (
            ("MAYO04", "mayo2004", ["I", "II", "III"], "Mayo 2004 stage"),
            ("EUSTG", "eustage", ["I", "II", "IIIa", "IIIb"], "European stage"),
            ("MAYO12", "mayo2012", ["I", "II", "III", "IV"], "Mayo 2012 stage"),
            ("RENSTG", "renal_stage", ["I", "II", "III"], "Renal stage"),
            ("HEMEVAL", "hemeval", ["measurable", "low_dflc", "not_measurable", "no_clone"], "FLC evaluability"),
            ("ISOTYPE", "isotype", ["kappa", "lambda"], "Light-chain isotype"),
        ):
            if col not in d:
                continue
            v = d[col].dropna().astype(str)
            for lev in levels:
                recs.append(
                    prop(
                        k(f"baseline.{name}", lev),
                        f"{label} {lev}",
                        "baseline",
                        (v == lev).sum(),
                        len(v),
                        alpha,
                        g,
                    )
                )
            recs.append(
                count(
                    k(f"baseline.{name}", "missing"),
                    f"{label}, missing",
                    "baseline",
                    d[col].isna().sum(),
                    group=g,
                )
            )
        if "FLTOIDXM" in d:
            recs += describe(
                k("prior.fl_to_index_months"),
                "Months from first-line start to lenalidomide",
                "prior",
                d["FLTOIDXM"],
                "months",
                "range",
                1,
                g,
            )
        if "NPRIOR" in d:
            recs += describe(k("prior.lines"), "Prior lines", "prior", d["NPRIOR"], "count", "range", 0, g)
    bg = a["BORTGRP"]
    recs.append(
        prop(
            "prior.bortezomib.exposed", "Prior bortezomib", "prior", _flag(a["BORTEXP"]).sum(), len(a), alpha
        )
    )
    for g in BORTGRPS:
        recs.append(prop(f"prior.bortezomib.{g}", f"Bortezomib {g}", "prior", (bg == g).sum(), len(a), alpha))
    if "BORTR60" in a:
        recs.append(
            prop(
                "prior.bortezomib.refractory_60d",
                "Bortezomib refractory (60-day definition)",
                "prior",
                _flag(a["BORTR60"]).sum(),
                len(a),
                alpha,
            )
        )
    if "BORTPDIM" in a:
        recs.append(
            prop(
                "prior.bortezomib.pd_imputed",
                "Bortezomib progression date imputed from next line",
                "prior",
                _flag(a["BORTPDIM"]).sum(),
                len(a),
                alpha,
            )
        )
    return recs + table1_comparisons(a, tests)


# --------------------------------------------------------------------------- response
def _responders(levels: pd.Series, low_dflc_counts: bool, threshold: str = "PR") -> pd.Series:
    ok = {"PR": ["CR", "VGPR", "PR"], "VGPR": ["CR", "VGPR"]}[threshold]
    if low_dflc_counts:
        ok = ok + ["LOWDFLC"]
    return levels.isin(ok)


def best_hem(adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """One row per treated patient: best hematologic response (NR when missing) and evaluability."""
    a = treated(adsl)[["USUBJID", "BORTGRP", "BORTEXP", *(["HEMEVAL"] if "HEMEVAL" in adsl else [])]]
    b = adrs[adrs["PARAMCD"] == "BESTHEM"][["USUBJID", "AVALC", "EVALFL"]].drop_duplicates("USUBJID")
    out = a.merge(b, on="USUBJID", how="left")
    out["AVALC"] = out["AVALC"].where(out["AVALC"].isin(HEM_LEVELS), "NR")
    out["EVALFL"] = out["EVALFL"].fillna("N")
    return out


def response(
    adsl, adrs, alpha=0.05, low_dflc_counts=True, landmarks=(3, 6), days_per_month=30.4375
) -> list[dict]:
    b = best_hem(adsl, adrs)
    lowtxt = "low-dFLC responses counted" if low_dflc_counts else "low-dFLC responses not counted"
    meth = f"{CP_METHOD.format(level=F.fmt_number(100 * (1 - alpha), 0))}; {lowtxt}"
    recs = []
    for pop, d in (("itt", b), ("evaluable", b[b["EVALFL"] == "Y"])):
        n = len(d)
        who = "ITT, all treated" if pop == "itt" else "hematologically evaluable"
        recs.append(
            prop(
                f"hem.{pop}.ge_pr",
                f">= PR ({who})",
                "hematologic",
                _responders(d["AVALC"], low_dflc_counts).sum(),
                n,
                alpha,
                method=meth,
            )
        )
        recs.append(
            prop(
                f"hem.{pop}.ge_vgpr",
                f">= VGPR ({who})",
                "hematologic",
                _responders(d["AVALC"], low_dflc_counts, "VGPR").sum(),
                n,
                alpha,
                method=meth,
            )
        )
        for lev in HEM_LEVELS:
            recs.append(
                prop(
                    f"hem.{pop}.{lev.lower()}",
                    f"{lev} ({who})",
                    "hematologic",
                    (d["AVALC"] == lev).sum(),
                    n,
                    alpha,
                )
            )
    if "HEMEVAL" in b:
        # no detectable clone at baseline: not evaluable, inside the ITT NR count above
        recs.append(
            prop(
                "hem.itt.no_clone",
                "No detectable clone at baseline (not evaluable; counted as NR) (ITT, all treated)",
                "hematologic",
                (b["HEMEVAL"] == "no_clone").sum(),
                len(b),
                alpha,
            )
        )
    b["resp"] = _responders(b["AVALC"], low_dflc_counts)
    exposed = _flag(b["BORTEXP"])
    refr = b["BORTGRP"] == "refractory"
    for prefix, mask, names, label in (
        ("hem.by_bortezomib", exposed, ("exposed", "naive"), "prior bortezomib vs naive"),
        (
            "hem.refractory_vs_non",
            refr,
            ("refractory", "non_refractory"),
            "bortezomib refractory vs non-refractory",
        ),
    ):
        a_, n1 = int(b.loc[mask, "resp"].sum()), int(mask.sum())
        c_, n2 = int(b.loc[~mask, "resp"].sum()), int((~mask).sum())
        recs.append(
            prop(
                f"{prefix}.{names[0]}.ge_pr",
                f">= PR, {names[0]}",
                "hematologic",
                a_,
                n1,
                alpha,
                names[0],
                method=meth,
            )
        )
        recs.append(
            prop(
                f"{prefix}.{names[1]}.ge_pr",
                f">= PR, {names[1]}",
                "hematologic",
                c_,
                n2,
                alpha,
                names[1],
                method=meth,
            )
        )
        t = compare_2x2(a_, n1 - a_, c_, n2 - c_)
        recs.append(
            p_record(
                f"{prefix}.p_fisher",
                f">= PR {label}: Fisher's exact p (quoted)",
                "hematologic",
                t.p_fisher,
                method="Fisher's exact test, two-sided (quoted)",
            )
        )
        note = None if np.isnan(t.expected_min) or t.expected_min >= 5 else "an expected count is below 5"
        recs.append(
            p_record(
                f"{prefix}.p_chi2",
                f">= PR {label}: Pearson chi-square p",
                "hematologic",
                t.p_chi2,
                t.chi2,
                t.df,
                "Pearson chi-square without continuity correction",
                note,
            )
        )
    for g in BORTGRPS:
        d = b[b["BORTGRP"] == g]
        recs.append(
            prop(
                f"hem.by_bortgrp.{g}.ge_pr",
                f">= PR, {g}",
                "hematologic",
                d["resp"].sum(),
                len(d),
                alpha,
                g,
                method=meth,
            )
        )
    # response reached by each landmark (within the best-response window), ITT
    h = adrs[(adrs["PARAMCD"] == "HEMRESP") & (adrs["ANL01FL"] == "Y")]
    for lm in landmarks:
        by = h[pd.to_numeric(h["ADY"], errors="coerce") <= lm * days_per_month]
        for thr in ("PR", "VGPR"):
            who = set(by.loc[_responders(by["AVALC"], low_dflc_counts, thr), "USUBJID"])
            x = b["USUBJID"].isin(who).sum()
            recs.append(
                prop(
                    f"hem.at_{lm:g}m.ge_{thr.lower()}",
                    f">= {thr} reached by {lm:g} months (ITT)",
                    "hematologic",
                    x,
                    len(b),
                    alpha,
                    method=meth,
                )
            )
    return recs


# --------------------------------------------------------------------------- organ
def organ(
    adsl, adrs, labs, alpha=0.05, landmarks=(3, 6), window_days=30, days_per_month=30.4375
) -> list[dict]:
    a = treated(adsl)
    ids = set(a["USUBJID"])
    r = adrs[adrs["USUBJID"].isin(ids)]
    recs = []
    best = r[r["PARAMCD"] == "BESTORG"].drop_duplicates("USUBJID")
    ev = best[best["EVALFL"] == "Y"]
    recs.append(
        prop(
            "organ.any",
            "Any organ response (of evaluable for >= 1 organ)",
            "organ",
            ev["AVALC"].isin(["Y", "RESP"]).sum(),
            len(ev),
            alpha,
        )
    )
    for name, code in (("renal", "REN"), ("liver", "LIV"), ("cardiac", "CARD")):
        d = r[(r["PARAMCD"] == f"BEST{code}") & (r["EVALFL"] == "Y")].drop_duplicates("USUBJID")
        pg = r[(r["PARAMCD"] == f"PROG{code}") & (r["EVALFL"] == "Y")].drop_duplicates("USUBJID")
        recs.append(
            prop(
                f"organ.{name}",
                f"{name.capitalize()} response (of evaluable)",
                "organ",
                (d["AVALC"] == "RESP").sum(),
                len(d),
                alpha,
            )
        )
        recs.append(
            prop(
                f"organ.{name}.progression",
                f"{name.capitalize()} progression, ever in the window (of evaluable)",
                "organ",
                (pg["AVALC"] == "Y").sum(),
                len(pg),
                alpha,
            )
        )
    cr = r[r["PARAMCD"] == "CARDRESP"]
    for fl, name, label in (
        ("IMIDFL", "imid_flagged", "under lenalidomide"),
        ("EGFRFLFL", "egfr_flagged", "with eGFR fall or dialysis"),
    ):
        x = cr.loc[cr[fl] == "Y", "USUBJID"].nunique() if fl in cr else 0
        recs.append(
            count(
                f"organ.cardiac.{name}",
                f"Patients with cardiac calls flagged {label}",
                "organ",
                x,
                note="NT-proBNP rises under IMiDs, with falling eGFR and on dialysis; "
                "cardiac calls are interpreted with care",
            )
        )
    # NT-proBNP % change from baseline at each landmark
    nt = labs[labs["analyte"] == "ntprobnp"][["patient_id", "date", "value"]].rename(
        columns={"patient_id": "USUBJID"}
    )
    nt = nt.merge(a[["USUBJID", "TRTSDT", "NTPROBL"]], on="USUBJID", how="inner")
    nt = nt[pd.to_numeric(nt["NTPROBL"], errors="coerce") > 0]
    nt["day"] = (pd.to_datetime(nt["date"]) - pd.to_datetime(nt["TRTSDT"])).dt.days
    for lm in landmarks:
        target = lm * days_per_month
        c = nt[(nt["day"] > 0) & ((nt["day"] - target).abs() <= window_days)].copy()
        c["dist"] = (c["day"] - target).abs()
        c = c.sort_values(["USUBJID", "dist", "day"], kind="mergesort").drop_duplicates("USUBJID")
        pct = 100 * (c["value"].astype(float) - c["NTPROBL"].astype(float)) / c["NTPROBL"].astype(float)
        tag = f"{lm:g}"
        recs += describe(
            f"organ.ntprobnp.pct_change_{tag}m",
            f"NT-proBNP % change at {lm:g} months",
            "organ",
            pct,
            "percent_change",
            "iqr",
            0,
        )
        recs.append(
            prop(
                f"organ.ntprobnp.rise_{tag}m",
                f"NT-proBNP above baseline at {lm:g} months",
                "organ",
                (pct > 0).sum(),
                len(pct),
                alpha,
            )
        )
    return recs


# --------------------------------------------------------------------------- renal
def renal(adsl, adtte, alpha=0.05, timepoints=(12, 24)) -> list[dict]:
    from . import survival as S

    a = treated(adsl)
    d = adtte[(adtte["PARAMCD"] == "TTDIAL") & adtte["USUBJID"].isin(a["USUBJID"])]
    status = d["CAUSEN"].to_numpy(dtype=int)  # 0 censored, 1 dialysis, 2 death without dialysis
    x = int((status == 1).sum())
    recs = [
        prop(
            "renal.dialysis.crude",
            "Started dialysis (of patients not on dialysis at start)",
            "renal",
            x,
            len(d),
            alpha,
        ),
        prop(
            "renal.dialysis.crude_of_treated", "Started dialysis (of all treated)", "renal", x, len(a), alpha
        ),
    ]
    cif = S.aalen_johansen(d["AVAL"].astype(float), status, alpha=alpha)
    meth = (
        "Aalen-Johansen cumulative incidence, death without dialysis competing; "
        "infinitesimal-jackknife SE, log(-log) CI"
    )
    for t in timepoints:
        tag = f"{t:g}"
        for cause, key, label in (
            (1, "renal.dialysis", "Dialysis"),
            (2, "renal.death_no_dialysis", "Death without dialysis"),
        ):
            est, lo, hi = cif(t, cause)
            recs.append(
                record(
                    f"{key}.cif_{tag}m",
                    f"{label}: cumulative incidence at {t:g} months",
                    "renal",
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    n=len(d),
                    unit="proportion",
                    method=meth,
                    formatted="NA" if np.isnan(est) else f"{F.fmt_pct(est)}%",
                    formatted_ci=F.fmt_pct_ci(lo, hi),
                )
            )
    return recs + renal_by_group(a, d, alpha, timepoints)


# The comparisons of the cumulative incidence of dialysis by Gray's test: the groupings
# the survival analysis compares overall survival by (key part, label, group column, levels).
GRAY_COMPARISONS = (
    ("by_bortgrp", "by bortezomib group", "BORTGRP", tuple(BORTGRPS)),
    ("sensitive_vs_refractory", "sensitive vs refractory", "BORTGRP", ("sensitive", "refractory")),
    ("naive_vs_exposed", "naive vs exposed", "EXPOSED", ("naive", "exposed")),
)


def renal_by_group(a, d, alpha=0.05, timepoints=(12, 24)) -> list[dict]:
    """Cumulative incidence of dialysis (death without dialysis competing) per bortezomib
    group at the time points, and Gray's test of equal incidence for each comparison the
    survival analysis makes (3 groups; sensitive vs refractory; naive vs exposed)."""
    from . import survival as S

    g = d[["USUBJID", "AVAL", "CAUSEN"]].merge(a[["USUBJID", "BORTGRP", "BORTEXP"]], on="USUBJID", how="inner")
    g["EXPOSED"] = np.where(_flag(g["BORTEXP"]), "exposed", "naive")
    recs = []
    meth = "Aalen-Johansen cumulative incidence (exact, ties kept), death without dialysis competing"
    for grp in BORTGRPS:
        s = g[g["BORTGRP"] == grp]
        if s.empty:
            continue
        cif = S.aalen_johansen(s["AVAL"].astype(float), s["CAUSEN"].to_numpy(dtype=int), alpha=alpha)
        for t in timepoints:
            est, lo, hi = cif(t, 1)
            recs.append(
                record(
                    f"renal.dialysis.by_bortgrp.{grp}.cif_{t:g}m",
                    f"Dialysis, {grp}: cumulative incidence at {t:g} months",
                    "renal",
                    grp,
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    n=len(s),
                    unit="proportion",
                    method=meth,
                    formatted="NA" if np.isnan(est) else f"{F.fmt_pct(est)}%",
                    formatted_ci=F.fmt_pct_ci(lo, hi),
                )
            )
    for part, label, column, levels in GRAY_COMPARISONS:
        s = g[g[column].isin(levels)]
        t = S.gray_test(s["AVAL"].astype(float), s["CAUSEN"].to_numpy(dtype=int), s[column], cause=1)
        recs.append(
            p_record(
                f"renal.dialysis.{part}.gray_p",
                f"Dialysis {label}: Gray's test p",
                "renal",
                t.p,
                t.statistic,
                t.df,
                f"Gray's test of equal cumulative incidence (rho = 0), death without dialysis competing "
                f"({s[column].nunique()} groups)",
                note=t.note,
            )
        )
    return recs


# --------------------------------------------------------------------------- survival
def _os(adsl, adtte):
    a = treated(adsl)
    o = adtte[adtte["PARAMCD"] == "OS"][["USUBJID", "AVAL", "CNSR"]]
    d = a.merge(o, on="USUBJID", how="inner")
    d["T"] = d["AVAL"].astype(float)
    d["E"] = (d["CNSR"] == 0).astype(int)
    return d


def survival(
    adsl,
    adtte,
    adrs,
    alpha=0.05,
    timepoints=(12, 24),
    landmarks=(3, 6),
    events_per_parameter=10,
    low_dflc_counts=True,
    days_per_month=30.4375,
) -> list[dict]:
    from . import survival as S

    d = _os(adsl, adtte)
    recs = km_records("os", "Overall survival", "survival", d["T"], d["E"], timepoints, alpha)
    fu = S.reverse_km(d["T"], d["E"], alpha)
    recs.append(
        record(
            "os.followup_median",
            "Median follow-up (reverse Kaplan-Meier)",
            "survival",
            estimate=fu.median,
            ci_low=fu.median_low,
            ci_high=fu.median_high,
            n=fu.n,
            unit="months",
            method="reverse Kaplan-Meier (censoring as event), log(-log) CI",
            formatted=F.fmt_median_ci(fu.median, fu.median_low, fu.median_high),
            formatted_ci=F.fmt_ci(fu.median_low, fu.median_high),
        )
    )
    for g in BORTGRPS:
        s = d[d["BORTGRP"] == g]
        if len(s):
            recs += km_records(
                f"os.by_bortgrp.{g}", f"OS, {g}", "survival", s["T"], s["E"], timepoints, alpha, g
            )
    present = d["BORTGRP"].isin(BORTGRPS)
    t = S.logrank(d.loc[present, "T"], d.loc[present, "E"], d.loc[present, "BORTGRP"])
    recs.append(
        p_record(
            "os.by_bortgrp.logrank_p",
            "OS by bortezomib group: log-rank p",
            "survival",
            t.p,
            t.statistic,
            t.df,
            f"multivariate log-rank test ({d.loc[present, 'BORTGRP'].nunique()} groups)",
            note=t.note,
        )
    )
    sen, ref = d[d["BORTGRP"] == "sensitive"], d[d["BORTGRP"] == "refractory"]
    t = S.logrank_pair(sen["T"], sen["E"], ref["T"], ref["E"])
    recs.append(
        p_record(
            "os.sensitive_vs_refractory.logrank_p",
            "OS sensitive vs refractory: log-rank p",
            "survival",
            t.p,
            t.statistic,
            t.df,
            "log-rank test, 2 groups",
            note=t.note,
        )
    )
    nai, exp_ = d[~_flag(d["BORTEXP"])], d[_flag(d["BORTEXP"])]
    t = S.logrank_pair(nai["T"], nai["E"], exp_["T"], exp_["E"])
    recs.append(
        p_record(
            "os.naive_vs_exposed.logrank_p",
            "OS naive vs exposed (unadjusted): log-rank p",
            "survival",
            t.p,
            t.statistic,
            t.df,
            "log-rank test, 2 groups",
            note=t.note,
        )
    )
    recs += cox_naive_vs_exposed(d, alpha, events_per_parameter)
    recs += landmark_os(d, adrs, alpha, landmarks, low_dflc_counts, days_per_month)
    return recs


def cox_naive_vs_exposed(d: pd.DataFrame, alpha=0.05, events_per_parameter=10) -> list[dict]:
    from . import survival as S

    m = pd.DataFrame({"T": d["T"], "E": d["E"], "naive": (~_flag(d["BORTEXP"])).astype(float)})
    stage = d["MAYO04"].astype(object)
    notes, dropped = [], []
    terms = ["naive"]
    for lev in ("II", "III"):
        col = f"mayo2004_{lev}"
        m[col] = np.where(stage.isna(), np.nan, (stage == lev).astype(float))
        if m[col].nunique(dropna=True) < 2:
            notes.append(f"Mayo 2004 stage {lev} absent or universal: term dropped")
            dropped.append(col)
            m = m.drop(columns=col)
        else:
            terms.append(col)
    try:
        res = S.cox(m, "T", "E", terms, alpha, events_per_parameter)
    except Exception as exc:  # lifelines ConvergenceError, no events, constant terms
        note = f"Cox model not estimable: {str(exc).splitlines()[0][:200]}"
        return _cox_not_estimable(m, terms, note) + _cox_terms_not_estimable(m, dropped, "; ".join(notes + [note]))
    note = "; ".join(notes + ([res.warning] if res.warning else [])) or None
    meth = "Cox proportional hazards, Efron ties, Wald test; adjusted for Mayo 2004 stage (dummy-coded, stage I reference); complete cases"
    recs = []
    for term, row in res.summary.iterrows():
        key = "os.cox.naive_vs_exposed.hr" if term == "naive" else f"os.cox.{term}.hr"
        label = (
            "HR naive vs exposed, adjusted for Mayo 2004 stage"
            if term == "naive"
            else f"HR {term.replace('_', ' ')} vs I"
        )
        recs.append(
            record(
                key,
                label,
                "survival",
                "cox",
                estimate=row["hr"],
                ci_low=row["hr_low"],
                ci_high=row["hr_high"],
                n=res.n,
                p=row["p"],
                statistic=row["z"],
                df=1,
                unit="ratio",
                method=meth,
                formatted=F.fmt_hr(row["hr"], row["hr_low"], row["hr_high"]),
                formatted_ci=F.fmt_ci(row["hr_low"], row["hr_high"], 2),
                note=note,
            )
        )
        recs.append(
            p_record(
                f"os.cox.ph.{term}.p",
                f"Proportional hazards test, {term}",
                "survival",
                row["ph_p"],
                method="Schoenfeld residuals test, rank time transform",
            )
        )
    recs.append(
        record(
            "os.cox.events",
            "Cox model events",
            "survival",
            "cox",
            estimate=res.events,
            n=res.n,
            unit="count",
            method="count",
            formatted=f"{res.events} events in {res.n} patients",
            note=note,
        )
    )
    recs.append(
        record(
            "os.cox.events_per_parameter",
            "Events per model parameter",
            "survival",
            "cox",
            estimate=res.events_per_parameter,
            n=res.n_parameters,
            unit="ratio",
            method=f"events / parameters; warning below {events_per_parameter:g}",
            formatted=F.fmt_number(res.events_per_parameter, 1),
            note=res.warning,
        )
    )
    return recs + _cox_terms_not_estimable(m, dropped, note)


def _cox_terms_not_estimable(m: pd.DataFrame, terms: list[str], note: str) -> list[dict]:
    """The hazard-ratio and PH-test keys of ``terms``, estimates missing, the reason in the
    note: every cohort gives the same keys, whatever could be estimated."""
    cc = m.dropna()
    recs = [
        record(
            "os.cox.naive_vs_exposed.hr" if t == "naive" else f"os.cox.{t}.hr",
            f"HR {t}",
            "survival",
            "cox",
            n=len(cc),
            unit="ratio",
            method="Cox proportional hazards, Efron ties",
            formatted="not estimable",
            note=note,
        )
        for t in terms
    ]
    recs += [
        p_record(f"os.cox.ph.{t}.p", f"Proportional hazards test, {t}", "survival", None, note=note)
        for t in terms
    ]
    return recs


def _cox_not_estimable(m: pd.DataFrame, terms: list[str], note: str) -> list[dict]:
    """The Cox keys, all estimates missing, with the reason in the note."""
    cc = m.dropna()
    recs = _cox_terms_not_estimable(m, terms, note)
    recs.append(
        record(
            "os.cox.events",
            "Cox model events",
            "survival",
            "cox",
            estimate=int(cc["E"].sum()),
            n=len(cc),
            unit="count",
            method="count",
            formatted=str(int(cc["E"].sum())),
            note=note,
        )
    )
    recs.append(
        record(
            "os.cox.events_per_parameter",
            "Events per model parameter",
            "survival",
            "cox",
            estimate=cc["E"].sum() / len(terms),
            n=len(terms),
            unit="ratio",
            method="events / parameters",
            formatted=F.fmt_number(cc["E"].sum() / len(terms), 1),
            note=note,
        )
    )
    return recs


def landmark_os(
    d, adrs, alpha=0.05, landmarks=(3, 6), low_dflc_counts=True, days_per_month=30.4375
) -> list[dict]:
    from . import survival as S

    h = adrs[(adrs["PARAMCD"] == "HEMRESP") & (adrs["ANL01FL"] == "Y")]
    recs = []
    for lm in landmarks:
        tag = f"{lm:g}"
        by = h[pd.to_numeric(h["ADY"], errors="coerce") <= lm * days_per_month]
        resp_ids = set(by.loc[_responders(by["AVALC"], low_dflc_counts), "USUBJID"])
        alive = d[d["T"] > lm].copy()
        alive["TL"] = alive["T"] - lm
        alive["R"] = alive["USUBJID"].isin(resp_ids)
        recs.append(
            count(
                f"os.landmark_{tag}m.n",
                f"Patients alive and followed at {lm:g} months",
                "survival",
                len(alive),
                group=f"landmark_{tag}m",
            )
        )
        for name, s in (("responder", alive[alive["R"]]), ("non_responder", alive[~alive["R"]])):
            if len(s):
                recs += km_records(
                    f"os.landmark_{tag}m.{name}",
                    f"OS from {lm:g}-month landmark, {name}",
                    "survival",
                    s["TL"],
                    s["E"],
                    (),
                    alpha,
                    f"landmark_{tag}m",
                )
        r, nr = alive[alive["R"]], alive[~alive["R"]]
        t = S.logrank_pair(r["TL"], r["E"], nr["TL"], nr["E"])
        recs.append(
            p_record(
                f"os.landmark_{tag}m.logrank_p",
                f"Landmark {lm:g} months: responder vs not, log-rank p",
                "survival",
                t.p,
                t.statistic,
                t.df,
                "log-rank test from the landmark (>= PR reached by it)",
                note=t.note,
            )
        )
    return recs


# --------------------------------------------------------------------------- exposure
def exposure(adsl, adtte, alpha=0.05) -> list[dict]:
    from . import survival as S

    a = treated(adsl)
    recs = []
    recs += describe(
        "exposure.dose", "Starting lenalidomide dose (mg)", "exposure", a["LENSTDOS"], "mg", "range", 0
    )
    recs += describe(
        "exposure.dose_max", "Highest lenalidomide dose (mg)", "exposure", a["LENMXDOS"], "mg", "range", 0
    )
    recs.append(
        count(
            "exposure.dose_max.n_25mg",
            "Patients who received >= 25 mg",
            "exposure",
            (pd.to_numeric(a["LENMXDOS"], errors="coerce") >= 25).sum(),
        )
    )
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
    early = _flag(a["EARLYDSC"])
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
            "Died on lenalidomide",
            "discontinuation",
            _flag(a["DTHONTRT"]).sum(),
            n,
            alpha,
        )
    )
    return recs


# --------------------------------------------------------------------------- toxicity
def toxicity(adsl, adae, alpha=0.05) -> list[dict]:
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


# --------------------------------------------------------------------------- rule entry
def _analysis(name: str, d: dict, p: dict):
    """Dispatch one analysis; returns (records, footnotes)."""
    a = p.get("alpha", 0.05)
    if name == "table1":
        tests = {**DEFAULT_TABLE1_TESTS, **(p.get("table1_tests") or {})}
        names = {k: C.TEST_NAMES[v] for k, v in tests.items()}
        return table1(d["adsl"], a, tests), TABLE1_FOOTNOTES + [TABLE1_COMPARE_FOOTNOTE.format(**names)]
    if name == "response":
        return response(d["adsl"], d["adrs"], a, p["low_dflc_counts"], p["landmarks"], p["days_per_month"]), [
            "ITT: all treated patients; patients without an assessment count as NR.",
            "No detectable clone at baseline (normal kappa/lambda ratio, negative serum and urine IFE): "
            "not evaluable for hematologic response, never CR; counted as NR under ITT (its own row).",
            "95% CIs: Clopper-Pearson exact. 2x2 comparisons: Fisher's exact test quoted, Pearson chi-square "
            "without continuity correction beside it.",
        ]
    if name == "organ":
        return organ(
            d["adsl"], d["adrs"], d["labs"], a, p["landmarks"], p["lab_window_days"], p["days_per_month"]
        ), [
            "Denominators: patients evaluable for the organ; any organ: evaluable for >= 1 organ.",
            "Organ progression: >= 1 progression call in the window, whatever the best response.",
            "Cardiac calls made under lenalidomide (an IMiD, which raises NT-proBNP) are flagged.",
        ]
    if name == "renal":
        return renal(d["adsl"], d["adtte"], a, p["timepoints"]), [
            "Cumulative incidence by Aalen-Johansen with death without dialysis as a competing event "
            "(never 1 - Kaplan-Meier); tied times kept (exact estimator, as R's survfit).",
            "Groups compared by Gray's test of equal cumulative incidence (rho = 0, as R's cmprsk::cuminc).",
        ]
    if name == "survival":
        return survival(
            d["adsl"],
            d["adtte"],
            d["adrs"],
            a,
            p["timepoints"],
            p["landmarks"],
            p["events_per_parameter"],
            p["low_dflc_counts"],
            p["days_per_month"],
        ), [
            "Kaplan-Meier with log(-log) transformed 95% CIs; medians by the convention of R's survival "
            "package; NR = not reached. Follow-up by reverse Kaplan-Meier.",
            "Cox model with Efron ties, Wald tests; proportional hazards by Schoenfeld residuals (rank time).",
        ]
    if name == "exposure":
        return exposure(d["adsl"], d["adtte"], a), [
            "Percentages of all treated patients; reasons among early discontinuations.",
        ]
    if name == "toxicity":
        return toxicity(d["adsl"], d["adae"], a), [
            "Worst CTCAE v5 grade per patient and term; n (%) of all treated patients.",
            "Treatment-emergent events only (ADAE TRTEMFL = Y): onset on or after the first dose and at most "
            "exposure.teae_days_after_last_dose days (config.yaml) after the last dose; no end while therapy "
            "is ongoing.",
        ]
    raise ValueError(f"unknown analysis {name}")


# The only lab rows an analysis reads (organ: NT-proBNP change at the landmarks). At
# 100,000 patients the validated labs hold about 15 million rows; reading only these
# keeps the organ analysis at a third of the memory.
STATS_LAB_ANALYTES = ("ntprobnp",)


def _read_input(name: str, path) -> pd.DataFrame:
    if name == "labs":
        import pyarrow.parquet as pq

        if "analyte" in pq.read_schema(path).names:  # else stats_problems names the missing column
            return pd.read_parquet(path, filters=[("analyte", "in", list(STATS_LAB_ANALYTES))])
    return pd.read_parquet(path)


# The derived datasets each analysis reads, and the columns it needs beyond REQUIRED.
ANALYSES = {
    "table1": ("adsl",),
    "response": ("adsl", "adrs"),
    "organ": ("adsl", "adrs", "labs"),
    "renal": ("adsl", "adtte"),
    "survival": ("adsl", "adtte", "adrs"),
    "exposure": ("adsl", "adtte"),
    "toxicity": ("adsl", "adae"),
}
EXTRA_REQUIRED = {
    "renal": {"adtte": ["CAUSEN"]},
    "organ": {"adsl": ["TRTSDT", "NTPROBL"]},
    "exposure": {"adsl": ["LENSTDOS", "LENMXDOS", "NCYCLES", "TRTDURM", "STOPRSN", "EARLYDSC", "DTHONTRT"]},
}
# CPU seconds of each analysis at 100,000 patients (docs/performance.md): the workers take
# the longest first, so that the last one to finish is a short one.
CPU_AT_100K = {
    "survival": 22,
    "organ": 11,
    "renal": 11,
    "response": 5,
    "table1": 3,
    "toxicity": 3,
    "exposure": 2,
}


class StatsAnalysisError(RuntimeError):
    """One or more analyses failed: the message names each one and its error."""


@dataclass
class AnalysisResult:
    name: str
    records: list | None = None
    footnotes: list | None = None
    part: dict | None = None  # key -> record, as in results.json
    error: str | None = None  # exception type and message, or how the worker died
    detail: str = ""  # traceback, for the log
    cpu_s: float = 0.0


def stats_problems(frames: dict, files: dict) -> list[str]:
    """Every input problem once, each followed by the analyses it stops."""
    users = {ds: [a for a, used in ANALYSES.items() if ds in used] for ds in frames}
    stopped: dict[str, list[str]] = {}
    for ds, msg in input_problems(frames, files):
        stopped.setdefault(msg, []).extend(users[ds])
    for analysis, extra in EXTRA_REQUIRED.items():
        for ds, cols in extra.items():
            if ds in frames:
                for c in cols:
                    if c not in frames[ds].columns:
                        stopped.setdefault(f"{files[ds]}: column {c}: required column missing", []).append(analysis)
    order = list(ANALYSES)
    return [
        f"{msg} (analyses: {', '.join(sorted(set(names), key=order.index))})" for msg, names in stopped.items()
    ]


def _import_for_workers(names) -> None:
    """Import here what the analyses import lazily (the survival module, lifelines: about
    a second), so that the forked workers share it instead of each importing it again."""
    if set(names) & {"renal", "survival", "exposure"}:
        import lifelines  # noqa: F401
        import lifelines.statistics  # noqa: F401
        import lifelines.utils  # noqa: F401

        from . import survival  # noqa: F401


def run_analyses(frames: dict, params: dict, workers: int = 1, names=None) -> dict[str, AnalysisResult]:
    """Run the analyses (default: all), in `workers` processes forked from this one (the
    imports and inputs are shared, not repeated); with one worker, in this process. The
    results do not depend on the number of workers: each analysis is a pure function of
    its inputs (nothing is random). A failed analysis comes
    back with its error (type and message) and traceback instead of records."""
    names = list(ANALYSES if names is None else names)
    order = sorted(names, key=lambda n: -CPU_AT_100K.get(n, 0))

    def run(name: str):
        start = time.process_time()
        records, footnotes = _analysis(name, {k: frames[k] for k in ANALYSES[name]}, params)
        return records, footnotes, _to_records_json(records), time.process_time() - start

    results = {}
    done = fork_map(run, order, workers, warm_up=lambda: _import_for_workers(names))
    for name, (value, error) in zip(order, done):
        if error is None:
            records, footnotes, part, cpu_s = value
            results[name] = AnalysisResult(name, records, footnotes, part, cpu_s=cpu_s)
        else:
            results[name] = AnalysisResult(name, error=error_summary(error), detail=error)
    return results


def _read_inputs(inputs: dict) -> dict:
    frames, problems = {}, []
    for k, v in inputs.items():
        try:
            frames[k] = _read_input(k, v)
        except Exception as exc:
            problems.append(f"{v}: cannot read: {type(exc).__name__}: {str(exc).strip()}")
    if problems:
        raise StatsInputError(f"rule stats: {len(problems)} unreadable input(s):\n  " + "\n  ".join(problems))
    return frames


def run_stats(
    inputs: dict, tables: dict, results_path, log: logging.Logger, params: dict, meta: dict, workers: int = 1
):
    """Entry of rule `stats`: read each input once, check them all, run the seven analyses
    in `workers` processes, then write results/tables/<name>.csv and results.json.

    Any input problem (file, row, column, the analyses it stops) or failed analysis (named,
    with its error; each traceback logged to `log`) fails the job with every problem
    listed, and nothing is written. The script runs this inside rulelog.rule_log, which
    records the failure in the rule's log. On success `log` gets each analysis's number
    of results, CPU seconds and warnings (the records' notes)."""
    if set(tables) != set(ANALYSES):
        raise ValueError(f"rule stats: tables for {sorted(tables)}, expected {sorted(ANALYSES)}")
    # derived datasets are named by their CSV export (same rows, header = line 1)
    files = {
        k: str(v).replace(".parquet", ".csv") if "derived" in str(v) else str(v) for k, v in inputs.items()
    }
    frames = _read_inputs(inputs)
    problems = stats_problems(frames, files)
    if problems:
        raise StatsInputError(
            f"rule stats: {len(problems)} problem(s) in the derived data:\n  " + "\n  ".join(problems)
        )
    results = run_analyses(frames, params, workers)
    failed = [results[n] for n in ANALYSES if results[n].error]
    for r in failed:
        log.error("analysis %s failed:\n%s", r.name, r.detail)
    if failed:
        raise StatsAnalysisError(
            f"rule stats: {len(failed)} of {len(ANALYSES)} analyses failed:\n  "
            + "\n  ".join(f"analysis {r.name}: {r.error}" for r in failed)
        )
    obj = merge_results({n: results[n].part for n in ANALYSES}, meta)
    for n in ANALYSES:
        write_table(results[n].records, tables[n], results[n].footnotes)
    dump_json(obj, results_path)
    log.info("rule stats: %d results from %s", len(obj["results"]), ", ".join(sorted(files.values())))
    log.info("workers: %d", max(1, min(workers, len(ANALYSES))))
    for n in ANALYSES:
        r = results[n]
        log.info("analysis %s: %d results, %.1f s CPU", n, len(r.records), r.cpu_s)
        for note in sorted({x["note"] for x in r.records if x["note"]}):
            log.warning("%s (analysis %s)", note, n)
    return obj
