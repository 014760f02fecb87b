"""Publication formatting of numbers: the one place that decides how a number is printed.

- p-values to 3 decimals, "< 0.001" below 0.001;
- percentages rounded half up (decimal.ROUND_HALF_UP; Python's round() rounds half to even);
- "NR" for a median that was not reached (NaN or inf);
- confidence intervals as "low-high" ("low to high" when a limit is negative);
- counts with percentages as "n (pct%)".
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal

NR = "NR"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def round_half_up(x: float, decimals: int = 0) -> Decimal:
    """Round half away from zero on the decimal representation of x (repr, shortest
    round-trip), so 2.5 -> 3 and 0.125 -> 0.13 as written, not as binary-approximated."""
    q = Decimal(1).scaleb(-decimals)
    # precision enough for any float (a diverging hazard ratio can be 1e37: the default 28
    # digits made quantize fail)
    return Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP, context=Context(prec=400))


def fmt_number(x, decimals: int = 1, missing: str = NR) -> str:
    """A number to a fixed number of decimals, rounded half up; NaN/inf -> missing."""
    if _missing(x) or math.isinf(float(x)):
        return missing
    s = f"{round_half_up(x, decimals):f}"
    return "0" + s[2:] if s.startswith("-0") and float(s) == 0 else s


def fmt_pct(proportion, decimals: int = 0) -> str:
    """A proportion (0-1) as a percentage string without the sign: 0.565 -> '57'."""
    if _missing(proportion):
        return "NA"
    return fmt_number(100 * Decimal(repr(float(proportion))), decimals)


def fmt_n_pct(n: int, denominator: int, decimals: int = 0) -> str:
    """'n (pct%)' with pct = 100 n / denominator rounded half up; '0 (NA)' for an empty denominator.

    The percentage is computed exactly with decimals (no binary rounding error)."""
    if not denominator:
        return f"{int(n)} (NA)"
    pct = Decimal(int(n)) * 100 / Decimal(int(denominator))
    q = Decimal(1).scaleb(-decimals)
    return f"{int(n)} ({pct.quantize(q, rounding=ROUND_HALF_UP):f}%)"


def fmt_p(p, decimals: int = 3) -> str:
    """p to 3 decimals; '< 0.001' below 0.001; 'NA' when missing."""
    if _missing(p):
        return "NA"
    threshold = 10.0**-decimals
    if p < threshold:
        return f"< {threshold:.{decimals}f}"
    return fmt_number(p, decimals)


def _join(lo: str, hi: str) -> str:
    """'low-high'; ' to ' instead of '-' when a limit is negative ('-46 to -38')."""
    sep = " to " if lo.startswith("-") or hi.startswith("-") else "-"
    return f"{lo}{sep}{hi}"


def fmt_ci(low, high, decimals: int = 1, scale: float = 1.0) -> str:
    """A confidence interval as 'low-high'; a missing/infinite limit is 'NR'."""
    lo = NR if _missing(low) else fmt_number(float(low) * scale, decimals)
    hi = NR if _missing(high) else fmt_number(float(high) * scale, decimals)
    return _join(lo, hi)


def fmt_pct_ci(low, high, decimals: int = 0) -> str:
    """A CI of a proportion (0-1) as percentages 'low-high'."""
    if _missing(low) or _missing(high):
        return "NA"
    return f"{fmt_pct(low, decimals)}-{fmt_pct(high, decimals)}"


def fmt_median_ci(median, low, high, decimals: int = 1) -> str:
    """A survival median with CI, e.g. '29.0 (18.2-NR)', 'NR (24.1-NR)'."""
    return f"{fmt_number(median, decimals)} ({fmt_ci(low, high, decimals)})"


def fmt_median_range(median, low, high, decimals: int = 0) -> str:
    """A median with range or IQR, e.g. '63 (42-82)'."""
    if _missing(median):
        return "NA"
    spread = _join(fmt_number(low, decimals, "NA"), fmt_number(high, decimals, "NA"))
    return f"{fmt_number(median, decimals, 'NA')} ({spread})"


def fmt_hr(hr, low, high, decimals: int = 2) -> str:
    """A hazard ratio with CI, e.g. '0.45 (0.22-0.92)'."""
    if _missing(hr):
        return "NA"
    return f"{fmt_number(hr, decimals)} ({fmt_ci(low, high, decimals)})"


def slug(text: str) -> str:
    """Key-safe slug: lower case, every run of non-alphanumerics -> '_', trimmed."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def sig(x, digits: int = 10):
    """Round a float to `digits` significant digits for stable serialisation; NaN/inf -> None."""
    if x is None:
        return None
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return x
    if math.isnan(xf) or math.isinf(xf):
        return None
    if float(xf).is_integer() and abs(xf) < 1e15 and not isinstance(x, float):
        return int(xf)
    return float(f"{xf:.{digits}g}")


# A spreadsheet runs a cell that begins with one of these as a formula (OWASP "CSV
# injection"). csvout writes such text cells with a leading single quote; tab and carriage
# return are rejected by the validator but listed for safety.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def restore_cell(text: str) -> str:
    """The text of a cell that csvout.neutralise_text wrote with a leading quote."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
