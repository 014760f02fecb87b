"""Rule stats: thin entry; the analyses are in alsalvage.stats (its registry lists them; see docs/results.md)."""

from pathlib import Path

from alsalvage.rulelog import rule_log
from alsalvage.stats.run import run_stats

sm = snakemake  # noqa: F821 (injected by Snakemake)
params = dict(sm.params.items())
meta = params.pop("meta")
inputs = {k: v for k, v in sm.input.items() if k != "code"}
with rule_log(sm.log[0], "stats", inputs.values()) as log:
    run_stats(
        inputs=inputs,
        # one table per analysis, named <analysis>.csv (run_stats checks the set)
        tables={Path(p).stem: p for p in sm.output.tables},
        results_path=sm.output.results,
        log=log,
        params=params,
        meta=dict(meta),
        workers=sm.threads,
    )
