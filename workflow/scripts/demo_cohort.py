"""Rule demo_cohort: write the seeded synthetic cohort (six raw CSV tables)."""

import logging

from alsalvage.synthetic import write_cohort

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
n, seed = int(sm.params.n_patients), int(sm.params.seed)
rows = write_cohort(n, seed, sm.params.outdir)
for name, count in rows.items():
    logging.info("rule demo_cohort: %s.csv: %d rows (n=%d, seed=%d)", name, count, n, seed)
