"""Rule derive_adverse_events: ADAE (worst CTCAE grade per patient, term and
treatment-emergent flag; first and last dose from ADSL)."""

from alsalvage.adverse_events import derive_adae
from alsalvage.csvout import write_dataset
from alsalvage.datasets import check_written
from alsalvage.derive_common import limit_threads, read_validated
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
limit_threads(sm.threads)
with rule_log(sm.log[0], "derive_adverse_events", sm.input) as log:
    path, adsl_path = sm.input.adverse_events, sm.input.adsl
    tables = read_validated(
        {"adverse_events": path, "adsl": adsl_path},
        "derive_adverse_events",
    )  # the columns of both are checked together by derive_adae (ADSL's by datasets.problems)
    adae = derive_adae(
        tables["adverse_events"],
        tables["adsl"],
        sm.params.teae_days,
        file=str(path),
        adsl_file=str(adsl_path),
    )
    check_written("adae", adae)
    write_dataset(adae, sm.output.csv, sm.output.parquet, sort_by=["USUBJID", "AETERM", "TRTEMFL"])
    log.info(
        "ADAE: %d rows, %d patients, %d rows not treatment-emergent (TRTEMFL = N)",
        len(adae),
        adae["USUBJID"].nunique(),
        int((adae["TRTEMFL"] == "N").sum()),
    )
