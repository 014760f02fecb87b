# Stage 6: the self-contained HTML report a clinician opens (results/report.html).


rule report:
    input:
        results=rules.stats.output.results,
        findings=rules.validate.output.findings,
        # hash and rows of each raw input, recorded by validate as it read them (a changed
        # raw input reaches the report through validate)
        raw=rules.validate.output.inputs,
        adsl=rules.derive_baseline.output.parquet,
        svgs=expand(rules.figure.output.svg, name=FIGURES),
        captions=expand(rules.figure.output.json, name=FIGURES),
        # the study's published figures (config study.published_figures); none: no comparison
        published=published_figures(),
        strobe=shipped("resources/strobe_cohort.yaml"),
        schema=shipped("workflow/schemas/config.schema.yaml"),
        template=shipped("workflow/templates/report.html.j2"),
        code=pkg("figure_registry", "formatting", "report", "rulelog", "study"),
    output:
        html=report(
            result_path("report.html"),
            caption="../report/report_html.rst",
            category="Report",
            labels={"file": "report.html"},
        ),
    log:
        log_path("report.log"),
    benchmark:
        benchmark_path("report.tsv")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        config=config,
    script:
        "../scripts/report.py"
