# AL amyloidosis salvage-therapy outcome workflow.
# The Snakefile stays thin: configuration, its validation, the rule files and the target.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


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
