"""Rule figure: one figure of the report as SVG, PNG and PDF, plus its caption."""

from alsalvage.figures import FigureParams, load_inputs, render, write_caption
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
name = sm.wildcards.figure
with rule_log(sm.log[0], f"figure ({name})", sm.input) as log:
    data = load_inputs(
        sm.input.adsl, sm.input.adrs, sm.input.adtte, sm.input.labs, sm.input.results, sm.params.landmarks_months
    )
    params = FigureParams(
        seed=int(sm.params.seed),
        jitter_seed=int(sm.params.jitter_seed),
        max_patients=int(sm.params.max_patients),
        landmark_months=tuple(float(x) for x in sm.params.landmarks_months),
        days_per_month=float(sm.params.days_per_month),
        alpha=float(sm.params.alpha),
        ntprobnp_rise_pct=float(sm.params.ntprobnp_rise_pct),
        pr_fall_pct=float(sm.params.pr_fall_pct),
    )
    caption = render(name, data, params, {"svg": sm.output.svg, "png": sm.output.png, "pdf": sm.output.pdf})
    write_caption(sm.output.caption, name, caption)
    log.info("figure %s: %s", name, caption)
