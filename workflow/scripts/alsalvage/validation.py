"""Validation of the six raw CSV exports against the raw-data contract.

Every check is vectorised (pandas / pyarrow compute, no loop over rows) and returns
its problems as a *findings* frame with the columns of ``FINDING_COLUMNS``:

* ``severity`` -- ``error`` (the run stops) or ``warning`` (reported, not fatal; also
  what was accepted in a form other than the contract's, e.g. a byte-order mark);
* ``file``     -- the configured path of the raw file;
* ``row``      -- physical line number in the file (header = line 1) on which the record
  starts (a quoted field spanning lines moves the records after it down); empty for
  file-level findings;
* ``column``   -- the column concerned (empty when none);
* ``value``    -- the offending cell text (or key values);
* ``rule``     -- a short stable code (see ``RULES``);
* ``message``  -- a sentence for people.

All checks that can run do run, so that one pass reports every problem; a check is
skipped only when a column it needs is missing from the file (or the file unreadable).
``validate_tables`` is the entry point used by the rule ``validate``; the rest is
exposed for the unit tests.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import contract as C
from .exposure import contains_agents
from .csvout import formula_start, neutralise_frame
from .derive_common import baseline_rows
from .formatting import FORMULA_STARTS

FINDING_COLUMNS = ["severity", "file", "row", "column", "value", "rule", "message"]
ERROR, WARNING = "error", "warning"

RULES = {
    "missing-file": "the file does not exist, is a directory or cannot be read",
    "empty-file": "the file has 0 bytes or only a header",
    "encoding": "the file is not UTF-8 (a byte-order mark is accepted with a warning)",
    "line-ends": "Windows line ends (CR LF): accepted (warning)",
    "blank-lines": "blank lines at the end of the file: ignored (warning)",
    "control-character": "a cell or header name holding a control character (NUL, TAB, line break, ...)",
    "csv-format": "the file cannot be parsed as CSV (e.g. an unclosed quote)",
    "row-length": "a line has more or fewer fields than the header",
    "duplicate-column": "a column name appears twice in the header",
    "required-column": "a required column is missing",
    "unknown-column": "a column not in the contract (warning, ignored)",
    "whitespace": "a cell or header name with leading/trailing whitespace",
    "missing-value": "an empty cell in a column that must be filled",
    "identifier-format": "an identifier beginning with = + - @ (a spreadsheet would run it as a formula)",
    "date-format": "not a real calendar date written YYYY-MM-DD",
    "integer-format": "not a whole number",
    "number-format": "not a decimal number",
    "flag-format": "not 0/1 (true/false, yes/no)",
    "vocabulary": "a value outside the column's closed vocabulary",
    "range": "a number, date or age outside its plausible range",
    "unknown-analyte": "an analyte code not in the analyte table",
    "unit": "a unit not accepted for the analyte",
    "agents-format": "agents not lower-case ';'-separated names",
    "unknown-agent": "a drug name neither in the agent list nor a known brand name or regimen abbreviation",
    "unique-key": "two rows with the same key",
    "duplicate-row": "a row identical to an earlier row",
    "foreign-key": "a patient_id not in patients",
    "cardinality": "a patient without exactly one outcomes row or without salvage cycles",
    "sequence": "line or cycle numbers not 1..n without gaps",
    "date-order": "dates in an impossible order",
    "consistency": "fields that contradict each other",
    "early-date": "a date implausibly early: before validation.earliest_year, or long before diagnosis",
    "baseline-missing": "no baseline measurement before cycle 1 (warning)",
    "involvement-flag": "clinician organ flag disagrees with the biomarker definition (warning)",
    "criterion-impossible": "no row at all of an analyte a response criterion needs (warning)",
    "evaluability": "an involved organ without the baseline value its response needs (warning)",
    "upcr-unused": "urine protein-creatinine ratios present but not used by the renal criteria (warning)",
}

NUMBER_RE = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
INT_RE = r"[+-]?[0-9]+"
DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
AGENTS_RE = r"[a-z][a-z0-9\-]*(?:;[a-z][a-z0-9\-]*)*"
FLAG_VALUES = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True}
BASELINE_ANALYTES = ("flc_kappa", "flc_lambda", "ntprobnp", "creatinine")
STRING = pd.StringDtype("pyarrow")


class ValidationFailed(Exception):
    """Raised when at least one error was found; carries the findings frame."""

    def __init__(self, message: str, findings: pd.DataFrame):
        super().__init__(message)
        self.findings = findings


# --------------------------------------------------------------------------- findings


def findings(
    file: str,
    rule: str,
    message,
    rows=None,
    column: str = "",
    value="",
    severity: str = ERROR,
) -> pd.DataFrame:
    """A findings frame; ``rows``/``value``/``message`` may be scalars or aligned arrays."""
    if rows is None:
        n = 1 if np.isscalar(message) else len(message)
        rows = pd.array([pd.NA] * n, dtype="Int64")
    rows = pd.array(np.asarray(rows, dtype="int64") if len(rows) and not isinstance(rows, pd.arrays.IntegerArray) else rows, dtype="Int64")
    n = len(rows)

    def col(x):
        if isinstance(x, (pd.Series, pd.Index, np.ndarray, list, pd.api.extensions.ExtensionArray)):
            ser = pd.Series(x).astype(object)
            return np.asarray(ser.where(ser.notna(), "").astype(str), dtype=object)
        return np.full(n, "" if x is None else str(x), dtype=object)

    return pd.DataFrame(
        {
            "severity": np.full(n, severity, dtype=object),
            "file": np.full(n, file, dtype=object),
            "row": rows,
            "column": np.full(n, column, dtype=object),
            "value": col(value),
            "rule": np.full(n, rule, dtype=object),
            "message": col(message),
        }
    )


def empty_findings() -> pd.DataFrame:
    return findings("", "", [], rows=[])


def concat(frames) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return empty_findings()
    return pd.concat(frames, ignore_index=True)


def _s(x) -> pd.Series:
    """Text of a Series for messages (dates as YYYY-MM-DD, missing as empty)."""
    if pd.api.types.is_datetime64_any_dtype(x):
        return x.dt.strftime("%Y-%m-%d").astype(object).fillna("")
    x = x.astype(object)
    return x.where(x.notna(), "").astype(str)


# --------------------------------------------------------------------------- reading


@dataclass
class RawTable:
    """One raw table: stripped text cells, their line numbers and the typed values."""

    name: str
    file: str  # configured path, used in findings
    text: pd.DataFrame  # contract columns present, as strings (whitespace stripped)
    typed: pd.DataFrame = field(default_factory=pd.DataFrame)  # + "_line"
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    sha256: str = ""  # of the file's bytes, as read
    records: int = 0  # data records of the file as read (header excluded; blank lines count)
    # per text column: (int codes, distinct cells as Arrow strings), computed once; a
    # column's entry is dropped when its text changes (whitespace stripping)
    _codes: dict = field(default_factory=dict, repr=False)

    def has(self, *cols: str) -> bool:
        return all(c in self.text.columns for c in cols)

    def codes(self, col: str) -> tuple[np.ndarray, pa.Array]:
        """Codes of the text cells of ``col`` into its distinct values (one hash pass, cached)."""
        if col not in self._codes:
            self._codes[col] = encode(self.text[col])
        return self._codes[col]

    def empty(self, col: str) -> np.ndarray:
        """Mask of the empty cells of ``col`` (decided once per distinct value; a missing
        value, if the reader left one, counts as empty)."""
        codes, uniq = self.codes(col)
        empty = pc.fill_null(pc.equal(pc.utf8_length(uniq), 0), True)
        return _per_cell(codes, empty.to_numpy(zero_copy_only=False))

    def set_text(self, col: str, values: pd.Series) -> None:
        self.text[col] = values
        self._codes.pop(col, None)

    def compact(self) -> None:
        """Keep the text cells as codes into their distinct values (pandas Categorical).

        Called once the cells are checked and typed: later checks read the text only to
        quote offending cells, and a registry's labs text is gigabytes as plain strings."""
        cols = {}
        for col in self.text.columns:
            codes, uniq = self.codes(col)
            cats = pd.Index(pd.arrays.ArrowStringArray(uniq))
            cols[col] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(cats))
        self.text = pd.DataFrame(cols, index=self.text.index)
        release_memory()


def release_memory() -> None:
    """Hand the memory of freed Arrow buffers back to the system: Arrow's allocator keeps
    it for Arrow, while NumPy and pandas allocate elsewhere (peak memory at scale)."""
    pa.default_memory_pool().release_unused()


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings of a text Series (no copy for the pyarrow string dtype)."""
    if s.dtype == STRING:
        return pa.chunked_array(s.array.__arrow_array__())
    return pa.chunked_array([pa.array(s.astype(object).fillna(""), pa.string())])


def encode(s: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values) of a text Series: ``values.take(codes)`` gives the cells back.

    One Arrow hash pass; the chunks of a dictionary-encoded chunked array share one
    growing dictionary, so the last chunk's dictionary holds every distinct value."""
    enc = pc.dictionary_encode(_arrow(s))
    if enc.num_chunks == 0:
        return np.zeros(0, dtype="int32"), pa.array([], pa.large_string())
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks]) if enc.num_chunks > 1 \
        else enc.chunk(0).indices.to_numpy(zero_copy_only=False)
    return codes, enc.chunk(enc.num_chunks - 1).dictionary


def _isin(values, value_set) -> np.ndarray:
    """Membership of Arrow strings in a set of strings, in Arrow (no Python string objects)."""
    value_set = value_set if isinstance(value_set, (pa.Array, pa.ChunkedArray)) else pa.array(
        list(value_set), pa.large_string())
    return pc.is_in(values, value_set=value_set).to_numpy(zero_copy_only=False).astype(bool)


def _per_cell(codes: np.ndarray, per_value: np.ndarray) -> np.ndarray:
    """Spread a result computed once per distinct value back to the cells."""
    return np.asarray(per_value)[codes]


# Characters no cell may hold: C0 controls (NUL, TAB, line breaks, ...), DEL and the C1
# controls. ``_has_control_bytes`` finds files that may hold them without decoding.
CONTROL_RE = "[\\x00-\\x1f\\x7f-\\x9f]"
_NOT_C0 = bytes(b for b in range(256) if b >= 0x20 and b != 0x7F)
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


def _has_control_bytes(block: bytes) -> bool:
    """A control byte other than a line end, a CR not followed by LF, or a C1 control
    (UTF-8 C2 80-9F). Translate and count run at memory speed; a regex over every byte
    would cost seconds per gigabyte."""
    c0 = block.translate(None, _NOT_C0)
    if c0.translate(None, b"\r\n") or block.count(b"\r") != block.count(b"\r\n"):
        return True
    return b"\xc2" in block and _C1_UTF8.search(block) is not None
CONTROL_NAMES = {"\x00": "NUL", "\t": "TAB", "\n": "line break (LF)", "\r": "carriage return (CR)"}


@dataclass
class ByteScan:
    """What one streaming pass over a file's bytes found (see ``scan_bytes``)."""

    findings: pd.DataFrame
    decodable: bool = True  # valid UTF-8
    bom: bool = False
    crlf: bool = False  # the header line ends with CR LF
    quotes: bool = False  # a '"' anywhere: quoted fields may hold line breaks
    controls: bool = False  # a byte of a control character other than a line end
    trailing_blank: int = 0  # blank lines after the last record
    sha256: str = ""  # of the bytes read (the whole file when decodable)


def scan_bytes(path: Path, file: str, chunk: int = 1 << 24) -> ByteScan:
    """UTF-8 check and the facts the reader needs, in streaming chunks (constant memory).

    A byte-order mark (Excel's "CSV UTF-8") and CRLF line ends are accepted and reported
    as warnings; bytes that are not UTF-8 are an error at the line of the first one."""
    scan = ByteScan(empty_findings())
    out = []
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    tail = 0  # line feeds in the run of CR/LF bytes that ends the data read so far
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        first = True
        while True:
            block = fh.read(chunk)
            if first:
                scan.bom = block.startswith(codecs.BOM_UTF8)
                head = block.split(b"\n", 1)
                scan.crlf = len(head) == 2 and head[0].endswith(b"\r")
            first = False
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as err:
                line = newlines + block[: err.start].count(b"\n") + 1
                out.append(
                    findings(
                        file,
                        "encoding",
                        f"{file} is not valid UTF-8: byte 0x{block[err.start]:02x} on line {line} "
                        "cannot be decoded; export the file as UTF-8",
                        rows=[line],
                    )
                )
                scan.decodable = False
                break
            if not block:
                break
            digest.update(block)
            newlines += block.count(b"\n")
            scan.quotes = scan.quotes or b'"' in block
            scan.controls = scan.controls or _has_control_bytes(block)
            stripped = block.rstrip(b"\r\n")
            tail = (tail if not stripped else 0) + block[len(stripped):].count(b"\n")
    # the first line feed of the final run ends the last record; the others end blank lines
    scan.trailing_blank = max(tail - 1, 0)
    scan.sha256 = digest.hexdigest()
    if scan.bom:
        out.append(findings(file, "encoding", f"{file} starts with a UTF-8 byte-order mark (BOM), as Excel's "
                            "'CSV UTF-8' writes it: accepted, the mark is ignored", rows=[1], severity=WARNING))
    if scan.crlf:
        out.append(findings(file, "line-ends", f"{file} has Windows line ends (CR LF): accepted",
                            severity=WARNING))
    scan.findings = concat(out)
    return scan


def check_encoding(path: Path, file: str, chunk: int = 1 << 24) -> pd.DataFrame:
    """UTF-8 check of a file, in streaming chunks: the findings of ``scan_bytes``."""
    return scan_bytes(path, file, chunk).findings


def _read_csv(path: Path, names: list[str], on_invalid, newlines_in_values: bool = False) -> pa.Table:
    """Every cell as a string (no NA codes); lines with a wrong field count go to on_invalid.

    ``newlines_in_values`` lets a quoted field span lines also across the reader's blocks
    (slower, so only for files that contain a quote)."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, skip_rows=1, column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False,
                                         newlines_in_values=newlines_in_values),
        convert_options=pacsv.ConvertOptions(
            column_types={t: pa.large_string() for t in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _escape(text: str) -> str:
    """A cell with its control characters written visibly (\\t, \\n, \\x00, ...)."""
    return "".join(repr(ch)[1:-1] if ch in "\t\n\r" else f"\\x{ord(ch):02x}"
                   if (ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f) else ch for ch in text)


def _control_name(text: str) -> str:
    ch = re.search(CONTROL_RE, text).group(0)
    return CONTROL_NAMES.get(ch, f"control character U+{ord(ch):04X}")


def record_lines(n: int, skipped: list, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Physical lines (header = 1) on which records start: (the ``n`` kept records, the
    skipped ones in the order given).

    ``skipped`` holds (record number with the header as 1, line breaks inside the record)
    of the records the reader left out; ``extra`` the line breaks inside each kept record
    (quoted fields spanning lines). A record occupies 1 + its line breaks lines."""
    rec_s = np.array([s[0] for s in skipped], dtype="int64").reshape(-1)
    nl_s = np.array([s[1] for s in skipped], dtype="int64").reshape(-1)
    idx = np.arange(n, dtype="int64")
    srt = np.sort(rec_s)
    rec_k = idx + 2 + np.searchsorted(srt - 2 - np.arange(len(srt)), idx, side="right")
    if extra is None and not nl_s.any():
        return rec_k, rec_s
    height = np.ones(n + len(rec_s), dtype="int64")  # lines per record, by record number - 2
    if extra is not None:
        height[rec_k - 2] += extra
    np.add.at(height, rec_s - 2, nl_s)
    start = 2 + np.concatenate([[0], np.cumsum(height)[:-1]])
    return start[rec_k - 2], start[rec_s - 2]


def check_control_characters(file: str, columns: dict, lines: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Cells holding a control character (NUL, TAB, a line break inside quotes, other C0
    or C1 controls, DEL): one error per cell. Returns the findings and the columns with
    those characters removed, so that the rest of each cell is still checked once."""
    out, cleaned = [], {}
    for name, arr in columns.items():
        bad = pc.match_substring_regex(arr, CONTROL_RE).to_numpy(zero_copy_only=False).astype(bool)
        if not bad.any():
            continue
        cells = pc.filter(arr, pa.array(bad)).to_pylist()
        out.append(findings(file, "control-character",
                            [f"cell contains a {_control_name(c)}: '{_escape(c)}'; no cell may hold control "
                             "characters" for c in cells],
                            rows=lines[bad], column=name, value=[_escape(c) for c in cells]))
        cleaned[name] = pc.replace_substring_regex(arr, CONTROL_RE, "")
    return concat(out), cleaned


def read_table(path, table: C.Table, file: str | None = None):
    """Read one raw CSV as text. Returns (RawTable or None when unreadable, findings).

    Row numbers are physical lines of the file (header = line 1): a record whose quoted
    field spans lines starts on the line given and the next record after all of them."""
    path = Path(path)
    file = file or str(path)
    if not path.exists():
        return None, findings(file, "missing-file", f"{file} does not exist")
    if not path.is_file():
        return None, findings(file, "missing-file", f"{file} is not a file (a directory?); give the path of the "
                              "CSV export")
    try:
        if path.stat().st_size == 0:
            return None, findings(file, "empty-file", f"{file} is empty (0 bytes)")
        scan = scan_bytes(path, file)
    except OSError as err:
        return None, findings(file, "missing-file", f"{file} cannot be read: {err.strerror or err}")
    if not scan.decodable:
        return None, scan.findings
    out = [scan.findings]
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader([fh.readline()]), [])
    if not any(h.strip() for h in header):
        out.append(findings(file, "empty-file", f"{file} has no header line (the first line is empty)", rows=[1]))
        return None, concat(out)
    names = [h.strip() for h in header]
    for raw, name in zip(header, names):
        if re.search(CONTROL_RE, raw.rstrip("\r\n")):
            out.append(findings(file, "control-character", f"header name '{_escape(raw)}' contains a "
                                f"{_control_name(raw)}", rows=[1], column=name, value=_escape(raw)))
        elif raw != name:
            out.append(
                findings(file, "whitespace", f"header name {raw!r} has leading/trailing whitespace",
                         rows=[1], column=name, value=raw)
            )
    seen = set()
    for name in names:
        if name in seen:
            out.append(findings(file, "duplicate-column", f"column {name!r} appears more than once in the header; "
                                "the first is read", rows=[1], column=name, value=name))
        seen.add(name)
    known = [c.name for c in table.columns]
    for name in names:
        if name not in known:
            out.append(
                findings(file, "unknown-column",
                         f"column {name!r} is not part of the {table.name} contract and is ignored",
                         rows=[1], column=name, value=name, severity=WARNING)
            )
    missing = [c for c in table.required_columns if c not in names]
    for name in missing:
        out.append(findings(file, "required-column", f"required column {name!r} is missing from {file}",
                            rows=[1], column=name))

    skipped = []

    def on_invalid(row):
        skipped.append((row.number, row.actual_columns, row.text))
        return "skip"

    tmp = [f"c{i}" for i in range(len(header))]
    try:
        tbl = _read_csv(path, tmp, on_invalid, newlines_in_values=scan.quotes)
    except pa.ArrowInvalid as err:
        out.append(findings(file, "csv-format", f"{file} cannot be parsed as CSV: {err}"))
        return None, concat(out)
    n = tbl.num_rows
    records = n + len(skipped)  # every record read, as csv.reader counts them
    # blank lines at the end of the file (an editor's or Excel's habit) are not records
    blank = 0
    if scan.trailing_blank:
        last = tbl.slice(max(n - scan.trailing_blank, 0))
        empty = [pc.all(pc.equal(pc.utf8_length(c), 0)).as_py() for c in last.columns]
        blank = min(scan.trailing_blank, n) if all(e is not False for e in empty) else 0
    # line breaks inside quoted fields make a record span lines: count them (only files
    # with a quote can have them)
    extra = None
    if scan.quotes and n:
        extra = np.zeros(n, dtype="int64")
        for c in tbl.columns:
            extra += pc.count_substring(c, "\n").to_numpy(zero_copy_only=False).astype("int64")
        if not extra.any():
            extra = None
    lines, skip_lines = record_lines(n, [(s[0], s[2].count("\n")) for s in skipped], extra)
    if skipped:
        out.append(
            findings(
                file, "row-length",
                [f"line has {s[1]} fields, the header has {len(header)}" for s in skipped],
                rows=skip_lines, value=[_escape(s[2][:80]) for s in skipped],
            )
        )
    if blank:
        n -= blank
        tbl = tbl.slice(0, n)
        first_blank = int(lines[n]) if n < len(lines) else None
        lines = lines[:n]
        where = (f" (lines {first_blank}-{first_blank + blank - 1})" if blank > 1 else f" (line {first_blank})") \
            if first_blank else ""
        out.append(findings(file, "blank-lines", f"{blank} blank line(s) at the end of {file}{where} ignored",
                            severity=WARNING))
    if n == 0:
        out.append(findings(file, "empty-file", f"{file} has a header but no data rows"))
        return None, concat(out)
    arrays = {}
    for i, name in enumerate(names):
        if name not in arrays:  # a duplicated column: the first is read
            arrays[name] = tbl.column(i)
    if scan.controls or scan.quotes:
        ctrl, cleaned = check_control_characters(file, arrays, lines)
        out.append(ctrl)
        arrays.update(cleaned)
    cols = {name: pd.Series(pd.arrays.ArrowStringArray(arr), copy=False)
            for name, arr in arrays.items() if name in known}
    del tbl, arrays
    text = pd.DataFrame(cols, copy=False)
    text.index = pd.RangeIndex(n)
    return RawTable(table.name, file, text, lines=lines, sha256=scan.sha256, records=records), concat(out)


# --------------------------------------------------------------------------- cell checks


def check_whitespace(raw: RawTable) -> pd.DataFrame:
    """Stray leading/trailing whitespace in any cell (error); the cells are then stripped."""
    out = []
    for col in raw.text.columns:
        s = raw.text[col]
        codes, uniq = raw.codes(col)
        bad = _per_cell(codes, pc.not_equal(pc.utf8_trim_whitespace(uniq), uniq).to_numpy(zero_copy_only=False))
        if bad.any():
            out.append(
                findings(raw.file, "whitespace",
                         "cell has leading or trailing whitespace: '" + s[bad].astype(object) + "'",
                         rows=raw.lines[bad], column=col, value=s[bad])
            )
            raw.set_text(col, s.str.strip())
    return concat(out)


# Tab and carriage return are control characters, rejected before this check.
FORMULA_PREFIXES = tuple(c for c in FORMULA_STARTS if c.isprintable())


def check_identifiers(raw: RawTable, table: C.Table) -> pd.DataFrame:
    """Identifier cells beginning with = + - or @ (error): a spreadsheet opening a CSV
    that holds one would run it as a formula. Free text is not rejected for this; every
    CSV the workflow writes neutralises such cells instead (csvout.neutralise_text)."""
    out = []
    for col in table.columns:
        if col.kind != C.ID or col.name not in raw.text.columns:
            continue
        codes, uniq = raw.codes(col.name)
        bad = _per_cell(codes, formula_start(uniq, FORMULA_PREFIXES).to_numpy(zero_copy_only=False))
        if bad.any():
            s = raw.text[col.name][bad].astype(object)
            out.append(findings(raw.file, "identifier-format",
                                col.name + " '" + s + "' begins with '" + s.str[0] + "', which a spreadsheet "
                                "runs as a formula; identifiers must not begin with = + - @",
                                rows=raw.lines[bad], column=col.name, value=s))
    return concat(out)


def _fullmatch(s: pd.Series, pattern: str) -> np.ndarray:
    arr = pa.array(s.to_numpy(dtype=object, na_value="")) if s.dtype != STRING else pa.array(s.array)
    return pc.match_substring_regex(arr, f"^(?:{pattern})$").to_numpy(zero_copy_only=False).astype(bool)


def _to_float(s: pd.Series, ok: np.ndarray) -> np.ndarray:
    """float64 of the cells where ``ok`` (NaN elsewhere), cast by pyarrow without Python objects."""
    arr = pa.array(s.array) if s.dtype == STRING else pa.array(s.astype(object).fillna(""), pa.string())
    arr = pc.if_else(pa.array(ok), arr, pa.scalar(None, arr.type))
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)


def parse_dates(s: pd.Series, encoded: tuple | None = None) -> tuple[pd.Series, np.ndarray]:
    """Parse YYYY-MM-DD strings; returns (datetime64[ns] with NaT, mask of bad non-empty cells).

    Each distinct string is parsed once (``encoded``: its ``encode`` result, if known).
    A real date outside ``DATE_RANGE`` is NaT but not bad here (``parse_table`` reports it)."""
    codes, uniq = encoded if encoded is not None else encode(s)
    values, bad, _ = _parse_distinct_dates(uniq)
    return pd.Series(values[codes], index=s.index), bad[codes]


# Dates a record can plausibly hold: also what datetime64[ns] can store (1677-2262).
DATE_RANGE = ("1900-01-01", "2099-12-31")


def _parse_distinct_dates(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, not a real date, a real date outside DATE_RANGE) of distinct strings."""
    arr = arr.cast(pa.string())
    shaped = pc.match_substring_regex(arr, f"^{DATE_RE}$")
    parsed = pc.strptime(pc.if_else(shaped, arr, pa.scalar(None, pa.string())), format="%Y-%m-%d", unit="s",
                         error_is_null=True)
    # strptime rolls 2021-02-30 over to 2021-03-02: a real date must print back as written
    real = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), arr)
    real = pc.fill_null(real, False)
    # YYYY-MM-DD text orders as the dates do: the range is judged on the text, before the
    # cast to nanoseconds (which cannot hold year 1 or 9999)
    far = pc.and_(real, pc.or_(pc.less(arr, DATE_RANGE[0]), pc.greater(arr, DATE_RANGE[1])))
    far = pc.fill_null(far, False)
    parsed = pc.if_else(pc.and_(real, pc.invert(far)), parsed, pa.scalar(None, parsed.type))
    empty = pc.equal(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    values = parsed.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    bad = ~real.to_numpy(zero_copy_only=False).astype(bool) & ~empty
    return values, bad, far.to_numpy(zero_copy_only=False).astype(bool)


# Whole numbers beyond int64 do not fit the typed tables: 18 digits is every int64 and more
# than any count, dose or grade of the contract.
MAX_INT_DIGITS = 18


def parse_table(raw: RawTable, table: C.Table) -> pd.DataFrame:
    """Type every present contract column; report empty required cells and bad formats."""
    out = []
    typed = {}
    for col in table.columns:
        if col.name not in raw.text.columns:
            continue
        s = raw.text[col.name]
        codes, uniq = raw.codes(col.name)
        u = pd.Series(pd.arrays.ArrowStringArray(uniq))  # each distinct cell once
        empty = raw.empty(col.name)
        if not col.nullable and empty.any():
            out.append(findings(raw.file, "missing-value", f"{col.name} must not be empty",
                                rows=raw.lines[empty], column=col.name))
        if col.kind == C.DATE:
            values_u, bad_u, far_u = _parse_distinct_dates(uniq)
            values, bad, far = pd.Series(values_u[codes], index=s.index), bad_u[codes], far_u[codes]
            if bad.any():
                out.append(findings(raw.file, "date-format",
                                    "'" + s[bad].astype(object) + "' is not a real date written YYYY-MM-DD",
                                    rows=raw.lines[bad], column=col.name, value=s[bad]))
            if far.any():
                out.append(findings(raw.file, "range",
                                    "date '" + s[far].astype(object) + f"' is outside {DATE_RANGE[0]} to "
                                    f"{DATE_RANGE[1]}, the dates a record can plausibly hold",
                                    rows=raw.lines[far], column=col.name, value=s[far]))
        elif col.kind in (C.INT, C.FLOAT):
            ok_u = _fullmatch(u, INT_RE if col.kind == C.INT else NUMBER_RE)
            ok = _per_cell(codes, ok_u)
            bad = ~ok & ~empty
            if bad.any():
                what = "a whole number" if col.kind == C.INT else "a number"
                rule = "integer-format" if col.kind == C.INT else "number-format"
                out.append(findings(raw.file, rule, "'" + s[bad].astype(object) + f"' is not {what}",
                                    rows=raw.lines[bad], column=col.name, value=s[bad]))
            # a well-formed number too large to store (beyond int64, or beyond float64: inf)
            if col.kind == C.INT:
                huge_u = ok_u & (u.str.lstrip("+-").str.lstrip("0").str.len() > MAX_INT_DIGITS).to_numpy(
                    dtype=bool, na_value=False)
                limit = f"more than {MAX_INT_DIGITS} digits"
            else:
                huge_u = ok_u & ~np.isfinite(np.where(ok_u, _to_float(u, ok_u), 0.0))
                limit = "beyond the largest storable number"
            if huge_u.any():
                ok_u = ok_u & ~huge_u
                huge = _per_cell(codes, huge_u)
                out.append(findings(raw.file, "range", "'" + s[huge].astype(object) + f"' is too large ({limit})",
                                    rows=raw.lines[huge], column=col.name, value=s[huge]))
            if col.kind == C.INT:
                values_u = pd.to_numeric(u.where(ok_u, None).astype(object), errors="coerce").astype("Int64")
                values = pd.Series(values_u.array.take(codes), index=s.index)
            else:
                values = pd.Series(_to_float(u, ok_u)[codes], index=s.index)
        elif col.kind == C.FLAG:
            low = u.str.lower()
            ok = _per_cell(codes, low.isin(list(FLAG_VALUES)).to_numpy(dtype=bool, na_value=False))
            bad = ~ok & ~empty
            if bad.any():
                out.append(findings(raw.file, "flag-format",
                                    "'" + s[bad].astype(object) + "' is not a flag (0/1, true/false, yes/no)",
                                    rows=raw.lines[bad], column=col.name, value=s[bad]))
            values = pd.Series(low.map(FLAG_VALUES).astype("boolean").array.take(codes), index=s.index)
        else:
            values = s
        typed[col.name] = values
    frame = pd.DataFrame(typed, index=raw.text.index)
    frame["_line"] = raw.lines
    raw.typed = frame
    return concat(out)


def _pandera_findings(raw: RawTable, failure_cases: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """Turn pandera failure cases (index, column, check) into findings."""
    out = []
    fc = failure_cases.dropna(subset=["index"])
    fc = fc[fc["schema_context"] == "Column"]
    for (column, check), grp in fc.groupby(["column", "check"], sort=True):
        idx = grp["index"].astype("int64").to_numpy()
        rule, text = rules[(column, check)]
        values = raw.text[column].iloc[idx].astype(object).to_numpy()
        out.append(findings(raw.file, rule, "'" + pd.Series(values, dtype=object) + "' " + text,
                            rows=raw.lines[idx], column=column, value=values))
    return concat(out)


def check_columns(raw: RawTable, table: C.Table) -> pd.DataFrame:
    """Vocabularies and ranges with pandera (lazy: every failure at once)."""
    import pandera.pandas as pdr

    columns = {}
    for col in table.columns:
        if col.name not in raw.typed.columns:
            continue
        checks = []
        if col.kind == C.CATEGORY and col.vocabulary:
            checks.append(pdr.Check.isin(list(col.vocabulary)))
        if col.kind in (C.INT, C.FLOAT) and (col.minimum is not None or col.maximum is not None):
            lo = -np.inf if col.minimum is None else col.minimum
            hi = np.inf if col.maximum is None else col.maximum
            checks.append(pdr.Check.in_range(lo, hi))
        if checks:
            columns[col.name] = pdr.Column(nullable=True, required=False, checks=checks)
    if not columns:
        return empty_findings()
    # The checks look at one cell at a time, so each column's distinct values are
    # validated once and the failures spread back to every cell holding them.
    pieces = []
    for name, column in columns.items():
        s = raw.typed[name]
        if s.dtype == STRING:
            codes, uniq = raw.codes(name)
            u = pd.Series(pd.arrays.ArrowStringArray(uniq))
            # empty vocabulary cells are reported as missing values, not as vocabulary errors
            u = u.mask(u == "")
        elif name in raw.text.columns:
            # a typed cell is a function of its text: check one cell per distinct text
            codes, uniq = raw.codes(name)
            some_row = np.empty(len(uniq), dtype="int64")
            some_row[codes] = np.arange(len(codes))
            u = s.iloc[some_row].reset_index(drop=True)
        else:
            codes, uniq = pd.factorize(s)  # missing -> -1, never a failure (nullable)
            u = pd.Series(uniq)
        try:
            pdr.DataFrameSchema({name: column}).validate(u.to_frame(name), lazy=True)
            continue
        except pdr.errors.SchemaErrors as err:
            fc = err.failure_cases
        fc = fc.dropna(subset=["index"])
        fc = fc[fc["schema_context"] == "Column"]
        for check, grp in fc.groupby("check", sort=True):
            rows = np.flatnonzero(np.isin(codes, grp["index"].astype("int64").unique()))
            pieces.append(pd.DataFrame({"index": rows, "column": name, "check": check, "schema_context": "Column"}))
    if not pieces:
        return empty_findings()
    fc = pd.concat(pieces, ignore_index=True)
    rules = {}
    for col in table.columns:
        if col.name not in columns:
            continue
        if col.kind == C.CATEGORY:
            if table.name == "labs" and col.name == "analyte":
                rules[(col.name, "isin")] = (
                    "unknown-analyte",
                    "is not a known analyte code (see the analyte table; BNP, for one, is not NT-proBNP)",
                )
            else:
                rules[(col.name, "isin")] = ("vocabulary", f"is not one of {', '.join(col.vocabulary)}")
        else:
            rules[(col.name, "in_range")] = ("range", f"is outside the range {col.minimum:g} to {col.maximum:g}"
                                             if col.maximum is not None else f"is below {col.minimum:g}")
    fc = fc.copy()
    fc["check"] = fc["check"].astype(str).str.split("(").str[0]
    return _pandera_findings(raw, fc, rules)


def combine_codes(parts) -> np.ndarray:
    """One int64 code per row, equal exactly when the rows are equal in every part and
    ordered as the rows are lexicographically (part by part, code -1 first).

    ``parts`` yields (codes >= -1, number of distinct values) per column; the codes are
    combined by mixed radix, and the combination is renumbered 0..k-1 only when the next
    column would overflow int64 (not re-hashed after every column)."""
    codes, size = None, 1
    for c, n in parts:
        radix = int(n) + 1  # code -1 (missing) becomes 0
        c = c.astype("int64")  # a copy, updated in place below
        c += 1
        if codes is None:
            codes, size = c, radix
            continue
        if size * radix >= 2**62:
            codes, size = _dense(codes)
        codes *= radix
        codes += c
        del c
        size *= radix
    return codes


# Equal codes are grouped by a stable sort rather than a hash table: with millions of
# distinct codes hashing is slow, and exports sorted by patient give nearly sorted codes.


def _sorted_starts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stable sort order, mask of the sorted positions where a new code starts)."""
    order = np.argsort(codes, kind="stable")
    s = codes[order]
    start = np.ones(len(s), dtype=bool)
    start[1:] = s[1:] != s[:-1]
    return order, start


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0..k-1 (in value order) and k."""
    order, start = _sorted_starts(codes)
    dense = np.empty(len(codes), dtype="int64")
    dense[order] = np.cumsum(start) - 1
    return dense, int(start.sum())


def duplicates(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose code appeared on an earlier row: (mask, position of that first row for
    each masked row, in row order). The sort is stable, so a group's first row is its earliest."""
    order, start = _sorted_starts(codes)
    later = np.flatnonzero(~start)  # sorted positions of the repeats
    starts = np.flatnonzero(start)
    del start
    group_start = starts[np.searchsorted(starts, later, side="right") - 1]
    del starts
    rows, first = order[later], order[group_start]
    dup = np.zeros(len(codes), dtype=bool)
    dup[rows] = True
    return dup, first[np.argsort(rows)]


def check_unique(raw: RawTable, table: C.Table) -> pd.DataFrame:
    """Exact duplicate rows, then duplicate keys among the remaining rows."""
    out = []
    codes = combine_codes((raw.codes(c)[0], len(raw.codes(c)[1])) for c in raw.text.columns)
    if codes is None:  # no contract column
        codes = np.zeros(len(raw.lines), dtype="int64")
    dup, first = duplicates(codes)
    del codes
    if dup.any():
        out.append(findings(raw.file, "duplicate-row",
                            "row is identical to line " + pd.Series(raw.lines[first]).astype(str),
                            rows=raw.lines[dup]))
    key = list(table.key)
    if key and raw.has(*key):
        complete = ~dup
        for k in key:
            complete &= ~raw.empty(k)
            complete &= raw.typed[k].notna().to_numpy(dtype=bool)
        rows = np.flatnonzero(complete)
        del complete
        parts = []
        for k in key:
            if table.column(k).kind in (C.INT, C.FLOAT, C.FLAG):  # '01' and '1' are the same key
                codes, uniq = pd.factorize(raw.typed[k], use_na_sentinel=False)
            else:  # text, and dates: a date parses only from its one spelling
                codes, uniq = raw.codes(k)
            parts.append((codes[rows], len(uniq)))
        # a key repeated among the complete rows: every occurrence but the first (as
        # pandera's unique=True with report_duplicates="exclude_first")
        idx = rows[duplicates(combine_codes(parts))[0]]
        del parts
        if len(idx):
            vals = raw.text.loc[idx, key[0]].astype(object)
            for k in key[1:]:
                vals = vals + "|" + raw.text.loc[idx, k].astype(object)
            out.append(findings(raw.file, "unique-key",
                                f"another row has the same ({', '.join(key)})",
                                rows=raw.lines[idx], column=",".join(key), value=vals.to_numpy()))
    return concat(out)


# --------------------------------------------------------------------------- table-specific


def unit_table() -> pd.DataFrame:
    """analyte x accepted unit -> factor to the canonical unit, with the canonical range."""
    rows = [
        (a.name, unit, factor, a.canonical_unit, a.qualitative, a.minimum, a.maximum)
        for a in C.ANALYTES.values()
        for unit, factor in a.units.items()
    ]
    return pd.DataFrame(rows, columns=["analyte", "unit", "factor", "canonical", "qualitative", "lo", "hi"])


def unit_alias(unit: str, aliases: dict | None = None) -> str:
    """The accepted spelling a reported unit stands for, else the unit unchanged.

    The reported unit and the accepted units are compared normalised
    (``contract.normalise_unit``: whitespace, micro signs, case); other notations go
    through ``contract.UNIT_ALIASES`` and the configured ``aliases`` (config
    ``validation.unit_aliases``: a list of {spelling, unit}, or a spelling -> unit mapping;
    they win over the built-in ones). Whether the accepted spelling fits the analyte is
    decided by the unit table."""
    if unit is None:
        return unit
    accepted = {C.normalise_unit(u): u for a in C.ANALYTES.values() for u in a.units}
    table = {C.normalise_unit(k): v for k, v in C.UNIT_ALIASES.items()}
    if isinstance(aliases, (list, tuple)):
        aliases = {a["spelling"]: a["unit"] for a in aliases}
    table.update({C.normalise_unit(k): v for k, v in (aliases or {}).items()})
    key = C.normalise_unit(unit)
    if key in table:
        return table[key]
    return accepted.get(key, unit)


def _unit_grid(analyte: tuple, unit: tuple, aliases: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Factor, canonical unit, qualitative flag and range of every (analyte, unit) pair.

    ``analyte`` and ``unit`` are the ``encode`` results of the two lab columns; returns
    the grid of the distinct pairs (unknown pairs: factor NaN) and each row's grid row,
    so that ten million rows need no Python string objects."""
    units = unit_table()
    (a_codes, a_uniq), (u_codes, u_uniq) = analyte, unit
    a_uniq, u_uniq = a_uniq.to_pylist(), u_uniq.to_pylist()
    spelled = [unit_alias(u, aliases) for u in u_uniq]  # each distinct spelling once
    grid = pd.MultiIndex.from_product([pd.Index(np.asarray(a_uniq, dtype=object)),
                                       pd.Index(np.asarray(spelled, dtype=object))], names=["analyte", "unit"])
    grid = grid.to_frame(index=False).merge(units, how="left", on=["analyte", "unit"], sort=False)
    dtype = "int32" if len(a_uniq) * len(u_uniq) < 2**31 else "int64"
    combo = a_codes.astype(dtype) * len(u_uniq) + u_codes.astype(dtype)
    return grid, combo


def censored_parts(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qualifier, number text as Arrow strings, is a censored number) of each lab result text.

    A censored result is a comparison sign ('<', '<=', '>', '>=', '≤', '≥') and a
    number, with optional blanks between ('< 10', '>35000'); the qualifier is written
    in the ASCII spelling of ``contract.QUALIFIERS``. Other cells: qualifier '' and the
    text unchanged."""
    arr = pa.array(values.array) if values.dtype == STRING else pa.array(
        values.to_numpy(dtype=object, na_value=""), pa.large_string())
    m = pc.extract_regex(arr, rf"^(?P<q><=|>=|≤|≥|<|>)\s*(?P<n>{NUMBER_RE})$")
    hit = pc.fill_null(pc.is_valid(m), False)
    sign = pc.if_else(hit, pc.struct_field(m, "q"), pa.scalar(None, arr.type))
    codes = pc.index_in(sign, value_set=pa.array(list(C.QUALIFIER_SPELLINGS), arr.type))
    canon = np.asarray(list(C.QUALIFIER_SPELLINGS.values()) + [""], dtype=object)
    qual = canon[pc.fill_null(codes, len(C.QUALIFIER_SPELLINGS)).to_numpy(zero_copy_only=False)]
    text = pc.if_else(hit, pc.struct_field(m, "n"), arr)
    return qual, text, hit.to_numpy(zero_copy_only=False).astype(bool)


def convert_labs(raw: RawTable, unit_aliases: dict | None = None) -> pd.DataFrame:
    """Units, values and ULNs of the lab rows: converts to the canonical unit in ``raw.typed``.

    Censored results ('<5', '>35000') keep their number (converted like any value) and
    get their sign in the typed column ``qualifier`` ('' for an exact value); units are
    matched through ``unit_alias`` (``unit_aliases``: config validation.unit_aliases).

    Per-row work is integer indexing into results computed once per distinct analyte,
    unit, (analyte, unit) pair or value text."""
    out = []
    if not raw.has("analyte", "value", "unit"):
        return empty_findings()
    t = raw.text
    a_codes, a_uniq = raw.codes("analyte")
    grid, combo = _unit_grid(raw.codes("analyte"), raw.codes("unit"), unit_aliases)
    a_uniq = pd.Series(pd.arrays.ArrowStringArray(a_uniq))
    known = _per_cell(a_codes, a_uniq.isin(list(C.ANALYTES)).to_numpy(dtype=bool, na_value=False))
    factor = grid["factor"].to_numpy(dtype="float64")[combo]
    bad_unit = known & np.isnan(factor)
    if bad_unit.any():
        accepted = {a.name: ", ".join(repr(u) if u else "(empty)" for u in a.units) for a in C.ANALYTES.values()}
        msg = ("unit '" + t["unit"][bad_unit].astype(object) + "' is not accepted for "
               + t["analyte"][bad_unit].astype(object) + " (accepted: "
               + t["analyte"][bad_unit].astype(object).map(accepted) + ")")
        out.append(findings(raw.file, "unit", msg, rows=raw.lines[bad_unit], column="unit",
                            value=t["unit"][bad_unit]))
    del bad_unit
    qual = grid["qualitative"].eq(True).to_numpy(dtype=bool)[combo] | _per_cell(a_codes, (
        a_uniq.isin([a.name for a in C.ANALYTES.values() if a.qualitative]).to_numpy(dtype=bool, na_value=False)
    ))
    value = t["value"]
    v_codes, v_uniq = raw.codes("value")
    v_uniq = pd.Series(pd.arrays.ArrowStringArray(v_uniq))  # each distinct result once
    q_uniq, n_uniq, cens_u = censored_parts(v_uniq)
    empty = raw.empty("value")
    qv = np.full(len(v_uniq), np.nan)
    for word, number in C.QUALITATIVE_VALUES.items():
        qv[(v_uniq == word).to_numpy(dtype=bool, na_value=False)] = number
    bad_q = qual & np.isnan(qv)[v_codes] & ~empty
    if bad_q.any():
        out.append(findings(raw.file, "vocabulary",
                            "'" + value[bad_q].astype(object) + "' is not positive or negative (immunofixation)",
                            rows=raw.lines[bad_q], column="value", value=value[bad_q]))
    del bad_q
    n_uniq = pd.Series(pd.arrays.ArrowStringArray(n_uniq.cast(pa.large_string())))
    isnum_u = _fullmatch(n_uniq, NUMBER_RE)
    bad_n = known & ~qual & ~isnum_u[v_codes] & ~empty
    del known, empty
    if bad_n.any():
        out.append(findings(raw.file, "number-format", "'" + value[bad_n].astype(object) + "' is not a number",
                            rows=raw.lines[bad_n], column="value", value=value[bad_n]))
    del bad_n
    # canonical value: the qualitative word's number, else the number times the unit factor
    canon = _to_float(n_uniq, isnum_u)[v_codes]
    canon *= factor
    np.copyto(canon, qv[v_codes], where=qual)
    out_range = canon < grid["lo"].to_numpy(dtype="float64")[combo]
    out_range |= canon > grid["hi"].to_numpy(dtype="float64")[combo]
    out_range &= ~qual
    qual_rows = qual
    nyha = _per_cell(a_codes, (a_uniq == "nyha").to_numpy(dtype=bool, na_value=False))
    out_range |= nyha & ~np.isnan(canon) & (canon != np.round(canon))
    del nyha, qual
    canon_names = grid["canonical"].astype(object)
    canon_names = pa.array(canon_names.where(canon_names.notna(), None).tolist(), pa.large_string())
    if out_range.any():
        ana = t["analyte"][out_range].astype(object)
        pair = combo[out_range]
        msg = ("value " + value[out_range].astype(object) + " " + t["unit"][out_range].astype(object)
               + " is outside the plausible range of " + ana + " ("
               + pd.Series(grid["lo"].to_numpy()[pair]).map("{:g}".format).to_numpy() + " to "
               + pd.Series(grid["hi"].to_numpy()[pair]).map("{:g}".format).to_numpy() + " "
               + canon_names.take(pa.array(pair)).to_numpy(zero_copy_only=False) + ")")
        out.append(findings(raw.file, "range", msg, rows=raw.lines[out_range], column="value",
                            value=value[out_range]))
    del out_range
    # the typed columns replace the value and unit text one at a time (peak memory)
    raw.typed["value"] = pd.Series(canon, index=t.index)
    cens = cens_u[v_codes] & ~qual_rows
    raw.typed["qualifier"] = pd.Series(pd.Categorical.from_codes(
        np.where(cens, pd.Index(C.QUALIFIERS).get_indexer(q_uniq)[v_codes], 0),
        categories=list(C.QUALIFIERS)), index=t.index)
    del cens
    del canon
    if "uln" in raw.typed.columns:
        raw.typed["uln"] = raw.typed["uln"] * factor
    del factor
    release_memory()
    raw.typed["unit"] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([canon_names.take(pa.array(combo))])),
                                  index=t.index)
    release_memory()
    return concat(out)


def check_upcr(labs: RawTable, upcr_as_proteinuria: bool) -> pd.DataFrame:
    """A warning per file when urine protein-creatinine ratios are present but not used
    (renal.upcr_as_proteinuria false): the renal criteria then see 24-h proteinuria only."""
    if upcr_as_proteinuria or not labs.has("analyte"):
        return empty_findings()
    codes, uniq = labs.codes("analyte")
    n = int(np.count_nonzero(_per_cell(codes, _isin(uniq, ["upcr"]))))
    if not n:
        return empty_findings()
    return findings(labs.file, "upcr-unused",
                    f"{n} urine protein-creatinine ratio (upcr) row(s) are kept but not used: the renal "
                    "criteria are defined on 24-h proteinuria (set renal.upcr_as_proteinuria: true to use "
                    "upcr in g/g as g/24h on dates without a 24-h result)",
                    column="analyte", value="upcr", severity=WARNING)


def check_agents(raw: RawTable) -> pd.DataFrame:
    if not raw.has("agents"):
        return empty_findings()
    s = raw.text["agents"]
    bad = ~_fullmatch(s, AGENTS_RE) & (s.str.len() > 0).to_numpy(dtype=bool, na_value=False)
    if not bad.any():
        return empty_findings()
    return findings(raw.file, "agents-format",
                    "'" + s[bad].astype(object) + "' is not a list of lower-case drug names separated by ';'",
                    rows=raw.lines[bad], column="agents", value=s[bad])


def check_age(patients: RawTable, limits: dict) -> pd.DataFrame:
    if not patients.has("birth_date", "diagnosis_date"):
        return empty_findings()
    t = patients.typed
    age = (t["diagnosis_date"] - t["birth_date"]).dt.days / 365.25
    lo, hi = limits["min_age_years"], limits["max_age_years"]
    bad = (age.notna() & ((age < lo) | (age > hi))).to_numpy(dtype=bool)
    if not bad.any():
        return empty_findings()
    return findings(patients.file, "range",
                    "age at diagnosis " + age[bad].map("{:.1f}".format) + f" years is outside {lo}-{hi} "
                    "(config validation.min_age_years/max_age_years)",
                    rows=t["_line"].to_numpy()[bad], column="birth_date", value=_s(t["birth_date"][bad]))


# --------------------------------------------------------------------------- cross-table


def _report(raw: RawTable, frame: pd.DataFrame, mask, column: str, rule: str, message, severity=ERROR,
            value=None):
    """Findings for the rows of ``frame`` (which carries ``_line``) selected by ``mask``."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return empty_findings()
    if callable(message):  # built for the selected rows only (large tables)
        msg = np.asarray(message(frame[mask]), dtype=object)
    else:
        msg = message if isinstance(message, str) else np.asarray(message, dtype=object)[mask]
    if value is not None:
        val = np.asarray(value, dtype=object)[mask]
    elif column in frame.columns:
        val = _s(frame[column][mask])
    else:
        val = ""
    return findings(raw.file, rule, msg, rows=frame["_line"].to_numpy()[mask], column=column, value=val,
                    severity=severity)


def _lt(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a < b where both are known (NaT compares False)."""
    return (a < b).to_numpy(dtype=bool)


def _lookup(raw: RawTable, ref: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    """``ref``'s ``cols`` for every row of ``raw`` by patient_id (first ``ref`` row per id;
    missing where the id is not in ``ref``), as a left merge would give them: the ids are
    matched once per distinct id and the rows follow by integer codes."""
    ref = ref.drop_duplicates("patient_id")
    codes, uniq = raw.codes("patient_id")
    pos = pd.Index(ref["patient_id"].astype(object)).get_indexer(pd.Index(uniq.to_pylist(), dtype=object))
    take = pos[codes]  # -1 picks the appended missing value
    out = {}
    for c in cols:
        v = ref[c].to_numpy()
        missing = np.array([np.datetime64("NaT", "ns")]) if v.dtype.kind == "M" else np.array([np.nan])
        out[c] = np.concatenate([v, missing.astype(v.dtype)])[take]
    return out


def check_foreign_keys(tables: dict[str, RawTable]) -> pd.DataFrame:
    pats = tables.get("patients")
    if pats is None or not pats.has("patient_id"):
        return empty_findings()
    ids = pats.codes("patient_id")[1]
    out = []
    for name, raw in tables.items():
        if name == "patients" or raw is None or not raw.has("patient_id"):
            continue
        s = raw.text["patient_id"]
        codes, uniq = raw.codes("patient_id")
        bad = _per_cell(codes, ~_isin(uniq, ids)) & ~raw.empty("patient_id")
        if bad.any():
            out.append(findings(raw.file, "foreign-key",
                                "patient_id '" + s[bad].astype(object) + f"' is not in {pats.file}",
                                rows=raw.lines[bad], column="patient_id", value=s[bad]))
    for name, what in (("outcomes", "an outcomes row"), ("salvage_cycles", "any salvage cycle")):
        raw = tables.get(name)
        if raw is None or not raw.has("patient_id"):
            continue
        s = pats.text["patient_id"]
        codes, uniq = pats.codes("patient_id")
        bad = _per_cell(codes, ~_isin(uniq, raw.codes("patient_id")[1]))
        if bad.any():
            out.append(findings(pats.file, "cardinality",
                                "patient '" + s[bad].astype(object) + f"' has no {what} in {raw.file}",
                                rows=pats.lines[bad], column="patient_id", value=s[bad]))
    return concat(out)


def check_sequence(raw: RawTable, number: str, what: str) -> pd.DataFrame:
    """Numbers 1..n without gaps per patient, and start dates increasing with the number."""
    if raw is None or not raw.has("patient_id", number):
        return empty_findings()
    t = raw.typed[["patient_id", number, "_line"] + (["start_date"] if raw.has("start_date") else [])]
    t = t[t[number].notna()].sort_values(["patient_id", number, "_line"], kind="stable")
    expected = t.groupby("patient_id", sort=False).cumcount() + 1
    gap = (t[number] != expected).to_numpy(dtype=bool)
    first_gap = gap & ~pd.Series(gap, index=t.index).groupby(t["patient_id"]).cummax().groupby(
        t["patient_id"]).shift(1, fill_value=False).to_numpy(dtype=bool)
    t = t.assign(_expected=expected)
    out = [_report(raw, t, first_gap, number, "sequence",
                   lambda x: f"{what} number " + x[number].astype(str) + " where " + x["_expected"].astype(str)
                   + f" was expected: {what}s must be numbered 1..n without gaps")]
    if "start_date" in t.columns:
        t = t.assign(_prev=t.groupby("patient_id", sort=False)["start_date"].shift(1))
        bad = ~_lt(t["_prev"], t["start_date"]) & t["_prev"].notna().to_numpy() & t["start_date"].notna().to_numpy()
        out.append(_report(raw, t, bad, "start_date", "date-order",
                           lambda x: "start_date " + _s(x["start_date"])
                           + f" is not after the start of the previous {what} (" + _s(x["_prev"]) + ")"))
    return concat(out)


def check_dates(tables: dict[str, RawTable]) -> pd.DataFrame:
    """Date order within and across tables."""
    out = []
    P, L, S, O = (tables.get(n) for n in ("patients", "therapy_lines", "salvage_cycles", "outcomes"))
    ok = lambda r, *c: r is not None and r.has(*c)  # noqa: E731

    if ok(P, "birth_date", "diagnosis_date"):
        t = P.typed
        out.append(_report(P, t, ~_lt(t["birth_date"], t["diagnosis_date"]) & t[["birth_date", "diagnosis_date"]]
                           .notna().all(axis=1).to_numpy(), "diagnosis_date", "date-order",
                           lambda x: "diagnosis_date " + _s(x["diagnosis_date"]) + " is not after birth_date "
                           + _s(x["birth_date"])))
    # index date = cycle 1 day 1
    index = None
    if ok(S, "patient_id", "cycle", "start_date"):
        c1 = S.typed[S.typed["cycle"] == 1]
        index = c1.drop_duplicates("patient_id")[["patient_id", "start_date"]].rename(
            columns={"start_date": "index_date"})
    if ok(L, "patient_id", "start_date", "end_date"):
        t = L.typed
        out.append(_report(L, t, _lt(t["end_date"], t["start_date"]), "end_date", "date-order",
                           lambda x: "end_date " + _s(x["end_date"]) + " is before start_date " + _s(x["start_date"])))
        if ok(P, "patient_id", "diagnosis_date"):
            ref = ["patient_id", "diagnosis_date"] + (["birth_date"] if P.has("birth_date") else [])
            m = t.merge(P.typed[ref].drop_duplicates("patient_id"), on="patient_id", how="left")
            # a start before the birth is reported as such by check_early_dates
            before_birth = _lt(m["start_date"], m["birth_date"]) if "birth_date" in m else np.zeros(len(m), bool)
            out.append(_report(L, m, _lt(m["start_date"], m["diagnosis_date"]) & ~before_birth, "start_date",
                               "date-order",
                               lambda x: "line start_date " + _s(x["start_date"]) + " is before diagnosis_date "
                               + _s(x["diagnosis_date"])))
        if index is not None:
            m = t.merge(index, on="patient_id", how="left")
            out.append(_report(L, m, ~_lt(m["start_date"], m["index_date"]) & m[["start_date", "index_date"]]
                               .notna().all(axis=1).to_numpy(), "start_date", "date-order",
                               lambda x: "prior line starts " + _s(x["start_date"])
                               + ", not before the salvage start (cycle 1, " + _s(x["index_date"]) + ")"))
        if L.has("last_bortezomib_date"):
            lb = t["last_bortezomib_date"]
            bad = _lt(lb, t["start_date"]) | _lt(t["end_date"], lb)
            out.append(_report(L, t, bad, "last_bortezomib_date", "date-order",
                               lambda x: "last_bortezomib_date " + _s(x["last_bortezomib_date"])
                               + " is outside the line (" + _s(x["start_date"]) + " to " + _s(x["end_date"]) + ")"))
    if ok(O, "patient_id"):
        t = O.typed
        if O.has("salvage_end_date", "stop_reason"):
            end_empty = (O.text["salvage_end_date"].str.len() == 0).to_numpy(dtype=bool)
            ongoing = (O.text["stop_reason"] == "ongoing").to_numpy(dtype=bool, na_value=False)
            out.append(_report(O, t, end_empty & ~ongoing & (O.text["stop_reason"].str.len() > 0).to_numpy(bool),
                               "salvage_end_date", "consistency",
                               "salvage_end_date is empty but stop_reason is '" + O.text["stop_reason"].astype(object)
                               + "' (empty only when ongoing)"))
            out.append(_report(O, t, ~end_empty & ongoing, "salvage_end_date", "consistency",
                               "salvage_end_date " + O.text["salvage_end_date"].astype(object)
                               + " is given but stop_reason is 'ongoing'"))
        if O.has("stop_reason", "death_date"):
            bad = ((O.text["stop_reason"] == "death") & (O.text["death_date"].str.len() == 0)).to_numpy(bool)
            out.append(_report(O, t, bad, "death_date", "consistency",
                               "stop_reason is 'death' but death_date is empty"))
            # therapy cannot be ongoing after death: time on treatment would be censored at
            # the last contact and death on therapy missed; the export must say how it ended
            bad = ((O.text["stop_reason"] == "ongoing") & (O.text["death_date"].str.len() > 0)).to_numpy(bool)
            out.append(_report(O, t, bad, "stop_reason", "consistency",
                               "stop_reason is 'ongoing' but death_date " + O.text["death_date"].astype(object)
                               + " is given: record the last dose as salvage_end_date and why therapy stopped"
                               + " ('death' when it ended with the death)"))
        if O.has("last_contact_date", "death_date"):
            out.append(_report(O, t, _lt(t["last_contact_date"], t["death_date"]), "last_contact_date",
                               "date-order", lambda x: "last_contact_date " + _s(x["last_contact_date"])
                               + " is before death_date " + _s(x["death_date"])))
        if index is not None and O.has("salvage_end_date"):
            m = t.merge(index, on="patient_id", how="left")
            out.append(_report(O, m, _lt(m["salvage_end_date"], m["index_date"]), "salvage_end_date", "date-order",
                               lambda x: "salvage_end_date " + _s(x["salvage_end_date"])
                               + " is before the salvage start (cycle 1, " + _s(x["index_date"]) + ")"))
        out.append(check_events_vs_death(tables))
    return concat(out)


EVENT_COLUMNS = {
    "therapy_lines": ("start_date", "end_date", "progression_date", "last_bortezomib_date"),
    "salvage_cycles": ("start_date",),
    "labs": ("date",),
    "adverse_events": ("onset_date",),
    "outcomes": ("salvage_end_date", "next_line_date", "dialysis_start_date"),
}


def _tables_with(tables: dict[str, RawTable], spec: dict[str, tuple]):
    """(name, table, columns) for each table of ``spec`` that was read, has patient_id and
    holds at least one of the columns ``spec`` names for it (those it holds)."""
    for name, cols in spec.items():
        raw = tables.get(name)
        if raw is None or not raw.has("patient_id"):
            continue
        cols = [c for c in cols if raw.has(c)]
        if cols:
            yield name, raw, cols


def check_events_vs_death(tables: dict[str, RawTable]) -> pd.DataFrame:
    """No event after death; the last contact is not before any event (one finding per cell)."""
    O = tables.get("outcomes")
    if O is None or not O.has("patient_id"):
        return empty_findings()
    ref_cols = [c for c in ("death_date", "last_contact_date") if O.has(c)]
    if not ref_cols:
        return empty_findings()
    ref = O.typed[["patient_id"] + ref_cols].drop_duplicates("patient_id")
    out = []
    for name, raw, cols in _tables_with(tables, EVENT_COLUMNS):
        if name == "outcomes":
            m = raw.typed[["patient_id", "_line"] + cols + ref_cols]
        else:
            m = pd.DataFrame({c: raw.typed[c].to_numpy() for c in ["_line"] + cols} | _lookup(raw, ref, ref_cols),
                             copy=False)
        for col in cols:
            after_death = _lt(m["death_date"], m[col]) if "death_date" in m else np.zeros(len(m), bool)
            out.append(_report(raw, m, after_death, col, "date-order",
                               lambda x, col=col: col + " " + _s(x[col]) + " is after the patient's death_date "
                               + _s(x["death_date"])))
            if "last_contact_date" in m:
                after_lc = _lt(m["last_contact_date"], m[col]) & ~after_death
                out.append(_report(raw, m, after_lc, col, "date-order",
                                   lambda x, col=col: col + " " + _s(x[col])
                                   + " is after the patient's last_contact_date " + _s(x["last_contact_date"])))
    return concat(out)


def check_followup(tables: dict[str, RawTable], limits: dict) -> pd.DataFrame:
    P, O = tables.get("patients"), tables.get("outcomes")
    if P is None or O is None or not (P.has("patient_id", "diagnosis_date") and O.has("patient_id",
                                                                                      "last_contact_date")):
        return empty_findings()
    m = O.typed[["patient_id", "_line", "last_contact_date"]].merge(
        P.typed[["patient_id", "diagnosis_date"]].drop_duplicates("patient_id"), on="patient_id", how="left")
    years = (m["last_contact_date"] - m["diagnosis_date"]).dt.days / 365.25
    hi = limits["max_followup_years"]
    bad = (years > hi).to_numpy(dtype=bool, na_value=False)
    return _report(O, m, bad, "last_contact_date", "range",
                   "follow-up from diagnosis of " + years.map("{:.1f}".format) + f" years exceeds {hi} "
                   "(config validation.max_followup_years)")


# --------------------------------------------------------------------------- impossible records


def check_agent_names(raw: RawTable, drugs: C.DrugDictionary) -> pd.DataFrame:
    """Every drug of a well-formed ``agents`` list is a generic name of ``drugs`` or one of
    its brand names / regimen abbreviations (``contract.drug_dictionary``: the shipped
    dictionary with config ``drugs`` merged in; an error per unknown name,
    with the closest known name when one is close). The typed column holds the lists with
    the aliases replaced by their generic names. Lists that are not well formed are left
    to ``check_agents``."""
    if not raw.has("agents"):
        return empty_findings()
    codes, uniq = raw.codes("agents")
    texts = uniq.to_pylist()
    well_formed = _fullmatch(pd.Series(texts, dtype=object), AGENTS_RE)
    normal, out = list(texts), []
    known = drugs.known()
    for i in np.flatnonzero(well_formed):  # once per distinct list, not per row
        names, unknown = drugs.normalise(texts[i])
        if not unknown:
            normal[i] = names
            continue
        rows = np.flatnonzero(codes == i)
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = ""
            if close:
                alias = drugs.aliases.get(close[0])
                hint = f"; did you mean '{close[0]}'" + (f" ({';'.join(alias)})" if alias else "") + "?"
            out.append(findings(raw.file, "unknown-agent",
                                f"agent '{name}' in '{texts[i]}' is not a known drug name (generic names and "
                                f"aliases: docs/data-dictionary.md){hint}",
                                rows=raw.lines[rows], column="agents", value=[name] * len(rows)))
    normal = pa.chunked_array([pa.array(normal, pa.large_string()).take(pa.array(codes))])
    raw.typed["agents"] = pd.Series(pd.arrays.ArrowStringArray(normal), index=raw.typed.index)
    return concat(out)


def check_partner(raw: RawTable, drugs: C.DrugDictionary) -> pd.DataFrame:
    """A cycle's ``partner`` is 'none' or a drug of the study's dictionary (generic name or
    alias; ``contract.drug_dictionary``), not a fixed list: an error per unknown name."""
    if not raw.has("partner") or "partner" not in raw.typed:
        return empty_findings()
    t = raw.typed
    known = set(drugs.classes) | set(drugs.aliases) | {C.NO_PARTNER}
    codes, uniq = pd.factorize(t["partner"].astype(object).fillna(""))
    ok = np.asarray([u in known for u in uniq], dtype=bool)
    bad = ~ok[codes] if len(codes) else np.zeros(0, dtype=bool)
    return _report(raw, t, bad, "partner", "unknown-agent",
                   lambda x: "partner '" + x["partner"].astype(str) + "' is neither 'none' nor a known drug name "
                   "(docs/data-dictionary.md; config drugs)")


def check_uln(raw: RawTable) -> pd.DataFrame:
    """An upper limit of normal is a positive, finite number: 0 or infinity would make
    every 'x ULN' criterion meaningless (negative values fail the contract range)."""
    if not raw.has("uln") or "uln" not in raw.typed:
        return empty_findings()
    u = raw.typed["uln"].to_numpy(dtype="float64", na_value=np.nan)
    bad = (u == 0) | np.isinf(u)
    if not bad.any():
        return empty_findings()
    text = raw.text["uln"][bad].astype(object)
    return findings(raw.file, "range", "uln '" + text + "' is not a positive finite upper limit of normal",
                    rows=raw.lines[bad], column="uln", value=text)


def _index_dates(S: RawTable | None) -> pd.DataFrame | None:
    """Cycle 1 day 1 per patient (patient_id, index_date), None without the columns."""
    if S is None or not S.has("patient_id", "cycle", "start_date"):
        return None
    c1 = S.typed[S.typed["cycle"] == 1].dropna(subset=["start_date"])
    return c1.drop_duplicates("patient_id")[["patient_id", "start_date"]].rename(columns={"start_date": "index_date"})


def _understood_agents(agents: pd.Series, drugs: C.DrugDictionary) -> np.ndarray:
    """Cells whose list is well formed and names only known drugs (judged once per list)."""
    codes, uniq = pd.factorize(agents.astype(object).fillna(""))
    ok = [bool(_fullmatch(pd.Series([u], dtype=object), AGENTS_RE)[0]) and not drugs.normalise(u)[1]
          for u in uniq]
    return np.asarray(ok, dtype=bool)[codes] if len(codes) else np.zeros(0, dtype=bool)


def check_line_consistency(L: RawTable | None, drugs: C.DrugDictionary) -> pd.DataFrame:
    """Within a prior line: progression not before the line's start; a last bortezomib
    dose only on a line that contains bortezomib (``exposure.contains_agents``)."""
    if L is None or not L.has("start_date"):
        return empty_findings()
    t = L.typed
    out = []
    if L.has("progression_date"):
        out.append(_report(L, t, _lt(t["progression_date"], t["start_date"]), "progression_date", "date-order",
                           lambda x: "progression_date " + _s(x["progression_date"])
                           + " is before the line's start_date " + _s(x["start_date"])))
    if L.has("last_bortezomib_date", "agents"):
        # a misspelt or malformed list is reported by the agent checks, not here
        bad = (t["last_bortezomib_date"].notna().to_numpy(dtype=bool)
               & ~contains_agents(t["agents"], ("bortezomib",)).to_numpy(dtype=bool) & _understood_agents(t["agents"], drugs))
        out.append(_report(L, t, bad, "last_bortezomib_date", "consistency",
                           lambda x: "last_bortezomib_date " + _s(x["last_bortezomib_date"])
                           + " is given but the line's agents '" + _s(x["agents"]) + "' contain no bortezomib"))
    return concat(out)


def check_salvage_consistency(tables: dict[str, RawTable]) -> pd.DataFrame:
    """Outcomes against the salvage cycles: the next line starts after cycle 1 day 1; the
    salvage end is not before the start of the last cycle (the end before cycle 1 is
    reported by ``check_dates``)."""
    S, O = tables.get("salvage_cycles"), tables.get("outcomes")
    index = _index_dates(S)
    if index is None or O is None or not O.has("patient_id"):
        return empty_findings()
    c = S.typed.dropna(subset=["start_date", "cycle"]).sort_values(["start_date", "cycle"], kind="stable")
    last = c.drop_duplicates("patient_id", keep="last")[["patient_id", "cycle", "start_date"]].rename(
        columns={"cycle": "last_cycle", "start_date": "last_start"})
    cols = [x for x in ("salvage_end_date", "next_line_date") if O.has(x)]
    m = O.typed[["patient_id", "_line"] + cols].merge(index, on="patient_id", how="left").merge(
        last, on="patient_id", how="left")
    out = []
    if "next_line_date" in m:
        bad = ~_lt(m["index_date"], m["next_line_date"]) & m[["index_date", "next_line_date"]].notna().all(
            axis=1).to_numpy()
        out.append(_report(O, m, bad, "next_line_date", "date-order",
                           lambda x: "next_line_date " + _s(x["next_line_date"])
                           + " is not after the salvage start (cycle 1, " + _s(x["index_date"]) + ")"))
    if "salvage_end_date" in m:
        bad = _lt(m["salvage_end_date"], m["last_start"]) & ~_lt(m["salvage_end_date"], m["index_date"])
        out.append(_report(O, m, bad, "salvage_end_date", "date-order",
                           lambda x: "salvage_end_date " + _s(x["salvage_end_date"]) + " is before the start of cycle "
                           + x["last_cycle"].astype(str) + " (" + _s(x["last_start"]) + ")"))
    return concat(out)


# dated columns of a patient that cannot precede the birth (diagnosis_date: check_dates)
DATED_COLUMNS = {**EVENT_COLUMNS, "outcomes": EVENT_COLUMNS["outcomes"] + ("last_contact_date", "death_date")}


def _dated_findings(raw: RawTable, col: str, mask: np.ndarray, rule: str, text: str, ref: np.ndarray | None,
                    severity: str = ERROR, after: str = "") -> pd.DataFrame:
    """Findings for the cells of ``col`` under ``mask``: "<col> <date> <text> <ref date><after>"."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return empty_findings()
    val = _s(raw.typed[col].iloc[rows])
    msg = col + " " + val + " " + text
    if ref is not None:
        msg = msg + " " + _s(pd.Series(ref[rows])).to_numpy()
    return findings(raw.file, rule, msg + after, rows=raw.lines[rows], column=col, value=val, severity=severity)


def check_early_dates(tables: dict[str, RawTable], limits: dict) -> pd.DataFrame:
    """Dates before the patient's birth (error); before 1 January of
    ``validation.earliest_year`` (error); salvage cycles before diagnosis (error);
    adverse events more than ``validation.max_days_before_diagnosis`` days before
    diagnosis (error) and labs as early (warning).
    A cell gets only the first of these that applies. Dialysis that began before the
    diagnosis is a common presentation of renal AL amyloidosis and is accepted; only a
    start more than ``validation.max_dialysis_years_before_diagnosis`` years before the
    diagnosis is a warning (likely a wrong year)."""
    P = tables.get("patients")
    if P is None or not P.has("patient_id"):
        return empty_findings()
    floor = np.datetime64(f"{int(limits['earliest_year']):04d}-01-01", "ns")
    margin = np.timedelta64(int(limits["max_days_before_diagnosis"]), "D")
    ref_cols = [c for c in ("birth_date", "diagnosis_date") if P.has(c)]
    ref = P.typed[["patient_id"] + ref_cols]
    out = []
    if P.has("diagnosis_date"):
        d = P.typed["diagnosis_date"].to_numpy()
        out.append(_dated_findings(P, "diagnosis_date", d < floor, "early-date",
                                   f"is before {limits['earliest_year']} (config validation.earliest_year)", None))
    for name, raw, cols in _tables_with(tables, DATED_COLUMNS):
        look = _lookup(raw, ref, ref_cols)
        birth, diag = look.get("birth_date"), look.get("diagnosis_date")
        for col in cols:
            v = raw.typed[col].to_numpy()
            done = np.zeros(len(v), dtype=bool)
            if birth is not None:
                done = v < birth
                out.append(_dated_findings(raw, col, done, "date-order", "is before the patient's birth_date", birth))
            early = (v < floor) & ~done
            out.append(_dated_findings(raw, col, early, "early-date",
                                       f"is before {limits['earliest_year']} (config validation.earliest_year)", None))
            done |= early
            if diag is None:
                continue
            if (name, col) == ("salvage_cycles", "start_date"):
                out.append(_dated_findings(raw, col, (v < diag) & ~done, "date-order",
                                           "is before the patient's diagnosis_date", diag))
            elif (name, col) in (("adverse_events", "onset_date"), ("labs", "date")):
                bad = (v < diag - margin) & ~done
                out.append(_dated_findings(
                    raw, col, bad, "early-date",
                    f"is more than {limits['max_days_before_diagnosis']} days (config "
                    "validation.max_days_before_diagnosis) before the patient's diagnosis_date", diag,
                    severity=ERROR if name == "adverse_events" else WARNING))
            elif (name, col) == ("outcomes", "dialysis_start_date"):
                years = limits["max_dialysis_years_before_diagnosis"]
                lead = np.timedelta64(int(round(years * 365.25)), "D")
                out.append(_dated_findings(
                    raw, col, (v < diag - lead) & ~done, "early-date",
                    f"is more than {years:g} years (config validation.max_dialysis_years_before_diagnosis) before "
                    "the patient's diagnosis_date", diag, severity=WARNING,
                    after=": check the year (dialysis before the diagnosis is plausible, this long before is rare)"))
    return concat(out)


# Analytes without which a criterion cannot be applied to anyone: (analytes, of which at
# least one must have a row; what is lost)
CRITERION_ANALYTES = (
    (("urine_ife",), "complete response (CR) is impossible: CR needs a negative urine immunofixation, so the "
                     "best hematologic response is capped at VGPR"),
    (("serum_ife",), "complete response (CR) is impossible: CR needs a negative serum immunofixation, so the "
                     "best hematologic response is capped at VGPR"),
    (("flc_kappa",), "no baseline or follow-up dFLC: hematologic response and progression cannot be assessed"),
    (("flc_lambda",), "no baseline or follow-up dFLC: hematologic response and progression cannot be assessed"),
    (("ntprobnp",), "no patient is evaluable for cardiac response by NT-proBNP, and cardiac stages are missing"),
    (("proteinuria_24h",), "no patient is evaluable for renal response, and renal stages are missing"),
    (("creatinine", "egfr"), "no eGFR: renal progression and renal stages cannot be derived"),
    (("alp",), "no patient is evaluable for liver response"),
)


def check_criteria(tables: dict[str, RawTable]) -> pd.DataFrame:
    """Warnings (file level) when the labs hold no row at all of an analyte a response
    criterion needs, or never an ALP with its ULN: the criterion becomes impossible for
    every patient."""
    Lb = tables.get("labs")
    if Lb is None or not Lb.has("analyte"):
        return empty_findings()
    a_codes, a_uniq = Lb.codes("analyte")
    present = set(a_uniq.to_pylist())
    out = []
    for analytes, lost in CRITERION_ANALYTES:
        if present.isdisjoint(analytes):
            what = " or ".join(analytes)
            out.append(findings(Lb.file, "criterion-impossible", f"{Lb.file} has no {what} row at all: {lost}",
                                column="analyte", value=";".join(analytes), severity=WARNING))
    if "alp" in present and "uln" in Lb.typed:
        alp = _per_cell(a_codes, _isin(a_uniq, ["alp"]))
        if not (alp & Lb.typed["uln"].notna().to_numpy(dtype=bool)).any():
            out.append(findings(Lb.file, "criterion-impossible",
                                f"no alp row of {Lb.file} gives the lab's upper limit of normal (uln): "
                                "no patient is evaluable for liver response", column="uln", value="alp",
                                severity=WARNING))
    elif "alp" in present:
        out.append(findings(Lb.file, "criterion-impossible",
                            f"{Lb.file} has no uln column: no alp row gives the lab's upper limit of normal, so no "
                            "patient is evaluable for liver response", column="uln", value="alp", severity=WARNING))
    return concat(out)


def _evaluability(P: RawTable, p: pd.DataFrame, present: set, on_dialysis: pd.Series, window_days: int
                  ) -> pd.DataFrame:
    """Warnings for involved patients whose organ response cannot be judged for want of a
    baseline value (the evaluable denominator shrinks): kidney without a 24-h proteinuria
    (patients on dialysis at the index date excepted: never renal-evaluable), liver
    without an ALP with its ULN. Skipped when the analyte has no row at all
    (``check_criteria`` reports that once)."""
    out = []
    organs = (
        ("kidney", "proteinuria_24h", p["proteinuria_24h"].isna() & ~on_dialysis, "24-h proteinuria",
         "renal response"),
        ("liver", "alp", p["alp"].isna() | p["alp_uln"].isna(), "ALP with its ULN", "liver response"),
    )
    for flag, analyte, missing, what, response in organs:
        if flag not in p or not P.has(flag) or analyte not in present:
            continue
        involved = p[flag].astype("boolean").fillna(False).astype(bool)
        if flag == "kidney":
            involved &= ~on_dialysis
        bad = (involved & missing).to_numpy(dtype=bool)
        n, k = int(involved.sum()), int(bad.sum())
        msg = ("patient '" + p["pid"].astype(str) + f"' is {flag}-involved but has no {what} in the "
               f"{window_days} days up to cycle 1: not evaluable for {response} ({k} of {n} {flag}-involved "
               "patients)")
        out.append(_report(P, p, bad, flag, "evaluability", msg, severity=WARNING,
                           value=P.text[flag].to_numpy(dtype=object)))
    return concat(out)


# --------------------------------------------------------------------------- warnings


def baseline_values(labs: RawTable, index: pd.DataFrame, window_days: int, analytes: list[str]) -> pd.DataFrame:
    """Last value per patient and analyte in [index - window, index], among ``analytes``,
    by the derive stage's rule (``derive_common.baseline_rows``, the one definition).

    Rows of ``labs.typed`` (patient_id, analyte, value, uln...): the latest date in the
    window with a value, the last line on ties. Patients and analytes are matched by
    integer codes, not by text."""
    t = labs.typed
    a_codes, a_uniq = labs.codes("analyte")
    keep = _per_cell(a_codes, _isin(a_uniq, analytes)) & t["value"].notna().to_numpy(dtype=bool)
    idx_date = _lookup(labs, index, ["index_date"])["index_date"]
    p_codes = np.where(keep, labs.codes("patient_id")[0], -1)
    rows = baseline_rows(p_codes, a_codes, t["date"].to_numpy(), idx_date, window_days, t["_line"].to_numpy())
    return t.iloc[np.sort(rows)]


def check_baseline(tables: dict[str, RawTable], window_days: int, involvement: dict) -> pd.DataFrame:
    """Warnings: missing baseline labs; organ flags disagreeing with biomarker definitions."""
    P, S, Lb = (tables.get(n) for n in ("patients", "salvage_cycles", "labs"))
    if any(r is None for r in (P, S, Lb)) or not (S.has("patient_id", "cycle", "start_date")
                                                 and Lb.has("patient_id", "date", "analyte", "value")
                                                 and P.has("patient_id")):
        return empty_findings()
    index = (S.typed[S.typed["cycle"] == 1].dropna(subset=["start_date"]).drop_duplicates("patient_id")
             [["patient_id", "start_date"]].rename(columns={"start_date": "index_date"}))
    index = index[_isin(_arrow(index["patient_id"]), P.codes("patient_id")[1])]
    wanted = list(BASELINE_ANALYTES) + ["egfr", "proteinuria_24h", "alp"]
    base = baseline_values(Lb, index, window_days, wanted)
    base = base.assign(analyte=base["analyte"].astype(object), patient_id=base["patient_id"].astype(object))
    wide = base.pivot(index="patient_id", columns="analyte", values="value")
    idx = index.set_index(index["patient_id"].astype(object))
    wide = wide.reindex(idx.index)
    for a in wanted:
        if a not in wide:
            wide[a] = np.nan
    out = []
    for a in BASELINE_ANALYTES:
        missing = wide[a].isna()
        if a == "creatinine":
            missing &= wide["egfr"].isna()
        if missing.any():
            pid = pd.Series(wide.index[missing.to_numpy()])
            what = "creatinine or egfr" if a == "creatinine" else a
            msg = ("patient '" + pid + f"' has no {what} in the {window_days} days up to cycle 1 ("
                   + _s(idx.loc[pid, "index_date"]).to_numpy() + ")")
            out.append(findings(Lb.file, "baseline-missing", msg, column="analyte", value=[a] * len(pid),
                                severity=WARNING))
    # clinician flags vs biomarker definitions (only where the baseline value is known)
    uln = base[base["analyte"] == "alp"].set_index("patient_id")["uln"] if "uln" in base else pd.Series(dtype=float)
    p = P.typed.copy()
    p["pid"] = p["patient_id"].astype(object)
    p = p.merge(wide, left_on="pid", right_index=True, how="left")
    p["alp_uln"] = p["pid"].map(uln)
    rules = [
        ("kidney", "proteinuria_24h", p["proteinuria_24h"] >= involvement["kidney_proteinuria_g"],
         f"24-h proteinuria >= {involvement['kidney_proteinuria_g']:g} g"),
        ("heart", "ntprobnp", p["ntprobnp"] > involvement["heart_ntprobnp_ng_l"],
         f"NT-proBNP > {involvement['heart_ntprobnp_ng_l']:g} ng/L"),
        ("liver", "alp", p["alp"] > involvement["liver_alp_x_uln"] * p["alp_uln"],
         f"ALP > {involvement['liver_alp_x_uln']:g} x ULN"),
    ]
    # NT-proBNP defines heart involvement only without renal failure: skip patients on
    # dialysis at the index date
    on_dialysis = pd.Series(False, index=p.index)
    O = tables.get("outcomes")
    if O is not None and O.has("patient_id", "dialysis_start_date"):
        dial = O.typed[["patient_id", "dialysis_start_date"]].drop_duplicates("patient_id")
        dial = dial.assign(pid=dial["patient_id"].astype(object)).set_index("pid")["dialysis_start_date"]
        idx_date = p["pid"].map(idx["index_date"])
        on_dialysis = (p["pid"].map(dial) <= idx_date).fillna(False).astype(bool)
    for flag, analyte, biomarker, text in rules:
        if flag not in p or not P.has(flag):
            continue
        known = p[analyte].notna() & p[flag].notna()
        if analyte == "alp":
            known &= p["alp_uln"].notna()
        if flag == "heart":
            known &= ~on_dialysis
        flagged = p[flag].astype("boolean").fillna(False).astype(bool)
        bad = (known & (flagged != biomarker.fillna(False).astype(bool))).to_numpy(dtype=bool)
        msg = (f"clinician {flag} flag is '" + P.text[flag].astype(object).to_numpy() + f"' but baseline {analyte} "
               "is " + p[analyte].map("{:g}".format) + f" (definition: {text})")
        out.append(_report(P, p, bad, flag, "involvement-flag", msg, severity=WARNING,
                           value=P.text[flag].to_numpy(dtype=object)))
    # analytes with a row at all (ALP only when some row gives its ULN): check_criteria
    # reports a missing one once, instead of once per patient here
    a_codes, a_uniq = Lb.codes("analyte")
    present = set(a_uniq.to_pylist())
    if "uln" not in Lb.typed or not (_per_cell(a_codes, _isin(a_uniq, ["alp"]))
                                      & Lb.typed["uln"].notna().to_numpy(dtype=bool)).any():
        present.discard("alp")
    out.append(_evaluability(P, p, present, on_dialysis, window_days))
    return concat(out)


# --------------------------------------------------------------------------- driver


def check_all(paths: dict, files: dict | None = None, *, limits: dict, window_days: int, involvement: dict,
              upcr_as_proteinuria: bool, drugs: dict, agents: list):
    """Read and check every table. Returns (tables, findings).

    ``limits`` is config ``validation`` (its ``unit_aliases`` extend the unit spellings);
    ``window_days`` config ``baseline.window_days``; ``involvement`` the organ-involvement
    thresholds (rule validate's params); ``upcr_as_proteinuria`` config
    ``renal.upcr_as_proteinuria``; ``drugs`` config ``drugs`` (extends the agent
    dictionary); ``agents`` config ``study.agents`` (the dose columns of salvage_cycles).
    No defaults: the config schema is their one source."""
    files = files or {k: str(v) for k, v in paths.items()}
    dictionary = C.drug_dictionary(drugs)
    unknown = [a["name"] for a in agents if a["name"] not in dictionary.classes]
    if unknown:
        raise ValueError(f"config study.agents: {unknown} not in the drug dictionary (add them under drugs.agents)")
    out, tables = [], {}
    for name, table in C.study_tables(agents).items():
        raw, f = read_table(paths[name], table, files.get(name, str(paths[name])))
        out.append(f)
        tables[name] = raw
        if raw is None:
            continue
        out.append(check_whitespace(raw))
        out.append(check_identifiers(raw, table))
        out.append(parse_table(raw, table))
        raw.compact()
        out.append(check_columns(raw, table))
        out.append(check_unique(raw, table))
        if name == "labs":
            out.append(check_uln(raw))
            out.append(convert_labs(raw, limits.get("unit_aliases")))
            out.append(check_upcr(raw, upcr_as_proteinuria))
            if not raw.has("analyte", "value", "unit"):
                # values that could not be converted (a column is missing, already an
                # error) are unknown to the checks that compare them with thresholds
                for c in ("value", "uln"):
                    if c in raw.typed:
                        raw.typed[c] = np.nan
        if name == "therapy_lines":
            out.append(check_agents(raw))
            out.append(check_agent_names(raw, dictionary))
        if name == "salvage_cycles":
            out.append(check_partner(raw, dictionary))
        if name == "patients":
            out.append(check_age(raw, limits))
    out.append(check_foreign_keys(tables))
    out.append(check_sequence(tables.get("therapy_lines"), "line", "line"))
    out.append(check_sequence(tables.get("salvage_cycles"), "cycle", "cycle"))
    out.append(check_dates(tables))
    out.append(check_line_consistency(tables.get("therapy_lines"), dictionary))
    out.append(check_salvage_consistency(tables))
    out.append(check_early_dates(tables, limits))
    out.append(check_followup(tables, limits))
    out.append(check_baseline(tables, window_days, involvement))
    out.append(check_criteria(tables))
    return tables, sort_findings(concat(out), files)


def sort_findings(f: pd.DataFrame, files: dict) -> pd.DataFrame:
    order = {v: i for i, v in enumerate(files.values())}
    f = f.assign(_f=f["file"].map(order).fillna(len(order)), _r=f["row"].fillna(0))
    f = f.sort_values(["_f", "_r", "column", "rule", "message"], kind="stable").drop(columns=["_f", "_r"])
    return f.drop_duplicates().reset_index(drop=True)


SUMMARY_VALUES = 5  # distinct values listed one by one per (rule, file, column)
SUMMARY_LINES = 5  # first lines named per problem
SUMMARY_GROUPS = 60  # distinct problems listed at most


def _lines_text(rows: pd.Series) -> str:
    rows = rows.dropna().astype("int64")
    if rows.empty:
        return ""
    first = sorted(set(rows.tolist()))[:SUMMARY_LINES]
    more = ", ..." if rows.nunique() > SUMMARY_LINES else ""
    return f" ({'line' if len(first) == 1 and not more else 'lines'} {', '.join(map(str, first))}{more})"


def _label(severity: str, rule: str, file: str, column: str) -> str:
    return f"{severity.upper()} [{rule}] {file}" + (f", column {column}" if column else "")


def knock_on_causes(f: pd.DataFrame, tables: dict) -> pd.Series:
    """For each finding, the error it follows from ('' when none).

    A ``baseline-missing`` warning follows from an error when the labs rows that would
    have given the baseline were rejected: an error on a row of that patient and analyte
    (for creatinine also egfr), or an error of the labs file as a whole (header, a line
    with a wrong number of fields). It is then a knock-on, listed under its cause."""
    causes = pd.Series("", index=f.index, dtype=object)
    bm = f.index[(f["rule"] == "baseline-missing").to_numpy()]
    if not len(bm):
        return causes
    labs_file = f.loc[bm[0], "file"]
    e = f[(f["severity"] == ERROR) & (f["file"] == labs_file)]
    if e.empty:
        return causes
    whole = e[e["row"].isna() | (e["row"] == 1) | (e["rule"] == "row-length")]
    if len(whole):
        r = whole.iloc[0]
        causes.loc[bm] = _label(r["severity"], r["rule"], r["file"], r["column"])
        return causes
    raw = tables.get("labs")
    if raw is None or not raw.has("patient_id", "analyte"):
        return causes
    rows = e["row"].astype("int64").to_numpy()
    pos = np.clip(np.searchsorted(raw.lines, rows), 0, max(len(raw.lines) - 1, 0))
    hit = raw.lines[pos] == rows
    pid = raw.text["patient_id"].astype(object).to_numpy()[pos]
    ana = raw.text["analyte"].astype(object).to_numpy()[pos]
    by_key = {}
    for ok, p_, a_, r in zip(hit, pid, ana, e.itertuples(index=False)):
        if ok:
            by_key.setdefault((p_, a_), _label(r.severity, r.rule, r.file, r.column))
    for i in bm:
        m = re.search(r"patient '([^']*)'", f.loc[i, "message"])
        if not m:
            continue
        a = f.loc[i, "value"]
        cause = by_key.get((m.group(1), a)) or (by_key.get((m.group(1), "egfr")) if a == "creatinine" else None)
        causes.loc[i] = cause or ""
    return causes


def format_summary(f: pd.DataFrame, causes: pd.Series | None = None) -> str:
    """The headline and the distinct problems: one line per (severity, rule, file, column,
    value) with its count and first lines (one line per (rule, file, column) when it has
    many values), errors first; knock-on findings (``causes``) grouped under their cause."""
    causes = pd.Series("", index=f.index, dtype=object) if causes is None else causes.reindex(f.index).fillna("")
    n_err = int((f["severity"] == ERROR).sum())
    n_warn = int((f["severity"] == WARNING).sum())
    if n_err:
        lines = [f"validation failed in rule validate: {n_err} errors, {n_warn} warnings"]
    else:
        lines = [f"validation passed: 0 errors, {n_warn} warnings"]
    if f.empty:
        return "\n".join(lines) + "\n"
    main = f[(causes == "").to_numpy()]
    main = main.assign(_s=(main["severity"] != ERROR).astype(int)).sort_values("_s", kind="stable")
    lines.append("Distinct problems (count, first lines; every finding is in the findings CSV):")
    entries = []
    for (sev, rule, file, column), g in main.groupby(["severity", "rule", "file", "column"], sort=False):
        label = _label(sev, rule, file, column)
        values = g["value"].unique()
        if len(values) <= SUMMARY_VALUES:
            for v in values:
                gv = g[g["value"] == v]
                what = f", value '{v}'" if v != "" else ""
                entries.append((f"  {label}{what}: {len(gv)} finding(s){_lines_text(gv['row'])}",
                                f"      e.g. {gv['message'].iloc[0]}", label))
        else:
            entries.append((f"  {label}: {len(g)} finding(s), {len(values)} distinct values{_lines_text(g['row'])}",
                            f"      e.g. {g['message'].iloc[0]}", label))
    knock = f[(causes != "").to_numpy()]
    knock_by_cause = {c: g for c, g in knock.groupby(causes[causes != ""], sort=False)}
    for head, example, label in entries[:SUMMARY_GROUPS]:
        lines += [head, example]
        g = knock_by_cause.pop(label, None)
        if g is not None:
            for rule, gr in g.groupby("rule", sort=False):
                lines.append(f"      -> {len(gr)} {rule} warning(s) follow from it (values: "
                             f"{', '.join(map(str, gr['value'].unique()[:SUMMARY_VALUES]))}); not listed as problems")
    if len(entries) > SUMMARY_GROUPS:
        lines.append(f"  ... and {len(entries) - SUMMARY_GROUPS} more distinct problems (see the findings CSV)")
    for label, g in knock_by_cause.items():  # a cause beyond the listed ones
        lines.append(f"  {len(g)} knock-on warning(s) follow from {label}")
    return "\n".join(lines) + "\n"


def format_log(f: pd.DataFrame, max_per_file: int = 200, causes: pd.Series | None = None) -> str:
    """Readable report: the summary of distinct problems, then every finding by file
    (``max_per_file`` at most each; knock-on findings only in the summary), then the verdict."""
    causes = pd.Series("", index=f.index, dtype=object) if causes is None else causes.reindex(f.index).fillna("")
    n_err = int((f["severity"] == ERROR).sum())
    n_warn = int((f["severity"] == WARNING).sum())
    lines = [format_summary(f, causes).rstrip("\n")]
    main = f[(causes == "").to_numpy()]
    if not main.empty:
        lines += ["", f"Findings by file (at most {max_per_file} per file):"]
    for file, grp in main.groupby("file", sort=False):
        e = int((grp["severity"] == ERROR).sum())
        w = int((grp["severity"] == WARNING).sum())
        lines.append(f"{file}: {e} error(s), {w} warning(s)")
        for r in grp.head(max_per_file).itertuples(index=False):
            where = f"line {r.row}" if not pd.isna(r.row) else "file"
            col = f", column {r.column}" if r.column else ""
            lines.append(f"  {r.severity.upper():7s} {where}{col} [{r.rule}]: {r.message}")
        if len(grp) > max_per_file:
            lines.append(f"  ... and {len(grp) - max_per_file} more (see the findings CSV)")
    if n_err:
        lines.append(f"validation failed in rule validate: {n_err} errors, {n_warn} warnings")
    else:
        lines.append(f"validation passed: 0 errors, {n_warn} warnings")
    return "\n".join(lines) + "\n"


NO_CENTRE = "(no centre)"  # findings.csv centre of a patient without one
NOT_PATIENT = "(not patient-specific)"  # the log's label of the findings of no patient


def finding_centres(f: pd.DataFrame, tables: dict) -> pd.Series | None:
    """The treating centre (patients.csv optional column ``centre``) of each finding, for
    findings.csv's ``centre`` column and the log: a finding on a row of a table with a
    patient_id is that patient's centre (NO_CENTRE for a patient without one or absent
    from patients.csv); empty for file-level findings and tables without patients. None
    when patients.csv has no centre column (findings.csv and the log stay as they were)."""
    pts = tables.get("patients")
    if pts is None or not pts.has("patient_id", "centre"):
        return None
    centre_of = dict(zip(pts.text["patient_id"].to_numpy(), pts.text["centre"].to_numpy()))
    pid = pd.Series(None, index=f.index, dtype=object)
    rows = pd.to_numeric(f["row"], errors="coerce")
    for t in tables.values():
        if not t.has("patient_id") or len(t.lines) != len(t.text):
            continue
        by_line = pd.Series(t.text["patient_id"].to_numpy(), index=np.asarray(t.lines, dtype="int64"))
        sel = ((f["file"] == t.file) & rows.notna()).to_numpy()
        if sel.any():
            pid[sel] = by_line.reindex(rows[sel].astype("int64").to_numpy()).to_numpy()
    return pid.map(lambda p: "" if p is None or pd.isna(p) else (centre_of.get(p) or NO_CENTRE)).astype(object)


def findings_per_centre(f: pd.DataFrame, centre: pd.Series | None) -> str:
    """The findings counted per treating centre (``centre``: finding_centres), for the
    log; findings of no patient as "(not patient-specific)". Empty text when patients.csv
    has no centre column (``centre`` None: the log stays as it was)."""
    if centre is None:
        return ""
    centre = centre.replace("", NOT_PATIENT)
    lines = ["Findings per centre (patients.csv centre):"] + (["  none"] if f.empty else [])
    for c in sorted(centre.unique(), key=lambda c: (c.startswith("("), c)):
        sev = f.loc[(centre == c).to_numpy(), "severity"]
        lines.append(f"  {c}: {int((sev == ERROR).sum())} error(s), {int((sev == WARNING).sum())} warning(s)")
    return "\n".join(lines) + "\n"


def write_findings(f: pd.DataFrame, path) -> None:
    """findings.csv: FINDING_COLUMNS, and ``centre`` when the findings carry one
    (finding_centres: patients.csv has the optional centre column)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cols = FINDING_COLUMNS + (["centre"] if "centre" in f.columns else [])
    neutralise_frame(f[cols]).to_csv(path, index=False, lineterminator="\n")


OUTPUT_TYPES = {C.DATE: "datetime64[ns]", C.INT: "int64", C.FLOAT: "float64", C.FLAG: "bool"}


def output_frame(raw: RawTable, table: C.Table) -> pd.DataFrame:
    """The typed table of docs/interfaces.md: every contract column, rows sorted by key."""
    t = raw.typed
    cols = {}
    for col in table.columns:
        if col.name in t.columns:
            s = t[col.name]
        elif col.omit_when_absent:
            continue
        else:
            s = pd.Series(np.nan, index=t.index)
        if table.name == "labs" and col.name in ("value", "uln"):
            s = s.astype("float64", copy=False)
        elif col.kind in OUTPUT_TYPES:
            s = s.astype(OUTPUT_TYPES[col.kind], copy=False)
        else:
            s = s.astype(STRING, copy=False)
        cols[col.name] = s
        if table.name == "labs" and col.name == "value":
            cols["qualifier"] = lab_qualifier(t)
    frame = pd.DataFrame(cols, copy=False)
    order = _key_order(raw, table, frame)
    if order is None:
        return frame.sort_values(list(table.key), kind="stable").reset_index(drop=True)
    if not (order[1:] > order[:-1]).all():  # else already in key order
        frame = frame.take(order)
    frame.index = pd.RangeIndex(len(frame))  # in place: reset_index would copy every column
    return frame


def lab_qualifier(typed: pd.DataFrame) -> pd.Series:
    """The validated labs' ``qualifier`` column: '' (exact), '<', '<=', '>' or '>='."""
    if "qualifier" in typed.columns:
        return typed["qualifier"].astype(str).astype(STRING, copy=False)
    return pd.Series("", index=typed.index, dtype=STRING)


def _key_order(raw: RawTable, table: C.Table, frame: pd.DataFrame) -> np.ndarray | None:
    """The stable sort order of ``frame`` by the table key, from integer ranks of the key
    values (text ranks from the cached codes) combined in key order by ``combine_codes``,
    which keeps the order; None when a key value is missing (then pandas sorts, missing
    last)."""
    parts = []
    for k in table.key:
        s = frame[k]
        if s.isna().any():
            return None
        if k in raw.text.columns and table.column(k).kind in (C.ID, C.TEXT, C.CATEGORY, C.DATE):
            # text order is the value order: YYYY-MM-DD dates have one spelling each
            codes, uniq = raw.codes(k)
            rank = np.empty(len(uniq), dtype="int64")
            rank[pc.array_sort_indices(uniq).to_numpy()] = np.arange(len(uniq))
            parts.append((rank[codes], len(uniq)))
        else:
            codes, uniq = pd.factorize(s, sort=True)
            parts.append((codes.astype("int64"), len(uniq)))
    return np.argsort(combine_codes(parts), kind="stable")


def write_parquet(frame: pd.DataFrame, path) -> None:
    """Parquet with text columns recorded as plain (object) strings in the pandas metadata."""
    text = [c for c in frame.columns if frame[c].dtype == STRING]
    meta = pa.Table.from_pandas(frame.head(0).astype({c: object for c in text}), preserve_index=False).schema.metadata
    table = pa.Table.from_pandas(frame, preserve_index=False)
    del frame  # when the caller passed a temporary, its columns now live only in ``table``
    for c in text:  # one column at a time: the old strings go as the new ones come
        i = table.schema.get_field_index(c)
        table = table.set_column(i, c, table.column(c).cast(pa.string()))
    table = table.replace_schema_metadata(meta)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def input_record(tables: dict, files: dict) -> dict:
    """Per raw input, in the order of ``files`` (config ``inputs``): its configured path,
    the SHA-256 of its bytes and its data records, as validation read them (the report's
    provenance, results/validated/inputs.json)."""
    return {name: {"path": str(files[name]), "sha256": tables[name].sha256, "rows": int(tables[name].records)}
            for name in files}


def validate_tables(paths: dict, files: dict, limits: dict, window_days: int, involvement: dict,
                    tables_out: dict, findings_out, log_path, log_findings, inputs_out, *,
                    upcr_as_proteinuria: bool, drugs: dict, agents: list, log=None) -> pd.DataFrame:
    """Run every check; on success write the tables and the warnings, else raise ValidationFailed.

    The report goes to ``log`` (a logger writing ``log_path``, as ``rulelog.rule_log``
    gives) or, without one, straight to ``log_path``. ValidationFailed carries the summary
    of distinct problems as its message: what the rule prints, without a traceback."""
    tables, f = check_all(paths, files, limits=limits, window_days=window_days, involvement=involvement,
                          upcr_as_proteinuria=upcr_as_proteinuria, drugs=drugs, agents=agents)
    causes = knock_on_causes(f, tables)
    centre = finding_centres(f, tables)
    text = format_log(f, causes=causes) + findings_per_centre(f, centre)
    if centre is not None:  # multi-centre cohort: findings.csv names each finding's centre
        f = f.assign(centre=centre.to_numpy())
    n_err = int((f["severity"] == ERROR).sum())
    if log is not None:
        log.log(logging.ERROR if n_err else logging.INFO, "%s", text.rstrip("\n"))
    else:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text(text)
    write_findings(f, log_findings)
    if n_err:
        raise ValidationFailed(format_summary(f, causes)
                               + f"(the log {log_path} lists every finding by file; the findings table is "
                               f"{log_findings})", f)
    record = input_record(tables, files)
    Path(inputs_out).parent.mkdir(parents=True, exist_ok=True)
    Path(inputs_out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, table in C.study_tables(agents).items():
        # nothing else holds the table or its output frame: their memory goes once written
        write_parquet(output_frame(tables.pop(name), table), tables_out[name])
        release_memory()
    write_findings(f, findings_out)
    return f
