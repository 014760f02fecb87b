"""What the workflow-engineering tests need to know about the workflow: its rules as
written (parsed from the snakefmt-formatted rule files), the package modules each rule's
script really imports, Snakemake's view of a run (rule graph, --summary plan), and a
finished reference run shared by the tests of one session."""

from __future__ import annotations

import ast
import csv
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from helpers import PROJECT_FILES, REPO, copy_project, snakemake

PACKAGE = "alsalvage"
PACKAGE_DIR = Path("workflow") / "scripts" / PACKAGE


# --------------------------------------------------------------------------- rule text
@dataclass
class RuleText:
    name: str
    file: Path  # relative to the project
    directives: dict[str, str] = field(default_factory=dict)  # name -> indented body

    constants: dict = field(default_factory=dict, repr=False)  # the file's NAME = value lines

    @property
    def pkg_modules(self) -> set[str]:
        """Modules named in pkg(...) calls of the input directive (pkg() adds __init__),
        evaluated with the rule file's module-level constants (e.g. pkg(*SOME_LIST))."""
        mods: set[str] = set()
        for args in re.findall(r"\bpkg\(([^)]*)\)", self.directives.get("input", "")):
            namespace = {"__builtins__": {}, "_pkg": lambda *m: m, "list": list, **self.constants}
            mods |= set(eval(f"_pkg({args})", namespace))
        return mods | {"__init__"} if mods else set()

    @property
    def script(self) -> Path | None:
        m = re.search(r"[\"']([^\"']+)[\"']", self.directives.get("script", ""))
        if not m:
            return None
        return Path(os.path.normpath(self.file.parent / m.group(1)))

    def string_value(self, directive: str) -> str | None:
        m = re.search(r"[\"']([^\"']+)[\"']", self.directives.get(directive, ""))
        return m.group(1) if m else None

    def default_path(self, directive: str, name: str | None = None) -> str | None:
        """The first path of a directive (of its keyword `name`, if given) as a run with the
        default output root writes it: result_path("x") is results/x, log_path("x")
        logs/x, benchmark_path("x") benchmarks/x (common.smk); a plain string as it is."""
        text = self.directives.get(directive, "")
        if name is not None:
            m = re.search(rf"\b{name}\s*=\s*(.*)", text)
            text = m.group(1) if m else ""
        m = re.search(r"\b(result_path|log_path|benchmark_path)\(\s*f?[\"']([^\"']+)[\"']", text)
        if m:
            return f"{DEFAULT_ROOTS[m.group(1)]}/{m.group(2)}"
        m = re.search(r"[\"']([^\"']+)[\"']", text)
        return m.group(1) if m else None


# Where common.smk's path helpers put a path with the default output root (results).
DEFAULT_ROOTS = {"result_path": "results", "log_path": "logs", "benchmark_path": "benchmarks"}
RULE_HEAD = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.M)
DIRECTIVE = re.compile(r"^    (\w+):(.*)$")


def shipped_module(path: str, root: Path = REPO):
    """common.smk's shipped_module(): a light module of the workflow loaded by its path."""
    import importlib.util
    import sys

    name = "workflow_model." + path.replace("/", ".").removesuffix(".py") + f".{abs(hash(str(root)))}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, root / path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
    return sys.modules[name]


def _constants(lines: list[str], root: Path = REPO) -> dict:
    """Top-level `NAME = expression` lines of a rule file (e.g. module lists, a registry
    loaded with shipped_module())."""
    ns: dict = {"shipped_module": lambda path: shipped_module(path, root)}
    for line in lines:
        m = re.match(r"^([A-Z][A-Z0-9_]*)\s*=\s*(.+)$", line)
        if m:
            try:
                ns[m.group(1)] = eval(m.group(2), {"__builtins__": {}}, dict(ns))
            except Exception:  # multi-line or not a literal: not a module list
                pass
    return ns


def parse_rules(root: Path = REPO) -> dict[str, RuleText]:
    """Every rule of the Snakefile and workflow/rules/*.smk with its directives' text."""
    files = [root / "Snakefile", *sorted((root / "workflow" / "rules").glob("*.smk"))]
    rules: dict[str, RuleText] = {}
    for path in files:
        lines = path.read_text().splitlines()
        constants = _constants(lines, root)
        current: RuleText | None = None
        directive = None
        for line in lines:
            head = RULE_HEAD.match(line)
            if head:
                current = RuleText(head.group(1), path.relative_to(root), constants=constants)
                assert current.name not in rules, f"rule {current.name} defined twice"
                rules[current.name] = current
                directive = None
                continue
            if current is None:
                continue
            if line and not line[0].isspace() and not line.startswith("#"):
                current = None  # back at top level
                continue
            d = DIRECTIVE.match(line)
            if d:
                directive = d.group(1)
                current.directives[directive] = d.group(2).strip()
            elif directive and line.strip():
                current.directives[directive] += "\n" + line.strip()
    return rules


# ----------------------------------------------------------------------- package imports
SUBPACKAGES = ("stats",)  # alsalvage.stats: its modules are named "stats/<module>"


def _module_name(parts: list[str]) -> set[str]:
    """Modules loaded by importing alsalvage.<parts>: "egfr"; "stats/run" (and the
    subpackage itself, "stats/__init__"); names that are not modules are dropped later."""
    if not parts:
        return {"__init__"}
    if parts[0] in SUBPACKAGES:
        return {f"{parts[0]}/__init__"} | ({f"{parts[0]}/{parts[1]}"} if len(parts) > 1 else set())
    return {parts[0]}


def _import_names(node, inside_package: bool | str) -> set[str]:
    """alsalvage modules named by one import statement; inside_package: False (a script),
    True (a module of the package) or the name of the subpackage the module is in."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == PACKAGE:
                found |= _module_name(parts[1:])
    elif isinstance(node, ast.ImportFrom):
        mod = node.module or ""
        relative = node.level > 0
        if relative and inside_package is False:
            return found
        if not relative and mod.split(".")[0] != PACKAGE:
            return found
        if relative:
            base = [inside_package] if isinstance(inside_package, str) else []
            base = base[: max(0, len(base) - (node.level - 1))]
            rest = base + (mod.split(".") if mod else [])
        else:
            rest = mod.split(".")[1:]
        if rest:  # from alsalvage.x import f / from .x import f
            found |= _module_name(rest)
        if not rest or rest == [rest[0]] and rest[0] in SUBPACKAGES:
            # from alsalvage import x, y / from . import x / from .stats import run
            found |= {m for alias in node.names for m in _module_name(rest + [alias.name])}
    return found


def _imported_modules(source: str, *, inside_package: bool | str) -> tuple[set[str], set[str]]:
    """alsalvage modules a Python source imports: (at import time, inside functions)."""
    eager, lazy = set(), set()

    def visit(node, in_function: bool):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            (lazy if in_function else eager).update(_import_names(node, inside_package))
        in_function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(ast.parse(source), False)
    return eager, lazy - eager


def package_modules(root: Path = REPO) -> set[str]:
    mods = {p.stem for p in (root / PACKAGE_DIR).glob("*.py")}
    for sub in SUBPACKAGES:
        mods |= {f"{sub}/{p.stem}" for p in (root / PACKAGE_DIR / sub).glob("*.py")}
    return mods


STATS_REGISTRY = "workflow/scripts/alsalvage/stats/registry.py"


def _lazy_loads(mod: str, root: Path) -> set[str]:
    """Modules a package module loads by name rather than by an import statement: the
    statistics run imports the function of each analysis of its registry."""
    if mod == "stats/run":
        return set(shipped_module(STATS_REGISTRY, root).analysis_modules())
    return set()


def import_closure(script: Path, root: Path = REPO) -> tuple[set[str], set[str]]:
    """Package modules a rule script loads, through other package modules too:
    (certainly: module-level imports only; possibly: also imports inside functions).
    Importing any alsalvage module also runs alsalvage/__init__.py."""
    known = package_modules(root)

    def closure(lazy_too: bool) -> set[str]:
        eager, lazy = _imported_modules((root / script).read_text(), inside_package=False)
        todo, seen = eager | (lazy if lazy_too else set()), set()
        while todo:
            mod = todo.pop()
            if mod not in known or mod in seen:
                continue  # a name imported from __init__ that is not a module
            seen.add(mod)
            src = (root / PACKAGE_DIR / f"{mod}.py").read_text()
            inside = mod.split("/")[0] if "/" in mod else True
            eager, lazy = _imported_modules(src, inside_package=inside)
            todo |= eager | (lazy if lazy_too else set()) | _lazy_loads(mod, root)
        return seen | {"__init__"} if seen else set()

    return closure(False), closure(True)


def traced_imports(trace_dir: Path) -> dict[str, set[str]]:
    """Script file name -> package modules its processes loaded (tests/import_trace)."""
    found: dict[str, set[str]] = {}
    for f in trace_dir.glob("*.txt"):
        argv0, *mods = f.read_text().splitlines()
        # Snakemake runs a rule's script as .snakemake/scripts/tmpXXXXXXXX.<name>.py
        m = re.search(r"tmp[^./]+\.([^/]+\.py)$", argv0)
        if m:
            found.setdefault(m.group(1), set()).update(mods)
    return found


# ------------------------------------------------------------------ Snakemake's DAG view
def rule_graph(workdir: Path) -> dict[str, set[str]]:
    """rule -> rules that consume its outputs, for the DAG of the default target."""
    proc = snakemake(workdir, "--rulegraph", "dot", check=True)
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", proc.stdout, re.M))
    graph = {name: set() for name in names.values()}
    for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", proc.stdout, re.M):
        graph[names[src]].add(names[dst])
    assert graph, f"no rule graph parsed from:\n{proc.stdout[-2000:]}"
    return graph


def with_dependants(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    out, todo = set(), list(start)
    while todo:
        rule = todo.pop()
        if rule not in out:
            out.add(rule)
            todo.extend(graph.get(rule, ()))
    return out


@dataclass
class Summary:
    rows: list[dict[str, str]]

    @property
    def planned_rules(self) -> set[str]:
        """Rules Snakemake would run now (plan 'update pending')."""
        return {r["rule"] for r in self.rows if r["plan"] == "update pending"}

    @property
    def rules(self) -> set[str]:
        return {r["rule"] for r in self.rows}

    def outputs(self, rules: set[str] | None = None) -> set[str]:
        return {r["output_file"] for r in self.rows if rules is None or r["rule"] in rules}

    @property
    def planned_outputs(self) -> set[str]:
        """Outputs Snakemake would write now: finer than planned_rules for a wildcard rule
        (one job per figure)."""
        return {r["output_file"] for r in self.rows if r["plan"] == "update pending"}


def summary(workdir: Path, *args: str) -> Summary:
    """`snakemake -n --detailed-summary` as rows (one per output file)."""
    proc = snakemake(workdir, "-n", "--detailed-summary", *args, check=True)
    lines = proc.stdout.splitlines()
    head = [i for i, line in enumerate(lines) if line.startswith("output_file\t")]
    assert head, f"no summary table in:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    cols = lines[head[0]].split("\t")
    rows = [dict(zip(cols, line.split("\t"))) for line in lines[head[0] + 1 :] if line.count("\t") == len(cols) - 1]
    assert rows, f"empty summary:\n{proc.stdout[-3000:]}"
    return Summary(rows)


# ----------------------------------------------------------------------- runs and files
def results_bytes(workdir: Path) -> dict[str, bytes]:
    """Every file under results/, by path relative to the project."""
    base = workdir / "results"
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def mtimes(workdir: Path, paths) -> dict[str, int]:
    return {p: (workdir / p).stat().st_mtime_ns for p in paths}


def diff_files(got: dict[str, bytes], want: dict[str, bytes]) -> list[str]:
    problems = [f"missing: {p}" for p in sorted(set(want) - set(got))]
    problems += [f"unexpected: {p}" for p in sorted(set(got) - set(want))]
    problems += [f"differs: {p}" for p in sorted(set(want) & set(got)) if got[p] != want[p]]
    return problems


_REFERENCE: dict[str, Path] = {}
TRACE = Path(__file__).parent / "import_trace"  # sitecustomize recording imports


def reference_run(tmp_path_factory) -> Path:
    """A project copy with a finished, uninterrupted local run of `rule all` (one per
    test session), whose scripts' package imports are recorded in <project>.imports/.
    Tests never modify it: they work on clone_run() or copy_sources() copies."""
    if "run" not in _REFERENCE:
        work = copy_project(tmp_path_factory.mktemp("reference") / "project")
        trace = work.with_name("project.imports")
        trace.mkdir()
        saved = {k: os.environ.get(k) for k in ("ALSALVAGE_IMPORT_TRACE", "PYTHONPATH")}
        os.environ["ALSALVAGE_IMPORT_TRACE"] = str(trace)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TRACE), saved["PYTHONPATH"]]))
        try:
            snakemake(work, check=True, timeout=1800)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        _REFERENCE["run"] = work
    return _REFERENCE["run"]


def reference_imports(run: Path) -> dict[str, set[str]]:
    return traced_imports(run.with_name("project.imports"))


def clone_run(src: Path, dest: Path) -> Path:
    """Copy a finished project with its .snakemake records, keeping every mtime."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def copy_sources(src: Path, dest: Path) -> Path:
    """A fresh project (no results, no .snakemake) with the same sources as project src,
    so that runs compared with a reference run use exactly its code and data."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name, symlinks=True)
        elif (src / name).exists():
            shutil.copy2(src / name, dest / name)
    return dest


def edit_csv_cell(path: Path, select, column: str, new_value) -> int:
    """Change one cell of a CSV file in place, leaving every other byte as it was.
    select(row: dict) picks the first row to edit; new_value(old: str) gives the new
    text. Returns the edited line's number (header = line 1)."""
    text = path.read_text()
    eol = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(eol)
    header = next(csv.reader([lines[0]]))
    col = header.index(column)
    for i, line in enumerate(lines[1:], start=1):
        if not line or '"' in line:
            continue
        fields = line.split(",")
        if len(fields) != len(header) or not select(dict(zip(header, fields))):
            continue
        fields[col] = new_value(fields[col])
        lines[i] = ",".join(fields)
        path.write_text(eol.join(lines))
        return i + 1
    raise AssertionError(f"{path}: no row to edit")


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
