"""Rule stats_table1: thin entry; the analysis is alsalvage.tables.table1 (see docs/results.md)."""

from alsalvage.tables import run_rule

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_rule(
    "table1",
    "stats_table1",
    inputs={k: v for k, v in sm.input.items() if k != "code"},
    csv_path=sm.output.table,
    json_path=sm.output.part,
    log_path=sm.log[0],
    params=dict(sm.params.items()),
)
