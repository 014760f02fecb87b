# Helpers shared by all the rule files (configuration checks, package paths, targets).
from pathlib import Path

from jsonschema import Draft202012Validator
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
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


def check_config(cfg, schema_path):
    """Stop with one message listing every unknown key and wrong type, by key path."""
    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    problems = []
    for err in Draft202012Validator(schema).iter_errors(cfg):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"  config key {where}: {err.message}")
    if problems:
        raise WorkflowError(
            "Invalid configuration (schema workflow/schemas/config.schema.yaml):\n"
            + "\n".join(sorted(problems))
        )


check_config(config, CONFIG_SCHEMA)
validate(config, CONFIG_SCHEMA, set_default=True)


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
        "results/tables/table1.csv",
        "results/tables/response.csv",
        "results/tables/organ.csv",
        "results/tables/renal.csv",
        "results/tables/survival.csv",
        "results/tables/exposure.csv",
        "results/tables/toxicity.csv",
        "results/report.html",
    ]
