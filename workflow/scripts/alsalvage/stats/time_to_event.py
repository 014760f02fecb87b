"""Time-to-event analyses: dialysis (`renal`) and overall survival (`survival`).

renal: among the treated patients not on dialysis at the start (ADTTE TTDIAL), the share
that started dialysis (also of all treated) and the cumulative incidence of dialysis and of
death without dialysis (the competing event, never 1 - Kaplan-Meier) at stats.timepoints_months
by the Aalen-Johansen estimator (tied times kept; infinitesimal-jackknife SE, log(-log) CI),
overall and per prior-exposure group (config prior_exposure, bortezomib by default), groups
compared by Gray's test (rho = 0; stratified by centre under analysis.centre.stratify).

survival: overall survival (ADTTE OS) of the treated patients by Kaplan-Meier (log(-log)
CIs; medians by the convention of R's survival package) overall and per prior-exposure group,
survival at the time points, median follow-up by reverse Kaplan-Meier; log-rank tests
(three groups; sensitive vs refractory; naive vs exposed); a Cox model with the terms of
analysis.cox_covariates (default: naive vs exposed adjusted for Mayo 2004 stage; Efron ties, Wald tests, complete cases; events per parameter
checked against stats.events_per_parameter; proportional hazards by Schoenfeld residuals);
and the landmark analyses: from each landmark, patients alive and followed at it, OS of
those who responded by it (responders.responded_by) against the others, log-rank p.
Under analysis.centre.stratify every log-rank test and the Cox model take the centre
(ADSL SITEID) as a stratum.

The group estimates and comparisons are those of config analysis.comparisons (by_group:
per-group estimates, 3-group log-rank and Gray; sensitive_vs_refractory; naive_vs_exposed:
log-rank, Gray and the naive term of the Cox model); none without a grouping.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import formatting as F
from ..study import STRATIFIED, Wording, stratified_words
from .records import PEXGRPS, count, describe, flag, km_records, p_record, prop, record, treated
from .responders import first_response, responded_by


def renal(
    adsl, adtte, *, alpha, timepoints, comparisons, prior_exposure: dict | None, centre
) -> list[dict]:
    """Dialysis with death as a competing event (see the module docstring)."""
    from .. import survival as S

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
            recs.append(
                _cif_record(
                    f"{key}.cif_{tag}m",
                    f"{label}: cumulative incidence at {t:g} months",
                    "overall",
                    cif(t, cause),
                    len(d),
                    meth,
                )
            )
    w = Wording.from_params(None, prior_exposure)
    strata = centre_strata(a, centre)
    return recs + renal_by_group(a, d, alpha, timepoints, comparisons if w.grouping else (), w, strata)


def _cif_record(key, label, group, estimate_ci, n, method) -> dict:
    """One cumulative incidence at a time point, with its confidence interval."""
    est, lo, hi = estimate_ci
    return record(
        key,
        label,
        "renal",
        group,
        estimate=est,
        ci_low=lo,
        ci_high=hi,
        n=n,
        unit="proportion",
        method=method,
        formatted="NA" if np.isnan(est) else f"{F.fmt_pct(est)}%",
        formatted_ci=F.fmt_pct_ci(lo, hi),
    )


# The comparisons of the cumulative incidence of dialysis by Gray's test: the groupings
# the survival analysis compares overall survival by (key part, label, group column, levels).
# (comparison of analysis.comparisons, key part, label, group column, levels); "{group_of}"
# is filled from the wording.
GRAY_COMPARISONS = (
    ("by_group", "by_pexgrp", "by {group_of}", "PEXGRP", tuple(PEXGRPS)),
    ("sensitive_vs_refractory", "sensitive_vs_refractory", "sensitive vs refractory", "PEXGRP", ("sensitive", "refractory")),
    ("naive_vs_exposed", "naive_vs_exposed", "naive vs exposed", "EXPOSED", ("naive", "exposed")),
)


def renal_by_group(a, d, alpha, timepoints, comparisons, w: Wording, strata=None) -> list[dict]:
    """Cumulative incidence of dialysis (death without dialysis competing) per bortezomib
    group at the time points, and Gray's test of equal incidence for each comparison the
    survival analysis makes (3 groups; sensitive vs refractory; naive vs exposed),
    stratified by centre when ``strata`` names the centre column (centre_strata)."""
    from .. import survival as S

    cols = ["USUBJID", "PEXGRP", "PEXFL"] + ([strata] if strata else [])
    g = d[["USUBJID", "AVAL", "CAUSEN"]].merge(a[cols], on="USUBJID", how="inner")
    by = stratified_words(strata)
    g["EXPOSED"] = np.where(flag(g["PEXFL"]), "exposed", "naive")
    recs = []
    meth = "Aalen-Johansen cumulative incidence (exact, ties kept), death without dialysis competing"
    for grp in PEXGRPS if "by_group" in comparisons else ():
        s = g[g["PEXGRP"] == grp]
        if s.empty:
            continue
        cif = S.aalen_johansen(s["AVAL"].astype(float), s["CAUSEN"].to_numpy(dtype=int), alpha=alpha)
        for t in timepoints:
            recs.append(
                _cif_record(
                    f"renal.dialysis.by_pexgrp.{grp}.cif_{t:g}m",
                    f"Dialysis, {grp}: cumulative incidence at {t:g} months",
                    grp,
                    cif(t, 1),
                    len(s),
                    meth,
                )
            )
    for comparison, part, label, column, levels in GRAY_COMPARISONS:
        if comparison not in comparisons:
            continue
        label = label.format(group_of=w.group_of)
        s = g[g[column].isin(levels)]
        t = S.gray_test(
            s["AVAL"].astype(float),
            s["CAUSEN"].to_numpy(dtype=int),
            s[column],
            cause=1,
            strata=s[strata].to_numpy(dtype=object) if strata else None,
        )
        recs.append(
            p_record(
                f"renal.dialysis.{part}.gray_p",
                f"Dialysis {label}: Gray's test p",
                "renal",
                t.p,
                t.statistic,
                t.df,
                f"Gray's test of equal cumulative incidence (rho = 0), death without dialysis competing "
                f"({s[column].nunique()} groups){by}",
                note=t.note,
            )
        )
    return recs


# --------------------------------------------------------------------------- survival
# The terms the OS Cox model can hold (analysis.cox_covariates), in the order given
# there: name -> (ADSL column, kind, levels (reference first) or scale, words for the
# label and method). Categorical terms are dummy-coded against their first level; a level
# absent or universal in the data is dropped with a note.
COX_COVARIATES = {
    "naive": ("PEXFL", "naive", None, "naive vs exposed"),
    "mayo2004": ("MAYO04", "levels", ("I", "II", "III"), "Mayo 2004 stage"),
    "mayo2012": ("MAYO12", "levels", ("I", "II", "III", "IV"), "Mayo 2012 stage"),
    "eustage": ("EUSTG", "levels", ("I", "II", "IIIa", "IIIb"), "European 2015 stage"),
    "age": ("AGE", "per", 10.0, "age (per 10 years)"),
    "sex": ("SEX", "binary", ("female", "male"), "sex (male vs female)"),
    "dialysis": ("DIALBL", "flag", None, "dialysis at start"),
    "prior_lines": ("NPRIOR", "per", 1.0, "prior lines (per line)"),
}


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
    *,
    alpha,
    timepoints,
    landmarks,
    events_per_parameter,
    low_dflc_counts,
    days_per_month,
    comparisons,
    prior_exposure: dict | None,
    cox_covariates,
    endpoints,
    ttnt_death,
    centre,
) -> list[dict]:
    """Overall survival, the Cox model and the landmark analyses (see the module docstring)."""
    from .. import survival as S

    w = Wording.from_params(None, prior_exposure)
    comparisons = comparisons if w.grouping else ()
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
    strata = centre_strata(d, centre)
    recs += _os_by_group(d, alpha, timepoints, comparisons, w, strata)
    # the naive term needs the naive-vs-exposed comparison (and so a grouping)
    covariates = [c for c in cox_covariates if c != "naive" or "naive_vs_exposed" in comparisons]
    recs += cox_naive_vs_exposed(d, alpha, events_per_parameter, covariates, strata)
    recs += landmark_os(d, adrs, alpha, landmarks, low_dflc_counts, days_per_month, strata)
    recs += headline_endpoints(
        adsl, adtte, adrs, endpoints, alpha, timepoints, low_dflc_counts, days_per_month, ttnt_death
    )
    return recs


def _logrank_record(key: str, label: str, t, method: str) -> dict:
    """The p record of a log-rank test result ``t`` (survival.logrank*)."""
    return p_record(key, label, "survival", t.p, t.statistic, t.df, method, note=t.note)


def _os_by_group(d, alpha, timepoints, comparisons, w: Wording, strata) -> list[dict]:
    """OS per group and the log-rank tests of the comparisons made (stratified by centre
    when ``strata`` names the centre column)."""
    recs = []
    by = stratified_words(strata)
    if "by_group" in comparisons:
        for g in PEXGRPS:
            s = d[d["PEXGRP"] == g]
            if len(s):
                recs += km_records(
                    f"os.by_pexgrp.{g}", f"OS, {g}", "survival", s["T"], s["E"], timepoints, alpha, g
                )
        present = d["PEXGRP"].isin(PEXGRPS)
        t = _logrank(d[present], d.loc[present, "PEXGRP"], strata)
        recs.append(
            _logrank_record(
                "os.by_pexgrp.logrank_p",
                f"OS by {w.group_of}: log-rank p",
                t,
                f"multivariate log-rank test ({d.loc[present, 'PEXGRP'].nunique()} groups){by}",
            )
        )
    if "sensitive_vs_refractory" in comparisons:
        sr = d[d["PEXGRP"].isin(["sensitive", "refractory"])]
        t = _logrank(sr, sr["PEXGRP"], strata, pair=("sensitive", "refractory"))
        recs.append(
            _logrank_record(
                "os.sensitive_vs_refractory.logrank_p",
                "OS sensitive vs refractory: log-rank p",
                t,
                f"log-rank test, 2 groups{by}",
            )
        )
    if "naive_vs_exposed" in comparisons:
        t = _logrank(d, np.where(flag(d["PEXFL"]), "exposed", "naive"), strata, pair=("naive", "exposed"))
        recs.append(
            _logrank_record(
                "os.naive_vs_exposed.logrank_p",
                "OS naive vs exposed (unadjusted): log-rank p",
                t,
                f"log-rank test, 2 groups{by}",
            )
        )
    return recs


# The endpoints analysis.endpoints can add to the results (OS is always analysed).
ENDPOINTS = ("os", "hem_pfs", "time_to_response", "time_to_next_treatment")
# the Kaplan-Meier headline endpoints: (key prefix, ADTTE PARAMCD, label)
KM_ENDPOINTS = {
    "hem_pfs": ("hempfs", "HEMPFS", "Hematologic progression-free survival"),
    "time_to_next_treatment": ("ttnt", "TTNT", "Time to next treatment"),
}
# config endpoints.ttnt_death -> the words of the TTNT label (how ADTTE TTNT counted a death)
TTNT_DEATH_WORDS = {"event": "next line or death", "censor": "next line; death censored"}


def headline_endpoints(
    adsl, adtte, adrs, endpoints, alpha, timepoints, low_dflc_counts, days_per_month, ttnt_death
) -> list[dict]:
    """The records of the headline endpoints beyond OS (analysis.endpoints; nothing when
    none is asked for): hematologic PFS (ADTTE HEMPFS) and time to next treatment (ADTTE
    TTNT; its label says how a death before a next line counted, ``ttnt_death`` = config
    endpoints.ttnt_death, which derived it) by Kaplan-Meier among the treated, their
    medians and survival at the time points (keys hempfs.*, ttnt.*), and the time to
    first hematologic response (>= PR, responders.first_response: the first analysed
    assessment with a response, confirmed ones under analysis.response_confirmation) in
    months, median (range) among the responders (keys hem.time_to_response.*)."""
    recs = []
    ids = treated(adsl)["USUBJID"]
    for name in (e for e in endpoints if e in KM_ENDPOINTS):
        prefix, paramcd, label = KM_ENDPOINTS[name]
        if name == "time_to_next_treatment":
            label += f" ({TTNT_DEATH_WORDS[ttnt_death]})"
        p = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].isin(ids)]
        recs += km_records(
            prefix, label, "survival", p["AVAL"].astype(float), (p["CNSR"] == 0).astype(int), timepoints, alpha
        )
    if "time_to_response" in endpoints:
        first = first_response(adrs[adrs["USUBJID"].isin(ids)], low_dflc_counts)
        months = pd.to_numeric(first["ADY"], errors="coerce").astype(float) / days_per_month
        recs += describe(
            "hem.time_to_response",
            "Time to first response (>= PR; months, responders)",
            "hematologic",
            months,
            "months",
            spread="range",
            decimals=1,
        )
    return recs


def _cox_design(d: pd.DataFrame, covariates) -> tuple[pd.DataFrame, list, list, list]:
    """(model frame T, E and the term columns; terms; dropped terms; notes) of the
    Cox model with ``covariates`` (names of COX_COVARIATES)."""
    m = pd.DataFrame({"T": d["T"], "E": d["E"]})
    terms, dropped, notes = [], [], []
    for name in covariates:
        col, kind, spec, words = COX_COVARIATES[name]
        if col not in d.columns:
            raise KeyError(f"analysis.cox_covariates: {name} needs ADSL column {col}, which is absent")
        v = d[col]
        if kind == "naive":
            m["naive"] = (~flag(v)).astype(float)
            terms.append("naive")
        elif kind == "levels":
            x = v.astype(object)
            for lev in spec[1:]:
                c = f"{name}_{lev}"
                m[c] = np.where(x.isna(), np.nan, (x == lev).astype(float))
                if m[c].nunique(dropna=True) < 2:
                    notes.append(f"{words} {lev} absent or universal: term dropped")
                    dropped.append(c)
                    m = m.drop(columns=c)
                else:
                    terms.append(c)
        elif kind == "per":
            m[name] = pd.to_numeric(v, errors="coerce").astype(float) / spec
            terms.append(name)
        elif kind == "binary":
            x = v.astype(object)
            m[name] = np.where(x.isin(spec), (x == spec[1]).astype(float), np.nan)
            terms.append(name)
        else:  # flag
            m[name] = pd.to_numeric(v, errors="coerce").astype(float)
            terms.append(name)
    return m, terms, dropped, notes


def _cox_term_label(term: str, adjusted_for: str) -> str:
    if term == "naive":
        return "HR naive vs exposed, " + (f"adjusted for {adjusted_for}" if adjusted_for else "unadjusted")
    name = term.split("_")[0] if term.split("_")[0] in ("mayo2004", "mayo2012", "eustage") else term
    col, kind, spec, words = COX_COVARIATES.get(name, COX_COVARIATES.get(term, (None, None, None, term)))
    if kind == "levels":
        return f"HR {term.replace('_', ' ')} vs {spec[0]}"
    return f"HR {words}"


def centre_strata(d: pd.DataFrame, centre: dict) -> str | None:
    """"SITEID" when analysis.centre.stratify asks for centre strata (the column must be
    there: patients.csv's optional centre column), else None."""
    if not centre.get("stratify"):
        return None
    if "SITEID" not in d.columns:
        raise KeyError("analysis.centre.stratify needs the optional centre column of patients.csv (ADSL SITEID)")
    return "SITEID"


def _logrank(d: pd.DataFrame, groups, strata: str | None, pair: tuple | None = None):
    """The log-rank test of ``groups`` on d's T/E: plain (``pair`` = the two group labels:
    lifelines' pairwise test of pair[0] vs pair[1], as before) or stratified by the
    column ``strata``."""
    from .. import survival as S

    g = pd.Series(np.asarray(groups, dtype=object), index=d.index)
    if strata is not None:
        return S.logrank_stratified(d["T"], d["E"], g, d[strata])
    if pair:
        a, b = d[(g == pair[0]).to_numpy()], d[(g == pair[1]).to_numpy()]
        return S.logrank_pair(a["T"], a["E"], b["T"], b["E"])
    return S.logrank(d["T"], d["E"], g)


def cox_naive_vs_exposed(d: pd.DataFrame, alpha, events_per_parameter, covariates, strata=None) -> list[dict]:
    """The OS Cox model with the terms ``covariates`` (analysis.cox_covariates; default:
    naive vs exposed adjusted for Mayo 2004 stage); ``strata`` (analysis.centre.stratify:
    "SITEID") gives each centre its own baseline hazard."""
    from .. import survival as S

    m, terms, dropped, notes = _cox_design(d, covariates)
    if strata is not None:
        m[strata] = d[strata].to_numpy(dtype=object)
    try:
        res = S.cox(m, "T", "E", terms, alpha, events_per_parameter, strata=strata)
    except Exception as exc:  # lifelines ConvergenceError, no events, constant terms
        note = f"Cox model not estimable: {str(exc).splitlines()[0][:200]}"
        return _cox_not_estimable(m, terms, note) + _cox_terms_not_estimable(m, dropped, "; ".join(notes + [note]))
    note = "; ".join(notes + ([res.warning] if res.warning else [])) or None
    others = [c for c in covariates if c != "naive"]
    described = [
        COX_COVARIATES[c][3] + (f" (dummy-coded, stage {COX_COVARIATES[c][2][0]} reference)" if COX_COVARIATES[c][1] == "levels" else "")
        for c in others
    ]
    adj = "; adjusted for " + ", ".join(described) if described else ""
    strat = f"; {STRATIFIED} (a baseline hazard per centre; no PH test)" if strata else ""
    meth = f"Cox proportional hazards, Efron ties, Wald test{adj}{strat}; complete cases"
    adjusted_for = ", ".join(COX_COVARIATES[c][3] for c in others)
    recs = []
    for term, row in res.summary.iterrows():
        key = "os.cox.naive_vs_exposed.hr" if term == "naive" else f"os.cox.{term}.hr"
        label = _cox_term_label(term, adjusted_for)
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
                note=f"not computed for a model {STRATIFIED}" if strata else None,
            )
        )
    recs += _cox_size_records(
        res.events,
        res.n,
        f"{res.events} events in {res.n} patients",
        res.n_parameters,
        f"events / parameters; warning below {events_per_parameter:g}",
        note,
        res.warning,
    )
    return recs + _cox_terms_not_estimable(m, dropped, note)


def _cox_size_records(events, n, events_text, n_parameters, epp_method, note, epp_note) -> list[dict]:
    """The Cox model's events and events per parameter (the same keys whether or not the
    model could be fitted)."""
    epp = events / n_parameters
    return [
        record(
            "os.cox.events",
            "Cox model events",
            "survival",
            "cox",
            estimate=events,
            n=n,
            unit="count",
            method="count",
            formatted=events_text,
            note=note,
        ),
        record(
            "os.cox.events_per_parameter",
            "Events per model parameter",
            "survival",
            "cox",
            estimate=epp,
            n=n_parameters,
            unit="ratio",
            method=epp_method,
            formatted=F.fmt_number(epp, 1),
            note=epp_note,
        ),
    ]


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
    events = int(cc["E"].sum())
    recs = _cox_terms_not_estimable(m, terms, note)
    return recs + _cox_size_records(events, len(cc), str(events), len(terms), "events / parameters", note, note)


def landmark_os(d, adrs, alpha, landmarks, low_dflc_counts, days_per_month, strata=None) -> list[dict]:
    """OS from each landmark of the patients alive and followed at it, responders (>= PR
    reached by it, responders.responded_by) against the others (log-rank stratified by
    centre when ``strata`` names the centre column)."""
    recs = []
    by = stratified_words(strata)
    for lm in landmarks:
        tag = f"{lm:g}"
        resp_ids = responded_by(adrs, lm, days_per_month, low_dflc_counts)
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
        from_lm = alive.assign(T=alive["TL"])
        t = _logrank(from_lm, np.where(alive["R"], "responder", "non_responder"), strata, pair=("responder", "non_responder"))
        recs.append(
            _logrank_record(
                f"os.landmark_{tag}m.logrank_p",
                f"Landmark {lm:g} months: responder vs not, log-rank p",
                t,
                f"log-rank test from the landmark (>= PR reached by it){by}",
            )
        )
    return recs

