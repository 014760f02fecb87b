"""The report opened in a real headless Chromium: no console errors, no network requests,
every figure loads, and a screenshot is produced. Skips locally without Chromium or
Playwright's Python package; in CI (CI=true) their absence is a failure."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from alsalvage import figures, report
from config_defaults import figure_params
from helpers import REPO, require
from report_fixtures import XSS, load_config, write_fixture

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    p = write_fixture(tmp / "in", n=40, tox_label=XSS, finding_text=XSS)
    data = figures.load_inputs({k: p[k] for k in figures.INPUT_NAMES}, [3, 6])
    params = figure_params(seed=3)
    svgs, caps = {}, {}
    for name in figures.FIGURES:
        svgs[name] = tmp / f"{name}.svg"
        caps[name] = tmp / f"{name}.json"
        figures.write_caption(caps[name], name, figures.render(name, data, params, {"svg": svgs[name]}))
    cfg, _ = load_config()
    html = report.build_report(
        results_path=p["results"],
        findings_path=p["findings"],
        adsl_path=p["adsl"],
        seed_study_path=REPO / "resources" / "seed_study.yaml",
        strobe_path=REPO / "resources" / "strobe_cohort.yaml",
        schema_path=REPO / "workflow" / "schemas" / "config.schema.yaml",
        template_path=REPO / "workflow" / "templates" / "report.html.j2",
        svgs=svgs,
        captions=caps,
        inputs_path=p["inputs"],
        config=cfg,
        repo_dir=REPO,
    )
    out = tmp / "report.html"
    out.write_text(html, encoding="utf-8")
    return out


@pytest.mark.slow
def test_report_in_headless_chromium(report_file, tmp_path):
    require(Path(CHROMIUM).is_file() or shutil.which("chromium") is not None, f"Chromium not found at {CHROMIUM}")
    require(importlib.util.find_spec("playwright") is not None, "Python package playwright not installed")
    from playwright.sync_api import sync_playwright

    url = report_file.resolve().as_uri()
    console_errors, requests, page_errors = [], [], []
    shot = tmp_path / "report.png"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),  # a fresh profile for every run
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
            headless=True,
            args=ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            # anything but the report itself is refused (and recorded above)
            context.route(
                "**/*",
                lambda route: route.continue_() if route.request.url == url else route.abort(),
            )
            page.goto(url, wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => ({complete: i.complete, w: i.naturalWidth, alt: i.alt}))"
            )
            scripts = page.evaluate("document.scripts.length")
            title = page.title()
            page.screenshot(path=str(shot), full_page=True)
            page.emulate_media(media="print")
            page.screenshot(path=str(tmp_path / "report-print.png"), full_page=False)
        finally:
            context.close()
    network = [u for u in requests if u != url and not u.startswith("data:")]
    assert not network, f"network requests besides the report: {network}"
    assert not console_errors and not page_errors, (console_errors, page_errors)
    assert len(images) == len(figures.FIGURES)
    broken = [i["alt"] for i in images if not (i["complete"] and i["w"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert scripts == 0  # the <script> in the data stayed text
    assert title.startswith("Lenalidomide")
    assert shot.is_file() and shot.stat().st_size > 10_000
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report.png")
        shutil.copy(report_file, Path(keep) / "report.html")
