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


def _dataset(text: str) -> Dataset:
    """A dataset from its spec text: ``name | rule | key columns``, then what one row is,
    then one line per column ``name | dtype | unit | meaning`` (the meaning may run on
    over indented continuation lines)."""
    head, rows_text, table = text.strip("\n").split("\n", 2)
    name, rule, key = (part.strip() for part in head.split("|"))
    return Dataset(name, rule, rows_text, tuple(k.strip() for k in key.split(",")), _columns(table))


def _columns(table: str) -> tuple[Column, ...]:
    rows: list[list[str]] = []
    for line in table.splitlines():
        if line.startswith(" "):
            rows[-1][-1] += " " + line.strip()
        else:
            rows.append([part.strip() for part in line.split("|", 3)])
    for name, dtype, _, _ in rows:
        if dtype not in _ACCEPTED:
            raise ValueError(f"column {name}: unknown dtype {dtype!r}")
    return tuple(Column(*r) for r in rows)


ADSL = _dataset("""
adsl | derive_baseline | USUBJID
one row per patient, sorted by USUBJID
USUBJID   | text           | text | patient identifier (patient_id)
SITEID    | text           | text | treating centre (patients.csv `centre`); written only when the export has that
    optional column
SEX       | text           | text | M / F
AGE       | Int64          | integer | completed years at the index date
BRTHDT    | datetime64[ns] | date | date of birth
DIAGDT    | datetime64[ns] | date | date of diagnosis
TRTSDT    | datetime64[ns] | date | index date: day 1 of the first salvage cycle
TRTEDT    | datetime64[ns] | date | salvage end date (last day of the salvage regimen); empty while ongoing
ISOTYPE   | text           | text | light chain of the clone (kappa / lambda)
HEART     | int64          | 0/1 | clinician-recorded organ involvement
KIDNEY    | int64          | 0/1 | clinician-recorded organ involvement
LIVER     | int64          | 0/1 | clinician-recorded organ involvement
NERVE     | int64          | 0/1 | clinician-recorded organ involvement
AUTONOMIC | int64          | 0/1 | clinician-recorded organ involvement
SOFTTISS  | int64          | 0/1 | clinician-recorded organ involvement
GI        | int64          | 0/1 | clinician-recorded organ involvement
NORGAN    | int64          | integer | number of the seven organs involved
KAPPABL   | float64        | mg/L | baseline free kappa / lambda, from the last day in the window with both
    measured
LAMBDABL  | float64        | mg/L | baseline free kappa / lambda, from the last day in the window with both
    measured
IFLCBL    | float64        | mg/L | involved (clone's isotype) / uninvolved free light chain
UFLCBL    | float64        | mg/L | involved (clone's isotype) / uninvolved free light chain
DFLCBL    | float64        | mg/L | IFLCBL - UFLCBL (may be negative)
KLRATBL   | float64        | ratio | KAPPABL / LAMBDABL
SIFEBL    | float64        | 0/1 | baseline serum / urine immunofixation (1 = positive)
UIFEBL    | float64        | 0/1 | baseline serum / urine immunofixation (1 = positive)
SMPROTBL  | float64        | g/L | baseline serum M-protein
UMPROTBL  | float64        | mg/24h | baseline urine M-protein
NTPROBL   | float64        | ng/L | baseline NT-proBNP
CTNTBL    | float64        | ng/L | baseline conventional cTnT, hs-cTnT, cTnI
HSCTNTBL  | float64        | ng/L | baseline conventional cTnT, hs-cTnT, cTnI
CTNIBL    | float64        | ng/L | baseline conventional cTnT, hs-cTnT, cTnI
CREATBL   | float64        | mg/dL | baseline serum creatinine
EGFRBL    | float64        | mL/min/1.73 m2 | baseline eGFR (reported, else CKD-EPI); empty on dialysis
EGFRSRC   | text           | text | reported / ckd_epi_2009 / ckd_epi_2021 / dialysis; empty when no eGFR
PROTUBL   | float64        | g/24h | baseline 24-hour proteinuria
ALPBL     | float64        | U/L | baseline alkaline phosphatase and its laboratory upper limit of normal
ALPULNBL  | float64        | U/L | baseline alkaline phosphatase and its laboratory upper limit of normal
NYHABL    | float64        | class | baseline NYHA class (1-4)
LVEFBL    | float64        | % | baseline left-ventricular ejection fraction
DIALBL    | int64          | 0/1 | on chronic dialysis at the index date (dialysis start on or before it)
BLQUAL    | text           | text | ';'-separated baseline columns whose value is censored, each with its sign
    (e.g. `CTNTBL<;NTPROBL>`); the column then holds the limit; empty when none. `DFLCBL` from one censored
    chain is a bound (`DFLCBL>` for a censored uninvolved chain), from two it is missing; `KLRATBL` is missing
    when a chain is censored
MAYO04    | text           | text | Mayo 2004 stage I / II / III; empty when a marker is missing
EUSTG     | text           | text | European modification I / II / IIIa / IIIb
MAYO12    | text           | text | Mayo 2012 stage I / II / III / IV
RENSTG    | text           | text | renal stage I / II / III; empty on dialysis or with a missing factor
STGFL     | text           | text | ';'-separated staging flags: dialysis_cardiac_unreliable,
    renal_not_staged_dialysis, missing_mayo04, missing_eustg, missing_mayo12, missing_renstg
HEMEVAL   | text           | text | no_clone (no detectable clone: ratio KLRATBL normal and SIFEBL and UIFEBL
    negative; not evaluable for hematologic response, never CR) / measurable (dFLC >= 50) / low_dflc (20 <=
    dFLC < 50) / not_measurable
NPRIOR    | int64          | integer | lines of therapy started before the index date
FLSTDT    | datetime64[ns] | date | start of the first prior line
FLTOIDXM  | float64        | months | FLSTDT to TRTSDT, days / 30.4375
DXTOIDXM  | float64        | months | DIAGDT to TRTSDT, days / 30.4375
PEXFL   | int64          | 0/1 | any prior line containing an exposure-defining agent (config prior_exposure)
PEXGRP   | text           | text | naive / sensitive (potentially sensitive) / refractory, from the most
    recent line containing an exposure-defining agent; `none` without a grouping
PEXR60   | int64          | 0/1 | refractory by the 60-day rule (Rajkumar 2011) on that line: NR/NE, or a
    documented (never an imputed) progression <= 60 days after the last dose
PEXPDIM  | int64          | 0/1 | that line's progression date was imputed (next line start or index date);
    the imputed date can make the patient sensitive, never PEXR60 = 1
TRTAGENT  | text           | text | salvage agents given (dose above 0 in some cycle), ';'-joined in the order of
    config study.agents
STDOS     | float64        | DOSEU | dose of the patient's agent (the first of study.agents given) in its first
    dosed cycle
MDDOS     | float64        | DOSEU | median / maximum dose of the patient's agent over its dosed cycles
MXDOS     | float64        | DOSEU | median / maximum dose of the patient's agent over its dosed cycles
DOSEU     | text           | text | unit of STDOS, MDDOS, MXDOS (the agent's study.agents dose_unit)
NCYCLES   | int64          | integer | cycles with a dose of any salvage agent above 0
TRTDURM   | float64        | months | TRTSDT to TRTEDT (to LSTCNTDT when ongoing)
STOPRSN   | text           | text | stop reason as recorded (completed, ongoing, progression, no_response,
    toxicity, patient_decision, physician_decision, death, other)
EARLYDSC  | int64          | 0/1 | stopped early: progression, no_response, toxicity, patient_decision,
    physician_decision or other
DTHONTRT  | int64          | 0/1 | died on therapy: stop reason death, or death within 30 days (config) of
    TRTEDT
DTHDT     | datetime64[ns] | date | date of death
LSTCNTDT  | datetime64[ns] | date | last contact
DIALDT    | datetime64[ns] | date | start of chronic dialysis
NXTLNDT   | datetime64[ns] | date | start of the next line of therapy
SAFFL     | text           | Y/N | at least one cycle with a salvage agent above 0 (study.agents)
ITTFL     | text           | Y/N | at least one cycle with a salvage agent above 0 (study.agents)
""")

ADAE = _dataset("""
adae | derive_adverse_events | USUBJID, AETERM, TRTEMFL
one row per patient, term and TRTEMFL, sorted by USUBJID, AETERM, TRTEMFL
USUBJID   | text           | text | patient identifier
AETERM    | text           | text | CTCAE v5 term (lower case)
TRTEMFL   | text           | Y/N | treatment-emergent: onset on/after the first dose (TRTSDT) and at most
    `exposure.teae_days_after_last_dose` (30) days after the last dose (TRTEDT), and before the next
    line's start (NXTLNDT; the only end while ongoing); a missing onset counts as Y. The row's other columns summarise the term's events with this flag; the
    toxicity tables use Y rows only
AETOXGR   | int64          | integer | worst CTCAE grade of the term for the patient (among the events with
    this TRTEMFL)
ANYFL     | text           | Y | the patient had the term at any grade
GR3FL     | text           | Y/N | worst grade 3 or more
AEACN     | text           | text | most severe action with the salvage regimen over the term's events: discontinued
    > interrupted > dose_reduced > none
ASTDT     | datetime64[ns] | date | onset of the worst-grade event (earliest when tied)
""")

ADRS = _dataset("""
adrs | derive_responses | USUBJID, PARAMCD, ADT
one row per patient x assessment x parameter, plus best rows; sorted by USUBJID, PARAMCD, ADT
USUBJID   | text           | text | patient identifier
PARAMCD   | text           | text | parameter code (table below)
PARAM     | text           | text | parameter label
AVALC     | text           | text | category (table below)
AVAL      | float64        | number | rank of AVALC, higher = better (table below); empty for NE
ADT       | datetime64[ns] | date | assessment date; on best rows the first date the best category was
    reached; empty when there was none
ADY       | Int64          | integer | days from the index date to ADT
EVALFL    | text           | Y/N | evaluable for the parameter (HEMRESP/BESTHEM: see below; organ rows: organ
    evaluable)
ANL01FL   | text           | Y/N | the assessment lies in the best-response window (Y on best rows)
IMIDFL    | text           | Y/N | CARDRESP only: call made on a salvage agent of a class of study.imid_caveat_classes (index < ADT <= salvage end, or
    ongoing)
EGFRFLFL  | text           | Y/N | CARDRESP only: by ADT an eGFR after index fell >= 25% below baseline (same
    method on both sides), or the patient was on dialysis (started before or after index)
""")

ADTTE = _dataset("""
adtte | derive_endpoints | USUBJID, PARAMCD
one row per patient x PARAMCD; sorted by USUBJID, PARAMCD
USUBJID   | text           | text | patient identifier
PARAMCD   | text           | text | OS, TTDIAL (patients not on dialysis at index only), HEMPFS, TOT, TTNT
PARAM     | text           | text | parameter label
STARTDT   | datetime64[ns] | date | index date (TRTSDT)
ADT       | datetime64[ns] | date | date of the event, competing event or censoring
AVAL      | float64        | months | (ADT - STARTDT) in days / 30.4375 (`endpoints.days_per_month`)
CNSR      | int64          | integer | ADaM censoring: 0 = the parameter's event, 1 = no event of the
    parameter (censored, or the competing event: see CAUSEN); never 2
CAUSEN    | int64          | integer | what ended follow-up: 0 censored, 1 the parameter's event, 2 the
    competing event (TTDIAL only: death without dialysis); = 1 - CNSR outside TTDIAL
CRSKFL    | text           | text | `Y` on every row of a competing-risks parameter (TTDIAL), empty otherwise.
    For these rows analyse CAUSEN with a cumulative-incidence method; do not take 1 - Kaplan-Meier of CNSR (it
    counts the competing deaths as censored and overstates the incidence: 29% instead of 20% at 24 months on
    the demo)
EVNTDESC  | text           | text | event: `Death (any cause)`; `Start of chronic dialysis`; `Death without
    dialysis (competing event)` (CNSR 1, CAUSEN 2); `Hematologic progression`; `Death`; `<Regimen> stopped:
    <stop_reason>` (e.g. `Lenalidomide stopped: toxicity`); `Start of next line of therapy`; `Death without a
    next line` (`endpoints.ttnt_death: event`); empty when censored
CNSDTDSC  | text           | text | censoring date: `Alive at last contact`; `Alive without dialysis at last
    contact`; `Last hematologic assessment`; `No hematologic assessment after index (censored at index)`;
    `Ongoing at last contact`; `Alive without a next line at last contact`; `Death without a next line
    (censored)` (`endpoints.ttnt_death: censor`); empty for events
""")


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
        out += missing_columns(frames[d], file, cols, rule)
    return out


def missing_columns(frame, file: str, columns: Iterable[str], rule: str = "") -> list[str]:
    """One message per column of ``columns`` that ``frame`` lacks, naming file and column:
    the wording of every stage's input check (``problems`` for the derived datasets, and
    the same for the validated tables a stage reads beside them)."""
    need = f" (needed by rule {rule})" if rule else ""
    have = _have(frame)
    return [f"file {file}: column '{c}' is missing{need}" for c in columns if c not in have]


# Columns a writer leaves out when the raw export lacks their optional source column
# (the datasets of a cohort without them stay as they were).
OPTIONAL = {"adsl": ("SITEID",)}


def columns_present(name: str, have: Iterable[str]) -> list[str]:
    """The columns of dataset ``name`` in the spec's order, an optional one (OPTIONAL)
    only when ``have`` holds it."""
    have = set(have)
    return [c for c in columns(name) if c in have or c not in OPTIONAL.get(name, ())]


def conform(name: str, frame) -> list[str]:
    """Problems of a frame about to be written as dataset ``name``: its columns must be
    the spec's (an OPTIONAL one may be absent), in the spec's order, each with a dtype of
    its kind. Empty when it conforms."""
    spec = DATASETS[name]
    got = list(frame.columns)
    expected = columns_present(name, got)
    if got != expected:
        extra = [c for c in got if c not in spec.names]
        absent = [c for c in expected if c not in got]
        return [
            f"{name}: columns differ from alsalvage.datasets.{name.upper()}: not in the spec {extra}, "
            f"missing {absent}" + ("" if extra or absent else " (order differs)")
        ]
    return [
        f"{name}: column {c.name} has dtype {frame[c.name].dtype}, the spec says {c.dtype}"
        for c in spec.columns
        if c.name in got and str(frame[c.name].dtype) not in _ACCEPTED[c.dtype]
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
