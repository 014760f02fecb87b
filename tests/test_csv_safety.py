"""CSV injection: no CSV the workflow writes holds a cell a spreadsheet would run as a
formula (OWASP); numbers and ordinary text are written unchanged, Parquet keeps the value."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from alsalvage import csvout
from alsalvage.stats.records import write_table


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=1+1", "'=1+1"),
        ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("-0.5", "-0.5"),  # numbers are data
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("a=b", "a=b"),  # only the first character matters
        ("grade 3", "grade 3"),
        ("", ""),
    ],
)
def test_neutralise_text(cell, written):
    for dtype in (object, "category", pd.StringDtype("pyarrow")):
        s = pd.Series([cell, "plain", None], dtype=dtype)
        out = csvout.neutralise_text(s)
        assert out.iloc[0] == written, dtype
        assert out.iloc[1] == "plain" and pd.isna(out.iloc[2])


def test_untouched_columns_are_the_same_object():
    df = pd.DataFrame({"a": ["x", "y"], "b": [-1.5, 2.0]})
    assert csvout.neutralise_frame(df) is df


def test_derived_csv_is_neutralised_and_parquet_keeps_the_value(tmp_path):
    df = pd.DataFrame({"USUBJID": ["P1", "P2", "P3"], "AETERM": ["=cmd|' /C calc'!A0", "anemia", "-x"],
                       "AVAL": [-1.0, 2.5, None]})
    csvout.write_dataset(df, tmp_path / "d.csv", tmp_path / "d.parquet", ["USUBJID"])
    text = (tmp_path / "d.csv").read_text().splitlines()
    assert text == ["USUBJID,AETERM,AVAL", "P1,'=cmd|' /C calc'!A0,-1", "P2,anemia,2.5", "P3,'-x,"]
    assert pq.read_table(tmp_path / "d.parquet").column("AETERM").to_pylist()[0] == "=cmd|' /C calc'!A0"


def test_stats_table_csv_is_neutralised(tmp_path):
    recs = [{"key": "tox.x", "section": "toxicity", "group": "all", "label": "@risk", "formatted": "-1 (2%)",
             "estimate": -0.25}]
    write_table(recs, tmp_path / "t.csv", ["=footnote"])
    back = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert back.loc[0, "label"] == "'@risk"
    assert back.loc[0, "formatted"] == "'-1 (2%)"
    assert back.loc[0, "estimate"].startswith("-0.25")
    assert back.loc[1, "label"] == "'=footnote"
