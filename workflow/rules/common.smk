# Helpers shared by all the rule files (configuration checks, package paths, targets).
from pathlib import Path

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
    for err in _with_defaults(Draft202012Validator)(schema).iter_errors(cfg):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"  config key {where}: {err.message}")
    if problems:
        raise WorkflowError(
            "Invalid configuration (schema workflow/schemas/config.schema.yaml):\n"
            + "\n".join(sorted(problems))
        )


check_config(config, CONFIG_SCHEMA)


def pkg(*modules):
    """Paths of the package modules a rule imports, declared as inputs so that
    editing a module reruns exactly the rules that use it."""
    return [f"workflow/scripts/alsalvage/{m}.py" for m in ("__init__",) + modules]


def raw_inputs(wildcards=None):
    return {t: config["inputs"][t] for t in TABLES}


def final_outputs():
    return expand("results/validated/{table}.parquet", table=TABLES) + [
        "results/validated/findings.csv",
        "results/derived/adsl.csv",
        "results/derived/adae.csv",
        "results/derived/adrs.csv",
        "results/derived/adtte.csv",
        "results/stats/results.json",
        # the tables of the analyses (STATS, workflow/rules/stats.smk)
        *expand("results/tables/{name}.csv", name=STATS),
        # the same tables as editable Word and Excel files (rule tables_office)
        *expand("results/tables/{name}.{ext}", name=STATS, ext=("docx", "xlsx")),
        "results/report.html",
    ]
