"""Publication formatting: half-up percentages, p-values, NR medians, CIs (alsalvage.formatting)."""

from __future__ import annotations

import math
import sys

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import formatting as F  # noqa: E402

NAN = float("nan")


@pytest.mark.parametrize(
    "n, d, expected",
    [
        (28, 50, "28 (56%)"),  # 56.0
        (1, 8, "1 (13%)"),  # 12.5 -> 13 half up (round() gives 12)
        (5, 8, "5 (63%)"),  # 62.5 -> 63 (round() gives 62)
        (1, 40, "1 (3%)"),  # 2.5 -> 3 (round() gives 2)
        (2, 3, "2 (67%)"),  # 66.67
        (1, 3, "1 (33%)"),  # 33.33
        (0, 10, "0 (0%)"),
        (10, 10, "10 (100%)"),
        (0, 0, "0 (NA)"),  # empty denominator
    ],
)
def test_n_pct_rounds_half_up(n, d, expected):
    assert F.fmt_n_pct(n, d) == expected


@pytest.mark.parametrize(
    "p, expected",
    [
        (0.084, "0.084"),
        (0.395, "0.395"),
        (0.0395, "0.040"),  # half up on the third decimal
        (0.0015, "0.002"),
        (0.001, "0.001"),  # not below 0.001
        (0.00099, "< 0.001"),
        (0.0005, "< 0.001"),
        (1e-12, "< 0.001"),
        (0.9999, "1.000"),
        (1.0, "1.000"),
        (NAN, "NA"),
        (None, "NA"),
    ],
)
def test_p_values(p, expected):
    assert F.fmt_p(p) == expected


@pytest.mark.parametrize(
    "x, dec, expected",
    [
        (2.5, 0, "3"),
        (3.5, 0, "4"),
        (0.125, 2, "0.13"),  # binary 0.125 is exact; half up
        (2.675, 2, "2.68"),  # as written, although the binary double is 2.67499...
        (29.0, 1, "29.0"),
        (-0.04, 1, "0.0"),  # no negative zero
        (-2.5, 0, "-3"),  # half away from zero
        (NAN, 1, "NR"),
        (math.inf, 1, "NR"),
    ],
)
def test_numbers(x, dec, expected):
    assert F.fmt_number(x, dec) == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        ((29.0, 18.25, NAN), "29.0 (18.3-NR)"),
        ((NAN, 24.1, NAN), "NR (24.1-NR)"),
        ((7.2, 5.0, 9.95), "7.2 (5.0-10.0)"),
    ],
)
def test_median_with_ci(args, expected):
    assert F.fmt_median_ci(*args) == expected


def test_ci_strings():
    assert F.fmt_ci(1.0, 2.5) == "1.0-2.5"
    assert F.fmt_ci(-46.2, -38.0, 0) == "-46 to -38"  # negative limits are not joined by '-'
    assert F.fmt_pct_ci(0.41254, 0.70009) == "41-70"
    assert F.fmt_pct_ci(0.125, 0.875) == "13-88"  # half up at both ends
    assert F.fmt_pct_ci(NAN, 0.5) == "NA"


def test_median_range_and_hr():
    assert F.fmt_median_range(63, 42, 82) == "63 (42-82)"
    assert F.fmt_median_range(61.5, 42, 82) == "62 (42-82)"
    assert F.fmt_median_range(-41.67, -50, -33.3) == "-42 (-50 to -33)"
    assert F.fmt_median_range(NAN, 1, 2) == "NA"
    assert F.fmt_hr(0.451, 0.2249, 0.92) == "0.45 (0.22-0.92)"
    assert F.fmt_hr(1.5, 0.8, NAN) == "1.50 (0.80-NR)"


@pytest.mark.parametrize(
    "term, slug",
    [
        ("Platelet count decreased", "platelet_count_decreased"),
        ("Rash maculo-papular", "rash_maculo_papular"),
        ("rash maculo-papular", "rash_maculo_papular"),
        ("  Acute kidney injury ", "acute_kidney_injury"),
    ],
)
def test_slug(term, slug):
    assert F.slug(term) == slug


def test_sig_rounds_for_stable_serialisation():
    assert F.sig(0.1 + 0.2) == 0.3
    assert F.sig(NAN) is None and F.sig(math.inf) is None and F.sig(None) is None
    assert F.sig(3) == 3 and isinstance(F.sig(3), int)
    assert F.sig(1 / 3) == 0.3333333333
