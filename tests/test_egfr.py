"""CKD-EPI 2009 / 2021 and the baseline eGFR rules (clinical-criteria section 3).

Expected values are hand calculations of the published equations (written next to each
case); the first three rows are the test vectors of the clinical criteria.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from alsalvage.egfr import baseline_egfr, ckd_epi, creatinine_for

# sex, age, Scr (mg/dL), equation, expected eGFR, hand calculation
CASES = [
    # criteria vectors
    ("M", 55, 1.2, "ckd_epi_2021", 71.42, "142 * (1.2/0.9)^-1.200 * 0.9938^55"),
    ("M", 55, 1.2, "ckd_epi_2009", 67.67, "141 * (1.2/0.9)^-1.209 * 0.993^55 = 141*0.70627*0.67953"),
    ("M", 60, 1.4, "ckd_epi_2021", 57.54, "142 * (1.4/0.9)^-1.200 * 0.9938^60"),
    ("M", 60, 1.4, "ckd_epi_2009", 54.22, "141 * (1.4/0.9)^-1.209 * 0.993^60"),
    ("F", 63, 0.8, "ckd_epi_2021", 82.74, "142 * (0.8/0.7)^-1.200 * 0.9938^63 * 1.012"),
    ("F", 63, 0.8, "ckd_epi_2009", 78.46, "141 * (0.8/0.7)^-1.209 * 0.993^63 * 1.018"),
    # Scr below kappa (the min() branch): F 40 y Scr 0.6, ratio 0.857143, ln = -0.154151
    ("F", 40, 0.6, "ckd_epi_2009", 114.02, "141 * exp(0.329*0.154151)=1.052024 * 0.993^40=0.755064 * 1.018"),
    ("F", 40, 0.6, "ckd_epi_2021", 116.30, "142 * exp(0.241*0.154151)=1.037849 * 0.9938^40=0.779792 * 1.012"),
    # Scr exactly kappa: both power terms are 1
    ("M", 50, 0.9, "ckd_epi_2009", 99.24, "141 * 0.993^50 = 141 * 0.703802"),
    ("M", 50, 0.9, "ckd_epi_2021", 104.05, "142 * 0.9938^50 = 142 * 0.732736"),
]


@pytest.mark.parametrize("sex,age,scr,eq,expected,how", CASES)
def test_ckd_epi_hand_calculations(sex, age, scr, eq, expected, how):
    got = ckd_epi([scr], [age], [sex], eq)[0]
    assert got == pytest.approx(expected, abs=0.01), how


@pytest.mark.parametrize("equation", ["ckd_epi_2009", "ckd_epi_2021"])
@pytest.mark.parametrize("scr, age, female", [(0.5, 40, True), (0.8, 63, True), (1.2, 55, False), (3.4, 75, False)])
def test_creatinine_for_inverts_ckd_epi(equation, scr, age, female):
    """creatinine_for (used by the synthetic cohort) inverts ckd_epi with the same
    coefficients: below and above the knot kappa, both sexes, both equations."""
    value = ckd_epi([scr], [age], ["F" if female else "M"], equation)[0]
    assert creatinine_for(np.array([value]), age, np.array([female]), equation)[0] == pytest.approx(scr, rel=1e-12)


def test_unknown_equation_is_an_error():
    with pytest.raises(ValueError, match="mdrd"):
        ckd_epi([1.0], [50], ["M"], "mdrd")


def test_missing_creatinine_gives_missing_egfr():
    assert math.isnan(ckd_epi([np.nan], [50], ["M"], "ckd_epi_2009")[0])


# creatinine, reported, dialysis, expected value, expected source
RULES = [
    (1.2, np.nan, False, 67.67, "ckd_epi_2009"),  # computed (M 55, vector above)
    (1.2, 40.0, False, 40.0, "reported"),  # a reported eGFR wins over the computed 67.67
    (np.nan, 40.0, False, 40.0, "reported"),  # reported without creatinine
    (6.5, np.nan, True, np.nan, "dialysis"),  # dialysis: no eGFR, never a computed one
    (6.5, 9.0, True, np.nan, "dialysis"),  # dialysis beats even a reported value
    (np.nan, np.nan, False, np.nan, None),  # nothing measured: missing, no source
]


@pytest.mark.parametrize("scr,rep,dial,expected,source", RULES)
def test_baseline_egfr_rules(scr, rep, dial, expected, source):
    value, src = baseline_egfr([scr], [55], ["M"], [rep], [dial], "ckd_epi_2009")
    if np.isnan(expected):
        assert np.isnan(value[0])
    else:
        assert value[0] == pytest.approx(expected, abs=0.01)
    if source is None:
        assert src[0] is None or (isinstance(src[0], float) and np.isnan(src[0]))
    else:
        assert src[0] == source


def test_equation_is_selectable():
    value, src = baseline_egfr([1.2], [55], ["M"], [np.nan], [False], "ckd_epi_2021")
    assert value[0] == pytest.approx(71.42, abs=0.01)
    assert src[0] == "ckd_epi_2021"
