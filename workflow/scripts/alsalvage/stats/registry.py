"""The analyses of rule `stats`: the one list of them, what each reads and writes.

One `Analysis` record per analysis: its name (also its table, results/tables/<name>.csv),
the title of its table,
the function that computes it (by dotted name inside alsalvage.stats, imported only when
the analysis runs), the derived datasets it reads (passed by name), the columns it needs
beyond the ones every analysis needs (stats/checks.py REQUIRED), the rule params it reads
(passed by name), its table's footnotes and its CPU seconds at 100,000 patients
(docs/performance.md; the workers take the longest first).

This module imports nothing (no pandas, scipy or lifelines), so that
workflow/rules/stats.smk loads it by path at DAG build time (STATS, the outputs, the
modules the rule declares) and the statistics package reads the same records. What each
analysis estimates, its denominators and methods: docs/results.md and the module
docstrings of alsalvage.stats.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str  # of its table (Word and Excel files); "{regimen}": alsalvage.study fills it in
    function: str  # "<module>.<function>" inside alsalvage.stats, imported lazily
    datasets: tuple[str, ...]  # keyword arguments of the function, in this order
    params: tuple[str, ...]  # rule params passed to the function by name
    footnotes: tuple[str, ...] = ()
    # columns needed beyond stats/checks.py REQUIRED, by dataset
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # "<module>.<function>" of footnotes that depend on the params (called with them)
    params_footnotes: str | None = None
    cpu_at_100k: float = 0.0
    # package modules outside alsalvage.stats that the function's module imports
    # (lazily too), for the rule's pkg() inputs
    uses: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.function.rsplit(".", 1)[0]


ANALYSES = (
    Analysis(
        "table1",
        # "{regimen}": the salvage regimen; "{by_group}": ", overall and by prior <label>" with
        # by-group columns (study.Wording.fill, Wording.title)
        "Table 1. Patient characteristics at the start of {regimen}{by_group}",
        "table1.table1",
        ("adsl",),
        ("alpha", "table1_tests", "comparisons", "prior_exposure", "centre"),
        (
            "Continuous variables: median (range) for age, months since first-line therapy, prior lines and "
            "organs; median (IQR) for eGFR, NT-proBNP and dFLC. Quartiles by linear interpolation.",
            "Categorical variables: n (%) of patients with a known value; percentages rounded half up.",
            "eGFR is not computed for patients on dialysis (counted as missing).",
            "Stages are missing (never guessed) when a marker is missing; missing counts are shown.",
        ),
        params_footnotes="table1.compare_footnotes",
        cpu_at_100k=3,
        uses=("compare", "derive_common"),
    ),
    Analysis(
        "response",
        "Hematologic response",
        "response.response",
        ("adsl", "adrs"),
        ("alpha", "low_dflc_counts", "landmarks", "days_per_month", "comparisons", "prior_exposure"),
        (
            "ITT: all treated patients; patients without an assessment count as NR.",
            "No detectable clone at baseline (normal kappa/lambda ratio, negative serum and urine IFE): "
            "not evaluable for hematologic response, never CR; counted as NR under ITT (its own row).",
            "95% CIs: Clopper-Pearson exact. 2x2 comparisons: Fisher's exact test quoted, Pearson chi-square "
            "without continuity correction beside it.",
        ),
        cpu_at_100k=5,
    ),
    Analysis(
        "organ",
        "Organ response",
        "response.organ",
        ("adsl", "adrs", "labs"),
        ("alpha", "landmarks", "lab_window_days", "days_per_month", "low_dflc_counts"),
        (
            "Denominators: patients evaluable for the organ; any organ: evaluable for >= 1 organ.",
            "Organ progression: >= 1 progression call in the window, whatever the best response.",
            "Hematologic responders with cardiac progression: best hematologic response >= PR and >= 1 "
            "cardiac (NT-proBNP) progression call, of the hematologic responders evaluable for cardiac "
            "response; NT-proBNP can rise under IMiDs while the clone responds.",
        ),
        params_footnotes="response.organ_footnotes",
        columns=(("adsl", ("TRTSDT", "NTPROBL")),),
        cpu_at_100k=11,
    ),
    Analysis(
        "renal",
        "Renal outcome: dialysis and death",
        "time_to_event.renal",
        ("adsl", "adtte"),
        ("alpha", "timepoints", "comparisons", "prior_exposure", "centre"),
        (
            "Cumulative incidence by Aalen-Johansen with death without dialysis as a competing event "
            "(never 1 - Kaplan-Meier); tied times kept (exact estimator, as R's survfit).",
            "Groups compared by Gray's test of equal cumulative incidence (rho = 0, as R's cmprsk::cuminc).",
        ),
        columns=(("adtte", ("CAUSEN",)),),
        cpu_at_100k=11,
        uses=("survival",),
    ),
    Analysis(
        "survival",
        "Survival",
        "time_to_event.survival",
        ("adsl", "adtte", "adrs"),
        (
            "alpha",
            "timepoints",
            "landmarks",
            "events_per_parameter",
            "low_dflc_counts",
            "days_per_month",
            "comparisons",
            "prior_exposure",
            "cox_covariates",
            "endpoints",
            "ttnt_death",
            "centre",
        ),
        (
            "Kaplan-Meier with log(-log) transformed 95% CIs; medians by the convention of R's survival "
            "package; NR = not reached. Follow-up by reverse Kaplan-Meier.",
            "Cox model with Efron ties, Wald tests; proportional hazards by Schoenfeld residuals (rank time).",
        ),
        cpu_at_100k=22,
        uses=("survival",),
    ),
    Analysis(
        "exposure",
        "Exposure and discontinuation",
        "treatment.exposure",
        ("adsl", "adtte"),
        ("alpha", "agents"),
        ("Percentages of all treated patients; reasons among early discontinuations.",),
        columns=(
            ("adsl", ("TRTAGENT", "STDOS", "MXDOS", "NCYCLES", "TRTDURM", "STOPRSN", "EARLYDSC", "DTHONTRT")),
        ),
        cpu_at_100k=2,
        uses=("survival",),
    ),
    Analysis(
        "toxicity",
        "Treatment-emergent adverse events",
        "treatment.toxicity",
        ("adsl", "adae"),
        ("alpha",),
        (
            "Worst CTCAE v5 grade per patient and term; n (%) of all treated patients.",
            "Treatment-emergent events only (ADAE TRTEMFL = Y): onset on or after the first dose and at most "
            "exposure.teae_days_after_last_dose days (config.yaml) after the last dose, and before the start "
            "of a next line of therapy; no end other than a next line while therapy is ongoing.",
        ),
        cpu_at_100k=3,
    ),
)
# The rule params the analyses read, and where each comes from in the configuration
# (section, key); the schema (workflow/schemas/config.schema.yaml) holds the defaults.
PARAM_CONFIG = {
    "alpha": ("stats", "alpha"),
    "low_dflc_counts": ("hematologic", "low_dflc_counts_as_response"),
    "landmarks": ("stats", "landmarks_months"),
    "timepoints": ("stats", "timepoints_months"),
    "lab_window_days": ("stats", "lab_window_days"),
    "events_per_parameter": ("stats", "events_per_parameter"),
    "table1_tests": ("stats", "table1_tests"),
    "days_per_month": ("endpoints", "days_per_month"),
    # the study's wording (alsalvage.study): "{regimen}" in titles, labels and footnotes
    "regimen": ("study", "regimen"),
    "agents": ("study", "agents"),
    "imid_caveat_classes": ("study", "imid_caveat_classes"),
    # the prior-exposure section (None: no grouping; its label words the records) and the
    # comparisons made (analysis.comparisons; none without a grouping: rule_params)
    "prior_exposure": ("prior_exposure", None),
    "comparisons": ("analysis", "comparisons"),
    "cox_covariates": ("analysis", "cox_covariates"),
    "endpoints": ("analysis", "endpoints"),
    "ttnt_death": ("endpoints", "ttnt_death"),
    "centre": ("analysis", "centre"),
}
# Params the run itself reads (not an analysis): the study's wording of titles, labels and
# footnotes (alsalvage.study.Wording.from_params).
WORDING_PARAMS = ("regimen", "agents", "imid_caveat_classes", "prior_exposure")
BY_NAME = {a.name: a for a in ANALYSES}
NAMES = tuple(BY_NAME)

# The modules of alsalvage.stats every run loads besides the analyses' modules, and the
# package modules they import.
CORE_MODULES = (
    "stats/__init__",
    "stats/registry",
    "stats/run",
    "stats/records",
    "stats/checks",
    "stats/responders",
)
CORE_USES = ("csvout", "datasets", "formatting", "parallel", "proportions", "study", "survival")


def rule_params(config: dict) -> dict:
    """The params of rule stats (PARAM_CONFIG) from the schema-completed configuration; a
    key None takes the whole section. Without a grouping no comparison is made."""
    out = {name: config[section] if key is None else config[section][key] for name, (section, key) in PARAM_CONFIG.items()}
    if config["prior_exposure"] is None:
        out["comparisons"] = []
    return out


def analysis_modules(names=NAMES) -> list[str]:
    """The alsalvage.stats modules holding the functions of the analyses ``names``."""
    return sorted({f"stats/{BY_NAME[n].module}" for n in names})


def code_modules() -> list[str]:
    """Every package module a run of the analyses loads (rule stats declares them), as
    pkg() names them: "formatting", "stats/run"."""
    mods = set(CORE_MODULES) | set(CORE_USES) | set(analysis_modules())
    for a in ANALYSES:
        mods |= set(a.uses)
    return sorted(mods)
