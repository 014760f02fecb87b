"""Rule derive_baseline: ADSL (baseline, staging, prior therapy, exposure) from validated tables."""

from alsalvage.baseline import derive_adsl, required_inputs
from alsalvage.csvout import write_dataset
from alsalvage.datasets import check_written
from alsalvage.derive_common import limit_threads, read_validated
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
limit_threads(sm.threads)
KEYS = (
    "window_days",
    "egfr_equation",
    "staging",
    "prior_exposure",
    "drugs",
    "measurable_dflc_mg_l",
    "low_dflc_min_mg_l",
    "flc_ratio_low",
    "flc_ratio_high",
    "days_per_month",
    "death_on_treatment_days",
    "upcr_as_proteinuria",
    "agents",
)
with rule_log(sm.log[0], "derive_baseline", sm.input) as log:
    required = required_inputs(sm.params.agents)
    files = {t: sm.input[t] for t in required}
    tables = read_validated(files, "derive_baseline", required, categorical=["labs"])
    params = {k: (dict(v) if hasattr(v, "keys") else v) for k, v in ((k, sm.params[k]) for k in KEYS)}
    adsl = derive_adsl(tables, params, files)
    check_written("adsl", adsl)
    write_dataset(adsl, sm.output.csv, sm.output.parquet, sort_by=["USUBJID"])
    log.info("ADSL: %d patients, %d treated (SAFFL=Y)", len(adsl), int((adsl["SAFFL"] == "Y").sum()))
