# Stage 1: validate the raw exports and write typed, unit-converted tables.


rule validate:
    input:
        unpack(raw_inputs),
        code=pkg(
            "contract",
            "csvout",
            "derive_common",
            "exposure",
            "formatting",
            "rulelog",
            "validation",
        ),
    output:
        # one named output per table (rules.validate.output.labs, ...)
        **{t: result_path(f"validated/{t}.parquet") for t in TABLES},
        findings=result_path("validated/findings.csv"),
        # SHA-256 and row count of each raw input, as read here (the report's provenance)
        inputs=result_path("validated/inputs.json"),
    log:
        log=log_path("validate.log"),
        findings=log_path("validate.findings.csv"),
    benchmark:
        benchmark_path("validate.tsv")
    conda:
        "../envs/validate.yaml"
    threads: 1
    resources:
        # peak 2.9-5.8 GB at 100,000 patients (docs/performance.md); a retry asks for
        # 4000 MB x attempt. No `retries:` here: a rejected cohort fails the same way every
        # time, so retrying would only repeat the findings; the Slurm profile retries it
        # (docs/hpc.md, "Out of memory").
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=15,
    params:
        limits=config["validation"],
        inputs=config["inputs"],
        window_days=config["baseline"]["window_days"],
        involvement={
            "kidney_proteinuria_g": config["renal"]["involvement_proteinuria_g"],
            "heart_ntprobnp_ng_l": config["cardiac"]["involvement_ntprobnp_ng_l"],
            "liver_alp_x_uln": config["liver"]["involvement_alp_x_uln"],
        },
        upcr_as_proteinuria=config["renal"]["upcr_as_proteinuria"],
        drugs=config["drugs"],
        agents=config["study"]["agents"],
    script:
        "../scripts/validate.py"
