"""Rule derive_adverse_events: ADAE (worst CTCAE grade per patient and term)."""

from alsalvage.adverse_events import REQUIRED, derive_adae
from alsalvage.csvout import write_dataset
from alsalvage.derive_common import limit_threads, read_validated
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
limit_threads(sm.threads)
with rule_log(sm.log[0], "derive_adverse_events", sm.input) as log:
    path = sm.input.adverse_events
    ae = read_validated({"adverse_events": path}, "derive_adverse_events", {"adverse_events": REQUIRED})
    adae = derive_adae(ae["adverse_events"], file=str(path))
    write_dataset(adae, sm.output.csv, sm.output.parquet, sort_by=["USUBJID", "AETERM"])
    log.info("ADAE: %d rows, %d patients", len(adae), adae["USUBJID"].nunique())
