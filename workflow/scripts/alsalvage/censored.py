"""Censored lab results ('<5', '>35000'): what such a value tells a rule.

The validator keeps a censored result as its number ``x`` (the detection or reporting
limit, in the canonical unit) plus a ``qualifier``: '' exact, '<' / '<=' (the true
value lies below x / at most x), '>' / '>=' (above x / at least x). A rule may use a
censored result only as far as the interval it stands for allows:

* :func:`known` is the one owner of threshold decisions ("value >= t", "value < t"):
  1 when the whole interval satisfies the comparison, 0 when none of it does, NaN
  (unknown) otherwise. '<10' satisfies "< 40" (known 1) and fails ">= 50" (known 0),
  but leaves "< 5" unknown.
* :func:`bounds` gives the number a change criterion may use: the lower bound (``lo``)
  where a high true value would meet the criterion, the upper bound (``hi``) where a low
  one would. '<x' has the upper bound x and the lower bound 0 (lab values are not
  negative); '>x' the lower bound x and no upper bound (NaN: not usable). So a rise is judged from a '<x' reference (nadir,
  baseline) as if it were x (the true rise is larger), never towards a '<x' follow-up
  value; a fall is judged towards a '<x' follow-up value as x (the true fall is larger),
  never from a '<x' baseline (a percentage fall from an unknown small value is unknown).
"""

from __future__ import annotations

import numpy as np

BELOW = ("<", "<=")
ABOVE = (">", ">=")
_COMPLEMENT = {">=": "<", ">": "<=", "<": ">=", "<=": ">"}


def _arrays(value, qualifier) -> tuple[np.ndarray, np.ndarray]:
    v = np.atleast_1d(np.asarray(value, dtype="float64"))
    if qualifier is None:
        q = np.full(v.shape, "", dtype=object)
    else:
        q = np.atleast_1d(np.asarray(qualifier, dtype=object))
        q = np.where(np.asarray([isinstance(x, str) for x in q], dtype=bool), q, "").astype(object)
        q = np.broadcast_to(q, v.shape)
    return v, q


def _known_true(v: np.ndarray, q: np.ndarray, op: str, t: float) -> np.ndarray:
    """The comparison ``true value op t`` holds for every value the result allows."""
    with np.errstate(invalid="ignore"):
        exact = q == ""
        if op in (">", ">="):
            # '>x' (true > x) and '>=x' (true >= x): every allowed value is >= t when x >= t;
            # strictly above t when x > t, or x == t with a strict '>'.
            lower = np.isin(q, ABOVE)
            if op == ">=":
                bound_ok = v >= t
                exact_ok = v >= t
            else:
                bound_ok = (v > t) | ((v == t) & (q == ">"))
                exact_ok = v > t
        elif op in ("<", "<="):
            lower = np.isin(q, BELOW)
            if op == "<=":
                bound_ok = v <= t
                exact_ok = v <= t
            else:
                bound_ok = (v < t) | ((v == t) & (q == "<"))
                exact_ok = v < t
        else:
            raise ValueError(f"unknown comparison {op!r}")
        return (exact & exact_ok) | (lower & bound_ok)


def known(value, qualifier, op: str, threshold: float) -> np.ndarray:
    """Three-valued ``value op threshold`` for (value, qualifier) results: 1.0 known true,
    0.0 known false, NaN unknown (a missing value, or a censored value whose interval
    straddles the threshold). ``op`` is one of '>=', '>', '<', '<='."""
    v, q = _arrays(value, qualifier)
    yes = _known_true(v, q, op, threshold)
    no = _known_true(v, q, _COMPLEMENT[op], threshold)
    out = np.where(yes, 1.0, np.where(no, 0.0, np.nan))
    out[np.isnan(v)] = np.nan
    return out


def bounds(value, qualifier) -> tuple[np.ndarray, np.ndarray]:
    """(lower bound, upper bound) of the true values: the number itself where it bounds
    the truth on that side; 0 below a '<x' or '<=x' (no lab value is negative); NaN
    above a '>x' or '>=x' (no bound)."""
    v, q = _arrays(value, qualifier)
    lo = np.where(np.isin(q, BELOW) & ~np.isnan(v), 0.0, v)
    hi = np.where(np.isin(q, ABOVE), np.nan, v)
    return lo, hi


def difference(a, qa, b, qb) -> tuple[np.ndarray, np.ndarray]:
    """(value, qualifier) of a - b (e.g. dFLC = iFLC - uFLC) from two results: exact
    when both are exact; a bound when one side is censored in a direction that bounds
    the difference ('<x' minus exact y: '<' x - y; exact x minus '<y': '>' x - y); NaN
    (unknown) when both are censored. The strict and non-strict signs are kept apart
    only as far as needed: a mixed pair gives the strict sign of the censored side."""
    a, qa = _arrays(a, qa)
    b, qb = _arrays(b, qb)
    qa_b, qb_b = np.isin(qa, BELOW), np.isin(qb, BELOW)
    qa_a, qb_a = np.isin(qa, ABOVE), np.isin(qb, ABOVE)
    ea, eb = qa == "", qb == ""
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
    q = np.full(a.shape, "", dtype=object)
    upper = (qa_b & eb) | (ea & qb_a)  # the difference is at most x - y
    lower = (qa_a & eb) | (ea & qb_b)  # the difference is at least x - y
    q[qa_b & eb] = qa[qa_b & eb]
    q[qa_a & eb] = qa[qa_a & eb]
    sel = ea & (qb_a | qb_b)
    q[sel] = [flip[x] for x in qb[sel]]
    d = a - b
    both = ~(ea & eb) & ~upper & ~lower
    d = np.where(both, np.nan, d)
    q[both] = ""
    return d, q


def baseline_qualifier(base, column: str) -> np.ndarray:
    """Qualifier of the ADSL baseline column ``column`` ('' exact) from ADSL's BLQUAL
    (';'-joined column-and-sign tokens such as 'CTNTBL<;NTPROBL>'); all exact when the
    frame has no BLQUAL column."""
    n = len(base)
    out = np.full(n, "", dtype=object)
    if "BLQUAL" not in getattr(base, "columns", ()):
        return out
    for i, text in enumerate(base["BLQUAL"].to_numpy(dtype=object)):
        if isinstance(text, str) and text:
            for tok in text.split(";"):
                name = tok.rstrip("<>=")
                if name == column:
                    out[i] = tok[len(name):]
    return out


def baseline_bounds(base, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``bounds`` of an ADSL baseline column (see :func:`baseline_qualifier`)."""
    return bounds(base[column].to_numpy(dtype="float64"), baseline_qualifier(base, column))


def baseline_known(base, column: str, op: str, threshold) -> np.ndarray:
    """``known`` of an ADSL baseline column against ``threshold``."""
    return known(base[column].to_numpy(dtype="float64"), baseline_qualifier(base, column), op, threshold)


def qualifier_text(quals: dict) -> np.ndarray:
    """ADSL BLQUAL: per row the ';'-joined 'COLUMN<sign>' tokens of the censored
    columns in ``quals`` (column -> qualifier array, in column order); NaN when none."""
    cols = list(quals)
    n = len(quals[cols[0]]) if cols else 0
    out = np.full(n, np.nan, dtype=object)
    for i in range(n):
        toks = [c + quals[c][i] for c in cols if isinstance(quals[c][i], str) and quals[c][i]]
        if toks:
            out[i] = ";".join(toks)
    return out
