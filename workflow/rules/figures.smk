# Stage 5: figures of the report, each as SVG (embedded in the report), PNG and PDF.
# Two jobs. figures_cohort draws the six figures made from the datasets alone: it starts
# when the derivations end and runs beside `stats`. figures_stats draws the three that
# print the statistics' results (log-rank p-values, Cox hazard ratios) once `stats` has
# written them. Each job imports its libraries once and spreads its figures over its
# threads (worker processes forked after the imports). Which inputs each figure reads:
# alsalvage.figures.FIGURE_INPUTS.

FIGURES = [
    "km_os",
    "km_os_bortezomib",
    "landmark_os",
    "cif_dialysis",
    "forest_cox",
    "waterfall_dflc",
    "swimmer",
    "ntprobnp",
    "flow",
]
FIGURES_STATS = ["km_os_bortezomib", "landmark_os", "forest_cox"]
FIGURES_COHORT = [f for f in FIGURES if f not in FIGURES_STATS]
# The settings the figures read (both jobs: FigureParams takes them all).
FIGURE_PARAMS = dict(
    seed=config["figures"]["seed"],
    max_patients=config["figures"]["max_patients"],
    days_per_month=config["endpoints"]["days_per_month"],
    pr_fall_pct=config["hematologic"]["pr_fall_pct"],
    ntprobnp_rise_pct=config["cardiac"]["progression_rise_pct"],
    landmarks_months=config["stats"]["landmarks_months"],
    alpha=config["stats"]["alpha"],
    jitter_seed=config["stats"]["seed"],
)


rule figures_cohort:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        adtte="results/derived/adtte.parquet",
        labs="results/validated/labs.parquet",
        code=pkg("figures", "formatting", "parallel", "rulelog", "survival"),
    output:
        svg=expand("results/figures/{name}.svg", name=FIGURES_COHORT),
        png=expand("results/figures/{name}.png", name=FIGURES_COHORT),
        pdf=expand("results/figures/{name}.pdf", name=FIGURES_COHORT),
        caption=expand("results/figures/{name}.json", name=FIGURES_COHORT),
    log:
        "logs/figures_cohort.log",
    benchmark:
        "benchmarks/figures_cohort.tsv"
    conda:
        "../envs/figures.yaml"
    # two threads, so that `stats` (two threads) runs beside it under --cores 4
    threads: 2
    resources:
        mem_mb=6000,
        runtime=20,
    params:
        **FIGURE_PARAMS,
    script:
        "../scripts/figures.py"


rule figures_stats:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        adtte="results/derived/adtte.parquet",
        results="results/stats/results.json",
        code=pkg("figures", "formatting", "parallel", "rulelog", "survival"),
    output:
        svg=expand("results/figures/{name}.svg", name=FIGURES_STATS),
        png=expand("results/figures/{name}.png", name=FIGURES_STATS),
        pdf=expand("results/figures/{name}.pdf", name=FIGURES_STATS),
        caption=expand("results/figures/{name}.json", name=FIGURES_STATS),
    log:
        "logs/figures_stats.log",
    benchmark:
        "benchmarks/figures_stats.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        **FIGURE_PARAMS,
    script:
        "../scripts/figures.py"
