"""Rule figure: one figure of the report (wildcard name) as SVG, PNG, TIFF and PDF, plus its
caption, drawn from the inputs the rule declares for it (alsalvage.figures.FIGURE_INPUTS)
with the settings it declares (alsalvage.figures.FIGURE_PARAMS)."""

import logging

from alsalvage.figures import INPUT_NAMES, FigureParams, load_inputs, render_figure
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
name = sm.wildcards.name
inputs = {key: path for key, path in sm.input.items() if key in INPUT_NAMES}
with rule_log(sm.log[0], f"figure {name}", inputs.values()) as log:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    settings = dict(sm.params.settings)
    params = FigureParams.for_figure(name, settings)
    data = load_inputs(inputs, params.landmark_months if "results" in inputs else ())
    paths = {kind: sm.output[kind] for kind in ("svg", "png", "tiff", "pdf", "json")}
    log.info("figure %s: %s", name, render_figure(name, data, params, paths))
