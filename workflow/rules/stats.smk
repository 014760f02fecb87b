# Stage 4: statistics and tables. One job runs the seven analyses (STATS) and writes
# results/tables/<name>.csv and results/stats/results.json (keys: docs/results.md).
# The script imports pandas, scipy and lifelines once, reads each input once and forks
# `threads` worker processes for the analyses (outputs do not depend on their number).
# Trade-off: a change to any input, param or module of one analysis reruns all seven
# (a few seconds on the demo, about 24 s of CPU at 100,000 patients), in exchange for one
# Python process instead of eight (each paid 1.3-2 s of imports). See docs/hpc.md.

STATS = ["table1", "response", "organ", "renal", "survival", "exposure", "toxicity"]


rule stats:
    input:
        adsl=rules.derive_baseline.output.parquet,
        adrs=rules.derive_responses.output.parquet,
        adtte=rules.derive_endpoints.output.parquet,
        adae=rules.derive_adverse_events.output.parquet,
        labs=rules.validate.output.labs,
        code=pkg(
            "compare",
            "csvout",
            "derive_common",
            "formatting",
            "parallel",
            "proportions",
            "rulelog",
            "survival",
            "tables",
        ),
    output:
        tables=[
            report(
                f"results/tables/{name}.csv",
                caption="../report/table.rst",
                category="Tables",
                labels={"table": name},
            )
            for name in STATS
        ],
        results="results/stats/results.json",
    log:
        "logs/stats.log",
    benchmark:
        "benchmarks/stats.tsv"
    retries: 2
    conda:
        "../envs/stats.yaml"
    threads: 4
    resources:
        # 100,000 patients: about 2.1 GB proportional set size with 4 workers (inputs
        # shared by the forked workers), 24 s of CPU for the analyses
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=15,
    params:
        alpha=config["stats"]["alpha"],
        low_dflc_counts=config["hematologic"]["low_dflc_counts_as_response"],
        landmarks=config["stats"]["landmarks_months"],
        timepoints=config["stats"]["timepoints_months"],
        lab_window_days=config["stats"]["lab_window_days"],
        events_per_parameter=config["stats"]["events_per_parameter"],
        table1_tests=config["stats"]["table1_tests"],
        days_per_month=config["endpoints"]["days_per_month"],
        meta={
            "schema": "alsalvage-results/1",
            "synthetic": config["study"]["synthetic"],
            "reference_date": config["study"]["reference_date"],
            "alpha": config["stats"]["alpha"],
        },
    script:
        "../scripts/stats.py"
