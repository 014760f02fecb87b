"""The derived-dataset spec (alsalvage.datasets): the one input checker, the check of a
frame being written, and the data dictionary generated from it."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import REPO
from alsalvage import adverse_events, baseline, datasets, endpoints, responses

ADSL_FILE = "results/derived/adsl.parquet"


# ------------------------------------------------------------------ problems()
@pytest.mark.parametrize(
    "frames, needs, expected",
    [
        # every needed column present: no problem
        ({"adsl": pd.DataFrame(columns=["USUBJID", "TRTSDT"])}, {"adsl": ["USUBJID", "TRTSDT"]}, []),
        # a missing column is named by file, column and rule
        (
            {"adsl": pd.DataFrame(columns=["USUBJID"])},
            {"adsl": ["USUBJID", "TRTSDT", "TRTEDT"]},
            [
                f"file {ADSL_FILE}: column 'TRTSDT' is missing (needed by rule r)",
                f"file {ADSL_FILE}: column 'TRTEDT' is missing (needed by rule r)",
            ],
        ),
        # column names alone (e.g. a Parquet schema's) are enough
        ({"adsl": ["USUBJID"]}, {"adsl": ["HEMEVAL"]}, [f"file {ADSL_FILE}: column 'HEMEVAL' is missing (needed by rule r)"]),
        # a dataset not given at all; its file named from files (else its name)
        ({}, {"adsl": ["USUBJID"], "adrs": ["PARAMCD"]},
         [f"file {ADSL_FILE}: not given (needed by rule r)", "file adrs: not given (needed by rule r)"]),
    ],
)
def test_problems_names_file_and_column(frames, needs, expected):
    assert datasets.problems(frames, {"adsl": ADSL_FILE}, needs, "r") == expected


@pytest.mark.parametrize("needs", [{"adsl": ["NOSUCH"]}, {"adxx": ["USUBJID"]}, {"adrs": ["HEMEVAL"]}])
def test_problems_refuses_a_column_no_stage_writes(needs):
    with pytest.raises(ValueError, match="not in the derived-dataset spec"):
        datasets.problems({k: pd.DataFrame() for k in needs}, {}, needs)


def test_the_stages_needs_are_in_the_spec():
    """The derived columns each derive stage reads are columns some stage writes."""
    for needs in ({"adsl": responses.ADSL_COLUMNS}, endpoints.NEEDS, {"adsl": adverse_events.ADSL_REQUIRED}):
        frames = {d: datasets.columns(d) for d in needs}
        assert datasets.problems(frames, {}, needs) == []


def test_derive_adae_reports_a_missing_adsl_column_by_file():
    ae = pd.DataFrame(columns=adverse_events.REQUIRED)
    with pytest.raises(Exception, match=f"file {ADSL_FILE}: column 'TRTEDT' is missing"):
        adverse_events.derive_adae(ae, pd.DataFrame(columns=["USUBJID", "TRTSDT"]), 30, adsl_file=ADSL_FILE)


# ------------------------------------------------------------------ conform()
def _frame(name: str) -> pd.DataFrame:
    """An empty frame of dataset ``name`` with the spec's columns and dtypes."""
    kinds = {datasets.TEXT: object, datasets.INT: "int64", datasets.NULLABLE_INT: "Int64",
             datasets.FLOAT: "float64", datasets.DATE: "datetime64[ns]"}
    return pd.DataFrame({c.name: pd.Series([], dtype=kinds[c.dtype]) for c in datasets.DATASETS[name].columns})


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_conform_accepts_the_spec_and_refuses_drift(name):
    ok = _frame(name)
    assert datasets.conform(name, ok) == []
    assert datasets.conform(name, ok.assign(NEWCOL=1.0))[0].endswith("not in the spec ['NEWCOL'], missing []")
    assert "missing ['USUBJID']" in datasets.conform(name, ok.drop(columns="USUBJID"))[0]
    assert datasets.conform(name, ok[list(reversed(ok.columns))])[0].endswith("(order differs)")
    first_date = next(c for c in datasets.DATASETS[name].columns if c.dtype == datasets.DATE)
    bad = ok.assign(**{first_date.name: ok[first_date.name].astype(object)})
    assert datasets.conform(name, bad) == [f"{name}: column {first_date.name} has dtype object, the spec says {datasets.DATE}"]
    with pytest.raises(ValueError):
        datasets.check_written(name, bad)


def test_writers_take_their_columns_from_the_spec():
    assert baseline.ADSL_COLUMNS == datasets.columns("adsl")
    assert responses.ADRS_COLUMNS == datasets.columns("adrs")
    assert endpoints.ADTTE_COLUMNS == datasets.columns("adtte")
    assert adverse_events.ADAE_COLUMNS == datasets.columns("adae")


def test_derive_adae_output_conforms():
    """A writer's real output (not only its column list) matches the spec: a column added
    to the writer but not to the spec fails here."""
    t0 = pd.Timestamp("2020-01-01")
    ae = pd.DataFrame({"patient_id": ["P"], "term": ["rash"], "grade": [3], "onset_date": [t0], "action": ["none"]})
    adsl = pd.DataFrame({"USUBJID": ["P"], "TRTSDT": [t0], "TRTEDT": [pd.NaT], "NXTLNDT": [pd.NaT]})
    assert datasets.conform("adae", adverse_events.derive_adae(ae, adsl, 30)) == []


def test_every_derived_text_kind_is_known():
    for d in datasets.DATASETS.values():
        assert {c.dtype for c in d.columns} <= set(datasets._ACCEPTED), d.name
        assert set(d.key) <= set(d.names), d.name  # the sort key is made of its columns
        assert len(set(d.names)) == len(d.names), d.name


# ------------------------------------------------------------------ data dictionary
def test_data_dictionary_is_generated_from_the_spec():
    """docs/data-dictionary.md's derived column tables equal the spec's (regenerate with
    ``PYTHONPATH=workflow/scripts python -m alsalvage.datasets``)."""
    text = (REPO / "docs" / "data-dictionary.md").read_text()
    assert datasets.render_doc(text) == text


def test_data_dictionary_drift_is_caught():
    text = (REPO / "docs" / "data-dictionary.md").read_text()
    drifted = text.replace("| HEMEVAL | text |", "| HEMEVAL | integer |")
    assert drifted != text and datasets.render_doc(drifted) == text
    with pytest.raises(ValueError, match="markers"):
        datasets.render_doc(text.replace(datasets._end("adtte"), ""))


def test_markdown_groups_consecutive_columns_that_share_a_meaning():
    table = datasets.markdown("adsl").splitlines()
    assert "| HEART, KIDNEY, LIVER, NERVE, AUTONOMIC, SOFTTISS, GI | 0/1 | clinician-recorded organ involvement |" in table
    rows = [r.split(" | ")[0].lstrip("| ") for r in table[2:]]
    assert [c for r in rows for c in r.split(", ")] == datasets.columns("adsl")
    assert table[:2] == ["| column | type | definition |", "|---|---|---|"]
    assert all(r.startswith("| ") and r.endswith(" |") for r in table[2:])


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_interfaces_doc_names_every_spec_column(name):
    """docs/interfaces.md summarises the derived datasets by hand: it must name every
    column of the spec (a column added to the spec and not there fails)."""
    import re

    words = set(re.findall(r"[A-Z][A-Z0-9]+", (REPO / "docs" / "interfaces.md").read_text()))
    assert [c for c in datasets.columns(name) if c not in words] == []
