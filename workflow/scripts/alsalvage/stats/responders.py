"""Hematologic responders: the one definition of who responded, at best and by a landmark.

A responder reached >= PR (or >= VGPR): CR, VGPR, PR, plus a low-dFLC response when
hematologic.low_dflc_counts_as_response counts it (config.yaml). "Responded by the
landmark": an analysed (ADRS ANL01FL = Y, inside the best-response window) hematologic
assessment (PARAMCD HEMRESP) on or before the landmark (ADY <= months x days_per_month)
with a responder category. "First response": the earliest such assessment at any time
(first_response; the swimmer plot's marker). The response and survival analyses (hem.at_<m>m.*, the landmark
OS records and their log-rank p) and the landmark figure all call ``responded_by``, so
that the curves drawn are the groups the printed p compares.

With response confirmation (analysis.response_confirmation) ADRS carries HEMCONF rows,
each assessment's confirmed category (alsalvage.hematologic.confirmed); then those rows
are read instead of HEMRESP: a response counts from the date of the first assessment of
the confirmed pair, at the confirmed level.
"""

from __future__ import annotations

import pandas as pd

RESPONDER_LEVELS = {"PR": ("CR", "VGPR", "PR"), "VGPR": ("CR", "VGPR")}


def is_responder(levels: pd.Series, low_dflc_counts: bool, threshold: str = "PR") -> pd.Series:
    """Which response categories (AVALC) reach ``threshold`` (PR or VGPR)."""
    ok = list(RESPONDER_LEVELS[threshold]) + (["LOWDFLC"] if low_dflc_counts else [])
    return levels.isin(ok)


def responded_by(
    adrs: pd.DataFrame, landmark_months: float, days_per_month: float, low_dflc_counts: bool, threshold: str = "PR"
) -> set:
    """USUBJIDs with a response >= ``threshold`` reached by the landmark (see the module)."""
    r = _analysed_responses(adrs, low_dflc_counts, threshold)
    return set(r.loc[pd.to_numeric(r["ADY"], errors="coerce") <= landmark_months * days_per_month, "USUBJID"])


def response_paramcd(adrs: pd.DataFrame) -> str:
    """The ADRS parameter of the per-assessment responses: HEMCONF (confirmed
    categories) when ADRS has such rows, else HEMRESP."""
    return "HEMCONF" if (adrs["PARAMCD"] == "HEMCONF").any() else "HEMRESP"


def _analysed_responses(adrs: pd.DataFrame, low_dflc_counts: bool, threshold: str = "PR") -> pd.DataFrame:
    h = adrs[(adrs["PARAMCD"] == response_paramcd(adrs)) & (adrs["ANL01FL"] == "Y")]
    return h[is_responder(h["AVALC"], low_dflc_counts, threshold)]


def first_response(adrs: pd.DataFrame, low_dflc_counts: bool, threshold: str = "PR") -> pd.DataFrame:
    """Each responder's first analysed assessment with a response >= ``threshold``:
    columns USUBJID and ADY (study day), one row per responder."""
    r = _analysed_responses(adrs, low_dflc_counts, threshold)
    return r.groupby("USUBJID", as_index=False)["ADY"].min()
