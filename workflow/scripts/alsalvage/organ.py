"""Organ response and progression: heart, kidney, liver (and nerve: not evaluable).

Pure, vectorised functions on DataFrames. ``base`` holds one row per patient with
the ADSL columns used here (USUBJID, TRTSDT, TRTEDT, SEX, BRTHDT, HEART, KIDNEY,
LIVER, NTPROBL, NYHABL, CTNTBL, HSCTNTBL, CTNIBL, LVEFBL, EGFRBL, PROTUBL, DIALBL,
ALPBL, ALPULNBL), DIALDT (start of chronic dialysis) and WINEND (last day of the
best-response window, shared with the hematologic response). ``labs`` are the
validated labs in long format. Thresholds come from the ``cardiac``, ``renal`` and
``liver`` sections of config.yaml.

Every call is made at an assessment date after the index date and is one of RESP
(response), STABLE or PROG (progression); progression wins when both apply at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import censored
from .derive_common import age_at
from .egfr import ckd_epi
from .hematologic import attach, pct_change, renumber, sort_patient_date, wide_labs

RANK = {"RESP": 2, "STABLE": 1, "NR": 1, "PROG": 0}
CARD_ANALYTES = ("ntprobnp", "nyha", "ctnt", "hs_ctnt", "ctni", "lvef")
TROPONINS = {"ctnt": "CTNTBL", "hs_ctnt": "HSCTNTBL", "ctni": "CTNIBL"}
RENAL_ANALYTES = ("proteinuria_24h", "egfr", "creatinine")


def _f(s) -> np.ndarray:
    return np.asarray(s, dtype="float64")


def _call(resp, prog) -> np.ndarray:
    return np.select([prog, resp], ["PROG", "RESP"], default="STABLE").astype(object)


# ----------------------------------------------------------------------------- eGFR
def followup_egfr(labs: pd.DataFrame, base: pd.DataFrame, equation: str) -> pd.DataFrame:
    """eGFR at each date after the index date with an eGFR or a creatinine, and its % fall
    from baseline, comparing like with like (one method on both sides):

    1. creatinine on the date and at baseline (CREATBL): CKD-EPI (``equation``) from
       creatinine on both sides (age in completed years at each date, sex);
    2. else a reported eGFR on the date and at baseline (EGFRBL with EGFRSRC 'reported'):
       reported on both sides;
    3. else (only a mixed pair exists) the value of the date (reported, else computed)
       against EGFRBL, the only comparison the data allow.

    Columns USUBJID, ADT, EGFR (the follow-up value used), EGFRFALL (% fall from the
    baseline of the same method). Patients on dialysis at the index date have no
    baseline eGFR (EGFRFALL missing)."""
    w = wide_labs(labs, ("egfr", "creatinine"), patients=base["USUBJID"])
    w = w.rename(columns={"patient_id": "USUBJID", "date": "ADT"})
    w = attach(w, base[["USUBJID", "TRTSDT", "SEX", "BRTHDT", "EGFRBL", "EGFRSRC", "CREATBL", "DIALBL"]])
    w = renumber(w[w["ADT"] > w["TRTSDT"]])
    fu_calc = ckd_epi(w["creatinine"], age_at(w["BRTHDT"], w["ADT"]), w["SEX"], equation)
    fu_rep = _f(w["egfr"])
    bl_calc = ckd_epi(w["CREATBL"], age_at(w["BRTHDT"], w["TRTSDT"]), w["SEX"], equation)
    bl_calc = np.where(_f(w["DIALBL"]) == 1, np.nan, bl_calc)
    bl_rep = np.where(w["EGFRSRC"].astype(object).to_numpy() == "reported", _f(w["EGFRBL"]), np.nan)
    calc_pair = ~np.isnan(fu_calc) & ~np.isnan(bl_calc)
    rep_pair = ~np.isnan(fu_rep) & ~np.isnan(bl_rep)
    w["EGFR"] = np.select([calc_pair, rep_pair], [fu_calc, fu_rep], default=np.where(np.isnan(fu_rep), fu_calc, fu_rep))
    ref = np.select([calc_pair, rep_pair], [bl_calc, bl_rep], default=_f(w["EGFRBL"]))
    w["EGFRFALL"] = -pct_change(w["EGFR"], ref)
    w = w[w["EGFR"].notna()]
    return renumber(w[["USUBJID", "ADT", "EGFR", "EGFRFALL"]])


def _asof(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """For each (USUBJID, ADT) of ``left``, the last row of ``right`` dated on or before ADT."""
    fast = _asof_codes(left, right, cols)
    return fast if fast is not None else _asof_merge(left, right, cols)


def _asof_merge(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``_asof`` by pandas ``merge_asof`` (the general path, and the reference of the fast one)."""
    order = left.index
    lft = left.assign(_row=np.arange(len(left))).sort_values("ADT", kind="mergesort")
    rgt = right.rename(columns={"ADT": "_RDT"}).sort_values("_RDT", kind="mergesort")
    m = pd.merge_asof(
        lft[["_row", "USUBJID", "ADT"]],
        rgt[["USUBJID", "_RDT", *cols]],
        left_on="ADT",
        right_on="_RDT",
        by="USUBJID",
        direction="backward",
    )
    m = m.sort_values("_row").set_index(order)
    return m[cols]


def _asof_codes(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
    """``_asof`` by one binary search on a (patient code, date rank) key: the same rows
    as ``pd.merge_asof(..., by="USUBJID", direction="backward")`` (among right rows on
    the same date the last one wins), without its two global sorts. Only for integer
    patient codes, dates without NaT and float value columns; None otherwise."""
    lu, la = left["USUBJID"].to_numpy(), left["ADT"].to_numpy()
    ru, ra = right["USUBJID"].to_numpy(), right["ADT"].to_numpy()
    ok_types = (
        all(np.issubdtype(u.dtype, np.integer) for u in (lu, ru))
        and all(np.issubdtype(d.dtype, np.datetime64) and d.dtype == la.dtype for d in (la, ra))
        and all(np.issubdtype(right[c].dtype, np.floating) for c in cols)
    )
    if not ok_types or np.isnat(la).any() or np.isnat(ra).any():
        return None
    out = pd.DataFrame({c: np.full(len(left), np.nan, dtype=right[c].dtype) for c in cols}, index=left.index)
    if not len(left) or not len(right):
        return out
    dates, rank = np.unique(np.concatenate([la, ra]).view("int64"), return_inverse=True)
    rank = rank.reshape(-1)
    width = len(dates)
    lo = min(int(lu.min()), int(ru.min()))
    hi = max(int(lu.max()), int(ru.max()))
    if lo < 0 or (hi + 1) * width >= 2**62:
        return None
    lkey = lu.astype("int64") * width + rank[: len(la)]
    rkey = ru.astype("int64") * width + rank[len(la) :]
    order = np.argsort(rkey, kind="stable")
    pos = np.searchsorted(rkey[order], lkey, side="right") - 1
    found = pos >= 0
    row = order[np.where(found, pos, 0)]
    found &= ru[row] == lu
    for c in cols:
        vals = right[c].to_numpy()
        out[c] = np.where(found, vals[row], np.nan).astype(right[c].dtype)
    return out


# -------------------------------------------------------------------------- cardiac
def _ntprobnp_unusable(dialysis_start, at, params: Mapping) -> np.ndarray:
    """NT-proBNP is set aside (``dialysis_ntprobnp: exclude``) at dates ``at`` on or after
    the start of chronic dialysis (a start on or before the index date included)."""
    if params["dialysis_ntprobnp"] != "exclude":
        return np.zeros(len(at), dtype=bool)
    start = pd.Series(dialysis_start).to_numpy(dtype="datetime64[ns]")
    when = pd.Series(at).to_numpy(dtype="datetime64[ns]")
    return ~np.isnat(start) & (start <= when)


def ntprobnp_evaluable(base: pd.DataFrame, params: Mapping) -> np.ndarray:
    """Baseline NT-proBNP >= evaluable_ntprobnp_ng_l (and, with ``dialysis_ntprobnp:
    exclude``, not on dialysis at the index date): the NT-proBNP response and progression
    criteria apply only to these patients."""
    ok = censored.baseline_known(base, "NTPROBL", ">=", params["evaluable_ntprobnp_ng_l"]) == 1
    return ok & ~_ntprobnp_unusable(base["DIALDT"], base["TRTSDT"], params)


def cardiac_evaluable(base: pd.DataFrame, params: Mapping) -> np.ndarray:
    """Heart involved and NT-proBNP-evaluable (``ntprobnp_evaluable``) or NYHA III-IV."""
    with np.errstate(invalid="ignore"):
        return (_f(base["HEART"]) == 1) & (ntprobnp_evaluable(base, params) | (_f(base["NYHABL"]) >= 3))


def troponin_progression(value, baseline, params: Mapping) -> np.ndarray:
    """Troponin (one assay on both sides) up >= progression_troponin_rise_pct % AND by
    >= progression_troponin_rise_min_ng_l ng/L. From a zero baseline the percentage is
    infinite, so the absolute rise decides; 0 -> 0 is no rise. For censored results
    pass the lower bound of ``value`` and the upper bound of ``baseline``."""
    v, b = _f(value), _f(baseline)
    with np.errstate(invalid="ignore"):
        return (pct_change(v, b) >= params["progression_troponin_rise_pct"]) & (
            v - b >= params["progression_troponin_rise_min_ng_l"]
        )


def cardiac_calls(labs: pd.DataFrame, base: pd.DataFrame, egfr: pd.DataFrame, params: Mapping,
                  caveat_agents: tuple[str, ...] | None = None) -> pd.DataFrame:
    """CARDRESP calls of the evaluable patients at each date after the index date with
    NT-proBNP, NYHA, troponin or LVEF.

    Response: NT-proBNP down > response_fall_pct % AND > response_fall_min_ng_l, or
    NYHA down >= nyha_response_classes. Progression: NT-proBNP up > progression_rise_pct
    % AND > progression_rise_min_ng_l, or a troponin (same assay as at baseline) up by
    ``troponin_progression``, or LVEF down >= progression_lvef_fall_points. The two
    NT-proBNP criteria apply only to NT-proBNP-evaluable patients (``ntprobnp_evaluable``;
    a patient evaluable by NYHA III-IV alone can respond by NYHA only, and progress by
    troponin or LVEF), and with ``dialysis_ntprobnp: exclude`` not on or after a dialysis
    start.
    IMIDFL = Y when the call is made on a salvage agent that raises NT-proBNP (index < ADT
    <= salvage end; ongoing therapy has no end): ``caveat_agents`` are the study's agents of
    a class of config study.imid_caveat_classes (alsalvage.study), and a patient's call is
    flagged when ADSL TRTAGENT names one of them; None: every salvage agent carries the
    caveat (a one-IMiD study). EGFRFLFL = Y when, by ADT, an eGFR after the index
    date fell >= egfr_fall_flag_pct % below baseline or the patient was on chronic
    dialysis (started before, on or after the index date).
    """
    cols = ["USUBJID", "TRTSDT", "TRTEDT", "NTPROBL", "NYHABL", *TROPONINS.values(), "LVEFBL", "DIALDT", "WINEND"]
    cols += ["BLQUAL"] if "BLQUAL" in base.columns else []
    cols += ["TRTAGENT"] if caveat_agents is not None else []
    sel = cardiac_evaluable(base, params)
    ev = base.loc[sel, cols].assign(_NTEV=ntprobnp_evaluable(base, params)[sel])
    # censored results: a fall is judged towards the upper bound of the follow-up value
    # from the lower bound of the baseline, a rise the other way round (alsalvage.censored)
    w = wide_labs(labs, CARD_ANALYTES, patients=ev["USUBJID"], bound="hi")
    w_lo = wide_labs(labs, CARD_ANALYTES, patients=ev["USUBJID"], bound="lo")
    for an in ("ntprobnp", *TROPONINS):
        w[an + "_LO"] = w_lo[an].to_numpy()
    del w_lo
    ev = ev.assign(_NTBLLO=censored.baseline_bounds(ev, "NTPROBL")[0],
                   _NTBLHI=censored.baseline_bounds(ev, "NTPROBL")[1],
                   **{bl + "_HI": censored.baseline_bounds(ev, bl)[1] for bl in TROPONINS.values()})
    ev = ev.drop(columns=[c for c in ("BLQUAL",) if c in ev.columns])
    a = attach(w.rename(columns={"patient_id": "USUBJID", "date": "ADT"}), ev)
    a = renumber(a[a["ADT"] > a["TRTSDT"]])
    nt_ok = a["_NTEV"].to_numpy(dtype=bool) & ~_ntprobnp_unusable(a["DIALDT"], a["ADT"], params)
    nt_hi, nt_lo = _f(a["ntprobnp"]), _f(a["ntprobnp_LO"])
    fall_pct, fall = -pct_change(nt_hi, _f(a["_NTBLLO"])), _f(a["_NTBLLO"]) - nt_hi
    rise_pct, rise = pct_change(nt_lo, _f(a["_NTBLHI"])), nt_lo - _f(a["_NTBLHI"])
    with np.errstate(invalid="ignore"):
        resp = (nt_ok & (fall_pct > params["response_fall_pct"]) & (fall > params["response_fall_min_ng_l"])) | (
            _f(a["NYHABL"]) - _f(a["nyha"]) >= params["nyha_response_classes"]
        )
        prog = nt_ok & (rise_pct > params["progression_rise_pct"]) & (rise > params["progression_rise_min_ng_l"])
        for an, bl in TROPONINS.items():
            prog |= troponin_progression(a[an + "_LO"], a[bl + "_HI"], params)
        prog |= _f(a["LVEFBL"]) - _f(a["lvef"]) >= params["progression_lvef_fall_points"]
    a["AVALC"] = _call(resp, prog)
    on_drug = (a["ADT"] > a["TRTSDT"]) & (a["TRTEDT"].isna() | (a["ADT"] <= a["TRTEDT"]))
    if caveat_agents is not None:
        caveat = set(caveat_agents)
        took = a["TRTAGENT"].astype(object).map(
            lambda v: isinstance(v, str) and not caveat.isdisjoint(v.split(";"))).astype(bool)
        on_drug &= took.to_numpy()
    a["IMIDFL"] = np.where(on_drug, "Y", "N")
    worst = egfr.assign(EGFRFALLMAX=egfr.groupby("USUBJID")["EGFRFALL"].cummax())
    fallen = _asof(a[["USUBJID", "ADT"]], worst, ["EGFRFALLMAX"])["EGFRFALLMAX"]
    with np.errstate(invalid="ignore"):
        egfr_fell = _f(fallen) >= params["egfr_fall_flag_pct"]
    dial = a["DIALDT"].notna() & (a["DIALDT"] <= a["ADT"])
    a["EGFRFLFL"] = np.where(egfr_fell | dial.to_numpy(), "Y", "N")
    return _finish(a, "CARDRESP")


# ---------------------------------------------------------------------------- renal
def renal_evaluable(base: pd.DataFrame, params: Mapping) -> np.ndarray:
    """Kidney involved, baseline proteinuria > evaluable_proteinuria_g (strictly above,
    Palladini 2014; involvement_proteinuria_g, >= by Gertz 2005, is the data-quality
    involvement check only), not on dialysis."""
    with np.errstate(invalid="ignore"):
        return (
            (_f(base["KIDNEY"]) == 1)
            & (censored.baseline_known(base, "PROTUBL", ">", params["evaluable_proteinuria_g"]) == 1)
            & (_f(base["DIALBL"]) != 1)
        )


def renal_calls(labs: pd.DataFrame, base: pd.DataFrame, egfr: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """RENRESP calls of the evaluable patients at each date after the index date with
    proteinuria or an eGFR (plus the dialysis start date when dialysis counts as
    progression).

    Progression: the latest eGFR on or before ADT (after the index date) >=
    progression_egfr_fall_pct % below baseline, or chronic dialysis started on or
    before ADT (when dialysis_is_progression). Response: proteinuria on ADT down >=
    response_fall_pct % or below response_below_g, and no progression at that call.
    """
    ev = base.loc[renal_evaluable(base, params), ["USUBJID", "TRTSDT", "PROTUBL", "DIALDT", "WINEND"]
                  + (["BLQUAL"] if "BLQUAL" in base.columns else [])]
    # a censored proteinuria counts towards a response by its upper bound ('<0.1' as 0.1;
    # '>x' not at all), from the lower bound of a censored baseline
    w = wide_labs(labs, ("proteinuria_24h",), patients=ev["USUBJID"], bound="hi")
    w = w.rename(columns={"patient_id": "USUBJID", "date": "ADT"})
    ev = ev.assign(_PROTBLLO=censored.baseline_bounds(ev, "PROTUBL")[0])
    ev = ev.drop(columns=[c for c in ("BLQUAL",) if c in ev.columns])
    dates = [w[["USUBJID", "ADT"]], egfr.loc[egfr["USUBJID"].isin(ev["USUBJID"]), ["USUBJID", "ADT"]]]
    if params["dialysis_is_progression"]:
        d = ev.loc[ev["DIALDT"].notna(), ["USUBJID", "DIALDT"]].rename(columns={"DIALDT": "ADT"})
        dates.append(d)
    keys = pd.concat(dates, ignore_index=True).drop_duplicates()
    a = attach(keys.merge(w, on=["USUBJID", "ADT"], how="left"), ev)
    a = renumber(sort_patient_date(a[a["ADT"] > a["TRTSDT"]]))
    fall_egfr = _f(_asof(a[["USUBJID", "ADT"]], egfr, ["EGFRFALL"])["EGFRFALL"])
    on_dial = (a["DIALDT"].notna() & (a["DIALDT"] <= a["ADT"])).to_numpy()
    prot = _f(a["proteinuria_24h"])
    with np.errstate(invalid="ignore"):
        prog = fall_egfr >= params["progression_egfr_fall_pct"]
        if params["dialysis_is_progression"]:
            prog |= on_dial
        resp = (
            (-pct_change(prot, a["_PROTBLLO"]) >= params["response_fall_pct"]) | (prot < params["response_below_g"])
        ) & ~prog
    a["AVALC"] = _call(resp, prog)
    return _finish(a, "RENRESP")


# ---------------------------------------------------------------------------- liver
def liver_evaluable(base: pd.DataFrame, params: Mapping) -> np.ndarray:
    """Liver involved and baseline ALP above the lab's ULN (at the ULN: not evaluable)."""
    with np.errstate(invalid="ignore"):
        return (_f(base["LIVER"]) == 1) & (censored.baseline_bounds(base, "ALPBL")[0] > _f(base["ALPULNBL"]))


def liver_calls(labs: pd.DataFrame, base: pd.DataFrame, params: Mapping) -> pd.DataFrame:
    """LIVRESP calls at each ALP after the index date. Response: ALP down >=
    response_fall_pct % from baseline (of the total value). Progression: ALP >=
    progression_rise_pct % above its lowest value so far (baseline included)."""
    ev = base.loc[liver_evaluable(base, params)]
    lo_bl, hi_bl = censored.baseline_bounds(ev, "ALPBL")
    ev = ev[["USUBJID", "TRTSDT", "WINEND"]].assign(ALPBL=lo_bl, _ALPBLHI=hi_bl)
    # censored ALP: response towards the upper bound, progression from the upper bounds
    # (nadir) to the lower bound of the value
    w = wide_labs(labs, ("alp",), patients=ev["USUBJID"], bound="hi")
    w["_ALPLO"] = wide_labs(labs, ("alp",), patients=ev["USUBJID"], bound="lo")["alp"].to_numpy()
    a = attach(w.rename(columns={"patient_id": "USUBJID", "date": "ADT"}), ev)
    a = a[(a["ADT"] > a["TRTSDT"]) & (a["alp"].notna() | a["_ALPLO"].notna())]
    a = renumber(sort_patient_date(a))
    g = a["USUBJID"]
    prev_low = a.groupby(g, sort=False)["alp"].cummin().groupby(g, sort=False).ffill().groupby(
        g, sort=False).shift(1)
    nadir = np.fmin(_f(prev_low), _f(a["_ALPBLHI"]))
    with np.errstate(invalid="ignore"):
        resp = -pct_change(a["alp"], a["ALPBL"]) >= params["response_fall_pct"]
        prog = pct_change(a["_ALPLO"], nadir) >= params["progression_rise_pct"]
    a["AVALC"] = _call(resp, prog)
    return _finish(a, "LIVRESP")


# ----------------------------------------------------------------------------- best
def _finish(a: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    a["PARAMCD"] = paramcd
    a["AVAL"] = a["AVALC"].map(RANK).astype("float64")
    a["EVALFL"] = "Y"
    a["ANL01FL"] = np.where(a["ADT"] <= a["WINEND"], "Y", "N")
    for c in ("IMIDFL", "EGFRFLFL"):
        if c not in a.columns:
            a[c] = np.nan
    cols = ["USUBJID", "PARAMCD", "AVALC", "AVAL", "ADT", "EVALFL", "ANL01FL", "IMIDFL", "EGFRFLFL"]
    return renumber(sort_patient_date(a[cols]))


def best_organ(calls: pd.DataFrame, base: pd.DataFrame, evaluable, paramcd: str) -> pd.DataFrame:
    """Best call per patient of ``base`` within the window (ADT of its first occurrence).
    Not evaluable: NE (AVAL missing, EVALFL N). Evaluable without a call in the window:
    NR (no response recorded, ranked with STABLE)."""
    inwin = calls[calls["ANL01FL"] == "Y"]
    best = inwin.groupby("USUBJID")["AVAL"].transform("max")
    first = inwin[inwin["AVAL"] == best].groupby("USUBJID", sort=True).head(1)
    out = base[["USUBJID"]].merge(first[["USUBJID", "AVALC", "AVAL", "ADT"]], on="USUBJID", how="left")
    ev = np.asarray(evaluable, dtype=bool)
    out["AVALC"] = np.where(ev, out["AVALC"].fillna("NR"), "NE")
    out["AVAL"] = np.where(ev, out["AVAL"].fillna(float(RANK["NR"])), np.nan)
    out["ADT"] = out["ADT"].where(ev)
    out["EVALFL"] = np.where(ev, "Y", "N")
    out["ANL01FL"] = "Y"
    out["PARAMCD"] = paramcd
    return out


def ever_progressed(calls: pd.DataFrame, base: pd.DataFrame, evaluable, paramcd: str) -> pd.DataFrame:
    """Organ progression ever (PROGCARD, PROGREN, PROGLIV), one row per patient of
    ``base``: Y (AVAL 1) when >= 1 call in the window is PROG, dated at the first one,
    whatever the later calls (a progression followed by stabilisation or response still
    counts; the best call would hide it); N (0) evaluable without a PROG call in the
    window; NE (AVAL missing, EVALFL N) not evaluable. The owner of "organ progression"
    for the tables."""
    prog = calls[(calls["ANL01FL"] == "Y") & (calls["AVALC"] == "PROG")]
    first = prog.groupby("USUBJID", sort=True)["ADT"].min().rename("ADT").reset_index()
    out = base[["USUBJID"]].merge(first, on="USUBJID", how="left")
    ev = np.asarray(evaluable, dtype=bool)
    hit = out["ADT"].notna().to_numpy() & ev
    out["AVALC"] = np.select([hit, ev], ["Y", "N"], default="NE").astype(object)
    out["AVAL"] = np.select([hit, ev], [1.0, 0.0], default=np.nan)
    out["ADT"] = out["ADT"].where(hit)
    out["EVALFL"] = np.where(ev, "Y", "N")
    out["ANL01FL"] = "Y"
    out["PARAMCD"] = paramcd
    return out[["USUBJID", "AVALC", "AVAL", "ADT", "EVALFL", "ANL01FL", "PARAMCD"]]


def best_any_organ(bests: list[pd.DataFrame]) -> pd.DataFrame:
    """BESTORG: Y when >= 1 organ's best call is RESP, among patients evaluable for
    >= 1 organ (N otherwise); NE for patients evaluable for no organ. ADT = the
    earliest first-response date over the organs."""
    allb = pd.concat(bests, ignore_index=True)
    allb["_ev"] = allb["EVALFL"] == "Y"
    allb["_resp"] = allb["AVALC"] == "RESP"
    allb["_rdt"] = allb["ADT"].where(allb["_resp"])
    agg = allb.groupby("USUBJID", sort=True).agg(ev=("_ev", "any"), resp=("_resp", "any"), ADT=("_rdt", "min"))
    out = agg.reset_index()
    out["AVALC"] = np.select([out["resp"], out["ev"]], ["Y", "N"], default="NE")
    out["AVAL"] = np.select([out["resp"], out["ev"]], [1.0, 0.0], default=np.nan)
    out["EVALFL"] = np.where(out["ev"], "Y", "N")
    out["ANL01FL"] = "Y"
    out["PARAMCD"] = "BESTORG"
    return out.drop(columns=["ev", "resp"])
