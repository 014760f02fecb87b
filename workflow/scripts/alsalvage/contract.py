"""The raw-data contract: the six input tables, their columns and the lab units.

This module is the single source of truth for what a raw export must look like.
The validator checks tables against it, the synthetic generator writes tables
that satisfy it, and ``docs/data-dictionary.md`` describes it for people.
It has no heavy imports so that every stage can use it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds understood by the validator.
ID = "id"  # non-empty text key (patient_id)
TEXT = "text"  # free text
DATE = "date"  # ISO 8601 calendar date, YYYY-MM-DD
INT = "int"  # whole number
FLOAT = "float"  # decimal number
FLAG = "flag"  # 0/1 (also accepted: true/false, yes/no; any case)
CATEGORY = "category"  # one of a closed vocabulary

STOP_REASONS = (
    "completed",
    "ongoing",
    "progression",
    "no_response",
    "toxicity",
    "patient_decision",
    "physician_decision",
    "death",
    "other",
)
BEST_RESPONSES = ("CR", "VGPR", "PR", "NR", "NE")
PARTNERS = ("none", "cyclophosphamide", "melphalan")
AE_ACTIONS = ("none", "dose_reduced", "interrupted", "discontinued")
ORGANS = ("heart", "kidney", "liver", "nerve", "autonomic", "soft_tissue", "gi")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True  # the column must be present in the file
    # an optional column absent from the file is left out of the validated table (not
    # written as an empty column): tables of exports without it stay as they were
    omit_when_absent: bool = False
    nullable: bool = False  # an empty cell is allowed
    vocabulary: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str  # key under ``inputs:`` in config.yaml
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)  # unique key

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


PATIENTS = Table(
    "patients",
    "One row per patient: demographics, clone and clinician-recorded organ involvement.",
    (
        Column("patient_id", ID, description="Pseudonymous patient identifier (unique)."),
        Column("sex", CATEGORY, vocabulary=("M", "F"), description="Sex recorded at birth."),
        Column("birth_date", DATE, description="Date of birth."),
        Column("diagnosis_date", DATE, description="Date of AL amyloidosis diagnosis."),
        Column(
            "isotype",
            CATEGORY,
            vocabulary=("kappa", "lambda"),
            description="Light-chain type of the plasma-cell clone.",
        ),
        *(
            Column(o, FLAG, description=f"Clinician-recorded {o.replace('_', ' ')} involvement (0/1).")
            for o in ORGANS
        ),
        Column(
            "centre",
            TEXT,
            required=False,
            nullable=True,
            omit_when_absent=True,
            description="Treating centre (optional; multi-centre cohorts: Table 1 by centre, centre as a "
            "stratum, findings per centre; docs/methods.md).",
        ),
    ),
    key=("patient_id",),
)

THERAPY_LINES = Table(
    "therapy_lines",
    "One row per line of therapy given before the salvage regimen.",
    (
        Column("patient_id", ID, description="Patient identifier (in patients.csv)."),
        Column("line", INT, minimum=1, maximum=30, description="Line number, 1..n in time order."),
        Column("regimen", TEXT, description="Regimen name as recorded (free text)."),
        Column(
            "agents",
            TEXT,
            description="';'-separated lower-case generic drug names, e.g. 'bortezomib;dexamethasone'.",
        ),
        Column("start_date", DATE, description="First day of the line."),
        Column("end_date", DATE, description="Last day of the line."),
        Column(
            "best_response",
            CATEGORY,
            vocabulary=BEST_RESPONSES,
            description="Best hematologic response recorded for the line.",
        ),
        Column(
            "progression_date",
            DATE,
            nullable=True,
            description="Date of hematologic progression/relapse after the line (empty if none recorded).",
        ),
        Column(
            "last_bortezomib_date",
            DATE,
            required=False,
            nullable=True,
            description="Last bortezomib dose of the line (optional; end_date is used when empty).",
        ),
    ),
    key=("patient_id", "line"),
)

# The salvage agent of the default study (config study.agents; one dose column each).
DEFAULT_AGENTS = ({"name": "lenalidomide", "class": "IMiD", "dose_column": "lenalidomide_mg", "dose_unit": "mg",
                   "full_dose": 25},)
# ``partner`` is "none" or a drug of the dictionary (checked by the validator against the
# study's dictionary, config ``drugs``); the synthetic cohort draws its partners from these.
NO_PARTNER = "none"


def dose_column(agent: dict, multi: bool) -> Column:
    """The dose column of one salvage agent: required (never empty) in a one-agent study;
    optional and empty on the cycles without the agent when the study has several."""
    unit = agent["dose_unit"]
    return Column(
        agent["dose_column"],
        FLOAT,
        required=not multi,
        nullable=multi,
        minimum=0,
        maximum=2 * float(agent["full_dose"]),
        description=f"{agent['name'].capitalize()} dose in the cycle ({unit}); 0 to twice the full dose.",
    )


def salvage_cycles_table(agents=DEFAULT_AGENTS) -> Table:
    """The salvage_cycles contract of a study: one dose column per salvage agent (wide;
    config study.agents), then the optional dexamethasone dose and the partner agent."""
    agents = tuple(agents)
    regimen = " / ".join(a["name"] for a in agents)
    return Table(
        "salvage_cycles",
        f"One row per cycle of the {regimen} salvage regimen.",
        (
            Column("patient_id", ID, description="Patient identifier (in patients.csv)."),
            Column("cycle", INT, minimum=1, maximum=200, description="Cycle number, 1..n."),
            Column("start_date", DATE, description="Day 1 of the cycle."),
            *(dose_column(a, len(agents) > 1) for a in agents),
            Column(
                "dexamethasone_mg",
                FLOAT,
                required=False,
                nullable=True,
                minimum=0,
                maximum=160,
                description="Weekly dexamethasone dose in the cycle (mg; optional).",
            ),
            Column(
                "partner",
                TEXT,
                description="Third agent given in the cycle: 'none' or a drug of the agent dictionary.",
            ),
        ),
        key=("patient_id", "cycle"),
    )


SALVAGE_CYCLES = salvage_cycles_table()

OUTCOMES = Table(
    "outcomes",
    "One row per patient: end of salvage therapy, later events and follow-up.",
    (
        Column("patient_id", ID, description="Patient identifier (in patients.csv)."),
        Column(
            "salvage_end_date",
            DATE,
            nullable=True,
            description="Last day of lenalidomide (empty only when stop_reason is 'ongoing').",
        ),
        Column(
            "stop_reason",
            CATEGORY,
            vocabulary=STOP_REASONS,
            description="Why lenalidomide stopped ('completed' = planned therapy finished).",
        ),
        Column("next_line_date", DATE, nullable=True, description="Start of the next line of therapy."),
        Column(
            "dialysis_start_date",
            DATE,
            nullable=True,
            description="Start of chronic dialysis (may precede the salvage regimen).",
        ),
        Column("last_contact_date", DATE, description="Last date the patient was known alive or died."),
        Column("death_date", DATE, nullable=True, description="Date of death from any cause."),
    ),
    key=("patient_id",),
)

# Urine protein-creatinine ratio: 1 g/g = 1000 mg / (1 g creatinine / 113.12 g/mol)
# = 113.1 mg/mmol (creatinine molar mass 113.12 g/mol).
UPCR_MG_MMOL_PER_G_G = 113.1

# Lab analytes: canonical unit, accepted units and the factor that converts each
# accepted unit to the canonical one.  Qualitative analytes (IFE) have no unit.
QUALITATIVE_VALUES = {"positive": 1.0, "negative": 0.0}


@dataclass(frozen=True)
class Analyte:
    name: str
    canonical_unit: str
    units: dict[str, float]  # accepted unit -> multiply by this to get canonical
    minimum: float = 0.0
    maximum: float = float("inf")
    qualitative: bool = False
    description: str = ""


def _a(name, unit, units=None, maximum=float("inf"), description="", minimum=0.0):
    conv = {unit: 1.0}
    conv.update(units or {})
    return Analyte(name, unit, conv, minimum=minimum, maximum=maximum, description=description)


ANALYTES: dict[str, Analyte] = {
    a.name: a
    for a in (
        _a("flc_kappa", "mg/L", {"mg/dL": 10.0}, 1e6, "Serum free kappa light chain."),
        _a("flc_lambda", "mg/L", {"mg/dL": 10.0}, 1e6, "Serum free lambda light chain."),
        Analyte(
            "serum_ife",
            "",
            {"": 1.0},
            0,
            1,
            True,
            "Serum immunofixation: positive/negative (stored as 1/0).",
        ),
        Analyte(
            "urine_ife",
            "",
            {"": 1.0},
            0,
            1,
            True,
            "Urine immunofixation: positive/negative (stored as 1/0).",
        ),
        _a("serum_mprotein", "g/L", {"g/dL": 10.0}, 200, "Serum M-protein."),
        _a("urine_mprotein", "mg/24h", {"g/24h": 1000.0}, 1e5, "Urine M-protein (24-h)."),
        _a("ntprobnp", "ng/L", {"pg/mL": 1.0}, 1e6, "NT-proBNP (BNP is a different analyte)."),
        _a("ctnt", "ng/L", {"ug/L": 1000.0, "ng/mL": 1000.0}, 1e5, "Conventional cardiac troponin T."),
        _a("hs_ctnt", "ng/L", {"ug/L": 1000.0, "ng/mL": 1000.0}, 1e5, "High-sensitivity troponin T."),
        _a("ctni", "ng/L", {"ug/L": 1000.0, "ng/mL": 1000.0}, 1e5, "Cardiac troponin I."),
        _a("creatinine", "mg/dL", {"umol/L": 1 / 88.4}, 30, "Serum creatinine (IDMS)."),
        _a("egfr", "mL/min/1.73m2", {}, 200, "Reported eGFR."),
        _a("proteinuria_24h", "g/24h", {"mg/24h": 1 / 1000}, 50, "24-hour urine protein."),
        _a(
            "upcr",
            "g/g",
            {"mg/mg": 1.0, "mg/g": 1 / 1000, "mg/mmol": 1 / UPCR_MG_MMOL_PER_G_G, "g/mol": 1 / UPCR_MG_MMOL_PER_G_G},
            50,
            "Spot urine protein-creatinine ratio (kept apart from 24-h proteinuria unless "
            "renal.upcr_as_proteinuria).",
        ),
        _a("alp", "U/L", {}, 1e4, "Alkaline phosphatase (with the lab's ULN in 'uln')."),
        _a("hemoglobin", "g/dL", {"g/L": 0.1}, 25, "Hemoglobin."),
        _a("platelets", "10^9/L", {"/mm3": 1 / 1000}, 3000, "Platelet count."),
        _a("anc", "10^9/L", {"/mm3": 1 / 1000}, 200, "Absolute neutrophil count."),
        _a("nyha", "class", {}, 4, "NYHA functional class (1-4).", minimum=1),
        _a("lvef", "%", {}, 100, "Left-ventricular ejection fraction."),
    )
}

# Censored results: a lab value written with a leading comparison ('<5', '< 10',
# '>35000', '<=0.1', '≥ 3') is kept as its number plus this qualifier; the number is
# the detection or reporting limit (see alsalvage.censored for how rules use it).
QUALIFIERS = ("", "<", "<=", ">", ">=")
QUALIFIER_SPELLINGS = {"<": "<", "<=": "<=", "≤": "<=", ">": ">", ">=": ">=", "≥": ">="}

# Unit spellings of lab systems: a unit cell is first normalised (surrounding and inner
# whitespace removed, the micro signs µ (U+00B5) and μ (U+03BC) and 'mc' written as 'u',
# case ignored) and matched against the accepted units normalised the same way; these
# explicit aliases (normalised spelling -> accepted unit) cover other notations.
# Config validation.unit_aliases adds to them.
UNIT_ALIASES = {
    "x10^9/l": "10^9/L",
    "x10e9/l": "10^9/L",
    "10e9/l": "10^9/L",
    "10*9/l": "10^9/L",
    "x10*9/l": "10^9/L",
    "10**9/l": "10^9/L",
    "gpt/l": "10^9/L",
    "/ul": "/mm3",
    "/mm^3": "/mm3",
    "cells/ul": "/mm3",
    "cells/mm3": "/mm3",
    "iu/l": "U/L",
    "mg/d": "mg/24h",
    "mg/day": "mg/24h",
    "g/d": "g/24h",
    "g/day": "g/24h",
    "ml/min/1.73m^2": "mL/min/1.73m2",
    "ml/min/1.73qm": "mL/min/1.73m2",
}


def normalise_unit(unit: str) -> str:
    """The matching key of a unit spelling: no whitespace, micro signs as 'u', lower case."""
    u = "".join(unit.split()).replace("\u00b5", "u").replace("\u03bc", "u").lower()
    return u.replace("mcg", "ug").replace("mcmol", "umol").replace("mcl", "ul")


LABS = Table(
    "labs",
    "Long format: one row per measurement.",
    (
        Column("patient_id", ID, description="Patient identifier (in patients.csv)."),
        Column("date", DATE, description="Sampling date."),
        Column(
            "analyte",
            CATEGORY,
            vocabulary=tuple(ANALYTES),
            description="Analyte code (see the analyte table).",
        ),
        Column(
            "value",
            TEXT,
            description="Result: a number, or positive/negative for immunofixation.",
        ),
        Column("unit", TEXT, nullable=True, description="Unit as reported (empty for immunofixation)."),
        Column(
            "uln",
            FLOAT,
            required=False,
            nullable=True,
            minimum=0,
            description="Upper limit of normal of the reporting lab, in the reported unit (ALP).",
        ),
    ),
    key=("patient_id", "date", "analyte"),
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "One row per adverse event during the salvage regimen.",
    (
        Column("patient_id", ID, description="Patient identifier (in patients.csv)."),
        Column("term", TEXT, description="CTCAE v5 term, lower case (e.g. 'anemia')."),
        Column("grade", INT, minimum=1, maximum=5, description="CTCAE v5 grade (1-5)."),
        Column("onset_date", DATE, description="Onset date."),
        Column(
            "action",
            CATEGORY,
            vocabulary=AE_ACTIONS,
            description="Action taken with lenalidomide.",
        ),
    ),
    key=("patient_id", "term", "onset_date"),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (PATIENTS, THERAPY_LINES, SALVAGE_CYCLES, OUTCOMES, LABS, ADVERSE_EVENTS)
}


def study_tables(agents=DEFAULT_AGENTS) -> dict[str, Table]:
    """The contract of a study's exports: ``TABLES`` with the salvage_cycles columns of its
    agents (config study.agents)."""
    return {**TABLES, "salvage_cycles": salvage_cycles_table(agents)}

# Drug classes of the agent dictionary (the words the study configuration uses: a salvage
# agent's ``class``, ``study.imid_caveat_classes``, a grouping by class).
PROTEASOME_INHIBITOR = "proteasome inhibitor"
IMID = "IMiD"
ALKYLATOR = "alkylator"
CYTOTOXIC = "cytotoxic"
CORTICOSTEROID = "corticosteroid"
ANTI_CD38 = "anti-CD38"
MONOCLONAL_ANTIBODY = "monoclonal antibody"
ANTI_AMYLOID = "anti-amyloid"
BISPECIFIC = "bispecific antibody"
CAR_T = "CAR-T"
BCL2_INHIBITOR = "BCL-2 inhibitor"
OTHER = "other"

# Drugs accepted in ``therapy_lines.agents``: lower-case generic (INN) names, each with its
# drug class (docs/data-dictionary.md). Config ``drugs.agents`` adds names (with a class);
# a name outside the dictionary (or its aliases) is a validation error.
AGENT_CLASSES: dict[str, str] = {
    "bortezomib": PROTEASOME_INHIBITOR,
    "carfilzomib": PROTEASOME_INHIBITOR,
    "ixazomib": PROTEASOME_INHIBITOR,
    "thalidomide": IMID,
    "lenalidomide": IMID,
    "pomalidomide": IMID,
    # alkylating agents and other cytotoxics (conditioning regimens included)
    "melphalan": ALKYLATOR,
    "cyclophosphamide": ALKYLATOR,
    "bendamustine": ALKYLATOR,
    "busulfan": ALKYLATOR,
    "carmustine": ALKYLATOR,
    "etoposide": CYTOTOXIC,
    "cytarabine": CYTOTOXIC,
    "cisplatin": ALKYLATOR,
    "doxorubicin": CYTOTOXIC,
    "vincristine": CYTOTOXIC,
    "dexamethasone": CORTICOSTEROID,
    "prednisone": CORTICOSTEROID,
    "prednisolone": CORTICOSTEROID,
    "methylprednisolone": CORTICOSTEROID,
    "daratumumab": ANTI_CD38,
    "isatuximab": ANTI_CD38,
    "elotuzumab": MONOCLONAL_ANTIBODY,
    "rituximab": MONOCLONAL_ANTIBODY,
    "belantamab-mafodotin": MONOCLONAL_ANTIBODY,
    "birtamimab": ANTI_AMYLOID,
    "anselamimab": ANTI_AMYLOID,
    "teclistamab": BISPECIFIC,
    "elranatamab": BISPECIFIC,
    "talquetamab": BISPECIFIC,
    "linvoseltamab": BISPECIFIC,
    "idecabtagene-vicleucel": CAR_T,
    "ciltacabtagene-autoleucel": CAR_T,
    "venetoclax": BCL2_INHIBITOR,
    "selinexor": OTHER,
    "doxycycline": ANTI_AMYLOID,
    "interferon-alfa": OTHER,
}
AGENTS = tuple(AGENT_CLASSES)


# Brand names and regimen abbreviations (lower case, as ``agents`` must be written) that
# stand for generic names; the validated table holds the generic names. Ambiguous
# abbreviations (e.g. BDex: bendamustine or bortezomib) are deliberately absent.
AGENT_ALIASES: dict[str, tuple[str, ...]] = {
    "velcade": ("bortezomib",),
    "kyprolis": ("carfilzomib",),
    "ninlaro": ("ixazomib",),
    "thalomid": ("thalidomide",),
    "revlimid": ("lenalidomide",),
    "pomalyst": ("pomalidomide",),
    "imnovid": ("pomalidomide",),
    "alkeran": ("melphalan",),
    "endoxan": ("cyclophosphamide",),
    "cytoxan": ("cyclophosphamide",),
    "levact": ("bendamustine",),
    "treanda": ("bendamustine",),
    "darzalex": ("daratumumab",),
    "sarclisa": ("isatuximab",),
    "empliciti": ("elotuzumab",),
    "venclexta": ("venetoclax",),
    "venclyxto": ("venetoclax",),
    "xpovio": ("selinexor",),
    "nexpovio": ("selinexor",),
    "blenrep": ("belantamab-mafodotin",),
    "tecvayli": ("teclistamab",),
    "elrexfio": ("elranatamab",),
    "talvey": ("talquetamab",),
    "abecma": ("idecabtagene-vicleucel",),
    "carvykti": ("ciltacabtagene-autoleucel",),
    "cybord": ("cyclophosphamide", "bortezomib", "dexamethasone"),
    "vcd": ("cyclophosphamide", "bortezomib", "dexamethasone"),
    "dara-cybord": ("daratumumab", "cyclophosphamide", "bortezomib", "dexamethasone"),
    "dara-vcd": ("daratumumab", "cyclophosphamide", "bortezomib", "dexamethasone"),
    "vd": ("bortezomib", "dexamethasone"),
    "bmdex": ("bortezomib", "melphalan", "dexamethasone"),
    "vmdex": ("bortezomib", "melphalan", "dexamethasone"),
    "rd": ("lenalidomide", "dexamethasone"),
    "pd": ("pomalidomide", "dexamethasone"),
    "kd": ("carfilzomib", "dexamethasone"),
    "td": ("thalidomide", "dexamethasone"),
    "ctd": ("cyclophosphamide", "thalidomide", "dexamethasone"),
    "mdex": ("melphalan", "dexamethasone"),
}


@dataclass(frozen=True)
class DrugDictionary:
    """The agent dictionary a study uses: the shipped one (``AGENT_CLASSES``,
    ``AGENT_ALIASES``) with config ``drugs`` merged in."""

    classes: dict[str, str]  # generic name -> drug class
    aliases: dict[str, tuple[str, ...]]  # brand name / regimen abbreviation -> generic names

    def known(self) -> list[str]:
        return list(self.classes) + list(self.aliases)

    def agents_of_classes(self, classes) -> tuple[str, ...]:
        """The generic names whose class is one of ``classes``."""
        wanted = set(classes)
        return tuple(a for a, c in self.classes.items() if c in wanted)

    def normalise(self, text: str) -> tuple[str, list[str]]:
        """(the ';'-list with aliases replaced by generic names, each once in order of
        first mention; the names that are neither generic nor an alias). ``text`` is a
        well-formed ``agents`` cell (lower-case names separated by ';')."""
        names, unknown = [], []
        for name in text.split(";"):
            if name in self.aliases:
                names.extend(self.aliases[name])
            elif name in self.classes:
                names.append(name)
            else:
                unknown.append(name)
        return ";".join(dict.fromkeys(names)), unknown

    def exposure_agents(self, prior_exposure: dict) -> tuple[str, ...]:
        """The generic names whose presence in a prior line counts as exposure (config
        ``prior_exposure``), sorted: the configured ``agents`` (a brand name stands for its
        generic name; a regimen abbreviation of several drugs is refused) and every agent of the configured ``classes`` (matched without
        regard to case), the agents of config ``drugs`` included. ValueError naming the
        config key when an agent is unknown, a class has no agent or nothing is named
        (a misspelling would group no one)."""
        problems, names = self._exposure(prior_exposure)
        if problems:
            raise ValueError("; ".join(problems))
        return names

    def exposure_problems(self, prior_exposure: dict | None) -> list[str]:
        """What is wrong with config ``prior_exposure`` against this dictionary (``exposure_agents``),
        plus a ``label`` that names a drug or class the grouping does not stand for (e.g.
        label bortezomib over agents [daratumumab]: a configuration laid over config.yaml
        that sets the agents but keeps the default label); [] when sound or None."""
        if prior_exposure is None:
            return []
        problems, names = self._exposure(prior_exposure)
        label = str(prior_exposure.get("label") or "").strip()
        if names and label:
            low = label.lower()
            classes = {c.lower() for c in self.classes.values()}
            named = self.aliases.get(low, (low,) if low in self.classes else ())
            if named and not set(named) <= set(names):
                problems.append(f"prior_exposure.label: {label!r} names a drug that does not define the exposure "
                                f"(exposure agents: {', '.join(names)}); set the label to the grouping's name")
            elif low in classes and low not in named and any(self.classes[a].lower() != low for a in names):
                other = [a for a in names if self.classes[a].lower() != low]
                problems.append(f"prior_exposure.label: {label!r} names a class the exposure agents "
                                f"{', '.join(other)} are not of; set the label to the grouping's name or "
                                "prior_exposure.agents to [] (a configuration file laid over config.yaml keeps "
                                "its agents: [bortezomib])")
        return problems

    def _exposure(self, prior_exposure: dict) -> tuple[list[str], tuple[str, ...]]:
        problems, names = [], set()
        for a in prior_exposure.get("agents") or ():
            a = str(a).strip().lower()
            if a in self.aliases and len(self.aliases[a]) > 1:
                # a regimen abbreviation: its partners (dexamethasone) would make nearly every
                # line an exposure
                problems.append(f"prior_exposure.agents: {a!r} is a regimen of several drugs "
                                f"({', '.join(self.aliases[a])}); name the exposure-defining agent(s)")
            elif a in self.aliases:
                names.update(self.aliases[a])
            elif a in self.classes:
                names.add(a)
            else:
                problems.append(f"prior_exposure.agents: unknown agent {a!r} (neither in the shipped drug "
                                "dictionary, docs/data-dictionary.md, nor under config drugs.agents / drugs.aliases)")
        for cls in prior_exposure.get("classes") or ():
            want = str(cls).strip().lower()
            members = {a for a, c in self.classes.items() if c.lower() == want}
            if not members:
                known = sorted(set(self.classes.values()), key=str.lower)
                problems.append(f"prior_exposure.classes: no agent of class {cls!r} (classes: {', '.join(known)}; "
                                "config drugs.agents adds agents with their class)")
            names |= members
        if not names and not problems:
            problems.append("prior_exposure: name at least one agent or class (or set prior_exposure: null)")
        return problems, tuple(sorted(names))


def config_problems(drugs: dict | None, study_agents, prior_exposure: dict | None) -> list[str]:
    """The drug names of the configuration checked against the study's dictionary (the
    shipped one with config ``drugs`` merged in), as messages naming the config key:
    ``drugs.aliases`` (drug_dictionary), the salvage agents (config ``study.agents``) and
    the prior-exposure grouping (``DrugDictionary.exposure_problems``). Run by
    workflow/rules/common.smk before any job (a wrong name would otherwise stop the run
    only when a job reads it, or group no one)."""
    try:
        dictionary = drug_dictionary(drugs)
    except ValueError as err:
        return [str(err).removeprefix("config ")]
    problems = [f"study.agents: {a['name']!r} is not in the drug dictionary (add it under drugs.agents)"
                for a in study_agents or () if a["name"] not in dictionary.classes]
    return problems + dictionary.exposure_problems(prior_exposure)


def drug_dictionary(drugs: dict | None = None) -> DrugDictionary:
    """The shipped dictionary extended by config ``drugs`` ({agents: {name: class},
    aliases: {alias: [generic names]}}). A configured agent may redefine a shipped one's
    class; an alias must stand for known generic names and must not shadow a generic name
    (ValueError)."""
    drugs = drugs or {}
    classes = dict(AGENT_CLASSES)
    classes.update({str(k): str(v) for k, v in (drugs.get("agents") or {}).items()})
    aliases = dict(AGENT_ALIASES)
    for alias, names in (drugs.get("aliases") or {}).items():
        names = (names,) if isinstance(names, str) else tuple(names)
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise ValueError(f"config drugs.aliases: '{alias}' stands for unknown agent(s) {unknown} "
                             "(add them under drugs.agents)")
        if alias in classes:
            raise ValueError(f"config drugs.aliases: '{alias}' is a generic name of the dictionary")
        aliases[str(alias)] = names
    return DrugDictionary(classes, aliases)


SHIPPED_DRUGS = drug_dictionary()


def normalise_agents(text: str, drugs: DrugDictionary = SHIPPED_DRUGS) -> tuple[str, list[str]]:
    """``DrugDictionary.normalise`` of ``drugs`` (default: the shipped dictionary)."""
    return drugs.normalise(text)
