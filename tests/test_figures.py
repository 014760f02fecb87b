"""Figures: deterministic bytes, stripped metadata, hand-checked data preparation."""

from __future__ import annotations

import re
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from alsalvage import figures
from helpers import REPO
from report_fixtures import make_derived, make_results, write_fixture

PARAMS = figures.FigureParams(seed=11, max_patients=200, landmark_months=(3.0, 6.0))

RENDER_ALL = """
import sys
sys.path[:0] = [{scripts!r}, {tests!r}]
from pathlib import Path
from alsalvage import figures
p = {paths!r}
data = figures.load_inputs(p["adsl"], p["adrs"], p["adtte"], p["labs"], p["results"], [3, 6])
params = figures.FigureParams(seed=11, max_patients=200, landmark_months=(3.0, 6.0))
out = Path({out!r})
for name in figures.FIGURES:
    figures.render(name, data, params, {{f: out / f"{{name}}.{{f}}" for f in figures.FORMATS}})
"""


def render_all_in_subprocess(paths: dict, out) -> None:
    code = RENDER_ALL.format(
        scripts=str(REPO / "workflow" / "scripts"),
        tests=str(REPO / "tests"),
        paths={k: str(v) for k, v in paths.items() if k != "raw"},
        out=str(out),
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every figure rendered twice, in two separate interpreters, from the same inputs."""
    base = tmp_path_factory.mktemp("figs")
    paths = write_fixture(base / "in")
    render_all_in_subprocess(paths, base / "a")
    render_all_in_subprocess(paths, base / "b")
    return base


@pytest.mark.slow
@pytest.mark.parametrize("fmt", figures.FORMATS)
@pytest.mark.parametrize("name", figures.FIGURES)
def test_two_renders_are_byte_identical(rendered, name, fmt):
    a = (rendered / "a" / f"{name}.{fmt}").read_bytes()
    b = (rendered / "b" / f"{name}.{fmt}").read_bytes()
    assert len(a) > 1000
    assert a == b, f"{name}.{fmt} differs between two renders"


def png_text_chunks(data: bytes) -> dict[str, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("ascii")
        body = data[pos + 8 : pos + 8 + length]
        if kind in ("tEXt", "iTXt", "zTXt"):
            key = body.split(b"\x00", 1)[0].decode("latin-1")
            chunks[key] = body
        pos += 12 + length
    return chunks


@pytest.mark.slow
@pytest.mark.parametrize("name", figures.FIGURES)
def test_metadata_is_stripped(rendered, name):
    svg = (rendered / "a" / f"{name}.svg").read_text()
    assert "<dc:date>" not in svg
    assert "<dc:creator>" not in svg
    png = png_text_chunks((rendered / "a" / f"{name}.png").read_bytes())
    assert "Software" not in png and "Creation Time" not in png, png.keys()
    pdf = (rendered / "a" / f"{name}.pdf").read_bytes()
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in pdf, f"{name}.pdf carries {key!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", figures.FIGURES)
def test_figures_carry_no_patient_identifier(rendered, name):
    svg = (rendered / "a" / f"{name}.svg").read_text()
    assert "SYN-" not in svg
    # text is drawn as glyph paths, so the SVG needs no font at all
    assert "font-family" not in svg


@pytest.mark.slow
def test_svg_uses_the_okabe_ito_palette(rendered):
    svg = (rendered / "a" / "waterfall_dflc.svg").read_text().lower()
    # the fixture has CR, VGPR, PR, low-dFLC and NR bests: their Okabe-Ito fills
    for colour in ("#0072b2", "#009e73", "#56b4e9", "#cc79a7", "#999999"):
        assert colour in svg


def test_figure_rule_lists_the_same_figures_as_the_package():
    smk = (REPO / "workflow" / "rules" / "figures.smk").read_text()
    listed = re.findall(r'^    "(\w+)",$', smk.split("]")[0], flags=re.M)
    assert tuple(listed) == figures.FIGURES


# ---------------------------------------------------------------- sampling


def test_no_sampling_at_or_below_the_limit():
    ids, note = figures.sample_patients(pd.Series(["b", "a", "c"]), 3, seed=1)
    assert list(ids) == ["a", "b", "c"] and note == ""


def test_sampling_above_the_limit_is_seeded_and_said():
    ids = pd.Series([f"P{i:03d}" for i in range(250)])
    a, note = figures.sample_patients(ids, 200, seed=5)
    b, _ = figures.sample_patients(ids, 200, seed=5)
    c, _ = figures.sample_patients(ids, 200, seed=6)
    assert len(a) == 200 and len(set(a)) == 200 and set(a) <= set(ids)
    assert list(a) == list(b) and list(a) != list(c)
    assert "200 of 250" in note and "seed 5" in note


def test_large_cohort_caption_says_it_samples():
    d = make_derived(n=30, seed=3)
    d.update(figures.results_for_figures(make_results(), [3, 6]))
    params = figures.FigureParams(seed=2, max_patients=12)
    import matplotlib.pyplot as plt

    for draw in (figures.draw_swimmer, figures.draw_waterfall_dflc, figures.draw_ntprobnp):
        fig, caption = draw(d, params)
        plt.close(fig)
        assert "random sample of 12 of" in caption, caption


# ---------------------------------------------------------------- data preparation (hand-computed)


def _adsl(rows):
    return pd.DataFrame(rows)


def test_best_dflc_change_by_hand():
    # Patient A, lambda clone, baseline dFLC 100: lambda/kappa 60/10 (dFLC 50, -50%), then 30/10
    # (dFLC 20, -80%); the -90% assessment lies outside the window (ANL01FL N): best = -80%.
    # Patient B, kappa clone, baseline dFLC 40 (low dFLC): kappa/lambda 50/6 -> dFLC 44 (+10%).
    # Patient C is not FLC-measurable: no bar.
    t0 = pd.Timestamp("2015-01-01")
    d = [t0 + pd.Timedelta(days=k) for k in (30, 60, 90)]
    adsl = _adsl(
        [
            {"USUBJID": "A", "ISOTYPE": "lambda", "DFLCBL": 100.0, "HEMEVAL": "measurable"},
            {"USUBJID": "B", "ISOTYPE": "kappa", "DFLCBL": 40.0, "HEMEVAL": "low_dflc"},
            {"USUBJID": "C", "ISOTYPE": "kappa", "DFLCBL": 5.0, "HEMEVAL": "not_measurable"},
        ]
    )
    adrs = pd.DataFrame(
        [
            {"USUBJID": "A", "PARAMCD": "HEMRESP", "ADT": d[0], "ANL01FL": "Y", "AVALC": "PR"},
            {"USUBJID": "A", "PARAMCD": "HEMRESP", "ADT": d[1], "ANL01FL": "Y", "AVALC": "PR"},
            {"USUBJID": "A", "PARAMCD": "HEMRESP", "ADT": d[2], "ANL01FL": "N", "AVALC": "VGPR"},
            {"USUBJID": "B", "PARAMCD": "HEMRESP", "ADT": d[0], "ANL01FL": "Y", "AVALC": "NR"},
            {"USUBJID": "C", "PARAMCD": "HEMRESP", "ADT": d[0], "ANL01FL": "Y", "AVALC": "NR"},
            {"USUBJID": "A", "PARAMCD": "BESTHEM", "ADT": pd.NaT, "ANL01FL": "Y", "AVALC": "PR"},
            {"USUBJID": "B", "PARAMCD": "BESTHEM", "ADT": pd.NaT, "ANL01FL": "Y", "AVALC": "NR"},
        ]
    )
    labs = pd.DataFrame(
        [
            ("A", d[0], "flc_lambda", 60.0), ("A", d[0], "flc_kappa", 10.0),
            ("A", d[1], "flc_lambda", 30.0), ("A", d[1], "flc_kappa", 10.0),
            ("A", d[2], "flc_lambda", 15.0), ("A", d[2], "flc_kappa", 5.0),
            ("B", d[0], "flc_kappa", 50.0), ("B", d[0], "flc_lambda", 6.0),
            ("C", d[0], "flc_kappa", 9.0), ("C", d[0], "flc_lambda", 6.0),
        ],
        columns=["patient_id", "date", "analyte", "value"],
    )  # fmt: skip
    best = figures.best_dflc_change(adsl, adrs, labs).set_index("USUBJID")
    assert sorted(best.index) == ["A", "B"]
    assert best.loc["A", "PCHG"] == pytest.approx(-80.0)
    assert best.loc["B", "PCHG"] == pytest.approx(10.0)
    assert best.loc["A", "AVALC"] == "PR" and best.loc["B", "AVALC"] == "NR"


def test_landmark_table_by_hand():
    # Landmark 3 months (91.3125 days at 30.4375 days/month).
    # A: alive at 10 months, PR on day 60 -> responder, 7 months after the landmark.
    # B: alive at 5 months, PR only on day 120 (after the landmark) -> non-responder, 2 months.
    # C: died at 2 months -> excluded (not alive at the landmark).
    adtte = pd.DataFrame(
        {"USUBJID": ["A", "B", "C"], "PARAMCD": "OS", "AVAL": [10.0, 5.0, 2.0], "CNSR": [1, 0, 0]}
    )
    adrs = pd.DataFrame(
        {"USUBJID": ["A", "B"], "PARAMCD": "HEMRESP", "AVALC": ["PR", "PR"], "ADY": [60, 120]}
    )
    t = figures.landmark_table(adtte, adrs, 3.0, 30.4375).set_index("USUBJID")
    assert sorted(t.index) == ["A", "B"]
    assert t.loc["A", "RESP"] == "Responder" and t.loc["B", "RESP"] == "Non-responder"
    assert t.loc["A", "AVAL"] == pytest.approx(7.0) and t.loc["B", "AVAL"] == pytest.approx(2.0)
    assert list(t.loc[["A", "B"], "CNSR"]) == [1, 0]


def test_ntprobnp_change_by_hand():
    # Baseline 1000 ng/L; 1500 at day 61 (+50%, 2.004 months -> visit 2); a value before
    # the index date is ignored; patient without a baseline value is left out.
    t0 = pd.Timestamp("2016-03-01")
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "TRTSDT": [t0, t0], "NTPROBL": [1000.0, np.nan]})
    labs = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "B"],
            "date": [t0 - pd.Timedelta(days=5), t0, t0 + pd.Timedelta(days=61), t0 + pd.Timedelta(days=61)],
            "analyte": "ntprobnp",
            "value": [900.0, 1000.0, 1500.0, 700.0],
        }
    )
    nt = figures.ntprobnp_changes(adsl, labs, 30.4375)
    assert list(nt["USUBJID"]) == ["A", "A"]
    assert list(nt["PCHG"]) == pytest.approx([0.0, 50.0])
    assert list(nt["VISIT"]) == [0, 2]


def test_flow_counts_by_hand():
    # 4 treated: hematologic evaluability 2 measurable, 1 low dFLC, 1 not measurable.
    # Heart involved in A, B, C; cardiac evaluable A only -> 1 not involved, 2 below threshold.
    # Kidney involved in A, B, D; B on dialysis; renal evaluable A only -> 1 not involved,
    # 1 on dialysis, 1 below threshold (D). Liver involved nowhere. Dialysis analysis: 3.
    adsl = pd.DataFrame(
        {
            "USUBJID": list("ABCD"),
            "SAFFL": "Y",
            "HEMEVAL": ["measurable", "measurable", "low_dflc", "not_measurable"],
            "HEART": [1, 1, 1, 0],
            "KIDNEY": [1, 1, 0, 1],
            "LIVER": [0, 0, 0, 0],
            "DIALBL": [0, 1, 0, 0],
        }
    )
    adrs = pd.DataFrame(
        {
            "USUBJID": ["A", "B", "A", "B", "D", "A"],
            "PARAMCD": ["BESTCARD", "BESTCARD", "BESTREN", "BESTREN", "BESTREN", "BESTLIV"],
            "EVALFL": ["Y", "N", "Y", "N", "N", "N"],
        }
    )
    fc = figures.flow_counts(adsl, adrs, 3.0)
    assert fc["treated"] == 4
    boxes = {b["title"]: b for b in fc["boxes"]}
    hem = boxes["Hematologic response (ITT)"]
    assert hem["n"] == 4
    assert hem["lines"] == ["dFLC >= threshold: 2", "low dFLC: 1", "not FLC-measurable: 1"]
    assert boxes["Cardiac response"]["n"] == 1
    assert boxes["Cardiac response"]["lines"] == ["heart not involved: 1", "NT-proBNP below threshold or missing: 2"]
    assert boxes["Renal response"]["n"] == 1
    assert boxes["Renal response"]["lines"] == [
        "kidney not involved: 1",
        "on dialysis: 1",
        "proteinuria below threshold or missing: 1",
    ]
    assert boxes["Liver response"]["n"] == 0
    assert boxes["Time to dialysis"]["n"] == 3


def test_swimmer_table_by_hand():
    # Start 2014-01-01; salvage end after 60.875 days (2 months); death at 121.75 days (4 months);
    # first response on day 30; progression (PD) on day 91.3125 (3 months); dialysis at index
    # (DIALBL 1) is not drawn as a new dialysis.
    t0 = pd.Timestamp("2014-01-01")
    adsl = pd.DataFrame(
        {
            "USUBJID": ["A"],
            "TRTSDT": [t0],
            "TRTEDT": [t0 + pd.Timedelta(days=60.875)],
            "LSTCNTDT": [t0 + pd.Timedelta(days=121.75)],
            "DTHDT": [t0 + pd.Timedelta(days=121.75)],
            "DIALDT": [t0 - pd.Timedelta(days=10)],
            "DIALBL": [1],
        }
    )
    adrs = pd.DataFrame(
        {
            "USUBJID": ["A", "A", "A"],
            "PARAMCD": ["HEMRESP", "HEMRESP", "HEMPROG"],
            "AVALC": ["NR", "PR", "PD"],
            "ADY": [10.0, 30.4375, 91.3125],
        }
    )
    t = figures.swimmer_table(adsl, adrs, pd.DataFrame(), 30.4375).iloc[0]
    # dates are whole days: 60.875 days -> 60 days after the start (pandas floors the timedelta)
    assert t["END"] == pytest.approx(60 / 30.4375)
    assert t["RESP"] == pytest.approx(1.0)
    assert t["PROG"] == pytest.approx(3.0)
    assert np.isnan(t["DIAL"])
    assert t["DEATH"] == pytest.approx(121 / 30.4375)


# ---------------------------------------------------------------- results.json access


def test_results_for_figures_reads_the_documented_keys():
    r = make_results()
    out = figures.results_for_figures(r, [3, 6])
    assert dict(out["bortezomib_p"])["sensitive vs refractory"] == 0.395
    assert out["landmark_p"] == {3.0: 0.2, 6.0: 0.0004}
    naive = out["cox"]["terms"][0]
    assert (naive["hr"], naive["ci_low"], naive["ci_high"], naive["p"]) == (0.41, 0.19, 0.91, 0.028)
    assert out["cox"]["n"] == 48 and out["cox"]["events"] == 29


def test_a_missing_results_key_is_named():
    r = make_results()
    del r["results"]["os.cox.mayo2004_III.hr"]
    with pytest.raises(KeyError, match="os.cox.mayo2004_III.hr"):
        figures.results_for_figures(r, [3, 6])


def test_a_missing_column_is_named():
    d = make_derived(n=8)
    d["adsl"] = d["adsl"].drop(columns=["HEMEVAL"])
    with pytest.raises(figures.FigureInputError, match="adsl: missing column.*HEMEVAL"):
        figures.flow_counts(d["adsl"], d["adrs"], 3.0)


@pytest.mark.parametrize(
    "p, expected",
    [(0.0004, "p < 0.001"), (0.001, "p = 0.001"), (0.0284, "p = 0.028"), (0.395, "p = 0.395"), (None, "p = NA")],
)
def test_format_p(p, expected):
    assert figures.format_p(p) == expected


def test_all_missing_columns_are_named_with_their_files(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    d = make_derived(n=8)
    d["adsl"].drop(columns=["HEMEVAL", "DFLCBL"]).to_parquet(p["adsl"], index=False)
    d["adtte"].drop(columns=["CNSR"]).to_parquet(p["adtte"], index=False)
    with pytest.raises(figures.FigureInputError) as err:
        figures.load_inputs(p["adsl"], p["adrs"], p["adtte"], p["labs"], p["results"], [3, 6])
    msg = str(err.value)
    assert f"{p['adsl']}: missing column HEMEVAL" in msg
    assert f"{p['adsl']}: missing column DFLCBL" in msg
    assert f"{p['adtte']}: missing column CNSR" in msg


def test_a_missing_results_key_names_the_file(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    r = make_results()
    del r["results"]["os.landmark_6m.logrank_p"]
    p["results"].write_text(__import__("json").dumps(r))
    with pytest.raises(figures.FigureInputError, match=r"results\.json: .*os\.landmark_6m\.logrank_p"):
        figures.load_inputs(p["adsl"], p["adrs"], p["adtte"], p["labs"], p["results"], [3, 6])


def test_caption_file_records_the_drawing_software(tmp_path):
    import json
    from importlib.metadata import version

    figures.write_caption(tmp_path / "km_os.json", "km_os", "a caption")
    meta = json.loads((tmp_path / "km_os.json").read_text())
    assert meta["title"] == "Overall survival" and meta["caption"] == "a caption"
    assert meta["software"]["matplotlib"] == version("matplotlib")
    assert meta["software"]["lifelines"] == version("lifelines")
