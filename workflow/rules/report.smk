# Stage 6: the self-contained HTML report a clinician opens (results/report.html).


rule report:
    input:
        results="results/stats/results.json",
        findings="results/validated/findings.csv",
        adsl="results/derived/adsl.parquet",
        svgs=expand("results/figures/{figure}.svg", figure=FIGURES),
        captions=expand("results/figures/{figure}.json", figure=FIGURES),
        seed_study=shipped("resources/seed_study.yaml"),
        strobe=shipped("resources/strobe_cohort.yaml"),
        schema=shipped("workflow/schemas/config.schema.yaml"),
        template=shipped("workflow/templates/report.html.j2"),
        # read from here; the report prints the configured paths (params.inputs)
        raw=raw_input_files(),
        code=pkg("figure_registry", "formatting", "report", "rulelog"),
    output:
        html=report(
            "results/report.html",
            caption="../report/report_html.rst",
            category="Report",
            labels={"file": "report.html"},
        ),
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        config=config,
        inputs=config["inputs"],
    script:
        "../scripts/report.py"
