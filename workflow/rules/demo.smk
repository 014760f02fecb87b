# The seeded synthetic cohort generator, as rules (on demand, not part of `all`):
#   snakemake --cores 1 results/synthetic/n1000_seed7/patients.csv
# the seed study's plan scaled to n patients, and
#   snakemake --cores 1 results/synthetic/pomalidomide/patients.csv
# the cohort planned for a study description, studies/<study>/cohort.yaml
# (docs/synthetic-cohort.md, "Any study").


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
        description=None,
        outdir=subpath(output[0], parent=True),
    script:
        "../scripts/demo_cohort.py"


rule study_cohort:
    input:
        description=lambda wc: study_description(wc.study),
        code=pkg("contract", "egfr", "survival", "synthetic"),
    output:
        expand(result_path("synthetic/{{study}}/{table}.csv"), table=TABLES),
    log:
        log_path("study_cohort/{study}.log"),
    benchmark:
        benchmark_path("study_cohort/{study}.tsv")
    wildcard_constraints:
        study=r"(?!n\d+_seed\d+/)[A-Za-z][A-Za-z0-9_\-]*",  # not a demo_cohort directory
    conda:
        "../envs/validate.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        n_patients=None,
        seed=None,
        description=lambda wc, input: input.description,
        outdir=subpath(output[0], parent=True),
    script:
        "../scripts/demo_cohort.py"
