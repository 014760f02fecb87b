"""Table 1: the treated patients at the start of lenalidomide (ADSL, SAFFL = Y), overall and
by prior-exposure group (naive, sensitive, refractory; config prior_exposure, bortezomib by
default). Without a grouping, or without the by_group comparison (analysis.comparisons),
there are no group columns, p or SMD; without a grouping no prior-exposure rows either.

Estimates: age, months from first-line therapy, prior lines, eGFR, NT-proBNP and dFLC as
median (range) or median (IQR), quartiles by linear interpolation (R type 7); sex, organs
involved, dialysis, stages (Mayo 2004, European, Mayo 2012, renal), FLC evaluability and
isotype as n (%) with Clopper-Pearson CIs. Denominator of a categorical row: the treated
patients with a known value (missing ones are counted in their own row, never guessed);
prior-exposure rows: all treated. Each variable is compared across the groups by the
test of stats.table1_tests (Kruskal-Wallis or ANOVA; Pearson chi-square or Fisher's exact),
with the mean and largest pairwise standardised mean difference (alsalvage.compare).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import compare as C
from .. import formatting as F
from ..derive_common import ORGAN_COLUMNS as ORGANS
from ..study import CENTRE_FOOTNOTE, Wording, cap, centre_key, centre_label, centre_tag
from .records import PEXGRPS, count, describe, flag, p_record, prop, record, treated

TABLE1_COMPARE_FOOTNOTE = (
    "p: difference across the prior-{exposure} groups by the test named in the row ({continuous} for "
    "continuous, {categorical} for categorical variables; stats.table1_tests in config.yaml). SMD: mean of "
    "the pairwise standardised mean differences (as tableone; Yang & Dalton for categorical variables). "
    "Missing: treated patients without a value."
)


# Months before the index date in Table 1: (ADSL column, results key, label).
PRIOR_MONTHS = (
    ("FLTOIDXM", "prior.fl_to_index_months", "Months from first-line start to {regimen}"),
    ("DXTOIDXM", "prior.dx_to_index_months", "Months from diagnosis to {regimen}"),
)


def compare_footnotes(params: dict) -> list[str]:
    """The footnote naming Table 1's tests (params table1_tests; none without the
    by_group comparison) and, under analysis.centre.table1_by_centre, the one on the
    centre columns (study.CENTRE_FOOTNOTE)."""
    out = []
    if "by_group" in params["comparisons"]:
        w = Wording.from_params(None, params["prior_exposure"])
        names = {k: C.TEST_NAMES[v] for k, v in params["table1_tests"].items()}
        out.append(TABLE1_COMPARE_FOOTNOTE.format(exposure=w.exposure, **names))
    if (params.get("centre") or {}).get("table1_by_centre"):
        out.append(CENTRE_FOOTNOTE)
    return out


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
    for col, key, label in PRIOR_MONTHS:
        if col in a:
            out.append((key, label, "prior", "continuous", pd.to_numeric(a[col], errors="coerce")))
    if "NPRIOR" in a:
        out.append(("prior.lines", "Prior lines", "prior", "continuous", pd.to_numeric(a["NPRIOR"], errors="coerce")))
    return out


def table1_comparisons(a: pd.DataFrame, tests: dict, w: Wording) -> list[dict]:
    """For every Table 1 variable: p across the PEXGRP groups (test per tests), the mean
    and largest pairwise SMD and the number of treated patients without a value.
    Keys <variable>.by_pexgrp.{p,smd,smd_max,missing} (docs/results.md)."""
    grp = a["PEXGRP"].to_numpy(object)
    present = [g for g in PEXGRPS if (grp == g).any()]
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
            f"{key}.by_pexgrp.p",
            f"{label}: p across {w.group_of}s",
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
                    f"{key}.by_pexgrp.{what}",
                    f"{label}: {'mean' if what == 'smd' else 'largest'} pairwise SMD across {w.group_of}s",
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
                f"{key}.by_pexgrp.missing",
                f"{label}: missing",
                section,
                int((~known).sum()),
                group="missing",
            )
        )
    return recs


def table1_by_centre(adsl: pd.DataFrame, alpha: float, table1_tests: dict) -> list[dict]:
    """Table 1's overall rows for the treated patients of each centre (ADSL SITEID, from
    patients.csv's optional centre column; analysis.centre.table1_by_centre): keys
    <variable>.by_centre.<centre>.*, centre names with characters other than letters,
    digits, - and _ replaced by _; baseline.by_centre.missing counts the treated patients
    without a centre. No test across centres."""
    if "SITEID" not in adsl.columns:
        raise KeyError("analysis.centre.table1_by_centre needs the optional centre column of patients.csv (ADSL SITEID)")
    a = treated(adsl)
    site = a["SITEID"].astype(object)
    site = site.where(site.notna() & (site.astype(str) != ""), None)
    recs = [count("baseline.by_centre.missing", "Patients without a centre", "baseline", int(site.isna().sum()))]
    for c in sorted(site.dropna().unique()):
        tag = centre_tag(c)
        sub = a[(site == c).to_numpy()]
        for r in table1(sub, alpha=alpha, table1_tests=table1_tests, comparisons=(), prior_exposure=None, centre={}):
            if ".by_pexgrp." in r["key"] or r["key"].startswith("prior.exposure."):
                continue
            recs.append({**r, "key": centre_key(r["key"], tag), "label": centre_label(r["label"], c), "group": str(c)})
    return recs


def table1(
    adsl: pd.DataFrame,
    *,
    alpha: float,
    table1_tests: dict,
    comparisons,
    prior_exposure: dict | None,
    centre: dict,
) -> list[dict]:
    """Table 1 of the treated patients (SAFFL = Y), overall and by prior-exposure group;
    by centre too when analysis.centre.table1_by_centre asks (table1_by_centre)."""
    w = Wording.from_params(None, prior_exposure)
    by_group = w.grouping and "by_group" in comparisons
    a = treated(adsl)
    recs = [count("baseline.n", "Treated patients", "baseline", len(a))]
    groups = [("overall", a)] + ([(g, a[a["PEXGRP"] == g]) for g in PEXGRPS] if by_group else [])
    for g, d in groups:

        def k(area, rest=None):
            """Overall key, or the group key with .by_pexgrp.<g> after the first two parts."""
            base = area if g == "overall" else f"{area}.by_pexgrp.{g}"
            return base if rest is None else f"{base}.{rest}"

        if g != "overall":
            recs.append(count(f"baseline.by_pexgrp.{g}.n", f"Patients, {g}", "baseline", len(d), group=g))
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
        for col, key, label in PRIOR_MONTHS:
            if col in d:
                recs += describe(k(key), label, "prior", d[col], "months", "range", 1, g)
        if "NPRIOR" in d:
            recs += describe(k("prior.lines"), "Prior lines", "prior", d["NPRIOR"], "count", "range", 0, g)
    if not w.grouping:
        return recs
    bg = a["PEXGRP"]
    recs.append(
        prop(
            "prior.exposure.exposed", cap(w.prior), "prior", flag(a["PEXFL"]).sum(), len(a), alpha
        )
    )
    for g in PEXGRPS:
        recs.append(prop(f"prior.exposure.{g}", f"{cap(w.exposure)} {g}", "prior", (bg == g).sum(), len(a), alpha))
    if "PEXR60" in a:
        recs.append(
            prop(
                "prior.exposure.refractory_60d",
                f"{cap(w.exposure)} refractory (60-day definition)",
                "prior",
                flag(a["PEXR60"]).sum(),
                len(a),
                alpha,
            )
        )
    if "PEXPDIM" in a:
        recs.append(
            prop(
                "prior.exposure.pd_imputed",
                f"{cap(w.exposure)} progression date imputed from next line",
                "prior",
                flag(a["PEXPDIM"]).sum(),
                len(a),
                alpha,
            )
        )
    recs += table1_comparisons(a, table1_tests, w) if by_group else []
    if centre.get("table1_by_centre"):
        recs += table1_by_centre(adsl, alpha, table1_tests)
    return recs

