"""Estimated GFR by CKD-EPI (2009 without race factor, 2021 race-free).

Creatinine in mg/dL (IDMS-traceable, the canonical unit after validation), age in
years, sex 'M'/'F'. A reported eGFR wins over a computed one; a patient on dialysis
has no eGFR (NaN) and the source says 'dialysis'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EQUATIONS = ("ckd_epi_2009", "ckd_epi_2021")

# The CKD-EPI coefficients, defined here only (the synthetic cohort generator inverts
# the equation with them too: see ``creatinine_for``).
# kappa (the creatinine knot, mg/dL) for females / males
KAPPA_F, KAPPA_M = 0.7, 0.9
# (constant, exponent above kappa, female exponent below kappa, male exponent below
#  kappa, age base, female factor)
_COEF = {
    "ckd_epi_2009": (141.0, -1.209, -0.329, -0.411, 0.993, 1.018),
    "ckd_epi_2021": (142.0, -1.200, -0.241, -0.302, 0.9938, 1.012),
}


def _coefficients(equation: str) -> tuple[float, ...]:
    if equation not in _COEF:
        raise ValueError(f"unknown eGFR equation {equation!r}; expected one of {EQUATIONS}")
    return _COEF[equation]


def ckd_epi(scr, age, sex, equation: str) -> np.ndarray:
    """eGFR (mL/min/1.73 m2) from creatinine (mg/dL), age (years) and sex ('M'/'F')."""
    const, a_hi, a_f, a_m, age_base, f_factor = _coefficients(equation)
    scr = np.asarray(scr, dtype="float64")
    age = np.asarray(age, dtype="float64")
    female = np.asarray(pd.Series(sex).astype("object").to_numpy() == "F")
    kappa = np.where(female, KAPPA_F, KAPPA_M)
    alpha = np.where(female, a_f, a_m)
    ratio = scr / kappa
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (
            const
            * np.minimum(ratio, 1.0) ** alpha
            * np.maximum(ratio, 1.0) ** a_hi
            * age_base**age
            * np.where(female, f_factor, 1.0)
        )
    return value


def creatinine_for(egfr, age, female, equation: str) -> np.ndarray:
    """The inverse of :func:`ckd_epi`: the creatinine (mg/dL) that gives ``egfr`` at
    ``age`` (years) for ``female`` (bool per patient)."""
    const, a_hi, a_f, a_m, age_base, f_factor = _coefficients(equation)
    k = np.where(female, KAPPA_F, KAPPA_M)
    a = np.where(female, a_f, a_m)
    top = const * age_base**age * np.where(female, f_factor, 1.0)  # eGFR at Scr = kappa
    ratio = egfr / top
    r = np.where(ratio >= 1, ratio ** (1 / a), ratio ** (1 / a_hi))
    return r * k


def ckd_epi_2009(scr, age, sex) -> np.ndarray:
    return ckd_epi(scr, age, sex, "ckd_epi_2009")


def ckd_epi_2021(scr, age, sex) -> np.ndarray:
    return ckd_epi(scr, age, sex, "ckd_epi_2021")


def baseline_egfr(
    creatinine,
    age,
    sex,
    reported,
    dialysis,
    equation: str,
) -> tuple[np.ndarray, np.ndarray]:
    """eGFR and its source per patient.

    ``reported``/``dialysis`` may be None (none reported / nobody on dialysis).
    Source: 'reported' when a reported eGFR exists, else the equation name when a
    creatinine exists, 'dialysis' (value NaN) for patients on dialysis, NaN when neither.
    """
    computed = ckd_epi(creatinine, age, sex, equation)
    n = len(computed)
    reported = np.full(n, np.nan) if reported is None else np.asarray(reported, dtype="float64")
    dialysis = np.zeros(n, dtype=bool) if dialysis is None else np.asarray(dialysis, dtype=bool)
    has_rep = ~np.isnan(reported)
    has_calc = ~np.isnan(computed)
    value = np.where(has_rep, reported, computed)
    source = np.where(has_rep, "reported", np.where(has_calc, equation, None)).astype(object)
    value = np.where(dialysis, np.nan, value)
    source = np.where(dialysis, "dialysis", source).astype(object)
    source[pd.isna(source)] = np.nan
    return value, source
