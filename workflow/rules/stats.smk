# Stage 4: statistics and tables. One job runs the seven analyses (STATS) and writes
# results/tables/<name>.csv and results/stats/results.json (keys: docs/results.md).
# The script imports pandas, scipy and lifelines once, reads each input once and forks
# `threads` worker processes for the analyses (outputs do not depend on their number).
# Trade-off: a change to any input, param or module of one analysis reruns all seven
# (a few seconds on the demo, about 24 s of CPU at 100,000 patients), in exchange for one
# Python process instead of eight (each paid 1.3-2 s of imports). See docs/hpc.md.

# The analyses, their tables and the package modules they load: one registry, read here at
# DAG build time (it imports no pandas, scipy or lifelines) and by alsalvage.stats.run.
STATS_REGISTRY = shipped_module("workflow/scripts/alsalvage/stats/registry.py")
STATS = list(STATS_REGISTRY.NAMES)
STATS_CODE = STATS_REGISTRY.code_modules()


rule stats:
    input:
        adsl=rules.derive_baseline.output.parquet,
        adrs=rules.derive_responses.output.parquet,
        adtte=rules.derive_endpoints.output.parquet,
        adae=rules.derive_adverse_events.output.parquet,
        labs=rules.validate.output.labs,
        code=pkg("rulelog", *STATS_CODE),
    output:
        tables=[
            report(
                result_path(f"tables/{name}.csv"),
                caption="../report/table.rst",
                category="Tables",
                labels={"table": name},
            )
            for name in STATS
        ],
        results=result_path("stats/results.json"),
    log:
        log_path("stats.log"),
    benchmark:
        benchmark_path("stats.tsv")
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
        **STATS_REGISTRY.rule_params(config),
        meta={
            "schema": "alsalvage-results/1",
            "synthetic": config["study"]["synthetic"],
            "reference_date": config["study"]["reference_date"],
            "alpha": config["stats"]["alpha"],
        },
    script:
        "../scripts/stats.py"
