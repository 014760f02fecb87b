# AL amyloidosis salvage-therapy outcome workflow.
# The Snakefile stays thin: configuration, its validation, the rule files and the target.
# workflow/Snakefile is the same file with paths relative to workflow/ (for modules from
# GitHub, snakedeploy and the workflow catalog): change both (tests/test_module.py).
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The study's configuration: config.yaml in the working directory (here, at the top), else
# config/config.yaml there (the layout of snakedeploy and of .test/), else the workflow's
# own config.yaml (the schema defaults: the demo). --configfile overrides it key by key;
# used as a module, the caller's `config:` replaces it (docs/hpc.md, "As a module").
STUDY_CONFIG = next(
    (p for p in ("config.yaml", "config/config.yaml") if Path(p).exists()),
    workflow.source_path("config.yaml"),
)


configfile: STUDY_CONFIG


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/response.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/tables_office.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/demo.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
