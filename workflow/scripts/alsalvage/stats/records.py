"""The record model of the statistics: every number the report quotes, as a record under a
stable key, and the files they are written to.

A record carries the fields of docs/results.md (estimate, ci_low, ci_high, n, denominator,
p, statistic, df, unit, method, label, formatted, formatted_ci, note) plus `section` and
`group` for the CSV table. The builders here are shared by every analysis: ``prop`` (a
proportion x/n with its Clopper-Pearson CI), ``count``, ``describe`` (median with range or
IQR, quartiles by linear interpolation as R's type 7), ``km_records`` (Kaplan-Meier median
and survival at time points, log(-log) CIs) and ``p_record`` (a test's p-value). The CSV
(results/tables/<name>.csv) lists the records with publication strings AND raw numbers;
results/stats/results.json maps key -> record for every analysis (``merge_results``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import formatting as F
from ..csvout import neutralise_frame
from ..proportions import CP_METHOD, clopper_pearson

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
PEXGRPS = ["naive", "sensitive", "refractory"]
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
    from .. import survival as S

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


def to_records_json(records: list[dict]) -> dict:
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



def treated(adsl: pd.DataFrame) -> pd.DataFrame:
    return adsl[adsl["SAFFL"] == "Y"].reset_index(drop=True)


def flag(s: pd.Series) -> pd.Series:
    """0/1, bool or Y/N -> bool (missing -> False)."""
    if s.dtype == object:
        return s.isin(["Y", "1", 1, True, "True", "true"])
    return pd.to_numeric(s, errors="coerce").fillna(0).astype(float) == 1

