"""Any salvage study, not one abstract (issue 13): the generator planning a cohort for a
study description, the shipped pomalidomide study, several studies side by side in one
checkout (study.output_root), and a cohort mixing three agents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from alsalvage import contract, report
from alsalvage import synthetic as syn
from helpers import BIN, REPO, copy_project, require, snakemake

STUDY = REPO / "studies" / "pomalidomide"
DESCRIPTION = yaml.safe_load((STUDY / "cohort.yaml").read_text())
DAYS_PER_MONTH = 30.4375

NEEDS_REGIMEN = "needs study.agents (dose column per agent, agent wording: H-regimen)"


def project_with_studies(tmp_path: Path) -> Path:
    """A copy of the workflow with the shipped studies (as a clean clone has them)."""
    project = copy_project(tmp_path / "project")
    shutil.copytree(REPO / "studies", project / "studies")
    return project


# --------------------------------------------------------------------------- descriptions
@pytest.mark.parametrize(
    "change, message",
    [
        ({"colour": "blue"}, "unknown key"),
        ({"targets": {"age_mean": 60}}, "unknown target"),
        ({"agent": {"dose_column": "x_mg", "route": "oral"}}, "unknown agent key"),
        ({"agent": {"start_doses": {2: 30}}}, "must add up to n_patients"),
        ({"partner": "bortezomib"}, "partner must be one of"),
        ({"prior_exposure": {"naive_pct": 50, "exposed_pct": 50}}, "unknown prior_exposure key"),
        ({"n_patients": 5}, "n_patients must be >= 10"),
    ],
)
def test_a_wrong_study_description_is_an_error(change, message):
    desc = {**DESCRIPTION, **change}
    with pytest.raises(ValueError, match=message):
        syn.study_from_description(desc)


def km_median_days(time, event) -> float:
    return syn.km_median(np.asarray(time, float), np.asarray(event, bool))


@pytest.mark.parametrize(
    "target, measure",
    [
        ("age_median", lambda P: float(np.median(P["age"]))),
        ("cardiac_involvement_pct", lambda P: 100.0 * P["heart"].sum() / P["n"]),
        ("response_rate_pct", lambda P: 100.0 * (P["resp"] > 0).sum() / P["n"]),
        ("organ_responders", lambda P: float(P["renal_resp"].sum() + P["liver_resp"].sum())),
        ("os_median_months", lambda P: km_median_days(P["os_days"], P["death"]) / DAYS_PER_MONTH),
        (
            "time_to_response_median_months",
            lambda P: float(np.median(P["first_resp_day"][P["resp"] > 0])) / DAYS_PER_MONTH,
        ),
        (
            "pfs_median_months",
            lambda P: km_median_days(
                np.where(P["prog_day"] > 0, P["prog_day"], P["os_days"]), (P["prog_day"] > 0) | P["death"]
            )
            / DAYS_PER_MONTH,
        ),
    ],
)
def test_the_plan_meets_each_planned_target(target, measure):
    """Each planned target of the pomalidomide description, measured on the plan (before
    any derivation): within one patient's worth for a percentage, within a day or half a
    year of age for the others."""
    study, n, seed = syn.study_from_description(DESCRIPTION)
    P = syn.plan_cohort(n, seed, study)
    want = float(DESCRIPTION["targets"][target])
    tol = 100.0 / n + 0.5 if target.endswith("_pct") else (0.5 if target == "age_median" else 1.0 / DAYS_PER_MONTH)
    assert abs(measure(P) - want) <= tol, (target, measure(P), want)


def test_a_description_changes_the_plan_only_where_it_says():
    """A description naming nothing but n and seed plans the seed study's proportions."""
    study, n, seed = syn.study_from_description({"n_patients": 50, "seed": 7})
    plan = study["plan"]
    spread = {"responders", "deaths_by_group", "renal_evaluable"}  # re-spread over the groups
    assert {k: v for k, v in plan.items() if k not in spread} == {
        k: v for k, v in syn.PLAN_50.items() if k not in spread
    }
    assert sum(plan["responders"]) == sum(syn.PLAN_50["responders"])
    assert sum(plan["deaths_by_group"]) == sum(syn.PLAN_50["deaths_by_group"])
    assert plan["renal_evaluable"] == syn.PLAN_50["kidney"] - syn.PLAN_50["dialysis"]
    assert (n, seed) == (50, 7)
    assert study["dose_column"] == "lenalidomide_mg" and not study["exposure_contrasts"]


def test_grade3_patients_are_written_exactly(tmp_path):
    """grade3_patients: the listed terms have exactly that many patients with a grade >= 3
    event in the written adverse events; the terms left out keep the seed study's shares."""
    study, n, seed = syn.study_from_description(DESCRIPTION)
    syn.write_cohort(n, seed, tmp_path, study)
    ae = pd.read_csv(tmp_path / "adverse_events.csv")
    g3 = ae[ae["grade"] >= 3].groupby("term")["patient_id"].nunique()
    for term, patients in DESCRIPTION["grade3_patients"].items():
        assert g3.get(term, 0) == patients, term
    unlisted = syn.study_from_description({k: v for k, v in DESCRIPTION.items() if k != "grade3_patients"})[0]
    assert study["plan"]["grade3"]["pneumonitis"] == unlisted["plan"]["grade3"]["pneumonitis"]


@pytest.mark.parametrize(
    "grade3,message",
    [
        ({"neutropenia": 3}, "unknown term"),  # CTCAE v5 calls it neutrophil count decreased
        ({"fatigue": -1}, "whole numbers"),
        ({"fatigue": 2.5}, "whole numbers"),
        ({"fatigue": 34}, "whole numbers"),  # more patients than the cohort's 33
    ],
)
def test_grade3_patients_are_checked(grade3, message):
    with pytest.raises(ValueError, match=message):
        syn.study_from_description(dict(DESCRIPTION, grade3_patients=grade3))


def test_the_salvage_agent_of_the_description_is_the_dose_column(tmp_path):
    study, n, seed = syn.study_from_description(DESCRIPTION)
    syn.write_cohort(n, seed, tmp_path, study)
    cycles = pd.read_csv(tmp_path / "salvage_cycles.csv")
    assert list(cycles.columns) == ["patient_id", "cycle", "start_date", "pomalidomide_mg", "dexamethasone_mg", "partner"]
    assert set(cycles["pomalidomide_mg"]) <= {1.0, 2.0}
    assert (cycles.groupby("patient_id")["pomalidomide_mg"].first() == 2.0).all()
    assert set(cycles["partner"]) == {"none"}
    patients = pd.read_csv(tmp_path / "patients.csv", parse_dates=["diagnosis_date"])
    first = cycles[cycles["cycle"] == 1].set_index("patient_id")["start_date"].pipe(pd.to_datetime)
    months = (first - patients.set_index("patient_id")["diagnosis_date"]).dt.days / DAYS_PER_MONTH
    assert abs(months.median() - 37) <= 0.5


def test_the_shipped_pomalidomide_cohort_is_the_generator_output(tmp_path):
    study, n, seed = syn.load_study(STUDY / "cohort.yaml")
    syn.write_cohort(n, seed, tmp_path, study)
    for table in contract.TABLES:
        assert (tmp_path / f"{table}.csv").read_bytes() == (STUDY / "data" / f"{table}.csv").read_bytes(), table


def test_the_study_config_points_at_its_own_files():
    cfg = yaml.safe_load((STUDY / "config.yaml").read_text())
    assert cfg["study"]["output_root"] != "results"
    assert cfg["study"]["published_figures"] == "studies/pomalidomide/published.yaml"
    for table, path in cfg["inputs"].items():
        assert (REPO / path).is_file() and Path(path).name == f"{table}.csv"
    assert [a["dose_column"] for a in cfg["study"]["agents"]] == [DESCRIPTION["agent"]["dose_column"]]
    published = yaml.safe_load((STUDY / "published.yaml").read_text())
    assert published["cohort_size"] == DESCRIPTION["n_patients"]
    assert len({r["id"] for r in published["rows"]}) == len(published["rows"])


def test_the_study_cohort_rule_writes_the_shipped_cohort(tmp_path):
    require((BIN / "snakemake").exists(), "snakemake not installed")
    project = project_with_studies(tmp_path)
    snakemake(project, "results/synthetic/pomalidomide/patients.csv", check=True)
    for table in contract.TABLES:
        written = (project / "results/synthetic/pomalidomide" / f"{table}.csv").read_bytes()
        assert written == (STUDY / "data" / f"{table}.csv").read_bytes(), table
    assert (project / "logs/study_cohort/pomalidomide.log").exists()


# --------------------------------------------------------------------------- output roots
def outputs(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_studies_run_side_by_side_in_one_checkout(tmp_path):
    """Two configurations, two output roots: each run writes only under its own root (its
    logs and benchmarks too), and once both are done neither plans anything for the other."""
    require((BIN / "snakemake").exists(), "snakemake not installed")
    project = copy_project(tmp_path / "project")
    second = {"study": {"title": "A second cohort", "output_root": "out/second"}, "stats": {"alpha": 0.1}}
    (project / "second.yaml").write_text(yaml.safe_dump(second))
    snakemake(project, check=True)
    first_files = outputs(project / "results")
    first_logs = outputs(project / "logs")
    assert "report.html" in first_files
    snakemake(project, "--configfile", "second.yaml", check=True)
    assert (project / "out/second/report.html").is_file()
    assert (project / "out/second/logs/stats.log").is_file()
    assert (project / "out/second/benchmarks/stats.tsv").is_file()
    assert outputs(project / "results") == first_files, "the second study touched the first one's results"
    assert outputs(project / "logs") == first_logs, "the second study wrote into the first one's logs"
    assert not (project / "out/second/results").exists()
    assert "A second cohort" in (project / "out/second/report.html").read_text(encoding="utf-8")
    assert "A second cohort" not in (project / "results/report.html").read_text(encoding="utf-8")
    for args in ((), ("--configfile", "second.yaml")):
        dry = snakemake(project, "-n", *args, check=True)
        assert "Nothing to be done" in dry.stdout + dry.stderr, args


# --------------------------------------------------------------------------- end to end
def office_text(path: Path) -> str:
    """Every text of a Word (paragraphs and table cells) or Excel (cell values) file."""
    if path.suffix == ".docx":
        from docx import Document

        doc = Document(str(path))
        cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
        return "\n".join([p.text for p in doc.paragraphs] + cells)
    from openpyxl import load_workbook

    book = load_workbook(str(path), read_only=True)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                     if v is not None)


def reproduction(results_json: Path, published: Path) -> list[dict]:
    recs = json.loads(results_json.read_text())["results"]
    return report.reproduction_rows(yaml.safe_load(published.read_text()), recs)


def test_the_pomalidomide_study_runs_with_its_one_command(tmp_path):
    require((BIN / "snakemake").exists(), "snakemake not installed")
    project = project_with_studies(tmp_path)
    snakemake(project, "--configfile", "studies/pomalidomide/config.yaml", check=True)
    root = project / "results/pomalidomide"
    assert not (project / "results/report.html").exists(), "the default study's outputs were written"
    html = (root / "report.html").read_text(encoding="utf-8")
    assert "lenalidomide" not in html.lower()
    assert "bortezomib group" not in html.lower()
    assert "bortezomib-naive" not in html.lower()
    assert "pomalidomide" in html.lower()
    tables = sorted(root.glob("tables/*.csv"))
    assert tables
    for path in tables:
        assert "lenalidomide" not in path.read_text(encoding="utf-8").lower(), path
    # every other text the study's outputs carry: the figures' titles and captions, the
    # Word and Excel tables (titles, headers, labels, footnotes), the derived datasets'
    # labels (ADTTE PARAM, EVNTDESC): a study with no grouping names no grouping agent
    texts = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.glob("figures/*.json"))}
    assert {f"figures/{n}.json" for n in ("km_os", "swimmer", "ntprobnp", "flow")} <= set(texts)
    assert not (root / "figures/km_os_by_group.json").exists()  # no grouping, no by-group figure
    texts |= {str(p.relative_to(root)): office_text(p) for p in sorted(root.glob("tables/*.docx"))
              + sorted(root.glob("tables/*.xlsx"))}
    assert any(k.endswith(".docx") for k in texts) and any(k.endswith(".xlsx") for k in texts)
    texts |= {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.glob("derived/*.csv"))}
    for where, text in texts.items():
        for word in ("lenalidomide", "bortezomib"):
            assert word not in text.lower(), (where, word)
    assert any("pomalidomide" in texts[k].lower() for k in texts if k.startswith("figures/"))
    assert any("pomalidomide" in texts[k].lower() for k in texts if k.endswith(".docx"))
    rows = reproduction(root / "stats/results.json", STUDY / "published.yaml")
    missed = [(r["id"], r["reproduced"], r["published"], r["notes"]) for r in rows if r["within"] != "yes"]
    assert not missed, f"published figures not reproduced: {missed}"


def three_agent_cohort(project: Path, demo: Path) -> Path:
    """The demo cohort given a third each of lenalidomide, pomalidomide and daratumumab
    (wide dose columns), with daratumumab instead of bortezomib in the prior lines."""
    data = project / "three"
    data.mkdir()
    for table in contract.TABLES:
        shutil.copy(demo / f"{table}.csv", data / f"{table}.csv")
    cycles = pd.read_csv(demo / "salvage_cycles.csv", dtype=str, keep_default_na=False)
    ids = sorted(cycles["patient_id"].unique())
    agent = {pid: ("lenalidomide", "pomalidomide", "daratumumab")[i % 3] for i, pid in enumerate(ids)}
    which = cycles["patient_id"].map(agent)
    dose = cycles.pop("lenalidomide_mg")
    cycles.insert(3, "lenalidomide_mg", np.where(which == "lenalidomide", dose, ""))
    cycles.insert(4, "pomalidomide_mg", np.where(which == "pomalidomide", "4", ""))
    cycles.insert(5, "daratumumab_mg", np.where(which == "daratumumab", "1800", ""))
    cycles.to_csv(data / "salvage_cycles.csv", index=False, lineterminator="\n")
    lines = pd.read_csv(demo / "therapy_lines.csv", dtype=str, keep_default_na=False)
    bort = lines["agents"].str.split(";").map(lambda a: "bortezomib" in a)
    lines.loc[bort, "agents"] = "daratumumab;dexamethasone"
    lines.loc[bort, "regimen"] = "daratumumab-dexamethasone"
    lines.loc[bort, "last_bortezomib_date"] = ""  # no bortezomib left in those lines
    lines.to_csv(data / "therapy_lines.csv", index=False, lineterminator="\n")
    return data


def test_a_three_agent_cohort_grouped_by_daratumumab_exposure(tmp_path, demo_dir):
    require((BIN / "snakemake").exists(), "snakemake not installed")
    project = copy_project(tmp_path / "project")
    data = three_agent_cohort(project, demo_dir)
    cfg = {
        "study": {
            "title": "Three salvage agents",
            "published_figures": None,
            "output_root": "results/three",
            "agents": [
                {"name": "lenalidomide", "class": "IMiD", "dose_column": "lenalidomide_mg", "dose_unit": "mg", "full_dose": 25},
                {"name": "pomalidomide", "class": "IMiD", "dose_column": "pomalidomide_mg", "dose_unit": "mg", "full_dose": 4},
                {"name": "daratumumab", "class": "anti-CD38", "dose_column": "daratumumab_mg", "dose_unit": "mg", "full_dose": 1800},
            ],
        },
        "inputs": {t: f"{data.name}/{t}.csv" for t in contract.TABLES},
        "prior_exposure": {"label": "daratumumab", "agents": ["daratumumab"], "classes": []},
    }
    (project / "three.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(project, "--configfile", "three.yaml", check=True)
    root = project / "results/three"
    html = (root / "report.html").read_text(encoding="utf-8").lower()
    assert "reproduction of the published figures" not in html  # no published figures: no section
    for agent in ("lenalidomide", "pomalidomide", "daratumumab"):
        assert agent in html, agent
    assert "bortezomib-naive" not in html and "prior bortezomib" not in html
    assert "daratumumab-naive" in html or "prior daratumumab" in html
    results = json.loads((root / "stats/results.json").read_text())["results"]
    lines = pd.read_csv(data / "therapy_lines.csv", dtype=str, keep_default_na=False)
    exposed = lines.loc[lines["agents"].str.contains("daratumumab"), "patient_id"].nunique()
    assert results["prior.exposure.exposed"]["n"] == exposed
    assert results["prior.exposure.naive"]["n"] == 50 - exposed
