"""The study's wording: every phrase of the outputs that names the prior-exposure grouping.

A light module (no pandas), read by the statistics (record labels), the figures (legends,
titles, captions), the report and the office tables (column headers). Built from the
config sections ``study`` and ``prior_exposure`` (``Wording.from_params``); with
``prior_exposure: null`` there is no grouping (``grouping`` False) and no by-group output.

Stopgap of issue 13's grouping helper (group wording only); the regimen helper's version
adds the salvage-agent phrases (regimen, dose) to the same class.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ("naive", "sensitive", "refractory")
# prior_exposure of the default study, for callers given no configuration (tests, defaults)
DEFAULT_EXPOSURE = {"label": "bortezomib"}
# The subgroup comparisons a study can make (config analysis.comparisons); all need a grouping.
COMPARISONS = ("by_group", "sensitive_vs_refractory", "naive_vs_exposed", "refractory_vs_non")


def cap(text: str) -> str:
    """First letter upper case, the rest as written ("anti-CD38" stays "Anti-CD38")."""
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Wording:
    exposure: str | None = "bortezomib"  # prior_exposure.label; None: no grouping

    @classmethod
    def from_params(cls, study: dict | None = None, prior_exposure: dict | None = None) -> "Wording":
        if prior_exposure is None:
            return cls(exposure=None)
        return cls(exposure=str(prior_exposure.get("label") or "bortezomib"))

    @property
    def grouping(self) -> bool:
        return self.exposure is not None

    @property
    def prior(self) -> str:
        """'prior bortezomib'."""
        return f"prior {self.exposure}"

    @property
    def group_of(self) -> str:
        """'bortezomib group' (p across bortezomib groups)."""
        return f"{self.exposure} group"

    @property
    def prior_group(self) -> str:
        """'prior-bortezomib group'."""
        return f"prior-{self.exposure} group"

    def group_header(self, group: str) -> str:
        """Column header of a group: 'Bortezomib-naive', 'Potentially sensitive', 'Refractory'."""
        return {
            "naive": f"{cap(self.exposure)}-naive",
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
