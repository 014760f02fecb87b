"""Rule validate: check the raw exports and write typed, unit-converted tables."""

from pathlib import Path

from alsalvage.validation import validate_tables

sm = snakemake  # noqa: F821 (injected by Snakemake)
tables = list(sm.params.inputs)
validate_tables(
    paths={t: sm.input[t] for t in tables},
    files=dict(sm.params.inputs),
    limits=dict(sm.params.limits),
    window_days=sm.params.window_days,
    involvement=dict(sm.params.involvement),
    tables_out={Path(p).stem: p for p in sm.output.tables},
    findings_out=sm.output.findings,
    log_path=sm.log.log,
    log_findings=sm.log.findings,
)
