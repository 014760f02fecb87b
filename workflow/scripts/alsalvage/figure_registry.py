"""The figures of the report: the one list of them, what each reads and draws with.

Read by alsalvage.figures (which refuses a figure whose inputs or settings differ) and, at
DAG build time, by workflow/rules/figures.smk (loaded by path: this module imports nothing,
no matplotlib or pandas), so that each figure's job declares exactly these inputs, settings
and modules.
"""

FIGURES = (
    "km_os",
    "km_os_by_group",
    "landmark_os",
    "cif_dialysis",
    "forest_cox",
    "waterfall_dflc",
    "swimmer",
    "ntprobnp",
    "flow",
)

# What each figure is drawn from: the derived datasets, the validated labs, and "results",
# the statistics stage's results.json (log-rank p-values, Cox hazard ratios). render_figure
# refuses to draw a figure whose inputs were not given.
FIGURE_INPUTS = {
    "km_os": ("adtte",),
    "km_os_by_group": ("adsl", "adtte", "results"),
    "landmark_os": ("adrs", "adtte", "results"),
    "cif_dialysis": ("adsl", "adtte", "results"),
    "forest_cox": ("results",),
    "waterfall_dflc": ("adsl", "adrs", "labs"),
    "swimmer": ("adsl", "adrs"),
    "ntprobnp": ("adsl", "labs"),
    "flow": ("adsl", "adrs"),
}
# The title of each figure (its caption file and the report) and the report section it
# is shown in (alsalvage.report.SECTIONS), in the order the report shows them; "{regimen}"
# stands for the study's name of the salvage regimen (alsalvage.study; a figure whose title
# has it takes the setting "regimen").
TITLES = {
    "km_os": "Overall survival",
    "km_os_by_group": "Overall survival by {prior}",
    "landmark_os": "Landmark overall survival by hematologic response",
    "cif_dialysis": "Cumulative incidence of dialysis",
    "forest_cox": "Cox model of overall survival",
    "waterfall_dflc": "Best dFLC change",
    "swimmer": "Time on {regimen}",
    "ntprobnp": "NT-proBNP after the start of {regimen}",
    "flow": "Patient flow",
}
SECTIONS = {
    "flow": "patients",
    "swimmer": "exposure",
    "waterfall_dflc": "hematologic",
    "cif_dialysis": "organ",
    "ntprobnp": "organ",
    "km_os": "survival",
    "km_os_by_group": "survival",
    "landmark_os": "survival",
    "forest_cox": "survival",
}
INPUT_NAMES = ("adsl", "adrs", "adtte", "labs", "results")

# The settings (FigureParams fields) each figure draws with, besides the ones every figure
# uses (COMMON_PARAMS). The rule passes a figure only these, so that a changed setting reruns
# only the figures that use it; the others are UNDECLARED, and using one fails. Figures
# reading "results" take landmark_months to find the landmark records in results.json; the
# landmark and swimmer figures take low_dflc_counts to count responders as the statistics do.
COMMON_PARAMS = ("dpi", "width_mm")
FIGURE_PARAMS = {
    "km_os": ("alpha", "seed", "max_patients", "km_risk_rows", "regimen"),
    "km_os_by_group": ("alpha", "seed", "max_patients", "km_risk_rows", "landmark_months", "exposure_label"),
    "landmark_os": ("alpha", "seed", "max_patients", "days_per_month", "landmark_months", "low_dflc_counts"),
    "cif_dialysis": ("alpha", "landmark_months", "regimen", "exposure_label"),
    "forest_cox": ("landmark_months", "exposure_label"),
    "waterfall_dflc": ("seed", "max_patients", "pr_fall_pct"),
    "swimmer": ("seed", "max_patients", "days_per_month", "low_dflc_counts", "regimen"),
    "ntprobnp": (
        "seed",
        "max_patients",
        "days_per_month",
        "ntprobnp_rise_pct",
        "regimen",
        "agents",
        "imid_caveat_classes",
    ),
    "flow": ("regimen",),
}
# Where each setting comes from in the configuration (section, key).
SETTING_CONFIG = {
    "dpi": ("figures", "dpi"),
    "width_mm": ("figures", "width_mm"),
    "km_risk_rows": ("figures", "km_risk_table"),
    "seed": ("figures", "seed"),
    "max_patients": ("figures", "max_patients"),
    "alpha": ("stats", "alpha"),
    "landmark_months": ("stats", "landmarks_months"),
    "days_per_month": ("endpoints", "days_per_month"),
    "pr_fall_pct": ("hematologic", "pr_fall_pct"),
    "ntprobnp_rise_pct": ("cardiac", "progression_rise_pct"),
    "low_dflc_counts": ("hematologic", "low_dflc_counts_as_response"),
    "regimen": ("study", "regimen"),
    "agents": ("study", "agents"),
    "imid_caveat_classes": ("study", "imid_caveat_classes"),
    # the grouping's wording (None with prior_exposure: null, a section without keys)
    "exposure_label": ("prior_exposure", "label"),
}
# Figures drawn only when the study makes the by_group comparison (config prior_exposure
# and analysis.comparisons): the report leaves them out otherwise.
BY_GROUP_FIGURES = ("km_os_by_group",)

# Modules only some figures load (imported inside their drawing functions): the CIF figure
# the Aalen-Johansen estimator, the landmark and swimmer figures the definition of a responder,
SURVIVAL_FIGURES = ("cif_dialysis",)
RESPONDER_FIGURES = ("landmark_os", "swimmer")
# ... and the dFLC waterfall the one pairing of the clone's light chain (hematologic.flc_measures)
HEMATOLOGIC_FIGURES = ("waterfall_dflc",)


def _setting(config: dict, key: str):
    section, name = SETTING_CONFIG[key]
    return None if config[section] is None else config[section][name]


def settings(config: dict, name: str) -> dict:
    """The settings figure ``name`` draws with, from the (schema-completed) configuration
    (a setting of a section set to null is None)."""
    return {k: _setting(config, k) for k in COMMON_PARAMS + FIGURE_PARAMS[name]}


def figures(config: dict) -> list[str]:
    """The figures this study draws: all of FIGURES but BY_GROUP_FIGURES when the by_group
    comparison is not made (no grouping, or not in analysis.comparisons)."""
    by_group = config["prior_exposure"] is not None and "by_group" in config["analysis"]["comparisons"]
    return [f for f in FIGURES if by_group or f not in BY_GROUP_FIGURES]
