"""Rule derive_endpoints: ADTTE (OS, time to dialysis, hematologic PFS, time on treatment,
time to next treatment)."""

from alsalvage.csvout import write_dataset
from alsalvage.datasets import check_written
from alsalvage.derive_common import limit_threads
from alsalvage.endpoints import check_inputs, derive_adtte, read_inputs
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
limit_threads(sm.threads)
with rule_log(sm.log[0], "derive_endpoints", sm.input) as log:
    files = {"adsl": sm.input.adsl, "adrs": sm.input.adrs, "outcomes": sm.input.outcomes}
    tables = read_inputs(files)
    check_inputs(tables["adsl"], tables["adrs"], tables["outcomes"], files)
    adtte = derive_adtte(tables["adsl"], tables["adrs"], tables["outcomes"], {**dict(sm.params.endpoints), "regimen": sm.params.regimen})
    check_written("adtte", adtte)
    write_dataset(adtte, sm.output.csv, sm.output.parquet, sort_by=["USUBJID", "PARAMCD"])
    log.info("ADTTE: %d rows, %d patients", len(adtte), adtte["USUBJID"].nunique())
