"""Rules demo_cohort and study_cohort: write a seeded synthetic cohort (six raw CSV tables),
the seed study's plan scaled to n patients, or the plan of a study description."""

import logging

from alsalvage.synthetic import load_study, write_cohort

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
if sm.params.description:
    study, n, seed = load_study(sm.params.description)
    logging.info("rule study_cohort: study description %s", sm.params.description)
else:
    study, n, seed = None, int(sm.params.n_patients), int(sm.params.seed)
rows = write_cohort(n, seed, sm.params.outdir, study)
for name, count in rows.items():
    logging.info("rule %s: %s.csv: %d rows (n=%d, seed=%d)", sm.rule, name, count, n, seed)
