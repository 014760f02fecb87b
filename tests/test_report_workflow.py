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
    assert len(outputs) == 9 * 4 + 1  # svg, png, pdf, json per figure + the report
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
