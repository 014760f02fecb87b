"""Figures of the report: survival curves, competing risks, forest, waterfall,
swimmer, NT-proBNP trajectories and the patient flow.

Every figure is drawn by a pure function ``draw_<name>(data, params)`` that returns
a matplotlib Figure and a caption.  ``render`` writes the same figure as SVG, PNG,
TIFF and PDF with deterministic bytes: fixed ``svg.hashsalt``, a bundled font (DejaVu
Sans), no creation dates or software strings in the metadata, seeded sampling. PNG and
TIFF are drawn at ``params.dpi`` (the TIFF holds the PNG's pixels, RGB, LZW-compressed);
``params.width_mm`` scales every figure (its proportions kept). Each figure reads only its
inputs (FIGURE_INPUTS) and its settings (FIGURE_PARAMS), both in the registry
alsalvage.figure_registry: the workflow draws each in a job
of its own (rule ``figure``), so that a figure that fails leaves the others written.
Per-patient figures sample (seeded) beyond ``max_patients`` and say so in the caption.
No patient identifier or calendar date is drawn: times are months from the index date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Patch  # noqa: E402

from .figure_registry import (  # noqa: E402,F401
    COMMON_PARAMS,
    FIGURE_INPUTS,
    FIGURE_PARAMS,
    FIGURES,
    INPUT_NAMES,
    TITLES,
)
from .formatting import fmt_hr, fmt_p  # noqa: E402
from .study import STRATIFIED, Wording, cap, stratified_words  # noqa: E402

# Okabe-Ito colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "skyblue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
RESPONSE_COLOURS = {
    "CR": OKABE_ITO["blue"],
    "VGPR": OKABE_ITO["green"],
    "PR": OKABE_ITO["skyblue"],
    "LOWDFLC": OKABE_ITO["purple"],
    "NR": OKABE_ITO["grey"],
    "NE": OKABE_ITO["yellow"],
}
RESPONSE_ORDER = ["CR", "VGPR", "PR", "LOWDFLC", "NR", "NE"]
RESPONSE_LABELS = {"LOWDFLC": "low-dFLC response"}
GROUP_COLOURS = {
    "naive": OKABE_ITO["blue"],
    "sensitive": OKABE_ITO["green"],
    "refractory": OKABE_ITO["vermillion"],
}

FORMATS = ("svg", "png", "tiff", "pdf")
RASTER = ("png", "tiff")  # drawn at FigureParams.dpi

# Rows the Kaplan-Meier risk tables can show (lifelines add_at_risk_counts).
RISK_ROWS = ("At risk", "Censored", "Events")

# Metadata keys per format: None removes the entry (dates, software strings).
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
}
TIFF_COMPRESSION = "tiff_lzw"  # lossless, what journals' submission systems expect

STYLE = {
    "svg.hashsalt": "alsalvage-figures",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "path.simplify": False,
}

WIDTH_IN = 7.0  # the layout's full width in inches, at the default width_mm
DEFAULT_WIDTH_MM = 177.8  # 7 in: a two-column journal figure


class FigureInputError(ValueError):
    """An input needed by a figure is missing or malformed."""


class _Undeclared:
    """The value of a setting a figure did not declare (FIGURE_PARAMS): any use of it in
    arithmetic, comparison or formatting raises TypeError, so an undeclared setting can
    never be drawn with silently (e.g. a default seed)."""

    def __repr__(self) -> str:
        return "UNDECLARED"

    def __format__(self, spec: str) -> str:
        raise TypeError("a figure used a setting it does not declare in FIGURE_PARAMS")

    def __iter__(self):
        raise TypeError("a figure used a setting it does not declare in FIGURE_PARAMS")


UNDECLARED = _Undeclared()


@dataclass(frozen=True)
class FigureParams:
    """The settings of the figures (figure_registry.SETTING_CONFIG: where each comes from in
    the configuration, whose schema holds the defaults)."""

    seed: int  # sampling of per-patient figures
    max_patients: int
    landmark_months: tuple[float, ...]
    days_per_month: float
    alpha: float
    ntprobnp_rise_pct: float
    pr_fall_pct: float
    dpi: int  # PNG and TIFF
    width_mm: float  # full width; some figures take 0.75 of it
    km_risk_rows: tuple[str, ...]  # rows of the Kaplan-Meier risk tables
    low_dflc_counts: bool  # a low-dFLC response counts as a response (landmark, swimmer)
    regimen: str  # how text names the salvage regimen (config study.regimen, resolved)
    agents: tuple[dict, ...]  # config study.agents (the IMiD caveat of the NT-proBNP figure)
    imid_caveat_classes: tuple[str, ...]

    @property
    def wording(self) -> Wording:
        """The study's phrases (alsalvage.study) from the figure's study settings (the
        regimen's name; the agents and caveat classes only where the figure declares them)."""
        if isinstance(self.regimen, _Undeclared):
            raise TypeError("a figure used a setting it does not declare in FIGURE_PARAMS")
        study = {"regimen": self.regimen}
        if not isinstance(self.agents, _Undeclared):
            study.update(agents=self.agents, imid_caveat_classes=self.imid_caveat_classes)
        return Wording.from_params(study, None)  # the grouping's words: wording(params)
    exposure_label: str | None  # prior_exposure.label; None: no grouping (study.Wording)

    @classmethod
    def for_figure(cls, name: str, settings: dict) -> "FigureParams":
        """The parameters of figure ``name`` from exactly its settings (COMMON_PARAMS and
        FIGURE_PARAMS[name]); every other field is UNDECLARED."""
        if name not in FIGURE_PARAMS:
            raise FigureInputError(f"unknown figure '{name}' (known: {', '.join(FIGURES)})")
        wanted = set(COMMON_PARAMS) | set(FIGURE_PARAMS[name])
        if set(settings) != wanted:
            raise FigureInputError(
                f"figure {name} takes the settings {sorted(wanted)}, given {sorted(settings)}"
            )
        values = {f: UNDECLARED for f in cls.__dataclass_fields__}
        for key, value in settings.items():
            values[key] = SETTING_TYPES[key](value)
        unknown = [r for r in values["km_risk_rows"] if r not in RISK_ROWS] if "km_risk_rows" in settings else []
        if unknown:
            raise FigureInputError(f"unknown risk-table row(s) {unknown} (known: {', '.join(RISK_ROWS)})")
        return cls(**values)


SETTING_TYPES = {  # as the configuration gives them (YAML) -> as FigureParams holds them
    "seed": int,
    "max_patients": int,
    "landmark_months": lambda v: tuple(float(x) for x in v),
    "days_per_month": float,
    "alpha": float,
    "ntprobnp_rise_pct": float,
    "pr_fall_pct": float,
    "dpi": int,
    "width_mm": float,
    "km_risk_rows": tuple,
    "low_dflc_counts": bool,
    "regimen": str,
    "agents": lambda v: tuple(dict(a) for a in v),
    "imid_caveat_classes": tuple,
    "exposure_label": lambda v: None if v is None else str(v),
}


def figsize(params: FigureParams, width_frac: float, height_in: float) -> tuple[float, float]:
    """A figure's size in inches: ``width_frac`` of the full width and ``height_in`` at the
    default width (DEFAULT_WIDTH_MM), both scaled by width_mm / DEFAULT_WIDTH_MM, so the
    proportions are kept at any width; text keeps its point size."""
    scale = params.width_mm / DEFAULT_WIDTH_MM
    return (WIDTH_IN * width_frac * scale, height_in * scale)


def risk_table_words(rows) -> str:
    """What the risk table under a Kaplan-Meier plot counts, for the caption: "number at
    risk" and/or the cumulative numbers censored and with an event up to each time."""
    parts = ["number at risk"] if "At risk" in rows else []
    cumulative = [w for r, w in (("Censored", "censored"), ("Events", "with an event")) if r in rows]
    if cumulative:
        parts.append(("cumulative numbers " if len(cumulative) > 1 else "cumulative number ") + " and ".join(cumulative))
    return " and ".join(parts)


# --------------------------------------------------------------------------- helpers


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def sample_patients(ids: pd.Series, max_patients: int, seed: int) -> tuple[pd.Index, str]:
    """Seeded sample of at most max_patients ids (sorted); the note says what was done."""
    ids = pd.Index(sorted(pd.unique(ids)))
    if len(ids) <= max_patients:
        return ids, ""
    chosen = _rng(seed).choice(len(ids), size=max_patients, replace=False)
    note = (
        f" A random sample of {max_patients:,} of {len(ids):,} patients is shown "
        f"(seed {seed}); summary statistics use all patients."
    )
    return pd.Index(sorted(ids[np.sort(chosen)])), note


def _months(days, days_per_month: float):
    return days / days_per_month


def format_p(p) -> str:
    """'p = 0.028' / 'p < 0.001' / 'p not estimable' (3 decimals, rounded half up)."""
    shown = fmt_p(p)
    if shown == "NA":
        return "p not estimable"
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(float(v)) for v in values)


def not_estimable(ax, reason: str) -> None:
    """A panel with nothing to draw says so (and why) instead of failing or staying blank."""
    ax.text(0.5, 0.5, "Not estimable\n" + reason, transform=ax.transAxes, ha="center", va="center",
            fontsize=9, color=OKABE_ITO["black"], wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _require(df: pd.DataFrame, name: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FigureInputError(f"{name}: missing column(s) {', '.join(missing)}")


def _tte(adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    _require(adtte, "adtte", ["USUBJID", "PARAMCD", "AVAL", "CNSR"])
    return adtte.loc[adtte["PARAMCD"] == paramcd].sort_values("USUBJID").reset_index(drop=True)


def _km(durations, events, label, alpha):
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter(alpha=alpha)
    kmf.fit(np.asarray(durations, float), np.asarray(events, int), label=label)
    return kmf


def _km_axes(ax, title: str):
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel("Months")
    ax.set_ylabel("Overall survival")
    ax.set_title(title, loc="left")
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)


def censor_tick_times(durations, events, max_ticks: int, seed: int) -> tuple[np.ndarray, int]:
    """Where to draw censoring ticks on one Kaplan-Meier curve when it has more than
    ``max_ticks`` censored patients: the distinct times of a seeded random sample of
    ``max_ticks`` of them (patients in input order). Returns (sorted times, number of
    censored patients); with at most ``max_ticks`` censored patients the times are empty
    (every censored time is drawn, by lifelines)."""
    durations = np.asarray(durations, float)
    censored = durations[~np.asarray(events, bool)]
    if len(censored) <= max_ticks:
        return np.array([], float), len(censored)
    chosen = _rng(seed).choice(len(censored), size=max_ticks, replace=False)
    return np.unique(censored[chosen]), len(censored)


def plot_km(ax, kmf, durations, events, params: FigureParams, colour: str, ms: float, ci_show: bool) -> int:
    """Draw a fitted Kaplan-Meier curve with its censoring ticks; beyond
    ``params.max_patients`` censored patients, ticks for a seeded sample of that many
    (one tick per censored patient merges into a band at large N). Returns the number of
    censored patients when the ticks were sampled, else 0."""
    times, n_censored = censor_tick_times(durations, events, params.max_patients, params.seed)
    style = {"marker": "|", "ms": ms, "mew": 1}
    kmf.plot_survival_function(
        ax=ax, ci_show=ci_show, show_censors=len(times) == 0, censor_styles=style, color=colour
    )
    if len(times) == 0:
        return 0
    ax.plot(times, kmf.survival_function_at_times(times).to_numpy(), linestyle="None", color=colour, **style)
    return n_censored


def censor_note(sampled: list[int], params: FigureParams) -> str:
    """Caption sentence for curves whose censoring ticks were sampled."""
    if not sampled:
        return ""
    return (
        f" Ticks mark a random sample of {params.max_patients:,} of the "
        + " / ".join(f"{n:,}" for n in sampled)
        + f" censored patients of {'each curve' if len(sampled) > 1 else 'the curve'} (seed {params.seed})."
    )


def cif_steps(tab: pd.DataFrame) -> pd.DataFrame:
    """The vertices of a post-step drawing of an Aalen-Johansen table (survival.aj_table):
    the curve starts at 0 at time 0 (at F(0) when events happen at 0), one vertex per
    distinct time where the estimate or a confidence limit changes, and the last time, to
    end the curve. Returns columns time, cif, lower, upper."""
    out = tab[["time", "cif", "lower", "upper"]]
    if len(out) == 0 or out["time"].iat[0] > 0:
        origin = pd.DataFrame({"time": [0.0], "cif": [0.0], "lower": [np.nan], "upper": [np.nan]})
        out = pd.concat([origin, out], ignore_index=True)
    values = out[["cif", "lower", "upper"]].to_numpy(float)
    same = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
    keep = np.r_[True, ~same.all(axis=1)]
    keep[-1] = True
    return out.loc[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- survival


def draw_km_os(data: dict, params: FigureParams):
    from lifelines.plotting import add_at_risk_counts

    os_ = _tte(data["adtte"], "OS")
    kmf = _km(os_["AVAL"], os_["CNSR"] == 0, "All treated", params.alpha)
    fig, ax = plt.subplots(figsize=figsize(params, 0.75, 4.2))
    sampled = plot_km(ax, kmf, os_["AVAL"], os_["CNSR"] == 0, params, OKABE_ITO["blue"], 7, ci_show=True)
    med = kmf.median_survival_time_
    if np.isfinite(med):
        ax.axhline(0.5, color=OKABE_ITO["grey"], lw=0.7, ls=":")
    _km_axes(ax, f"Overall survival from {params.wording.start}")
    ax.legend(loc="lower left", frameon=False)
    add_at_risk_counts(kmf, ax=ax, rows_to_show=list(params.km_risk_rows))
    fig.tight_layout()
    n, events = len(os_), int((os_["CNSR"] == 0).sum())
    med_txt = f"{med:.1f} months" if np.isfinite(med) else "not reached"
    caption = (
        f"Kaplan-Meier estimate of overall survival (n = {n}, {events} deaths); shaded band: "
        f"pointwise {100 * (1 - params.alpha):.0f}% confidence interval (log-log transform); "
        f"ticks: censored patients; table: {risk_table_words(params.km_risk_rows)}. Median {med_txt}."
        + censor_note([sampled] if sampled else [], params)
    )
    return fig, caption


PEX_GROUPS = (("naive", "Naive"), ("sensitive", "Sensitive"), ("refractory", "Refractory"))


def wording(params: FigureParams) -> Wording:
    """The grouping's phrases (study.Wording) from the figure's exposure_label setting."""
    return Wording.from_label(None, params.exposure_label)


def at_risk_table(ax, fitters, labels, rows) -> None:
    """The risk table under a Kaplan-Meier axes, per curve headed by its short label, the
    ``rows`` of RISK_ROWS each. The row labels are right-aligned against the first count, so
    their length sets how far the axes are pushed right: they carry the group name only,
    never a number (the first count, at time 0, is the group's n)."""
    from lifelines.plotting import add_at_risk_counts

    add_at_risk_counts(*fitters, ax=ax, labels=list(labels), rows_to_show=list(rows))


def key_above_axes(ax):
    """A one-row key of the curves (short labels) between the title (moved up to make
    room) and the axes, outside the plotting area: it never covers a curve, whatever the
    data or N."""
    ax.set_title(ax.get_title(loc="left"), loc="left", pad=18)
    handles, labels = ax.get_legend_handles_labels()
    return ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=max(1, len(handles)),
        frameon=False,
        borderaxespad=0.2,
        handlelength=1.8,
        columnspacing=1.6,
    )


def draw_km_os_by_group(data: dict, params: FigureParams):
    adsl = data["adsl"]
    _require(adsl, "adsl", ["USUBJID", "PEXGRP"])
    os_ = _tte(data["adtte"], "OS").merge(adsl[["USUBJID", "PEXGRP"]], on="USUBJID", how="left")
    fig, ax = plt.subplots(figsize=figsize(params, 0.75, 4.6))
    fitters, labels, counts, sampled = [], [], [], []
    for grp, label in PEX_GROUPS:
        sub = os_.loc[os_["PEXGRP"] == grp]
        if sub.empty:
            continue
        # group name only, in the key and the at-risk table: n (any length) goes in the
        # table's first column and the caption, so the layout does not depend on N
        kmf = _km(sub["AVAL"], sub["CNSR"] == 0, label, params.alpha)
        n_sampled = plot_km(ax, kmf, sub["AVAL"], sub["CNSR"] == 0, params, GROUP_COLOURS[grp], 7, ci_show=False)
        sampled += [n_sampled] if n_sampled else []
        fitters.append(kmf)
        labels.append(label)
        counts.append(f"{grp} {len(sub):,}")
    w = wording(params)
    _km_axes(ax, f"Overall survival by {w.prior}")
    ptext = "; ".join(f"{label}: {format_p(p)}" for label, p in data["results"]["group_p"])
    if ptext:
        ax.text(0.98, 0.97, "Log-rank\n" + ptext.replace("; ", "\n"), transform=ax.transAxes, ha="right", va="top", fontsize=7.5)
    key_above_axes(ax)
    if fitters:
        at_risk_table(ax, fitters, labels, params.km_risk_rows)
    fig.tight_layout()
    caption = (
        f"Kaplan-Meier overall survival by {w.prior_group}: naive (never given {w.exposure}), "
        f"sensitive (potentially {w.exposure}-sensitive) and refractory"
        + (f" (n: {', '.join(counts)})" if counts else "")
        + f"; table: {risk_table_words(params.km_risk_rows)} (the first "
        + ("column" if len(params.km_risk_rows) == 1 else "at-risk column")
        + " is each group's n). p-values are the "
        "log-rank tests reported in the statistics results"
        + strata_words(data, "group_p")
        + "."
        + censor_note(sampled, params)
    )
    return fig, caption


def landmark_table(
    adtte: pd.DataFrame, adrs: pd.DataFrame, landmark: float, days_per_month: float, low_dflc_counts: bool
):
    """Patients alive and followed at the landmark, their response by then (as the statistics
    count it: stats.responders.responded_by) and OS after it."""
    from .stats.responders import responded_by

    os_ = _tte(adtte, "OS")
    _require(adrs, "adrs", ["USUBJID", "PARAMCD", "AVALC", "ADY", "ANL01FL"])
    alive = os_.loc[os_["AVAL"] > landmark, ["USUBJID", "AVAL", "CNSR"]].copy()
    responders = responded_by(adrs, landmark, days_per_month, low_dflc_counts)
    alive["RESP"] = np.where(alive["USUBJID"].isin(responders), "Responder", "Non-responder")
    alive["AVAL"] = alive["AVAL"] - landmark
    return alive


def draw_landmark_os(data: dict, params: FigureParams):
    marks = list(params.landmark_months)
    fig, axes = plt.subplots(1, len(marks), figsize=figsize(params, 1.0, 3.4), sharey=True, squeeze=False)
    notes, sampled = [], []
    for ax, lm in zip(axes[0], marks):
        tab = landmark_table(data["adtte"], data["adrs"], lm, params.days_per_month, params.low_dflc_counts)
        for grp, colour in (("Responder", OKABE_ITO["blue"]), ("Non-responder", OKABE_ITO["vermillion"])):
            sub = tab.loc[tab["RESP"] == grp]
            if sub.empty:
                continue
            kmf = _km(sub["AVAL"], sub["CNSR"] == 0, f"{grp} (n = {len(sub):,})", params.alpha)
            n_sampled = plot_km(ax, kmf, sub["AVAL"], sub["CNSR"] == 0, params, colour, 6, ci_show=False)
            sampled += [n_sampled] if n_sampled else []
        _km_axes(ax, f"Landmark {lm:g} months")
        ax.set_xlabel(f"Months after the {lm:g}-month landmark")
        p = data["results"]["landmark_p"].get(lm)
        if p is not None:
            ax.text(0.98, 0.97, f"Log-rank {format_p(p)}", transform=ax.transAxes, ha="right", va="top", fontsize=7.5)
        ax.legend(loc="lower left", frameon=False)
        notes.append(f"{len(tab):,} patients alive at {lm:g} months")
    fig.tight_layout()
    caption = (
        "Landmark analysis of overall survival by hematologic response (>= PR, or low-dFLC "
        "response when counted) reached by the landmark, among patients alive at it; survival is "
        "measured from the landmark (" + "; ".join(notes) + ")"
        + (f"; log-rank tests {STRATIFIED}" if strata_words(data, "landmark_p") else "")
        + "."
        + censor_note(sampled, params)
    )
    return fig, caption


def draw_cif_dialysis(data: dict, params: FigureParams):
    """Left: cumulative incidence of dialysis and of the competing death, all patients not
    on dialysis at index. Right (where the study has a grouping): dialysis by prior-exposure
    group, Gray's p-values."""
    from .survival import aalen_johansen  # the CIF figure alone needs the estimator

    tte = _tte(data["adtte"], "TTDIAL")
    _require(tte, "adtte", ["CAUSEN"])
    # ADTTE CAUSEN: 0 = censored, 1 = dialysis, 2 = death without dialysis (competing);
    # CNSR alone (1 for both censoring and the competing death) would give 1 - KM.
    code = tte["CAUSEN"].astype(int)
    cif = aalen_johansen(tte["AVAL"].to_numpy(float), code.to_numpy(), alpha=params.alpha)
    w = wording(params)
    if w.grouping:
        fig, (ax, axg) = plt.subplots(1, 2, figsize=figsize(params, 1.0, 3.8), sharey=True)
    else:  # no grouping: the left panel alone
        fig, ax = plt.subplots(figsize=figsize(params, 0.75, 3.8))
    for event, label, colour in ((1, "Dialysis", OKABE_ITO["vermillion"]), (2, "Death without dialysis", OKABE_ITO["grey"])):
        est = cif_steps(cif.tables[event])
        x = est["time"].to_numpy(float)
        ax.plot(x, est["cif"].to_numpy(float), drawstyle="steps-post", color=colour, label=label)
        if event == 1:  # the confidence band of the event of interest only
            ax.fill_between(
                x, est["lower"].to_numpy(float), est["upper"].to_numpy(float),
                alpha=0.25, color=colour, linewidth=1.0, step="post",
            )  # fmt: skip
    ax.set_ylim(0, 1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("Months")
    ax.set_ylabel("Cumulative incidence")
    ax.set_title("Dialysis with death as a competing risk", loc="left")
    if not (code == 1).any():
        ax.text(0.5, 0.5, "No dialysis event in this cohort", transform=ax.transAxes, ha="center", va="center",
                fontsize=9)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    ax.legend(loc="upper left", frameon=False)
    counts = draw_cif_by_group(axg, tte, data["adsl"], params) if w.grouping else []
    ptext = "; ".join(f"{label}: {format_p(p)}" for label, p in data["results"]["gray_p"])
    if ptext and w.grouping:
        # under the key (upper left), clear of the curves, which rarely pass 50%
        axg.text(0.03, 0.72, "Gray's test\n" + ptext.replace("; ", "\n"), transform=axg.transAxes, ha="left", va="top", fontsize=7.5)
    fig.tight_layout()
    n = len(tte)
    caption = (
        f"Cumulative incidence of chronic dialysis (Aalen-Johansen) with death without dialysis "
        f"as a competing event, among the {n} patients not on dialysis at {params.wording.start} "
        f"({int((code == 1).sum())} dialysis, {int((code == 2).sum())} competing deaths); band: "
        f"{100 * (1 - params.alpha):g}% confidence interval of the dialysis curve"
        + (
            f"; right: dialysis by {w.prior_group}" + (f" (n: {', '.join(counts)})" if counts else "")
            + (
                ", compared by Gray's test (p-values as reported in the statistics results"
                + strata_words(data, "gray_p")
                + ")"
                if ptext
                else ""
            )
            if w.grouping
            else ""
        )
        + "."
    )
    return fig, caption


def draw_cif_by_group(ax, tte: pd.DataFrame, adsl: pd.DataFrame, params: FigureParams) -> list[str]:
    """Dialysis cumulative incidence per prior-exposure group (no CI band, for legibility),
    drawn from the exact estimator of the statistics (survival.aalen_johansen); returns the "group n" labels of the drawn groups."""
    from .survival import aalen_johansen

    _require(adsl, "adsl", ["USUBJID", "PEXGRP"])
    g = tte.merge(adsl[["USUBJID", "PEXGRP"]], on="USUBJID", how="left")
    counts = []
    for grp, label in PEX_GROUPS:
        sub = g.loc[g["PEXGRP"] == grp]
        if sub.empty:
            continue
        cif = aalen_johansen(sub["AVAL"].to_numpy(float), sub["CAUSEN"].to_numpy(int), alpha=params.alpha)
        est = cif_steps(cif.tables[1])
        ax.plot(
            est["time"].to_numpy(float), est["cif"].to_numpy(float),
            drawstyle="steps-post", color=GROUP_COLOURS[grp], label=f"{label} (n = {len(sub):,})",
        )  # fmt: skip
        counts.append(f"{grp} {len(sub):,}")
    ax.set_xlim(left=0)
    ax.set_xlabel("Months")
    ax.set_title(f"Dialysis by {wording(params).prior}", loc="left")
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    ax.legend(loc="upper left", frameon=False)
    return counts


def draw_forest_cox(data: dict, params: FigureParams):
    cox = data["results"]["cox"]
    naive = wording(params).group_header("naive") if params.exposure_label else "Naive"
    terms = pd.DataFrame([{**t, "label": t["label"].replace("{naive}", naive)} for t in cox["terms"]])
    _require(terms, "results.json cox terms", ["label", "hr", "ci_low", "ci_high", "p"])
    k = len(terms)
    ok = np.array([_finite(r.hr, r.ci_low, r.ci_high) for r in terms.itertuples()], bool)
    fig, ax = plt.subplots(figsize=figsize(params, 1.0, 0.45 * k + 1.4))
    title = f"Cox model of overall survival (n = {cox['n']}, {cox['events']} deaths)"
    if not ok.any():  # no deaths, a constant covariate, ...: nothing to draw
        reason = re.sub(r"^(Cox model not estimable: )?(Cox model: )?", "", cox.get("note") or "") or "not fitted"
        not_estimable(ax, reason)
        ax.set_title(title, loc="left")
        fig.tight_layout()
        caption = (
            "Forest plot of the Cox proportional-hazards model (Efron ties): not estimable in this "
            f"cohort ({reason})."
        )
        return fig, caption
    y = np.arange(k)[::-1]
    fit = terms.loc[ok]
    ax.hlines(y[ok], fit["ci_low"].astype(float), fit["ci_high"].astype(float), color=OKABE_ITO["black"], lw=1.2)
    ax.plot(fit["hr"].astype(float), y[ok], "s", color=OKABE_ITO["blue"], ms=6)
    ax.axvline(1.0, color=OKABE_ITO["grey"], ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(terms["label"])
    lo = float(min(fit["ci_low"].astype(float).min(), 0.5))
    hi = float(max(fit["ci_high"].astype(float).max(), 2.0))
    ax.set_xlim(lo / 1.3, hi * 1.3)
    ticks = [t for t in (0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32) if lo / 1.3 <= t <= hi * 1.3]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(-0.8, k - 0.2)
    ax.set_xlabel("Hazard ratio (log scale)")
    for yi, good, (_, row) in zip(y, ok, terms.iterrows()):
        text = f"{fmt_hr(row['hr'], row['ci_low'], row['ci_high'])}, {format_p(row['p'])}" if good else "not estimable"
        ax.annotate(text, xy=(1.02, yi), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    annotation_clip=False)
    ax.set_title(title, loc="left")
    fig.tight_layout()
    fig.subplots_adjust(right=0.62)
    caption = (
        "Forest plot of the Cox proportional-hazards model (Efron ties): hazard ratio with 95% "
        "confidence interval and Wald p for each term; dashed line: no effect (HR = 1)."
        + ("" if ok.all() else " Terms marked not estimable could not be estimated in this cohort.")
    )
    return fig, caption


# --------------------------------------------------------------------------- per patient


def best_dflc_change(adsl: pd.DataFrame, adrs: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
    """Best (lowest) percent change of dFLC from baseline over the assessments inside the
    best-response window (HEMRESP rows with ANL01FL = Y), per FLC-evaluable patient."""
    _require(adsl, "adsl", ["USUBJID", "ISOTYPE", "DFLCBL", "HEMEVAL"])
    _require(labs, "labs", ["patient_id", "date", "analyte", "value"])
    flc = labs.loc[labs["analyte"].isin(["flc_kappa", "flc_lambda"])]
    wide = flc.pivot_table(index=["patient_id", "date"], columns="analyte", values="value", aggfunc="last")
    wide = wide.reindex(columns=["flc_kappa", "flc_lambda"]).reset_index()
    wide = wide.rename(columns={"patient_id": "USUBJID", "date": "ADT"})
    window = adrs.loc[(adrs["PARAMCD"] == "HEMRESP") & (adrs["ANL01FL"] == "Y"), ["USUBJID", "ADT"]]
    ev = adsl.loc[adsl["HEMEVAL"].isin(["measurable", "low_dflc"]) & (adsl["DFLCBL"] > 0)]
    m = window.merge(wide, on=["USUBJID", "ADT"]).merge(ev[["USUBJID", "ISOTYPE", "DFLCBL"]], on="USUBJID")
    from .hematologic import flc_measures  # the one pairing of iFLC and uFLC (as ADRS's dFLC)

    dflc = flc_measures(m["flc_kappa"], m["flc_lambda"], m["ISOTYPE"])["DFLC"].to_numpy()
    m["PCHG"] = (dflc - m["DFLCBL"].to_numpy()) / m["DFLCBL"].to_numpy() * 100.0
    best = m.groupby("USUBJID", as_index=False)["PCHG"].min()
    resp = adrs.loc[adrs["PARAMCD"] == "BESTHEM", ["USUBJID", "AVALC"]].drop_duplicates("USUBJID")
    return best.merge(resp, on="USUBJID", how="left").fillna({"AVALC": "NR"})


def draw_waterfall_dflc(data: dict, params: FigureParams):
    best = best_dflc_change(data["adsl"], data["adrs"], data["labs"])
    ids, note = sample_patients(best["USUBJID"], params.max_patients, params.seed)
    shown = best.loc[best["USUBJID"].isin(ids)].copy()
    shown["PLOT"] = shown["PCHG"].clip(upper=100)
    shown = shown.sort_values(["PLOT", "USUBJID"], ascending=[False, True]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=figsize(params, 1.0, 3.6))
    colours = shown["AVALC"].map(RESPONSE_COLOURS).fillna(OKABE_ITO["grey"])
    ax.bar(np.arange(len(shown)), shown["PLOT"], color=colours, width=0.85, linewidth=0)
    ax.axhline(-params.pr_fall_pct, color=OKABE_ITO["black"], ls="--", lw=0.9)
    ax.text(-0.5, -params.pr_fall_pct - 2, f"-{params.pr_fall_pct:g}%", ha="left", va="top", fontsize=8)
    ax.axhline(0, color=OKABE_ITO["black"], lw=0.6)
    ax.set_xticks([])
    ax.set_xlim(-1, max(len(shown), 1))
    ax.set_ylim(-105, 105)
    ax.set_xlabel("Patients with FLC-evaluable disease, ordered by best change")
    ax.set_ylabel("Best dFLC change from baseline (%)")
    ax.set_title("Best change in dFLC", loc="left")
    present = [r for r in RESPONSE_ORDER if r in set(shown["AVALC"])]
    ax.legend(
        handles=[Patch(color=RESPONSE_COLOURS[r], label=RESPONSE_LABELS.get(r, r)) for r in present],
        title="Best response",
        loc="upper right",
        frameon=False,
        ncol=len(present) or 1,
    )
    fig.tight_layout()
    n_capped = int((shown["PCHG"] > 100).sum())
    caption = (
        f"Waterfall of the best dFLC change from baseline during the response window, one bar "
        f"per patient with measurable or low-dFLC disease (n = {len(shown)}), coloured by best "
        f"hematologic response; dashed line: -{params.pr_fall_pct:g}%."
        + (f" {n_capped} rises above +100% are drawn at +100%." if n_capped else "")
        + note
    )
    return fig, caption


def swimmer_table(adsl, adrs, days_per_month: float, low_dflc_counts: bool) -> pd.DataFrame:
    """One row per patient: treatment end, follow-up, death, dialysis, first response
    (stats.responders.first_response, as the response analysis counts one) and first
    progression, in months from the start."""
    from .stats.responders import first_response

    _require(adsl, "adsl", ["USUBJID", "TRTSDT", "TRTEDT", "LSTCNTDT", "DTHDT", "DIALDT", "DIALBL"])
    t = adsl[["USUBJID", "TRTSDT", "TRTEDT", "LSTCNTDT", "DTHDT", "DIALDT", "DIALBL"]].copy()

    def since(col):
        return (pd.to_datetime(t[col]) - pd.to_datetime(t["TRTSDT"])).dt.days / days_per_month

    t["ONGOING"] = t["TRTEDT"].isna()
    t["END"] = since("TRTEDT").fillna(since("LSTCNTDT"))
    t["FU"] = since("LSTCNTDT")
    t["DEATH"] = since("DTHDT")
    t["DIAL"] = np.where(t["DIALBL"] == 1, np.nan, since("DIALDT"))
    first_resp = first_response(adrs, low_dflc_counts).rename(columns={"ADY": "RESPD"})
    prog = adrs.loc[(adrs["PARAMCD"] == "HEMPROG") & adrs["AVALC"].isin(["PD", "Y", "PROG"])]
    first_prog = prog.groupby("USUBJID", as_index=False)["ADY"].min().rename(columns={"ADY": "PROGD"})
    t = t.merge(first_resp, on="USUBJID", how="left").merge(first_prog, on="USUBJID", how="left")
    t["RESP"] = t["RESPD"] / days_per_month
    t["PROG"] = t["PROGD"] / days_per_month
    return t


def draw_swimmer(data: dict, params: FigureParams):
    t = swimmer_table(data["adsl"], data["adrs"], params.days_per_month, params.low_dflc_counts)
    ids, note = sample_patients(t["USUBJID"], params.max_patients, params.seed)
    t = t.loc[t["USUBJID"].isin(ids)].sort_values(["END", "USUBJID"]).reset_index(drop=True)
    n = len(t)
    fig, ax = plt.subplots(figsize=figsize(params, 1.0, max(3.0, min(0.12 * n + 1.2, 9.5))))
    y = np.arange(n)
    ax.hlines(y, 0, t["FU"], color="#cccccc", lw=0.8)
    ax.barh(y, t["END"], height=0.7, color=OKABE_ITO["skyblue"], linewidth=0)
    ongoing = t["ONGOING"].to_numpy()
    ms = 5 if n <= 60 else 3
    ax.plot(t["END"][ongoing], y[ongoing], ">", color=OKABE_ITO["skyblue"], ms=ms)
    ax.plot(t["RESP"], y, "D", color=OKABE_ITO["green"], ms=ms, ls="none")
    ax.plot(t["PROG"], y, "x", color=OKABE_ITO["orange"], ms=ms + 1, mew=1.4, ls="none")
    ax.plot(t["DIAL"], y, "s", color=OKABE_ITO["purple"], ms=ms, ls="none")
    ax.plot(t["DEATH"], y, "|", color=OKABE_ITO["black"], ms=ms + 3, mew=1.8, ls="none")
    ax.set_yticks([])
    ax.set_ylim(-1, n)
    ax.set_xlim(left=0)
    w = params.wording
    ax.set_xlabel(f"Months from {w.start}")
    ax.set_ylabel(f"Patients (ordered by {w.time_on[0].lower()}{w.time_on[1:]})")
    ax.set_title(f"{w.time_on} and events", loc="left")
    handles = [
        Patch(color=OKABE_ITO["skyblue"], label=w.on),
        Line2D([], [], color="#cccccc", label="Follow-up"),
        Line2D([], [], marker=">", color=OKABE_ITO["skyblue"], ls="none", label="Ongoing"),
        Line2D([], [], marker="D", color=OKABE_ITO["green"], ls="none", label="First response"),
        Line2D([], [], marker="x", color=OKABE_ITO["orange"], ls="none", mew=1.4, label="Hematologic progression"),
        Line2D([], [], marker="s", color=OKABE_ITO["purple"], ls="none", label="Dialysis start"),
        Line2D([], [], marker="|", color=OKABE_ITO["black"], ls="none", mew=1.8, ms=8, label="Death"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
    fig.tight_layout()
    caption = (
        f"Swimmer plot: one row per patient (n = {n}), bar = time on {w.regimen}, grey line = "
        "follow-up; marks for first hematologic response, hematologic progression, start of "
        "dialysis and death." + note
    )
    return fig, caption


def ntprobnp_changes(adsl: pd.DataFrame, labs: pd.DataFrame, days_per_month: float) -> pd.DataFrame:
    _require(adsl, "adsl", ["USUBJID", "TRTSDT", "NTPROBL"])
    nt = labs.loc[labs["analyte"] == "ntprobnp", ["patient_id", "date", "value"]]
    nt = nt.rename(columns={"patient_id": "USUBJID"}).merge(
        adsl.loc[adsl["NTPROBL"] > 0, ["USUBJID", "TRTSDT", "NTPROBL"]], on="USUBJID"
    )
    nt["MONTH"] = (pd.to_datetime(nt["date"]) - pd.to_datetime(nt["TRTSDT"])).dt.days / days_per_month
    nt = nt.loc[nt["MONTH"] >= 0].copy()
    nt["PCHG"] = (nt["value"] - nt["NTPROBL"]) / nt["NTPROBL"] * 100.0
    nt["VISIT"] = nt["MONTH"].round().astype(int)
    return nt.sort_values(["USUBJID", "MONTH"]).reset_index(drop=True)


def draw_ntprobnp(data: dict, params: FigureParams):
    nt = ntprobnp_changes(data["adsl"], data["labs"], params.days_per_month)
    ids, note = sample_patients(nt["USUBJID"], params.max_patients, params.seed)
    fig, ax = plt.subplots(figsize=figsize(params, 0.75, 3.8))
    shown = nt.loc[nt["USUBJID"].isin(ids)]
    for _, g in shown.groupby("USUBJID", sort=True):
        ax.plot(g["MONTH"], g["PCHG"].clip(-100, 400), color="#bbbbbb", lw=0.6, alpha=0.8)
    med = nt.groupby("VISIT").agg(PCHG=("PCHG", "median"), N=("USUBJID", "nunique")).reset_index()
    med = med.loc[med["N"] >= 5]
    ax.plot(med["VISIT"], med["PCHG"].clip(-100, 400), "-o", color=OKABE_ITO["vermillion"], lw=2, ms=4, label="Median")
    ax.axhline(0, color=OKABE_ITO["black"], lw=0.7)
    ax.axhline(params.ntprobnp_rise_pct, color=OKABE_ITO["blue"], ls="--", lw=0.8)
    ax.axhline(-params.ntprobnp_rise_pct, color=OKABE_ITO["green"], ls="--", lw=0.8)
    ax.set_ylim(-100, 400)
    ax.set_xlim(left=0)
    w = params.wording
    ax.set_xlabel(f"Months from {w.start}")
    ax.set_ylabel("NT-proBNP change from baseline (%)")
    ax.set_title(f"NT-proBNP on {w.regimen}", loc="left")
    ax.legend(
        handles=[
            Line2D([], [], color="#bbbbbb", label="Individual patients"),
            Line2D([], [], color=OKABE_ITO["vermillion"], marker="o", lw=2, label="Median by month (n >= 5)"),
            Line2D([], [], color=OKABE_ITO["blue"], ls="--", label=f"+{params.ntprobnp_rise_pct:g}%"),
            Line2D([], [], color=OKABE_ITO["green"], ls="--", label=f"-{params.ntprobnp_rise_pct:g}%"),
        ],
        loc="upper right",
        frameon=False,
    )
    fig.tight_layout()
    rising = nt.groupby("USUBJID")["PCHG"].max().gt(0)
    caption = (
        f"Relative change of NT-proBNP from baseline in {nt['USUBJID'].nunique()} patients with a "
        f"baseline value: thin lines per patient, bold line the median by month from {w.start}. "
        f"{int(rising.sum())} patients had a rise at some time on follow-up"
        + (", the expected effect of immunomodulatory drugs that confounds NT-proBNP cardiac criteria. "
           if w.imid_caveat else ". ")
        + "Values above +400% are drawn at +400%." + note
    )
    return fig, caption


# --------------------------------------------------------------------------- flow


def flow_counts(adsl: pd.DataFrame, adrs: pd.DataFrame, landmark_months: float | None = None) -> dict:
    """Patients treated, evaluable per analysis, and why the others are not."""
    _require(adsl, "adsl", ["USUBJID", "SAFFL", "HEMEVAL", "HEART", "KIDNEY", "LIVER", "DIALBL"])
    treated = adsl.loc[adsl["SAFFL"] == "Y"]
    n = len(treated)

    def evaluable(paramcd):
        rows = adrs.loc[(adrs["PARAMCD"] == paramcd) & (adrs["EVALFL"] == "Y")]
        return treated["USUBJID"].isin(set(rows["USUBJID"]))

    hem = treated["HEMEVAL"].value_counts()
    card, ren, liv = evaluable("BESTCARD"), evaluable("BESTREN"), evaluable("BESTLIV")
    heart, kidney, liver = (treated[c] == 1 for c in ("HEART", "KIDNEY", "LIVER"))
    dial = treated["DIALBL"] == 1
    return {
        "treated": n,
        "boxes": [
            {
                "title": "Hematologic response (ITT)",
                "n": n,
                "lines": [
                    f"dFLC >= threshold: {int(hem.get('measurable', 0)):,}",
                    f"low dFLC: {int(hem.get('low_dflc', 0)):,}",
                    f"not FLC-measurable: {int(hem.get('not_measurable', 0)):,}",
                ],
            },
            {
                "title": "Cardiac response",
                "n": int(card.sum()),
                "lines": [
                    f"heart not involved: {int((~heart).sum()):,}",
                    f"NT-proBNP below threshold or missing: {int((heart & ~card).sum()):,}",
                ],
            },
            {
                "title": "Renal response",
                "n": int(ren.sum()),
                "lines": [
                    f"kidney not involved: {int((~kidney).sum()):,}",
                    f"on dialysis: {int((kidney & dial & ~ren).sum()):,}",
                    f"proteinuria below threshold or missing: {int((kidney & ~dial & ~ren).sum()):,}",
                ],
            },
            {
                "title": "Liver response",
                "n": int(liv.sum()),
                "lines": [
                    f"liver not involved: {int((~liver).sum()):,}",
                    f"ALP not above ULN or missing: {int((liver & ~liv).sum()):,}",
                ],
            },
            {
                "title": "Time to dialysis",
                "n": int((~dial).sum()),
                "lines": [f"on dialysis at start: {int(dial.sum()):,}"],
            },
        ],
    }


def draw_flow(data: dict, params: FigureParams):
    fc = flow_counts(data["adsl"], data["adrs"])
    boxes = fc["boxes"]
    k = len(boxes)
    fig, ax = plt.subplots(figsize=figsize(params, 1.0, 4.2))
    ax.set_axis_off()
    ax.set_xlim(0, k)
    ax.set_ylim(0, 1)
    style = dict(boxstyle="round,pad=0.01", linewidth=1.0)
    top_w = 2.4
    ax.add_patch(
        FancyBboxPatch((k / 2 - top_w / 2, 0.84), top_w, 0.13, facecolor="#eaf4fb", edgecolor=OKABE_ITO["blue"], **style)
    )
    ax.text(k / 2, 0.905, f"Treated with >= 1 dose of {params.regimen}\nn = {fc['treated']:,}", ha="center", va="center", fontsize=9)
    for i, b in enumerate(boxes):
        cx = i + 0.5
        ax.annotate("", xy=(cx, 0.66), xytext=(k / 2, 0.84), arrowprops=dict(arrowstyle="->", lw=0.8, color="#555555"))
        ax.add_patch(
            FancyBboxPatch((i + 0.04, 0.46), 0.92, 0.2, facecolor="#eef8f3", edgecolor=OKABE_ITO["green"], **style)
        )
        ax.text(cx, 0.56, f"{_wrap(b['title'], 16)}\nevaluable\nn = {b['n']:,}", ha="center", va="center", fontsize=7.2)
        ax.add_patch(
            FancyBboxPatch((i + 0.04, 0.02), 0.92, 0.36, facecolor="#fbf3ea", edgecolor=OKABE_ITO["orange"], **style)
        )
        ax.annotate("", xy=(cx, 0.38), xytext=(cx, 0.46), arrowprops=dict(arrowstyle="->", lw=0.8, color="#555555"))
        text = "\n\n".join(_wrap(line, 19) for line in b["lines"])
        ax.text(cx, 0.2, text, ha="center", va="center", fontsize=6.5, linespacing=1.15)
    caption = (
        "Patient flow: all treated patients enter the intention-to-treat hematologic analysis "
        "(non-measurable and unassessed patients count as non-responders); organ-response and "
        "dialysis analyses include the evaluable patients only; the lower boxes give the numbers "
        "not evaluable and why."
    )
    return fig, caption


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return "\n".join(lines)


# The drawing function of each figure of the registry: draw_<name>.
DRAW = {name: globals()[f"draw_{name}"] for name in FIGURES}


# --------------------------------------------------------------------------- I/O


def save(fig, paths: dict[str, str | Path], dpi: int) -> None:
    """Write the figure in each format with stripped metadata (deterministic bytes). SVG and
    PDF are vector (their bytes do not depend on ``dpi``); PNG is drawn at ``dpi`` and the
    TIFF holds the same pixels, RGB (no alpha channel), LZW-compressed, with the resolution
    tag and no date or software tag."""
    import io

    from PIL import Image

    png = None
    for fmt in ("svg", "pdf", "png", "tiff"):
        if fmt not in paths:
            continue
        Path(paths[fmt]).parent.mkdir(parents=True, exist_ok=True)
        if fmt in ("svg", "pdf"):
            fig.savefig(paths[fmt], format=fmt, metadata=METADATA[fmt], bbox_inches="tight", pad_inches=0.08)
            continue
        if png is None:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata=METADATA["png"], bbox_inches="tight", pad_inches=0.08, dpi=dpi)
            png = buf.getvalue()
        if fmt == "png":
            Path(paths[fmt]).write_bytes(png)
        else:
            with Image.open(io.BytesIO(png)) as img:
                img.convert("RGB").save(paths[fmt], format="TIFF", compression=TIFF_COMPRESSION, dpi=(dpi, dpi))


def render(name: str, data: dict, params: FigureParams, paths: dict[str, str | Path]) -> str:
    """Draw figure ``name`` and write it (the formats named in ``paths``); returns the caption."""
    if name not in DRAW:
        raise FigureInputError(f"unknown figure '{name}' (known: {', '.join(FIGURES)})")
    with matplotlib.rc_context(STYLE):
        fig, caption = DRAW[name](data, params)
        try:
            save(fig, paths, params.dpi)
        finally:
            plt.close(fig)
    return caption


def render_figure(name: str, data: dict, params: FigureParams, paths: dict[str, str | Path]) -> str:
    """The rule's entry: draw figure ``name`` from its inputs (FIGURE_INPUTS, refused when
    one is missing), write every format of FORMATS and the caption file (``paths["json"]``);
    returns the caption."""
    if name not in DRAW:
        raise FigureInputError(f"unknown figure '{name}' (known: {', '.join(FIGURES)})")
    lacking = [i for i in FIGURE_INPUTS[name] if i not in data]
    if lacking:
        raise FigureInputError(f"figure inputs not given: {name} needs {', '.join(lacking)}")
    missing = [f for f in (*FORMATS, "json") if f not in paths]
    if missing:
        raise FigureInputError(f"figure {name}: no output path for {', '.join(missing)}")
    caption = render(name, data, params, {fmt: paths[fmt] for fmt in FORMATS})
    write_caption(paths["json"], name, caption, figure_title(name, params))
    return caption


def figure_title(name: str, params: FigureParams) -> str:
    """The figure's title (figure_registry.TITLES) in the study's words."""
    title = TITLES[name]
    if "{prior}" in title:  # a by-group figure: the grouping's words (prior_exposure.label)
        title = title.replace("{prior}", wording(params).prior)
    return params.wording.fill(title) if "{regimen}" in title else title


# Where the figures find their statistics in results.json (keys of docs/results.md). The
# group comparisons and the Cox naive term are drawn where the study made them
# (analysis.comparisons; none without a grouping): absent keys are left out.
GROUP_P_KEYS = (
    ("3 groups", "os.by_pexgrp.logrank_p"),
    ("sensitive vs refractory", "os.sensitive_vs_refractory.logrank_p"),
    ("naive vs exposed", "os.naive_vs_exposed.logrank_p"),
)
GRAY_P_KEYS = (
    ("3 groups", "renal.dialysis.by_pexgrp.gray_p"),
    ("sensitive vs refractory", "renal.dialysis.sensitive_vs_refractory.gray_p"),
    ("naive vs exposed", "renal.dialysis.naive_vs_exposed.gray_p"),
)
COX_TERMS = (
    ("{naive} vs exposed", "os.cox.naive_vs_exposed.hr"),  # "Bortezomib-naive" (exposure_label)
    ("Mayo 2004 stage II vs I", "os.cox.mayo2004_II.hr"),
    ("Mayo 2004 stage III vs I", "os.cox.mayo2004_III.hr"),
)


def strata_words(data: dict, what: str) -> str:
    """", stratified by centre" when the tests a figure prints were (``what``: group_p,
    gray_p or landmark_p; study.STRATIFIED in their methods), else nothing."""
    return stratified_words(data["results"].get("stratified", {}).get(what))


def result(results: dict, key: str) -> dict:
    """One record of results.json; KeyError naming the key when absent."""
    try:
        return results["results"][key]
    except KeyError:
        raise KeyError(f"results.json has no record '{key}' (see docs/results.md)") from None


def results_for_figures(results: dict, landmarks_months) -> dict:
    """The pieces of results.json that figures draw (log-rank p, Gray's p, landmark p, Cox terms)."""
    made = results.get("results", {})
    out = {"group_p": [(label, result(results, key)["p"]) for label, key in GROUP_P_KEYS if key in made]}
    out["gray_p"] = [(label, result(results, key)["p"]) for label, key in GRAY_P_KEYS if key in made]
    out["landmark_p"] = {
        float(lm): result(results, f"os.landmark_{lm:g}m.logrank_p")["p"] for lm in landmarks_months
    }
    # whether the tests were stratified by centre (analysis.centre.stratify): said by the
    # records' methods, so that the captions say what the statistics did
    keys = {
        "group_p": [k for _, k in GROUP_P_KEYS if k in made],
        "gray_p": [k for _, k in GRAY_P_KEYS if k in made],
        "landmark_p": [f"os.landmark_{lm:g}m.logrank_p" for lm in landmarks_months],
    }
    out["stratified"] = {
        what: any(STRATIFIED in (made.get(k, {}).get("method") or "") for k in ks) for what, ks in keys.items()
    }
    # the terms of the model fitted (analysis.cox_covariates): the default ones first with
    # their figure labels, then any other os.cox.<term>.hr with its record's label
    fitted = [k for k in results["results"] if k.startswith("os.cox.") and k.endswith(".hr")]
    labels = dict(COX_TERMS)
    keys = [k for _, k in COX_TERMS if k in fitted] + [k for k in fitted if k not in labels.values()]
    by_key = {k: lab for lab, k in COX_TERMS}
    terms = []
    for key in keys or [COX_TERMS[0][1]]:
        rec = result(results, key)
        terms.append({"label": by_key.get(key, rec.get("label", key).removeprefix("HR ")), "hr": rec["estimate"],
                      "ci_low": rec["ci_low"], "ci_high": rec["ci_high"], "p": rec["p"]})
    main = result(results, (keys or [COX_TERMS[0][1]])[0])
    out["cox"] = {"terms": terms, "n": main["n"], "events": result(results, "os.cox.events")["estimate"],
                  "note": main.get("note")}
    return out


# Columns the figures read, per input (docs/interfaces.md).
REQUIRED_COLUMNS = {
    "adsl": [
        "USUBJID", "SAFFL", "TRTSDT", "TRTEDT", "LSTCNTDT", "DTHDT", "DIALDT", "DIALBL", "ISOTYPE",
        "DFLCBL", "NTPROBL", "HEMEVAL", "PEXGRP", "HEART", "KIDNEY", "LIVER",
    ],
    "adrs": ["USUBJID", "PARAMCD", "AVALC", "ADT", "ADY", "EVALFL", "ANL01FL"],
    "adtte": ["USUBJID", "PARAMCD", "AVAL", "CNSR"],
    "labs": ["patient_id", "date", "analyte", "value"],
}  # fmt: skip


# The only lab rows a figure draws (waterfall: dFLC; NT-proBNP trajectories).
FIGURE_LAB_ANALYTES = ("flc_kappa", "flc_lambda", "ntprobnp")


def _check_columns(columns: dict, paths: dict) -> None:
    problems = [
        f"{paths[name]}: missing column {col}"
        for name, cols in REQUIRED_COLUMNS.items()
        if name in columns
        for col in cols
        if col not in columns[name]
    ]
    if problems:
        raise FigureInputError("inputs of the figures do not match docs/interfaces.md:\n  " + "\n  ".join(problems))


def read_labs(path) -> pd.DataFrame:
    """The validated labs, only the rows of FIGURE_LAB_ANALYTES (file order kept)."""
    return pd.read_parquet(path, filters=[("analyte", "in", list(FIGURE_LAB_ANALYTES))])


def load_inputs(paths: dict, landmarks_months) -> dict:
    """The inputs named in ``paths`` (keys of INPUT_NAMES): each table (of the labs only
    the rows of FIGURE_LAB_ANALYTES), and under "results" the pieces of results.json the
    figures draw. Every missing column is named at once, from the Parquet schemas, before
    any table is read."""
    import pyarrow.parquet as pq

    unknown = sorted(set(paths) - set(INPUT_NAMES))
    if unknown:
        raise FigureInputError(f"unknown figure input(s) {', '.join(unknown)} (known: {', '.join(INPUT_NAMES)})")
    tables = {name: path for name, path in paths.items() if name != "results"}
    _check_columns({name: pq.read_schema(path).names for name, path in tables.items()}, tables)
    data = {}
    if "results" in paths:
        with open(paths["results"]) as fh:
            try:
                data["results"] = results_for_figures(json.load(fh), landmarks_months)
            except KeyError as err:
                raise FigureInputError(f"{paths['results']}: {err.args[0]}") from None
    for name, path in tables.items():
        data[name] = read_labs(path) if name == "labs" else pd.read_parquet(path)
    return data


def drawing_software() -> dict[str, str]:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("matplotlib", "lifelines", "numpy", "pandas")}


def write_caption(path: str | Path, name: str, caption: str, title: str | None = None) -> None:
    """The figure's title (default: figure_registry.TITLES, without the study's words) and
    caption, and the versions of the libraries that drew it."""
    meta = {"name": name, "title": title or TITLES[name], "caption": caption, "software": drawing_software()}
    Path(path).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
