"""Rule stats: thin entry; the seven analyses are in alsalvage.tables (see docs/results.md)."""

from alsalvage.tables import run_stats

sm = snakemake  # noqa: F821 (injected by Snakemake)
params = dict(sm.params.items())
analyses = params.pop("analyses")
meta = params.pop("meta")
run_stats(
    inputs={k: v for k, v in sm.input.items() if k != "code"},
    tables=dict(zip(analyses, sm.output.tables)),
    results_path=sm.output.results,
    log_path=sm.log[0],
    params=params,
    meta=dict(meta),
    workers=sm.threads,
)
