"""The self-contained HTML report: context building and jinja2 rendering.

``build_context`` turns the statistics (results.json, keys of docs/results.md), the
validation findings, the figures, the published seed-study values and the provenance
into plain data; ``render_html`` fills ``workflow/templates/report.html.j2`` with it
(autoescape on, StrictUndefined: a missing key is an error, never an empty cell).
The report holds aggregates only: patient identifiers and calendar dates found in
free text (validation findings) are masked, and ``check_no_identifiers`` refuses to
write a report in which an identifier survived.

The module does not import pandas (its import alone took about as long as the rest of
the job): the patient identifiers come from one Parquet column read with pyarrow, and
findings.csv, a small file of text, is read with the csv module.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html as htmllib
import json
import re
import subprocess
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable, Mapping

import jinja2
import pyarrow.parquet as pq
import yaml

from . import figure_registry
from .formatting import fmt_number
from .study import CENTRE_FOOTNOTE, GROUPS, Wording, centre_key, centre_name, centres_of, group_key

SOFTWARE = (
    "snakemake",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "scipy",
    "lifelines",
    "matplotlib",
    "jinja2",
    "markupsafe",
    "pyyaml",
)

# Report sections fed by results.json key prefixes (docs/results.md), in order.
SECTIONS = (
    ("patients", "Patients", ("baseline.",)),
    ("prior", "Prior therapy", ("prior.",)),
    ("exposure", "Exposure and discontinuation", ("exposure.", "discontinuation.")),
    ("hematologic", "Hematologic response", ("hem.",)),
    ("organ", "Organ response and renal outcome", ("organ.", "renal.")),
    ("survival", "Survival", ("os.", "hempfs.", "ttnt.")),
    ("toxicity", "Toxicity", ("tox.",)),
)
FIGURE_SECTIONS = figure_registry.SECTIONS  # figure -> the section showing it
# Clinical order of Table 1 / prior-therapy rows (second part of the key); others follow.
ROW_ORDER = (
    "n", "age", "sex", "organ", "egfr", "dialysis", "ntprobnp", "dflc", "mayo2004", "eustage",
    "mayo2012", "renal_stage", "hemeval", "lines", "dx_to_index_months", "fl_to_index_months", "exposure",
)  # fmt: skip
# Sub-statistics that the main record's `formatted` string already carries.
SUBSTATS = ("q1", "q3", "min", "max", "missing")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


class ReportInputError(ValueError):
    """An input of the report is missing or malformed."""


# --------------------------------------------------------------------------- results


def load_yaml(path: str | Path):
    """A YAML resource, parsed with libyaml where PyYAML has it (the schema and the seed
    study take 0.7 s with the pure-Python parser)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def records(results: dict) -> dict:
    if "results" not in results or not isinstance(results["results"], dict):
        raise ReportInputError("results.json: no 'results' mapping (see docs/results.md)")
    return results["results"]


def _is_substat(key: str, recs: dict) -> bool:
    head, _, last = key.rpartition(".")
    return last in SUBSTATS and f"{head}.median" in recs


def _clinical_order(key: str):
    part = key.split(".")[1] if "." in key else key
    return (ROW_ORDER.index(part) if part in ROW_ORDER else len(ROW_ORDER), key)


def result_row(key: str, rec: dict) -> dict:
    """One results.json record as a table row (the record's own formatted strings)."""
    value = rec.get("formatted")
    if value is None:
        value = "NA" if rec.get("estimate") is None else fmt_number(rec["estimate"], 2)
    p = rec.get("p")
    return {
        "key": key,
        "label": rec.get("label") or key,
        "value": value,
        "ci": rec.get("formatted_ci") or "",
        "method": rec.get("method") or "",
        "note": rec.get("note") or "",
        "p": "" if p is None or rec.get("unit") == "p" else _fmt_p(p),
    }


# The results.json keys of each headline endpoint (analysis.endpoints): its median, then
# (time-to-event endpoints) its survival at each of stats.timepoints_months.
HEADLINE_KEYS = {
    "os": ("os", True),
    "hem_pfs": ("hempfs", True),
    "time_to_response": ("hem.time_to_response", False),
    "time_to_next_treatment": ("ttnt", True),
}


def headline_rows(recs: dict, endpoints, timepoints) -> list[dict]:
    """The rows of the report's headline table: for each configured endpoint its median
    and, for the Kaplan-Meier ones (OS, hematologic PFS, time to next treatment),
    survival at the time points (records absent from results.json are skipped)."""
    rows = []
    for e in endpoints or ():
        prefix, at_times = HEADLINE_KEYS[e]
        keys = [f"{prefix}.median"] + ([f"{prefix}.surv_{t:g}m" for t in timepoints] if at_times else [])
        rows += [result_row(k, recs[k]) for k in keys if k in recs]
    return rows


def _fmt_p(p) -> str:
    from .formatting import fmt_p

    return fmt_p(p)


def section_tables(recs: dict) -> dict:
    """Per report section: a table of its records; Table 1 and prior therapy also get
    the by-group columns (where results.json has by-group records); toxicity is pivoted term x (any grade, grade >= 3)."""
    out = {}
    used = set()
    for sid, _title, prefixes in SECTIONS:
        keys = sorted(k for k in recs if k.startswith(prefixes))
        used.update(keys)
        main = [k for k in keys if not _is_substat(k, recs)]
        if sid in ("patients", "prior"):
            out[sid] = grouped_table(recs, main)
        elif sid == "toxicity":
            out[sid] = toxicity_table(recs, main)
        else:
            out[sid] = {"kind": "plain", "rows": [result_row(k, recs[k]) for k in main]}
    other = sorted(k for k in recs if k not in used)
    out["other"] = {"kind": "plain", "rows": [result_row(k, recs[k]) for k in other]}
    return out


def grouped_table(recs: dict, keys: list[str]) -> dict:
    """Table 1 layout: the overall records in clinical order, each with its by-group
    records as columns (also the layout of results/tables/table1.docx and .xlsx). Without
    by-group records (no grouping, or no by_group comparison) there are no group or
    comparison columns (``compare`` False), not empty ones. With by-centre records
    (analysis.centre.table1_by_centre) a column per centre follows (``centres``: their
    names; ``centre_note``: the footnote on them), else none."""
    compare = has_groups(recs)
    tags = centres_of(recs)
    main = [k for k in sorted(keys, key=_clinical_order) if ".by_pexgrp." not in k and ".by_centre." not in k]
    rows, shown = [], set()
    for k in main:
        row = result_row(k, recs[k])
        row["groups"] = (
            [(recs.get(group_key(k, g)) or {}).get("formatted") or "" for g in GROUPS]
            if compare
            else []
        )
        row["compare"] = _comparison(recs, k, shown)
        row["centres"] = [(recs.get(centre_key(k, t)) or {}).get("formatted") or "" for t in tags]
        rows.append(row)
    return {
        "kind": "grouped",
        "rows": rows,
        "compare": compare,
        "centres": [centre_name((recs.get("baseline.n") or {}).get("label") or "",
                                recs[centre_key("baseline.n", t)].get("label") or "", t) for t in tags],
        "centre_note": centre_note(recs) if tags else "",
    }


def centre_note(recs: dict) -> str:
    """The footnote on Table 1's centre columns (study.CENTRE_FOOTNOTE) with the number of
    treated patients without a centre (baseline.by_centre.missing)."""
    missing = (recs.get("baseline.by_centre.missing") or {}).get("estimate")
    if not missing:
        return CENTRE_FOOTNOTE
    return f"{CENTRE_FOOTNOTE} Patients without a centre: {fmt_number(missing, 0)}."


def centre_methods(centre: dict | None) -> str:
    """The report's methods sentence on a multi-centre cohort (config analysis.centre):
    what is given per centre and what is stratified by centre; empty when neither."""
    centre = centre or {}
    parts = []
    if centre.get("table1_by_centre"):
        parts.append("Table 1 is also given for the treated patients of each centre (patients.csv column centre), "
                     "with no test across centres.")
    if centre.get("stratify"):
        parts.append("Centre is a stratum of every log-rank test of overall survival (the landmark tests too), "
                     "of Gray's tests of the cumulative incidence of dialysis and of the Cox model (a baseline "
                     "hazard per centre; no proportional-hazards test); patients without a centre are left out "
                     "of these tests and the model. Kaplan-Meier and cumulative-incidence estimates are not "
                     "stratified.")
    return " ".join(parts)


def grouped_bands(table: dict, wording: Wording) -> list[dict]:
    """The band of column headers above Table 1's when it has centre columns (overall |
    by prior <exposure> | by centre; ``text`` and ``span`` in columns), else none (one
    header row, as without centres)."""
    if not table["centres"]:
        return []
    bands = [{"text": "", "span": 1}, {"text": "Overall", "span": 2}]
    if table["compare"]:
        bands.append({"text": f"By {wording.prior}", "span": len(wording.group_headers()) + 4})
    return bands + [{"text": "By centre", "span": len(table["centres"])}, {"text": "", "span": 1}]


def has_groups(recs: dict) -> bool:
    """Whether results.json holds by-group records (the by_group comparison was made)."""
    return any(".by_pexgrp." in k for k in recs)


def _comparison(recs: dict, key: str, shown: set) -> dict:
    """The group comparison (p, its test, SMD, missing: <variable>.by_pexgrp.*) of the
    variable a Table 1 row belongs to, on the variable's first row only."""
    head = key[: -len(".median")] if key.endswith(".median") else None
    for var in (head, key, key.rpartition(".")[0]):
        if var and f"{var}.by_pexgrp.p" in recs and var not in shown:
            shown.add(var)
            p = recs[f"{var}.by_pexgrp.p"]
            smd = recs.get(f"{var}.by_pexgrp.smd", {})
            miss = recs.get(f"{var}.by_pexgrp.missing", {})
            return {
                "p": p.get("formatted") or "",
                "test": p.get("method") or "",
                "smd": smd.get("formatted") or "",
                "missing": miss.get("formatted") or "",
            }
    return {"p": "", "test": "", "smd": "", "missing": ""}


def toxicity_table(recs: dict, keys: list[str]) -> dict:
    terms = {}
    totals = []
    for k in keys:
        parts = k.split(".")
        if len(parts) == 3 and parts[1] in ("any", "gr3"):
            t = terms.setdefault(parts[2], {"slug": parts[2], "label": "", "any": "", "gr3": ""})
            t[parts[1]] = recs[k].get("formatted") or ""
            label = recs[k].get("label") or parts[2]
            if parts[1] == "any" or not t["label"]:
                t["label"] = label
        else:
            totals.append(result_row(k, recs[k]))
    rows = sorted(terms.values(), key=lambda t: t["slug"])
    return {"kind": "toxicity", "rows": rows, "totals": totals}


def methods_used(recs: dict) -> list[str]:
    return sorted({r["method"] for r in recs.values() if r.get("method")})


# --------------------------------------------------------------------------- reproduction


def _feasible_counts(pct: float, denominator: int) -> set[int]:
    """Counts k in 0..denominator whose percentage rounds (half up) to the published one.

    100 k / d rounds half up to the integer P exactly when P - 1/2 <= 100 k / d < P + 1/2,
    i.e. (2P - 1) d <= 200 k < (2P + 1) d: integer arithmetic, so the set is read off
    directly instead of testing every k (a registry denominator is 100,000)."""
    if not denominator:
        return set()
    d = int(denominator)
    target = int(Decimal(repr(float(pct))).quantize(Decimal(1)))
    low = max(0, -((1 - 2 * target) * d // 200))  # ceil((2P - 1) d / 200)
    high = min(d, ((2 * target + 1) * d - 1) // 200)  # largest k with 200 k < (2P + 1) d
    return set(range(low, high + 1))


def _sums_possible(parts: list[set[int]], targets: set[int]) -> bool:
    sums = {0}
    for s in parts:
        sums = {a + b for a in sums for b in s}
        if not sums:
            return False
    return bool(sums & targets)


def _n_treated(results: dict, recs: dict):
    return results.get("meta", {}).get("n_treated", recs.get("baseline.n", {}).get("estimate"))


def reproduction_rows(seed: dict, recs: dict) -> list[dict]:
    """Published vs reproduced, one row per published value, with the tolerance verdict
    and a note when no integer cohort can give the published value(s)."""
    alpha = float(seed["alpha"])
    cohort = int(seed["cohort_size"])
    rows = []
    feasible = {}
    for entry in seed["rows"]:
        kind = entry["kind"]
        rec = _prefix_records(recs, entry["key"]) if kind == "most_common" else recs.get(entry["key"])
        row = {
            "id": entry["id"],
            "area": entry["area"],
            "figure": entry["figure"],
            "item": str(entry["item"]),
            "published": _fmt_published(entry),
            "reproduced": "not in results",
            "difference": "",
            "tolerance": "",
            "within": "no",
            "notes": [entry["note"]] if entry.get("note") else [],
            "key": entry["key"],
        }
        if rec is None:
            row["notes"].append(f"results.json has no record {entry['key']}")
            rows.append(row)
            continue
        if kind == "most_common":
            verdict = _most_common(entry, rec)
            row["notes"] += verdict.pop("notes", [])
            row.update(verdict)
            rows.append(row)
            continue
        if kind == "present":
            n = rec.get("n")
            den = rec.get("denominator")
            row.update(
                reproduced="NA" if n is None else (f"{n}/{den} patients" if den else f"{n} patients"),
                difference="statement only",
                tolerance="at least 1 patient",
                within="yes" if (n or 0) >= 1 else "no",
            )
            rows.append(row)
            continue
        pub = float(entry["published"])
        if kind == "percent":
            denominator = rec.get("denominator") or cohort
            est = rec.get("estimate")
            if est is not None:
                val = 100.0 * float(est)
                tol = 100.0 / denominator + 0.5
                diff = val - pub
                row.update(
                    reproduced=f"{fmt_number(val, 1)}% ({rec.get('n')}/{denominator})",
                    difference=f"{fmt_number(diff, 1, 'NA')} points",
                    tolerance=f"+-{fmt_number(tol, 1)} points",
                    within="yes" if abs(diff) <= tol + 1e-9 else "no",
                )
            feasible[entry["id"]] = (_feasible_counts(pub, denominator), denominator)
            if not feasible[entry["id"]][0]:
                row["notes"].append(f"No whole number of patients out of {denominator} gives {entry['published']}%.")
        elif kind in ("value", "count"):
            val = rec.get("n") if kind == "count" else rec.get("estimate")
            tol = float(entry.get("tolerance", 0))
            if val is not None:
                diff = float(val) - pub
                digits = 1 if (kind == "value" and (pub % 1 or tol % 1 or float(val) % 1)) else 0
                row.update(
                    reproduced=fmt_number(val, digits),
                    difference=fmt_number(diff, digits),
                    tolerance=f"+-{tol:g}" if tol else "exact",
                    within="yes" if abs(diff) <= tol + 1e-9 else "no",
                )
            elif kind == "value":
                row["reproduced"] = rec.get("formatted") or "NA"
        elif kind in ("p_direction", "hr_direction"):
            p = rec.get("p")
            if p is not None:
                same_side = (p < alpha) == (pub < alpha)
                verdict = same_side
                extra = ""
                if kind == "hr_direction":
                    est = rec.get("estimate")
                    right_way = est is not None and (
                        (est < 1) if entry.get("direction", "below_1") == "below_1" else (est > 1)
                    )
                    verdict = same_side and right_way
                    extra = f"; HR {rec.get('formatted') or fmt_number(est, 2)}"
                shown = _fmt_p(p)
                row.update(
                    reproduced=(f"p {shown}" if shown.startswith("<") else f"p = {shown}") + extra,
                    difference="direction only",
                    tolerance=f"same side of {alpha:g}",
                    within="yes" if verdict else "no",
                )
        else:
            raise ReportInputError(f"resources/seed_study.yaml: row {entry['id']}: unknown kind '{kind}'")
        rows.append(row)
    # Rows whose counts must add up to another row's count.
    by_id = {r["id"]: r for r in rows}
    groups = {}
    for entry in seed["rows"]:
        if entry.get("sums_to"):
            groups.setdefault((entry["figure"], entry["sums_to"]), []).append(entry["id"])
    for (figure, target), members in groups.items():
        if target not in feasible or any(m not in feasible for m in members):
            continue
        if not _sums_possible([feasible[m][0] for m in members], feasible[target][0]):
            t = by_id[target]
            parts = " + ".join(f"{by_id[m]['item']} {by_id[m]['published']}" for m in members)
            msg = (
                f"No integer cohort satisfies {parts} (of {', '.join(str(feasible[m][1]) for m in members)}) "
                f"together with {t['figure']} {t['published']} (of {feasible[target][1]})."
            )
            for m in members:
                by_id[m]["notes"].append(msg)
    return rows


def _prefix_records(recs: dict, prefix: str) -> dict | None:
    """The records under ``prefix`` (``tox.gr3`` -> {term: record} of ``tox.gr3.<term>``),
    None when there is none."""
    head = prefix + "."
    found = {k[len(head) :]: r for k, r in recs.items() if k.startswith(head) and "." not in k[len(head) :]}
    return found or None


def _most_common(entry: dict, found: dict) -> dict:
    """A published list of the most common items (kind most_common): within tolerance when
    every listed item occurred (n >= 1) and none of the others is more frequent than any
    listed one (ties with an unlisted item are within: the publication chose among equals)."""
    listed = [str(t) for t in entry["published"]]
    counts = {t: int(r.get("n") or 0) for t, r in found.items()}
    missing = [t for t in listed if t not in counts]
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{t.replace('_', ' ')} {n}" for t, n in top[: max(len(listed) + 1, 3)])
    if missing:
        return {"reproduced": shown, "within": "no", "notes": [f"no record {entry['key']}.{t}" for t in missing]}
    floor = min(counts[t] for t in listed)
    beaten = [t for t, n in counts.items() if t not in listed and n > floor]
    return {
        "reproduced": f"{shown} (patients)",
        "difference": "more frequent: " + ", ".join(t.replace("_", " ") for t in sorted(beaten)) if beaten else "order only",
        "tolerance": "listed items >= 1 patient and >= every other",
        "within": "yes" if floor >= 1 and not beaten else "no",
    }


def _fmt_published(entry: dict) -> str:
    v = entry["published"]
    if entry["kind"] == "most_common":
        return ", ".join(str(t).replace("_", " ") for t in v)
    if entry["kind"] == "percent":
        return f"{v}%"
    if entry["kind"] in ("p_direction", "hr_direction"):
        return f"p = {v}"
    return str(v)


# --------------------------------------------------------------------------- config, provenance


def flatten_config(cfg: dict, schema: dict, prefix: str = "") -> list[dict]:
    """Every leaf of the resolved configuration with its schema description (a map such as
    drugs.agents, keyed by the user's names, is one leaf)."""
    rows = []
    props = schema.get("properties", {})
    for key in sorted(cfg):
        path = f"{prefix}{key}"
        sub = props.get(key, {})
        val = cfg[key]
        if isinstance(val, dict) and "propertyNames" not in sub:
            rows.extend(flatten_config(val, sub, path + "."))
        else:
            rows.append({"key": path, "value": json.dumps(val), "description": sub.get("description", "")})
    return rows


def config_sections(cfg: dict, schema: dict) -> list[dict]:
    out = []
    props = schema.get("properties", {})
    for key in sorted(cfg):
        if not isinstance(cfg[key], dict):
            continue
        out.append(
            {
                "name": key,
                "description": props.get(key, {}).get("description", ""),
                "rows": flatten_config(cfg[key], props.get(key, {}), f"{key}."),
            }
        )
    return out


def config_text(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=True, default_flow_style=False)


def seeds(cfg: dict, prefix: str = "") -> list[dict]:
    out = []
    for key in sorted(cfg):
        val = cfg[key]
        if isinstance(val, dict):
            out.extend(seeds(val, f"{prefix}{key}."))
        elif "seed" in key:
            out.append({"key": f"{prefix}{key}", "value": val})
    return out


def input_provenance(recorded: dict) -> list[dict]:
    """Table, configured path, SHA-256 and data rows of each raw input, as validate
    recorded them when it read the files (results/validated/inputs.json,
    ``validation.input_record``), in table order."""
    return [
        {"table": name, "path": str(rec["path"]), "sha256": rec["sha256"], "rows": rec["rows"]}
        for name, rec in sorted(recorded.items())
    ]


def software_versions() -> list[dict]:
    import platform

    out = [{"name": "python", "version": platform.python_version()}]
    for name in SOFTWARE:
        try:
            out.append({"name": name, "version": version(name)})
        except PackageNotFoundError:
            out.append({"name": name, "version": "not installed"})
    return out


# The repository this package was loaded from (workflow/scripts/alsalvage/report.py).
WORKFLOW_ROOT = Path(__file__).resolve().parents[3]


def git_state(repo_dir: str | Path = WORKFLOW_ROOT) -> dict:
    """Commit and dirty flag of the repository (tracked files only); 'unknown' without git.

    Found from the package's own location rather than passed as a rule param: an absolute
    path in params would make every copy or move of a finished project rerun the report."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, timeout=30
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": "unknown"}
    if commit.returncode != 0 or status.returncode != 0:
        return {"commit": "unknown", "dirty": "unknown"}
    return {"commit": commit.stdout.strip(), "dirty": "yes" if status.stdout.strip() else "no"}


# --------------------------------------------------------------------------- findings, figures


class IdentifierMatcher:
    """Finds the known patient identifiers in free text, whatever characters they hold
    (``PAT 001``, ``UKM/2012/002``, ``Müller-003``, ``O'Brien-008``): an identifier matches
    where it is not part of a longer word, i.e. the characters on either side of it are not
    both alphanumeric (Unicode). Matches are taken from the left, the longest first, so
    ``SYN-001-B`` masks ``SYN-001`` and ``SYN-0011`` masks nothing. The text is scanned once,
    at the positions where an identifier's first character occurs, looking up one slice per
    distinct identifier length: cost grows with the text, not with the number of ids."""

    def __init__(self, ids: Iterable[str]):
        self.ids = {str(i) for i in ids if str(i) != ""}
        self.lengths = sorted({len(i) for i in self.ids}, reverse=True)
        firsts = sorted({i[0] for i in self.ids})
        self.starts = re.compile("[" + "".join(re.escape(c) for c in firsts) + "]") if firsts else None

    @staticmethod
    def _joins(text: str, i: int) -> bool:
        """Whether position i splits a word (alphanumeric on both sides)."""
        return 0 < i < len(text) and text[i - 1].isalnum() and text[i].isalnum()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) of every identifier in the text, left to right, not overlapping."""
        out: list[tuple[int, int]] = []
        if self.starts is None:
            return out
        pos = 0
        while True:
            m = self.starts.search(text, pos)
            if m is None:
                return out
            s = m.start()
            hit = 0
            if not self._joins(text, s):
                for n in self.lengths:
                    if text[s : s + n] in self.ids and not self._joins(text, s + n):
                        hit = n
                        break
            if hit:
                out.append((s, s + hit))
                pos = s + hit
            else:
                pos = s + 1

    def sub(self, text: str, placeholder: str = "[patient]") -> str:
        pieces, last = [], 0
        for s, e in self.spans(text):
            pieces.append(text[last:s])
            pieces.append(placeholder)
            last = e
        pieces.append(text[last:])
        return "".join(pieces)


def mask_identifiers(text: str, ids) -> str:
    """Replace patient identifiers and ISO dates in free text by placeholders
    (one pass over the text, whatever the number of identifiers)."""
    return _mask_text(text, IdentifierMatcher(ids))


def _mask_text(text: str, matcher: IdentifierMatcher) -> str:
    return matcher.sub(ISO_DATE.sub("[date]", str(text)))


FINDING_COLUMNS = ("severity", "file", "row", "column", "value", "rule", "message")
# Findings are listed in this order; every field compares as text ("10" before "9").
FINDING_ORDER = ("severity", "file", "rule", "row", "column")


def read_findings(path: str | Path) -> list[dict[str, str]]:
    """findings.csv (docs/interfaces.md) as rows of text: every field a string, an empty
    field stays empty, blank lines are skipped, a short record is padded with empty
    fields. A missing column or a record longer than the header is an error naming the
    file and its lines."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ReportInputError(f"{path}: empty file; expected the columns {', '.join(FINDING_COLUMNS)}")
        missing = [c for c in FINDING_COLUMNS if c not in header]
        if missing:
            raise ReportInputError(f"{path}: missing column(s) {', '.join(missing)}")
        rows, long = [], []
        for record in reader:
            if not record:
                continue
            if len(record) > len(header):
                long.append(f"line {reader.line_num} has {len(record)} fields")
            rows.append(dict(zip(header, record + [""] * (len(header) - len(record)))))
    if long:
        raise ReportInputError(f"{path}: the header has {len(header)} fields but {'; '.join(long)}")
    return rows


def _text(value) -> str:
    """A finding's field as text; a missing value (None, NaN) is empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


# findings.csv's optional column: the finding's treating centre (multi-centre cohorts;
# validation.finding_centres); empty for a finding of no patient.
FINDING_CENTRE = "centre"
NOT_PATIENT = "(not patient-specific)"


def findings_rows(findings: Iterable[Mapping[str, object]], ids: list[str]) -> dict:
    """Validation findings for the report: sorted (stable) by severity, file, rule, row
    and column as text, identifiers and dates masked, and counted per (severity, rule).
    When findings.csv has the centre column (``has_centre``), each row keeps it and
    ``by_centre`` counts the findings per centre (centres by name, then the findings of a
    patient without a centre and those of no patient), else ``by_centre`` is empty."""
    findings = list(findings)
    has_centre = bool(findings) and all(FINDING_CENTRE in r for r in findings)
    cols = FINDING_COLUMNS + ((FINDING_CENTRE,) if has_centre else ())
    rows = [{c: _text(r[c]) for c in cols if c in r} for r in findings]
    missing = [c for c in FINDING_COLUMNS if any(c not in r for r in rows)]
    if missing:
        raise ReportInputError(f"findings.csv: missing column(s) {', '.join(missing)}")
    rows.sort(key=lambda r: tuple(r[c] for c in FINDING_ORDER))
    # the known identifiers (ADSL) and any a finding names in its patient_id column
    matcher = IdentifierMatcher(set(ids) | {r["value"] for r in rows if r["column"] == "patient_id"})
    counts: dict[tuple[str, str], int] = {}
    per_centre: dict[str, dict[str, int]] = {}
    for r in rows:
        counts[r["severity"], r["rule"]] = counts.get((r["severity"], r["rule"]), 0) + 1
        if has_centre:
            c = per_centre.setdefault(r[FINDING_CENTRE] or NOT_PATIENT, {})
            c[r["severity"]] = c.get(r["severity"], 0) + 1
    return {
        "rows": [{c: _mask_text(v, matcher) for c, v in r.items()} for r in rows],
        "summary": [{"severity": s, "rule": rule, "n": n} for (s, rule), n in sorted(counts.items())],
        "n": len(rows),
        "has_centre": has_centre,
        "by_centre": [
            {"centre": _mask_text(c, matcher), "errors": n.get("error", 0), "warnings": n.get("warning", 0),
             "n": sum(n.values())}
            for c, n in sorted(per_centre.items(), key=lambda cn: (cn[0].startswith("("), cn[0]))
        ],
    }


def patient_ids(adsl_path: str | Path) -> list[str]:
    """The distinct USUBJID values of ADSL, sorted (one column read, without pandas:
    ``pq.read_table`` would import it to parse the file's pandas metadata)."""
    pf = pq.ParquetFile(adsl_path)
    if "USUBJID" not in pf.schema_arrow.names:
        raise ReportInputError(f"{adsl_path}: no column USUBJID (docs/interfaces.md)")
    column = pf.read(columns=["USUBJID"]).column("USUBJID")
    return sorted({str(v) for v in column.to_pylist()})


def figure_software(captions: dict) -> list[dict]:
    """Libraries that drew the figures (recorded by the figure rule in each caption file)."""
    seen = {}
    for name in sorted(captions):
        for pkg, ver in json.loads(Path(captions[name]).read_text()).get("software", {}).items():
            seen.setdefault(pkg, set()).add(ver)
    return [{"name": pkg, "version": ", ".join(sorted(v))} for pkg, v in sorted(seen.items())]


def figure_entries(svgs: dict, captions: dict) -> dict:
    """Figures as base64 SVG data URIs, grouped by report section."""
    out = {}
    for name in svgs:
        meta = json.loads(Path(captions[name]).read_text())
        data = base64.b64encode(Path(svgs[name]).read_bytes()).decode("ascii")
        out.setdefault(FIGURE_SECTIONS.get(name, "survival"), []).append(
            {"name": name, "title": meta["title"], "caption": meta["caption"], "src": f"data:image/svg+xml;base64,{data}"}
        )
    return out


# --------------------------------------------------------------------------- context, render


def build_context(
    *,
    results: dict,
    findings: Iterable[Mapping[str, object]],
    seed_study: dict | None,
    strobe: dict,
    config: dict,
    schema: dict,
    figures: dict,
    patient_ids: list[str],
    inputs: list[dict],
    software: list[dict],
    git: dict,
    figure_software: list[dict] = (),
) -> dict:
    recs = records(results)
    tables = section_tables(recs)
    wording = Wording.from_params(config["study"], config["prior_exposure"])
    for t in tables.values():
        if t["kind"] == "grouped":
            t["bands"] = grouped_bands(t, wording)
    # a study without published figures has no comparison (the section is left out)
    repro = None if seed_study is None else reproduction_rows(seed_study, recs)
    study = config["study"]
    n_treated = _n_treated(results, recs)
    cfg_text = config_text(config)
    sections = [
        {"id": sid, "title": title, "table": tables[sid], "figures": figures.get(sid, [])}
        for sid, title, _ in SECTIONS
    ]
    return {
        "title": study["title"],
        "regimen": wording.regimen,
        "synthetic": bool(study["synthetic"]),
        "reference_date": study["reference_date"],
        "days_per_month": config["endpoints"]["days_per_month"],
        "n_treated": n_treated,
        "sections": sections,
        "headline": headline_rows(
            recs, config.get("analysis", {}).get("endpoints"), config.get("stats", {}).get("timepoints_months", ())
        ),
        "other_results": tables["other"],
        "group_labels": wording.group_headers() if has_groups(recs) else [],
        "reproduction": repro,
        "reproduction_within": sum(r["within"] == "yes" for r in repro or ()),
        "reproduction_source": study.get("published_figures") or "",
        "reproduction_published_n": None if seed_study is None else int(seed_study["cohort_size"]),
        "reproduction_cohort_differs": seed_study is not None
        and n_treated is not None
        and int(seed_study["cohort_size"]) != int(n_treated),
        "methods": methods_used(recs),
        "centre_methods": centre_methods(config.get("analysis", {}).get("centre")),
        "config_sections": config_sections(config, schema),
        "findings": findings_rows(findings, patient_ids),
        "provenance": {
            "inputs": inputs,
            "software": software,
            "figure_software": list(figure_software),
            "git": git,
            "config_sha256": hashlib.sha256(cfg_text.encode("utf-8")).hexdigest(),
            "config_text": cfg_text,
            "seeds": seeds(config),
            "results_schema": results.get("meta", {}).get("schema", "unknown"),
        },
        "strobe": [
            {**item, "coverage": wording.title(item["coverage"], has_groups(recs))} if "coverage" in item else item
            for item in strobe_items(strobe["items"], published=repro is not None)
        ],
    }


def strobe_items(items: list[dict], published: bool) -> list[dict]:
    """The STROBE checklist rows; without published figures, an item's
    ``without_published`` coverage replaces its own, and none links to the comparison
    section the report then lacks."""
    if published:
        return items
    out = []
    for item in items:
        item = dict(item)
        if "without_published" in item:
            item["coverage"] = item["without_published"]
        if item["section"] == "reproduction":
            item["section"] = "none"
        out.append(item)
    return out


def environment(template_dir: str | Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict, template: str | Path) -> str:
    template = Path(template)
    return environment(template.parent).get_template(template.name).render(**context)


def check_no_identifiers(html: str, patient_ids: list[str]) -> None:
    """Refuse a report in which a patient identifier (one with a letter, so that ids cannot
    be confused with numbers) appears in the text, HTML entities decoded (``O&#39;Brien``
    is ``O'Brien``); embedded figures (data URIs) are excluded."""
    matcher = IdentifierMatcher(pid for pid in patient_ids if any(ch.isalpha() for ch in pid))
    text = htmllib.unescape(re.sub(r"data:[^\"'\s]+", "", html))
    leaked = sorted({text[s:e] for s, e in matcher.spans(text)})
    if leaked:
        raise ReportInputError(
            f"report would contain {len(leaked)} patient identifier(s), e.g. {leaked[0]!r}; nothing written"
        )


def build_report(
    *,
    results_path,
    findings_path,
    adsl_path,
    seed_study_path,
    strobe_path,
    schema_path,
    template_path,
    svgs: dict,
    captions: dict,
    inputs_path,
    config: dict,
    repo_dir: str | Path = WORKFLOW_ROOT,
) -> str:
    """The report's HTML. ``seed_study_path`` is the study's published figures, or None
    (no comparison section); ``inputs_path`` validate's record of the raw inputs."""
    with open(results_path) as fh:
        results = json.load(fh)
    ids = patient_ids(adsl_path)
    context = build_context(
        results=results,
        findings=read_findings(findings_path),
        seed_study=load_yaml(seed_study_path) if seed_study_path else None,
        strobe=load_yaml(strobe_path),
        config=config,
        schema=load_yaml(schema_path),
        figures=figure_entries(svgs, captions),
        patient_ids=ids,
        inputs=input_provenance(json.loads(Path(inputs_path).read_text(encoding="utf-8"))),
        software=software_versions(),
        git=git_state(repo_dir),
        figure_software=figure_software(captions),
    )
    html = render_html(context, template_path)
    check_no_identifiers(html, ids)
    return html
