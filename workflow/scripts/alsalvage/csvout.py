"""CSV and Parquet export of the derived datasets, byte-identical to pandas' ``to_csv``
and ``to_parquet`` with the format of ``derive_common`` (ISO dates, floats as ``%.10g``,
empty missing cells, minimal quoting, ``\\n`` line ends; tests compare with that).

pandas' ``to_csv`` needs ~20 s for the 5 million ADRS rows of a 100,000-patient cohort;
Arrow's CSV writer needs ~2 s. Values that would need quoting (a comma, quote or line
break in a text cell) make Arrow refuse; the pandas writer then takes over, so the
output is the same either way.

Text cells that a spreadsheet would run as a formula are neutralised (``neutralise_text``)
in every CSV the workflow writes; the Parquet files keep the values as read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .derive_common import CSV_DATE_FORMAT, CSV_FLOAT_FORMAT
from .formatting import FORMULA_STARTS


def _arrow_column(s: pd.Series) -> pa.Array:
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_datetime64_any_dtype(s):
        days = s.to_numpy().astype("datetime64[D]")
        return pa.array(days, type=pa.date32(), mask=s.isna().to_numpy())
    if pd.api.types.is_bool_dtype(s):
        return pa.array(s.astype(str), type=pa.string())  # True/False as pandas writes them
    if pd.api.types.is_float_dtype(s):
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
        text = np.array([CSV_FLOAT_FORMAT % v for v in uniq] + [None], dtype=object)
        return pa.array(text[codes], type=pa.string())
    if pd.api.types.is_integer_dtype(s):
        return pa.array(s, from_pandas=True, type=pa.int64())
    return pa.array(s, from_pandas=True, type=pa.string())


def _text_categoricals(df: pd.DataFrame) -> list[str]:
    return [
        c
        for c in df.columns
        if isinstance(df[c].dtype, pd.CategoricalDtype)
        and all(isinstance(v, str) for v in df[c].cat.categories)
    ]


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """``pa.Table.from_pandas(df, preserve_index=False)`` with every categorical text
    column taken as its object-dtype equivalent (same types, values and pandas
    metadata, hence the same Parquet bytes) without one Python string per row: the
    Arrow dictionary is decoded instead. Schema and metadata come from a sample
    holding the first non-missing value of every column (an all-missing text column
    is Arrow type null, as pandas gives it)."""
    cats = _text_categoricals(df)
    as_object = {c: object for c in cats}
    if not cats or not len(df) or df.columns.has_duplicates:
        return pa.Table.from_pandas(df.astype(as_object), preserve_index=False)
    first = {0}
    for c in df.columns:
        valid = df[c].notna().to_numpy()
        if valid.any():
            first.add(int(valid.argmax()))
    sample = df.iloc[sorted(first)].astype(as_object)
    schema = pa.Table.from_pandas(sample, preserve_index=False).schema
    rest = pa.Table.from_pandas(df.drop(columns=cats), preserve_index=False)
    arrays = []
    for field in schema:
        if field.name not in cats:
            arrays.append(rest.column(field.name))
        elif pa.types.is_null(field.type):
            arrays.append(pa.nulls(len(df)))
        else:
            arrays.append(pa.array(df[field.name].array, from_pandas=True).cast(field.type))
    if any(a.type != f.type for a, f in zip(arrays, schema)):
        return pa.Table.from_pandas(df.astype(as_object), preserve_index=False)
    return pa.Table.from_arrays(arrays, schema=schema)




def _neutral(value):
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)  # a signed number ("-0.5", "+3") is data, not a formula
        return value
    except ValueError:
        return "'" + value


def _may_need(s: pd.Series, arr=None) -> bool:
    """Whether a cell may begin with a formula character (one vectorised pass in Arrow
    over ``arr``, the column already converted, or ``s`` converted here; a column Arrow
    cannot take as text is looked at value by value)."""
    if arr is None or not pa.types.is_string(arr.type):
        try:
            arr = pa.array(s.array if isinstance(s.dtype, pd.StringDtype) else s, from_pandas=True, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return True
    return bool(pc.any(formula_start(arr)).as_py())


def formula_start(arr: pa.Array, starts: tuple[str, ...] = FORMULA_STARTS) -> pa.Array:
    """Boolean Arrow array: which strings begin with one of ``starts`` (missing: false)."""
    hit = pc.starts_with(arr, starts[0])
    for p in starts[1:]:
        hit = pc.or_(hit, pc.starts_with(arr, p))
    return pc.fill_null(hit, False)


def neutralise_text(s: pd.Series, arr=None) -> pd.Series:
    """The text column with every cell that a spreadsheet would run as a formula (one
    that begins with = + - @, tab or carriage return and is not a number) prefixed by a
    single quote, as OWASP recommends; other cells, numbers and missing values unchanged.
    Works on the distinct values (categories for a categorical), so it costs little at
    millions of rows. Returns ``s`` itself when no cell needs it."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if not (pd.api.types.is_object_dtype(cats) or pd.api.types.is_string_dtype(cats)):
            return s
        new = [_neutral(v) for v in cats]
        return s if list(cats) == new else s.cat.rename_categories(new)
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return s
    if not _may_need(s, arr):
        return s
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    new = np.array([_neutral(v) for v in uniq], dtype=object)
    if all(a is b for a, b in zip(new, uniq)):
        return s
    out = pd.Series(np.where(codes < 0, None, new[np.maximum(codes, 0)] if len(new) else None), index=s.index)
    return out.astype(s.dtype) if not pd.api.types.is_object_dtype(s) else out


def neutralise_frame(df: pd.DataFrame, table: pa.Table | None = None) -> pd.DataFrame:
    """``df`` with ``neutralise_text`` applied to every column (the same object when no
    cell needs it); ``table``, when given, is ``df`` in Arrow, whose text columns are
    scanned instead of converting them again."""
    if df.columns.has_duplicates:
        return df
    names = set(table.column_names) if table is not None else set()
    cols = {c: neutralise_text(df[c], table.column(c) if c in names else None) for c in df.columns}
    if all(cols[c] is df[c] for c in df.columns):
        return df
    out = df.copy()
    for c, v in cols.items():
        out[c] = v
    return out


def write_csv(df: pd.DataFrame, path: str | Path, table: pa.Table | None = None) -> None:
    """Write ``df`` (already sorted) as CSV in the derive_common format. ``table``, when
    given, is ``pa.Table.from_pandas(df, preserve_index=False)``: its text columns are
    reused instead of converting the Python strings to Arrow a second time."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    safe = neutralise_frame(df, table)
    if safe is not df:  # a neutralised column differs from the Parquet's: convert afresh
        df, table = safe, None
    try:
        cols = {}
        for c in df.columns:
            done = table.column(c) if table is not None and c in table.column_names else None
            text = pd.api.types.is_object_dtype(df[c]) or isinstance(df[c].dtype, pd.CategoricalDtype)
            if done is not None and text and pa.types.is_string(done.type):
                cols[c] = done
            else:
                cols[c] = _arrow_column(df[c])
        table = pa.table(cols)
        header = ",".join(map(str, df.columns))
        if any(ch in header for ch in '"\r\n'):
            raise pa.ArrowInvalid("header needs quoting")
        with open(path, "wb") as fh:
            fh.write((header + "\n").encode())
            opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
            pacsv.write_csv(table, fh, write_options=opts)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        df.to_csv(
            path,
            index=False,
            float_format=CSV_FLOAT_FORMAT,
            date_format=CSV_DATE_FORMAT,
            lineterminator="\n",
            na_rep="",
        )


def write_dataset(df: pd.DataFrame, csv_path, parquet_path, sort_by: Iterable[str]) -> pd.DataFrame:
    """Write ``df`` sorted (stable) by ``sort_by`` as CSV and Parquet (typed, index
    dropped); an empty ``sort_by`` keeps the row order of ``df`` (already sorted by the
    caller). Same input, same bytes.

    The frame is converted to Arrow once (exactly as ``DataFrame.to_parquet`` does,
    so the Parquet bytes are the same) and the CSV reuses its text columns."""
    sort_by = list(sort_by)
    out = df.sort_values(sort_by, kind="mergesort").reset_index(drop=True) if sort_by else df
    Path(parquet_path).parent.mkdir(parents=True, exist_ok=True)
    if out.attrs:  # pandas adds the attrs to the Parquet metadata: let it do so
        write_csv(out, csv_path)
        out.to_parquet(parquet_path, index=False, engine="pyarrow", compression="snappy")
        return out
    table = to_arrow(out)
    write_csv(out, csv_path, table)
    pq.write_table(table, parquet_path, compression="snappy")
    return out
