"""Static checks of the workflow: Snakemake's linter, snakefmt formatting, and the
project's rule conventions (log, benchmark, conda, resources, threads; config only
through params; package modules a script imports declared as the rule's inputs)."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest

from helpers import BIN, REPO, snakemake
from workflow_model import import_closure, package_modules, parse_rules, RuleText

RULES = parse_rules()
# Rules that run something (a target rule such as `all` only collects inputs).
JOB_RULES = [r for r in RULES.values() if "output" in r.directives]
SCRIPTS = sorted((REPO / "workflow" / "scripts").glob("*.py"))


def test_rules_were_parsed():
    assert "all" in RULES and "validate" in RULES
    assert RULES["validate"].script == REPO.joinpath("workflow/scripts/validate.py").relative_to(REPO)
    assert "contract" in RULES["validate"].pkg_modules


def test_snakemake_lint_is_clean():
    proc = snakemake(REPO, "--lint")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-6000:]


def test_snakefiles_are_snakefmt_formatted():
    files = ["Snakefile", "workflow/Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "workflow/rules").glob("*.smk"))]
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "--diff", *files], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"run `snakefmt {' '.join(files)}`:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


@pytest.mark.parametrize("rule", JOB_RULES, ids=lambda r: r.name)
def test_rule_declares_log_benchmark_conda_resources_threads(rule: RuleText):
    d = rule.directives
    missing = [k for k in ("log", "benchmark", "conda", "resources", "threads") if k not in d]
    assert not missing, f"{rule.file}: rule {rule.name} lacks {', '.join(missing)}"
    for res in ("mem_mb", "runtime"):
        assert re.search(rf"\b{res}\s*=", d["resources"]), f"{rule.file}: rule {rule.name}: resources lack {res}"
    # under the study's benchmark directory (benchmark_path(): benchmarks/ for the default
    # output root, <root>/benchmarks/ for another; common.smk)
    bench = rule.string_value("benchmark")
    assert d["benchmark"].strip().startswith("benchmark_path("), (
        f"{rule.file}: rule {rule.name}: benchmark not under benchmark_path()"
    )
    assert bench and bench.startswith(rule.name), (
        f"{rule.file}: rule {rule.name}: benchmark {bench!r} is not benchmark_path({rule.name!r}...)"
    )
    env = rule.string_value("conda")
    assert env and re.fullmatch(r"\.\./envs/[\w\-]+\.yaml", env), f"rule {rule.name}: conda {env!r}"
    assert (REPO / rule.file.parent / env).resolve().is_file(), f"rule {rule.name}: {env} does not exist"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_read_snakemake_config(script):
    tree = ast.parse(script.read_text())
    bad = []
    for node in ast.walk(tree):
        # snakemake.config / sm.config where sm = snakemake
        if isinstance(node, ast.Attribute) and node.attr == "config" and isinstance(node.value, ast.Name):
            bad.append(f"line {node.lineno}: {node.value.id}.config")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
            if len(node.args) >= 2 and getattr(node.args[1], "value", None) == "config":
                bad.append(f"line {node.lineno}: getattr(..., 'config')")
    assert not bad, f"{script.relative_to(REPO)} reads the config directly (use params:): {bad}"


SCRIPT_RULES = [r for r in JOB_RULES if "script" in r.directives]


@pytest.mark.parametrize("rule", SCRIPT_RULES, ids=lambda r: r.name)
def test_rule_declares_the_package_modules_its_script_imports(rule: RuleText):
    """Declared pkg() modules lie between what the script surely loads (module-level
    imports, followed through the package) and what it may load (imports inside functions
    too). tests/test_rerun.py checks them exactly against the modules loaded in a run."""
    script = rule.script
    assert (REPO / script).is_file(), f"rule {rule.name}: script {script} does not exist"
    surely, maybe = import_closure(script)
    declared = rule.pkg_modules
    unknown = declared - package_modules()
    assert not unknown, f"rule {rule.name}: pkg() names modules that do not exist: {sorted(unknown)}"
    assert surely <= declared, (
        f"{rule.file}: rule {rule.name} imports {sorted(surely - declared)} (via {script}) "
        "without declaring them in pkg(...): editing them would not rerun it"
    )
    assert declared <= maybe, (
        f"{rule.file}: rule {rule.name} declares pkg modules it never imports: "
        f"{sorted(declared - maybe)}: editing them would rerun it for nothing"
    )


# The parsers above are the basis of the checks: pin their behaviour on hand-written input.
@pytest.mark.parametrize(
    "source, inside, eager, lazy",
    [
        ("from alsalvage import validation", False, {"validation"}, set()),
        ("from alsalvage.egfr import ckd_epi\nimport pandas", False, {"egfr"}, set()),
        ("import alsalvage.staging as st", False, {"staging"}, set()),
        ("import alsalvage", False, {"__init__"}, set()),
        ("from . import contract\nfrom .egfr import f", True, {"contract", "egfr"}, set()),
        ("from . import contract", False, set(), set()),  # relative import outside the package
        ("def f():\n    from alsalvage import survival\n", False, set(), {"survival"}),
        ("class K:\n    from . import egfr\n    def g(self):\n        from . import staging\n", True,
         {"egfr"}, {"staging"}),
        ("from . import survival\ndef f():\n    from . import survival\n", True, {"survival"}, set()),
        ("import alsalvagex\nfrom pandas import DataFrame", False, set(), set()),
        # the subpackage alsalvage.stats: its modules are "stats/<name>", importing one loads it
        ("from alsalvage.stats.run import run_stats", False, {"stats/__init__", "stats/run"}, set()),
        ("from alsalvage.stats import records", False, {"stats/__init__", "stats/records"}, set()),
        ("from .stats.registry import BY_NAME", True, {"stats/__init__", "stats/registry"}, set()),
        ("from .records import prop\nfrom .. import formatting\nfrom ..csvout import f", "stats",
         {"stats/__init__", "stats/records", "formatting", "csvout"}, set()),
        ("def f():\n    from .responders import responded_by\n", "stats", set(), {"stats/__init__", "stats/responders"}),
    ],
)
def test_import_parser(source, inside, eager, lazy):
    from workflow_model import _imported_modules

    assert _imported_modules(source, inside_package=inside) == (eager, lazy)


def test_rule_parser_on_hand_written_rules(tmp_path):
    (tmp_path / "workflow" / "rules").mkdir(parents=True)
    (tmp_path / "Snakefile").write_text('rule all:\n    input:\n        "x",\n')
    (tmp_path / "workflow" / "rules" / "a.smk").write_text(
        "# comment\nMODS = (\"egfr\",)\n\n\nrule a:\n    input:\n        t=\"in.csv\",\n"
        '        code=pkg(*MODS, "staging"),\n    output:\n        "x",\n'
        '    log:\n        "logs/a.log",\n    script:\n        "../scripts/a.py"\n\n\n'
        "def helper():\n    threads: 3\n"
    )
    rules = parse_rules(tmp_path)
    assert set(rules) == {"all", "a"}
    a = rules["a"]
    assert a.pkg_modules == {"__init__", "egfr", "staging"}
    assert str(a.script) == "workflow/scripts/a.py"
    assert a.string_value("log") == "logs/a.log"
    assert "threads" not in a.directives  # the function after the rule is not part of it
