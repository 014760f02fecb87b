"""The prior-exposure grouping as configuration (issue 13): which comparisons the analyses
make (analysis.comparisons; none with prior_exposure: null), and the wording of the groups
(study.Wording) in records, tables, titles and figure settings.

The cohort is tests/stats_data.small_cohort (10 patients, all three groups present)."""

from __future__ import annotations

import re
import sys

import pytest

from config_defaults import config_defaults, stats_params
from helpers import REPO
from stats_data import small_cohort

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import figure_registry, office  # noqa: E402
from alsalvage.report import grouped_table, has_groups  # noqa: E402
from alsalvage.stats.registry import BY_NAME, NAMES, rule_params  # noqa: E402
from alsalvage.stats.run import run_analysis  # noqa: E402
from alsalvage.study import COMPARISONS, Wording, comparisons  # noqa: E402

# Key patterns of each comparison (docs/results.md).
FAMILIES = {
    "by_group": r"\.by_pexgrp\.",
    "sensitive_vs_refractory": r"\.sensitive_vs_refractory\.",
    "naive_vs_exposed": r"(\.naive_vs_exposed\.|^hem\.by_exposure\.)",
    "refractory_vs_non": r"^hem\.refractory_vs_non\.",
}
DARA = {"label": "daratumumab", "agents": [], "classes": ["anti-CD38"]}
BZ = {"label": "bortezomib", "agents": ["bortezomib"], "classes": []}


@pytest.fixture(scope="module")
def d():
    return small_cohort()


def records(d, prior_exposure, chosen) -> dict:
    """Every analysis's records, keyed, with the grouping params as rule_params gives them."""
    params = stats_params(prior_exposure=prior_exposure, comparisons=list(chosen) if prior_exposure else [])
    out = {}
    for name in NAMES:
        for r in run_analysis(BY_NAME[name], d, params)[0]:
            out[r["key"]] = r
    return out


# (prior_exposure, analysis.comparisons) -> the comparisons whose keys must be present
CASES = {
    "default": (BZ, COMPARISONS, set(COMPARISONS)),
    "no_grouping": (None, COMPARISONS, set()),
    "grouping_no_comparison": (BZ, (), set()),
    "naive_vs_exposed_only": (BZ, ("naive_vs_exposed",), {"naive_vs_exposed"}),
    "by_group_only": (DARA, ("by_group",), {"by_group"}),
    "pairs": (BZ, ("sensitive_vs_refractory", "refractory_vs_non"), {"sensitive_vs_refractory", "refractory_vs_non"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_keys_follow_the_comparisons(d, case):
    pex, chosen, present = CASES[case]
    recs = records(d, pex, chosen)
    for fam, pattern in FAMILIES.items():
        hits = [k for k in recs if re.search(pattern, k)]
        assert bool(hits) == (fam in present), (fam, hits[:3])
    # the descriptive prior-exposure rows of Table 1 need a grouping, not a comparison
    assert any(k.startswith("prior.exposure.") for k in recs) == (pex is not None)
    # the Cox model keeps its stage terms; the naive term only with naive_vs_exposed
    assert "os.cox.mayo2004_III.hr" in recs and "os.cox.events" in recs
    assert ("os.cox.naive_vs_exposed.hr" in recs) == ("naive_vs_exposed" in present)


def test_no_grouping_names_no_exposure(d):
    recs = records(d, None, COMPARISONS)
    words = [r.get("label") or "" for r in recs.values()] + [r.get("method") or "" for r in recs.values()]
    assert not [w for w in words if re.search("bortezomib|naive|refractory", w, re.I)]


def test_group_wording_comes_from_the_label(d):
    recs = records(d, DARA, COMPARISONS)
    labels = " ".join(r.get("label") or "" for r in recs.values())
    assert "bortezomib" not in labels.lower()
    assert recs["prior.exposure.exposed"]["label"] == "Prior daratumumab"
    assert recs["prior.exposure.naive"]["label"] == "Daratumumab naive"
    assert recs["baseline.age.by_pexgrp.p"]["label"] == "Age (years): p across daratumumab groups"
    assert recs["os.by_pexgrp.logrank_p"]["label"] == "OS by daratumumab group: log-rank p"
    default = records(d, BZ, COMPARISONS)
    assert default["prior.exposure.exposed"]["label"] == "Prior bortezomib"
    # the wording changes the labels only: the same keys and numbers
    assert set(recs) == set(default)
    assert all(recs[k]["formatted"] == default[k]["formatted"] for k in recs)


@pytest.mark.parametrize(
    "pex,headers,title",
    [
        (BZ, ["Bortezomib-naive", "Potentially sensitive", "Refractory"], ", overall and by prior bortezomib"),
        (DARA, ["Daratumumab-naive", "Potentially sensitive", "Refractory"], ", overall and by prior daratumumab"),
        ({**DARA, "label": "anti-CD38"}, ["Anti-CD38-naive", "Potentially sensitive", "Refractory"], ", overall and by prior anti-CD38"),
        (None, [], ""),
    ],
)
def test_wording(pex, headers, title):
    w = Wording.from_params(None, pex)
    assert w.group_headers() == headers
    assert w.title("Table 1{by_group}", has_groups=True) == f"Table 1{title}"
    assert w.title("Table 1{by_group}", has_groups=False) == "Table 1"


@pytest.mark.parametrize("pex,chosen", [(None, COMPARISONS), (BZ, ()), (BZ, ("naive_vs_exposed",))])
def test_table1_layout_has_no_empty_group_columns(d, pex, chosen):
    recs = records(d, pex, chosen)
    keys = [k for k in recs if k.startswith(("baseline.", "prior."))]
    assert not has_groups(recs)
    t = grouped_table(recs, keys)
    assert t["compare"] is False and all(r["groups"] == [] for r in t["rows"])
    layout = office.table_layout("table1", keys, recs, Wording.from_params(None, pex))
    assert layout["header"] == ["Characteristic", "All patients", "95% CI", "Note"]
    assert all(len(row) == 4 for row in layout["rows"])


def test_table1_layout_with_groups(d):
    recs = records(d, DARA, COMPARISONS)
    keys = [k for k in recs if k.startswith(("baseline.", "prior."))]
    layout = office.table_layout("table1", keys, recs, Wording.from_params(None, DARA))
    assert layout["header"][3:6] == ["Daratumumab-naive", "Potentially sensitive", "Refractory"]
    assert layout["header"][6:] == ["p", "Test", "SMD", "Missing", "Note"]


@pytest.mark.parametrize(
    "pex,chosen,made,figures_drawn",
    [
        (BZ, COMPARISONS, list(COMPARISONS), True),
        (None, COMPARISONS, [], False),
        (BZ, ["naive_vs_exposed"], ["naive_vs_exposed"], False),
    ],
)
def test_rule_params_and_figures_follow_the_configuration(pex, chosen, made, figures_drawn):
    cfg = config_defaults()
    cfg["prior_exposure"] = None if pex is None else {**cfg["prior_exposure"], **pex}
    cfg["analysis"] = {**cfg["analysis"], "comparisons": list(chosen)}
    assert rule_params(cfg)["comparisons"] == made == comparisons(cfg["prior_exposure"], chosen)
    assert ("km_os_by_group" in figure_registry.figures(cfg)) is figures_drawn
    assert figure_registry.settings(cfg, "cif_dialysis")["exposure_label"] == (pex or {}).get("label")


def test_default_configuration_is_bortezomib_with_every_comparison():
    cfg = config_defaults()
    assert cfg["prior_exposure"]["label"] == "bortezomib" and cfg["prior_exposure"]["agents"] == ["bortezomib"]
    assert cfg["analysis"]["comparisons"] == list(COMPARISONS)


@pytest.mark.workflow
@pytest.mark.slow
def test_run_without_grouping_has_no_group_output(tmp_path):
    """The demo with prior_exposure: null (and no published figures, whose Athens rows name
    bortezomib): no by-group key, figure, column or word anywhere in the outputs."""
    import csv
    import json

    from helpers import copy_project, snakemake

    work = copy_project(tmp_path / "nogroup")
    (work / "nogroup.yaml").write_text("prior_exposure: null\nstudy:\n  published_figures: null\n")
    snakemake(work, "--configfile", "nogroup.yaml", check=True, timeout=1500)
    res = work / "results"
    recs = json.loads((res / "stats" / "results.json").read_text())["results"]
    assert not [k for k in recs if any(re.search(p, k) for p in FAMILIES.values()) or k.startswith("prior.exposure.")]
    assert not (res / "figures" / "km_os_by_group.svg").exists()
    html = (res / "report.html").read_text()
    assert "km_os_by_group" not in html
    text = re.sub(r"data:[^\"']+", "", html)
    assert not re.search(r"bortezomib|-naive|Potentially sensitive", text, re.I)
    assert "<th>Characteristic</th><th>All patients</th><th>95% CI</th>\n<th>Note</th></tr>" in html
    for f in [*res.glob("tables/*.csv"), *res.glob("figures/*.json")]:
        assert "bortezomib" not in f.read_text().lower(), f
    with open(res / "derived" / "adsl.csv", newline="") as fh:
        assert {row["PEXGRP"] for row in csv.DictReader(fh)} == {"none"}


@pytest.mark.workflow
@pytest.mark.slow
def test_run_grouped_by_daratumumab_never_says_bortezomib(tmp_path):
    """The demo grouped by prior daratumumab (label and agents laid over config.yaml; no
    published figures, whose rows quote the seed study's bortezomib groups): the figures'
    titles and captions, the CSV, Word and Excel tables, the derived datasets and the
    report's results name daratumumab wherever they name the grouping, never bortezomib.
    (The configuration echo and the provenance, after the results, print the schema's
    own descriptions and are left out.)"""
    from docx import Document
    from openpyxl import load_workbook

    from helpers import copy_project, snakemake

    work = copy_project(tmp_path / "dara")
    (work / "dara.yaml").write_text("prior_exposure:\n  label: daratumumab\n  agents: [daratumumab]\n"
                                    "study:\n  published_figures: null\n")
    snakemake(work, "--configfile", "dara.yaml", check=True, timeout=1500)
    res = work / "results"
    texts = {f.name: f.read_text() for f in [*res.glob("tables/*.csv"), *res.glob("figures/*.json"),
                                               *res.glob("derived/*.csv")]}
    for f in res.glob("tables/*.docx"):
        doc = Document(str(f))
        texts[f.name] = "\n".join([p.text for p in doc.paragraphs]
                                  + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    for f in res.glob("tables/*.xlsx"):
        book = load_workbook(str(f), read_only=True)
        texts[f.name] = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                                  for v in row if v is not None)
    html = (res / "report.html").read_text()
    texts["report.html"] = re.sub(r"data:[^\"']+", "", html).split('id="provenance"')[0]
    assert {"km_os_by_group.json", "table1.docx", "table1.xlsx", "report.html"} <= set(texts)
    assert not [name for name, text in texts.items() if "bortezomib" in text.lower()]
    assert "Overall survival by prior daratumumab" in texts["km_os_by_group.json"]
    assert "Daratumumab-naive" in texts["table1.docx"] and "Daratumumab-naive" in texts["report.html"]
