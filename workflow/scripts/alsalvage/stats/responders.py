"""Hematologic responders: the one definition of who responded, at best and by a landmark.

A responder reached >= PR (or >= VGPR): CR, VGPR, PR, plus a low-dFLC response when
hematologic.low_dflc_counts_as_response counts it (config.yaml). "Responded by the
landmark": an analysed (ADRS ANL01FL = Y, inside the best-response window) hematologic
assessment (PARAMCD HEMRESP) on or before the landmark (ADY <= months x days_per_month)
with a responder category. The response and survival analyses (hem.at_<m>m.*, the landmark
OS records and their log-rank p) and the landmark figure all call ``responded_by``, so
that the curves drawn are the groups the printed p compares.
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
    h = adrs[(adrs["PARAMCD"] == "HEMRESP") & (adrs["ANL01FL"] == "Y")]
    by = h[pd.to_numeric(h["ADY"], errors="coerce") <= landmark_months * days_per_month]
    return set(by.loc[is_responder(by["AVALC"], low_dflc_counts, threshold), "USUBJID"])
