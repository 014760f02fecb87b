"""Baseline staging: Mayo 2004, European modification (IIIa/IIIb), Mayo 2012, renal stage.

All inputs are baseline values in canonical units (NT-proBNP and troponins in ng/L,
dFLC in mg/L, eGFR in mL/min/1.73 m2, proteinuria in g/24h). Thresholds come from the
``staging`` section of the configuration (keys named as in config.yaml).

Troponin alternatives (a choice documented in docs/methods.md): the first troponin
available in the order conventional cTnT, hs-cTnT, cTnI decides the troponin marker,
each against its own threshold. Mayo 2012 has no published cTnI threshold, so a
patient with cTnI only has no Mayo 2012 stage. A missing marker always gives a missing
stage (never a guessed one).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import censored


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def _marker(value: np.ndarray, threshold: float, strict: bool = False, qualifier=None) -> np.ndarray:
    """1.0 when high, 0.0 when not, NaN when the value is missing or, for a censored
    result (``qualifier``), when its interval straddles the threshold (``censored.known``)."""
    return censored.known(value, qualifier, ">" if strict else ">=", threshold)


def _q(q, name):
    return None if q is None else q.get(name)


def _troponin_marker(ctnt, hs_ctnt, ctni, t_ctnt, t_hs, t_ctni, q=None) -> np.ndarray:
    """Troponin marker from the first troponin available (cTnT, hs-cTnT, cTnI);
    ``t_ctni`` None means that cTnI is not an accepted alternative (NaN). A troponin
    whose censored value leaves the marker unknown does not fall back to the next one."""
    m_ctnt = _marker(_f(ctnt), t_ctnt, qualifier=_q(q, "ctnt"))
    m_hs = _marker(_f(hs_ctnt), t_hs, qualifier=_q(q, "hs_ctnt"))
    m_ctni = _marker(_f(ctni), t_ctni, qualifier=_q(q, "ctni")) if t_ctni is not None else np.full(len(m_ctnt),
                                                                                                    np.nan)
    m_ctnt = np.where(np.isnan(_f(ctnt)), m_ctnt, np.where(np.isnan(m_ctnt), -1.0, m_ctnt))
    m_hs = np.where(np.isnan(_f(hs_ctnt)), m_hs, np.where(np.isnan(m_hs), -1.0, m_hs))
    out = np.where(~np.isnan(m_ctnt), m_ctnt, np.where(~np.isnan(m_hs), m_hs, m_ctni))
    return np.where(out < 0, np.nan, out)
    return np.where(~np.isnan(m_ctnt), m_ctnt, np.where(~np.isnan(m_hs), m_hs, m_ctni))


def _label(points: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    out = np.full(len(points), np.nan, dtype=object)
    ok = ~np.isnan(points)
    out[ok] = np.asarray(labels, dtype=object)[points[ok].astype(int)]
    return out


def mayo2004(ntprobnp, ctnt, hs_ctnt, ctni, cfg: Mapping, q: Mapping | None = None) -> np.ndarray:
    """Mayo 2004 stage I/II/III = 0/1/2 markers high (NT-proBNP, troponin). ``q``: the
    qualifiers of censored results by marker name (ntprobnp, ctnt, hs_ctnt, ctni, dflc,
    proteinuria, egfr); a marker left unknown leaves the stage missing."""
    nt = _marker(_f(ntprobnp), cfg["mayo2004_ntprobnp_ng_l"], qualifier=_q(q, "ntprobnp"))
    tn = _troponin_marker(
        ctnt, hs_ctnt, ctni, cfg["mayo2004_ctnt_ng_l"], cfg["mayo2004_hs_ctnt_ng_l"], cfg["mayo2004_ctni_ng_l"], q
    )
    return _label(nt + tn, ("I", "II", "III"))


def european(ntprobnp, ctnt, hs_ctnt, ctni, cfg: Mapping, q: Mapping | None = None) -> np.ndarray:
    """European modification: Mayo 2004 with stage III split at NT-proBNP > threshold
    (missing when a censored NT-proBNP leaves the split unknown)."""
    stage = mayo2004(ntprobnp, ctnt, hs_ctnt, ctni, cfg, q)
    iiib = _marker(_f(ntprobnp), cfg["european_iiib_ntprobnp_ng_l"], strict=True, qualifier=_q(q, "ntprobnp"))
    out = stage.copy()
    is3 = stage == "III"
    out[is3 & (iiib == 1)] = "IIIb"
    out[is3 & (iiib == 0)] = "IIIa"
    out[is3 & np.isnan(iiib)] = np.nan
    return out


def mayo2012(dflc, ntprobnp, ctnt, hs_ctnt, cfg: Mapping, q: Mapping | None = None) -> np.ndarray:
    """Mayo 2012 stage I-IV = 0-3 points (dFLC, troponin T, NT-proBNP)."""
    d = _marker(_f(dflc), cfg["mayo2012_dflc_mg_l"], qualifier=_q(q, "dflc"))
    nt = _marker(_f(ntprobnp), cfg["mayo2012_ntprobnp_ng_l"], qualifier=_q(q, "ntprobnp"))
    tn = _troponin_marker(
        ctnt, hs_ctnt, np.full(len(d), np.nan), cfg["mayo2012_ctnt_ng_l"], cfg["mayo2012_hs_ctnt_ng_l"], None, q
    )
    return _label(d + nt + tn, ("I", "II", "III", "IV"))


def renal_stage(egfr, proteinuria, dialysis, cfg: Mapping, q: Mapping | None = None) -> np.ndarray:
    """Renal stage I/II/III = 0/1/2 risk factors (eGFR < threshold, proteinuria > threshold);
    not staged (missing) on dialysis."""
    e = _f(egfr)
    p = _f(proteinuria)
    low_egfr = censored.known(e, _q(q, "egfr"), "<", cfg["renal_egfr_below"])
    high_prot = _marker(p, cfg["renal_proteinuria_above_g"], strict=True, qualifier=_q(q, "proteinuria"))
    stage = _label(low_egfr + high_prot, ("I", "II", "III"))
    stage[np.asarray(dialysis, dtype=bool)] = np.nan
    return stage


def stage_flags(mayo04, eustg, mayo12, renstg, dialysis) -> np.ndarray:
    """Text flag per patient: ';'-joined tokens 'dialysis_cardiac_unreliable' and
    'missing_<stage>' for each stage left missing (renal stage on dialysis is
    'renal_not_staged_dialysis'); empty (NaN) when nothing to flag."""
    dial = np.asarray(dialysis, dtype=bool)
    tokens = [
        np.where(dial, "dialysis_cardiac_unreliable", ""),
        np.where(pd.isna(mayo04), "missing_mayo04", ""),
        np.where(pd.isna(eustg), "missing_eustg", ""),
        np.where(pd.isna(mayo12), "missing_mayo12", ""),
        np.where(dial, "renal_not_staged_dialysis", np.where(pd.isna(renstg), "missing_renstg", "")),
    ]
    text = pd.Series(tokens[0], dtype=object)
    for tok in tokens[1:]:
        tok = pd.Series(tok, dtype=object)
        text = text.where(tok == "", text.where(text == "", text + ";") + tok)
    out = text.to_numpy(dtype=object)
    out[out == ""] = np.nan
    return out
