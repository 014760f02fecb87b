"""The derived datasets (ADSL, ADAE, ADRS, ADTTE): their columns, in order.

The spec of what the derive stages write, in the style of :mod:`alsalvage.contract`
(which specifies the raw input tables). For each dataset: the rule that writes it, its
sort key and its columns (name, dtype, unit or type as documented, meaning).

- The writers take their column order from here (``columns(name)``), and the rule
  scripts check the frame they write against it (``conform``): a column added in a
  writer but not here fails.
- Every stage that reads a derived dataset checks its inputs with the one checker
  :func:`problems`, called with ``{dataset: [columns]}``: a missing column is reported
  by file and column, and a column no stage writes is a programming error.
- ``docs/data-dictionary.md``'s column tables of the derived datasets are generated from
  here (:func:`markdown`; ``python -m alsalvage.datasets`` rewrites them; a test fails if
  they drift).

No heavy imports (pandas is only looked at through the frames passed in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# dtypes of the columns as the writers hand them to csvout.write_dataset (Parquet keeps
# them; the CSV writes dates as ISO text and missing values as empty cells)
TEXT = "text"  # object (or categorical) strings; missing = None/NaN
INT = "int64"  # whole number, never missing
NULLABLE_INT = "Int64"  # whole number, may be missing
FLOAT = "float64"
DATE = "datetime64[ns]"

# the pandas dtypes that a column of each kind may have in a frame being written
_ACCEPTED = {
    TEXT: ("object", "category", "string"),
    INT: ("int64",),
    NULLABLE_INT: ("Int64",),
    FLOAT: ("float64",),
    DATE: ("datetime64[ns]",),
}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    unit: str  # unit, or the type as the data dictionary shows it (text, 0/1, Y/N, date ...)
    meaning: str


@dataclass(frozen=True)
class Dataset:
    name: str  # file stem under results/derived/
    rule: str  # the rule that writes it
    rows: str  # what one row is, and the sort order
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


C = Column

ADSL = Dataset(
    "adsl",
    "derive_baseline",
    "one row per patient, sorted by USUBJID",
    ("USUBJID",),
    (
        C("USUBJID", TEXT, "text", "patient identifier (patient_id)"),
        C("SEX", TEXT, "text", "M / F"),
        C("AGE", NULLABLE_INT, "integer", "completed years at the index date"),
        C("BRTHDT", DATE, "date", "date of birth"),
        C("DIAGDT", DATE, "date", "date of diagnosis"),
        C("TRTSDT", DATE, "date", "index date: day 1 of the first salvage cycle"),
        C("TRTEDT", DATE, "date", "salvage end date (last lenalidomide day); empty while ongoing"),
        C("ISOTYPE", TEXT, "text", "light chain of the clone (kappa / lambda)"),
        C("HEART", INT, "0/1", "clinician-recorded organ involvement"),
        C("KIDNEY", INT, "0/1", "clinician-recorded organ involvement"),
        C("LIVER", INT, "0/1", "clinician-recorded organ involvement"),
        C("NERVE", INT, "0/1", "clinician-recorded organ involvement"),
        C("AUTONOMIC", INT, "0/1", "clinician-recorded organ involvement"),
        C("SOFTTISS", INT, "0/1", "clinician-recorded organ involvement"),
        C("GI", INT, "0/1", "clinician-recorded organ involvement"),
        C("NORGAN", INT, "integer", "number of the seven organs involved"),
        C("KAPPABL", FLOAT, "mg/L", "baseline free kappa / lambda, from the last day in the window with both measured"),
        C(
            "LAMBDABL",
            FLOAT,
            "mg/L",
            "baseline free kappa / lambda, from the last day in the window with both measured",
        ),
        C("IFLCBL", FLOAT, "mg/L", "involved (clone's isotype) / uninvolved free light chain"),
        C("UFLCBL", FLOAT, "mg/L", "involved (clone's isotype) / uninvolved free light chain"),
        C("DFLCBL", FLOAT, "mg/L", "IFLCBL - UFLCBL (may be negative)"),
        C("KLRATBL", FLOAT, "ratio", "KAPPABL / LAMBDABL"),
        C("SIFEBL", FLOAT, "0/1", "baseline serum / urine immunofixation (1 = positive)"),
        C("UIFEBL", FLOAT, "0/1", "baseline serum / urine immunofixation (1 = positive)"),
        C("SMPROTBL", FLOAT, "g/L", "baseline serum M-protein"),
        C("UMPROTBL", FLOAT, "mg/24h", "baseline urine M-protein"),
        C("NTPROBL", FLOAT, "ng/L", "baseline NT-proBNP"),
        C("CTNTBL", FLOAT, "ng/L", "baseline conventional cTnT, hs-cTnT, cTnI"),
        C("HSCTNTBL", FLOAT, "ng/L", "baseline conventional cTnT, hs-cTnT, cTnI"),
        C("CTNIBL", FLOAT, "ng/L", "baseline conventional cTnT, hs-cTnT, cTnI"),
        C("CREATBL", FLOAT, "mg/dL", "baseline serum creatinine"),
        C("EGFRBL", FLOAT, "mL/min/1.73 m2", "baseline eGFR (reported, else CKD-EPI); empty on dialysis"),
        C("EGFRSRC", TEXT, "text", "reported / ckd_epi_2009 / ckd_epi_2021 / dialysis; empty when no eGFR"),
        C("PROTUBL", FLOAT, "g/24h", "baseline 24-hour proteinuria"),
        C("ALPBL", FLOAT, "U/L", "baseline alkaline phosphatase and its laboratory upper limit of normal"),
        C("ALPULNBL", FLOAT, "U/L", "baseline alkaline phosphatase and its laboratory upper limit of normal"),
        C("NYHABL", FLOAT, "class", "baseline NYHA class (1-4)"),
        C("LVEFBL", FLOAT, "%", "baseline left-ventricular ejection fraction"),
        C("DIALBL", INT, "0/1", "on chronic dialysis at the index date (dialysis start on or before it)"),
        C(
            "BLQUAL",
            TEXT,
            "text",
            "';'-separated baseline columns whose value is censored, each with its sign (e.g. `CTNTBL<;NTPROBL>`); the column then holds the limit; empty when none. `DFLCBL` from one censored chain is a bound (`DFLCBL>` for a censored uninvolved chain), from two it is missing; `KLRATBL` is missing when a chain is censored",
        ),
        C("MAYO04", TEXT, "text", "Mayo 2004 stage I / II / III; empty when a marker is missing"),
        C("EUSTG", TEXT, "text", "European modification I / II / IIIa / IIIb"),
        C("MAYO12", TEXT, "text", "Mayo 2012 stage I / II / III / IV"),
        C("RENSTG", TEXT, "text", "renal stage I / II / III; empty on dialysis or with a missing factor"),
        C(
            "STGFL",
            TEXT,
            "text",
            "';'-separated staging flags: dialysis_cardiac_unreliable, renal_not_staged_dialysis, missing_mayo04, missing_eustg, missing_mayo12, missing_renstg",
        ),
        C(
            "HEMEVAL",
            TEXT,
            "text",
            "no_clone (no detectable clone: ratio KLRATBL normal and SIFEBL and UIFEBL negative; not evaluable for hematologic response, never CR) / measurable (dFLC >= 50) / low_dflc (20 <= dFLC < 50) / not_measurable",
        ),
        C("NPRIOR", INT, "integer", "lines of therapy started before the index date"),
        C("FLSTDT", DATE, "date", "start of the first prior line"),
        C("FLTOIDXM", FLOAT, "months", "FLSTDT to TRTSDT, days / 30.4375"),
        C("BORTEXP", INT, "0/1", "any bortezomib-containing prior line"),
        C(
            "BORTGRP",
            TEXT,
            "text",
            "naive / sensitive (potentially sensitive) / refractory, from the most recent bortezomib line",
        ),
        C(
            "BORTR60",
            INT,
            "0/1",
            "refractory by the 60-day rule (Rajkumar 2011) on that line: NR/NE, or a documented (never an imputed) progression <= 60 days after the last dose",
        ),
        C(
            "BORTPDIM",
            INT,
            "0/1",
            "that line's progression date was imputed (next line start or index date); the imputed date can make the patient sensitive, never BORTR60 = 1",
        ),
        C("LENSTDOS", FLOAT, "mg", "lenalidomide dose of the first dosed cycle"),
        C("LENMDDOS", FLOAT, "mg", "median / maximum lenalidomide dose over dosed cycles"),
        C("LENMXDOS", FLOAT, "mg", "median / maximum lenalidomide dose over dosed cycles"),
        C("NCYCLES", INT, "integer", "cycles with a lenalidomide dose above 0 mg"),
        C("TRTDURM", FLOAT, "months", "TRTSDT to TRTEDT (to LSTCNTDT when ongoing)"),
        C(
            "STOPRSN",
            TEXT,
            "text",
            "stop reason as recorded (completed, ongoing, progression, no_response, toxicity, patient_decision, physician_decision, death, other)",
        ),
        C(
            "EARLYDSC",
            INT,
            "0/1",
            "stopped early: progression, no_response, toxicity, patient_decision, physician_decision or other",
        ),
        C("DTHONTRT", INT, "0/1", "died on therapy: stop reason death, or death within 30 days (config) of TRTEDT"),
        C("DTHDT", DATE, "date", "date of death"),
        C("LSTCNTDT", DATE, "date", "last contact"),
        C("DIALDT", DATE, "date", "start of chronic dialysis"),
        C("NXTLNDT", DATE, "date", "start of the next line of therapy"),
        C("SAFFL", TEXT, "Y/N", "at least one cycle with lenalidomide above 0 mg"),
        C("ITTFL", TEXT, "Y/N", "at least one cycle with lenalidomide above 0 mg"),
    ),
)

ADAE = Dataset(
    "adae",
    "derive_adverse_events",
    "one row per patient, term and TRTEMFL, sorted by USUBJID, AETERM, TRTEMFL",
    ("USUBJID", "AETERM", "TRTEMFL"),
    (
        C("USUBJID", TEXT, "text", "patient identifier"),
        C("AETERM", TEXT, "text", "CTCAE v5 term (lower case)"),
        C(
            "TRTEMFL",
            TEXT,
            "Y/N",
            "treatment-emergent: onset on/after the first dose (TRTSDT) and at most `exposure.teae_days_after_last_dose` (30) days after the last dose (TRTEDT; no end while ongoing); a missing onset counts as Y. The row's other columns summarise the term's events with this flag; the toxicity tables use Y rows only",
        ),
        C(
            "AETOXGR",
            INT,
            "integer",
            "worst CTCAE grade of the term for the patient (among the events with this TRTEMFL)",
        ),
        C("ANYFL", TEXT, "Y", "the patient had the term at any grade"),
        C("GR3FL", TEXT, "Y/N", "worst grade 3 or more"),
        C(
            "AEACN",
            TEXT,
            "text",
            "most severe action with lenalidomide over the term's events: discontinued > interrupted > dose_reduced > none",
        ),
        C("ASTDT", DATE, "date", "onset of the worst-grade event (earliest when tied)"),
    ),
)

ADRS = Dataset(
    "adrs",
    "derive_responses",
    "one row per patient x assessment x parameter, plus best rows; sorted by USUBJID, PARAMCD, ADT",
    ("USUBJID", "PARAMCD", "ADT"),
    (
        C("USUBJID", TEXT, "text", "patient identifier"),
        C("PARAMCD", TEXT, "text", "parameter code (table below)"),
        C("PARAM", TEXT, "text", "parameter label"),
        C("AVALC", TEXT, "text", "category (table below)"),
        C("AVAL", FLOAT, "number", "rank of AVALC, higher = better (table below); empty for NE"),
        C(
            "ADT",
            DATE,
            "date",
            "assessment date; on best rows the first date the best category was reached; empty when there was none",
        ),
        C("ADY", NULLABLE_INT, "integer", "days from the index date to ADT"),
        C(
            "EVALFL",
            TEXT,
            "Y/N",
            "evaluable for the parameter (HEMRESP/BESTHEM: see below; organ rows: organ evaluable)",
        ),
        C("ANL01FL", TEXT, "Y/N", "the assessment lies in the best-response window (Y on best rows)"),
        C("IMIDFL", TEXT, "Y/N", "CARDRESP only: call made on lenalidomide (index < ADT <= salvage end, or ongoing)"),
        C(
            "EGFRFLFL",
            TEXT,
            "Y/N",
            "CARDRESP only: by ADT an eGFR after index fell >= 25% below baseline (same method on both sides), or the patient was on dialysis (started before or after index)",
        ),
    ),
)

ADTTE = Dataset(
    "adtte",
    "derive_endpoints",
    "one row per patient x PARAMCD; sorted by USUBJID, PARAMCD",
    ("USUBJID", "PARAMCD"),
    (
        C("USUBJID", TEXT, "text", "patient identifier"),
        C("PARAMCD", TEXT, "text", "OS, TTDIAL (patients not on dialysis at index only), HEMPFS, TOT"),
        C("PARAM", TEXT, "text", "parameter label"),
        C("STARTDT", DATE, "date", "index date (TRTSDT)"),
        C("ADT", DATE, "date", "date of the event, competing event or censoring"),
        C("AVAL", FLOAT, "months", "(ADT - STARTDT) in days / 30.4375 (`endpoints.days_per_month`)"),
        C(
            "CNSR",
            INT,
            "integer",
            "ADaM censoring: 0 = the parameter's event, 1 = no event of the parameter (censored, or the competing event: see CAUSEN); never 2",
        ),
        C(
            "CAUSEN",
            INT,
            "integer",
            "what ended follow-up: 0 censored, 1 the parameter's event, 2 the competing event (TTDIAL only: death without dialysis); = 1 - CNSR outside TTDIAL",
        ),
        C(
            "CRSKFL",
            TEXT,
            "text",
            "`Y` on every row of a competing-risks parameter (TTDIAL), empty otherwise. For these rows analyse CAUSEN with a cumulative-incidence method; do not take 1 - Kaplan-Meier of CNSR (it counts the competing deaths as censored and overstates the incidence: 29% instead of 20% at 24 months on the demo)",
        ),
        C(
            "EVNTDESC",
            TEXT,
            "text",
            "event: `Death (any cause)`; `Start of chronic dialysis`; `Death without dialysis (competing event)` (CNSR 1, CAUSEN 2); `Hematologic progression`; `Death`; `Lenalidomide stopped: <stop_reason>`; empty when censored",
        ),
        C(
            "CNSDTDSC",
            TEXT,
            "text",
            "censoring date: `Alive at last contact`; `Alive without dialysis at last contact`; `Last hematologic assessment`; `No hematologic assessment after index (censored at index)`; `Ongoing at last contact`; empty for events",
        ),
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (ADSL, ADAE, ADRS, ADTTE)}


def columns(name: str) -> list[str]:
    """The columns of dataset ``name`` in the order its writer writes them."""
    return DATASETS[name].names


def _have(frame) -> set:
    """The column names of a DataFrame (or of anything iterable over names, e.g. a
    Parquet schema's names)."""
    return set(frame.columns) if hasattr(frame, "columns") else set(frame)


def problems(
    frames: Mapping[str, object],
    files: Mapping[str, str],
    needs: Mapping[str, Iterable[str]],
    rule: str = "",
) -> list[str]:
    """The one input check of a stage that reads derived datasets.

    ``needs`` maps a dataset name (``adsl``, ``adae``, ``adrs``, ``adtte``) to the columns
    the stage reads; ``frames`` the same names to the frames read (or their column
    names); ``files`` to the file each came from (for the messages). Returns one
    problem string per dataset not given and per column missing from its frame, naming
    file and column (the format of ``derive_common.require_columns``). A needed column
    that no stage writes (not in the spec) raises ``ValueError``: that is a bug of the
    caller, not of the data.
    """
    unknown = [f"{d}.{c}" for d, cols in needs.items() for c in cols if d not in DATASETS or c not in DATASETS[d].names]
    if unknown:
        raise ValueError(f"not in the derived-dataset spec (alsalvage.datasets): {', '.join(unknown)}")
    need = f" (needed by rule {rule})" if rule else ""
    out: list[str] = []
    for d, cols in needs.items():
        file = files.get(d, d)
        if d not in frames:
            out.append(f"file {file}: not given{need}")
            continue
        have = _have(frames[d])
        out += [f"file {file}: column '{c}' is missing{need}" for c in cols if c not in have]
    return out


def conform(name: str, frame) -> list[str]:
    """Problems of a frame about to be written as dataset ``name``: its columns must be
    the spec's, in the spec's order, each with a dtype of its kind. Empty when it
    conforms."""
    spec = DATASETS[name]
    got = list(frame.columns)
    if got != spec.names:
        extra = [c for c in got if c not in spec.names]
        absent = [c for c in spec.names if c not in got]
        return [
            f"{name}: columns differ from alsalvage.datasets.{name.upper()}: not in the spec {extra}, "
            f"missing {absent}" + ("" if extra or absent else " (order differs)")
        ]
    return [
        f"{name}: column {c.name} has dtype {frame[c.name].dtype}, the spec says {c.dtype}"
        for c in spec.columns
        if str(frame[c.name].dtype) not in _ACCEPTED[c.dtype]
    ]


def check_written(name: str, frame) -> None:
    """Raise ``ValueError`` unless ``frame`` conforms to the spec of dataset ``name``
    (the rule scripts call it just before writing)."""
    found = conform(name, frame)
    if found:
        raise ValueError("; ".join(found))


# ------------------------------------------------------------------ data dictionary
DOC = Path(__file__).resolve().parents[3] / "docs" / "data-dictionary.md"


def _begin(name: str) -> str:
    return f"<!-- columns of {name}: generated from workflow/scripts/alsalvage/datasets.py -->"


def _end(name: str) -> str:
    return f"<!-- end of {name} columns -->"


def markdown(name: str) -> str:
    """The data dictionary's column table of dataset ``name`` (consecutive columns with
    the same unit and meaning share a row)."""
    lines = ["| column | type | definition |", "|---|---|---|"]
    group: list[Column] = []
    for c in [*DATASETS[name].columns, None]:
        if group and (c is None or (c.unit, c.meaning) != (group[0].unit, group[0].meaning)):
            lines.append(f"| {', '.join(g.name for g in group)} | {group[0].unit} | {group[0].meaning} |")
            group = []
        if c is not None:
            group.append(c)
    return "\n".join(lines)


def render_doc(text: str) -> str:
    """``text`` (the data dictionary) with each generated column table replaced by the
    spec's; a marker pair missing is an error."""
    for name in DATASETS:
        pattern = re.compile(re.escape(_begin(name)) + r"\n.*?\n" + re.escape(_end(name)), re.S)
        if not pattern.search(text):
            raise ValueError(f"{DOC.name}: markers of the {name} column table not found")
        text = pattern.sub(lambda m, n=name: f"{_begin(n)}\n{markdown(n)}\n{_end(n)}", text)
    return text


if __name__ == "__main__":  # python -m alsalvage.datasets: rewrite the generated tables
    DOC.write_text(render_doc(DOC.read_text()))
