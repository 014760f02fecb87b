# Stage 5: figures of the report, each as SVG (embedded in the report), PNG and PDF.
# One job draws them all: the figures share their inputs, parameters and code, so one job
# per figure bought no rerun granularity and paid the imports nine times. The job spreads
# the figures over its threads (worker processes forked after the imports). Which inputs
# each figure reads: alsalvage.figures.FIGURE_INPUTS (only four read results.json; drawing
# the others beside `stats` as a second job was measured, with six, and dropped: docs/performance.md).

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


rule figures:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        adtte="results/derived/adtte.parquet",
        labs="results/validated/labs.parquet",
        results="results/stats/results.json",
        code=pkg("figures", "formatting", "parallel", "rulelog", "survival"),
    output:
        svg=expand("results/figures/{name}.svg", name=FIGURES),
        png=expand("results/figures/{name}.png", name=FIGURES),
        pdf=expand("results/figures/{name}.pdf", name=FIGURES),
        caption=expand("results/figures/{name}.json", name=FIGURES),
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/figures.tsv"
    retries: 2
    conda:
        "../envs/figures.yaml"
    threads: 4
    resources:
        mem_mb=lambda wc, attempt: 6000 * attempt,
        runtime=20,
    params:
        seed=config["figures"]["seed"],
        max_patients=config["figures"]["max_patients"],
        days_per_month=config["endpoints"]["days_per_month"],
        pr_fall_pct=config["hematologic"]["pr_fall_pct"],
        ntprobnp_rise_pct=config["cardiac"]["progression_rise_pct"],
        landmarks_months=config["stats"]["landmarks_months"],
        alpha=config["stats"]["alpha"],
    script:
        "../scripts/figures.py"
