"""Rule stats_collect: merge the JSON fragments into results/stats/results.json."""

from pathlib import Path

from alsalvage.tables import collect

sm = snakemake  # noqa: F821 (injected by Snakemake)
obj = collect(sm.input.parts, sm.output.results, meta=dict(sm.params.meta))
Path(sm.log[0]).parent.mkdir(parents=True, exist_ok=True)
Path(sm.log[0]).write_text(
    f"rule stats_collect: {len(obj['results'])} keys from {len(sm.input.parts)} fragments\n"
)
