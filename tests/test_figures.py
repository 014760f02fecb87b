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
from config_defaults import figure_params, figure_settings
from helpers import REPO, schema_default
from report_fixtures import make_derived, make_results, write_fixture

PARAMS = figure_params(seed=11, max_patients=200, landmark_months=(3.0, 6.0))

# One fresh interpreter per render: the inputs are loaded as the rule loads them, then every
# figure is drawn with render_figure (the rule's entry, one figure per job) at a given dpi.
RENDER = """
import sys
sys.path[:0] = [{scripts!r}, {tests!r}]
from pathlib import Path
from alsalvage import figures
from config_defaults import figure_params
p = {paths!r}
data = figures.load_inputs({{k: p[k] for k in figures.INPUT_NAMES}}, [3, 6])
params = figure_params(seed=11, max_patients=200, landmark_months=(3.0, 6.0), dpi={dpi})
out = Path({out!r})
for name in figures.FIGURES:
    figures.render_figure(name, data, params, {{f: out / f"{{name}}.{{f}}" for f in figures.FORMATS + ("json",)}})
"""


def render_in_subprocess(paths: dict, out, dpi: int = 300) -> None:
    code = RENDER.format(
        scripts=str(REPO / "workflow" / "scripts"),
        tests=str(REPO / "tests"),
        paths={k: str(v) for k, v in paths.items() if k != "raw"},
        out=str(out),
        dpi=dpi,
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every figure rendered twice at 300 dpi, in two separate interpreters, from the same
    inputs, and once at 150 dpi."""
    base = tmp_path_factory.mktemp("figs")
    paths = write_fixture(base / "in")
    render_in_subprocess(paths, base / "a")
    render_in_subprocess(paths, base / "b")
    render_in_subprocess(paths, base / "dpi150", dpi=150)
    return base


@pytest.mark.slow
@pytest.mark.parametrize("fmt", figures.FORMATS + ("json",))
@pytest.mark.parametrize("name", figures.FIGURES)
def test_two_renders_are_byte_identical(rendered, name, fmt):
    a = (rendered / "a" / f"{name}.{fmt}").read_bytes()
    b = (rendered / "b" / f"{name}.{fmt}").read_bytes()
    assert len(a) > 200
    assert a == b, f"{name}.{fmt} differs between two renders"


@pytest.mark.slow
@pytest.mark.parametrize("name", figures.FIGURES)
def test_dpi_changes_the_raster_files_only(rendered, name):
    """SVG and PDF are vector: the same bytes at any dpi; PNG and TIFF have the pixels of
    the dpi (about half the width and height at 150 as at 300) and say their resolution."""
    from PIL import Image

    for fmt in ("svg", "pdf", "json"):
        assert (rendered / "a" / f"{name}.{fmt}").read_bytes() == (rendered / "dpi150" / f"{name}.{fmt}").read_bytes()
    for fmt in figures.RASTER:
        with Image.open(rendered / "a" / f"{name}.{fmt}") as hi, Image.open(rendered / "dpi150" / f"{name}.{fmt}") as lo:
            # the tight box is measured on the drawn text, so at 1-2% (a few pixels)
            assert hi.size == pytest.approx((2 * lo.size[0], 2 * lo.size[1]), rel=0.02), (hi.size, lo.size)
            assert round(hi.info["dpi"][0]) == 300 and round(lo.info["dpi"][0]) == 150


@pytest.mark.slow
@pytest.mark.parametrize("name", figures.FIGURES)
def test_tiff_is_the_png_in_rgb_lzw(rendered, name):
    from PIL import Image

    with Image.open(rendered / "a" / f"{name}.png") as png, Image.open(rendered / "a" / f"{name}.tiff") as tiff:
        assert tiff.mode == "RGB" and tiff.info["compression"] == "tiff_lzw"
        assert tiff.size == png.size
        assert tiff.tobytes() == png.convert("RGB").tobytes()


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


TIFF_SOFTWARE, TIFF_DATETIME, TIFF_ARTIST, TIFF_HOST = 305, 306, 315, 316


@pytest.mark.slow
@pytest.mark.parametrize("name", figures.FIGURES)
def test_metadata_is_stripped(rendered, name):
    from PIL import Image

    svg = (rendered / "a" / f"{name}.svg").read_text()
    assert "<dc:date>" not in svg
    assert "<dc:creator>" not in svg
    png = png_text_chunks((rendered / "a" / f"{name}.png").read_bytes())
    assert "Software" not in png and "Creation Time" not in png, png.keys()
    pdf = (rendered / "a" / f"{name}.pdf").read_bytes()
    for key in (b"/CreationDate", b"/ModDate", b"/Producer", b"/Creator"):
        assert key not in pdf, f"{name}.pdf carries {key!r}"
    with Image.open(rendered / "a" / f"{name}.tiff") as tiff:
        tags = set(tiff.tag_v2)
    assert not tags & {TIFF_SOFTWARE, TIFF_DATETIME, TIFF_ARTIST, TIFF_HOST}, sorted(tags)


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


# ---------------------------------------------------------------- one job per figure


def test_figure_settings_are_figure_params_fields_with_a_config_source():
    """Every setting a figure declares is a FigureParams field, typed (SETTING_TYPES) and
    read from one configuration key (figure_registry.SETTING_CONFIG); the rule passes a
    figure exactly its declared settings (figure_registry.settings)."""
    from alsalvage import figure_registry as FR

    fields = set(figures.FigureParams.__dataclass_fields__)
    assert all(set(v) <= fields for v in FR.FIGURE_PARAMS.values())
    assert set(figures.SETTING_TYPES) == fields == set(FR.SETTING_CONFIG)
    assert set(FR.FIGURE_INPUTS) == set(FR.FIGURES) == set(FR.FIGURE_PARAMS)
    for name in FR.FIGURES:
        assert set(figure_settings(name)) == set(FR.COMMON_PARAMS + FR.FIGURE_PARAMS[name])
    # no default in the code: the configuration schema is the one source of the defaults
    import dataclasses

    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(figures.FigureParams))


def _paths(out, name):
    return {f: out / f"{name}.{f}" for f in figures.FORMATS + ("json",)}


def _settings(name, params=PARAMS):
    keys = figures.COMMON_PARAMS + figures.FIGURE_PARAMS[name]
    return {k: getattr(params, k) for k in keys}


@pytest.fixture
def fixture_data(tmp_path):
    p = write_fixture(tmp_path / "in", n=12)
    return figures.load_inputs({k: p[k] for k in figures.INPUT_NAMES}, [3, 6])


def test_a_failing_figure_reaches_the_rule_log(fixture_data, tmp_path, monkeypatch):
    from alsalvage.rulelog import rule_log

    monkeypatch.setitem(figures.DRAW, "swimmer", lambda data, params: 1 / 0)
    log = tmp_path / "swimmer.log"
    with pytest.raises(ZeroDivisionError):
        with rule_log(str(log), "figure swimmer", ["results/derived/adsl.parquet"]):
            figures.render_figure("swimmer", fixture_data, PARAMS, _paths(tmp_path / "out", "swimmer"))
    text = log.read_text()
    assert "rule figure swimmer failed: ZeroDivisionError" in text
    assert "results/derived/adsl.parquet" in text
    assert not (tmp_path / "out" / "swimmer.json").exists()


@pytest.mark.parametrize("name", figures.FIGURES)
def test_each_figure_draws_from_its_declared_inputs_and_settings_alone(fixture_data, tmp_path, name):
    # FIGURE_INPUTS and FIGURE_PARAMS decide what the figure's job reads and reruns on:
    # drawing with nothing else given (every other setting UNDECLARED, which fails when
    # used) shows the declarations are complete
    data = {k: v for k, v in fixture_data.items() if k in figures.FIGURE_INPUTS[name]}
    params = figures.FigureParams.for_figure(name, _settings(name))
    figures.render_figure(name, data, params, _paths(tmp_path, name))
    assert all((tmp_path / f"{name}.{f}").stat().st_size > 0 for f in figures.FORMATS + ("json",))
    # the same bytes as with every setting given
    figures.render(name, fixture_data, PARAMS, {"svg": tmp_path / "all.svg"})
    assert (tmp_path / "all.svg").read_bytes() == (tmp_path / f"{name}.svg").read_bytes()
    # and every declared input is really read: without any one of them the drawing fails
    for dropped in figures.FIGURE_INPUTS[name]:
        with pytest.raises(KeyError, match=dropped):
            figures.render(name, {k: v for k, v in data.items() if k != dropped}, PARAMS, {"svg": tmp_path / "x.svg"})


@pytest.mark.parametrize(
    "use",
    [
        lambda v: v + 1,
        lambda v: v < 3,
        lambda v: f"{v:,}",
        lambda v: list(v),
        lambda v: np.random.default_rng(v),
    ],
)
def test_an_undeclared_setting_cannot_be_used(use):
    with pytest.raises(TypeError):
        use(figures.UNDECLARED)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"dpi": 300}, "takes the settings"),  # width_mm missing
        ({"dpi": 300, "width_mm": 100.0, "seed": 1}, "takes the settings"),  # flow uses no seed
    ],
)
def test_for_figure_takes_exactly_the_declared_settings(settings, match):
    with pytest.raises(figures.FigureInputError, match=match):
        figures.FigureParams.for_figure("flow", settings)


def test_for_figure_refuses_an_unknown_risk_row():
    settings = _settings("km_os") | {"km_risk_rows": ["At risk", "Deaths"]}
    with pytest.raises(figures.FigureInputError, match="Deaths"):
        figures.FigureParams.for_figure("km_os", settings)


def test_only_four_figures_read_the_statistics():
    # the four that print log-rank or Gray's p-values or Cox hazard ratios
    waiting = [n for n in figures.FIGURES if "results" in figures.FIGURE_INPUTS[n]]
    assert waiting == ["km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox"]
    # and the labs only by the waterfall and the NT-proBNP lines
    assert [n for n in figures.FIGURES if "labs" in figures.FIGURE_INPUTS[n]] == ["waterfall_dflc", "ntprobnp"]


def test_a_figure_without_its_inputs_is_refused_before_drawing(fixture_data, tmp_path):
    data = {k: v for k, v in fixture_data.items() if k != "results"}
    out = tmp_path / "out"
    with pytest.raises(figures.FigureInputError, match="forest_cox needs results"):
        figures.render_figure("forest_cox", data, PARAMS, _paths(out, "forest_cox"))
    assert not out.exists()  # nothing drawn


# ---------------------------------------------------------------- journal specification


def test_default_width_keeps_the_layout():
    assert figures.figsize(figure_params(), 0.75, 4.2) == (7.0 * 0.75, 4.2)
    assert figures.figsize(figure_params(), 1.0, 3.4) == (7.0, 3.4)
    # one column: the same proportions, smaller
    w, h = figures.figsize(figure_params(width_mm=88.9), 1.0, 3.4)
    assert (w, h) == pytest.approx((3.5, 1.7))


@pytest.mark.parametrize("name", ["landmark_os", "swimmer", "ntprobnp"])
def test_png_width_follows_width_mm(fixture_data, tmp_path, name):
    """The saved width is the canvas width (figsize) within 10%: the files are cropped to
    the drawn content (tight box, 0.08 in padding). Below about 120 mm, text at its point
    size can overflow the canvas of some figures (docs/methods.md, "Figures")."""
    from PIL import Image

    got = {}
    for width_mm in (120.0, 177.8):
        params = figure_params(width_mm=width_mm, dpi=300)
        figures.render(name, fixture_data, params, {"png": tmp_path / "x.png"})
        with Image.open(tmp_path / "x.png") as img:
            got[width_mm] = img.size[0] / 300 * 25.4
        frac = 0.75 if name == "ntprobnp" else 1.0
        assert got[width_mm] == pytest.approx(frac * width_mm, rel=0.1), got
    assert got[120.0] < got[177.8]


@pytest.mark.parametrize(
    "rows, words",
    [
        (("At risk",), "number at risk"),
        (("At risk", "Censored", "Events"), "number at risk and cumulative numbers censored and with an event"),
        (("At risk", "Events"), "number at risk and cumulative number with an event"),
        (("Censored",), "cumulative number censored"),
    ],
)
def test_risk_table_rows_are_drawn_and_captioned(fixture_data, tmp_path, rows, words):
    params = figure_params(km_risk_rows=rows)
    for name in ("km_os", "km_os_by_group"):
        caption = figures.render(name, fixture_data, params, {"svg": tmp_path / f"{name}.svg"})
        assert f"table: {words}" in caption
    # the default draws the table of before issue 16 (at risk only); other rows add to it
    figures.render("km_os", fixture_data, PARAMS, {"svg": tmp_path / "default.svg"})
    same = (tmp_path / "km_os.svg").read_bytes() == (tmp_path / "default.svg").read_bytes()
    assert same == (rows == ("At risk",))


def test_unknown_figure_is_refused(fixture_data, tmp_path):
    with pytest.raises(figures.FigureInputError, match="unknown figure.*km_pfs"):
        figures.render_figure("km_pfs", fixture_data, PARAMS, {})


def test_load_inputs_reads_only_what_it_is_given(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    data = figures.load_inputs({"adtte": p["adtte"], "results": p["results"]}, [3, 6])
    assert set(data) == {"adtte", "results"}
    with pytest.raises(figures.FigureInputError, match="unknown figure input.*adae"):
        figures.load_inputs({"adae": p["adtte"]}, [3, 6])


# ---------------------------------------------------------------- legibility at large N


def test_censor_ticks_all_drawn_up_to_the_limit():
    # 5 patients, censored (event 0) at 2, 3 and 5 months: 3 censored <= limit 3 -> no
    # sampling (lifelines draws a tick at every censored time)
    times, n = figures.censor_tick_times([1, 2, 3, 4, 5], [1, 0, 0, 1, 0], 3, seed=1)
    assert len(times) == 0 and n == 3


def test_censor_ticks_sampled_beyond_the_limit_are_seeded():
    # 6 censored patients at 1..6 months (two at 4), limit 2: 2 of the 6 censored patients,
    # drawn at their (distinct, sorted) times, the same for the same seed
    durations = [1, 2, 3, 4, 4, 6, 7]
    events = [0, 0, 0, 0, 0, 0, 1]
    a, n = figures.censor_tick_times(durations, events, 2, seed=5)
    b, _ = figures.censor_tick_times(durations, events, 2, seed=5)
    assert n == 6
    assert 1 <= len(a) <= 2 and set(a) <= {1.0, 2.0, 3.0, 4.0, 6.0} and list(a) == sorted(a)
    assert list(a) == list(b)
    draws = {tuple(figures.censor_tick_times(durations, events, 2, seed=k)[0]) for k in range(20)}
    assert len(draws) > 1  # the seed matters


def _tick_points(ax) -> int:
    return sum(len(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "|")


@pytest.mark.parametrize(
    "max_patients, expected_ticks",
    [
        # 8 patients censored at 1..8 months (distinct), 2 deaths: limit 8 -> all 8 ticks
        (8, 8),
        # limit 3 -> ticks for a sample of 3 censored patients (distinct times: 3 ticks)
        (3, 3),
    ],
)
def test_km_censor_ticks_drawn(max_patients, expected_ticks):
    import matplotlib.pyplot as plt

    durations = np.array([1, 2, 3, 4, 5, 6, 7, 8, 2.5, 6.5])
    events = np.array([0] * 8 + [1, 1], bool)
    params = figure_params(seed=3, max_patients=max_patients)
    kmf = figures._km(durations, events, "all", 0.05)
    fig, ax = plt.subplots()
    try:
        sampled = figures.plot_km(ax, kmf, durations, events, params, "#000000", 7, ci_show=False)
        assert _tick_points(ax) == expected_ticks
        assert sampled == (0 if max_patients >= 8 else 8)
    finally:
        plt.close(fig)


def _captions_of_30(draws, params) -> list[str]:
    """The caption of each draw function on a 30-patient cohort (figures closed)."""
    import matplotlib.pyplot as plt

    d = make_derived(n=30, seed=3)
    d["results"] = figures.results_for_figures(make_results(), [3, 6])
    captions = []
    for draw in draws:
        fig, caption = draw(d, params)
        plt.close(fig)
        captions.append(caption)
    return captions


def test_km_captions_say_ticks_are_sampled():
    km = (figures.draw_km_os, figures.draw_km_os_by_group, figures.draw_landmark_os)
    for caption in _captions_of_30(km, figure_params(seed=2, max_patients=3)):
        assert "Ticks mark a random sample of 3 of the" in caption and "(seed 2)" in caption, caption
    for caption in _captions_of_30(km, PARAMS):  # 30 patients, limit 200: every tick, no note
        assert "random sample" not in caption, caption


def test_cif_steps_by_hand():
    # times 1 (dialysis), 1 (dialysis), 2+, 3 (death), 4 (dialysis), 5+; n = 6.
    # F(1) = 2/6 = 1/3; censoring at 2 and the competing death at 3 leave F unchanged;
    # at 4: S(4-) = 4/6 * 2/3 = 4/9, n = 2 -> F = 1/3 + 4/9 * 1/2 = 5/9; the curve ends at 5.
    from alsalvage import survival as S

    tab = S.aj_table([1, 1, 2, 3, 4, 5], [1, 1, 0, 2, 1, 0], cause=1, alpha=schema_default("stats.alpha"))
    steps = figures.cif_steps(tab)
    assert list(steps["time"]) == [0.0, 1.0, 4.0, 5.0]  # origin added; 2, 3 repeat 1
    assert steps["cif"].to_numpy() == pytest.approx([0, 1 / 3, 5 / 9, 5 / 9], abs=1e-15)
    assert np.isnan(steps["lower"].iat[0]) and steps["lower"].iat[1] < 1 / 3 < steps["upper"].iat[1]
    # an event at time 0: the curve starts at F(0) = 1/4 at 0, no origin row added
    zero = figures.cif_steps(S.aj_table([0, 1, 2, 3], [1, 0, 1, 0], cause=1, alpha=schema_default("stats.alpha")))
    assert list(zero["time"]) == [0.0, 2.0, 3.0]
    assert zero["cif"].to_numpy() == pytest.approx([1 / 4, 1 / 4 + 3 / 4 * 1 / 2, 5 / 8], abs=1e-15)


def test_cif_figure_draws_the_exact_estimator():
    import matplotlib.pyplot as plt

    from alsalvage import survival as S

    d = make_derived(n=30, seed=3)
    d["results"] = figures.results_for_figures(make_results(), [3, 6])
    fig, caption = figures.draw_cif_dialysis(d, PARAMS)
    try:
        assert "jitter" not in caption and "seed" not in caption
        tte = d["adtte"][d["adtte"]["PARAMCD"] == "TTDIAL"]
        status = tte["CAUSEN"].to_numpy(int)
        want = figures.cif_steps(S.aj_table(tte["AVAL"].to_numpy(float), status, cause=1, alpha=PARAMS.alpha))
        dialysis = next(line for line in fig.axes[0].get_lines() if line.get_label() == "Dialysis")
        assert dialysis.get_drawstyle() == "steps-post"
        assert list(dialysis.get_xdata()) == list(want["time"])
        assert list(dialysis.get_ydata()) == list(want["cif"])
    finally:
        plt.close(fig)


def test_cif_by_bortezomib_group_is_drawn_with_grays_p():
    """Right panel: one dialysis curve per group, the steps (figures.cif_steps: a vertex
    where the estimate changes, and the last time) of survival.aalen_johansen. Hand cohort (months, CAUSEN): naive 1 dialysis at 2, 4 censored ->
    CIF 1/2 from 2; refractory 1 death at 1, 3 dialysis at 3 -> S = 1/2 after 1, CIF
    1/2 from 3; no sensitive patient (no curve)."""
    import matplotlib.pyplot as plt

    adsl = pd.DataFrame({"USUBJID": list("ABCD"), "PEXGRP": ["naive", "naive", "refractory", "refractory"]})
    adtte = pd.DataFrame(
        {"USUBJID": list("ABCD"), "PARAMCD": "TTDIAL", "AVAL": [2.0, 4.0, 1.0, 3.0], "CNSR": [0, 1, 1, 0], "CAUSEN": [1, 0, 2, 1]}
    )
    results = figures.results_for_figures(make_results(), [3, 6])
    fig, caption = figures.draw_cif_dialysis({"adsl": adsl, "adtte": adtte, "results": results}, PARAMS)
    try:
        right = fig.axes[1]
        lines = {line.get_label(): line for line in right.get_lines()}
        assert sorted(lines) == ["Naive (n = 2)", "Refractory (n = 2)"]
        assert list(lines["Naive (n = 2)"].get_xdata()) == [0.0, 2.0, 4.0]
        assert list(lines["Naive (n = 2)"].get_ydata()) == pytest.approx([0.0, 0.5, 0.5])
        # the competing death at 1 leaves the dialysis curve at 0: no vertex there
        assert list(lines["Refractory (n = 2)"].get_xdata()) == [0.0, 3.0]
        assert list(lines["Refractory (n = 2)"].get_ydata()) == pytest.approx([0.0, 0.5])
        texts = " ".join(t.get_text() for t in right.texts)
        # make_results: Gray p 0.52, 0.031, 0.0004
        assert texts == "Gray's test\n3 groups: p = 0.520\nsensitive vs refractory: p = 0.031\nnaive vs exposed: p < 0.001"
        assert "(n: naive 2, refractory 2)" in caption and "Gray's test" in caption
    finally:
        plt.close(fig)


def test_cif_reads_the_cause_not_cnsr():
    """The competing death is CAUSEN 2 with CNSR 1: drawn as 'Death without dialysis',
    not as censoring. 2 patients: death at 1 (CAUSEN 2), dialysis at 2: the death curve
    is 1/2 from 1, the dialysis curve 1/2 from 2 (1 - KM would say 1)."""
    import matplotlib.pyplot as plt

    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "PEXGRP": ["naive", "naive"]})
    adtte = pd.DataFrame({"USUBJID": ["A", "B"], "PARAMCD": "TTDIAL", "AVAL": [1.0, 2.0], "CNSR": [1, 0], "CAUSEN": [2, 1]})
    results = figures.results_for_figures(make_results(), [3, 6])
    fig, caption = figures.draw_cif_dialysis({"adsl": adsl, "adtte": adtte, "results": results}, PARAMS)
    try:
        assert "(1 dialysis, 1 competing deaths)" in caption
        naive = next(line for line in fig.axes[1].get_lines() if line.get_label().startswith("Naive"))
        assert list(naive.get_xdata()) == [0.0, 2.0]  # no vertex at the competing death
        assert list(naive.get_ydata()) == pytest.approx([0.0, 0.5])
        death = next(line for line in fig.axes[0].get_lines() if line.get_label() == "Death without dialysis")
        assert list(death.get_xdata()) == [0.0, 1.0, 2.0]
        assert list(death.get_ydata()) == pytest.approx([0.0, 0.5, 0.5])
    finally:
        plt.close(fig)


def test_flow_counts_have_thousands_separators():
    # 1,200 treated, all with dFLC >= threshold, none with an involved organ or dialysis
    adsl = pd.DataFrame(
        {
            "USUBJID": [f"P{i}" for i in range(1200)],
            "SAFFL": "Y",
            "HEMEVAL": "measurable",
            "HEART": 0,
            "KIDNEY": 0,
            "LIVER": 0,
            "DIALBL": 0,
        }
    )
    adrs = pd.DataFrame({"USUBJID": [], "PARAMCD": [], "EVALFL": []})
    boxes = {b["title"]: b for b in figures.flow_counts(adsl, adrs, 3.0)["boxes"]}
    assert boxes["Hematologic response (ITT)"]["lines"][0] == "dFLC >= threshold: 1,200"
    assert boxes["Cardiac response"]["lines"][0] == "heart not involved: 1,200"
    assert boxes["Time to dialysis"]["n"] == 1200


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
    _, note = figures.sample_patients(pd.Series([f"P{i:05d}" for i in range(12000)]), 200, seed=5)
    assert "200 of 12,000 patients" in note


def test_large_cohort_caption_says_it_samples():
    per_patient = (figures.draw_swimmer, figures.draw_waterfall_dflc, figures.draw_ntprobnp)
    for caption in _captions_of_30(per_patient, figure_params(seed=2, max_patients=12)):
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
        {"USUBJID": ["A", "B"], "PARAMCD": "HEMRESP", "AVALC": ["PR", "PR"], "ADY": [60, 120], "ANL01FL": "Y"}
    )
    t = figures.landmark_table(adtte, adrs, 3.0, 30.4375, True).set_index("USUBJID")
    assert sorted(t.index) == ["A", "B"]
    assert t.loc["A", "RESP"] == "Responder" and t.loc["B", "RESP"] == "Non-responder"
    assert t.loc["A", "AVAL"] == pytest.approx(7.0) and t.loc["B", "AVAL"] == pytest.approx(2.0)
    assert list(t.loc[["A", "B"], "CNSR"]) == [1, 0]


@pytest.mark.parametrize(
    "avalc, anl01fl, low_dflc_counts, responder",
    [
        ("PR", "Y", True, True),
        ("CR", "Y", False, True),
        ("PR", "N", True, False),  # outside the best-response window: not analysed
        ("LOWDFLC", "Y", True, True),  # hematologic.low_dflc_counts_as_response: true
        ("LOWDFLC", "Y", False, False),  # ... false: as the statistics count it
        ("NR", "Y", True, False),
    ],
)
def test_landmark_figure_splits_responders_as_the_statistics(avalc, anl01fl, low_dflc_counts, responder):
    """The landmark figure's groups are those of the log-rank p printed on it
    (os.landmark_<m>m.logrank_p): the same analysis-window flag and low-dFLC setting."""
    adtte = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": "OS", "AVAL": [10.0], "CNSR": [1]})
    adrs = pd.DataFrame(
        {"USUBJID": ["A"], "PARAMCD": "HEMRESP", "AVALC": [avalc], "ADY": [60], "ANL01FL": [anl01fl]}
    )
    t = figures.landmark_table(adtte, adrs, 3.0, 30.4375, low_dflc_counts)
    assert t["RESP"].tolist() == ["Responder" if responder else "Non-responder"]


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
            "ANL01FL": ["Y", "Y", "Y"],
        }
    )
    t = figures.swimmer_table(adsl, adrs, 30.4375, False).iloc[0]
    # dates are whole days: 60.875 days -> 60 days after the start (pandas floors the timedelta)
    assert t["END"] == pytest.approx(60 / 30.4375)
    assert t["RESP"] == pytest.approx(1.0)
    assert t["PROG"] == pytest.approx(3.0)
    assert np.isnan(t["DIAL"])
    assert t["DEATH"] == pytest.approx(121 / 30.4375)


@pytest.mark.parametrize(
    "avalc, anl01fl, low_dflc_counts, first_day",
    [
        (["NR", "PR", "CR"], ["Y", "Y", "Y"], False, 20.0),
        (["LOWDFLC", "PR", "CR"], ["Y", "Y", "Y"], False, 20.0),  # low-dFLC not counted
        (["LOWDFLC", "PR", "CR"], ["Y", "Y", "Y"], True, 10.0),  # ... unless the setting counts it
        (["PR", "VGPR", "CR"], ["N", "Y", "Y"], False, 20.0),  # outside the analysis window
        (["NR", "NR", "NR"], ["Y", "Y", "Y"], True, None),
    ],
)
def test_swimmer_first_response_as_the_statistics_count_it(avalc, anl01fl, low_dflc_counts, first_day):
    t0 = pd.Timestamp("2014-01-01")
    adsl = pd.DataFrame(
        {"USUBJID": ["A"], "TRTSDT": [t0], "TRTEDT": [t0 + pd.Timedelta(days=60)], "LSTCNTDT": [t0 + pd.Timedelta(days=90)],
         "DTHDT": [pd.NaT], "DIALDT": [pd.NaT], "DIALBL": [0]}
    )
    adrs = pd.DataFrame(
        {"USUBJID": ["A"] * 3, "PARAMCD": ["HEMRESP"] * 3, "AVALC": avalc, "ADY": [10.0, 20.0, 30.0], "ANL01FL": anl01fl}
    )
    t = figures.swimmer_table(adsl, adrs, 30.0, low_dflc_counts).iloc[0]
    if first_day is None:
        assert np.isnan(t["RESP"])
    else:
        assert t["RESP"] == pytest.approx(first_day / 30.0)


# ---------------------------------------------------------------- results.json access


def test_results_for_figures_reads_the_documented_keys():
    r = make_results()
    out = figures.results_for_figures(r, [3, 6])
    assert dict(out["group_p"])["sensitive vs refractory"] == 0.395
    assert out["landmark_p"] == {3.0: 0.2, 6.0: 0.0004}
    naive = out["cox"]["terms"][0]
    assert (naive["hr"], naive["ci_low"], naive["ci_high"], naive["p"]) == (0.41, 0.19, 0.91, 0.028)
    assert out["cox"]["n"] == 48 and out["cox"]["events"] == 29
    assert out["gray_p"] == [("3 groups", 0.52), ("sensitive vs refractory", 0.031), ("naive vs exposed", 0.0004)]


def test_a_missing_results_key_is_named():
    r = make_results()
    del r["results"]["os.cox.events"]
    with pytest.raises(KeyError, match="os.cox.events"):
        figures.results_for_figures(r, [3, 6])


def test_forest_terms_are_the_fitted_model_terms():
    # analysis.cox_covariates: the forest draws the terms results.json has, the default
    # ones first (their figure labels), others with their record's label
    r = make_results()
    del r["results"]["os.cox.mayo2004_III.hr"]
    r["results"]["os.cox.age.hr"] = dict(r["results"]["os.cox.mayo2004_II.hr"], label="HR age (per 10 years)")
    terms = figures.results_for_figures(r, [3, 6])["cox"]["terms"]
    # the naive label is worded at drawing time from the grouping (exposure_label)
    assert [t["label"] for t in terms] == ["{naive} vs exposed", "Mayo 2004 stage II vs I", "age (per 10 years)"]


def test_a_missing_column_is_named():
    d = make_derived(n=8)
    d["adsl"] = d["adsl"].drop(columns=["HEMEVAL"])
    with pytest.raises(figures.FigureInputError, match="adsl: missing column.*HEMEVAL"):
        figures.flow_counts(d["adsl"], d["adrs"], 3.0)


@pytest.mark.parametrize(
    "p, expected",
    [(0.0004, "p < 0.001"), (0.001, "p = 0.001"), (0.0284, "p = 0.028"), (0.395, "p = 0.395"), (None, "p not estimable"), (float("nan"), "p not estimable")],
)
def test_format_p(p, expected):
    assert figures.format_p(p) == expected


def test_all_missing_columns_are_named_with_their_files(tmp_path):
    p = write_fixture(tmp_path / "in", n=8)
    d = make_derived(n=8)
    d["adsl"].drop(columns=["HEMEVAL", "DFLCBL"]).to_parquet(p["adsl"], index=False)
    d["adtte"].drop(columns=["CNSR"]).to_parquet(p["adtte"], index=False)
    with pytest.raises(figures.FigureInputError) as err:
        figures.load_inputs({k: p[k] for k in figures.INPUT_NAMES}, [3, 6])
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
        figures.load_inputs({k: p[k] for k in figures.INPUT_NAMES}, [3, 6])


def test_caption_file_records_the_drawing_software(tmp_path):
    import json
    from importlib.metadata import version

    figures.write_caption(tmp_path / "km_os.json", "km_os", "a caption")
    meta = json.loads((tmp_path / "km_os.json").read_text())
    assert meta["title"] == "Overall survival" and meta["caption"] == "a caption"
    assert meta["software"]["matplotlib"] == version("matplotlib")
    assert meta["software"]["lifelines"] == version("lifelines")


# --------------------------------------------------------------------------- layout of km_os_by_group


def _by_group_cohort(sizes: dict[str, int], seed: int = 5) -> dict:
    """ADSL/ADTTE with OS for the given number of patients per prior-bortezomib group
    (times rounded to 0.1 month: few distinct times, quick to draw at 100,000)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(list(sizes), list(sizes.values()))
    ids = [f"P{i:06d}" for i in range(len(groups))]
    aval = np.round(rng.exponential(30.0, len(groups)) + 0.1, 1)
    cnsr = (rng.random(len(groups)) < 0.3).astype(int)
    adsl = pd.DataFrame({"USUBJID": ids, "PEXGRP": groups})
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": aval, "CNSR": cnsr})
    p = [("3 groups", 0.085), ("sensitive vs refractory", 0.93), ("naive vs exposed", 0.027)]
    return {"adsl": adsl, "adtte": adtte, "results": {"group_p": p}}


@pytest.mark.parametrize(
    "sizes",
    [
        # the demo cohort: 14 naive, 15 sensitive, 21 refractory
        {"naive": 14, "sensitive": 15, "refractory": 21},
        # 100,000 patients: the at-risk counts and n run to 5 digits
        {"naive": 33_334, "sensitive": 24_666, "refractory": 42_000},
    ],
    ids=["n50", "n100k"],
)
def test_km_os_by_group_key_title_and_at_risk_table_stay_clear_at_any_n(sizes):
    import matplotlib
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(figures.STYLE):
        fig, caption = figures.draw_km_os_by_group(_by_group_cohort(sizes), PARAMS)
        try:
            renderer = fig.canvas.get_renderer()
            ax, table = fig.axes[0], fig.axes[1]  # the curves; the at-risk table (twin axes)
            plot = ax.get_window_extent(renderer)
            page = fig.bbox
            legend = ax.get_legend()
            key = legend.get_window_extent(renderer)
            title = ax.title.get_window_extent(renderer)
            labels = [t for t in table.get_xticklabels() if t.get_text()]
            rows = [t.get_window_extent(renderer) for t in labels]

            # the key is outside the plotting area (above it), the title above the key
            assert key.y0 >= plot.y1 - 0.5, (key, plot)
            assert title.y0 >= key.y1 - 0.5, (title, key)
            # title, key and every at-risk label lie on the canvas
            for box in [title, key, *rows]:
                assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5, (box, page)
            # the at-risk table is below the plotting area, not beside it
            assert all(r.y1 <= plot.y0 + 0.5 for r in rows), (rows, plot)
            # the axes keep most of the width (at 100,000 with "(n = 42,000)" row labels
            # they were pushed into the right half)
            assert plot.width >= 0.7 * page.width, (plot.width, page.width)

            # short labels: group names only; each row's first count (time 0) is the group n
            assert [t.get_text() for t in legend.get_texts()] == ["Naive", "Sensitive", "Refractory"]
            first = labels[0].get_text().splitlines()
            assert [line.split()[0] for line in first] == ["At", "Naive", "Sensitive", "Refractory"]
            assert [int(line.split()[1]) for line in first[1:]] == list(sizes.values())
            n = ", ".join(f"{g} {k:,}" for g, k in sizes.items())
            assert f"(n: {n})" in caption, caption
        finally:
            plt.close(fig)


@pytest.mark.parametrize("stratified", [False, True])
def test_captions_say_when_tests_were_stratified_by_centre(stratified):
    """analysis.centre.stratify: the records' methods say "stratified by centre", and so do
    the captions of the three figures that print those p-values; without it none does."""
    import matplotlib.pyplot as plt

    r = make_results()
    if stratified:
        for key, rec in r["results"].items():
            if key.endswith((".logrank_p", ".gray_p")):
                rec["method"] = (rec.get("method") or "log-rank") + ", stratified by centre"
    d = make_derived(n=30, seed=3)
    d["results"] = figures.results_for_figures(r, [3, 6])
    assert d["results"]["stratified"] == {"group_p": stratified, "gray_p": stratified, "landmark_p": stratified}
    for draw in (figures.draw_km_os_by_group, figures.draw_landmark_os, figures.draw_cif_dialysis):
        fig, caption = draw(d, PARAMS)
        plt.close(fig)
        assert ("stratified by centre" in caption) == stratified, (draw.__name__, caption)
    fig, caption = figures.draw_km_os(d, PARAMS)  # overall OS: no test, never stratified
    plt.close(fig)
    assert "stratified" not in caption
