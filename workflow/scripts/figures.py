"""Rule figures: every figure of the report as SVG, PNG and PDF, plus its caption, drawn
by snakemake.threads worker processes (one process with 1 thread) from the inputs the
rule declares (adsl, adrs, adtte, labs, results)."""

import logging
from pathlib import Path

from alsalvage.figures import FigureParams, load_inputs, render_all
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
inputs = {name: path for name, path in sm.input.items() if name != "code"}
with rule_log(sm.log[0], "figures", inputs.values()) as log:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    # each output list holds one file per figure, named <figure>.<ext>
    paths: dict[str, dict[str, str]] = {}
    for kind in ("svg", "png", "pdf", "caption"):
        for path in sm.output[kind]:
            paths.setdefault(Path(path).stem, {})["json" if kind == "caption" else kind] = path
    data = load_inputs(inputs, sm.params.landmarks_months)
    params = FigureParams(
        seed=int(sm.params.seed),
        max_patients=int(sm.params.max_patients),
        landmark_months=tuple(float(x) for x in sm.params.landmarks_months),
        days_per_month=float(sm.params.days_per_month),
        alpha=float(sm.params.alpha),
        ntprobnp_rise_pct=float(sm.params.ntprobnp_rise_pct),
        pr_fall_pct=float(sm.params.pr_fall_pct),
    )
    log.info("drawing %d figures with %d worker(s)", len(paths), sm.threads)
    for name, caption in render_all(data, params, paths, workers=sm.threads).items():
        log.info("figure %s: %s", name, caption)
