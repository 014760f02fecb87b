"""Faults: a job killed mid-run, two runs from scratch, a failing rule's log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
import yaml

from helpers import BIN, snakemake, snakemake_env
from workflow_model import (
    clone_run,
    copy_sources,
    diff_files,
    edit_csv_cell,
    is_number,
    mtimes,
    parse_rules,
    reference_run,
    results_bytes,
    rule_graph,
    summary,
    with_dependants,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

# The job to kill: a rule in the middle of the DAG (upstream and downstream work).
VICTIMS = ("derive_responses", "derive_baseline", "validate")
HOLD_FLAG = "HOLD_JOB_FOR_TEST"  # while this file exists, the victim's script waits


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return reference_run(tmp_path_factory)


@pytest.fixture(scope="module")
def reference_results(finished):
    files = results_bytes(finished)
    assert files, "the reference run wrote nothing under results/"
    return files


def test_two_runs_from_scratch_are_byte_identical(finished, reference_results, tmp_path):
    second = copy_sources(finished, tmp_path / "second")
    snakemake(second, check=True)
    problems = diff_files(results_bytes(second), reference_results)
    assert not problems, "second run from scratch differs:\n" + "\n".join(problems)


def test_job_killed_mid_run_is_not_trusted_and_rerun_matches(finished, reference_results, tmp_path):
    graph = rule_graph(finished)
    victim = next((r for r in VICTIMS if r in graph), None)
    assert victim, f"none of {VICTIMS} is in the DAG of all"
    ref = summary(finished)
    outputs = sorted(ref.outputs({victim}))
    work = copy_sources(finished, tmp_path / "killed")

    # Hold the victim's job after it has written its outputs, before Snakemake can
    # mark them complete: the script waits while HOLD_FLAG exists. The script text stays
    # the same for the rerun, so only the interruption can make the victim rerun.
    script = work / parse_rules(work)[victim].script
    script.write_text(
        script.read_text() + f"\nimport os as _os, time as _time\n"
        f"while _os.path.exists({HOLD_FLAG!r}):\n    _time.sleep(0.2)\n"
    )
    (work / HOLD_FLAG).touch()
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), "--cores", "2", "--nolock"],
        cwd=work,
        env=snakemake_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the job dies with it
    )
    try:
        deadline = time.monotonic() + 900
        while not all((work / o).exists() for o in outputs):
            assert proc.poll() is None, f"snakemake ended ({proc.returncode}) before {victim} ran"
            assert time.monotonic() < deadline, f"{victim} never wrote {outputs}"
            time.sleep(0.2)
        time.sleep(0.5)  # outputs written; the job now waits on HOLD_FLAG
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (work / HOLD_FLAG).unlink()

    # A torn write: the first output half written, as if the kill hit during the write.
    first = work / outputs[0]
    first.write_bytes(reference_results.get(outputs[0], first.read_bytes())[: max(1, first.stat().st_size // 2)])

    # The rerun must redo the victim (its outputs are marked incomplete), not trust them,
    # and must not redo the jobs it depended on, which had completed before the kill.
    upstream = {r for r in graph if r != victim and victim in with_dependants(graph, {r})}
    kept = sorted(ref.outputs(upstream))
    assert kept, f"{victim} has no upstream jobs: choose a victim further down the DAG"
    kept_mtimes, victim_mtimes = mtimes(work, kept), mtimes(work, outputs)
    time.sleep(0.01)
    snakemake(work, check=True)
    problems = diff_files(results_bytes(work), reference_results)
    assert not problems, "rerun after SIGKILL differs from an uninterrupted run:\n" + "\n".join(problems)
    redone = mtimes(work, outputs)
    assert all(redone[o] != victim_mtimes[o] for o in outputs), "outputs of the killed job were trusted"
    assert mtimes(work, kept) == kept_mtimes, "the rerun redid jobs that had completed before the kill"


def test_failing_rule_log_says_what_failed_and_why(finished, tmp_path):
    work = copy_sources(finished, tmp_path / "bad")
    labs = yaml.safe_load((work / "config.yaml").read_text())["inputs"]["labs"]
    # two bad cells: every problem is reported at once
    bad_lines = [
        edit_csv_cell(
            work / labs,
            lambda row: row["analyte"] == "ntprobnp" and is_number(row["value"]),
            "value",
            lambda v: bad,
        )
        for bad in ("not-a-number", "n/a?")
    ]
    proc = snakemake(work, "--show-failed-logs")
    assert proc.returncode != 0, "validation accepted non-numeric lab values"

    log_path = parse_rules(work)["validate"].default_path("log", "log")
    log = work / log_path
    assert log.is_file(), f"rule validate failed without writing its log {log_path}"
    text = log.read_text()
    assert os.path.basename(labs) in text, text
    for lineno in bad_lines:
        hits = [l for l in text.splitlines() if re.search(rf"\b{lineno}\b", l) and "value" in l]
        assert hits, f"the log does not name line {lineno}, column value of {labs}:\n{text}"
        # --show-failed-logs puts the same explanation in front of the user
        assert hits[0].strip() in proc.stdout + proc.stderr
    # a rejection is reported, not a crash: the findings without a Python traceback
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert "validation failed in rule validate" in proc.stderr
    assert not (work / "results" / "validated").exists() or not any((work / "results" / "validated").glob("*.parquet"))
    assert not (work / "results" / "derived").exists(), "downstream outputs written after a failed validation"


def test_crashing_rule_log_names_the_unreadable_input(finished, tmp_path):
    """Not only validation: a rule that crashes on an unreadable intermediate file says
    in its own log which file it could not use (not only on Snakemake's stderr)."""
    rule, bad_input = "derive_responses", "results/derived/adsl.parquet"
    rules = parse_rules(finished)
    assert rule in rules, f"rule {rule} does not exist"
    work = clone_run(finished, tmp_path / "crash")
    (work / bad_input).write_bytes(b"this is not a parquet file\n")
    targets = sorted(summary(finished).outputs({rule}))
    proc = snakemake(work, "--show-failed-logs", *targets)
    assert proc.returncode != 0, f"rule {rule} accepted a corrupt {bad_input}"
    log = work / rules[rule].default_path("log")
    text = log.read_text() if log.is_file() else ""
    assert bad_input in text or os.path.basename(bad_input) in text, (
        f"{log.relative_to(work)} does not say that {bad_input} could not be read:\n{text!r}"
    )
    last = text.strip().splitlines()[-1].strip()
    assert last in proc.stdout + proc.stderr, "--show-failed-logs did not show the rule's log"


def test_a_failing_figure_leaves_the_other_figures_written_with_keep_going(finished, tmp_path):
    """One job per figure (rule figure): a figure whose drawing fails is the only one
    missing; with --keep-going the other eight are drawn and kept, the report (which
    needs every figure) is not rebuilt, and the failed figure's log says why."""
    work = clone_run(finished, tmp_path / "onefig")
    module = work / "workflow" / "scripts" / "alsalvage" / "figures.py"
    head = "def draw_swimmer(data: dict, params: FigureParams):\n"
    text = module.read_text()
    assert head in text
    module.write_text(text.replace(head, head + '    raise RuntimeError("swimmer broken by test_faults")\n'))
    report = "results/report.html"
    before = mtimes(work, [report])
    figures = ["km_os", "km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox",
               "waterfall_dflc", "ntprobnp", "flow"]  # fmt: skip
    outputs = [f"results/figures/{n}.{ext}" for n in figures for ext in ("svg", "png", "tiff", "pdf", "json")]
    old = mtimes(work, outputs)
    time.sleep(0.01)
    proc = snakemake(work, "--keep-going")
    assert proc.returncode != 0, "a failing figure did not fail the run"
    new = mtimes(work, outputs)
    assert all(new[o] != old[o] for o in outputs), "the other figures were not redrawn"
    assert not any((work / "results" / "figures" / f"swimmer.{ext}").exists() for ext in ("svg", "png", "json"))
    assert mtimes(work, [report]) == before, "the report was rebuilt without the swimmer plot"
    log = (work / "logs" / "figure" / "swimmer.log").read_text()
    assert "swimmer broken by test_faults" in log
