"""The statistics tables as Word and Excel files (rule tables_office, alsalvage.office).

On the demo cohort: every table's .docx opens with python-docx and its .xlsx with openpyxl,
Table 1 holds exactly the `formatted` strings of results.json (overall and by bortezomib
group, by row label), the footnotes of the CSV are there, and two runs write the same
bytes. Unit tests: fixed zip and core-property timestamps, text never turned into a
formula, a table key missing from results.json stops the rule."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
import zipfile

import pytest
from docx import Document
from openpyxl import load_workbook

from helpers import REPO, schema_default, snakemake
from stats_data import demo_stats_project  # noqa: F401 (fixture)

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import office  # noqa: E402
from alsalvage.report import GROUPS, SUBSTATS  # noqa: E402
from alsalvage.study import group_key  # noqa: E402
from alsalvage.study import Wording  # noqa: E402

NAMES = ("table1", "response", "organ", "renal", "survival", "exposure", "toxicity")
OFFICE = [f"results/tables/{n}.{ext}" for n in NAMES for ext in ("docx", "xlsx")]


def docx_rows(path) -> list[list[str]]:
    """Every row of every table of a Word file, as text cells."""
    doc = Document(str(path))
    return [[c.text for c in row.cells] for t in doc.tables for row in t.rows]


def xlsx_rows(path) -> list[list[str]]:
    ws = load_workbook(str(path)).active
    return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]


def paragraphs(path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def expected_table1(results: dict) -> dict[str, list[str]]:
    """Row label -> [overall formatted, naive, sensitive, refractory] from results.json."""
    recs = results["results"]
    out = {}
    for k, r in recs.items():
        if not k.startswith(("baseline.", "prior.")) or ".by_pexgrp." in k:
            continue
        head, _, last = k.rpartition(".")
        if last in SUBSTATS and f"{head}.median" in recs:
            continue
        groups = [recs[group_key(k, g)]["formatted"] if group_key(k, g) in recs else "" for g in GROUPS]
        out[r["label"]] = [r["formatted"], *groups]
    return out


# --------------------------------------------------------------------------- demo cohort
@pytest.fixture(scope="module")
def office_run(demo_stats_project):  # noqa: F811
    project = demo_stats_project
    snakemake(project, *OFFICE, check=True)
    first = {p: (project / p).read_bytes() for p in OFFICE}
    time.sleep(1.1)  # a clock-stamped zip member or property would now differ
    for p in OFFICE:
        (project / p).unlink()
    snakemake(project, *OFFICE, check=True)
    return project, first


@pytest.mark.workflow
@pytest.mark.slow
def test_two_runs_write_the_same_bytes(office_run):
    project, first = office_run
    for p in OFFICE:
        assert (project / p).read_bytes() == first[p], f"{p} differs between two runs"


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.parametrize("reader", [docx_rows, xlsx_rows], ids=["docx", "xlsx"])
def test_table1_holds_the_formatted_numbers_of_results_json(office_run, reader):
    project, _ = office_run
    results = json.loads((project / "results/stats/results.json").read_text())
    expected = expected_table1(results)
    ext = "docx" if reader is docx_rows else "xlsx"
    rows = reader(project / f"results/tables/table1.{ext}")
    header = [
        "Characteristic",
        "All patients",
        "95% CI",
        *Wording.from_params(schema_default("study"), schema_default("prior_exposure")).group_headers(),
        "p",
        "Test",
        "SMD",
        "Missing",
        "Note",
    ]
    start = rows.index(header)
    got = {r[0]: [r[1], *r[3:6]] for r in rows[start + 1 :] if r[0] in expected}
    assert got == expected
    # spot checks against the raw numbers, so that the comparison cannot pass vacuously
    recs = results["results"]
    assert got["Treated patients"][0] == str(recs["baseline.n"]["n"]) == "50"
    # the patients of each group (keys baseline.by_pexgrp.<g>.n): 14 / 15 / 21 on the demo
    assert got["Treated patients"][1:] == [recs[f"baseline.by_pexgrp.{g}.n"]["formatted"] for g in GROUPS]
    assert got["Treated patients"][1:] == ["14", "15", "21"]
    assert got["Age (years), median (range)"][0] == recs["baseline.age.median"]["formatted"]
    assert len(got) > 30
    # the group comparisons: one row per compared variable carries its p, test, SMD and missing
    variables = [k[: -len(".by_pexgrp.p")] for k in recs if k.endswith(".by_pexgrp.p")]
    want = sorted(
        (
            recs[f"{v}.by_pexgrp.p"]["formatted"],
            recs[f"{v}.by_pexgrp.p"]["method"],
            recs[f"{v}.by_pexgrp.smd"]["formatted"],
            recs[f"{v}.by_pexgrp.missing"]["formatted"],
        )
        for v in variables
    )
    shown = sorted(tuple(r[6:10]) for r in rows[start + 1 :] if len(r) > 9 and r[6])
    assert len(variables) >= 20 and shown == want
    age = next(r for r in rows if r[0] == "Age (years), median (range)")
    assert age[6:10] == [
        recs["baseline.age.by_pexgrp.p"]["formatted"],
        "Kruskal-Wallis rank-sum test",
        recs["baseline.age.by_pexgrp.smd"]["formatted"],
        "0",
    ]


@pytest.mark.workflow
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_table_opens_with_its_footnotes_and_notice(office_run, name):
    project, _ = office_run
    with open(project / f"results/tables/{name}.csv", newline="") as fh:
        notes = [r["label"] for r in csv.DictReader(fh) if r["section"] == "footnote"]
    assert notes, f"{name}.csv has no footnotes"
    text = paragraphs(project / f"results/tables/{name}.docx")
    cells = "\n".join("\t".join(r) for r in xlsx_rows(project / f"results/tables/{name}.xlsx"))
    for i, note in enumerate(notes, 1):
        assert f"{i}. {note}" in text
        assert f"{i}. {note}" in cells
    assert office.SYNTHETIC_NOTICE in text and office.SYNTHETIC_NOTICE in cells
    assert len(docx_rows(project / f"results/tables/{name}.docx")) > 2


@pytest.mark.workflow
@pytest.mark.slow
def test_toxicity_is_pivoted_as_in_the_report(office_run):
    project, _ = office_run
    recs = json.loads((project / "results/stats/results.json").read_text())["results"]
    rows = docx_rows(project / "results/tables/toxicity.docx")
    by_label = {r[0]: r[1:] for r in rows}
    for k, r in recs.items():
        if k.startswith("tox.any.") and k.count(".") == 2:
            slug = k.split(".")[2]
            assert by_label[r["label"]] == [r["formatted"], recs[f"tox.gr3.{slug}"]["formatted"]]


# --------------------------------------------------------------------------- unit
def small_results(tmp_path, label_value="=1+1"):
    recs = {
        "baseline.n": {"label": "Treated patients", "formatted": "3", "estimate": 3, "unit": "count"},
        "baseline.age.median": {"label": "Age, median (range)", "formatted": "60 (50-70)", "estimate": 60},
        "baseline.age.missing": {"label": "Age, missing", "formatted": "0", "estimate": 0},
        "baseline.age.by_pexgrp.naive.median": {"label": "Age", "formatted": "55 (50-60)", "estimate": 55},
        "baseline.sex.male": {"label": label_value, "formatted": "2 (67%)", "estimate": 0.67},
    }
    path = tmp_path / "table1.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["key", "section", "group", "label"])
        for k in recs:
            w.writerow([k, "baseline", "overall", recs[k]["label"]])
        w.writerow(["footnote.1", "footnote", "", "A footnote."])
    return {"meta": {"synthetic": False}, "results": recs}, path


@pytest.mark.parametrize("when", ["2026-01-01", "1999-12-31"])
def test_members_and_properties_carry_the_reference_date(tmp_path, when):
    results, path = small_results(tmp_path)
    out = {"docx": {"table1": tmp_path / "t.docx"}, "xlsx": {"table1": tmp_path / "t.xlsx"}}
    office.write_office_tables(results, {"table1": path}, out["docx"], out["xlsx"], when, regimen="lenalidomide",
                               prior_exposure=schema_default("prior_exposure"))
    stamp = dt.datetime.fromisoformat(when)
    for f in (tmp_path / "t.docx", tmp_path / "t.xlsx"):
        with zipfile.ZipFile(f) as z:
            assert {i.date_time for i in z.infolist()} == {stamp.timetuple()[:6]}
            core = z.read("docProps/core.xml").decode()
        assert core.count(f"{when}T00:00:00Z") >= 2 and "created" in core and "modified" in core
    assert Document(str(tmp_path / "t.docx")).core_properties.created.replace(tzinfo=None) == stamp
    assert load_workbook(str(tmp_path / "t.xlsx")).properties.created == stamp
    assert "A footnote." in paragraphs(tmp_path / "t.docx")
    assert "SYNTHETIC" not in paragraphs(tmp_path / "t.docx")


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    results, path = small_results(tmp_path, "=1+1")
    office.write_office_tables(
        results, {"table1": path}, {"table1": tmp_path / "t.docx"}, {"table1": tmp_path / "t.xlsx"}, "2026-01-01",
        regimen="lenalidomide", prior_exposure=schema_default("prior_exposure"),
    )
    ws = load_workbook(str(tmp_path / "t.xlsx")).active
    cells = [c for row in ws.iter_rows() for c in row if c.value == "=1+1"]
    assert cells and all(c.data_type == "s" for c in cells)
    # the group column of Table 1 is filled from the by_pexgrp record, the hidden substat is not a row
    rows = docx_rows(tmp_path / "t.docx")
    age = next(r for r in rows if r[0] == "Age, median (range)")
    assert age[1] == "60 (50-70)" and age[3] == "55 (50-60)"
    assert not any(r[0] == "Age, missing" for r in rows)


def test_a_key_missing_from_results_json_stops_the_rule(tmp_path):
    results, path = small_results(tmp_path)
    del results["results"]["baseline.sex.male"]
    with pytest.raises(office.OfficeInputError, match="baseline.sex.male"):
        office.write_office_tables(
            results, {"table1": path}, {"table1": tmp_path / "t.docx"}, {"table1": tmp_path / "t.xlsx"}, "2026-01-01",
            regimen="lenalidomide", prior_exposure=schema_default("prior_exposure"),
        )


# ------------------------------------------------------------------ Table 1 by centre
def _centre_results() -> dict:
    """Table 1 records of a grouped two-centre cohort (analysis.centre.table1_by_centre)."""
    def rec(key, formatted, estimate=None, group="overall", label=None):
        return {"key": key, "label": label or key, "section": "baseline", "group": group,
                "estimate": estimate, "formatted": formatted}

    out = [
        rec("baseline.n", "12", 12, label="Treated patients"),
        rec("baseline.age.median", "63 (42-82)", 63),
        rec("baseline.age.by_pexgrp.naive.median", "61 (45-80)", 61, "naive"),
        rec("baseline.age.by_pexgrp.p", "0.41", 0.41),
        rec("baseline.by_centre.missing", "1", 1),
        rec("baseline.by_centre.St_Mary_s.n", "5", 5, label="Treated patients, St. Mary's"),
        rec("baseline.by_centre.Athens.n", "6", 6, label="Treated patients, Athens"),
        rec("baseline.age.by_centre.Athens.median", "60 (42-82)", 60, "Athens"),
        rec("baseline.age.by_centre.St_Mary_s.median", "66 (50-80)", 66, "St. Mary's"),
    ]
    return {r["key"]: r for r in out}


def test_table1_centre_columns_under_bands(tmp_path):
    from alsalvage.study import CENTRE_FOOTNOTE

    recs = _centre_results()
    w = Wording.from_params(schema_default("study"), schema_default("prior_exposure"))
    layout = office.table_layout("table1", list(recs), recs, w)
    assert layout["header"][-3:] == ["Athens", "St. Mary's", "Note"]  # centres sorted by key
    n_cols = len(layout["header"])
    assert layout["bands"] == [("", 1), ("Overall", 2), ("By prior bortezomib", 7), ("By centre", 2), ("", 1)]
    assert sum(span for _, span in layout["bands"]) == n_cols
    rows = {r[0]: r for r in layout["rows"]}
    assert rows["Treated patients"][-3:-1] == ["6", "5"]
    assert rows["baseline.age.median"][-3:-1] == ["60 (42-82)", "66 (50-80)"]
    when = dt.datetime(2020, 1, 1)
    office.write_docx(tmp_path / "t.docx", "Table 1", layout, [CENTRE_FOOTNOTE], False, when)
    office.write_xlsx(tmp_path / "t.xlsx", "Table 1", layout, [CENTRE_FOOTNOTE], False, when)
    d = docx_rows(tmp_path / "t.docx")
    assert d[0][1] == d[0][2] == "Overall" and d[0][-3] == d[0][-2] == "By centre"  # merged cells
    assert d[1] == layout["header"]
    x = xlsx_rows(tmp_path / "t.xlsx")
    band = next(i for i, r in enumerate(x) if "By centre" in r)
    assert x[band][1] == "Overall" and x[band + 1] == layout["header"]
    ws = load_workbook(str(tmp_path / "t.xlsx")).active
    assert len(ws.merged_cells.ranges) == 3  # overall, by group, by centre
    assert "Centre columns" in paragraphs(tmp_path / "t.docx")


def test_table1_without_centres_has_no_band():
    recs = {k: v for k, v in _centre_results().items() if ".by_centre." not in k}
    w = Wording.from_params(schema_default("study"), schema_default("prior_exposure"))
    layout = office.table_layout("table1", list(recs), recs, w)
    assert "bands" not in layout and layout["header"][-1] == "Note" and layout["header"][-2] == "Missing"
