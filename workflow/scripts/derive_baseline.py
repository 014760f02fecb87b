"""Rule derive_baseline: ADSL (baseline, staging, prior therapy, exposure) from validated tables."""

import logging

from alsalvage.baseline import REQUIRED, derive_adsl
from alsalvage.derive_common import DerivationError, read_validated, write_dataset

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("derive_baseline")
KEYS = (
    "window_days",
    "egfr_equation",
    "staging",
    "bortezomib",
    "measurable_dflc_mg_l",
    "low_dflc_min_mg_l",
    "days_per_month",
    "death_on_treatment_days",
)
try:
    files = {t: sm.input[t] for t in REQUIRED}
    tables = read_validated(files, "derive_baseline", REQUIRED, categorical=["labs"])
    params = {k: (dict(v) if hasattr(v, "keys") else v) for k, v in ((k, sm.params[k]) for k in KEYS)}
    adsl = derive_adsl(tables, params, files)
    write_dataset(adsl, sm.output.csv, sm.output.parquet, sort_by=["USUBJID"])
    log.info("ADSL: %d patients, %d treated (SAFFL=Y)", len(adsl), int((adsl["SAFFL"] == "Y").sum()))
except DerivationError as err:
    log.error("%s", err)
    raise
