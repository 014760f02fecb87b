"""The figure and report rules inside the real workflow: the demo cohort end to end, then
the figures and the report rerun, giving byte-identical files."""

from __future__ import annotations

import html as htmllib
import json

import pytest
import yaml

from helpers import REPO, snakemake


@pytest.mark.workflow
@pytest.mark.slow
def test_report_end_to_end_is_reproducible(project):
    snakemake(project, "results/report.html", check=True, timeout=1800)
    outputs = sorted((project / "results" / "figures").glob("*.*")) + [project / "results" / "report.html"]
    assert len(outputs) == 9 * 5 + 1  # svg, png, tiff, pdf, json per figure + the report
    first = {p.name: p.read_bytes() for p in outputs}

    snakemake(project, "results/report.html", "--forcerun", "figure", "report", check=True, timeout=900)
    for p in outputs:
        assert p.read_bytes() == first[p.name], f"{p.name} differs between two runs"

    page = (project / "results" / "report.html").read_text()
    text = htmllib.unescape(page)
    assert "<script" not in page.lower()
    assert "SYNTHETIC DATA" in page  # the demo config says synthetic: true
    seed = yaml.safe_load((REPO / "resources" / "seed_study.yaml").read_text())
    for row in seed["rows"]:
        assert f'id="repro-{row["id"]}"' in page
    results = json.loads((project / "results" / "stats" / "results.json").read_text())["results"]
    for key in ("hem.itt.ge_pr", "os.median", "baseline.age.median", "discontinuation.early", "os.cox.naive_vs_exposed.hr"):
        assert results[key]["formatted"] in text, key
    assert "Git commit</th><td><code>unknown</code>" in page  # the project copy is not a git repository


FIGURE_NAMES = ("km_os", "km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox",
                "waterfall_dflc", "swimmer", "ntprobnp", "flow")  # fmt: skip
TABLE_NAMES = ("table1", "response", "organ", "renal", "survival", "exposure", "toxicity")


@pytest.mark.workflow
@pytest.mark.slow
def test_snakemake_report_holds_every_figure_table_and_the_report(tmp_path_factory, tmp_path):
    """`snakemake --report report.zip` after a run: every figure in its four formats, the
    seven tables and results/report.html, each with its caption (workflow/report/*.rst)."""
    import zipfile

    from workflow_model import clone_run, reference_run

    work = clone_run(reference_run(tmp_path_factory), tmp_path / "project")
    snakemake(work, "--report", "report.zip", check=True, timeout=600)
    with zipfile.ZipFile(work / "report.zip") as z:
        files = {n.rsplit("/", 1)[-1] for n in z.namelist() if "/data/raw/" in n}
        page = z.read("report/report.html").decode()
    want = {f"{n}.{ext}" for n in FIGURE_NAMES for ext in ("svg", "png", "tiff", "pdf")}
    want |= {f"{t}.csv" for t in TABLE_NAMES} | {"report.html"}
    assert want <= files, f"missing from report.zip: {sorted(want - files)}"
    for name in FIGURE_NAMES:  # the figure caption names the figure's own caption file
        assert f"results/figures/{name}.json" in page, f"no caption for {name}"
    assert "Table of the analyses" in page and "The clinician" in page
