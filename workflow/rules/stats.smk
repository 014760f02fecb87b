# Stage 4: statistics and tables. One rule per analysis, so that a change to one reruns
# only it; each writes results/tables/<name>.csv and results/stats/parts/<name>.json,
# merged by stats_collect into results/stats/results.json (keys: docs/results.md).

STATS = ["table1", "response", "organ", "renal", "survival", "exposure", "toxicity"]
STATS_PKG = ("derive_common", "formatting", "proportions", "tables")
STATS_SURV_PKG = STATS_PKG + ("survival",)


rule stats_table1:
    input:
        adsl="results/derived/adsl.parquet",
        code=pkg(*STATS_PKG),
    output:
        table="results/tables/table1.csv",
        part="results/stats/parts/table1.json",
    log:
        "logs/stats_table1.log",
    benchmark:
        "benchmarks/stats_table1.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
    script:
        "../scripts/stats_table1.py"


rule stats_response:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        code=pkg(*STATS_PKG),
    output:
        table="results/tables/response.csv",
        part="results/stats/parts/response.json",
    log:
        "logs/stats_response.log",
    benchmark:
        "benchmarks/stats_response.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
        low_dflc_counts=config["hematologic"]["low_dflc_counts_as_response"],
        landmarks=config["stats"]["landmarks_months"],
        days_per_month=config["endpoints"]["days_per_month"],
    script:
        "../scripts/stats_response.py"


rule stats_organ:
    input:
        adsl="results/derived/adsl.parquet",
        adrs="results/derived/adrs.parquet",
        labs="results/validated/labs.parquet",
        code=pkg(*STATS_PKG),
    output:
        table="results/tables/organ.csv",
        part="results/stats/parts/organ.json",
    log:
        "logs/stats_organ.log",
    benchmark:
        "benchmarks/stats_organ.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
        landmarks=config["stats"]["landmarks_months"],
        lab_window_days=config["stats"]["lab_window_days"],
        days_per_month=config["endpoints"]["days_per_month"],
    script:
        "../scripts/stats_organ.py"


rule stats_renal:
    input:
        adsl="results/derived/adsl.parquet",
        adtte="results/derived/adtte.parquet",
        code=pkg(*STATS_SURV_PKG),
    output:
        table="results/tables/renal.csv",
        part="results/stats/parts/renal.json",
    log:
        "logs/stats_renal.log",
    benchmark:
        "benchmarks/stats_renal.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
        timepoints=config["stats"]["timepoints_months"],
        seed=config["stats"]["seed"],
    script:
        "../scripts/stats_renal.py"


rule stats_survival:
    input:
        adsl="results/derived/adsl.parquet",
        adtte="results/derived/adtte.parquet",
        adrs="results/derived/adrs.parquet",
        code=pkg(*STATS_SURV_PKG),
    output:
        table="results/tables/survival.csv",
        part="results/stats/parts/survival.json",
    log:
        "logs/stats_survival.log",
    benchmark:
        "benchmarks/stats_survival.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        alpha=config["stats"]["alpha"],
        timepoints=config["stats"]["timepoints_months"],
        landmarks=config["stats"]["landmarks_months"],
        events_per_parameter=config["stats"]["events_per_parameter"],
        low_dflc_counts=config["hematologic"]["low_dflc_counts_as_response"],
        days_per_month=config["endpoints"]["days_per_month"],
    script:
        "../scripts/stats_survival.py"


rule stats_exposure:
    input:
        adsl="results/derived/adsl.parquet",
        adtte="results/derived/adtte.parquet",
        code=pkg(*STATS_SURV_PKG),
    output:
        table="results/tables/exposure.csv",
        part="results/stats/parts/exposure.json",
    log:
        "logs/stats_exposure.log",
    benchmark:
        "benchmarks/stats_exposure.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
    script:
        "../scripts/stats_exposure.py"


rule stats_toxicity:
    input:
        adsl="results/derived/adsl.parquet",
        adae="results/derived/adae.parquet",
        code=pkg(*STATS_PKG),
    output:
        table="results/tables/toxicity.csv",
        part="results/stats/parts/toxicity.json",
    log:
        "logs/stats_toxicity.log",
    benchmark:
        "benchmarks/stats_toxicity.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        alpha=config["stats"]["alpha"],
    script:
        "../scripts/stats_toxicity.py"


rule stats_collect:
    input:
        parts=expand("results/stats/parts/{name}.json", name=STATS),
        code=pkg(*STATS_PKG),
    output:
        results="results/stats/results.json",
    log:
        "logs/stats_collect.log",
    benchmark:
        "benchmarks/stats_collect.tsv"
    conda:
        "../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        meta={
            "schema": "alsalvage-results/1",
            "synthetic": config["study"]["synthetic"],
            "reference_date": config["study"]["reference_date"],
            "alpha": config["stats"]["alpha"],
        },
    script:
        "../scripts/stats_collect.py"
