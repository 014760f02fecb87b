# Stage 3: responses (ADRS) and time-to-event endpoints (ADTTE) from ADSL and the
# validated labs/outcomes. A response threshold reruns these two rules only.


rule derive_responses:
    input:
        labs=rules.validate.output.labs,
        outcomes=rules.validate.output.outcomes,
        adsl=rules.derive_baseline.output.parquet,
        code=pkg(
            "censored",
            "derive_common",
            "csvout",
            "datasets",
            "egfr",
            "formatting",
            "hematologic",
            "organ",
            "responses",
            "rulelog",
            "study",
        ),
    output:
        csv=result_path("derived/adrs.csv"),
        parquet=result_path("derived/adrs.parquet"),
    log:
        log_path("derive_responses.log"),
    benchmark:
        benchmark_path("derive_responses.tsv")
    retries: 2
    conda:
        "../envs/derive.yaml"
    threads: 1
    resources:
        # measured peaks: docs/performance.md; killed for memory, the job is retried
        # with base x attempt (docs/hpc.md, "Out of memory")
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=15,
    params:
        hematologic=config["hematologic"],
        cardiac=config["cardiac"],
        renal=config["renal"],
        liver=config["liver"],
        egfr=config["egfr"],
        # the IMiD caveat on cardiac calls (alsalvage.study)
        study={
            "agents": config["study"]["agents"],
            "imid_caveat_classes": config["study"]["imid_caveat_classes"],
            "regimen": config["study"]["regimen"],
        },
        response_confirmation=config["analysis"]["response_confirmation"],
    script:
        "../scripts/derive_responses.py"


rule derive_endpoints:
    input:
        adsl=rules.derive_baseline.output.parquet,
        adrs=rules.derive_responses.output.parquet,
        outcomes=rules.validate.output.outcomes,
        code=pkg(
            "censored",
            "csvout",
            "datasets",
            "derive_common",
            "formatting",
            "endpoints",
            "hematologic",
            "rulelog",
            "study",
        ),
    output:
        csv=result_path("derived/adtte.csv"),
        parquet=result_path("derived/adtte.parquet"),
    log:
        log_path("derive_endpoints.log"),
    benchmark:
        benchmark_path("derive_endpoints.tsv")
    retries: 2
    conda:
        "../envs/derive.yaml"
    threads: 1
    resources:
        # measured peaks: docs/performance.md; killed for memory, the job is retried
        # with base x attempt (docs/hpc.md, "Out of memory")
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=10,
    params:
        endpoints=config["endpoints"],
        regimen=config["study"]["regimen"],
    script:
        "../scripts/derive_endpoints.py"
