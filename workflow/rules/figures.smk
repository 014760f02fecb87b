# Stage 5: figures of the report, each as SVG (embedded in the report), PNG and TIFF (at
# figures.dpi), PDF, and its caption (JSON), drawn by one job per figure (rule `figure`).
# Each job declares only the inputs its figure reads (FIGURE_INPUTS), the package modules it
# loads and the settings it draws with (FIGURE_PARAMS), so that a figure that fails leaves the
# other eight written (with --keep-going) and a changed setting reruns only the figures that
# use it. Until issue 16 one job drew all nine in forked workers, saving eight imports of
# matplotlib and pandas (about 2 s CPU each); but a failing figure then removed every figure.
# The cost of nine jobs, measured on the demo: docs/performance.md ("Figures as nine jobs").
# Both tables equal alsalvage.figures' FIGURE_INPUTS and FIGURE_PARAMS (tests/test_figures.py).

FIGURE_INPUTS = {
    "km_os": ["adtte"],
    "km_os_bortezomib": ["adsl", "adtte", "results"],
    "landmark_os": ["adrs", "adtte", "results"],
    "cif_dialysis": ["adsl", "adtte", "results"],
    "forest_cox": ["results"],
    "waterfall_dflc": ["adsl", "adrs", "labs"],
    "swimmer": ["adsl", "adrs"],
    "ntprobnp": ["adsl", "labs"],
    "flow": ["adsl", "adrs"],
}
FIGURES = list(FIGURE_INPUTS)
FIGURE_INPUT_PATHS = {
    "adsl": rules.derive_baseline.output.parquet,
    "adrs": rules.derive_responses.output.parquet,
    "adtte": rules.derive_endpoints.output.parquet,
    "labs": rules.validate.output.labs,
    "results": rules.stats.output.results,
}
# Settings every figure draws with, and those of each figure (FigureParams fields).
COMMON_FIGURE_PARAMS = ["dpi", "width_mm"]
FIGURE_PARAMS = {
    "km_os": ["alpha", "seed", "max_patients", "km_risk_rows"],
    "km_os_bortezomib": [
        "alpha",
        "seed",
        "max_patients",
        "km_risk_rows",
        "landmark_months",
    ],
    "landmark_os": [
        "alpha",
        "seed",
        "max_patients",
        "days_per_month",
        "landmark_months",
    ],
    "cif_dialysis": ["alpha", "landmark_months"],
    "forest_cox": ["landmark_months"],
    "waterfall_dflc": ["seed", "max_patients", "pr_fall_pct"],
    "swimmer": ["seed", "max_patients", "days_per_month"],
    "ntprobnp": ["seed", "max_patients", "days_per_month", "ntprobnp_rise_pct"],
    "flow": [],
}
# Only the CIF figure loads alsalvage.survival (the Aalen-Johansen estimator).
SURVIVAL_FIGURES = ["cif_dialysis"]
FIGURE_SETTINGS = {
    "dpi": config["figures"]["dpi"],
    "width_mm": config["figures"]["width_mm"],
    "km_risk_rows": config["figures"]["km_risk_table"],
    "seed": config["figures"]["seed"],
    "max_patients": config["figures"]["max_patients"],
    "alpha": config["stats"]["alpha"],
    "landmark_months": config["stats"]["landmarks_months"],
    "days_per_month": config["endpoints"]["days_per_month"],
    "pr_fall_pct": config["hematologic"]["pr_fall_pct"],
    "ntprobnp_rise_pct": config["cardiac"]["progression_rise_pct"],
}


rule figure:
    input:
        unpack(figure_inputs),
        code=pkg("figures", "formatting", "rulelog"),
        survival=branch(
            lambda wildcards: wildcards.name in SURVIVAL_FIGURES,
            then=pkg("survival"),
            otherwise=[],
        ),
    output:
        svg=figure_report("results/figures/{name}.svg", "SVG"),
        png=figure_report("results/figures/{name}.png", "PNG"),
        tiff=figure_report("results/figures/{name}.tiff", "TIFF"),
        pdf=figure_report("results/figures/{name}.pdf", "PDF"),
        json="results/figures/{name}.json",
    log:
        "logs/figure/{name}.log",
    benchmark:
        "benchmarks/figure/{name}.tsv"
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
