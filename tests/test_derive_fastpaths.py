"""Fast paths of the derivations (issue 3, 100,000 patients): each one must give exactly
what the plain pandas operation it replaces gives. Every case runs both: the fast
helper and the reference call written out here (sort_values, merge, merge_asof,
remove_unused_categories, the ``.dt`` accessors, DataFrame.to_parquet / to_csv), on
small hand-made frames that hit the edges (ties, missing values, unsorted input,
unknown keys), and compares values, order, index and bytes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsalvage import csvout, derive_common, organ
from alsalvage import hematologic as hem
from alsalvage.derive_common import is_sorted_by, read_categorical, sort_stable
from alsalvage.responses import _sort_order, encode_patients
from helpers import pandas_write_dataset

T0 = pd.Timestamp("2020-01-01")


def d(days):
    return T0 + pd.Timedelta(days=days)


# ------------------------------------------------------------------ sorting
@pytest.mark.parametrize(
    "pid, key2, expected",
    [
        ([1, 1, 2, 3], [5, 6, 1, 1], True),  # patient ascending, then key ascending
        ([1, 1, 2, 3], [6, 6, 1, 1], True),  # a tie is still in order
        ([1, 1, 2, 3], [6, 5, 1, 1], False),  # key falls within patient 1
        ([2, 1], [1, 9], False),  # patient falls
        (["A", "A", "B"], [2, 3, 1], True),  # text ids compare as text
        ([1.0, np.nan, 2.0], [1, 1, 1], False),  # a missing value: not decided, sort
    ],
)
def test_is_sorted_by(pid, key2, expected):
    df = pd.DataFrame({"p": pid, "k": key2})
    assert is_sorted_by(df, ["p", "k"]) is expected


@pytest.mark.parametrize(
    "rows",
    [
        [("B", 2), ("A", 2), ("A", 1), ("B", 1)],  # unsorted: sorted
        [("A", 1), ("A", 2), ("B", 1)],  # sorted: kept, as a copy
        [("A", 1), ("A", 1), ("B", 1)],  # duplicates keep their order
    ],
)
def test_sort_stable_equals_mergesort(rows):
    df = pd.DataFrame(rows, columns=["patient_id", "cycle"], index=[10, 11, 12, 13][: len(rows)])
    df["n"] = range(len(df))
    got = sort_stable(df, ["patient_id", "cycle"])
    assert got.equals(df.sort_values(["patient_id", "cycle"], kind="mergesort"))
    assert list(got.index) == list(df.sort_values(["patient_id", "cycle"], kind="mergesort").index)
    assert got is not df


def test_sort_patient_date_skips_only_sorted_rows():
    ok = pd.DataFrame({"USUBJID": [0, 0, 1], "ADT": [d(1), d(2), d(0)]})
    assert hem.sort_patient_date(ok) is ok
    bad = pd.DataFrame({"USUBJID": [0, 0, 1], "ADT": [d(2), d(1), d(0)]}, index=[7, 8, 9])
    got = hem.sort_patient_date(bad)
    assert list(got.index) == [8, 7, 9]
    with_nat = pd.DataFrame({"USUBJID": [0, 0], "ADT": [pd.NaT, d(1)]})
    assert hem.sort_patient_date(with_nat).equals(with_nat.sort_values(["USUBJID", "ADT"], kind="mergesort"))


def test_sort_order_equals_lexsort():
    # blocks sorted by patient and date inside (the fast path) and a shuffled copy
    # (the lexsort fallback): both give np.lexsort((adt, rank, patient))
    usub = np.array([0, 0, 1, 0, 1, 1, 0])
    rank = np.array([2, 2, 2, 0, 0, 0, 1])
    adt = np.array([d(1), d(3), d(2), d(5), d(1), d(1), d(0)], dtype="datetime64[ns]").view("int64")
    assert np.array_equal(_sort_order(usub, rank, adt), np.lexsort((adt, rank, usub)))
    shuffled = np.array([3, 0, 6, 1, 5, 2, 4])
    u, r, a = usub[shuffled], rank[shuffled], adt[shuffled]
    assert np.array_equal(_sort_order(u, r, a), np.lexsort((a, r, u)))
    nat = adt.copy()
    nat[1] = np.datetime64("NaT").astype("datetime64[ns]").view("int64")  # NaT first
    assert np.array_equal(_sort_order(usub, rank, nat), np.lexsort((nat, rank, usub)))


# ------------------------------------------------------------------ merges
@pytest.mark.parametrize("codes", [True, False])
def test_attach_equals_inner_merge(codes):
    # left rows of patients 2, 0, 5 (5 unknown), right one row per patient 0-3
    left = pd.DataFrame({"USUBJID": [2, 0, 5, 2, 0], "ADT": [d(i) for i in range(5)], "v": [1.0, 2, 3, 4, 5]})
    right = pd.DataFrame(
        {"USUBJID": [3, 0, 1, 2], "TRTSDT": [d(-1)] * 4, "SEX": ["F", "M", "F", "M"], "X": [0.5, 1.5, 2.5, 3.5]}
    )
    if not codes:  # text ids: the pandas merge itself
        left["USUBJID"] = left["USUBJID"].map("P{}".format)
        right["USUBJID"] = right["USUBJID"].map("P{}".format)
    got = hem.attach(left, right)
    ref = left.merge(right, on="USUBJID", how="inner", validate="many_to_one")
    assert list(got.columns) == list(ref.columns)
    assert got.equals(ref)
    assert list(got["v"]) == [1.0, 2.0, 4.0, 5.0]  # patient 5 dropped, left order kept


def test_attach_repeated_key_is_reported_by_pandas():
    left = pd.DataFrame({"USUBJID": [0, 1]})
    right = pd.DataFrame({"USUBJID": [0, 0], "X": [1, 2]})
    with pytest.raises(pd.errors.MergeError):
        hem.attach(left, right)


def test_renumber_equals_reset_index():
    df = pd.DataFrame({"a": [3, 1, 2]}, index=[5, 9, 7])
    sub = df[df["a"] > 1]
    assert hem.renumber(sub).equals(sub.reset_index(drop=True))


# the reference: pandas merge_asof, the general path of organ._asof
_merge_asof_reference = organ._asof_merge


def test_asof_codes_equals_merge_asof():
    # patient 0: values on days 2 and 5 (two on day 5: the later row wins), NaN on 8;
    # patient 1: a value on day 4 only; patient 2: nothing
    right = pd.DataFrame(
        {
            "USUBJID": [0, 1, 0, 0, 0],
            "ADT": [d(5), d(4), d(2), d(5), d(8)],
            "V": [50.0, 40.0, 20.0, 51.0, np.nan],
        }
    )
    left = pd.DataFrame(
        {"USUBJID": [0, 0, 0, 0, 1, 1, 2], "ADT": [d(9), d(1), d(2), d(6), d(3), d(4), d(9)]},
        index=[30, 31, 32, 33, 34, 35, 36],
    )
    got = organ._asof(left, right, ["V"])
    assert got.equals(_merge_asof_reference(left, right, ["V"]))
    # day 9 -> NaN of day 8; day 1 -> nothing yet; day 2 -> 20; day 6 -> 51 (later of
    # day 5); patient 1 day 3 -> nothing, day 4 -> 40; patient 2 -> nothing
    assert got["V"].tolist()[1:6] == [pytest.approx(v, nan_ok=True) for v in [np.nan, 20.0, 51.0, np.nan, 40.0]]
    assert np.isnan(got["V"].iloc[0]) and np.isnan(got["V"].iloc[6])


def test_asof_codes_random_cases_equal_merge_asof():
    rng = np.random.default_rng(7)
    for _ in range(100):
        nl, nr = rng.integers(1, 30, size=2)
        left = pd.DataFrame(
            {"USUBJID": rng.integers(0, 4, nl), "ADT": [d(int(x)) for x in rng.integers(0, 12, nl)]},
            index=rng.permutation(nl) + 100,
        )
        right = pd.DataFrame(
            {
                "USUBJID": rng.integers(0, 4, nr),
                "ADT": [d(int(x)) for x in rng.integers(0, 12, nr)],
                "V": np.where(rng.random(nr) < 0.2, np.nan, rng.normal(size=nr)),
            }
        )
        assert organ._asof_codes(left, right, ["V"]) is not None
        assert organ._asof(left, right, ["V"]).equals(_merge_asof_reference(left, right, ["V"]))


# ------------------------------------------------------------------ age
@pytest.mark.parametrize(
    "birth, at, years",
    [
        ("1960-02-29", "2021-02-28", 60),  # leap-day birthday not reached on 28 Feb
        ("1960-02-29", "2021-03-01", 61),
        ("1960-02-29", "2024-02-29", 64),
        ("1969-12-31", "2020-12-31", 51),  # birthday itself counts
        ("1945-06-15", "2020-06-14", 74),  # born before 1970 (negative epoch days)
        ("1970-01-01", "1969-12-31", -1),
    ],
)
def test_age_at_numpy_calendar(birth, at, years):
    got = derive_common.age_at(pd.Series([pd.Timestamp(birth)]), pd.Series([pd.Timestamp(at)]))
    assert got.tolist() == [float(years)]


def test_age_at_matches_dt_accessors_and_missing_dates():
    rng = np.random.default_rng(3)
    birth = pd.Series(pd.Timestamp("1900-01-01") + pd.to_timedelta(rng.integers(0, 40000, 500), unit="D"))
    at = birth + pd.to_timedelta(rng.integers(-400, 40000, 500), unit="D")
    birth[5] = pd.NaT
    at[7] = pd.NaT
    ref_years = at.dt.year - birth.dt.year
    before = (at.dt.month < birth.dt.month) | ((at.dt.month == birth.dt.month) & (at.dt.day < birth.dt.day))
    ref = (ref_years - before.astype("float64")).to_numpy(dtype="float64")
    assert np.array_equal(derive_common.age_at(birth, at), ref, equal_nan=True)
    assert np.isnan(derive_common.age_at(birth, at)[[5, 7]]).all()


# ------------------------------------------------------------------ labs
def test_encode_patients_categorical_equals_object_input():
    adsl = pd.DataFrame({"USUBJID": ["P2", "P1"]})
    outcomes = pd.DataFrame({"patient_id": ["P1", "P2", "P9"]})
    labs = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P9", "P2", "P2"],
            "date": [d(1), d(1), d(1), d(2), d(3)],
            "analyte": ["flc_kappa", "hemoglobin", "alp", "alp", "ntprobnp"],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    cat = labs.astype({"patient_id": "category", "analyte": "category"})
    ids, _, out_o, lab_o = encode_patients(adsl, outcomes, labs)
    _, _, out_c, lab_c = encode_patients(adsl, outcomes, cat)
    # P9 (not in ADSL) and hemoglobin (not read by this stage) are dropped; P1 -> 0, P2 -> 1
    assert list(ids) == ["P1", "P2"]
    assert lab_c["patient_id"].tolist() == [0, 1, 1] == lab_o["patient_id"].tolist()
    assert lab_c["analyte"].astype(str).tolist() == ["flc_kappa", "alp", "ntprobnp"]
    # unused categories dropped, the others in their order (remove_unused_categories)
    ref = cat["analyte"][cat["analyte"].isin(["flc_kappa", "alp", "ntprobnp"])].cat.remove_unused_categories()
    assert list(lab_c["analyte"].cat.categories) == list(ref.cat.categories)
    assert lab_c["value"].tolist() == [1.0, 4.0, 5.0]
    assert out_c.equals(out_o)


def test_read_categorical_same_values_as_plain_read(tmp_path):
    df = pd.DataFrame(
        {
            "patient_id": ["B", "A", "B", None],
            "date": [d(1), d(2), pd.NaT, d(4)],
            "analyte": ["alp", "alp", "egfr", "egfr"],
            "value": [1.0, np.nan, 3.0, 4.0],
        }
    )
    path = tmp_path / "labs.parquet"
    df.to_parquet(path, index=False)
    got = read_categorical(path)
    assert all(isinstance(got[c].dtype, pd.CategoricalDtype) for c in ("patient_id", "analyte"))
    assert got.astype({"patient_id": object, "analyte": object}).equals(pd.read_parquet(path))
    two = read_categorical(path, ["analyte", "value", "not_there"])
    assert list(two.columns) == ["analyte", "value"]


# ------------------------------------------------------------------ writer
FRAMES = {
    "mixed": lambda: pd.DataFrame(
        {
            "USUBJID": pd.Categorical(["P2", "P1", "P3", "P1"]),
            "AVALC": pd.Categorical([None, "CR", "NR", "CR"]),
            "AVAL": [1.0, np.nan, 2.5, 15.835728952772074],
            "ADT": [d(1), pd.NaT, d(30), d(400)],
            "ADY": pd.array([1, None, 30, 400], dtype="Int64"),
            "TXT": ["x", None, "y", "z"],
        }
    ),
    "all_missing_flag": lambda: pd.DataFrame(
        {"USUBJID": pd.Categorical(["P1", "P2"]), "IMIDFL": pd.Categorical([None, None], categories=["Y", "N"])}
    ),
    "no_rows": lambda: pd.DataFrame({"USUBJID": pd.Categorical([], categories=["P1"]), "AVAL": pd.Series([], dtype=float)}),
}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_categorical_text_written_as_plain_text(tmp_path, name):
    """Categorical text columns (ADRS) give the same CSV and Parquet bytes as the same
    frame with object columns written by the pandas reference writer."""
    df = FRAMES[name]()
    plain = df.astype({c: object for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)})
    pandas_write_dataset(plain, tmp_path / "a.csv", tmp_path / "a.parquet", [])
    csvout.write_dataset(df, tmp_path / "b.csv", tmp_path / "b.parquet", [])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_wide_labs_codes_equal_text_ids():
    """Integer patient codes (lookup-table membership, no re-sort of sorted rows) and
    text ids in shuffled order (isin + sort) give the same grid."""
    rows = [
        (0, 1, "flc_kappa", 40.0),
        (0, 1, "flc_lambda", 10.0),
        (0, 2, "flc_kappa", 30.0),
        (1, 1, "flc_lambda", 5.0),
        (2, 3, "flc_kappa", 7.0),  # patient 2 not asked for
        (1, 4, "alp", 99.0),  # analyte not asked for
    ]
    coded = pd.DataFrame(
        [(p, d(t), a, v) for p, t, a, v in rows], columns=["patient_id", "date", "analyte", "value"]
    ).astype({"analyte": "category"})
    text = coded.assign(patient_id=coded["patient_id"].map("P{}".format)).iloc[[5, 3, 2, 0, 4, 1]]
    got = hem.wide_labs(coded, ("flc_kappa", "flc_lambda"), patients=pd.Series([0, 1]))
    ref = hem.wide_labs(text, ("flc_kappa", "flc_lambda"), patients=pd.Series(["P0", "P1"]))
    assert got["patient_id"].tolist() == [0, 0, 1]
    assert ref["patient_id"].tolist() == ["P0", "P0", "P1"]
    assert got.drop(columns="patient_id").equals(ref.drop(columns="patient_id"))
    # patient 0 day 1: kappa 40 and lambda 10 on one row; day 2 kappa only
    assert got["flc_kappa"].tolist()[:2] == [40.0, 30.0] and np.isnan(got["flc_lambda"].iloc[1])
