# Stage 1: validate the raw exports and write typed, unit-converted tables.


rule validate:
    input:
        unpack(raw_inputs),
        code=pkg("contract", "validation"),
    output:
        tables=expand("results/validated/{table}.parquet", table=TABLES),
        findings="results/validated/findings.csv",
    log:
        log="logs/validate.log",
        findings="logs/validate.findings.csv",
    benchmark:
        "benchmarks/validate.tsv"
    params:
        limits=config["validation"],
        inputs=config["inputs"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/validate.yaml"
    script:
        "../scripts/validate.py"
