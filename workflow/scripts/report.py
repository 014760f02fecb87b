"""Rule report: the self-contained HTML report (results/report.html)."""

import logging
from pathlib import Path

from alsalvage.report import ReportInputError, build_report

sm = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=sm.log[0], filemode="w", level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("report")
try:
    names = [Path(p).stem for p in sm.input.svgs]
    html = build_report(
        results_path=sm.input.results,
        findings_path=sm.input.findings,
        adsl_path=sm.input.adsl,
        seed_study_path=sm.input.seed_study,
        strobe_path=sm.input.strobe,
        schema_path=sm.input.schema,
        template_path=sm.input.template,
        svgs=dict(zip(names, sm.input.svgs)),
        captions=dict(zip(names, sm.input.captions)),
        raw_inputs=dict(sm.params.inputs),
        config=dict(sm.params.config),
        repo_dir=sm.params.repo_dir,
    )
    Path(sm.output.html).write_text(html, encoding="utf-8")
    log.info("report: %d bytes", len(html.encode("utf-8")))
except (ReportInputError, KeyError) as err:
    log.error("rule report: %s", err)
    raise ReportInputError(f"rule report: {err}") from err
