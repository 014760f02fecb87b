# AL amyloidosis salvage-therapy outcome workflow.
# The Snakefile stays thin: configuration, its validation, the rule files and the target.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The study's config.yaml in the working directory; run from elsewhere (--directory) without
# one, the workflow's own (its values are the schema defaults). Used as a module, the
# caller's `config:` replaces both. --configfile overrides them key by key.
STUDY_CONFIG = (
    "config.yaml"
    if Path("config.yaml").exists()
    else workflow.source_path("config.yaml")
)


configfile: STUDY_CONFIG


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/response.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/demo.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
