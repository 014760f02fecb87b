# Helpers shared by all the rule files (configuration checks, package paths, targets).
#
# Two kinds of paths (docs/hpc.md, "As a module"):
#  * files shipped with the workflow (package modules, schema, template, resources, the demo
#    cohort) are found from this file's location (shipped(); workflow.source_path() for a
#    module from GitHub): the workflow runs the same from its own directory, with
#    --directory, as a module of another workflow or deployed with snakedeploy;
#  * the user's inputs (config `inputs:`) and every output (results/, logs/, benchmarks/)
#    are relative to the working directory; the outputs lie under the study's output root
#    (config study.output_root, result_path(), log_path(), benchmark_path()).
import os
from pathlib import Path, PurePosixPath

from jsonschema import Draft202012Validator, validators
from snakemake.exceptions import WorkflowError
import yaml

CONFIG_SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
TABLES = [
    "patients",
    "therapy_lines",
    "salvage_cycles",
    "outcomes",
    "labs",
    "adverse_events",
]


def _with_defaults(validator_class):
    """The validator, extended to fill in each property's schema default where the
    configuration leaves it out (at every level, as snakemake.utils.validate does)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def check_config(cfg, schema_path):
    """Fill in the schema defaults, then stop with one message listing every unknown
    key and wrong type, by key path. The schema is read with libyaml and validated in
    one pass: this runs at every start of Snakemake, including a no-op rerun."""
    with open(schema_path) as fh:
        schema = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    problems = []
    if isinstance(cfg, dict) and "bortezomib" in cfg:
        # issue 13: the grouping became configurable; say how to migrate an old config
        problems.append(
            "  config key bortezomib: replaced by prior_exposure (rename the section; it"
            " takes the same two thresholds, plus label: bortezomib and agents: [bortezomib],"
            " the defaults)"
        )
    for err in _with_defaults(Draft202012Validator)(schema).iter_errors(cfg):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"  config key {where}: {err.message}")
    if problems:
        raise WorkflowError(
            "Invalid configuration (schema workflow/schemas/config.schema.yaml):\n"
            + "\n".join(sorted(problems))
        )


check_config(config, CONFIG_SCHEMA)


# This file's directory (workflow/rules): a local directory, or the URI of a module used
# from GitHub or another host.
RULES_DIR = str(workflow.current_basedir)
WORKFLOW_ROOT = (
    os.path.realpath(os.path.join(RULES_DIR, "..", ".."))
    if os.path.isdir(RULES_DIR)
    else None
)


# Where this study's outputs go (config study.output_root, relative to the working
# directory): several studies run side by side in one checkout, each under its own root.
# The default root `results` keeps logs/ and benchmarks/ beside it, at the top; any other
# root holds its own logs/ and benchmarks/ (e.g. results/pomalidomide/logs/), so that no
# two studies share a file.
OUTPUT_ROOT = str(PurePosixPath(config["study"]["output_root"]))
DEFAULT_OUTPUT_ROOT = "results"


def _under_root(kind):
    if OUTPUT_ROOT == DEFAULT_OUTPUT_ROOT:
        return kind
    return f"{OUTPUT_ROOT}/{kind}"


LOG_ROOT = _under_root("logs")
BENCHMARK_ROOT = _under_root("benchmarks")


def result_path(path):
    """An output of a rule, by its path under the output root (e.g. "derived/adsl.csv")."""
    return f"{OUTPUT_ROOT}/{path}"


def log_path(path):
    """A rule's log file, by its path under the study's log directory."""
    return f"{LOG_ROOT}/{path}"


def benchmark_path(path):
    """A rule's benchmark file, by its path under the study's benchmark directory."""
    return f"{BENCHMARK_ROOT}/{path}"


def shipped(path):
    """A file shipped with the workflow, by its path in the repository
    (e.g. resources/seed_study.yaml), found from this file's location, not from the
    working directory. A local workflow's file inside the working directory keeps its
    relative path (the top-level run as ever: moving a finished project reruns nothing),
    one outside it is absolute; a remote module's file is fetched into Snakemake's source
    cache."""
    if WORKFLOW_ROOT is None:
        return workflow.source_path(f"../../{path}")
    full = os.path.join(WORKFLOW_ROOT, path)
    try:
        rel = os.path.relpath(full, os.path.realpath(os.getcwd()))
    except ValueError:  # another drive
        return full
    return full if rel.split(os.sep)[0] == os.pardir else rel


def shipped_module(path):
    """A light module shipped with the workflow (one importing no package module and no
    heavy library, e.g. the statistics registry), loaded by its path in the repository
    (shipped()) at DAG build time, so that the rule files and the package read one
    definition. Loaded once per path."""
    import importlib.util
    import sys

    name = ".".join(("alsalvage_rules",) + PurePosixPath(path).with_suffix("").parts)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, shipped(path))
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded  # dataclasses look their module up while defining
        spec.loader.exec_module(loaded)
    return sys.modules[name]


# The study's wording (alsalvage/study.py, the owner of every phrase naming the regimen):
# study.regimen resolved once here, so that every rule's params read one name.
STUDY = shipped_module("workflow/scripts/alsalvage/study.py")
config["study"] = STUDY.resolve(config["study"])


def check_drug_names(cfg):
    """The drug names of the configuration (study.agents, prior_exposure.agents and
    .classes, drugs.aliases) against the study's drug dictionary (the shipped one with
    config drugs merged in; alsalvage/contract.py), before any job: a misspelt agent or
    class would otherwise group no one, or stop the run only when a job reads it."""
    contract = shipped_module("workflow/scripts/alsalvage/contract.py")
    problems = contract.config_problems(
        cfg["drugs"], cfg["study"]["agents"], cfg["prior_exposure"]
    )
    if problems:
        raise WorkflowError(
            "Invalid configuration (drug names; docs/data-dictionary.md, agent dictionary):\n"
            + "\n".join(f"  config key {p}" for p in problems)
        )


check_drug_names(config)


def pkg(*modules):
    """Paths of the package modules a rule imports, declared as inputs so that
    editing a module reruns exactly the rules that use it ("stats/run" names a module of
    the subpackage alsalvage.stats; "stats/__init__" the subpackage itself)."""
    return [
        shipped(f"workflow/scripts/alsalvage/{m}.py") for m in ("__init__",) + modules
    ]


DEMO_DIR = PurePosixPath("resources/demo")
DEMO_FILES = {f"{t}.csv" for t in TABLES}


def input_file(path):
    """A configured input, relative to the working directory (or absolute). The one
    exception is the demo cohort shipped with the workflow: a path resources/demo/<file>
    that the working directory does not hold is the workflow's own copy, so that the
    default configuration runs the demo from any directory. The configured path stays what
    the outputs print (params)."""
    p = PurePosixPath(path)
    if p.parent != DEMO_DIR or p.name not in DEMO_FILES or Path(path).exists():
        return path
    return shipped(str(p))


def raw_inputs(wildcards=None):
    return {t: input_file(config["inputs"][t]) for t in TABLES}


def study_description(study):
    """The study description that study_cohort plans a cohort for (studies/<study>/cohort.yaml
    in the working directory, else the one shipped with the workflow)."""
    path = f"studies/{study}/cohort.yaml"
    return path if Path(path).exists() else shipped(path)


SEED_STUDY = "resources/seed_study.yaml"


def published_figures():
    """The study's published figures (config study.published_figures) where this run reads
    them, or [] when the study has none (the report then leaves out the comparison). As
    with the demo cohort, the shipped resources/seed_study.yaml is the workflow's own copy
    when the working directory does not hold one."""
    path = config["study"]["published_figures"]
    if not path:
        return []
    if path == SEED_STUDY and not Path(path).exists():
        return shipped(path)
    return path


def final_outputs():
    """What `all` builds, named by the rules that write it (so called after every rule
    file is included)."""
    return [
        *(rules.validate.output[t] for t in TABLES),
        rules.validate.output.findings,
        rules.derive_baseline.output.csv,
        rules.derive_adverse_events.output.csv,
        rules.derive_responses.output.csv,
        rules.derive_endpoints.output.csv,
        rules.stats.output.results,
        # the tables of the analyses (STATS, workflow/rules/stats.smk)
        *rules.stats.output.tables,
        # the same tables as editable Word and Excel files (rule tables_office)
        *rules.tables_office.output.docx,
        *rules.tables_office.output.xlsx,
        rules.report.output.html,
    ]


# Rule figure (workflow/rules/figures.smk): one job per figure, its inputs and settings.
def figure_inputs(wildcards):
    return {
        i: FIGURE_INPUT_PATHS[i] for i in FIGURE_REGISTRY.FIGURE_INPUTS[wildcards.name]
    }


def figure_settings(wildcards):
    return FIGURE_REGISTRY.settings(config, wildcards.name)


def figure_report(path, fmt):
    """A figure output marked for Snakemake's report (`snakemake --report report.zip`)."""
    return report(
        path,
        caption="../report/figure.rst",
        category="Figures",
        subcategory="{name}",
        labels={"figure": "{name}", "format": fmt},
    )
