"""One owner for each clinical concept (issue 12): AST/grep tests over the package that
fail when a second definition of a concept appears, plus behaviour checks that the
former copies now follow the owner.

Concepts and owners:
- hematologic evaluability (HEMEVAL): hematologic.baseline_group, called by ADSL only;
- the end of the progression look-out (PRGEND): hematologic.progression_end;
- the end of follow-up at death or last contact (ADTTE OS, TTDIAL, TTNT):
  endpoints.death_or_last_contact;
- the baseline value of a lab (window and last-row rule): derive_common.baseline_rows,
  the window itself: derive_common.window_start;
- the CKD-EPI coefficients: egfr.py;
- the Kaplan-Meier median: survival.quantile_time (synthetic calls survival.km_median);
- the serum free kappa/lambda ratio: hematologic.kl_ratio (ADSL's rule won over the
  follow-up copy, which gave an infinite ratio for lambda 0: docs/methods.md);
- the derived datasets' columns: datasets.py;
- which light chain is the clone's (involved vs uninvolved): hematologic.involved_chains
  (baseline IFLCBL/UFLCBL and their censoring signs, follow-up iFLC/uFLC, the waterfall).
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
import pytest

from helpers import REPO
from alsalvage import derive_common as dc
from alsalvage import egfr, hematologic, survival, synthetic

PKG = REPO / "workflow" / "scripts" / "alsalvage"
SCRIPTS = REPO / "workflow" / "scripts"


def _trees(root=PKG, pattern="**/*.py"):
    return {str(p.relative_to(root)): ast.parse(p.read_text()) for p in sorted(root.glob(pattern))}


def _called(node) -> str | None:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _calls(name: str, root=PKG, pattern="**/*.py") -> dict[str, int]:
    out = {}
    for file, tree in _trees(root, pattern).items():
        n = sum(isinstance(x, ast.Call) and _called(x) == name for x in ast.walk(tree))
        if n:
            out[file] = n
    return out


def _defined(name: str) -> list[str]:
    return [f for f, t in _trees().items()
            for x in ast.walk(t) if isinstance(x, ast.FunctionDef) and x.name == name]


def _subscript_assignments(column: str) -> dict[str, list[ast.AST]]:
    """file -> the values assigned to ``<frame>["column"]`` (plain or tuple targets)."""
    out: dict[str, list] = {}
    for file, tree in _trees().items():
        for x in ast.walk(tree):
            if not isinstance(x, ast.Assign):
                continue
            for target in x.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                for e in elts:
                    if isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Constant) and e.slice.value == column:
                        out.setdefault(file, []).append(x.value)
    return out


# ------------------------------------------------------------------ evaluability
def test_evaluability_is_derived_once_by_adsl():
    assert _defined("baseline_group") == ["hematologic.py"]
    assert _calls("baseline_group") == {"baseline.py": 1}
    assert _calls("baseline_group", SCRIPTS, "*.py") == {}
    assert set(_subscript_assignments("HEMEVAL")) == {"baseline.py"}


def test_adrs_uses_adsl_hemeval_as_given(monkeypatch):
    """ADRS reads HEMEVAL from ADSL: an ADSL value that the baseline numbers would not
    give (measurable despite a dFLC of 5) is what the responses rule uses."""
    from alsalvage import responses

    adsl = pd.DataFrame({"USUBJID": ["P"], "TRTSDT": [pd.Timestamp("2020-01-01")], "DFLCBL": [5.0],
                         "HEMEVAL": ["measurable"]})
    out = pd.DataFrame({"patient_id": ["P"], "salvage_end_date": [pd.NaT], "next_line_date": [pd.NaT],
                        "dialysis_start_date": [pd.NaT], "last_contact_date": [pd.Timestamp("2021-01-01")],
                        "death_date": [pd.NaT]})
    assert "HEMEVAL" in responses.ADSL_COLUMNS
    monkeypatch.setattr(responses, "ADSL_COLUMNS", list(adsl.columns))  # the columns this case needs
    base = responses.build_base(adsl, out, {"assessment_after_end_days": 60})
    assert list(base["HEMEVAL"]) == ["measurable"]


# ------------------------------------------------------------------ progression end
def test_progression_end_has_one_definition():
    assert _defined("progression_end") == ["hematologic.py"]
    for file, values in _subscript_assignments("PRGEND").items():
        for v in values:
            assert isinstance(v, ast.Call) and _called(v) in ("progression_end", "window_ends"), file


@pytest.mark.parametrize(
    "next_line, death, last, expected",
    [
        ("2021-03-01", "2021-05-01", "2021-06-01", "2021-03-01"),  # next line first
        (None, "2021-05-01", "2021-06-01", "2021-05-01"),  # death
        (None, None, "2021-06-01", "2021-06-01"),  # last contact
        (None, None, None, None),  # nothing known: no end
    ],
)
def test_adrs_and_adtte_share_the_progression_end(next_line, death, last, expected):
    from alsalvage.endpoints import build_base

    ts = [pd.Timestamp(x) if x else pd.NaT for x in (next_line, death, last)]
    want = pd.Timestamp(expected) if expected else pd.NaT

    def same(got):
        return (pd.isna(got) and pd.isna(want)) or got == want

    assert same(hematologic.window_ends([pd.NaT], [ts[0]], [ts[1]], [ts[2]], 60)[1].iloc[0])
    adsl = pd.DataFrame({"USUBJID": ["P"], "TRTSDT": [pd.Timestamp("2020-01-01")], "DIALBL": [0]})
    out = pd.DataFrame({"patient_id": ["P"], "salvage_end_date": [pd.NaT], "stop_reason": ["ongoing"],
                        "next_line_date": [ts[0]], "dialysis_start_date": [pd.NaT], "last_contact_date": [ts[2]],
                        "death_date": [ts[1]]})
    assert same(build_base(adsl, out)["PRGEND"].iloc[0])


# ------------------------------------------------------------------ death or last contact
def test_death_or_last_contact_has_one_owner():
    """OS, TTDIAL and TTNT end follow-up at death or last contact through one helper; no
    other code of endpoints.py picks between DTHDT and LSTCNTDT itself."""
    import inspect

    from alsalvage import endpoints as ep

    assert _defined("death_or_last_contact") == ["endpoints.py"]
    assert _calls("death_or_last_contact") == {"endpoints.py": 3}
    for fn in (ep.overall_survival, ep.time_to_dialysis, ep.time_to_next_treatment):
        src = inspect.getsource(fn)
        assert "death_or_last_contact(" in src and "LSTCNTDT" not in src, fn.__name__


# ------------------------------------------------------------------ baseline value
def test_the_baseline_window_is_measured_in_one_place():
    for file in (f for f in _trees() if f != "derive_common.py"):
        text = (PKG / file).read_text()
        assert "timedelta64(window_days" not in text and "to_timedelta(window_days" not in text, file
    assert _defined("baseline_rows") == ["derive_common.py"]
    assert _defined("window_start") == ["derive_common.py"]
    calls = _calls("baseline_rows")
    assert calls.get("validation.py") == 1 and calls.get("derive_common.py") == 1
    assert _calls("window_start") == {"derive_common.py": 2}


@pytest.mark.parametrize(
    "rows, expected",
    [
        # (day relative to index, value); window 30: latest dated in [-30, 0] wins
        ([(-31, 1.0), (-30, 2.0)], 2.0),  # -30 is in, -31 out
        ([(-5, 1.0), (1, 2.0)], 1.0),  # after the index date never counts
        ([(0, 1.0), (0, 2.0)], 2.0),  # a tie: the later row
        ([(-3, 1.0), (-10, 2.0)], 1.0),  # the latest date, not the last row
        ([(-40, 1.0)], None),  # nothing in the window
    ],
)
def test_baseline_rows_rule(rows, expected):
    t0 = pd.Timestamp("2020-06-01")
    labs = pd.DataFrame({"patient_id": "P", "analyte": "ntprobnp",
                         "date": [t0 + pd.Timedelta(days=d) for d, _ in rows], "value": [v for _, v in rows]})
    index = pd.DataFrame({"patient_id": ["P"], "index_date": [t0]})
    got = dc.baseline_values(labs, index, 30)
    assert list(got["value"]) == ([] if expected is None else [expected])
    # the kernel on codes gives the same row
    pos = dc.baseline_rows(np.zeros(len(rows), int), np.zeros(len(rows), int), labs["date"].to_numpy(),
                           np.full(len(rows), t0.to_datetime64()), 30)
    assert list(labs["value"].to_numpy()[pos]) == ([] if expected is None else [expected])


# ------------------------------------------------------------------ CKD-EPI
CKD_EPI_CONSTANTS = {1.209, 0.329, 0.411, 0.993, 1.018, 0.9938, 1.012, 0.241, 0.302}


def test_ckd_epi_coefficients_live_in_egfr_only():
    holders = {
        file for file, tree in _trees().items() for x in ast.walk(tree)
        if isinstance(x, ast.Constant) and isinstance(x.value, float) and abs(x.value) in CKD_EPI_CONSTANTS
    }
    assert holders == {"egfr.py"}


def test_synthetic_uses_the_egfr_equation():
    scr, age, female = np.array([0.6, 1.4]), np.array([50.0, 70.0]), np.array([True, False])
    sex = np.where(female, "F", "M")
    assert np.array_equal(synthetic.egfr_ckd_epi_2009(scr, age, female), egfr.ckd_epi(scr, age, sex, "ckd_epi_2009"))
    back = synthetic.creatinine_for_egfr(egfr.ckd_epi(scr, age, sex, "ckd_epi_2009"), age, female)
    assert back == pytest.approx(scr, rel=1e-12)


# ------------------------------------------------------------------ KM median
def test_km_median_rule_lives_in_survival():
    """The product-limit estimate and the median rule are survival.py's: synthetic's
    median calls survival.km_median and computes no curve of its own."""
    for file, tree in _trees().items():
        if file != "survival.py":
            assert not any(isinstance(x, ast.Call) and _called(x) == "cumprod" for x in ast.walk(tree)), file
    assert _calls("km_median").get("synthetic.py", 0) >= 1
    assert _defined("quantile_time") == ["survival.py"]


@pytest.mark.parametrize("seed", range(5))
def test_synthetic_median_equals_the_stats_median(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(1, 40, 60)
    e = rng.random(60) < 0.6
    stats = survival.km(t.astype(float), e.astype(int), 0.05).median
    got = synthetic.km_median(t, e)
    assert got == (np.inf if np.isnan(stats) else stats)


# ------------------------------------------------------------------ dataset columns
def test_dataset_column_lists_are_not_retyped():
    """No module of the package but datasets.py spells out a derived dataset's full
    column list (the writers call datasets.columns). tables.py and figures.py are
    switched by the integrator (issue 12) and skipped until then."""
    from alsalvage import datasets

    full = {name: datasets.columns(name) for name in datasets.DATASETS}
    for file, tree in _trees().items():
        if file in ("datasets.py", "tables.py", "figures.py") or file.startswith("stats/"):
            continue
        for x in ast.walk(tree):
            if isinstance(x, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in x.elts):
                values = [e.value for e in x.elts]
                for name, cols in full.items():
                    assert values != cols, f"{file}: line {x.lineno} retypes the {name} columns"


def _divisions_by_lambda() -> list[str]:
    """Files dividing something by an expression that names the lambda chain."""
    out = []
    for file, tree in _trees().items():
        for x in ast.walk(tree):
            if isinstance(x, ast.BinOp) and isinstance(x.op, ast.Div):
                names = {n.id for n in ast.walk(x.right) if isinstance(n, ast.Name)}
                names |= {n.value for n in ast.walk(x.right) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
                if any(n.lower() in ("lm", "lam", "lambda", "lambdabl") for n in names):
                    out.append(file)
    return out


def test_the_flc_ratio_is_computed_in_one_place():
    assert _divisions_by_lambda() == ["hematologic.py"]
    assert _defined("kl_ratio") == ["hematologic.py"]


@pytest.mark.parametrize(
    "kappa, lam, expected",
    [
        (20.0, 10.0, 2.0),
        (10.0, 40.0, 0.25),
        (20.0, 0.0, np.nan),  # undetectable lambda: no measured ratio (was inf at follow-up)
        (0.0, 0.0, np.nan),
        (np.nan, 10.0, np.nan),
        (20.0, np.nan, np.nan),
    ],
)
def test_kl_ratio_baseline_and_follow_up_agree(kappa, lam, expected):
    follow_up = hematologic.flc_measures([kappa], [lam], ["kappa"])["KLRAT"].iloc[0]
    direct = hematologic.kl_ratio([kappa], [lam])[0]
    for got in (follow_up, direct):
        assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)


def _isotype_comparisons() -> list[str]:
    """Files comparing something with the constant "kappa" or "lambda" (the pairing of a
    clone's isotype with its chain); the synthetic generator, which writes isotypes, aside."""
    out = []
    for file, tree in _trees().items():
        for x in ast.walk(tree):
            if isinstance(x, ast.Compare) and any(
                isinstance(c, ast.Constant) and c.value in ("kappa", "lambda") for c in [x.left, *x.comparators]
            ):
                out.append(file)
    return sorted(set(out) - {"synthetic.py"})


def test_the_involved_chain_is_chosen_in_one_place():
    assert _isotype_comparisons() == ["hematologic.py"]
    assert _defined("involved_chains") == ["hematologic.py"]


@pytest.mark.parametrize(
    "kappa, lam, isotype, involved, uninvolved",
    [
        (20.0, 10.0, "kappa", 20.0, 10.0),
        (20.0, 10.0, "lambda", 10.0, 20.0),
        (20.0, 10.0, None, np.nan, np.nan),  # no isotype: no pairing
        ("<", "", "kappa", "<", ""),  # censoring signs follow their chain
        ("<", "", "lambda", "", "<"),
    ],
)
def test_involved_chains_pairs_values_and_signs(kappa, lam, isotype, involved, uninvolved):
    missing = np.nan if isinstance(kappa, float) else ""
    i, u = hematologic.involved_chains(np.array([kappa], dtype=object), np.array([lam], dtype=object), [isotype], missing)
    for got, want in ((i[0], involved), (u[0], uninvolved)):
        assert (pd.isna(got) and pd.isna(want)) or got == want
