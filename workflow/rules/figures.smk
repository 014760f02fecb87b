# Stage 5: figures of the report, each as SVG (embedded in the report), PNG and PDF.
# One job per figure: a figure's own code or inputs rerun only the figures that use them.

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


rule figure:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        adtte="results/derived/adtte.parquet",
        labs="results/validated/labs.parquet",
        results="results/stats/results.json",
        code=pkg("figures", "formatting", "rulelog"),
    output:
        svg="results/figures/{figure}.svg",
        png="results/figures/{figure}.png",
        pdf="results/figures/{figure}.pdf",
        caption="results/figures/{figure}.json",
    log:
        "logs/figure/{figure}.log",
    benchmark:
        "benchmarks/figure/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(FIGURES),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["figures"]["seed"],
        max_patients=config["figures"]["max_patients"],
        days_per_month=config["endpoints"]["days_per_month"],
        pr_fall_pct=config["hematologic"]["pr_fall_pct"],
        ntprobnp_rise_pct=config["cardiac"]["progression_rise_pct"],
        landmarks_months=config["stats"]["landmarks_months"],
        alpha=config["stats"]["alpha"],
        jitter_seed=config["stats"]["seed"],
    script:
        "../scripts/figure.py"
