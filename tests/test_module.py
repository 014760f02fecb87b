"""The workflow used from elsewhere: as a module of another workflow, with --directory,
deployed (snakedeploy's layout: workflow/Snakefile, config/), the catalog's .test/ config;
the retries that raise a job's memory; the licence and citation metadata."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from helpers import BIN, REPO, copy_project, snakemake, snakemake_env
from workflow_model import diff_files, parse_rules, reference_run, results_bytes

TABLES = ["patients", "therapy_lines", "salvage_cycles", "outcomes", "labs", "adverse_events"]
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def run(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Snakemake in cwd, without helpers.snakemake's --nolock (each run has its own dir)."""
    return subprocess.run(
        [str(BIN / "snakemake"), "--cores", "2", *args],
        cwd=cwd,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def written(directory: Path) -> set[str]:
    """What a run may leave in a directory that is not its working directory."""
    return {p.name for p in directory.iterdir()} & {"results", "logs", "benchmarks", ".snakemake"}


def caller_snakefile(snakefile: Path, rename: bool = False) -> str:
    use = "use rule * from alsalvage as alsalvage_*" if rename else "use rule * from alsalvage"
    return textwrap.dedent(
        f"""\
        configfile: "config.yaml"


        module alsalvage:
            snakefile:
                "{snakefile}"
            config:
                config


        {use}
        """
    )


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    """A clean copy of the workflow with the deployment files (config/, .test/)."""
    dest = copy_project(tmp_path_factory.mktemp("module") / "alsalvage")
    for name in ("config", ".test"):
        shutil.copytree(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    """results/ of the top-level run (snakemake in the workflow's own directory)."""
    return results_bytes(reference_run(tmp_path_factory))


@pytest.mark.workflow
@pytest.mark.slow
def test_used_as_a_module_runs_the_demo_to_the_report(workflow_copy, reference, tmp_path):
    caller = tmp_path / "study"
    caller.mkdir()
    (caller / "Snakefile").write_text(caller_snakefile(workflow_copy / "Snakefile"))
    demo = {t: str(workflow_copy / "resources" / "demo" / f"{t}.csv") for t in TABLES}
    (caller / "config.yaml").write_text(yaml.safe_dump({"inputs": demo}))
    ok(run(caller))

    assert (caller / "results" / "report.html").is_file()
    assert not written(workflow_copy), "a module run wrote into the workflow's directory"
    got = results_bytes(caller)
    # the caller's config names the inputs by absolute path; the report prints them as given
    report = got.pop("results/report.html").decode("utf-8")
    for path in demo.values():
        assert path in report, f"the report does not name the configured input {path}"
    # so does validate's record of the inputs: the same files, hashes and rows
    record = json.loads(got.pop("results/validated/inputs.json"))
    want_record = json.loads(reference["results/validated/inputs.json"])
    assert {t: r["path"] for t, r in record.items()} == demo
    for r in (*record.values(), *want_record.values()):
        del r["path"]
    assert record == want_record
    want = {k: v for k, v in reference.items() if k not in ("results/report.html", "results/validated/inputs.json")}
    problems = diff_files(got, want)
    assert not problems, "the module run differs from the top-level run:\n" + "\n".join(problems)


@pytest.mark.workflow
@pytest.mark.slow
def test_directory_run_from_elsewhere_with_the_test_config(workflow_copy, reference, tmp_path):
    """`snakemake -s <workflow>/Snakefile --directory <dir>` from a third directory: the
    catalog's .test/ config (the demo, read from the workflow's resources/demo/ as .test/
    has none) gives the results of the top-level run, byte for byte."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    workdir = workflow_copy / ".test"
    proc = ok(run(elsewhere, "-s", str(workflow_copy / "Snakefile"), "--directory", str(workdir)))
    assert "config/config.yaml" in proc.stdout + proc.stderr, "the .test/ config was not read"
    assert not written(elsewhere) and not written(workflow_copy)
    problems = diff_files(results_bytes(workdir), reference)
    assert not problems, "--directory .test differs from the top-level run:\n" + "\n".join(problems)


# The jobs of a run from scratch: one per rule, nine of rule figure (one per figure).
WHOLE_PLAN = {
    "validate": 1, "derive_baseline": 1, "derive_adverse_events": 1, "derive_responses": 1,
    "derive_endpoints": 1, "stats": 1, "tables_office": 1, "figure": 9, "report": 1, "all": 1,
}  # fmt: skip


def assert_whole_plan(stdout: str, prefix: str = "") -> None:
    """The dry run's job table plans every job of a run from scratch."""
    for rule, n in WHOLE_PLAN.items():
        assert re.search(rf"^{prefix}{rule}\s+{n}$", stdout, re.M), f"{prefix}{rule} x {n} not planned:\n{stdout}"
    assert re.search(rf"^total\s+{sum(WHOLE_PLAN.values())}$", stdout, re.M), stdout


@pytest.mark.workflow
@pytest.mark.parametrize(
    "entry, rename, config, target",
    [
        ("Snakefile", False, {"inputs": {}}, None),  # the schema's defaults: the demo
        ("workflow/Snakefile", False, {"stats": {"alpha": 0.05}}, None),  # snakedeploy's entry
        ("Snakefile", True, {}, "alsalvage_all"),  # renamed rules: name the target
    ],
)
def test_module_entry_points_plan_the_whole_workflow(workflow_copy, tmp_path, entry, rename, config, target):
    caller = tmp_path / "study"
    caller.mkdir()
    (caller / "Snakefile").write_text(caller_snakefile(workflow_copy / entry, rename))
    (caller / "config.yaml").write_text(yaml.safe_dump(config))
    proc = ok(run(caller, "-n", *([target] if target else [])))
    assert_whole_plan(proc.stdout, "alsalvage_" if rename else "")
    # the demo inputs come from the workflow's own copy, found from its location
    assert str(workflow_copy / "resources" / "demo" / "labs.csv") in proc.stdout


@pytest.mark.workflow
def test_deployed_like_snakedeploy_plans_the_demo(workflow_copy, tmp_path):
    """snakedeploy's layout: <dir>/config/ copied from the repository and a
    <dir>/workflow/Snakefile declaring the repository's workflow/Snakefile as a module
    (a local path here instead of github(...)); snakemake runs in <dir>."""
    deployed = tmp_path / "deployed"
    shutil.copytree(workflow_copy / "config", deployed / "config")
    (deployed / "workflow").mkdir()
    (deployed / "workflow" / "Snakefile").write_text(
        caller_snakefile(workflow_copy / "workflow" / "Snakefile").replace(
            'configfile: "config.yaml"', 'configfile: "config/config.yaml"'
        )
    )
    proc = ok(run(deployed, "-n"))
    assert_whole_plan(proc.stdout)
    assert str(workflow_copy / "resources" / "demo" / "patients.csv") in proc.stdout


@pytest.mark.workflow
def test_directory_without_config_runs_the_workflows_own(workflow_copy, tmp_path):
    """An empty working directory: the workflow's config.yaml, the demo inputs and the
    package modules are found from the workflow's location (a dry run)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = ok(run(tmp_path, "-n", "-s", str(workflow_copy / "Snakefile"), "--directory", str(empty)))
    assert_whole_plan(proc.stdout)
    assert str(workflow_copy / "workflow" / "scripts" / "alsalvage" / "survival.py") in proc.stdout


@pytest.mark.parametrize("path", ["config/config.yaml", ".test/config/config.yaml"])
def test_deployment_configs_are_the_demo(path):
    """The deployment template and the .test config set a few keys, each to the value of
    config.yaml (so both run the demo), and only keys the schema knows."""
    given = yaml.safe_load((REPO / path).read_text())

    def check(part: dict, full: dict, schema: dict, where: str) -> None:
        for key, value in part.items():
            assert key in schema.get("properties", {}), f"{path}: unknown key {where}{key}"
            if isinstance(value, dict):
                check(value, full[key], schema["properties"][key], f"{where}{key}.")
            else:
                assert value == full[key], f"{path}: {where}{key} = {value!r}, config.yaml: {full[key]!r}"

    check(given, CONFIG, SCHEMA, "")
    assert set(given["inputs"]) == set(TABLES)


# Rules that can run out of memory at registry scale: (rule, retries declared by the rule).
MEMORY_RULES = [
    ("validate", None),  # retried by the Slurm profile only: a rejection is final
    ("derive_baseline", 2),
    ("derive_adverse_events", 2),
    ("derive_responses", 2),
    ("derive_endpoints", 2),
    ("stats", 2),
    ("figure", 2),
]


@pytest.mark.parametrize("rule, retries", MEMORY_RULES, ids=[r for r, _ in MEMORY_RULES])
def test_memory_grows_with_the_attempt(rule, retries):
    rules = parse_rules()
    assert rule in rules, f"rule {rule} does not exist"
    d = rules[rule].directives
    assert re.search(r"mem_mb=lambda wc, attempt: \d+ \* attempt", d["resources"]), d["resources"]
    declared = d.get("retries", "").strip()
    assert (int(declared) if declared else None) == retries
    assert yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())["retries"] >= 2


@pytest.mark.workflow
@pytest.mark.slow
def test_a_job_killed_for_memory_is_retried_with_more(tmp_path_factory, tmp_path):
    """derive_endpoints fails while it has less than twice its base memory (as if killed
    for memory): Snakemake retries it with base x 2 and the run completes."""
    work = tmp_path / "work"
    shutil.copytree(reference_run(tmp_path_factory), work, symlinks=True)
    script = work / "workflow" / "scripts" / "derive_endpoints.py"
    script.write_text(
        "import sys\n"
        "with open('attempts.txt', 'a') as _fh:\n"
        "    _fh.write(f'{snakemake.resources.mem_mb}\\n')\n"  # noqa: F821 (injected)
        "if snakemake.resources.mem_mb < 8000:\n"
        "    sys.exit(137)\n" + script.read_text()
    )
    ok(run(work, "--forcerun", "derive_endpoints", "results/derived/adtte.csv"))
    assert (work / "attempts.txt").read_text().split() == ["4000", "8000"]


def test_workflow_snakefile_equals_the_top_level_one():
    """workflow/Snakefile (the entry for GitHub modules, snakedeploy, the catalog) is the
    top-level Snakefile with paths relative to workflow/: same code, includes and target."""

    def code(path: Path, rel: dict[str, str]) -> list[str]:
        lines = [l for l in path.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]
        out = []
        for line in lines:
            for a, b in rel.items():
                line = line.replace(a, b)
            out.append(line)
        return out

    top = code(REPO / "Snakefile", {'include: "workflow/': 'include: "', 'report: "workflow/': 'report: "', 'source_path("config.yaml")': "CFG"})
    sub = code(REPO / "workflow" / "Snakefile", {'source_path("../config.yaml")': "CFG"})
    assert top == sub


def test_licence_and_citation():
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2026 The alsalvage workflow authors" in licence
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["license"] == "MIT"
    assert all(isinstance(a, dict) and ("name" in a or "family-names" in a) for a in cff["authors"])
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert cff["version"] == version
    for key in ("repository-code", "url", "doi"):  # nothing made up
        assert key not in cff


def test_catalog_metadata():
    meta = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    stack = meta["usage"]["software-stack-deployment"]
    assert stack["conda"] is True
    assert set(stack) <= {"conda", "apptainer", "apptainer+conda", "report"}
    # the catalog's standardized usage: workflow/Snakefile and config/README.md
    assert (REPO / "workflow" / "Snakefile").is_file() and (REPO / "config" / "README.md").is_file()
