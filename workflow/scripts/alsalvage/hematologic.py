"""Hematologic response and progression (Palladini 2012; Comenzo 2012; Milani 2017).

Pure, vectorised functions on DataFrames. The inputs are

- ``base``: one row per patient with USUBJID, TRTSDT (index date), ISOTYPE
  (kappa/lambda), DFLCBL, IFLCBL, SMPROTBL, UMPROTBL (baseline values), WINEND (last
  day of the best-response window) and PRGEND (last day progression is looked for);
  see :func:`window_ends`;
- ``labs``: validated labs in long format (patient_id, date, analyte, value).

Thresholds come from the ``hematologic`` section of config.yaml (passed as ``params``).
An *assessment* is a date after the index date with a free light chain, an
immunofixation or an M-protein result. A date with M-protein only has no response
category (AVALC NE) but is judged for progression like every other date.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import censored
from .derive_common import sort_stable

FLC_ANALYTES = ("flc_kappa", "flc_lambda", "serum_ife", "urine_ife")
HEM_ANALYTES = FLC_ANALYTES + ("serum_mprotein", "urine_mprotein")

MEASURABLE, LOW_DFLC, NOT_MEASURABLE = "measurable", "low_dflc", "not_measurable"
NO_CLONE = "no_clone"  # no detectable clone at baseline: not evaluable, never CR
FLC_EVALUABLE = (MEASURABLE, LOW_DFLC)
NO_CATEGORY = "NE"  # a date without FLC or IFE (M-protein only): no response category

# AVAL ranks of the hematologic categories (higher = better). A response is AVAL >= PR.
RANK = {"CR": 5, "VGPR": 4, "PR": 3, "NR": 1, "PD": 0}
LOWDFLC_COUNTED, LOWDFLC_NOT_COUNTED = 4, 2
RESPONSE_MIN_RANK = RANK["PR"]

# Percentages are compared after rounding to this many decimals so that a fall of
# exactly 50% computed in binary floating point is exactly 50.
_PCT_DECIMALS = 9


def pct_change(value, reference) -> np.ndarray:
    """100 * (value - reference) / reference, rounded to hide binary noise.

    NaN when either is missing; +/-inf when the reference is 0 and the value is not.
    """
    v = np.asarray(value, dtype="float64")
    r = np.asarray(reference, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 * (v - r) / r
    return np.round(out, _PCT_DECIMALS)


def lowdflc_rank(params: Mapping) -> int:
    """AVAL of a low-dFLC response: VGPR-equivalent when counted, else between NR and PR."""
    return LOWDFLC_COUNTED if params["low_dflc_counts_as_response"] else LOWDFLC_NOT_COUNTED


def category_rank(avalc: pd.Series, params: Mapping) -> pd.Series:
    ranks = dict(RANK, LOWDFLC=lowdflc_rank(params))
    return avalc.map(ranks).astype("float64")


def baseline_group(dflc_bl, klrat_bl, sife_bl, uife_bl, params: Mapping, dflc_qualifier=None) -> np.ndarray:
    """Hematologic evaluability at baseline (HEMEVAL), the one owner of this decision
    (ADSL and ADRS both call it).

    no_clone: no detectable clone at baseline, i.e. the baseline itself meets the CR
    definition: kappa/lambda ratio within [flc_ratio_low, flc_ratio_high] AND serum IFE
    negative AND urine IFE negative (all three known; a missing one leaves the patient in
    the dFLC group). Such a patient has nothing to respond: not evaluable, never CR. It
    overrides the dFLC groups (a high dFLC with a normal ratio is polyclonal).
    Otherwise by the baseline dFLC (mg/L): measurable: dFLC >= measurable_dflc_mg_l;
    low_dflc: low_dflc_min_mg_l <= dFLC < measurable; otherwise (including a missing
    dFLC) not measurable by FLC. A censored dFLC (``dflc_qualifier``, see
    ``censored.difference``) counts only where its bound decides the threshold
    (``censored.known``); otherwise the patient is not measurable.
    """
    d = np.asarray(dflc_bl, dtype="float64")
    r = np.asarray(klrat_bl, dtype="float64")
    sife = np.asarray(sife_bl, dtype="float64")
    uife = np.asarray(uife_bl, dtype="float64")
    with np.errstate(invalid="ignore"):
        no_clone = (
            (r >= params["flc_ratio_low"]) & (r <= params["flc_ratio_high"]) & (sife == 0) & (uife == 0)
        )
        meas = censored.known(d, dflc_qualifier, ">=", params["measurable_dflc_mg_l"]) == 1
        low = censored.known(d, dflc_qualifier, ">=", params["low_dflc_min_mg_l"]) == 1
        low &= censored.known(d, dflc_qualifier, "<", params["measurable_dflc_mg_l"]) == 1
        return np.select(
            [no_clone, meas, low],
            [NO_CLONE, MEASURABLE, LOW_DFLC],
            default=NOT_MEASURABLE,
        ).astype(object)


def involved_chains(kappa, lam, isotype, missing=np.nan) -> tuple[np.ndarray, np.ndarray]:
    """(involved, uninvolved): per patient the clone's light chain (ISOTYPE kappa or lambda)
    and the other one, ``missing`` where the isotype is neither. The one pairing of chains
    and clone, for values and for their censoring signs alike (baseline IFLCBL/UFLCBL,
    follow-up iFLC/uFLC, the dFLC waterfall)."""
    k = np.asarray(kappa)
    lm = np.asarray(lam)
    iso = np.asarray(pd.Series(isotype).astype("object"))
    is_k = iso == "kappa"
    is_l = iso == "lambda"
    return np.where(is_k, k, np.where(is_l, lm, missing)), np.where(is_k, lm, np.where(is_l, k, missing))


def flc_measures(kappa, lam, isotype) -> pd.DataFrame:
    """iFLC (the clone's light chain), uFLC (the other), dFLC = iFLC - uFLC (may be
    negative) and the kappa/lambda ratio. NaN where a chain is missing."""
    k = np.asarray(kappa, dtype="float64")
    lm = np.asarray(lam, dtype="float64")
    iflc, uflc = involved_chains(k, lm, isotype)
    return pd.DataFrame({"IFLC": iflc, "UFLC": uflc, "DFLC": iflc - uflc, "KLRAT": kl_ratio(k, lm)})


def kl_ratio(kappa, lam) -> np.ndarray:
    """The serum free kappa/lambda ratio, the one definition for baseline (ADSL KLRATBL) and
    follow-up (ADRS). Missing where a chain is missing or lambda is 0: a chain reported as
    0 is below detection, and a ratio over a censored chain is never a measured one (the
    callers also blank it when either chain carries a censoring sign)."""
    k = np.asarray(kappa, dtype="float64")
    lm = np.asarray(lam, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lm > 0, k / lm, np.nan)


def classify(a: pd.DataFrame, params: Mapping) -> np.ndarray:
    """Hematologic category at each assessment, the highest that applies.

    ``a`` columns: SIFE, UIFE (1 positive / 0 negative / NaN missing), KLRAT, DFLC,
    DFLCBL, HEMEVAL. SIFE, UIFE and KLRAT are the CR components of the assessment (as
    paired by :func:`pair_cr_components`). CR needs both IFE results negative and a
    ratio within [flc_ratio_low, flc_ratio_high] (both ends normal); a missing IFE or
    ratio rules CR out, and so does a baseline without a detectable clone (HEMEVAL
    no_clone: always NR). VGPR/PR need a dFLC-measurable baseline, LOWDFLC a low-dFLC one.
    """
    sife = a["SIFE"].to_numpy(dtype="float64")
    uife = a["UIFE"].to_numpy(dtype="float64")
    ratio = a["KLRAT"].to_numpy(dtype="float64")
    dflc = a["DFLC"].to_numpy(dtype="float64")
    group = a["HEMEVAL"].to_numpy(dtype=object)
    fall = -pct_change(dflc, a["DFLCBL"].to_numpy(dtype="float64"))
    with np.errstate(invalid="ignore"):
        cr = (
            (sife == 0)
            & (uife == 0)
            & (ratio >= params["flc_ratio_low"])
            & (ratio <= params["flc_ratio_high"])
            & (group != NO_CLONE)
        )
        meas = group == MEASURABLE
        vgpr = meas & (dflc < params["vgpr_dflc_below_mg_l"])
        pr = meas & (fall > params["pr_fall_pct"])
        low = (group == LOW_DFLC) & (dflc < params["low_dflc_response_below_mg_l"])
    return np.select([cr, vgpr, pr, low], ["CR", "VGPR", "PR", "LOWDFLC"], default="NR").astype(object)


def pair_cr_components(a: pd.DataFrame, days: int) -> pd.DataFrame:
    """The CR components of each assessment: for the serum IFE, the urine IFE and the
    kappa/lambda ratio (a same-day kappa-lambda pair) separately, the most recent result
    of the patient dated within [ADT - ``days``, ADT] (the assessment itself included;
    never a later one, never one on or before the index date). ``a`` is sorted by
    USUBJID and ADT. Returns SIFE, UIFE, KLRAT; with ``days`` = 0 they are the
    assessment's own values. A CR built from results of several dates is so dated at
    the last of them, when it was complete."""
    own = a[["SIFE", "UIFE", "KLRAT"]]
    if days == 0:
        return own.copy()
    g = a["USUBJID"]
    adt = a["ADT"]
    out = {}
    for col in ("SIFE", "UIFE", "KLRAT"):
        v = own[col]
        last_v = v.groupby(g, sort=False).ffill()
        last_d = adt.where(v.notna()).groupby(g, sort=False).ffill()
        close = (adt - last_d) <= pd.Timedelta(days=days)
        out[col] = last_v.where(close)
    return pd.DataFrame(out, index=a.index)


def progression_end(next_line, death, last_contact) -> pd.Series:
    """PRGEND per patient, the end of the progression look-out (included): the earliest
    of next-line start, death and last contact. The one definition: ADRS (hematologic
    progression) and ADTTE (hematologic PFS) both call it. On a fresh RangeIndex."""
    parts = [pd.to_datetime(pd.Series(x)).reset_index(drop=True) for x in (next_line, death, last_contact)]
    return pd.concat(parts, axis=1).min(axis=1, skipna=True)


def window_ends(
    trtedt, next_line, death, last_contact, after_end_days: int
) -> tuple[pd.Series, pd.Series]:
    """(WINEND, PRGEND) per patient.

    WINEND, the end of the best-response window: the earliest of next-line start,
    salvage end + ``after_end_days``, death and last contact (salvage end missing =
    ongoing: no cap from it). PRGEND: :func:`progression_end`. Both ends are included.
    """
    trtedt = pd.to_datetime(pd.Series(trtedt)).reset_index(drop=True)
    cap = trtedt + pd.to_timedelta(after_end_days, unit="D")
    prg = progression_end(next_line, death, last_contact)
    win = pd.concat([prg, cap], axis=1).min(axis=1, skipna=True)
    return win, prg


def renumber(df: pd.DataFrame) -> pd.DataFrame:
    """``df.reset_index(drop=True)`` without copying the columns (used on frames just
    made by a selection, merge or sort, which nothing else holds)."""
    return df.set_axis(pd.RangeIndex(len(df)), axis=0, copy=False)


def attach(left: pd.DataFrame, right: pd.DataFrame, key: str = "USUBJID") -> pd.DataFrame:
    """``left.merge(right, on=key, how="inner", validate="many_to_one")``: the rows of
    ``left`` whose key is in ``right`` (in the order of ``left``) with the columns of
    ``right`` added. With integer patient codes this is a positional lookup (no
    hashing of the long side); otherwise, or when a key repeats, pandas merges."""
    lk, rk = left[key].to_numpy(), right[key].to_numpy()
    overlap = (set(left.columns) & set(right.columns)) - {key}
    ints = np.issubdtype(lk.dtype, np.integer) and rk.dtype == lk.dtype
    if overlap or not ints or not len(rk) or not len(lk) or rk.min() < 0 or lk.min() < 0:
        return left.merge(right, on=key, how="inner", validate="many_to_one")
    size = int(max(lk.max(), rk.max())) + 1
    if size > 4 * (len(lk) + len(rk)) + 1024:
        return left.merge(right, on=key, how="inner", validate="many_to_one")
    pos = np.full(size, -1, dtype="int64")
    pos[rk] = np.arange(len(rk))
    if np.count_nonzero(pos >= 0) != len(rk):  # a repeated key: let pandas report it
        return left.merge(right, on=key, how="inner", validate="many_to_one")
    at = pos[lk]
    keep = at >= 0
    lsel = left if keep.all() else left[keep]
    rsel = right.drop(columns=key).take(at[keep])
    out = pd.concat([renumber(lsel), renumber(rsel)], axis=1, copy=False)
    return out


def sort_patient_date(df: pd.DataFrame, pid_col: str = "USUBJID", date_col: str = "ADT") -> pd.DataFrame:
    """``df.sort_values([pid_col, date_col], kind="mergesort")``, skipped (same rows,
    same order, same index) when the rows are already in that order."""
    return sort_stable(df, [pid_col, date_col], copy=False)


def _member(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``np.isin(values, allowed)``; for small non-negative integer codes a lookup table."""
    ints = np.issubdtype(values.dtype, np.integer) and np.issubdtype(allowed.dtype, np.integer)
    if ints and len(values) and len(allowed) and values.min() >= 0 and allowed.min() >= 0:
        size = int(max(values.max(), allowed.max())) + 1
        if size <= 4 * (len(values) + len(allowed)) + 1024:
            table = np.zeros(size, dtype=bool)
            table[allowed] = True
            return table[values]
    return pd.Series(values).isin(allowed).to_numpy()


def wide_labs(labs: pd.DataFrame, analytes, patients=None, bound: str | None = None) -> pd.DataFrame:
    """One row per (patient_id, date) with one column per analyte (NaN when not measured).

    ``bound`` ('lo' or 'hi'), when the labs carry a ``qualifier`` column: each censored
    result enters as the lower or upper bound of its true value (``censored.bounds``;
    NaN where it gives none), for a criterion met by high or by low values.

    Rows come sorted by patient and date. The validated key (patient_id, date, analyte)
    is unique, so no aggregation is involved (a duplicate would keep the last row)."""
    analytes = list(analytes)
    keep = labs["analyte"].isin(analytes).to_numpy()
    if patients is not None:
        keep &= _member(labs["patient_id"].to_numpy(), np.asarray(patients))
    # one selection of the four columns used (the long table is not copied whole)
    lab = pd.DataFrame({c: labs[c].to_numpy()[keep] for c in ("patient_id", "date", "value")})
    lab["analyte"] = labs["analyte"].array[keep]
    if bound is not None and "qualifier" in labs.columns:
        lab["qualifier"] = np.asarray(labs["qualifier"].to_numpy(dtype=object)[keep], dtype=object)
    lab = sort_patient_date(lab, "patient_id", "date")  # validated labs come sorted: no re-sort
    pid, date = lab["patient_id"].to_numpy(), lab["date"].to_numpy()
    new_row = np.ones(len(lab), dtype=bool)
    new_row[1:] = (pid[1:] != pid[:-1]) | (date[1:] != date[:-1])
    row = np.cumsum(new_row) - 1
    col = pd.Categorical(lab["analyte"], categories=analytes).codes
    grid = np.full((int(new_row.sum()), len(analytes)), np.nan)
    values = lab["value"].to_numpy(dtype="float64")
    if "qualifier" in lab.columns:
        values = censored.bounds(values, lab["qualifier"].to_numpy(dtype=object))[0 if bound == "lo" else 1]
    grid[row, col] = values
    wide = pd.DataFrame({"patient_id": pid[new_row], "date": date[new_row]})
    for j, an in enumerate(analytes):
        wide[an] = grid[:, j]
    return wide


def assessments(labs: pd.DataFrame, base: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """One row per patient and assessment date after the index date (a date with an FLC,
    IFE or M-protein result), with the FLC measures, IFE results, M-protein, category
    (AVALC/AVAL; NE and AVAL missing on a date without FLC or IFE) and the window flags
    (ANL01FL: within the best-response window; INPRG: within the progression look-out).
    The CR components are paired over ``assessment_pairing_days`` (:func:`pair_cr_components`)."""
    keep = ["USUBJID", "TRTSDT", "ISOTYPE", "DFLCBL", "IFLCBL", "SMPROTBL", "UMPROTBL", "HEMEVAL", "WINEND", "PRGEND"]
    # censored results (alsalvage.censored): a fall (response) is judged from the lower
    # bound of the baseline dFLC to the upper bound of the assessment's dFLC; a rise
    # (progression) from the upper bounds of the nadir to the lower bound of the value
    bounds = {c: censored.baseline_bounds(base, c) for c in ("DFLCBL", "IFLCBL", "SMPROTBL", "UMPROTBL")}
    base = base[keep].assign(DFLCBL=bounds["DFLCBL"][0],
                             **{c: bounds[c][1] for c in ("IFLCBL", "SMPROTBL", "UMPROTBL")})
    wide = wide_labs(labs, HEM_ANALYTES, patients=base["USUBJID"], bound="hi")
    if "qualifier" in labs.columns:
        lo = wide_labs(labs, HEM_ANALYTES, patients=base["USUBJID"], bound="lo")
        for an in ("flc_kappa", "flc_lambda", "serum_mprotein", "urine_mprotein"):
            wide[an + "_lo"] = lo[an].to_numpy()
        del lo
    else:
        for an in ("flc_kappa", "flc_lambda", "serum_mprotein", "urine_mprotein"):
            wide[an + "_lo"] = wide[an]
    wide = wide[wide[list(HEM_ANALYTES) + [c for c in wide.columns if c.endswith("_lo")]].notna().any(axis=1)]
    a = wide.rename(
        columns={
            "patient_id": "USUBJID",
            "date": "ADT",
            "flc_kappa": "KAPPA",
            "flc_lambda": "LAMBDA",
            "serum_ife": "SIFE",
            "urine_ife": "UIFE",
            "serum_mprotein": "SMPROT",
            "urine_mprotein": "UMPROT",
            "flc_kappa_lo": "KAPPALO",
            "flc_lambda_lo": "LAMBDALO",
            "serum_mprotein_lo": "SMPROTLO",
            "urine_mprotein_lo": "UMPROTLO",
        }
    )
    a = attach(a, base)
    a = renumber(sort_patient_date(a[a["ADT"] > a["TRTSDT"]]))
    a = pd.concat([a, flc_measures(a["KAPPA"], a["LAMBDA"], a["ISOTYPE"])], axis=1)
    if "qualifier" in labs.columns:
        # IFLC, DFLC: upper bounds (nadir, response); IFLCLO: lower bound (progression);
        # the ratio only from two exact chains
        lo = flc_measures(a["KAPPALO"], a["LAMBDALO"], a["ISOTYPE"])
        a["IFLCLO"] = lo["IFLC"].to_numpy()
        a["DFLC"] = a["IFLC"].to_numpy() - lo["UFLC"].to_numpy()
        exact = ((a["KAPPA"] == a["KAPPALO"]) & (a["LAMBDA"] == a["LAMBDALO"])).to_numpy()
        a["KLRAT"] = a["KLRAT"].where(exact)
    else:
        a["IFLCLO"] = a["IFLC"]
    paired = pair_cr_components(a, params["assessment_pairing_days"])
    cols = {c: a[c] for c in ("DFLC", "DFLCBL", "HEMEVAL")}  # only what classify reads (no copy of a)
    category = classify(pd.DataFrame({**cols, **{c: paired[c] for c in paired.columns}}, copy=False), params)
    flc_or_ife = a[["KAPPA", "LAMBDA", "KAPPALO", "LAMBDALO", "SIFE", "UIFE"]].notna().any(axis=1).to_numpy()
    a["AVALC"] = np.where(flc_or_ife, category, NO_CATEGORY).astype(object)
    a["AVAL"] = category_rank(a["AVALC"], params)
    a["ANL01FL"] = np.where(a["ADT"] <= a["WINEND"], "Y", "N")
    a["INPRG"] = a["ADT"] <= a["PRGEND"]
    return a


def _first_rows_of_best(rows: pd.DataFrame, key: str = "USUBJID") -> pd.DataFrame:
    """Per patient, the earliest row with the highest AVAL."""
    best = rows.groupby(key)["AVAL"].transform("max")
    hit = rows[rows["AVAL"] == best]
    return sort_patient_date(hit, key).groupby(key).head(1)


def best_response(a: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """BESTHEM per patient of ``base`` (intention to treat): the best category among
    the assessments within the window (ADT of its first occurrence); dates without a
    category (NE, M-protein only) do not count. A patient without a categorised
    assessment in the window is NR with ADT missing. EVALFL = Y when the baseline is
    FLC-evaluable (measurable or low-dFLC) and >= 1 categorised assessment lies in the
    window; a patient without a detectable clone (no_clone) is NR with EVALFL N."""
    inwin = a[(a["ANL01FL"] == "Y") & a["AVAL"].notna()]
    first = _first_rows_of_best(inwin)[["USUBJID", "AVALC", "AVAL", "ADT"]]
    out = base[["USUBJID", "HEMEVAL"]].merge(first, on="USUBJID", how="left")
    assessed = out["ADT"].notna()
    out["AVALC"] = out["AVALC"].where(assessed, "NR")
    out["AVAL"] = out["AVAL"].where(assessed, float(RANK["NR"]))
    out["EVALFL"] = np.where(assessed & out["HEMEVAL"].isin(FLC_EVALUABLE), "Y", "N")
    out["ANL01FL"] = "Y"
    return out.drop(columns="HEMEVAL")


def confirmed(a: pd.DataFrame) -> pd.DataFrame:
    """Response confirmation (``analysis.response_confirmation``; docs/methods.md): each
    categorised assessment (AVAL present) with its *confirmed* category. A response
    (AVAL >= PR) is confirmed by the patient's next categorised assessment inside the
    progression look-out (ADT <= PRGEND: before the next line, death and last contact),
    if that one is a response too; the confirmed category is the lower of the two
    (CR then VGPR: VGPR; PR then CR: PR). A response not confirmed so (the last
    assessment, the next one below PR, death or a next line first) counts as NR (rank
    RANK["NR"]). Categories below PR are kept as they are. Columns: those of ``a``
    with AVALC/AVAL replaced, plus CONFFL (Y confirmed response, N unconfirmed
    response, empty below PR); same row order as ``a``'s categorised rows."""
    keep = a["AVAL"].notna() & (a["INPRG"] | a["PRGEND"].isna())
    c = renumber(sort_patient_date(a[keep]))
    g = c.groupby("USUBJID", sort=False)
    nxt = g["AVAL"].shift(-1).to_numpy(dtype="float64")
    nxtc = g["AVALC"].shift(-1).to_numpy(dtype=object)
    own = c["AVAL"].to_numpy(dtype="float64")
    resp = own >= RESPONSE_MIN_RANK
    ok = resp & (nxt >= RESPONSE_MIN_RANK)  # NaN (no next assessment) compares False
    lower = ok & (nxt < own)
    c["AVALC"] = np.where(lower, nxtc, np.where(resp & ~ok, "NR", c["AVALC"].to_numpy(dtype=object))).astype(object)
    c["AVAL"] = np.where(lower, nxt, np.where(resp & ~ok, float(RANK["NR"]), own))
    c["CONFFL"] = np.where(ok, "Y", np.where(resp, "N", "")).astype(object)
    return c


def _prev_nadir(a: pd.DataFrame, col: str, baseline_col: str) -> np.ndarray:
    """Lowest value of ``col`` from baseline up to (not including) each assessment."""
    g = a["USUBJID"]
    running = a.groupby(g, sort=False)[col].cummin()
    running = running.groupby(g, sort=False).ffill()
    prev = running.groupby(g, sort=False).shift(1)
    return np.fmin(prev.to_numpy(dtype="float64"), a[baseline_col].to_numpy(dtype="float64"))


def progression(a: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """Per-assessment progression flag (Comenzo 2012), judged against the best
    response reached before the assessment and the nadir before it (baseline included).

    Each criterion is judged on every date on which its own value exists (a serum
    M-protein rise on a date without FLC or IFE counts).
    From CR: a positive serum or urine IFE, or an abnormal ratio with the involved
    FLC at least twice its nadir. The same rule applies throughout to a patient without
    a detectable clone at baseline (HEMEVAL no_clone: the clone reappearing).
    From PR/VGPR/LOWDFLC (and from NR, or before any categorised assessment, when
    ``progression_from_nonresponse``): serum M-protein >= rise% above its nadir and >
    the serum floor, or urine M-protein likewise above the urine floor, or iFLC >=
    rise% above its nadir and > the iFLC floor. Only assessments within the
    progression look-out count. Returns ``a`` (those rows) with a PROG column.
    """
    a = sort_patient_date(a[a["INPRG"]]).reset_index(drop=True)
    g = a["USUBJID"]
    # best category so far; a date without a category (NE) carries the previous best on
    best_so_far = a.groupby(g, sort=False)["AVAL"].cummax().groupby(g, sort=False).ffill()
    prev_best = best_so_far.groupby(g, sort=False).shift(1).to_numpy(dtype="float64")
    no_clone = (a["HEMEVAL"] == NO_CLONE).to_numpy()
    nadir_ifl = _prev_nadir(a, "IFLC", "IFLCBL")
    nadir_sm = _prev_nadir(a, "SMPROT", "SMPROTBL")
    nadir_um = _prev_nadir(a, "UMPROT", "UMPROTBL")
    rise = params["progression_rise_pct"]
    lo, hi = params["flc_ratio_low"], params["flc_ratio_high"]
    ifl = a["IFLCLO"].to_numpy(dtype="float64") if "IFLCLO" in a.columns else a["IFLC"].to_numpy(dtype="float64")
    ratio = a["KLRAT"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        from_cr = (prev_best >= RANK["CR"]) | no_clone
        ife_pos = (a["SIFE"].to_numpy(dtype="float64") == 1) | (a["UIFE"].to_numpy(dtype="float64") == 1)
        abnormal = (ratio < lo) | (ratio > hi)
        doubled = ifl >= 2.0 * nadir_ifl
        pd_cr = from_cr & (ife_pos | (abnormal & doubled))

        sm, um = (a[c + "LO" if c + "LO" in a.columns else c].to_numpy(dtype="float64") for c in ("SMPROT", "UMPROT"))
        pd_partial = (
            ((pct_change(sm, nadir_sm) >= rise) & (sm > params["progression_serum_m_min_g_l"]))
            | ((pct_change(um, nadir_um) >= rise) & (um > params["progression_urine_m_min_mg"]))
            | ((pct_change(ifl, nadir_ifl) >= rise) & (ifl > params["progression_ifl_min_mg_l"]))
        )
        # Ranks 2-4 are the partial responses (PR, VGPR, LOWDFLC counted or not).
        responder = (prev_best >= LOWDFLC_NOT_COUNTED) & (prev_best < RANK["CR"])
        if params["progression_from_nonresponse"]:
            responder |= np.isnan(prev_best) | (prev_best == RANK["NR"])
        responder &= ~no_clone
    a["PROG"] = pd_cr | (responder & pd_partial)
    return a


def first_progression(a: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """HEMPROG rows: one per patient who progressed, ADT = first progression date."""
    p = progression(a, params)
    first = p[p["PROG"]].groupby("USUBJID", sort=True).head(1)
    out = first[["USUBJID", "ADT"]].copy()
    out["AVALC"] = "PD"
    out["AVAL"] = float(RANK["PD"])
    out["EVALFL"] = "Y"
    out["ANL01FL"] = np.where(first["ADT"] <= first["WINEND"], "Y", "N")
    return out.reset_index(drop=True)
