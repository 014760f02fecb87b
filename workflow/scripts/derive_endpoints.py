"""Rule derive_endpoints: ADTTE (OS, time to dialysis, hematologic PFS, time on treatment)."""

import logging

from alsalvage.csvout import write_dataset
from alsalvage.derive_common import DerivationError
from alsalvage.endpoints import check_inputs, derive_adtte, read_inputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("derive_endpoints")
try:
    files = {"adsl": sm.input.adsl, "adrs": sm.input.adrs, "outcomes": sm.input.outcomes}
    tables = read_inputs(files)
    check_inputs(tables["adsl"], tables["adrs"], tables["outcomes"], files)
    adtte = derive_adtte(tables["adsl"], tables["adrs"], tables["outcomes"], dict(sm.params.endpoints))
    write_dataset(adtte, sm.output.csv, sm.output.parquet, sort_by=["USUBJID", "PARAMCD"])
    log.info("ADTTE: %d rows, %d patients", len(adtte), adtte["USUBJID"].nunique())
except DerivationError as err:
    log.error("%s", err)
    raise
