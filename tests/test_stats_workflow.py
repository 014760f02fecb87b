"""The stats rule end to end: hand-built derived data in a project copy, byte-identical
reruns, bad input stopping the run with file/row/column/rule, and on the demo cohort a
results.json that holds every key docs/results.md maps the published figures to, with the
same bytes from one worker process as from two."""

from __future__ import annotations

import re
import shutil

import pytest

from helpers import REPO, copy_project, snakemake
from stats_data import STATS_RULES, demo_stats_project, small_cohort, write_derived  # noqa: F401

OUTPUTS = [
    f"results/tables/{n}.csv"
    for n in ("table1", "response", "organ", "renal", "survival", "exposure", "toxicity")
] + ["results/stats/results.json"]


def run_stats(project, *args, **kw):
    return snakemake(project, "results/stats/results.json", "--allowed-rules", *STATS_RULES, *args, **kw)


@pytest.mark.workflow
@pytest.mark.slow
def test_stats_rules_are_deterministic(tmp_path):
    project = copy_project(tmp_path / "project")
    write_derived(project, small_cohort())
    run_stats(project, check=True)
    first = {p: (project / p).read_bytes() for p in OUTPUTS}
    shutil.rmtree(project / "results" / "tables")
    shutil.rmtree(project / "results" / "stats")
    run_stats(project, check=True)
    for p in OUTPUTS:
        assert (project / p).read_bytes() == first[p], f"{p} differs between two runs"
    assert "WARNING 6 events for 3 parameters" in (project / "logs" / "stats.log").read_text()


@pytest.mark.workflow
@pytest.mark.slow
def test_bad_derived_data_stops_the_rule(tmp_path):
    project = copy_project(tmp_path / "project")
    data = small_cohort()
    data["adtte"].loc[0, "CNSR"] = 7
    data["adtte"].loc[3, "AVAL"] = -2.0
    write_derived(project, data)
    proc = run_stats(project)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rule stats: 2 problem(s)" in out
    assert "results/derived/adtte.csv: row 2, column CNSR" in out
    assert "results/derived/adtte.csv: row 5, column AVAL" in out
    assert "(analyses: renal, survival, exposure)" in out  # the analyses reading ADTTE
    log = (project / "logs" / "stats.log").read_text()
    assert "results/derived/adtte.csv: row 5, column AVAL" in log
    for p in OUTPUTS:
        assert not (project / p).exists(), f"{p} written although the input is bad"


@pytest.mark.workflow
@pytest.mark.slow
def test_demo_outputs_are_the_same_from_one_worker(demo_stats_project, tmp_path):
    """The demo run used two worker processes (--cores 2); one gives the same bytes."""
    project = copy_project(tmp_path / "project")
    for sub in ("derived", "validated"):
        shutil.copytree(demo_stats_project / "results" / sub, project / "results" / sub)
    run_stats(project, "--set-threads", "stats=1", check=True)
    assert "workers: 1" in (project / "logs" / "stats.log").read_text()
    assert "workers: 2" in (demo_stats_project / "logs" / "stats.log").read_text()
    for p in OUTPUTS:
        assert (project / p).read_bytes() == (demo_stats_project / p).read_bytes(), f"{p} differs"


def documented_keys() -> list[str]:
    """Keys of the 'Published figures -> keys' table of docs/results.md; a key written as
    `.a.b` replaces the last two parts of the previous full key."""
    text = (REPO / "docs" / "results.md").read_text()
    section = text.split("## Published figures -> keys", 1)[1]
    keys, last = [], None
    for line in section.splitlines():
        if not line.startswith("|") or "---" in line:
            continue
        cell = line.split("|")[2]
        for tok in re.findall(r"`([^`]+)`", cell):
            if tok.startswith("."):
                parts = tok[1:].split(".")
                key = ".".join(last.split(".")[: -len(parts)] + parts)
            else:
                key = last = tok
            keys.append(key)
    return keys


def test_docs_mapping_parses():
    keys = documented_keys()
    assert "hem.refractory_vs_non.non_refractory.ge_pr" in keys
    assert "baseline.organ.liver" in keys and "hem.refractory_vs_non.p_chi2" in keys
    assert len(keys) > 50


@pytest.mark.workflow
@pytest.mark.slow
def test_demo_results_hold_every_documented_key(demo_stats_project):
    import json

    obj = json.loads((demo_stats_project / "results" / "stats" / "results.json").read_text())
    assert obj["meta"]["synthetic"] is True
    assert obj["meta"]["n_treated"] == 50
    results = obj["results"]
    missing = [k for k in documented_keys() if k not in results]
    assert not missing, f"keys documented in docs/results.md but not produced: {missing}"
    fields = {
        "estimate",
        "ci_low",
        "ci_high",
        "n",
        "denominator",
        "p",
        "statistic",
        "df",
        "unit",
        "method",
        "label",
        "formatted",
        "formatted_ci",
        "note",
    }
    assert all(set(rec) == fields for rec in results.values())
    for p in OUTPUTS:
        assert (demo_stats_project / p).exists()
