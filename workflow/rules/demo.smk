# The seeded synthetic cohort generator, as a rule (on demand, not part of `all`):
#   snakemake --cores 1 results/synthetic/n1000_seed7/patients.csv


rule demo_cohort:
    input:
        code=pkg("contract", "egfr", "survival", "synthetic"),
    output:
        expand(result_path("synthetic/n{{n}}_seed{{seed}}/{table}.csv"), table=TABLES),
    log:
        log_path("demo_cohort/n{n}_seed{seed}.log"),
    benchmark:
        benchmark_path("demo_cohort/n{n}_seed{seed}.tsv")
    wildcard_constraints:
        n=r"\d+",
        seed=r"\d+",
    conda:
        "../envs/validate.yaml"
    threads: 1
    resources:
        # measured peak RSS: 0.2 GB at n = 1,000, 0.5 GB at 10,000, 0.8 GB at 100,000
        mem_mb=lambda wc: 1000 + int(wc.n) // 100,
        runtime=30,
    params:
        n_patients=lambda wc: int(wc.n),
        seed=lambda wc: int(wc.seed),
        outdir=subpath(output[0], parent=True),
    script:
        "../scripts/demo_cohort.py"
