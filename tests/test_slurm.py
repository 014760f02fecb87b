"""The whole workflow through the Slurm executor on a real single-node cluster
(tests/slurm/start-cluster.sh) gives the same bytes as a local run.

Needs root plus Debian's slurm-wlm and munge; skipped locally without them, a failure in
CI. The cluster is stopped (every daemon the start script started) after the session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import REPO, require, snakemake
from workflow_model import copy_sources, diff_files, parse_rules, reference_run, results_bytes, rule_graph

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

SCRIPTS = REPO / "tests" / "slurm"
STATE = Path(os.environ.get("ALSALVAGE_SLURM_DIR", "/tmp/alsalvage-slurm"))
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
GROUPED = PROFILE.get("groups", {})  # rule -> group: the rules sent as one Slurm job


@pytest.fixture(scope="session")
def slurm_cluster():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    require(not missing, f"Slurm not installed (missing {', '.join(missing)}): apt-get install slurm-wlm munge")
    require(os.geteuid() == 0, "starting a Slurm cluster needs root")
    try:
        start = subprocess.run(
            [str(SCRIPTS / "start-cluster.sh"), str(STATE)], capture_output=True, text=True, timeout=300
        )
        assert start.returncode == 0, f"start-cluster.sh failed:\n{start.stdout}\n{start.stderr}"
        yield STATE
    finally:
        stop = subprocess.run(
            [str(SCRIPTS / "stop-cluster.sh"), str(STATE)], capture_output=True, text=True, timeout=120
        )
        assert stop.returncode == 0, f"stop-cluster.sh failed:\n{stop.stdout}\n{stop.stderr}"


def test_workflow_on_slurm_equals_local_run(slurm_cluster, tmp_path_factory, tmp_path):
    local = reference_run(tmp_path_factory)
    work = copy_sources(local, tmp_path / "slurm")
    snakemake(
        work,
        "--workflow-profile",
        "profiles/slurm",
        # an idle test cluster answers at once: poll early (MinJobAge=600 >= 3 x 2 s)
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--max-threads",
        str(os.cpu_count()),  # the one node has this many CPUs
        check=True,
        timeout=2400,
    )
    problems = diff_files(results_bytes(work), results_bytes(local))
    assert not problems, "the Slurm run differs from the local run:\n" + "\n".join(problems)

    # The jobs really went through Slurm: grouped small rules as one job each group,
    # the others as their own jobs, local rules not at all.
    submitted = {p.name for p in (work / ".snakemake" / "slurm_logs").iterdir()}
    rules = parse_rules(work)
    in_dag = set(rule_graph(work)) & {n for n, r in rules.items() if "output" in r.directives}
    local_rules = {n for n in in_dag if "localrule" in rules[n].directives}
    grouped = {n for n in in_dag if n in GROUPED}
    for name in in_dag - local_rules - grouped:
        assert f"rule_{name}" in submitted, f"rule {name} was not submitted to Slurm: {sorted(submitted)}"
    for name in local_rules | grouped:
        assert f"rule_{name}" not in submitted, f"rule {name} was submitted on its own: {sorted(submitted)}"
    for group in {GROUPED[n] for n in grouped}:  # Slurm log directory group_<group>_<rules>
        assert any(s.startswith(f"group_{group}_") for s in submitted), f"no {group} group job: {sorted(submitted)}"


def test_slurm_profile_settings():
    """The profile's status polling works without slurmdbd and groups the small rules."""
    profile = PROFILE
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    # the plugin honours squeue only if MinJobAge (600 on the test cluster; Slurm's default
    # is 300) >= 3 x the initial wait
    assert 3 * profile["slurm-init-seconds-before-status-checks"] <= 300
    assert {"slurm_partition", "mem_mb", "runtime"} <= set(profile["default-resources"])
    assert {"validate", "derive_baseline", "derive_responses"} <= set(profile["groups"])
    # a workflow profile replaces profiles/default: it must keep the default's behaviour
    for key, value in default.items():
        if key != "default-resources":
            assert profile.get(key) == value, f"profiles/slurm: {key} differs from profiles/default"
