# The seeded synthetic cohort generator, as a rule (on demand, not part of `all`):
#   snakemake --cores 1 results/synthetic/n1000_seed7/patients.csv


rule demo_cohort:
    input:
        code=pkg("contract", "synthetic"),
    output:
        expand("results/synthetic/n{{n}}_seed{{seed}}/{table}.csv", table=TABLES),
    log:
        "logs/demo_cohort/n{n}_seed{seed}.log",
    benchmark:
        "benchmarks/demo_cohort/n{n}_seed{seed}.tsv"
    wildcard_constraints:
        n=r"\d+",
        seed=r"\d+",
    params:
        n_patients=lambda wc: int(wc.n),
        seed=lambda wc: int(wc.seed),
        outdir=subpath(output[0], parent=True),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/validate.yaml"
    script:
        "../scripts/demo_cohort.py"
