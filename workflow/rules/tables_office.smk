# Stage 5b: the statistics tables as editable Word and Excel files beside their CSVs
# (results/tables/<name>.docx and .xlsx), laid out as in the report, with footnotes.
# Its own rule, not part of `stats`: a change to the layout reruns these seconds of
# work, not the analyses. Timestamps inside the files are the study's reference date.


rule tables_office:
    input:
        tables=rules.stats.output.tables,
        results=rules.stats.output.results,
        code=pkg(
            "figure_registry",
            "formatting",
            "office",
            "report",
            "rulelog",
            "stats/__init__",
            "stats/registry",
            "study",
        ),
    output:
        docx=expand(result_path("tables/{name}.docx"), name=STATS),
        xlsx=expand(result_path("tables/{name}.xlsx"), name=STATS),
    log:
        log_path("tables_office.log"),
    benchmark:
        benchmark_path("tables_office.tsv")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        reference_date=config["study"]["reference_date"],
        regimen=config["study"]["regimen"],
        prior_exposure=config["prior_exposure"],
    script:
        "../scripts/tables_office.py"
