# Stage 5: figures of the report, each as SVG (embedded in the report), PNG and TIFF (at
# figures.dpi), PDF, and its caption (JSON), drawn by one job per figure (rule `figure`).
# Each job declares only the inputs its figure reads (FIGURE_INPUTS), the package modules it
# loads and the settings it draws with (FIGURE_PARAMS), so that a figure that fails leaves the
# other eight written (with --keep-going) and a changed setting reruns only the figures that
# use it. Until issue 16 one job drew all nine in forked workers, saving eight imports of
# matplotlib and pandas (about 2 s CPU each); but a failing figure then removed every figure.
# The cost of nine jobs, measured on the demo: docs/performance.md ("Figures as nine jobs").
# What each figure reads, draws with and loads: one registry, alsalvage/figure_registry.py,
# read here at DAG build time (it imports no matplotlib or pandas) and by alsalvage.figures.
FIGURE_REGISTRY = shipped_module("workflow/scripts/alsalvage/figure_registry.py")
# the figures of this study: without the by_group comparison, none by prior-exposure group
FIGURES = FIGURE_REGISTRY.figures(config)
FIGURE_INPUT_PATHS = {
    "adsl": rules.derive_baseline.output.parquet,
    "adrs": rules.derive_responses.output.parquet,
    "adtte": rules.derive_endpoints.output.parquet,
    "labs": rules.validate.output.labs,
    "results": rules.stats.output.results,
}


rule figure:
    input:
        unpack(figure_inputs),
        code=pkg("figure_registry", "figures", "formatting", "rulelog", "study"),
        survival=branch(
            lambda wildcards: wildcards.name in FIGURE_REGISTRY.SURVIVAL_FIGURES,
            then=pkg("survival"),
            otherwise=[],
        ),
        responders=branch(
            lambda wildcards: wildcards.name in FIGURE_REGISTRY.RESPONDER_FIGURES,
            then=pkg("stats/__init__", "stats/responders"),
            otherwise=[],
        ),
        hematologic=branch(
            lambda wildcards: wildcards.name in FIGURE_REGISTRY.HEMATOLOGIC_FIGURES,
            then=pkg("hematologic", "censored", "derive_common"),
            otherwise=[],
        ),
    output:
        svg=figure_report(result_path("figures/{name}.svg"), "SVG"),
        png=figure_report(result_path("figures/{name}.png"), "PNG"),
        tiff=figure_report(result_path("figures/{name}.tiff"), "TIFF"),
        pdf=figure_report(result_path("figures/{name}.pdf"), "PDF"),
        json=result_path("figures/{name}.json"),
    log:
        log_path("figure/{name}.log"),
    benchmark:
        benchmark_path("figure/{name}.tsv")
    wildcard_constraints:
        name="|".join(FIGURES),
    retries: 2
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        # 100,000 patients: at most about 1.9 GB (waterfall, drawn alone; docs/performance.md);
        # the request grows with the attempt (retries)
        mem_mb=lambda wc, attempt: 3000 * attempt,
        runtime=10,
    params:
        settings=figure_settings,
    script:
        "../scripts/figure.py"
