"""The statistics tables as editable Word (.docx) and Excel (.xlsx) files.

Each table the stats rule writes (results/tables/<name>.csv) is written again beside it as
<name>.docx and <name>.xlsx, laid out as in the HTML report (the layout functions of
``report``: Table 1 with the by-group columns (of the configured prior-exposure grouping), toxicity pivoted term x grade,
the other tables as result / value / 95% CI / p / method / note; Table 1's centre columns,
under a band of headers overall | by group | by centre, when results.json has them), with the table's
footnotes under it and, for the synthetic demo cohort, the synthetic-data notice above it.

The records come from results/stats/results.json (the exact formatted strings); the CSV
gives which keys belong to the table, their order and the footnotes.

Determinism: python-docx and openpyxl stamp the document's core properties (created,
modified) with the clock and the zip members with the time of writing. Both are fixed
here: the properties to the study's reference date (config ``study.reference_date``),
every zip member to the same date, in a fixed order and compression, so two runs write
the same bytes (``normalise_zip``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from .formatting import restore_cell
from .report import (
    _is_substat,
    grouped_bands,
    grouped_table,
    has_groups,
    result_row,
    toxicity_table,
)
from .stats.registry import BY_NAME
from .study import Wording

COMPARE = ("p", "test", "smd", "missing")  # Table 1's group-comparison columns (report._comparison)
COMPARE_HEADERS = {"p": "p", "test": "Test", "smd": "SMD", "missing": "Missing"}
SYNTHETIC_NOTICE = (
    "SYNTHETIC DATA: produced from the synthetic demonstration cohort, not from real patients. "
    "No number in it describes a real person or a clinical finding."
)


class OfficeInputError(ValueError):
    """A table CSV or results.json does not match (a key of the table not in results.json)."""


# --------------------------------------------------------------------------- layout
def read_table_csv(path) -> tuple[list[str], list[str]]:
    """The result keys (in CSV order) and the footnotes of one table CSV."""
    keys, notes = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["section"] == "footnote":
                notes.append(restore_cell(row["label"]))
            else:
                keys.append(restore_cell(row["key"]))
    return keys, notes


def table_layout(name: str, keys: list[str], recs: dict, wording: Wording) -> dict:
    """Header and rows (lists of text cells) of one table, as the HTML report shows it
    (Table 1's group headers from ``wording``; no group or comparison columns without
    by-group records)."""
    missing = [k for k in keys if k not in recs]
    if missing:
        raise OfficeInputError(
            f"table {name}: {len(missing)} key(s) not in results.json, e.g. {missing[0]} "
            "(results/tables and results/stats/results.json come from different runs?)"
        )
    sub = {k: recs[k] for k in keys}
    main = [k for k in keys if not _is_substat(k, sub)]
    if name == "table1":
        t = grouped_table(sub, main)
        compare = COMPARE if t["compare"] else ()
        header = [
            "Characteristic",
            "All patients",
            "95% CI",
            *(wording.group_headers() if t["compare"] else ()),
            *(COMPARE_HEADERS[c] for c in compare),
            *t["centres"],
            "Note",
        ]
        rows = [
            [r["label"], r["value"], r["ci"], *r["groups"], *(r["compare"][c] for c in compare), *r["centres"], r["note"]]
            for r in t["rows"]
        ]
        layout = {"header": header, "rows": rows, "extra": None}
        bands = grouped_bands(t, wording)
        if bands:  # centre columns: overall | by group | by centre above the headers
            layout["bands"] = [(b["text"], b["span"]) for b in bands]
        return layout
    if name == "toxicity":
        t = toxicity_table(sub, main)
        header = ["Adverse event (CTCAE v5 term)", "Any grade, n (%)", "Grade >= 3, n (%)"]
        rows = [[r["label"], r["any"], r["gr3"]] for r in t["rows"]]
        extra = {
            "header": ["Summary", "n (%)", "95% CI"],
            "rows": [[r["label"], r["value"], r["ci"]] for r in t["totals"]],
        }
        return {"header": header, "rows": rows, "extra": extra if t["totals"] else None}
    rows = [result_row(k, sub[k]) for k in main]
    header = ["Result", "Value", "95% CI", "p", "Method", "Note"]
    return {
        "header": header,
        "rows": [[r["label"], r["value"], r["ci"], r["p"], r["method"], r["note"]] for r in rows],
        "extra": None,
    }


# --------------------------------------------------------------------------- determinism
def fixed_datetime(reference_date: str) -> dt.datetime:
    """The reference date at midnight UTC (naive, as both libraries expect)."""
    return dt.datetime.combine(dt.date.fromisoformat(str(reference_date)), dt.time())


_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def normalise_zip(path, when: dt.datetime) -> None:
    """Rewrite an Office file (a zip) with every member dated `when`, in the order
    written, deflated, and the core properties' created/modified set to `when`."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for name, data in members:
            if name == "docProps/core.xml":
                data = _CORE_TIMES.sub(lambda m: m.group(1) + stamp + m.group(3), data)
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            info.create_system = 0
            zout.writestr(info, data, compresslevel=6)
    Path(path).write_bytes(buf.getvalue())


# --------------------------------------------------------------------------- Word
def write_docx(path, title: str, layout: dict, footnotes: list[str], synthetic: bool, when: dt.datetime):
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    doc = Document()
    section = doc.sections[0]
    if len(layout["header"]) > 5:  # wide tables (Table 1, results with method) in landscape
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    doc.add_heading(title, level=2)
    if synthetic:
        p = doc.add_paragraph()
        p.add_run(SYNTHETIC_NOTICE).bold = True
    for part in (layout, layout["extra"]):
        if not part:
            continue
        bands = part.get("bands")
        table = doc.add_table(rows=2 if bands else 1, cols=len(part["header"]))
        table.style = "Table Grid"
        if bands:  # a merged cell per band
            col = 0
            for text, span in bands:
                cell = table.cell(0, col).merge(table.cell(0, col + span - 1)) if span > 1 else table.cell(0, col)
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
                col += span
        for cell, text in zip(table.rows[-1].cells, part["header"]):
            cell.text = ""
            cell.paragraphs[0].add_run(text).bold = True
        for row in part["rows"]:
            cells = table.add_row().cells
            for cell, text in zip(cells, row):
                cell.text = str(text)
        doc.add_paragraph()
    for i, note in enumerate(footnotes, 1):
        run = doc.add_paragraph().add_run(f"{i}. {note}")
        run.font.size = Pt(8)
    props = doc.core_properties
    props.title = title
    props.author = "alsalvage workflow"
    props.last_modified_by = "alsalvage workflow"
    props.created = props.modified = props.last_printed = when
    props.revision = 1
    doc.save(str(path))
    normalise_zip(path, when)


# --------------------------------------------------------------------------- Excel
def _text_cell(ws, row: int, col: int, text: str, bold: bool = False):
    from openpyxl.styles import Font

    cell = ws.cell(row=row, column=col, value=str(text))
    cell.data_type = "s"  # always text: a cell beginning with '=' is never a formula
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_xlsx(path, title: str, layout: dict, footnotes: list[str], synthetic: bool, when: dt.datetime):
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "table"
    r = 1
    _text_cell(ws, r, 1, title, bold=True)
    r += 1
    if synthetic:
        _text_cell(ws, r, 1, SYNTHETIC_NOTICE, bold=True)
        r += 1
    widths: dict[int, int] = {}
    first_header = None
    for part in (layout, layout["extra"]):
        if not part:
            continue
        r += 1
        if part.get("bands"):  # a merged cell per band
            col = 1
            for text, span in part["bands"]:
                _text_cell(ws, r, col, text, bold=True)
                if span > 1:
                    ws.merge_cells(start_row=r, start_column=col, end_row=r, end_column=col + span - 1)
                col += span
            r += 1
        first_header = first_header or r
        for c, text in enumerate(part["header"], 1):
            _text_cell(ws, r, c, text, bold=True)
            widths[c] = max(widths.get(c, 0), len(text))
        for row in part["rows"]:
            r += 1
            for c, text in enumerate(row, 1):
                if text != "":
                    _text_cell(ws, r, c, text)
                widths[c] = max(widths.get(c, 0), len(str(text)))
        r += 1
    for i, note in enumerate(footnotes, 1):
        r += 1
        _text_cell(ws, r, 1, f"{i}. {note}")
    for c, w in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = min(max(w, 8) + 2, 60)
    if first_header:
        ws.freeze_panes = ws.cell(row=first_header + 1, column=2)
    wb.properties.title = title
    wb.properties.creator = "alsalvage workflow"
    wb.properties.lastModifiedBy = "alsalvage workflow"
    wb.properties.created = wb.properties.modified = when
    wb.save(str(path))
    normalise_zip(path, when)


# --------------------------------------------------------------------------- rule entry
def write_office_tables(
    results: dict,
    csvs: dict,
    docx: dict,
    xlsx: dict,
    reference_date: str,
    *,
    regimen: str,
    prior_exposure: dict | None,
) -> dict:
    """Entry of rule `tables_office`: for every table name, <name>.docx and <name>.xlsx from
    its CSV (keys, footnotes) and results.json (records), titled by the registry in the
    study's words (``regimen``: config study.regimen; ``prior_exposure``: the config section,
    which words the group headers and titles; alsalvage.study). Returns {name: number of rows}."""
    wording = Wording.from_params({"regimen": regimen}, prior_exposure)
    if not (set(csvs) == set(docx) == set(xlsx)):
        raise ValueError(f"tables_office: csv {sorted(csvs)}, docx {sorted(docx)}, xlsx {sorted(xlsx)} differ")
    recs = results.get("results")
    if not isinstance(recs, dict):
        raise OfficeInputError("results.json: no 'results' mapping (see docs/results.md)")
    synthetic = bool(results.get("meta", {}).get("synthetic"))
    when = fixed_datetime(reference_date)
    counts = {}
    for name in sorted(csvs):
        keys, notes = read_table_csv(csvs[name])
        layout = table_layout(name, keys, recs, wording)
        title = wording.title(wording.fill(BY_NAME[name].title), has_groups(recs)) if name in BY_NAME else name
        write_docx(docx[name], title, layout, notes, synthetic, when)
        write_xlsx(xlsx[name], title, layout, notes, synthetic, when)
        counts[name] = len(layout["rows"])
    return counts
