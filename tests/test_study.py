"""The study's wording (alsalvage.study): every phrase naming the salvage regimen comes from
the configuration; a pomalidomide study's report, figures and tables never say lenalidomide."""

from __future__ import annotations

import ast
import copy
import json
import re

import matplotlib.pyplot as plt
import pytest
import yaml

from alsalvage import figures, report, study
from alsalvage.figure_registry import TITLES
from alsalvage.figure_registry import settings as figure_settings
from alsalvage.stats.registry import ANALYSES, BY_NAME
from alsalvage.stats.run import run_analysis
from config_defaults import config_defaults, figure_params, stats_params
from helpers import REPO
from report_fixtures import load_config, write_fixture
from stats_data import small_cohort

POM = {"name": "pomalidomide", "class": "IMiD", "dose_column": "pomalidomide_mg", "dose_unit": "mg", "full_dose": 4}
DARA = {"name": "daratumumab", "class": "anti-CD38", "dose_column": "daratumumab_mg_kg", "dose_unit": "mg/kg",
        "full_dose": 16}
LEN = {"name": "lenalidomide", "class": "IMiD", "dose_column": "lenalidomide_mg", "dose_unit": "mg", "full_dose": 25}


@pytest.mark.parametrize("cfg, regimen", [
    ({"regimen": None, "agents": [LEN]}, "lenalidomide"),
    ({"regimen": None, "agents": [POM]}, "pomalidomide"),
    ({"regimen": None, "agents": [LEN, POM, DARA]}, "lenalidomide / pomalidomide / daratumumab"),
    ({"regimen": "Pd", "agents": [POM]}, "Pd"),
    ({"regimen": "", "agents": [DARA]}, "daratumumab"),
])
def test_regimen_is_configured_or_the_agents_names(cfg, regimen):
    assert study.regimen_of(cfg) == regimen
    assert study.resolve(cfg)["regimen"] == regimen
    w = study.Wording.from_params({**cfg, "imid_caveat_classes": ["IMiD"]}, None)
    assert (w.start, w.time_on, w.on) == (f"the start of {regimen}", f"Time on {regimen}", f"On {regimen}")
    assert w.fill("Died on {regimen}") == f"Died on {regimen}"


def test_a_study_without_regimen_or_agents_is_refused():
    with pytest.raises(ValueError, match="regimen"):
        study.regimen_of({"regimen": None, "agents": []})


@pytest.mark.parametrize("agents, classes, caveat, note", [
    ([LEN], ["IMiD"], ("lenalidomide",),
     "Cardiac calls made under lenalidomide (an IMiD, which raises NT-proBNP) are flagged."),
    ([POM], ["IMiD"], ("pomalidomide",),
     "Cardiac calls made under pomalidomide (an IMiD, which raises NT-proBNP) are flagged."),
    ([DARA], ["IMiD"], (), None),
    ([LEN, DARA], ["IMiD"], ("lenalidomide",),
     "Cardiac calls made under lenalidomide (an IMiD, which raises NT-proBNP) are flagged."),
    ([LEN], [], (), None),
])
def test_imid_caveat_follows_the_agent_classes(agents, classes, caveat, note):
    w = study.Wording.from_params({"regimen": None, "agents": agents, "imid_caveat_classes": classes}, None)
    assert w.caveat_agents == caveat
    assert w.imid_caveat is bool(caveat)
    assert w.imid_caveat_note == note
    assert w.fill("under {caveat_agents}") == "under " + (" or ".join(caveat) or w.regimen)


def _pom_config() -> dict:
    cfg = config_defaults()
    cfg["study"] = study.resolve({**cfg["study"], "agents": [POM], "regimen": None,
                                  "title": "Pomalidomide as salvage therapy"})
    return cfg


def test_default_study_wording_reads_as_before():
    """The default configuration names lenalidomide where the report always did."""
    cfg = config_defaults()
    assert cfg["study"]["regimen"] == "lenalidomide"
    params = stats_params()
    w = study.Wording.from_params(params, params["prior_exposure"])
    assert w.title(w.fill(BY_NAME["table1"].title), has_groups=True) == (
        "Table 1. Patient characteristics at the start of lenalidomide, overall and by prior bortezomib")
    fp = figure_params()
    assert figures.figure_title("swimmer", fp) == "Time on lenalidomide"
    assert figures.figure_title("ntprobnp", fp) == "NT-proBNP after the start of lenalidomide"


def _texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


@pytest.mark.parametrize("name", ["km_os", "cif_dialysis", "swimmer", "ntprobnp", "flow"])
def test_pomalidomide_figures_never_say_lenalidomide(name, tmp_path):
    cfg = _pom_config()
    paths = write_fixture(tmp_path / "in", n=24)
    data = figures.load_inputs({k: paths[k] for k in figures.FIGURE_INPUTS[name]}, cfg["stats"]["landmarks_months"])
    params = figures.FigureParams.for_figure(name, figure_settings(cfg, name))
    fig, caption = figures.DRAW[name](data, params)
    text = _texts(fig) + caption + figures.figure_title(name, params)
    plt.close(fig)
    assert "lenalidomide" not in text.lower()
    if name in ("swimmer", "ntprobnp", "km_os", "flow"):
        assert "pomalidomide" in text


def test_ntprobnp_caption_drops_the_imid_caveat_without_an_imid(tmp_path):
    cfg = _pom_config()
    cfg["study"] = study.resolve({**cfg["study"], "agents": [DARA], "regimen": None})
    paths = write_fixture(tmp_path / "in", n=24)
    data = figures.load_inputs({k: paths[k] for k in figures.FIGURE_INPUTS["ntprobnp"]}, cfg["stats"]["landmarks_months"])
    fig, caption = figures.DRAW["ntprobnp"](data, figures.FigureParams.for_figure("ntprobnp", figure_settings(cfg, "ntprobnp")))
    plt.close(fig)
    assert "immunomodulatory" not in caption and "daratumumab" in caption
    cfg = _pom_config()
    fig, caption = figures.DRAW["ntprobnp"](data, figures.FigureParams.for_figure("ntprobnp", figure_settings(cfg, "ntprobnp")))
    plt.close(fig)
    assert "immunomodulatory" in caption


def test_pomalidomide_stats_labels_titles_and_footnotes_never_say_lenalidomide():
    from alsalvage.stats.registry import rule_params

    params = rule_params(_pom_config())
    d = small_cohort()
    wording = study.Wording.from_params(params, params["prior_exposure"])
    seen = []
    for a in ANALYSES:
        if not set(a.datasets) <= set(d):
            continue
        records, notes = run_analysis(a, d, params)
        seen.append(a.name)
        text = json.dumps([r["label"] for r in records]) + json.dumps(notes) + wording.fill(a.title)
        assert "lenalidomide" not in text.lower(), a.name
        assert "{regimen}" not in text and "{caveat_agents}" not in text, a.name
    assert {"table1", "organ", "exposure"} <= set(seen)
    organ_notes = run_analysis(BY_NAME["organ"], d, params)[1]
    assert any("under pomalidomide (an IMiD" in n for n in organ_notes)


def test_pomalidomide_report_text_never_says_lenalidomide(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    cfg, schema = load_config()
    cfg = copy.deepcopy(cfg)
    cfg["study"].update(agents=[POM], regimen=None, title="Pomalidomide as salvage therapy")
    results = json.loads(p["results"].read_text())
    for rec in results["results"].values():  # fixture labels are not the template's words
        rec["label"] = rec["label"].replace("lenalidomide", "pomalidomide")
    ctx = report.build_context(
        results=results, findings=report.read_findings(p["findings"]), seed_study=None,
        strobe=yaml.safe_load((REPO / "resources" / "strobe_cohort.yaml").read_text()), config=cfg,
        schema=schema, figures={}, patient_ids=[], inputs=[], software=[],
        git={"commit": "unknown", "dirty": "unknown"},
    )
    html = report.render_html(ctx, REPO / "workflow" / "templates" / "report.html.j2")
    # the configuration's own echo lists the dose column names of the study, no more
    body = re.sub(r"<section id=\"config\".*?</section>", "", html, flags=re.S)
    body = body.split('id="provenance"')[0]
    assert "lenalidomide" not in body.lower()
    assert "Outcome report of pomalidomide salvage therapy" in body
    assert "at least one dose of pomalidomide as salvage" in body


def test_registry_texts_name_the_regimen_only_through_the_study():
    """No title, footnote or figure title of a registry hard-codes a salvage agent; and no
    string literal of the modules that word the outputs says lenalidomide (a second place
    wording the regimen would be caught here)."""
    texts = [a.title for a in ANALYSES] + [f for a in ANALYSES for f in a.footnotes] + list(TITLES.values())
    assert not [t for t in texts if "lenalidomide" in t.lower()]
    wording = ["figures.py", "figure_registry.py", "report.py", "office.py", "stats/registry.py",
               "stats/table1.py", "stats/response.py", "stats/treatment.py", "stats/time_to_event.py",
               "endpoints.py", "organ.py"]
    pkg = REPO / "workflow" / "scripts" / "alsalvage"
    for rel in wording:
        tree = ast.parse((pkg / rel).read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        bad = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and "lenalidomide" in n.value.lower() and id(n) not in docstrings]
        assert not bad, (rel, bad)
    for template in ("workflow/templates/report.html.j2", "workflow/report/figure.rst", "workflow/report/workflow.rst"):
        assert "lenalidomide" not in (REPO / template).read_text().lower(), template


# --------------------------------------------------------------------------- one owner of the wording

def _wording_constructions(tree) -> int:
    return sum(isinstance(n, ast.Call) and (
        (isinstance(n.func, ast.Name) and n.func.id == "Wording")
        or (isinstance(n.func, ast.Attribute) and n.func.attr == "Wording")) for n in ast.walk(tree))


def test_no_wording_is_built_outside_study_py():
    """``Wording(...)`` is called in study.py only (its constructors read the configuration):
    a Wording built elsewhere would take words from no configuration, or, with defaults,
    from the default study's (lenalidomide, bortezomib)."""
    sources = [p for p in sorted((REPO / "workflow" / "scripts").rglob("*.py"))] + sorted((REPO / "tests").glob("*.py"))
    bad = {str(p.relative_to(REPO)): n for p in sources
           if p.name != "study.py" and (n := _wording_constructions(ast.parse(p.read_text())))}
    assert not bad
    # the check sees the two spellings of a construction
    assert _wording_constructions(ast.parse("a = Wording(regimen='x')\nb = study.Wording()")) == 2
    for smk in sorted((REPO / "workflow").rglob("*.smk")) + [REPO / "Snakefile", REPO / "workflow" / "Snakefile"]:
        assert not re.search(r"\bWording\(", smk.read_text()), smk


def test_wording_fields_have_no_defaults_and_study_py_names_no_drug():
    import dataclasses

    assert [f.name for f in dataclasses.fields(study.Wording)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING] == []
    with pytest.raises(TypeError):
        study.Wording.from_params(POM)  # both sections are required
    tree = ast.parse((REPO / "workflow/scripts/alsalvage/study.py").read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    words = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and id(n) not in docstrings and re.search(r"lenalidomide|bortezomib|\bimid\b", n.value, re.I)]
    assert words == []


@pytest.mark.parametrize("pex, exposure", [
    (None, None),
    ({"label": "daratumumab", "agents": ["daratumumab"]}, "daratumumab"),
    ({"label": "anti-CD38", "agents": [], "classes": ["anti-CD38"]}, "anti-CD38"),
])
def test_grouping_only_wording_leaves_the_regimen_to_be_filled_in(pex, exposure):
    """The statistics word their labels with the grouping only: the regimen stays
    "{regimen}" until the rule's full wording fills it in."""
    w = study.Wording.from_params(None, pex)
    assert (w.regimen, w.agents, w.exposure) == ("{regimen}", (), exposure)
    assert w.start == "the start of {regimen}"
    full = study.Wording.from_params({"regimen": None, "agents": [POM]}, pex)
    assert full.fill(w.start) == "the start of pomalidomide"


@pytest.mark.parametrize("phrase", ["prior", "group_of", "prior_group"])
def test_no_grouping_has_no_grouping_words(phrase):
    """Without a grouping no phrase of one is made (it would read "prior None")."""
    w = study.Wording.from_params({"regimen": "Pd", "agents": [POM]}, None)
    assert not w.grouping and w.group_headers() == [] and w.title("T{by_group}", True) == "T"
    with pytest.raises(ValueError, match="no prior-exposure grouping"):
        getattr(w, phrase)
    with pytest.raises(ValueError, match="no prior-exposure grouping"):
        w.group_header("naive")


@pytest.mark.parametrize("pex", [{"agents": ["daratumumab"]}, {"label": "", "agents": ["daratumumab"]},
                                 {"label": None, "classes": ["IMiD"]}])
def test_a_grouping_without_a_label_is_refused(pex):
    """No fallback word: the label was "bortezomib" when left out."""
    with pytest.raises(ValueError, match="prior_exposure.label"):
        study.Wording.from_params(None, pex)


# --------------------------------------------------------------------------- a cohort of three agents

MIXED = [LEN, POM, DARA]


def _mixed_cohort(tmp_path, partner="none"):
    """The hand cohort of test_validation with P01 on lenalidomide, P02 on pomalidomide then
    daratumumab added (one wide dose column per agent, empty where not given)."""
    from test_validation import HEAD, ROWS, write_cohort

    head = copy.deepcopy(HEAD)
    rows = copy.deepcopy(ROWS)
    head["salvage_cycles"] = ["patient_id", "cycle", "start_date", "lenalidomide_mg", "pomalidomide_mg",
                              "daratumumab_mg_kg", "partner"]
    rows["salvage_cycles"] = [
        ["P01", "1", "2017-05-01", "10", "", "", "none"],
        ["P01", "2", "2017-05-29", "10", "", "", "none"],
        ["P01", "3", "2017-06-26", "5", "", "", partner],
        ["P02", "1", "2018-01-10", "", "4", "", "cyclophosphamide"],
        ["P02", "2", "2018-02-07", "", "3", "16", "cyclophosphamide"],
    ]
    return write_cohort(tmp_path / "raw", rows, head)


def test_a_three_agent_cohort_validates(tmp_path):
    from alsalvage import validation as V
    from helpers import validation_settings

    settings = {**validation_settings(), "agents": MIXED}
    paths = _mixed_cohort(tmp_path)
    tables, f = V.check_all(paths, **settings)
    errors = f[f["severity"] == "error"]
    assert errors.empty, errors.to_dict("records")
    cyc = V.output_frame(tables["salvage_cycles"], V.C.study_tables(MIXED)["salvage_cycles"])
    assert list(cyc.columns[3:6]) == ["lenalidomide_mg", "pomalidomide_mg", "daratumumab_mg_kg"]
    assert cyc["daratumumab_mg_kg"].isna().sum() == 4
    # the default (lenalidomide-only) contract requires its column never empty
    _, f = V.check_all(paths, **validation_settings())
    assert (f["severity"] == "error").any()


@pytest.mark.parametrize("agents, partner, rule", [
    (MIXED, "bortezomib", None),  # any drug of the dictionary is a partner
    (MIXED, "velcade", None),
    (MIXED, "unobtainium", "unknown-agent"),
])
def test_partner_is_checked_against_the_dictionary(tmp_path, agents, partner, rule):
    from alsalvage import validation as V
    from helpers import validation_settings

    paths = _mixed_cohort(tmp_path, partner)
    _, f = V.check_all(paths, **{**validation_settings(), "agents": agents})
    got = f[(f["column"] == "partner") & (f["severity"] == "error")]
    assert set(got["rule"]) == ({rule} if rule else set())


def test_an_unknown_salvage_agent_is_a_configuration_error(tmp_path):
    from alsalvage import validation as V
    from helpers import validation_settings

    paths = _mixed_cohort(tmp_path)
    odd = {**POM, "name": "iberdomide", "dose_column": "pomalidomide_mg"}
    with pytest.raises(ValueError, match="iberdomide"):
        V.check_all(paths, **{**validation_settings(), "agents": [LEN, odd]})
    _, f = V.check_all(paths, **{**validation_settings(), "agents": [LEN, odd, DARA],
                                 "drugs": {"agents": {"iberdomide": "IMiD"}, "aliases": {}}})
    assert not (f["severity"] == "error").any()


def test_a_three_agent_cohort_derives_exposure_per_agent():
    import numpy as np
    import pandas as pd

    from alsalvage.baseline import _exposure
    from alsalvage.stats.treatment import dose_records

    cycles = pd.DataFrame({
        "patient_id": ["A", "A", "B", "B", "B", "C", "D"],
        "cycle": [1, 2, 1, 2, 3, 1, 1],
        "lenalidomide_mg": [10, 25, np.nan, np.nan, np.nan, np.nan, 0],
        "pomalidomide_mg": [np.nan, np.nan, 4, 2, 3, np.nan, np.nan],
        "daratumumab_mg_kg": [np.nan, np.nan, np.nan, 16, 16, 16, np.nan],
    })
    e = _exposure(cycles, MIXED).set_index("patient_id")
    assert list(e.index) == ["A", "B", "C"]  # D: no dose above 0, not treated
    assert e.loc["A", ["TRTAGENT", "STDOS", "MDDOS", "MXDOS", "DOSEU", "NCYCLES"]].tolist() == [
        "lenalidomide", 10, 17.5, 25, "mg", 2]
    assert e.loc["B", ["TRTAGENT", "STDOS", "MDDOS", "MXDOS", "DOSEU", "NCYCLES"]].tolist() == [
        "pomalidomide;daratumumab", 4, 3, 4, "mg", 3]
    assert e.loc["C", ["TRTAGENT", "STDOS", "MXDOS", "DOSEU", "NCYCLES"]].tolist() == [
        "daratumumab", 16, 16, "mg/kg", 1]
    recs = {r["key"]: r for r in dose_records(e.reset_index(), MIXED)}
    assert recs["exposure.lenalidomide.dose_max.n_25mg"]["estimate"] == 1
    assert recs["exposure.pomalidomide.dose_max.n_4mg"]["estimate"] == 1
    assert recs["exposure.daratumumab.dose_max.n_16mg_kg"]["estimate"] == 1
    assert recs["exposure.daratumumab.dose_max.n_16mg_kg"]["label"] == "Patients who received >= 16 mg/kg"
    # one agent: the default study's keys
    one = {r["key"] for r in dose_records(e.loc[["A"]].reset_index(), [LEN])}
    assert {"exposure.dose.median", "exposure.dose_max.median", "exposure.dose_max.n_25mg"} <= one


def test_imid_caveat_flags_only_calls_under_a_caveat_agent():
    """IMIDFL: Y on an on-therapy cardiac call of a patient given an agent of a caveat class."""
    import pandas as pd

    from alsalvage import organ
    from test_organ import CP, NO_EGFR, labs_of, patient

    base = pd.DataFrame([patient("A", NTPROBL=3000.0, TRTAGENT="pomalidomide"),
                         patient("B", NTPROBL=3000.0, TRTAGENT="daratumumab")])
    labs = labs_of([("A", 30, "ntprobnp", 1000), ("B", 30, "ntprobnp", 1000)])
    caveat = study.Wording.from_params({"regimen": None, "agents": MIXED, "imid_caveat_classes": ["IMiD"]}, None)
    calls = organ.cardiac_calls(labs, base, NO_EGFR, CP, caveat.caveat_agents)
    flagged = calls.groupby("USUBJID")["IMIDFL"].agg(lambda s: set(s))
    assert flagged["A"] == {"Y"} and flagged["B"] == {"N"}
    calls = organ.cardiac_calls(labs, base, NO_EGFR, CP)  # no study given: every agent (one IMiD)
    assert set(calls["IMIDFL"]) == {"Y"}


def test_a_three_agent_cohort_validates_and_derives_adsl(tmp_path):
    """The validated tables of the three-agent cohort give ADSL its exposure per patient."""
    from alsalvage import validation as V
    from alsalvage.baseline import derive_adsl, required_inputs
    from helpers import validation_settings
    from test_baseline import params

    paths = _mixed_cohort(tmp_path)
    tables, f = V.check_all(paths, **{**validation_settings(), "agents": MIXED})
    assert not (f["severity"] == "error").any()
    contract = V.C.study_tables(MIXED)
    frames = {n: V.output_frame(tables[n], contract[n])[cols] for n, cols in required_inputs(MIXED).items()}
    adsl = derive_adsl(frames, params(agents=MIXED)).set_index("USUBJID")
    assert adsl.loc["P01", ["TRTAGENT", "STDOS", "MXDOS", "DOSEU", "NCYCLES"]].tolist() == [
        "lenalidomide", 10, 10, "mg", 3]
    assert adsl.loc["P02", ["TRTAGENT", "STDOS", "MXDOS", "DOSEU", "NCYCLES"]].tolist() == [
        "pomalidomide;daratumumab", 4, 4, "mg", 2]
    assert (adsl["SAFFL"] == "Y").all()
