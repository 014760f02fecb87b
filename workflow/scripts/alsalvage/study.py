"""The study's wording: every phrase of the report, figures and tables that names the salvage
regimen or the prior-exposure grouping, from the configuration (sections ``study`` and
``prior_exposure``).

The one owner of these phrases (issue 13): the report template, the figures and their
titles and captions, the statistics tables' titles, labels and footnotes and the Word and
Excel tables take them from here, through their rules' params, so that nothing says
"lenalidomide" unless the study is a lenalidomide study, nor "bortezomib" unless the grouping
is by bortezomib. With ``prior_exposure: null`` there is no grouping (``grouping`` False) and
no by-group output. A light module (no pandas, no package imports):
workflow/rules/common.smk loads it by path at DAG build time.

Texts kept in registries (stats/registry.py titles and footnotes, figure_registry.py
titles) write the regimen as ``{regimen}``; ``Wording.fill`` puts the study's name in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GROUPS = ("naive", "sensitive", "refractory")
# The subgroup comparisons a study can make (config analysis.comparisons); all need a grouping.
COMPARISONS = ("by_group", "sensitive_vs_refractory", "naive_vs_exposed", "refractory_vs_non")


# --------------------------------------------------------------------------- centres
# Table 1 by centre (analysis.centre.table1_by_centre): results.json keys
# <variable>.by_centre.<tag>.* (baseline.by_centre.<tag>.n), written by stats/table1.py
# and read by the report and the Word/Excel tables; the one spelling of those keys.
CENTRE_FOOTNOTE = (
    "Centre columns: the treated patients of each centre (patients.csv column centre; "
    "analysis.centre.table1_by_centre), summarised as in All patients; no test across centres "
    "(no p-value). Treated patients without a centre count in All patients only."
)


# How a test's method says that centre was a stratum (analysis.centre.stratify): the
# statistics append it, the figure captions look for it.
STRATIFIED = "stratified by centre"


def stratified_words(strata) -> str:
    """", stratified by centre" for a test with centre strata (``strata`` the centre
    column's name, or None), else nothing."""
    return f", {STRATIFIED}" if strata else ""


def centre_tag(centre) -> str:
    """A centre's name as a key part: characters other than letters, digits, - and _
    replaced by _ ("St. Mary's" -> "St_Mary_s")."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(centre))


def subgroup_key(key: str, by: str, tag: str) -> str:
    """The key of a Table 1 record within a subgroup: ``.<by>.<tag>`` after the first two
    parts (baseline.age.median -> baseline.age.by_pexgrp.naive.median), except the
    patient count, whose subgroup keys end in ``.n`` (baseline.n ->
    baseline.by_pexgrp.naive.n), as stats.table1 writes them."""
    if key == "baseline.n":
        return f"baseline.{by}.{tag}.n"
    parts = key.split(".")
    return ".".join(parts[:2] + [by, tag] + parts[2:])


def group_key(key: str, group: str) -> str:
    """The by-group key of a Table 1 key (prior-exposure group ``group``)."""
    return subgroup_key(key, "by_pexgrp", group)


def centre_key(key: str, tag: str) -> str:
    """The by-centre key of a Table 1 key: ``.by_centre.<tag>`` where ``.by_pexgrp.<g>``
    goes (baseline.n: baseline.by_centre.<tag>.n)."""
    return subgroup_key(key, "by_centre", tag)


def centre_label(label: str, centre) -> str:
    """The label of a by-centre record: the overall label, then the centre's name."""
    return f"{label}, {centre}"


def centre_name(overall_label: str, by_centre_label: str, tag: str) -> str:
    """The centre's name back from a by-centre record's label (centre_label; results.json
    keeps the label, the key only the tag), else the tag."""
    head = f"{overall_label}, "
    return by_centre_label[len(head):] if by_centre_label.startswith(head) and len(by_centre_label) > len(head) else tag


def centres_of(keys) -> list[str]:
    """The centre tags of the by-centre Table 1 records among ``keys`` (those with a
    baseline.by_centre.<tag>.n count), sorted."""
    out = set()
    for k in keys:
        parts = k.split(".")
        if len(parts) == 4 and parts[:2] == ["baseline", "by_centre"] and parts[3] == "n":
            out.add(parts[2])
    return sorted(out)


def cap(text: str) -> str:
    """First letter upper case, the rest as written ("anti-CD38" stays "Anti-CD38")."""
    return text[:1].upper() + text[1:]

REGIMEN_FIELD = "{regimen}"
CAVEAT_FIELD = "{caveat_agents}"


def regimen_of(study: dict) -> str:
    """How text names the salvage regimen: config ``study.regimen``, or when that is empty
    the names of ``study.agents`` joined by " / "."""
    name = study.get("regimen")
    if name:
        return str(name)
    agents = [a["name"] for a in study.get("agents") or ()]
    if not agents:
        raise ValueError("config study: neither regimen nor agents name the salvage regimen")
    return " / ".join(agents)


def resolve(study: dict) -> dict:
    """``study`` with ``regimen`` filled in (``regimen_of``); the configuration every rule
    reads, so that each reads one name."""
    return {**study, "regimen": regimen_of(study)}


def exposure_label(prior_exposure: dict | None) -> str | None:
    """How text names the prior exposure: config ``prior_exposure.label``; None without a
    grouping (``prior_exposure: null``). A grouping without a label is an error: no word
    of the grouping is ever made up."""
    if prior_exposure is None:
        return None
    label = prior_exposure.get("label")
    if not label:
        raise ValueError("config prior_exposure.label: a grouping needs a label (how text names the exposure)")
    return str(label)


@dataclass(frozen=True)
class Wording:
    """The study's phrases. Built only by the constructors below, from the configuration
    (no field has a default: no text can fall back on the default study's words;
    tests/test_study.py forbids ``Wording(`` outside this module)."""

    regimen: str  # how text names the salvage regimen; "{regimen}" when filled in later
    agents: tuple[str, ...]  # salvage agents, in config order
    agent_classes: tuple[str, ...]  # their classes, in the same order
    imid_caveat_classes: tuple[str, ...]
    exposure: str | None  # prior_exposure.label; None: no grouping

    @classmethod
    def from_params(cls, study: dict | None, prior_exposure: dict | None) -> "Wording":
        """From the config sections (or the keys of them a rule's params carry).

        ``study``: ``regimen`` and/or ``agents`` (and ``imid_caveat_classes``); None for a
        text whose regimen is filled in later: the regimen stays "{regimen}" (the statistics
        analyses word their by-group labels with the grouping only; the rule fills the
        regimen in with ``fill``). ``prior_exposure``: the section; None: no grouping (the
        grouping's phrases are then not to be asked for)."""
        return cls.from_label(study, exposure_label(prior_exposure))

    @classmethod
    def from_label(cls, study: dict | None, label: str | None) -> "Wording":
        """As ``from_params``, with the grouping given by its label (a figure's
        ``exposure_label`` setting, config prior_exposure.label; None: no grouping)."""
        if study is None:
            return cls(regimen=REGIMEN_FIELD, agents=(), agent_classes=(), imid_caveat_classes=(), exposure=label)
        agents = tuple(study.get("agents") or ())
        return cls(
            regimen=regimen_of(study),
            agents=tuple(a["name"] for a in agents),
            agent_classes=tuple(a.get("class", "") for a in agents),
            imid_caveat_classes=tuple(study.get("imid_caveat_classes") or ()),
            exposure=label,
        )

    # ------------------------------------------------------------------ phrases
    def fill(self, text: str) -> str:
        """A registry text with ``{regimen}`` replaced by the regimen's name and
        ``{caveat_agents}`` by the agents carrying the IMiD caveat ("lenalidomide", "a or b";
        the regimen's name when none does)."""
        caveat = " or ".join(self.caveat_agents) or self.regimen
        return text.replace(REGIMEN_FIELD, self.regimen).replace(CAVEAT_FIELD, caveat)

    @property
    def start(self) -> str:
        """"the start of lenalidomide" (the index date)."""
        return f"the start of {self.regimen}"

    @property
    def time_on(self) -> str:
        return f"Time on {self.regimen}"

    @property
    def on(self) -> str:
        return f"On {self.regimen}"

    @property
    def caveat_agents(self) -> tuple[str, ...]:
        """The salvage agents whose class raises NT-proBNP (``imid_caveat_classes``)."""
        return tuple(a for a, c in zip(self.agents, self.agent_classes) if c in self.imid_caveat_classes)

    @property
    def imid_caveat(self) -> bool:
        """Cardiac (NT-proBNP) calls carry the IMiD caveat: a salvage agent is of a caveat class."""
        return bool(self.caveat_agents)

    @property
    def imid_caveat_note(self) -> str | None:
        """The organ table's footnote on flagged cardiac calls; None without the caveat."""
        if not self.imid_caveat:
            return None
        classes = sorted({c for a, c in zip(self.agents, self.agent_classes) if a in self.caveat_agents})
        what = "an " + classes[0] if len(classes) == 1 and classes[0][:1].lower() in "aeiou" else (
            "a " + classes[0] if len(classes) == 1 else " or ".join(classes))
        return (f"Cardiac calls made under {' or '.join(self.caveat_agents)} ({what}, which raises NT-proBNP) "
                "are flagged.")

    @property
    def grouping(self) -> bool:
        return self.exposure is not None

    def _label(self) -> str:
        if self.exposure is None:
            raise ValueError("the study has no prior-exposure grouping: no text names one")
        return self.exposure

    @property
    def prior(self) -> str:
        """'prior bortezomib'."""
        return f"prior {self._label()}"

    @property
    def group_of(self) -> str:
        """'bortezomib group' (p across bortezomib groups)."""
        return f"{self._label()} group"

    @property
    def prior_group(self) -> str:
        """'prior-bortezomib group'."""
        return f"prior-{self._label()} group"

    def group_header(self, group: str) -> str:
        """Column header of a group: 'Bortezomib-naive', 'Potentially sensitive', 'Refractory'."""
        return {
            "naive": f"{cap(self._label())}-naive",
            "sensitive": "Potentially sensitive",
            "refractory": "Refractory",
        }[group]

    def title(self, text: str, has_groups: bool) -> str:
        """``text`` with "{by_group}" (", overall and by prior bortezomib") and
        "{and_by_group}" (" and by prior bortezomib") filled where the outputs have by-group
        columns, else removed."""
        on = has_groups and self.grouping
        return text.replace("{by_group}", f", overall and by {self.prior}" if on else "").replace(
            "{and_by_group}", f" and by {self.prior}" if on else ""
        )

    def group_headers(self) -> list[str]:
        return [self.group_header(g) for g in GROUPS] if self.grouping else []


def comparisons(prior_exposure: dict | None, analysis_comparisons) -> list[str]:
    """The comparisons made: none without a grouping, else config analysis.comparisons
    (in the order of COMPARISONS)."""
    if prior_exposure is None:
        return []
    wanted = set(analysis_comparisons)
    return [c for c in COMPARISONS if c in wanted]
