"""Staging systems (clinical-criteria section 6) with the thresholds of config.yaml.

Each case names the markers counted by hand: Mayo 2004 stage = 1 + markers high
(NT-proBNP >= 332 ng/L; troponin cTnT >= 35 ng/L, else hs-cTnT >= 50 ng/L, else
cTnI >= 100 ng/L); European IIIa/IIIb splits stage III at NT-proBNP > 8500; Mayo 2012
stage = 1 + points (dFLC >= 180, cTnT >= 25 / hs-cTnT >= 40, NT-proBNP >= 1800);
renal stage = 1 + factors (eGFR < 50, proteinuria > 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import staging
from helpers import REPO

CFG = yaml.safe_load((REPO / "config.yaml").read_text())["staging"]
NA = np.nan


def _is_na(x):
    return x is None or (isinstance(x, float) and np.isnan(x))


def _check(got, expected):
    if expected is None:
        assert _is_na(got), got
    else:
        assert got == expected


# NT-proBNP, cTnT, hs-cTnT, cTnI (ng/L) -> Mayo 2004, European
MAYO04 = [
    (331, 34.9, NA, NA, "I", "I"),  # 0 markers: 331 < 332, 34.9 < 35
    (332, 10, NA, NA, "II", "II"),  # NT-proBNP exactly 332 is high (>=): 1 marker
    (100, 35, NA, NA, "II", "II"),  # cTnT exactly 35 ng/L (0.035 ug/L) is high: 1 marker
    (100, 34.9, NA, NA, "I", "I"),  # cTnT 34.9: not high
    (500, 35, NA, NA, "III", "IIIa"),  # 2 markers, NT-proBNP 500 <= 8500 -> IIIa
    (500, NA, 50, NA, "III", "IIIa"),  # hs-cTnT exactly 50 is high when no cTnT
    (500, NA, 49.9, NA, "II", "II"),  # hs-cTnT 49.9 not high: NT-proBNP only
    (500, NA, NA, 100, "III", "IIIa"),  # cTnI exactly 100 ng/L (0.1 ug/L) is high
    (500, NA, NA, 99.9, "II", "II"),  # cTnI 99.9 not high
    (500, 20, NA, 200, "II", "II"),  # cTnT present decides (20 < 35) even if cTnI is high
    (8500, 40, NA, NA, "III", "IIIa"),  # NT-proBNP 8500 is not > 8500 -> IIIa
    (8501, 40, NA, NA, "III", "IIIb"),  # 8501 > 8500 -> IIIb
    (9000, 10, NA, NA, "II", "II"),  # high NT-proBNP alone is stage II: no IIIb outside III
    (NA, 40, NA, NA, None, None),  # missing NT-proBNP -> missing stage (not guessed as II/III)
    (500, NA, NA, NA, None, None),  # no troponin at all -> missing stage
]


@pytest.mark.parametrize("nt,ctnt,hs,ctni,m04,eu", MAYO04)
def test_mayo2004_and_european(nt, ctnt, hs, ctni, m04, eu):
    _check(staging.mayo2004([nt], [ctnt], [hs], [ctni], CFG)[0], m04)
    _check(staging.european([nt], [ctnt], [hs], [ctni], CFG)[0], eu)


# dFLC (mg/L), NT-proBNP, cTnT, hs-cTnT -> Mayo 2012
MAYO12 = [
    (180, 1800, 25, NA, "IV"),  # 3 points, each exactly at its threshold
    (179.9, 1799, 24.9, NA, "I"),  # 0 points, each just below
    (180, 100, 10, NA, "II"),  # dFLC 180 only
    (-30, 2000, 10, NA, "II"),  # negative dFLC scores no point; NT-proBNP 2000 one point
    (50, 1800, NA, 40, "III"),  # hs-cTnT exactly 40 + NT-proBNP 1800: 2 points
    (50, 1800, NA, 39.9, "II"),  # hs-cTnT 39.9 no point
    (NA, 2000, 30, NA, None),  # dFLC missing -> missing stage
    (200, 2000, NA, NA, None),  # no troponin T (cTnI has no Mayo 2012 threshold) -> missing
]


@pytest.mark.parametrize("dflc,nt,ctnt,hs,expected", MAYO12)
def test_mayo2012(dflc, nt, ctnt, hs, expected):
    _check(staging.mayo2012([dflc], [nt], [ctnt], [hs], CFG)[0], expected)


def test_mayo2012_ignores_ctni_only():
    # cTnI 500 would be high in Mayo 2004 but is not a Mayo 2012 marker: stage missing
    assert _is_na(staging.mayo2012([200], [2000], [NA], [NA], CFG)[0])
    assert staging.mayo2004([2000], [NA], [NA], [500], CFG)[0] == "III"


# eGFR, proteinuria (g/24h), dialysis -> renal stage
RENAL = [
    (50, 5, False, "I"),  # eGFR 50 is not < 50; proteinuria 5 is not > 5
    (49.9, 5, False, "II"),  # eGFR 49.9 < 50
    (50, 5.01, False, "II"),  # proteinuria 5.01 > 5
    (49.9, 5.01, False, "III"),  # both factors
    (NA, 8, True, None),  # dialysis: not staged
    (30, 8, True, None),  # dialysis even with values: not staged
    (NA, 2, False, None),  # eGFR missing -> missing stage
    (60, NA, False, None),  # proteinuria missing -> missing stage
]


@pytest.mark.parametrize("egfr,prot,dial,expected", RENAL)
def test_renal_stage(egfr, prot, dial, expected):
    _check(staging.renal_stage([egfr], [prot], [dial], CFG)[0], expected)


def test_stage_flags():
    flags = staging.stage_flags(
        np.array(["I", NA, "II"], dtype=object),
        np.array(["I", NA, "II"], dtype=object),
        np.array(["I", "II", NA], dtype=object),
        np.array(["I", NA, NA], dtype=object),
        [False, True, False],
    )
    assert _is_na(flags[0])  # nothing to flag
    assert flags[1] == "dialysis_cardiac_unreliable;missing_mayo04;missing_eustg;renal_not_staged_dialysis"
    assert flags[2] == "missing_mayo12;missing_renstg"


def test_vectorised_over_many_patients():
    nt = pd.Series([100, 332, 500] * 1000, dtype=float)
    ctnt = pd.Series([10, 10, 40] * 1000, dtype=float)
    none = pd.Series([NA] * 3000)
    got = staging.mayo2004(nt, ctnt, none, none, CFG)
    assert list(got[:3]) == ["I", "II", "III"] and len(got) == 3000
