"""Hematologic and organ response of the treated patients (analyses `response` and `organ`).

response: best hematologic response (ADRS BESTHEM; NR when a patient has none) as n (%) with
Clopper-Pearson CIs, >= PR and >= VGPR (a low-dFLC response counted as a response when
hematologic.low_dflc_counts_as_response says so) and each category, among all treated
patients (ITT, denominator: every treated patient) and among the hematologically evaluable
(EVALFL = Y). Patients with no detectable clone at baseline are not evaluable and count as
NR under ITT (their own row). >= PR compared between prior exposure (config prior_exposure,
bortezomib by default) and naive (comparison naive_vs_exposed) and between refractory and
non-refractory (refractory_vs_non) by Fisher's exact test (quoted) and Pearson chi-square
without continuity correction; >= PR per group (by_group); and >= PR / >= VGPR
reached by each landmark (stats.landmarks_months; ITT denominator), by
stats.responders.responded_by.

organ: best organ responses (ADRS BESTREN, BESTLIV, BESTCARD; any organ: BESTORG) and organ
progression ever in the window, each among the patients evaluable for that organ (EVALFL =
Y); the patients with cardiac calls flagged under a caveat agent (IMIDFL) or with an eGFR fall
(EGFRFLFL); the hematologic responders whose NT-proBNP progressed (hem_cardiac_discordance:
best hematologic response >= PR, cardiac progression call ever, among hematologic responders
evaluable for cardiac response; the discordance an IMiD's NT-proBNP rise gives); and the NT-proBNP % change from baseline at each landmark: the measurement
closest to the landmark within stats.lab_window_days (ties: the earlier), among patients with
a positive baseline, as median (IQR) and the share above baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import formatting as F
from ..proportions import CP_METHOD, compare_2x2
from ..study import Wording
from .records import PEXGRPS, HEM_LEVELS, count, describe, flag, p_record, prop, treated
from .responders import is_responder, responded_by


def best_hem(adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """One row per treated patient: best hematologic response (NR when missing) and evaluability."""
    a = treated(adsl)[["USUBJID", "PEXGRP", "PEXFL", *(["HEMEVAL"] if "HEMEVAL" in adsl else [])]]
    b = adrs[adrs["PARAMCD"] == "BESTHEM"][["USUBJID", "AVALC", "EVALFL"]].drop_duplicates("USUBJID")
    out = a.merge(b, on="USUBJID", how="left")
    out["AVALC"] = out["AVALC"].where(out["AVALC"].isin(HEM_LEVELS), "NR")
    out["EVALFL"] = out["EVALFL"].fillna("N")
    return out


def response(
    adsl,
    adrs,
    *,
    alpha,
    low_dflc_counts,
    landmarks,
    days_per_month,
    comparisons,
    prior_exposure: dict | None,
) -> list[dict]:
    """Hematologic response of the treated patients (see the module docstring)."""
    w = Wording.from_params(None, prior_exposure)
    comparisons = comparisons if w.grouping else ()
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
                is_responder(d["AVALC"], low_dflc_counts).sum(),
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
                is_responder(d["AVALC"], low_dflc_counts, "VGPR").sum(),
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
    b["resp"] = is_responder(b["AVALC"], low_dflc_counts)
    exposed = flag(b["PEXFL"])
    refr = b["PEXGRP"] == "refractory"
    for comparison, prefix, mask, names, label in (
        ("naive_vs_exposed", "hem.by_exposure", exposed, ("exposed", "naive"), "{prior} vs naive"),
        (
            "refractory_vs_non",
            "hem.refractory_vs_non",
            refr,
            ("refractory", "non_refractory"),
            "{exposure} refractory vs non-refractory",
        ),
    ):
        if comparison not in comparisons:
            continue
        label = label.format(prior=w.prior, exposure=w.exposure)  # a comparison made: a grouping
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
    for g in PEXGRPS if "by_group" in comparisons else ():
        d = b[b["PEXGRP"] == g]
        recs.append(
            prop(
                f"hem.by_pexgrp.{g}.ge_pr",
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
    for lm in landmarks:
        for thr in ("PR", "VGPR"):
            who = responded_by(adrs, lm, days_per_month, low_dflc_counts, thr)
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
def organ_footnotes(params: dict) -> list[str]:
    """The organ table's footnote on cardiac calls flagged for the IMiD caveat, when a
    salvage agent is of a caveat class (config study.imid_caveat_classes; alsalvage.study)."""
    note = Wording.from_params(params, None).imid_caveat_note  # the regimen's words only
    return [note] if note else []


def hem_cardiac_discordance(adsl: pd.DataFrame, adrs: pd.DataFrame, low_dflc_counts: bool) -> tuple[int, int]:
    """(hematologic responders with a cardiac progression call, hematologic responders
    evaluable for cardiac response): a hematologic response beside an NT-proBNP
    progression, the discordance an IMiD's NT-proBNP rise produces."""
    b = best_hem(adsl, adrs)
    responders = set(b.loc[is_responder(b["AVALC"], low_dflc_counts), "USUBJID"])
    pg = adrs[(adrs["PARAMCD"] == "PROGCARD") & (adrs["EVALFL"] == "Y") & adrs["USUBJID"].isin(responders)]
    pg = pg.drop_duplicates("USUBJID")
    return int((pg["AVALC"] == "Y").sum()), len(pg)


def organ(adsl, adrs, labs, *, alpha, landmarks, lab_window_days, days_per_month, low_dflc_counts) -> list[dict]:
    """Organ responses and progression and NT-proBNP change (see the module docstring)."""
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
        ("IMIDFL", "imid_flagged", "under {caveat_agents}"),
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
    progressing, responders = hem_cardiac_discordance(adsl, adrs, low_dflc_counts)
    recs.append(
        prop(
            "organ.cardiac.hem_responders_progressing",
            "Hematologic responders with cardiac (NT-proBNP) progression (of responders evaluable for cardiac)",
            "organ",
            progressing,
            responders,
            alpha,
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
        c = nt[(nt["day"] > 0) & ((nt["day"] - target).abs() <= lab_window_days)].copy()
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

