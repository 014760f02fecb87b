"""Rule validate: check the raw exports and write typed, unit-converted tables.

A rejection (ValidationFailed) prints the summary of distinct problems and exits 1, with
no traceback: the findings are the message. Any other error is logged with its traceback
in logs/validate.log (rulelog) and re-raised."""

import sys

from alsalvage.rulelog import rule_log
from alsalvage.validation import ValidationFailed, validate_tables

sm = snakemake  # noqa: F821 (injected by Snakemake)
tables = list(sm.params.inputs)
try:
    with rule_log(sm.log.log, "validate", [sm.input[t] for t in tables], expected=(ValidationFailed,)) as log:
        validate_tables(
            paths={t: sm.input[t] for t in tables},
            files=dict(sm.params.inputs),
            limits=dict(sm.params.limits),
            window_days=sm.params.window_days,
            involvement=dict(sm.params.involvement),
            tables_out={t: getattr(sm.output, t) for t in tables},
            findings_out=sm.output.findings,
            inputs_out=sm.output.inputs,
            log_path=sm.log.log,
            log_findings=sm.log.findings,
            log=log,
            upcr_as_proteinuria=sm.params.upcr_as_proteinuria,
            drugs=dict(sm.params.drugs),
            agents=[dict(a) for a in sm.params.agents],
        )
except ValidationFailed as err:
    print(err, file=sys.stderr)
    sys.exit(1)  # non-zero: Snakemake stops and removes this job's outputs
