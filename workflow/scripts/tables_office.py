"""Rule tables_office: thin entry; the tables as .docx and .xlsx (alsalvage.office)."""

import json
from pathlib import Path

from alsalvage.office import write_office_tables
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with rule_log(sm.log[0], "tables_office", sm.input) as log:
    with open(sm.input.results) as fh:
        results = json.load(fh)

    def by_name(paths):
        return {Path(p).stem: p for p in paths}

    counts = write_office_tables(
        results=results,
        csvs=by_name(sm.input.tables),
        docx=by_name(sm.output.docx),
        xlsx=by_name(sm.output.xlsx),
        reference_date=sm.params.reference_date,
        regimen=sm.params.regimen,
        prior_exposure=sm.params.prior_exposure,
    )
    for name, n in counts.items():
        log.info("table %s: %d rows written as .docx and .xlsx", name, n)
