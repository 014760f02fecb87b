"""The study's wording: every phrase of the report, figures and tables that names the salvage
regimen (and, through ``prior_exposure``, the grouping), from the configuration.

The one owner of these phrases (issue 13): the report template, the figures and their
titles and captions, the statistics tables' titles, labels and footnotes and the Word and
Excel tables take them from here, through their rules' params, so that nothing says
"lenalidomide" unless the study is a lenalidomide study. A light module (no pandas, no
package imports): workflow/rules/common.smk loads it by path at DAG build time.

Texts kept in registries (stats/registry.py titles and footnotes, figure_registry.py
titles) write the regimen as ``{regimen}``; ``Wording.fill`` puts the study's name in.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Wording:
    regimen: str  # "lenalidomide"
    agents: tuple[str, ...]  # salvage agents, in config order
    agent_classes: tuple[str, ...]  # their classes, in the same order
    imid_caveat_classes: tuple[str, ...]
    exposure_label: str | None = None  # prior_exposure.label ("bortezomib"); None: no grouping

    @classmethod
    def from_params(cls, study: dict, prior_exposure: dict | None = None) -> "Wording":
        agents = tuple(study.get("agents") or ())
        return cls(
            regimen=regimen_of(study),
            agents=tuple(a["name"] for a in agents),
            agent_classes=tuple(a.get("class", "") for a in agents),
            imid_caveat_classes=tuple(study.get("imid_caveat_classes") or ()),
            exposure_label=(prior_exposure or {}).get("label") if prior_exposure else None,
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
