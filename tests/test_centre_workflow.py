"""A multi-centre cohort end to end (issue 13): the demo cohort with an optional centre
column (three centres, one patient without a centre), Table 1 by centre and centre strata
switched on. The by-centre Table 1 reaches results.json, table1.csv, the report and the
Word/Excel Table 1; every OS log-rank (the landmark ones too), Gray's tests of dialysis and
the Cox model say they are stratified by centre; findings.csv and the report count the
validation findings per centre."""

from __future__ import annotations

import csv
import html as htmllib
import json

import pandas as pd
import pytest
import yaml
from docx import Document

from helpers import DEMO, snakemake

CENTRES = ("Athens", "Pavia", "St. Mary's")


def centre_of(i: int) -> str:
    return "" if i == 5 else CENTRES[i % 3]


@pytest.mark.workflow
@pytest.mark.slow
def test_multi_centre_cohort_end_to_end(project):
    cohort = project / "centre_cohort"
    cohort.mkdir()
    for f in DEMO.glob("*.csv"):
        (cohort / f.name).write_bytes(f.read_bytes())
    p = pd.read_csv(cohort / "patients.csv", dtype=str, keep_default_na=False)
    p["centre"] = [centre_of(i) for i in range(len(p))]
    p.to_csv(cohort / "patients.csv", index=False, lineterminator="\n")
    labs = pd.read_csv(cohort / "labs.csv", dtype=str, keep_default_na=False)
    labs.loc[0, "date"] = "1990-01-01"  # a warning (early-date) on a lab row of patient 0
    labs.to_csv(cohort / "labs.csv", index=False, lineterminator="\n")
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    cfg["inputs"] = {t: str(cohort / f"{t}.csv") for t in cfg["inputs"]}
    cfg["analysis"]["centre"] = {"table1_by_centre": True, "stratify": True}
    (project / "centre.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(project, "--configfile", "centre.yaml", check=True, timeout=1800)
    res = project / "results"

    recs = json.loads((res / "stats" / "results.json").read_text())["results"]
    counts = pd.Series([centre_of(i) for i in range(len(p))]).value_counts()
    assert recs["baseline.by_centre.missing"]["estimate"] == counts[""]
    assert recs["baseline.by_centre.St_Mary_s.n"]["label"] == "Treated patients, St. Mary's"
    assert sum(recs[f"baseline.by_centre.{t}.n"]["estimate"] for t in ("Athens", "Pavia", "St_Mary_s")) == (
        recs["baseline.n"]["estimate"] - counts[""]
    )
    stratified = [k for k in recs if k.endswith((".logrank_p", ".gray_p")) or k.startswith("os.cox.") and k.endswith(".hr")]
    assert any("landmark" in k for k in stratified) and any("gray" in k for k in stratified)
    for k in stratified:
        assert "stratified by centre" in recs[k]["method"], k
    with open(res / "tables" / "table1.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert any(".by_centre.Pavia." in r["key"] for r in rows)
    assert any(r["section"] == "footnote" and r["label"].startswith("Centre columns") for r in rows)

    # the report: Table 1's centre columns under their band; findings per centre
    page = (res / "report.html").read_text()
    text = htmllib.unescape(page)
    assert ">By centre</th>" in page and "<th>St. Mary&#39;s</th>" in page
    assert recs["baseline.age.by_centre.Pavia.median"]["formatted"] in text
    findings = pd.read_csv(res / "validated" / "findings.csv", dtype=str, keep_default_na=False)
    assert list(findings.columns)[-1] == "centre" and centre_of(0) in set(findings["centre"])
    assert 'id="quality-by-centre"' in page

    # Word Table 1: the band row, then the headers with the centres
    doc = Document(str(res / "tables" / "table1.docx"))
    cells = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert "By centre" in cells[0] and cells[1][-4:] == ["Athens", "Pavia", "St. Mary's", "Note"]
