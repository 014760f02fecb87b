"""The HTML report: escaping, strict templates, numbers copied from results.json, the
published-vs-reproduced table, provenance and the absence of identifiers."""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from alsalvage import report
from helpers import REPO
from report_fixtures import XSS, load_config, make_results, write_fixture

SEED = yaml.safe_load((REPO / "resources" / "seed_study.yaml").read_text())
TEMPLATE = REPO / "workflow" / "templates" / "report.html.j2"
# The published table of the seed study has 28 rows (counted by hand: baseline 7, prior
# therapy 3, hematologic response 4, organ response 2, renal outcome 1, survival 3,
# exposure 2, discontinuation 3, toxicity 3).
SEED_ROWS = 28


def tiny_svg(tmp: Path, name: str) -> tuple[Path, Path]:
    svg = tmp / f"{name}.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')
    cap = tmp / f"{name}.json"
    cap.write_text(json.dumps({"name": name, "title": name, "caption": f"caption of {name}"}))
    return svg, cap


def build(tmp: Path, *, tox_label="Anemia", finding_text="lambda", config_edit=None, results_edit=None,
          published=REPO / "resources" / "seed_study.yaml") -> str:
    p = write_fixture(tmp / "in", n=12, tox_label=tox_label, finding_text=finding_text)
    if results_edit:
        r = json.loads(p["results"].read_text())
        results_edit(r)
        p["results"].write_text(json.dumps(r))
    cfg, _ = load_config()
    if config_edit:
        config_edit(cfg)
    svgs, caps = {}, {}
    for name in ("km_os", "flow"):
        svgs[name], caps[name] = tiny_svg(tmp, name)
    return report.build_report(
        results_path=p["results"],
        findings_path=p["findings"],
        adsl_path=p["adsl"],
        seed_study_path=published,
        strobe_path=REPO / "resources" / "strobe_cohort.yaml",
        schema_path=REPO / "workflow" / "schemas" / "config.schema.yaml",
        template_path=TEMPLATE,
        svgs=svgs,
        captions=caps,
        inputs_path=p["inputs"],
        config=cfg,
        repo_dir=tmp,
    )


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    return build(tmp_path_factory.mktemp("report"))


def _cells(row_html: str) -> list[str]:
    return [
        htmllib.unescape(re.sub(r"<[^>]+>", " ", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, flags=re.S)
    ]


def repro_row(html: str, row_id: str) -> list[str]:
    """Cells of a reproduction row: figure, item, published, reproduced, difference,
    tolerance, within, notes ('' when the row has no notes)."""
    m = re.search(rf'<tr class="(yes|no)" id="repro-{row_id}">(.*?)</tr>', html, flags=re.S)
    assert m, f"no reproduction row {row_id}"
    notes = re.search(rf'<tr class="repro-notes" id="repro-notes-{row_id}">(.*?)</tr>', html, flags=re.S)
    return _cells(m.group(2)) + [" ".join(_cells(notes.group(1))).strip() if notes else ""]


# ---------------------------------------------------------------- escaping, strictness


def test_script_in_free_text_renders_inert(tmp_path):
    out = build(tmp_path, tox_label=XSS, finding_text=XSS)
    assert "<script" not in out.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_template_autoescapes_and_is_strict():
    env = report.environment(TEMPLATE.parent)
    assert env.autoescape is True or env.autoescape(TEMPLATE.name)
    assert env.undefined is jinja2.StrictUndefined


def test_a_missing_context_key_raises(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    cfg, schema = load_config()
    ctx = report.build_context(
        results=json.loads(p["results"].read_text()),
        findings=report.read_findings(p["findings"]),
        seed_study=SEED,
        strobe=yaml.safe_load((REPO / "resources" / "strobe_cohort.yaml").read_text()),
        config=cfg,
        schema=schema,
        figures={},
        patient_ids=[],
        inputs=[],
        software=[],
        git={"commit": "unknown", "dirty": "unknown"},
    )
    report.render_html(ctx, TEMPLATE)  # complete context renders
    del ctx["provenance"]["config_sha256"]
    with pytest.raises(jinja2.UndefinedError, match="config_sha256"):
        report.render_html(ctx, TEMPLATE)


# ---------------------------------------------------------------- numbers from results.json


def test_every_formatted_result_appears_in_the_html(html):
    text = htmllib.unescape(html)
    for key, rec in make_results()["results"].items():
        if key.rsplit(".", 1)[-1] in ("min", "max") and key.rsplit(".", 1)[0] + ".median" in make_results()["results"]:
            continue  # carried by the median's "median (range)" string
        assert rec["formatted"] in text, f"{key}: {rec['formatted']!r} not in the report"


def test_specific_numbers_sit_next_to_their_labels(html):
    text = htmllib.unescape(html)
    assert re.search(r"Response >= PR \(ITT\)</td><td[^>]*>28 \(56%\)</td><td[^>]*>41-70</td>", text)
    assert re.search(r"Median OS</td><td[^>]*>29\.3 \(18\.2-NR\)</td>", text)
    # Table 1 group column from the by_pexgrp record of the fixture
    assert re.search(r"Age, years</td><td[^>]*>63 \(42-82\)</td><td[^>]*></td>\s*<td[^>]*>61 \(45-80\)</td>", text)


def test_toxicity_is_pivoted_by_term(html):
    text = htmllib.unescape(html)
    # anemia: grade >= 3 in 8 (16%), any grade in 13 (26%) in the fixture
    assert re.search(r"<td>Anemia</td><td[^>]*>13 \(26%\)</td><td[^>]*>8 \(16%\)</td>", text)


# ---------------------------------------------------------------- reproduction table


def test_seed_study_file_has_every_published_row():
    figures = {r["figure"] for r in SEED["rows"]}
    assert len(figures) == SEED_ROWS
    assert len({r["id"] for r in SEED["rows"]}) == len(SEED["rows"])


def test_reproduction_table_has_every_seed_row(html):
    for row in SEED["rows"]:
        assert f'id="repro-{row["id"]}"' in html, row["id"]
    text = htmllib.unescape(html)
    for figure in {r["figure"] for r in SEED["rows"]}:
        assert figure in text


# What the comparison with published figures puts into a report: its section, its entry in
# the contents, its "N of M within tolerance" line and its rows.
COMPARISON_TRACES = (
    'id="reproduction"',
    'href="#reproduction"',
    "Reproduction of the published figures",
    "within tolerance",
    'id="repro-',
    'class="repro"',
)


@pytest.mark.parametrize("published", [None, ""])
def test_a_study_without_published_figures_has_no_comparison_section(tmp_path, html, published):
    """config study.published_figures: null (the rule passes no file): no section, no
    contents entry, no summary line; the rest of the report is the default one."""
    for trace in COMPARISON_TRACES:
        assert trace in html, trace  # the default study has the comparison
    out = build(tmp_path, published=published)
    assert [t for t in COMPARISON_TRACES if t in out] == []
    assert re.findall(r'<section id="([^"]+)"', out) == [
        s for s in re.findall(r'<section id="([^"]+)"', html) if s != "reproduction"
    ]
    # every link (contents, STROBE appendix) still has its target
    assert set(re.findall(r'href="#([^"]+)"', out)) <= set(re.findall(r'id="([^"]+)"', out))
    assert "Reproduction" not in htmllib.unescape(re.sub(r"<pre>.*?</pre>", "", out, flags=re.S))


@pytest.mark.parametrize(
    "row_id, published, reproduced, difference, tolerance, within",
    [
        # 28/50 = 56.0%; 57 - 56 = -1.0; tolerance 100/50 + 0.5 = 2.5 points
        ("hem_ge_pr", "57%", "56.0% (28/50)", "-1.0 points", "+-2.5 points", "yes"),
        # 20/29 = 68.97 -> 69.0%; 69.0 - 62 = 7.0 > 100/29 + 0.5 = 3.95 -> 3.9 shown
        ("hem_non_refractory", "62%", "69.0% (20/29)", "7.0 points", "+-3.9 points", "no"),
        # 8/50 = 16.0%, published 17: -1.0, within 2.5
        ("death_on_therapy", "17%", "16.0% (8/50)", "-1.0 points", "+-2.5 points", "yes"),
        # median 63.0 vs 63, tolerance 0.5 (a fractional tolerance shows one decimal)
        ("age_median", "63", "63.0", "0.0", "+-0.5", "yes"),
        # 7.2 months exactly
        ("duration_median", "7.2", "7.2", "0.0", "+-0.05", "yes"),
        # 29.3 vs 29 with tolerance 1 month
        ("os_median", "29", "29.3", "0.3", "+-1", "yes"),
        # count of dialysis 10 vs 10
        ("dialysis_count", "10", "10", "0", "+-1", "yes"),
        # 0.0842 and 0.084 both above 0.05
        ("hem_refractory_p", "p = 0.084", "p = 0.084", "direction only", "same side of 0.05", "yes"),
        # HR 0.41 < 1 and p 0.028 < 0.05 as published
        ("os_naive_adjusted", "p = 0.028", "p = 0.028; HR 0.41 (0.19-0.91)", "direction only", "same side of 0.05", "yes"),
    ],
)
def test_reproduction_rows_by_hand(html, row_id, published, reproduced, difference, tolerance, within):
    cells = repro_row(html, row_id)
    assert cells[2:7] == [published, reproduced, difference, tolerance, within]


def test_p_on_the_other_side_is_not_within(tmp_path):
    def flip(r):
        r["results"]["os.sensitive_vs_refractory.logrank_p"]["p"] = 0.01  # published 0.395

    cells = repro_row(build(tmp_path, results_edit=flip), "os_sens_vs_ref")
    assert cells[3] == "p = 0.010" and cells[6] == "no"


def test_missing_result_is_reported_not_hidden(tmp_path):
    def drop(r):
        del r["results"]["tox.gr3.pneumonitis"]

    cells = repro_row(build(tmp_path, results_edit=drop), "tox_pneumonitis")
    assert cells[3] == "not in results" and cells[6] == "no"
    assert "tox.gr3.pneumonitis" in cells[7]


@pytest.mark.parametrize(
    "pct, denominator, expected",
    [
        (57, 50, set()),  # 28/50 = 56%, 29/50 = 58%
        (56, 50, {28}),
        (58, 14, set()),  # 8/14 = 57.1%, 9/14 = 64.3%
        (38, 21, {8}),  # 8/21 = 38.1%
        (62, 29, {18}),  # 18/29 = 62.07%
        (5, 50, set()),  # 2/50 = 4%, 3/50 = 6%
        (0, 30, {0}),
        (50, 4, {2}),
        (13, 8, {1}),  # 1/8 = 12.5% rounds half up to 13
        (13, 200, {25, 26}),  # 25/200 = 12.5% -> 13, 26/200 = 13%, 27/200 = 13.5% -> 14
        (100, 7, {7}),  # 6/7 = 85.7%
        (57, 100_000, set(range(56_500, 57_500))),  # 56.5% -> 57 up to 57.499%; 57.5% -> 58
    ],
)
def test_feasible_counts_by_hand(pct, denominator, expected):
    assert report._feasible_counts(pct, denominator) == expected


def test_infeasible_published_values_are_noted(html):
    notes = {r["id"]: repro_row(html, r["id"])[7] for r in SEED["rows"]}
    assert "No whole number of patients out of 50 gives 57%" in notes["hem_ge_pr"]
    assert "No whole number of patients out of 14 gives 58%" in notes["hem_naive"]
    # 38% of 21 (8) + 62% of 29 (18) = 26 but 57% of 50 has no integer count
    assert "No integer cohort satisfies" in notes["hem_refractory"]
    assert "No integer cohort satisfies" in notes["hem_non_refractory"]
    # 10% + 26% + 10% of 50 = 5 + 13 + 5 = 23 = 46% of 50: satisfiable, no note
    for row_id in ("stop_progression", "stop_toxicity", "stop_decision", "early_stop"):
        assert notes[row_id] == "", (row_id, notes[row_id])
    assert "10 of all 50" in notes["dialysis_pct"]


# ---------------------------------------------------------------- identifiers, banner, provenance


def test_no_patient_identifiers_or_dates(html):
    assert "SYN-" not in html
    dates = set(re.findall(r"\b\d{4}-\d{2}-\d{2}\b", html))
    assert dates == {"2026-01-01"}, dates  # only the configured analysis date
    assert "[patient]" in html and "[date]" in html  # the finding's id and date were masked


def test_a_leaked_identifier_stops_the_report(tmp_path):
    with pytest.raises(report.ReportInputError, match="patient identifier"):
        build(tmp_path, tox_label="SYN-0003")


@pytest.mark.parametrize(
    "text, ids, expected",
    [
        ("P1 and P12 on 2013-04-02", ["P1", "P12"], "[patient] and [patient] on [date]"),
        ("AP1 P1X", ["P1"], "AP1 P1X"),  # not a whole token
        ("row of SYN-001.", ["SYN-001"], "row of [patient]."),
        ("SYN-001-B", ["SYN-001"], "[patient]-B"),  # a run of parts
        ("SYN-0011", ["SYN-001"], "SYN-0011"),
        ("x_P1_y", ["P1"], "x_[patient]_y"),
        ("A-B-C", ["A-B", "B-C"], "[patient]-C"),  # longest match from the left first
        # identifiers as hospital exports spell them: spaces, slashes, apostrophes, umlauts
        ("row PAT 001 twice: PAT 001.", ["PAT 001"], "row [patient] twice: [patient]."),
        ("UKM/2012/002 and UKM/2012/0021", ["UKM/2012/002"], "[patient] and UKM/2012/0021"),
        ("Müller-003, xMüller-003", ["Müller-003"], "[patient], xMüller-003"),
        ("O'Brien-008 (O'Brien-0080)", ["O'Brien-008"], "[patient] (O'Brien-0080)"),
        ("PAT 0011", ["PAT 001", "PAT 0011"], "[patient]"),  # the longest identifier wins
        ("no ids here", [], "no ids here"),
    ],
)
def test_mask_identifiers(text, ids, expected):
    assert report.mask_identifiers(text, ids) == expected


def F(severity, file, rule, row, column, value="", message=""):
    """One validation finding (a findings.csv record)."""
    return {"severity": severity, "file": file, "row": row, "column": column, "value": value, "rule": rule,
            "message": message}


KEY = ("severity", "file", "rule", "row", "column")


@pytest.mark.parametrize(
    "findings, shown, order",
    [
        # rows compare as text: "10" < "2" < "9" (character by character), "" first
        ([F("warning", "a.csv", "r", "9", "x"), F("warning", "a.csv", "r", "10", "x"),
          F("warning", "a.csv", "r", "", "x"), F("warning", "a.csv", "r", "2", "x")], ("row",), ["", "10", "2", "9"]),
        # key order: severity ("error" < "warning"), then file, then rule, then row, then column
        ([F("warning", "a.csv", "r", "1", "x"), F("error", "b.csv", "r", "1", "x"),
          F("error", "a.csv", "s", "1", "x"), F("error", "a.csv", "r", "2", "x"),
          F("error", "a.csv", "r", "1", "y"), F("error", "a.csv", "r", "1", "x")], KEY,
         ["error a.csv r 1 x", "error a.csv r 1 y", "error a.csv r 2 x", "error a.csv s 1 x", "error b.csv r 1 x",
          "warning a.csv r 1 x"]),
        # rule sorts before row: rule "a" row 9 comes before rule "b" row 1
        ([F("warning", "f", "b", "1", "c"), F("warning", "f", "a", "9", "c")], ("rule", "row"), ["a 9", "b 1"]),
        # upper case before lower case (code point order): "Warning" < "error" < "warning"
        ([F("warning", "f", "r", "1", "c"), F("error", "f", "r", "1", "c"), F("Warning", "f", "r", "1", "c")],
         ("severity",), ["Warning", "error", "warning"]),
        # equal keys keep the file order (stable): told apart by their messages
        ([F("warning", "f", "r", "1", "c", message="first"), F("warning", "f", "r", "1", "c", message="second"),
          F("error", "f", "r", "1", "c", message="third"), F("warning", "f", "r", "1", "c", message="fourth")],
         ("message",), ["third", "first", "second", "fourth"]),
    ],
)
def test_findings_are_sorted_as_text_and_stable(findings, shown, order):
    rows = report.findings_rows(findings, [])["rows"]
    assert [" ".join(r[k] for k in shown) for r in rows] == order


def test_findings_summary_counts_per_severity_and_rule():
    findings = [
        F("warning", "a.csv", "flag", "3", "heart"),
        F("error", "b.csv", "range", "1", "age"),
        F("warning", "b.csv", "flag", "7", "kidney"),
        F("warning", "a.csv", "baseline", "", "analyte"),
        F("warning", "c.csv", "flag", "1", "liver"),
    ]
    out = report.findings_rows(findings, [])
    # by hand: error/range 1; warning/baseline 1; warning/flag 3 (a.csv, b.csv, c.csv)
    assert out["summary"] == [
        {"severity": "error", "rule": "range", "n": 1},
        {"severity": "warning", "rule": "baseline", "n": 1},
        {"severity": "warning", "rule": "flag", "n": 3},
    ]
    assert out["n"] == 5


def test_findings_are_masked_but_sorted_on_the_unmasked_text():
    # "P2" sorts after "P10" as text; both become "[patient]" in every column shown
    findings = [
        F("warning", "x.csv", "r", "1", "c", value="P2", message="P2 on 2013-04-02"),
        F("warning", "x.csv", "r", "1", "c", value="P10", message="P10 seen"),
    ]
    out = report.findings_rows(findings, ["P10", "P2"])
    assert [r["message"] for r in out["rows"]] == ["[patient] on [date]", "[patient] seen"]
    assert [r["value"] for r in out["rows"]] == ["[patient]", "[patient]"]


def test_findings_missing_values_become_empty_and_missing_columns_fail():
    row = F("warning", "x.csv", "r", None, "c", value=float("nan"), message=3)
    assert report.findings_rows([row], [])["rows"] == [
        {"severity": "warning", "file": "x.csv", "row": "", "column": "c", "value": "", "rule": "r", "message": "3"}
    ]
    del row["rule"]
    with pytest.raises(report.ReportInputError, match="missing column.*rule"):
        report.findings_rows([row], [])


@pytest.mark.parametrize(
    "text, expected",
    [
        # empty fields stay empty strings; "NA" stays the text NA; numbers stay text
        ("severity,file,row,column,value,rule,message\nwarning,a.csv,,heart,NA,flag,\n",
         [["warning", "a.csv", "", "heart", "NA", "flag", ""]]),
        # blank lines are skipped; a short record is padded; an extra column is ignored
        ("extra,severity,file,row,column,value,rule,message\n\nx,warning,a.csv,07\n\n",
         [["warning", "a.csv", "07", "", "", "", ""]]),
        # a quoted line break stays inside its field
        ('severity,file,row,column,value,rule,message\nwarning,a.csv,2,c,"two\nlines",r,m\n',
         [["warning", "a.csv", "2", "c", "two\nlines", "r", "m"]]),
        ("severity,file,row,column,value,rule,message\n", []),
        # a byte-order mark (a spreadsheet's UTF-8 export) is not part of the first name
        ("\ufeffseverity,file,row,column,value,rule,message\nwarning,a.csv,3,c,v,r,m\n",
         [["warning", "a.csv", "3", "c", "v", "r", "m"]]),
    ],
)
def test_read_findings_keeps_text(tmp_path, text, expected):
    f = tmp_path / "findings.csv"
    f.write_text(text, encoding="utf-8")
    rows = report.read_findings(f)
    assert [[r[c] for c in ("severity", "file", "row", "column", "value", "rule", "message")] for r in rows] == expected


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("severity,file,row,column,value,message\n", "missing column.*rule"),
        ("severity,file,row,column,value,rule,message\nw,f,1,c,v,r,m\nw,f,2,c,v,r,m,extra\n", "line 3 has 8 fields"),
    ],
)
def test_read_findings_rejects_malformed_files(tmp_path, text, match):
    f = tmp_path / "findings.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(report.ReportInputError, match=match) as err:
        report.read_findings(f)
    assert str(f) in str(err.value)


def test_patient_ids_read_one_parquet_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "adsl.parquet"
    pq.write_table(pa.table({"AGE": [60, 61, 62, 63], "USUBJID": ["P2", "P10", "P2", "A-1"]}), f)
    # distinct, sorted as text: "A-1" < "P10" < "P2"
    assert report.patient_ids(f) == ["A-1", "P10", "P2"]
    pq.write_table(pa.table({"AGE": [60]}), f)
    with pytest.raises(report.ReportInputError, match="USUBJID"):
        report.patient_ids(f)


def test_the_report_job_does_not_import_pandas(tmp_path):
    """import pandas alone costs more than the rest of the report job: the module reads
    ADSL and findings.csv without it (a fresh process builds a report, then looks)."""
    p = write_fixture(tmp_path / "in", n=8)
    svg, cap = tiny_svg(tmp_path, "km_os")
    cfg, _ = load_config()
    args = {
        "results_path": str(p["results"]),
        "findings_path": str(p["findings"]),
        "adsl_path": str(p["adsl"]),
        "seed_study_path": str(REPO / "resources" / "seed_study.yaml"),
        "strobe_path": str(REPO / "resources" / "strobe_cohort.yaml"),
        "schema_path": str(REPO / "workflow" / "schemas" / "config.schema.yaml"),
        "template_path": str(TEMPLATE),
        "svgs": {"km_os": str(svg)},
        "captions": {"km_os": str(cap)},
        "inputs_path": str(p["inputs"]),
        "config": cfg,
        "repo_dir": str(tmp_path),
    }
    (tmp_path / "args.json").write_text(json.dumps(args))
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO / 'workflow' / 'scripts')!r})\n"
        "from alsalvage import report\n"
        f"html = report.build_report(**json.load(open({str(tmp_path / 'args.json')!r})))\n"
        "assert 'Validation reported 2 finding(s)' in html, 'no findings section'\n"
        "print(json.dumps(sorted(m for m in ('pandas', 'statsmodels', 'pyarrow', 'jinja2') if m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "pyarrow" in loaded and "jinja2" in loaded  # the probe sees real imports
    assert "pandas" not in loaded


def test_identifier_check_ignores_embedded_figures_and_numbers():
    html = '<img src="data:image/svg+xml;base64,U1lOLTAwMQSYN-001"><td>17</td>'
    report.check_no_identifiers(html, ["SYN-001", "17"])  # inside a data URI / numeric id
    with pytest.raises(report.ReportInputError):
        report.check_no_identifiers(html + "<td>SYN-001</td>", ["SYN-001"])


@pytest.mark.parametrize("pid", ["PAT 001", "UKM/2012/002", "Müller-003", "O'Brien-008", "SYN-001"])
def test_identifier_check_finds_identifiers_of_any_spelling(pid):
    """The check refuses a page holding the identifier as the template escapes it."""
    from markupsafe import escape

    report.check_no_identifiers(f"<td>{escape(pid)}X</td><td>{escape(pid)[:-1]}</td>", [pid])
    with pytest.raises(report.ReportInputError, match="1 patient identifier"):
        report.check_no_identifiers(f"<p>see <b>{escape(pid)}</b></p>", [pid])


def test_findings_mask_identifiers_that_only_findings_name():
    """An identifier that is not in ADSL (a warning on a row of an unknown patient) is
    masked wherever the findings name it, since its own finding gives it away."""
    rows = report.findings_rows([F("warning", "labs.csv", "orphan", "7", "patient_id", "UKM/2012/099",
                            "patient_id UKM/2012/099 has no row in patients.csv")], ["P1"])
    assert rows["rows"][0]["value"] == "[patient]"
    assert "UKM" not in rows["rows"][0]["message"]


def test_identifier_check_is_fast_for_large_cohorts():
    # 5000 identifiers against a 2 MB page: one pass over the text (no timing assertion;
    # the old per-identifier search took minutes here)
    ids = [f"SYN-{i:05d}" for i in range(5000)]
    report.check_no_identifiers("<td>12 (24%)</td>" * 120_000, ids)


def test_synthetic_banner_follows_the_config(tmp_path, html):
    assert "SYNTHETIC DATA" in html

    def real(cfg):
        cfg["study"]["synthetic"] = False

    assert "SYNTHETIC DATA" not in build(tmp_path, config_edit=real)


def test_provenance_hashes_and_rows(tmp_path):
    out = build(tmp_path)
    raw = tmp_path / "in" / "raw_labs.csv"
    assert hashlib.sha256(raw.read_bytes()).hexdigest() in out
    # raw files of the fixture: header + 2 data rows
    assert re.search(r"<td>labs</td><td><code>[^<]*raw_labs\.csv</code></td><td[^>]*>2</td>", out)
    # the hash and rows are validate's record (inputs.json), not a second read of the file
    raw.write_text("patient_id,x\nA,1\nB,2\nC,3\n")
    assert build(tmp_path) == out
    cfg, _ = load_config()
    cfg_hash = hashlib.sha256(yaml.safe_dump(cfg, sort_keys=True, default_flow_style=False).encode()).hexdigest()
    assert cfg_hash in out
    assert "figures.seed</code> = 20190607" in out and "demo.seed</code> = 20190607" in out
    # tmp_path is not a git repository
    assert re.search(r"Git commit</th><td><code>unknown</code>", out)


def test_git_state_outside_a_repository(tmp_path):
    assert report.git_state(tmp_path) == {"commit": "unknown", "dirty": "unknown"}


def test_thresholds_used_are_listed_from_the_config(tmp_path):
    def change(cfg):
        cfg["hematologic"]["vgpr_dflc_below_mg_l"] = 37

    out = build(tmp_path, config_edit=change)
    assert re.search(r"<code>hematologic\.vgpr_dflc_below_mg_l</code></td><td[^>]*>37</td>", out)


def test_strobe_appendix_has_all_22_items(html):
    items = yaml.safe_load((REPO / "resources" / "strobe_cohort.yaml").read_text())["items"]
    assert [i["item"] for i in items] == [str(k) for k in range(1, 23)]
    section_ids = set(re.findall(r'<section id="([\w-]+)"', html)) | {"top"}
    for i in items:
        assert i["section"] == "none" or i["section"] in section_ids, i
        assert i["topic"] in htmllib.unescape(html)


def test_self_contained(html):
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "@font-face" not in html
    assert "@media print" in html


def test_two_builds_in_separate_processes_are_identical(tmp_path):
    code = (
        "import sys; sys.path[:0] = [{s!r}, {t!r}]\n"
        "from pathlib import Path\n"
        "import test_report\n"
        "Path({o!r}).write_text(test_report.build(Path({d!r})))\n"
    )
    outs = []
    for k in range(2):
        o = tmp_path / f"r{k}.html"
        subprocess.run(
            [sys.executable, "-c", code.format(s=str(REPO / "workflow/scripts"), t=str(REPO / "tests"), o=str(o), d=str(tmp_path / "w"))],
            check=True,
            cwd=REPO,
            timeout=300,
        )
        outs.append(o.read_bytes())
    assert outs[0] == outs[1]


# ---------------------------------------------------------------- statements: most_common, present


def _tox(**counts):
    """tox.gr3.<term> records with n patients of 30 (and a record outside the prefix)."""
    recs = {f"tox.gr3.{t}": {"n": n, "denominator": 30, "estimate": n / 30} for t, n in counts.items()}
    recs["tox.any_gr3"] = {"n": 99, "denominator": 30}  # not a term: never compared
    return recs


def _statement(kind, published, key, recs):
    seed = {"alpha": 0.05, "cohort_size": 30, "rows": [
        {"id": "s", "area": "a", "figure": "f", "item": "i", "kind": kind, "published": published, "key": key}
    ]}  # fmt: skip
    return report.reproduction_rows(seed, recs)[0]


# published list, grade >= 3 patients per term, expected verdict, hand reasoning
MOST_COMMON = [
    (["neutropenia", "fatigue"], {"neutropenia": 8, "fatigue": 6, "anemia": 4}, "yes", "both listed lead"),
    (["neutropenia", "fatigue"], {"neutropenia": 8, "fatigue": 4, "anemia": 6}, "no", "anemia 6 beats fatigue 4"),
    (["neutropenia", "fatigue"], {"neutropenia": 8, "fatigue": 5, "anemia": 5}, "yes", "a tie with an unlisted term"),
    (["neutropenia", "fatigue"], {"neutropenia": 8, "fatigue": 0, "anemia": 0}, "no", "fatigue never occurred"),
    (["neutropenia", "fatigue"], {"neutropenia": 8, "anemia": 2}, "no", "fatigue has no record"),
    (["neutropenia"], {"neutropenia": 1}, "yes", "one term, one patient"),
]  # fmt: skip


@pytest.mark.parametrize("published,counts,within,how", MOST_COMMON, ids=[c[3] for c in MOST_COMMON])
def test_most_common_by_hand(published, counts, within, how):
    row = _statement("most_common", published, "tox.gr3", _tox(**counts))
    assert row["within"] == within, how
    assert row["published"] == ", ".join(published)
    if "fatigue" in published and "fatigue" not in counts:
        assert row["notes"] == ["no record tox.gr3.fatigue"]


def test_most_common_names_the_more_frequent_terms():
    row = _statement("most_common", ["neutropenia", "fatigue"], "tox.gr3", _tox(neutropenia=8, fatigue=2, anemia=6))
    assert row["difference"] == "more frequent: anemia"
    assert row["reproduced"].startswith("neutropenia 8, anemia 6, fatigue 2")


def test_most_common_without_any_record_is_reported():
    row = _statement("most_common", ["neutropenia"], "tox.gr3", {})
    assert row["reproduced"] == "not in results" and row["within"] == "no"


@pytest.mark.parametrize(
    "rec,reproduced,within",
    [
        ({"n": 3, "denominator": 12}, "3/12 patients", "yes"),
        ({"n": 1, "denominator": 1}, "1/1 patients", "yes"),
        ({"n": 0, "denominator": 12}, "0/12 patients", "no"),  # the statement is not borne out
        ({"n": 2}, "2 patients", "yes"),
    ],
)
def test_present_statement(rec, reproduced, within):
    row = _statement("present", "stated", "organ.cardiac.hem_responders_progressing", {"organ.cardiac.hem_responders_progressing": rec})
    assert (row["published"], row["reproduced"], row["within"]) == ("stated", reproduced, within)


def test_table1_by_centre_is_rendered_under_bands(tmp_path, html):
    """analysis.centre.table1_by_centre: a column per centre after the group columns, a band
    of headers overall | by group | by centre above them, and the footnote on the centres
    (with the patients without a centre); without by-centre records none of it."""
    def add_centres(r):
        res = r["results"]
        for tag, name, n, age in (("Athens", "Athens", 30, "60 (42-82)"), ("Pavia", "Pavia", 18, "66 (50-80)")):
            res[f"baseline.by_centre.{tag}.n"] = {**res["baseline.n"], "key": f"baseline.by_centre.{tag}.n",
                                                   "label": f"{res['baseline.n']['label']}, {name}",
                                                   "estimate": n, "formatted": str(n)}
            res[f"baseline.age.by_centre.{tag}.median"] = {**res["baseline.age.median"], "group": name,
                                                           "key": f"baseline.age.by_centre.{tag}.median",
                                                           "formatted": age}
        res["baseline.by_centre.missing"] = {**res["baseline.n"], "key": "baseline.by_centre.missing",
                                             "estimate": 2, "formatted": "2"}

    out = build(tmp_path, results_edit=add_centres)
    patients = out[out.index('<section id="patients">'): out.index("</section>", out.index('<section id="patients">'))]
    band = '<th colspan="{}" style="text-align:center">{}</th>'
    assert '<tr class="band">' + band.format(1, "") + band.format(2, "Overall") in patients
    assert band.format(2, "By centre") in patients
    assert "<th>Athens</th><th>Pavia</th><th>Note</th>" in patients
    age = next(r for r in patients.split("<tr>") if r.startswith("<td>Age, years"))
    assert _cells("<tr>" + age)[-3:-1] == ["60 (42-82)", "66 (50-80)"]
    assert "Centre columns: the treated patients of each centre" in patients and "without a centre: 2." in patients
    plain = html[html.index('<section id="patients">'):]
    plain = plain[: plain.index("</section>")]
    assert 'class="band"' not in plain and "Centre columns" not in plain


def test_findings_per_centre_in_the_report():
    """findings.csv's centre column (multi-centre cohorts): each row keeps it, the counts
    per centre list the centres by name, then a patient without a centre, then the
    findings of no patient (an empty centre); without the column nothing of it."""
    rows = [
        {**F("warning", "labs.csv", "r", "3", "value"), "centre": "Pavia"},
        {**F("error", "labs.csv", "r", "4", "value"), "centre": "Athens"},
        {**F("warning", "labs.csv", "r", "5", "value"), "centre": "Pavia"},
        {**F("warning", "patients.csv", "r", "6", "value"), "centre": "(no centre)"},
        {**F("warning", "labs.csv", "header", "", ""), "centre": ""},
    ]
    out = report.findings_rows(rows, [])
    assert out["has_centre"] and all("centre" in r for r in out["rows"])
    assert [(r["centre"], r["errors"], r["warnings"], r["n"]) for r in out["by_centre"]] == [
        ("Athens", 1, 0, 1), ("Pavia", 0, 2, 2), ("(no centre)", 0, 1, 1), ("(not patient-specific)", 0, 1, 1)]
    plain = report.findings_rows([{k: v for k, v in r.items() if k != "centre"} for r in rows], [])
    assert not plain["has_centre"] and plain["by_centre"] == [] and all("centre" not in r for r in plain["rows"])


@pytest.mark.parametrize(
    "centre, says",
    [
        ({}, ()),
        ({"table1_by_centre": False, "stratify": False}, ()),
        ({"table1_by_centre": True, "stratify": False}, ("each centre",)),
        ({"table1_by_centre": False, "stratify": True}, ("stratum of every log-rank", "Gray's tests", "Cox model")),
        ({"table1_by_centre": True, "stratify": True}, ("each centre", "stratum of every log-rank")),
    ],
)
def test_methods_say_when_centre_is_a_stratum(tmp_path, centre, says):
    text = report.centre_methods(centre)
    assert all(w in text for w in says) and (bool(text) == bool(says))

    def edit(cfg):
        cfg["analysis"]["centre"] = centre

    if says:  # the report's methods section carries it
        page = build(tmp_path, config_edit=edit)
        methods = htmllib.unescape(page[page.index('<section id="methods">'):])
        assert "Multi-centre cohort. " + text in methods


@pytest.mark.parametrize(
    "key, by, tag, expected",
    [
        ("baseline.n", "by_pexgrp", "naive", "baseline.by_pexgrp.naive.n"),  # as stats.table1 writes it
        ("baseline.age.median", "by_pexgrp", "naive", "baseline.age.by_pexgrp.naive.median"),
        ("baseline.organ.heart", "by_centre", "Pavia", "baseline.organ.by_centre.Pavia.heart"),
        ("baseline.n", "by_centre", "Pavia", "baseline.by_centre.Pavia.n"),
    ],
)
def test_subgroup_keys(key, by, tag, expected):
    from alsalvage.study import subgroup_key

    assert subgroup_key(key, by, tag) == expected


def test_table1_treated_patients_row_has_each_groups_n(html):
    """The first row of Table 1 gives the patients of each prior-exposure group (it was
    empty: the group key of baseline.n was spelled differently from stats.table1's)."""
    row = next(r for r in html.split("<tr>") if r.startswith("<td>Treated patients"))
    cells = _cells("<tr>" + row)
    assert cells[:6] == ["Treated patients", "50", "", "14", "15", "21"]


def test_a_cohort_of_another_size_is_warned_beside_the_comparison(tmp_path, html):
    """The published figures of a 50-patient study against an 80-patient cohort: the
    section says so and how to leave it out; a cohort of the published size gets no such
    warning (the default fixture: 50 and 50)."""
    assert "The published study had" not in html

    def eighty(r):
        r.setdefault("meta", {})["n_treated"] = 80
        r["results"]["baseline.n"].update(estimate=80, n=80, formatted="80")

    out = build(tmp_path, results_edit=eighty)
    section = out[out.index('<section id="reproduction">'):]
    section = htmllib.unescape(section[: section.index("</section>")])
    assert "The published study had 50 patients and this cohort has\n80" in section
    assert "study.published_figures" in section
