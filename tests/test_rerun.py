"""Rerun only what changed: on a finished run (a temporary copy), each kind of change
makes Snakemake plan exactly the rules whose inputs, parameters or code changed, plus the
rules downstream of them; the plan is read from `snakemake -n --detailed-summary` and,
where cheap, confirmed by running and comparing output mtimes.

The expected set of a change is the rule(s) it touches, closed over the rule graph of
`rule all` (a rerun job's outputs are new, so its consumers rerun too)."""

from __future__ import annotations

import os
import time

import pytest
import yaml

from helpers import snakemake
from workflow_model import (
    clone_run,
    edit_csv_cell,
    is_number,
    mtimes,
    parse_rules,
    reference_imports,
    reference_run,
    rule_graph,
    summary,
    with_dependants,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

RESPONSE_RULE = "derive_responses"  # uses cardiac.response_fall_pct
REPORT_RULE = "report"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return reference_run(tmp_path_factory)


@pytest.fixture(scope="module")
def graph(finished):
    return rule_graph(finished)


@pytest.fixture(scope="module")
def before(finished):
    """The reference run's summary: every output of `all` with its rule."""
    s = summary(finished)
    assert s.planned_rules == set(), f"reference run is not complete: {s.planned_rules}"
    return s


@pytest.fixture
def run(finished, tmp_path):
    return clone_run(finished, tmp_path / "project")


def planned(run) -> set[str]:
    return summary(run).planned_rules


def expected(graph, before, changed: set[str]) -> set[str]:
    """changed rules and everything downstream, restricted to rules that write outputs."""
    return with_dependants(graph, changed) & before.rules


def run_and_changed_outputs(run, before) -> set[str]:
    """Run the workflow; return the outputs of `all`'s DAG whose mtime changed."""
    outputs = before.outputs()
    old = mtimes(run, outputs)
    time.sleep(0.01)  # distinct mtimes even on coarse clocks
    snakemake(run, check=True)
    new = mtimes(run, outputs)
    return {p for p in outputs if new[p] != old[p]}


def test_nothing_changed_nothing_reruns(run, before):
    assert planned(run) == set()
    assert run_and_changed_outputs(run, before) == set()


def test_touching_raw_files_without_changing_them_reruns_nothing(run, before):
    raw = yaml.safe_load((run / "config.yaml").read_text())["inputs"]
    future = time.time() + 3600
    for path in raw.values():
        os.utime(run / path, (future, future))  # newer than every output
    assert planned(run) == set(), (
        "a touched but unchanged raw file reruns rules: is it larger than "
        "--max-checksum-file-size (profiles/default/config.yaml)?"
    )
    assert run_and_changed_outputs(run, before) == set()


def set_config_value(config_text: str, section: str, key: str, value) -> str:
    """Replace `key:` inside the top-level `section:` block, keeping the rest verbatim."""
    out, current, hits = [], None, 0
    for line in config_text.splitlines(keepends=True):
        if line[:1].isalpha():
            current = line.split(":")[0]
        elif current == section and line.strip().startswith(f"{key}:"):
            indent = line[: len(line) - len(line.lstrip())]
            line, hits = f"{indent}{key}: {value}\n", hits + 1
        out.append(line)
    assert hits == 1, f"config key {section}.{key} found {hits} times"
    return "".join(out)


def test_set_config_value_edits_only_that_key():
    text = "cardiac:\n  response_fall_pct: 30  # note\nrenal:\n  response_fall_pct: 30\n"
    assert set_config_value(text, "cardiac", "response_fall_pct", 25) == (
        "cardiac:\n  response_fall_pct: 25\nrenal:\n  response_fall_pct: 30\n"
    )


def test_cardiac_threshold_reruns_responses_and_dependants_only(run, graph, before):
    assert RESPONSE_RULE in graph, f"rule {RESPONSE_RULE} is not in the DAG of all"
    cfg = run / "config.yaml"
    old = yaml.safe_load(cfg.read_text())["cardiac"]["response_fall_pct"]
    cfg.write_text(set_config_value(cfg.read_text(), "cardiac", "response_fall_pct", old - 5))
    want = expected(graph, before, {RESPONSE_RULE})
    got = planned(run)
    assert {"validate", "derive_baseline"}.isdisjoint(got), f"upstream rules rerun: {sorted(got)}"
    assert got == want, f"planned {sorted(got)}, expected {sorted(want)}"
    # per job: the figures are one job each, and the NT-proBNP figure reads ADSL and the
    # labs only, so it is not redrawn; every other output of those rules is
    planned_outputs = summary(run).planned_outputs
    assert planned_outputs == before.outputs(want) - {
        f"results/figures/ntprobnp.{ext}" for ext in ("svg", "png", "tiff", "pdf", "json")
    }
    # and really: exactly the planned outputs are rewritten
    assert run_and_changed_outputs(run, before) == planned_outputs


def test_one_changed_lab_value_reruns_validation_and_downstream(run, graph, before):
    raw = yaml.safe_load((run / "config.yaml").read_text())["inputs"]
    edit_csv_cell(
        run / raw["labs"],
        lambda row: row["analyte"] == "ntprobnp" and is_number(row["value"]),
        "value",
        lambda v: str(float(v) + 1),
    )
    want = expected(graph, before, {"validate"})
    got = planned(run)
    assert "validate" in got
    assert got == want, f"planned {sorted(got)}, expected {sorted(want)}"


@pytest.fixture(scope="module")
def loaded(finished, graph):
    """rule -> package modules its script loaded in the reference run (recorded by
    tests/import_trace), for every rule with a script in the DAG of all."""
    traced = reference_imports(finished)
    rules = parse_rules(finished)
    out = {n: traced.get(rules[n].script.name, set()) for n in graph if n in rules and rules[n].script}
    assert out and all(out.values()), f"no imports recorded for {[n for n, m in out.items() if not m]}"
    return out


def test_rules_declare_exactly_the_package_modules_they_load(finished, loaded):
    rules = parse_rules(finished)
    wrong = {
        n: f"declares {sorted(rules[n].pkg_modules)}, loads {sorted(mods)}"
        for n, mods in loaded.items()
        if rules[n].pkg_modules != mods
    }
    assert not wrong, f"pkg(...) inputs differ from the modules loaded at run time: {wrong}"


# A statistics module and a derivation module, each used by some rules only.
EDITED_MODULES = ("survival", "egfr")


@pytest.mark.parametrize("module", EDITED_MODULES)
def test_editing_a_package_module_reruns_only_the_rules_importing_it(run, graph, before, loaded, module):
    importers = {n for n, mods in loaded.items() if module in mods}
    assert importers, f"no rule loads alsalvage.{module}"
    assert importers < set(loaded), f"every rule loads alsalvage.{module}: pick a narrower module"
    path = run / "workflow" / "scripts" / "alsalvage" / f"{module}.py"
    with path.open("a") as fh:
        fh.write("\n# edited by test_rerun\n")
    want = expected(graph, before, importers)
    got = planned(run)
    assert got == want, f"editing {module}.py planned {sorted(got)}; the rules loading it are {sorted(importers)}"


def test_editing_the_report_template_reruns_only_the_report(run, graph, before):
    assert REPORT_RULE in graph, f"rule {REPORT_RULE} is not in the DAG of all (yet)"
    produced = before.outputs()
    rows = [r for r in before.rows if r["rule"] == REPORT_RULE]
    inputs = {f for r in rows for f in r["input-file(s)"].split(",") if f and f != "-"}
    templates = sorted(
        f for f in inputs if f not in produced and ("/templates/" in f or f.endswith((".j2", ".jinja", ".jinja2")))
    )
    assert templates, f"rule {REPORT_RULE} declares no template among its inputs: {sorted(inputs)}"
    for t in templates:
        jinja = t.endswith((".j2", ".jinja", ".jinja2"))
        with (run / t).open("a") as fh:
            fh.write("\n{# edited by test_rerun #}\n" if jinja else "\n<!-- edited by test_rerun -->\n")
    got = planned(run)
    assert got == {REPORT_RULE}, f"editing {templates} planned {sorted(got)}"
    assert run_and_changed_outputs(run, before) == before.outputs({REPORT_RULE})


# ---------------------------------------------------------------- one job per figure
# Each figure is a job of rule `figure` with its own inputs, modules and settings
# (workflow/rules/figures.smk): a change reruns the figures that use it, and the report.
FIGURE_EXTS = ("svg", "png", "tiff", "pdf", "json")
ALL_FIGURES = {
    "km_os", "km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox",
    "waterfall_dflc", "swimmer", "ntprobnp", "flow",
}  # fmt: skip
READ_RESULTS = {"km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox"}


def figure_outputs(names) -> set[str]:
    return {f"results/figures/{n}.{ext}" for n in names for ext in FIGURE_EXTS}


@pytest.mark.parametrize(
    "key, value, figures",
    [
        ("km_risk_table", '["At risk", "Events"]', {"km_os", "km_os_by_group"}),
        ("max_patients", 150, ALL_FIGURES - {"cif_dialysis", "forest_cox", "flow"}),
        ("dpi", 150, ALL_FIGURES),
    ],
)
def test_a_figure_setting_reruns_only_the_figures_using_it(run, before, key, value, figures):
    cfg = run / "config.yaml"
    cfg.write_text(set_config_value(cfg.read_text(), "figures", key, value))
    s = summary(run)
    assert s.planned_rules == {"figure", REPORT_RULE}, sorted(s.planned_rules)
    got = {o for o in s.planned_outputs if o.startswith("results/figures/")}
    assert got == figure_outputs(figures), f"figures.{key} plans {sorted(got)}"
    if key == "km_risk_table":  # and really: only those figures and the report are rewritten
        want = figure_outputs(figures) | before.outputs({REPORT_RULE})
        assert run_and_changed_outputs(run, before) == want


def test_editing_the_survival_module_reruns_the_cif_figure_and_those_reading_the_statistics(run):
    """alsalvage.survival is loaded by stats and, among the figures, by the CIF figure
    alone; the other figures rerun only when they read the statistics stats rewrites."""
    path = run / "workflow" / "scripts" / "alsalvage" / "survival.py"
    with path.open("a") as fh:
        fh.write("\n# edited by test_rerun\n")
    got = {o for o in summary(run).planned_outputs if o.startswith("results/figures/")}
    assert got == figure_outputs(READ_RESULTS | {"cif_dialysis"}), sorted(got)
