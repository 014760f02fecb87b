"""The scale benchmark command (workflow/scripts/benchmark_scale.py) runs end to end on a
tiny cohort and reports every job of the DAG. No timing is asserted anywhere: the numbers
are measurements for docs/performance.md, not pass/fail criteria of the test suite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

import benchmark_scale as bs  # workflow/scripts is on pytest's pythonpath
from helpers import REPO, snakemake_env

SCRIPT = REPO / "workflow" / "scripts" / "benchmark_scale.py"
ROW = re.compile(r"^\| (?P<key>[a-z_0-9]+(?:\[[a-z_0-9,]+\])?) \| (?P<wall>[\d.]+) \| (?P<cpu>[\d.]+) \| (?P<peak>\d+) \|")


def job_counts(snakemake_log: str) -> dict[str, int]:
    """Snakemake's own 'Job stats' table of a run: rule -> number of jobs."""
    block = snakemake_log.split("Job stats:", 1)[1]
    counts = {}
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.workflow
@pytest.mark.slow
def test_benchmark_runs_end_to_end_and_lists_every_job(tmp_path):
    out = tmp_path / "scale"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "60", "--seed", "3", "--out", str(out), "--demo",
         "--demo-repeat", "2"],
        cwd=REPO, env=snakemake_env(), capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    printed = proc.stdout

    # Every job Snakemake ran for `all` (its Job stats) has one row with wall, CPU, peak.
    counts = job_counts((out / "n60" / "snakemake.log").read_text())
    counts.pop("all")
    counts.pop("total")
    assert counts.get("validate") == 1 and counts.get("report") == 1, counts
    section = printed.split("### n = 60 patients", 1)[1].split("###", 1)[0]
    rows = [m.groupdict() for m in map(ROW.match, section.splitlines()) if m]
    per_rule: dict[str, int] = {}
    for r in rows:
        per_rule[r["key"].split("[")[0]] = per_rule.get(r["key"].split("[")[0], 0) + 1
        assert float(r["cpu"]) > 0 and int(r["peak"]) > 0, r  # the probe recorded the job
    assert per_rule == counts
    assert "| **whole workflow** (`snakemake --cores 2`) |" in section
    assert "Cohort generation" in section

    # The demo part: each run twice (min, median), a target where the issue sets one, and
    # a template-only edit reruns the report alone.
    demo = printed.split("### Demo cohort", 1)[1]
    num = r"\d+\.\d\d"
    for run in ("cold, from validated inputs to report", "no-op rerun", "template-only edit"):
        assert re.search(rf"^\| {run} \| {num} \| {num} \| {num} \| [\d.]+ \| (met|MISSED) \|$", demo, re.M), run
    for run in ("cold, from raw inputs to report", "Snakemake floor: `snakemake --version`",
                "Snakemake floor: no-op of a one-rule workflow"):
        assert re.search(rf"^\| {re.escape(run)} \| {num} \| {num} \| {num} \| - \|  \|$", demo, re.M), run
    assert "Jobs rerun after the template edit: report;" in demo
    assert (out / "scale.md").read_text().strip() in printed
    d = json.loads((out / "scale.json").read_text())["demo"]
    # From validated inputs: every job of the cold run except validate, validate not rerun.
    assert d["cold_validated"]["jobs"] == [j for j in d["cold"]["jobs"] if j != "validate"]
    assert "validate" in d["cold"]["jobs"] and "report" in d["cold_validated"]["jobs"]
    for step in ("cold", "cold_validated", "noop", "template", "snakemake_version", "floor_noop"):
        walls = sorted(r["wall_s"] for r in d[step]["runs"])
        assert len(walls) == 2 and d[step]["wall_s_min"] == walls[0], step
        assert d[step]["wall_s_median"] == round((walls[0] + walls[1]) / 2, 2), step
    assert d["template"]["jobs"] == ["report"] and d["template"]["report_unchanged"] is True
    assert d["snakemake_version"]["version"] == version("snakemake")


def test_size_table_rows_imports_and_sums():
    """The probe's record names the heavy libraries a job imported; the table hides the
    ubiquitous ones (numpy, pandas, pyarrow) and lists the others."""
    res = {
        "n": 10, "lab_rows": 100, "load_before": 1.0, "cores": 2,
        "run": {"wall_s": 9.0, "cpu_s": 8.0, "load_after": 1.5},
        "generate": {"wall_s": 1.0, "cpu_s": 0.5, "peak_mib": 99.0},
        "rules": {
            "validate": {"wall_s": 2.0, "cpu_s": 1.5, "peak_mib": 150.0, "imports": ["numpy", "pandas", "pandera"]},
            "figure[km_os]": {"wall_s": 3.0, "cpu_s": 2.5, "peak_mib": 250.0,
                              "imports": ["lifelines", "matplotlib", "numpy", "pandas"]},
        },
    }
    lines = bs.size_table(res)
    assert "| validate | 2.0 | 1.5 | 150 | pandera |" in lines
    assert "| figure[km_os] | 3.0 | 2.5 | 250 | lifelines, matplotlib |" in lines
    # sums by hand: wall 2.0 + 3.0, CPU 1.5 + 2.5, peak max(150, 250)
    assert "| **sum of rules** | 5.0 | 4.0 | 250 (max) | |" in lines
    assert not any(line.startswith("Targets at this size") for line in lines)  # 10 patients
    # at 100,000 patients the targets are judged: 130 s > 120 s, 250 MiB <= 4096 MiB
    big = dict(res, n=100_000, run={"wall_s": 130.0, "cpu_s": 8.0, "load_after": 1.5})
    assert (
        "Targets at this size: whole workflow 130.0 s (at most 120 s: MISSED); "
        "largest rule peak 250 MiB (at most 4096 MiB: met)."
    ) in bs.size_table(big)


@pytest.mark.parametrize(
    "cpu_small, cpu_big, expected",
    [
        (1.0, 10.0, "x10.0"),  # linear in patients: x10
        (2.0, 23.0, "x11.5 (over)"),  # above the x11 target is flagged
        (4.0, 44.0, "x11.0"),  # exactly the target is within it
    ],
)
def test_growth_factor_and_flag(cpu_small, cpu_big, expected):
    small = {"n": 10_000, "rules": {"derive_baseline": {"cpu_s": cpu_small, "wall_s": 1.0}}}
    big = {"n": 100_000, "rules": {"derive_baseline": {"cpu_s": cpu_big, "wall_s": 8.0}}}
    lines = bs.growth_table(small, big)
    row = next(line for line in lines if line.startswith("| derive_baseline |"))
    assert row.split(" | ")[3] == expected
    assert row.endswith("| x8.0 |")  # wall growth 8.0 / 1.0


def test_benchmark_keys_match_probe_keys(tmp_path):
    """A wildcard job's benchmark file (benchmarks/figure/km_os.tsv) and its probe record
    ({"rule": "figure", "wildcards": {"figure": "km_os"}}) land on the same row."""
    bench = tmp_path / "benchmarks" / "figure"
    bench.mkdir(parents=True)
    (bench / "km_os.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n4.5\t0:00:04\t120.0\t1.2\n")
    (tmp_path / "benchmarks" / "validate.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n2.5\t0:00:02\t90.0\t0.8\n")
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "figure.km_os.1.json").write_text(
        '{"rule": "figure", "wildcards": {"figure": "km_os"}, "wall_s": 4.4, "cpu_s": 1.9,'
        ' "peak_mib": 260.0, "imports": ["matplotlib"]}'
    )
    rows = bs.per_rule(tmp_path, probe)
    assert set(rows) == {"figure[km_os]", "validate"}
    assert rows["figure[km_os]"]["wall_s"] == 4.5 and rows["figure[km_os]"]["cpu_s"] == 1.9
    assert rows["figure[km_os]"]["peak_mib"] == 260.0 and rows["figure[km_os]"]["sampled_max_rss_mib"] == 120.0
    # no probe record: the benchmark's sampled values stand in
    assert rows["validate"]["cpu_s"] == 0.8 and rows["validate"]["peak_mib"] == 90.0


def test_generated_labs_stay_inside_the_contract_ranges_at_registry_size(tmp_path):
    """The benchmark feeds generator cohorts to the validating workflow: at n = 10,000 and
    seed 1 an AKI on a pre-dialysis creatinine rise once reached 33.4 mg/dL, above the
    contract's plausible ceiling (30), and the validate rule rightly stopped the run. Every
    lab value, in its canonical unit, must lie inside [minimum, maximum] of its analyte."""
    import pandas as pd

    from alsalvage import contract
    from alsalvage.synthetic import CREATININE_CAP_MG_DL, write_cohort

    write_cohort(10_000, 1, tmp_path)
    labs = pd.read_csv(tmp_path / "labs.csv", dtype=str, keep_default_na=False)
    quantitative = {a for a, x in contract.ANALYTES.items() if not x.qualitative}
    labs = labs[labs["analyte"].isin(quantitative)]
    factor = [contract.ANALYTES[a].units[u] for a, u in zip(labs["analyte"], labs["unit"])]
    canonical = labs["value"].astype(float) * factor
    lo = labs["analyte"].map({a: x.minimum for a, x in contract.ANALYTES.items()})
    hi = labs["analyte"].map({a: x.maximum for a, x in contract.ANALYTES.items()})
    outside = labs[(canonical < lo) | (canonical > hi)]
    assert outside.empty, outside.head()
    creat = canonical[labs["analyte"] == "creatinine"]
    # 20 mg/dL written as 1768 umol/L reads back as 20.0 (rounding to 2 decimals either way)
    assert creat.max() <= CREATININE_CAP_MG_DL + 0.01


def test_figures_read_only_the_lab_rows_they_draw(tmp_path):
    """Scale: of the labs the figures read only the analytes a figure draws (flc_kappa,
    flc_lambda, ntprobnp), in file order."""
    import pandas as pd

    from alsalvage import figures

    labs = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2", "P3", "P3"],
            "date": pd.to_datetime(["2020-01-01"] * 6),
            "analyte": ["creatinine", "ntprobnp", "flc_lambda", "hemoglobin", "flc_kappa", "ntprobnp"],
            "value": [1.1, 900.0, 120.0, 11.0, 15.0, 700.0],
            "unit": ["mg/dL", "ng/L", "mg/L", "g/dL", "mg/L", "ng/L"],
            "uln": [float("nan")] * 6,
        }
    )
    labs.to_parquet(tmp_path / "labs.parquet", index=False)
    got = figures.read_labs(tmp_path / "labs.parquet")
    # rows 2, 3 and 5, 6 of the file (1-based), in that order; index renumbered
    assert got["analyte"].tolist() == ["ntprobnp", "flc_lambda", "flc_kappa", "ntprobnp"]
    assert got["value"].tolist() == [900.0, 120.0, 15.0, 700.0]
    assert list(got.columns) == list(labs.columns)


def test_stats_read_only_the_lab_rows_they_analyse(tmp_path):
    """Scale: stats rules read only the NT-proBNP rows of the labs (file order kept); a
    labs file without the analyte column is read whole, so stats_problems can name it."""
    import pandas as pd

    from alsalvage.stats.checks import stats_problems
    from alsalvage.stats.run import _read_input

    labs = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P3"],
            "date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-01", "2020-03-01"]),
            "analyte": ["ntprobnp", "creatinine", "flc_kappa", "ntprobnp"],
            "value": [900.0, 1.2, 30.0, 450.0],
        }
    )
    labs.to_parquet(tmp_path / "labs.parquet", index=False)
    got = _read_input("labs", tmp_path / "labs.parquet")
    assert got["patient_id"].tolist() == ["P1", "P3"] and got["value"].tolist() == [900.0, 450.0]
    labs.drop(columns="analyte").to_parquet(tmp_path / "bad.parquet", index=False)
    assert len(_read_input("labs", tmp_path / "bad.parquet")) == 4
    frames = {"labs": _read_input("labs", tmp_path / "bad.parquet")}
    # only the organ analysis reads the labs
    assert stats_problems(frames, {"labs": "labs.parquet"}) == [
        "file labs.parquet: column 'analyte' is missing (needed by rule stats) (analyses: organ)"
    ]


@pytest.mark.parametrize(
    "walls, cpus, wall_min, wall_median, cpu_min, cpu_median",
    [
        ([3.0, 1.0, 2.0], [2.5, 0.5, 1.5], 1.0, 2.0, 0.5, 1.5),  # odd count: the middle value
        ([4.0, 1.0, 2.0, 3.0], [1.0, 1.0, 2.0, 6.0], 1.0, 2.5, 1.0, 1.5),  # even: (2 + 3) / 2, (1 + 2) / 2
        ([7.25], [6.5], 7.25, 7.25, 6.5, 6.5),  # one run: min = median = the run
        ([2.0, 9.0, 2.0], [1.0, 1.0, 8.0], 2.0, 2.0, 1.0, 1.0),  # one slow outlier does not move the median
    ],
)
def test_summarize_min_and_median(walls, cpus, wall_min, wall_median, cpu_min, cpu_median):
    runs = [{"wall_s": w, "cpu_s": c, "rc": 0} for w, c in zip(walls, cpus)]
    got = bs.summarize(runs)
    assert got["runs"] == runs
    assert (got["wall_s_min"], got["wall_s_median"]) == (wall_min, wall_median)
    assert (got["cpu_s_min"], got["cpu_s_median"]) == (cpu_min, cpu_median)


def _write(path, text, mtime_ns):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_snapshot_and_changed_paths_see_written_rewritten_and_removed_files(tmp_path):
    t = 1_700_000_000_000_000_000
    _write(tmp_path / "benchmarks" / "validate.tsv", "s\n1.0\n", t)
    _write(tmp_path / "benchmarks" / "figure" / "km_os.tsv", "s\n2.0\n", t)
    _write(tmp_path / "results" / "a.csv", "x\n", t)
    _write(tmp_path / "results" / "b.csv", "y\n", t)
    _write(tmp_path / "logs" / "x.log", "log\n", t)  # outside benchmarks/ and results/
    before = bs.snapshot(tmp_path)
    assert sorted(before) == [
        "benchmarks/figure/km_os.tsv", "benchmarks/validate.tsv", "results/a.csv", "results/b.csv"
    ]
    _write(tmp_path / "results" / "a.csv", "x\n", t + 1)  # same bytes, rewritten 1 ns later
    _write(tmp_path / "benchmarks" / "report.tsv", "s\n0.5\n", t)  # new
    (tmp_path / "results" / "b.csv").unlink()  # removed
    _write(tmp_path / "logs" / "x.log", "other\n", t + 5)  # not watched
    assert bs.changed_paths(before, bs.snapshot(tmp_path)) == [
        "benchmarks/report.tsv", "results/a.csv", "results/b.csv"
    ]
    assert bs.changed_paths(before, before) == []


def test_jobs_of_names_a_job_per_benchmark_file():
    paths = [
        "benchmarks/validate.tsv",
        "benchmarks/figure/km_os.tsv",  # wildcard job, keyed as in per_rule
        "results/derived/adsl.csv",  # an output, not a job
        "benchmarks/notes.txt",  # not a benchmark record
    ]
    assert bs.jobs_of(paths) == ["figure[km_os]", "validate"]
    assert bs.jobs_of([]) == []


COLD = ["derive_baseline", "report", "stats", "validate"]


@pytest.mark.parametrize(
    "ran, changed, cold, problems",
    [
        # exactly the jobs below validate, validated tables untouched
        (["derive_baseline", "report", "stats"], ["results/derived/adsl.csv"], COLD, []),
        # validate ran again: the run was not from validated inputs
        (COLD, ["results/derived/adsl.csv"], COLD, ["jobs that should not have run: validate"]),
        # a downstream job did not run (its outputs were still there)
        (["derive_baseline", "report"], [], COLD, ["jobs that did not run: stats"]),
        # a validated table was rewritten although validate has no benchmark record
        (["derive_baseline", "report", "stats"], ["results/validated/labs.parquet"], COLD,
         ["validated inputs rewritten: results/validated/labs.parquet"]),
        # nothing to compare with: the cold run did not run validate
        (["report"], [], ["report"], ["the cold run from raw inputs wrote no benchmarks/validate.tsv"]),
    ],
)
def test_downstream_problems(ran, changed, cold, problems):
    assert bs.downstream_problems(ran, changed, cold) == problems


def _step(wall_min, wall_median, cpu_median, **extra):
    return {"runs": [], "wall_s_min": wall_min, "wall_s_median": wall_median,
            "cpu_s_min": cpu_median, "cpu_s_median": cpu_median, **extra}


def test_demo_lines_targets_on_the_median_and_the_floor():
    d = {
        "repeat": 3, "cores": 4, "load_before": 1.26, "load_after": 1.54,
        "cold": _step(17.0, 18.0, 22.0, jobs=["a", "report", "validate"]),
        "cold_validated": _step(11.0, 12.0, 15.0, jobs=["a", "report"]),
        "noop": _step(2.4, 2.6, 2.7),
        "template": _step(3.8, 4.1, 3.2, jobs=["report"], report_unchanged=True),
        "snakemake_version": _step(1.4, 1.5, 1.5, version="9.27.1"),
        "floor_noop": _step(2.0, 2.1, 2.2),
    }
    lines = bs.demo_lines(d)
    assert lines[0] == ("### Demo cohort (50 patients, `snakemake --cores 4`, each run 3 times; "
                        "load average 1.3 before, 1.5 after)")
    assert lines[4] == "| cold, from raw inputs to report | 17.00 | 18.00 | 22.00 | - |  |"  # no target
    assert lines[5] == "| cold, from validated inputs to report | 11.00 | 12.00 | 15.00 | 12 | met |"  # 12 <= 12
    assert lines[6] == "| no-op rerun | 2.40 | 2.60 | 2.70 | 1.5 | MISSED |"  # 2.6 > 1.5 (min 2.4 too)
    assert lines[7] == "| template-only edit | 3.80 | 4.10 | 3.20 | 4 | MISSED |"  # median 4.1 > 4, min 3.8 not used
    assert lines[8] == "| Snakemake floor: `snakemake --version` | 1.40 | 1.50 | 1.50 | - |  |"
    assert lines[9] == "| Snakemake floor: no-op of a one-rule workflow | 2.00 | 2.10 | 2.20 | - |  |"
    note = lines[11]
    assert "From validated inputs ran 2 jobs, every job of the cold run but validate" in note
    assert "Jobs rerun after the template edit: report;" in note
    assert "Snakemake 9.27.1; workflow no-op minus one-rule no-op (medians): 0.50 s." in note  # 2.6 - 2.1


def test_fresh_copy_empties_the_destination_and_copy_project_keeps_it(tmp_path):
    """The benchmark starts every run from a clean copy; the tests' copy_project (the same
    function, via tests/helpers.py) only adds the project's files."""
    import helpers

    assert helpers.copy_project is bs.copy_project and helpers.PROJECT_FILES == bs.PROJECT_FILES
    dest = tmp_path / "project"
    (dest / "results").mkdir(parents=True)
    (dest / "results" / "old.csv").write_text("stale\n")
    bs.copy_project(dest)
    assert (dest / "results" / "old.csv").exists() and (dest / "Snakefile").is_file()
    bs.fresh_copy(dest)
    assert not (dest / "results").exists()
    assert (dest / "Snakefile").read_bytes() == (REPO / "Snakefile").read_bytes()
    assert not list(dest.rglob("__pycache__"))
    # a copy of a copy (the benchmark's one snapshot of the tree): the same project files
    (dest / "config.yaml").write_text("edited: true\n")
    again = bs.fresh_copy(tmp_path / "again", dest)
    assert (again / "config.yaml").read_text() == "edited: true\n"
    assert sorted(p.name for p in again.iterdir()) == sorted(
        name for name in bs.PROJECT_FILES if (REPO / name).exists()
    )
