"""Rule derive_adverse_events: ADAE (worst CTCAE grade per patient and term)."""

import logging

from alsalvage.adverse_events import REQUIRED, derive_adae
from alsalvage.derive_common import DerivationError, read_validated, write_dataset

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("derive_adverse_events")
try:
    path = sm.input.adverse_events
    ae = read_validated({"adverse_events": path}, "derive_adverse_events", {"adverse_events": REQUIRED})
    adae = derive_adae(ae["adverse_events"], file=str(path))
    write_dataset(adae, sm.output.csv, sm.output.parquet, sort_by=["USUBJID", "AETERM"])
    log.info("ADAE: %d rows, %d patients", len(adae), adae["USUBJID"].nunique())
except DerivationError as err:
    log.error("%s", err)
    raise
