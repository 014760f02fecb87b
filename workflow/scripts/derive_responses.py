"""Rule derive_responses: ADRS (hematologic/organ responses, hematologic progression)."""

from alsalvage.csvout import write_dataset
from alsalvage.datasets import check_written
from alsalvage.derive_common import limit_threads
from alsalvage.responses import check_inputs, derive_adrs, read_inputs
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
limit_threads(sm.threads)
with rule_log(sm.log[0], "derive_responses", sm.input) as log:
    files = {"adsl": sm.input.adsl, "outcomes": sm.input.outcomes, "labs": sm.input.labs}
    tables = read_inputs(files)
    check_inputs(tables["adsl"], tables["outcomes"], tables["labs"], files)
    params = {k: dict(sm.params[k]) for k in ("hematologic", "cardiac", "renal", "liver", "egfr", "study")}
    # popped: derive_adrs holds the only reference and frees the raw labs once encoded
    adrs = derive_adrs(tables.pop("adsl"), tables.pop("outcomes"), tables.pop("labs"), params, sm.params.response_confirmation)
    check_written("adrs", adrs)
    # derive_adrs returns the rows sorted by USUBJID, PARAMCD, ADT: no second sort
    write_dataset(adrs, sm.output.csv, sm.output.parquet, sort_by=())
    log.info("ADRS: %d rows, %d patients", len(adrs), adrs["USUBJID"].nunique())
