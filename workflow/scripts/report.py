"""Rule report: the self-contained HTML report (results/report.html)."""

from pathlib import Path

from alsalvage.report import build_report
from alsalvage.rulelog import rule_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with rule_log(sm.log[0], "report", sm.input) as log:
    names = [Path(p).stem for p in sm.input.svgs]
    html = build_report(
        results_path=sm.input.results,
        findings_path=sm.input.findings,
        adsl_path=sm.input.adsl,
        # none when the study has no published figures (input.published is then empty)
        seed_study_path=sm.input.published or None,
        strobe_path=sm.input.strobe,
        schema_path=sm.input.schema,
        template_path=sm.input.template,
        svgs=dict(zip(names, sm.input.svgs)),
        captions=dict(zip(names, sm.input.captions)),
        inputs_path=sm.input.raw,
        config=dict(sm.params.config),
    )
    Path(sm.output.html).write_text(html, encoding="utf-8")
    log.info("report: %d bytes", len(html.encode("utf-8")))
