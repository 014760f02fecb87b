# Stage 2: baseline derivations (ADSL) and adverse events (ADAE) from the validated tables.
# Params carry only the config keys these rules read: a response threshold does not rerun them.


rule derive_baseline:
    input:
        patients=rules.validate.output.patients,
        therapy_lines=rules.validate.output.therapy_lines,
        salvage_cycles=rules.validate.output.salvage_cycles,
        outcomes=rules.validate.output.outcomes,
        labs=rules.validate.output.labs,
        code=pkg(
            "censored",
            "contract",
            "csvout",
            "datasets",
            "derive_common",
            "formatting",
            "egfr",
            "staging",
            "exposure",
            "hematologic",
            "baseline",
            "rulelog",
        ),
    output:
        csv=result_path("derived/adsl.csv"),
        parquet=result_path("derived/adsl.parquet"),
    log:
        log_path("derive_baseline.log"),
    benchmark:
        benchmark_path("derive_baseline.tsv")
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
        window_days=config["baseline"]["window_days"],
        egfr_equation=config["egfr"]["equation"],
        staging=config["staging"],
        prior_exposure=config["prior_exposure"],
        drugs=config["drugs"],
        measurable_dflc_mg_l=config["hematologic"]["measurable_dflc_mg_l"],
        low_dflc_min_mg_l=config["hematologic"]["low_dflc_min_mg_l"],
        flc_ratio_low=config["hematologic"]["flc_ratio_low"],
        flc_ratio_high=config["hematologic"]["flc_ratio_high"],
        days_per_month=config["endpoints"]["days_per_month"],
        death_on_treatment_days=config["exposure"]["death_on_treatment_days"],
        upcr_as_proteinuria=config["renal"]["upcr_as_proteinuria"],
        agents=config["study"]["agents"],
    script:
        "../scripts/derive_baseline.py"


rule derive_adverse_events:
    input:
        adverse_events=rules.validate.output.adverse_events,
        # first and last dose (TRTSDT, TRTEDT) for the treatment-emergent window
        adsl=rules.derive_baseline.output.parquet,
        code=pkg(
            "csvout",
            "datasets",
            "derive_common",
            "formatting",
            "adverse_events",
            "rulelog",
        ),
    output:
        csv=result_path("derived/adae.csv"),
        parquet=result_path("derived/adae.parquet"),
    log:
        log_path("derive_adverse_events.log"),
    benchmark:
        benchmark_path("derive_adverse_events.tsv")
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
        teae_days=config["exposure"]["teae_days_after_last_dose"],
    script:
        "../scripts/derive_adverse_events.py"
