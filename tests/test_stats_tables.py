"""Statistics tables on a hand-built 10-patient cohort (tests/stats_data.small_cohort):
every expected count below is read off the cohort by hand (see the comments)."""

from __future__ import annotations

import json
import math
import sys

import pandas as pd
import pytest

from helpers import REPO
from stats_data import small_cohort

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage import tables as T  # noqa: E402


@pytest.fixture(scope="module")
def d():
    return small_cohort()


def by_key(records):
    out = {r["key"]: r for r in records}
    assert len(out) == len(records), "duplicate keys"
    return out


def nd(r):
    return (r["n"], r["denominator"])


def test_table1(d):
    r = by_key(T.table1(d["adsl"]))
    assert r["baseline.n"]["estimate"] == 10
    # ages sorted 42 48 50 55 60 63 66 70 71 82: median (60 + 63) / 2 = 61.5 -> "62" half up
    assert r["baseline.age.median"]["estimate"] == 61.5
    assert r["baseline.age.median"]["formatted"] == "62 (42-82)"
    assert nd(r["baseline.sex.male"]) == (6, 10)  # P01 P02 P04 P06 P08 P09
    assert nd(r["baseline.organ.heart"]) == (7, 10)
    assert nd(r["baseline.dialysis"]) == (2, 10)  # P03 P07
    assert r["baseline.egfr.missing"]["estimate"] == 2  # dialysis patients have no eGFR
    # Mayo 2004: I = P01 P06, II = P02 P04 P07 P09, III = P03 P05 P08; P10 missing -> denominator 9
    assert [nd(r[f"baseline.mayo2004.{s}"]) for s in ("I", "II", "III")] == [(2, 9), (4, 9), (3, 9)]
    assert r["baseline.mayo2004.missing"]["estimate"] == 1
    assert nd(r["baseline.sex.by_bortgrp.refractory.male"]) == (3, 5)  # P06 P08 P09
    assert r["baseline.age.by_bortgrp.naive.median"]["estimate"] == 60  # 50, 60, 70
    assert nd(r["prior.bortezomib.exposed"]) == (7, 10)
    assert nd(r["prior.bortezomib.refractory"]) == (5, 10)


def test_response(d):
    r = by_key(T.response(d["adsl"], d["adrs"], landmarks=(3, 6)))
    # best: CR P01, VGPR P02 P09, PR P04 P07, LOWDFLC P05, NR P03 P06 P08, none P10 (-> NR)
    assert nd(r["hem.itt.ge_pr"]) == (6, 10)
    assert nd(r["hem.itt.ge_vgpr"]) == (4, 10)  # CR + 2 VGPR + low-dFLC (counted)
    assert nd(r["hem.itt.nr"]) == (4, 10)
    assert nd(r["hem.evaluable.ge_pr"]) == (6, 8)  # P08, P10 not evaluable
    assert nd(r["hem.by_bortezomib.exposed.ge_pr"]) == (4, 7)  # P04 P05 P07 P09
    assert nd(r["hem.by_bortezomib.naive.ge_pr"]) == (2, 3)
    assert nd(r["hem.refractory_vs_non.refractory.ge_pr"]) == (2, 5)  # P07 P09
    assert nd(r["hem.refractory_vs_non.non_refractory.ge_pr"]) == (4, 5)
    # [[2, 3], [4, 1]]: hypergeometric (6, 60, 120, 60, 6) / 252; observed 60 -> 132/252
    assert r["hem.refractory_vs_non.p_fisher"]["p"] == pytest.approx(132 / 252)
    assert r["hem.refractory_vs_non.p_fisher"]["formatted"] == "0.524"
    chi2 = 10 * (2 * 1 - 3 * 4) ** 2 / (5 * 5 * 6 * 4)
    assert r["hem.refractory_vs_non.p_chi2"]["statistic"] == pytest.approx(chi2)
    assert r["hem.refractory_vs_non.p_chi2"]["note"] == "an expected count is below 5"
    # by 3 months (<= 91.3 days): P01 PR d30, P02 VGPR d80, P05 LOWDFLC d60
    assert nd(r["hem.at_3m.ge_pr"]) == (3, 10)
    assert nd(r["hem.at_3m.ge_vgpr"]) == (2, 10)
    # by 6 months (<= 182.6 days): + P04 d100, P07 d170 (P09 d200 too late)
    assert nd(r["hem.at_6m.ge_pr"]) == (5, 10)


def test_response_without_low_dflc(d):
    r = by_key(T.response(d["adsl"], d["adrs"], low_dflc_counts=False))
    assert nd(r["hem.itt.ge_pr"]) == (5, 10)  # P05's low-dFLC response no longer counts
    assert nd(r["hem.itt.lowdflc"]) == (1, 10)


def test_organ(d):
    r = by_key(T.organ(d["adsl"], d["adrs"], d["labs"], landmarks=(3, 6)))
    # evaluable for >= 1 organ: P01-P07 (P08-P10 not); responders P01 (renal), P03 (liver)
    assert nd(r["organ.any"]) == (2, 7)
    assert nd(r["organ.renal"]) == (1, 5)
    assert nd(r["organ.renal.progression"]) == (1, 5)  # P04
    assert nd(r["organ.cardiac"]) == (0, 5)
    assert nd(r["organ.liver"]) == (1, 1)
    assert r["organ.cardiac.imid_flagged"]["estimate"] == 2  # P01, P02
    assert r["organ.cardiac.egfr_flagged"]["estimate"] == 1  # P02
    # 3 months = 91.3 days +- 30: P01 d95 300 -> 450 (+50%), P02 d85 2000 -> 3000 (+50%),
    # P04 d120 1500 -> 1500 (0%), P05 d91 5000 -> 4000 (-20%); P07 d60 is outside the window
    assert r["organ.ntprobnp.pct_change_3m.median"]["estimate"] == pytest.approx(25.0)
    assert r["organ.ntprobnp.pct_change_3m.median"]["n"] == 4
    assert nd(r["organ.ntprobnp.rise_3m"]) == (2, 4)
    # 6 months: P01 d180 -33.3%, P02 d200 -50%
    assert r["organ.ntprobnp.pct_change_6m.median"]["estimate"] == pytest.approx((-100 / 3 - 50) / 2)


def test_renal(d):
    r = by_key(T.renal(d["adsl"], d["adtte"], timepoints=(12, 24), seed=1))
    assert nd(r["renal.dialysis.crude"]) == (3, 8)  # P02 P04 P09 of the 8 not on dialysis
    assert nd(r["renal.dialysis.crude_of_treated"]) == (3, 10)
    # times: 2 death, 6 dialysis, 10 death, 12+, 15+, 18 dialysis, 20 dialysis, 30+
    # all-cause KM: 7/8 after 2, 6/8 after 6, 5/8 after 10, 5/12 after 18
    # CIF dialysis: 6: 7/8 * 1/7 = 1/8; 18: + 5/8 * 1/3; 20: + 5/12 * 1/2
    assert r["renal.dialysis.cif_12m"]["estimate"] == pytest.approx(1 / 8)
    assert r["renal.dialysis.cif_24m"]["estimate"] == pytest.approx(1 / 8 + 5 / 24 + 5 / 24)
    # competing: 2: 1/8; 10: + 6/8 * 1/6
    assert r["renal.death_no_dialysis.cif_12m"]["estimate"] == pytest.approx(1 / 4)


def test_survival(d):
    r = by_key(T.survival(d["adsl"], d["adtte"], d["adrs"], timepoints=(12, 24), landmarks=(3, 6)))
    # OS: 2, 3.5, 4, 10 deaths; 12+, 15+; 20, 24 deaths; 30+, 40+
    # KM: .9 .8 .7 .6, then 20: .6 * 3/4 = .45 -> median 20; S(24) = .45 * 2/3 = .3
    assert r["os.events"]["estimate"] == 6
    assert r["os.median"]["estimate"] == 20.0
    assert r["os.surv_12m"]["estimate"] == pytest.approx(0.6)
    assert r["os.surv_24m"]["estimate"] == pytest.approx(0.3)
    # reverse KM: censorings 12 (6 at risk), 15 (5), 30 (2): 5/6, 4/6, 2/6 -> 30
    assert r["os.followup_median"]["estimate"] == 30.0
    assert r["os.by_bortgrp.logrank_p"]["df"] == 2
    cox = r["os.cox.naive_vs_exposed.hr"]
    assert cox["n"] == 9  # P10 has no Mayo stage
    assert "per parameter" in cox["note"]  # 6 events, 3 parameters
    # the only stage I deaths-free pattern makes the stage terms diverge (monotone likelihood):
    # stage I = P01 (censored 30), P06 (censored 15) -> no stage I deaths
    assert "diverge" in r["os.cox.mayo2004_II.hr"]["note"]
    assert r["os.cox.events_per_parameter"]["estimate"] == pytest.approx(2.0)
    # landmark 3 months: alive at 3 = all but P08 (died at 2); responders by 3 months P01 P02 P05
    assert r["os.landmark_3m.n"]["estimate"] == 9
    assert r["os.landmark_3m.responder.events"]["n"] == 3
    assert r["os.landmark_3m.responder.events"]["estimate"] == 2  # P02, P05 died


def test_exposure(d):
    r = by_key(T.exposure(d["adsl"], d["adtte"]))
    assert r["exposure.dose.median"]["formatted"] == "10 (5-15)"
    assert r["exposure.dose_max.n_25mg"]["estimate"] == 0
    # cycles 1 2 3 4 6 7 8 9 10 12: median 6.5
    assert r["exposure.cycles.median"]["estimate"] == 6.5
    # durations .9 1.8 2.7 3.6 5.5 6.4 7.4 8.3 9.2 11.0: median 5.95 -> "6.0"
    assert r["exposure.duration.median"]["estimate"] == pytest.approx(5.95)
    assert r["exposure.duration.median"]["formatted"] == "6.0 (0.9-11.0)"
    assert nd(r["discontinuation.early"]) == (5, 10)  # P03 P05 P06 P08 P09
    assert nd(r["discontinuation.reason.progression_or_no_response"]) == (2, 10)  # P05 P09
    assert nd(r["discontinuation.reason.toxicity"]) == (2, 10)  # P03 P08
    assert nd(r["discontinuation.reason.decision"]) == (1, 10)  # P06
    assert nd(r["discontinuation.death_on_therapy"]) == (1, 10)  # P07


def test_toxicity(d):
    r = by_key(T.toxicity(d["adsl"], d["adae"]))
    assert nd(r["tox.any.anemia"]) == (4, 10)  # P01 P02 P03 P08
    assert nd(r["tox.gr3.anemia"]) == (2, 10)  # P02 (3), P03 (4)
    assert nd(r["tox.any.rash_maculo_papular"]) == (2, 10)  # two spellings, one slug
    assert nd(r["tox.gr3.rash_maculo_papular"]) == (1, 10)
    assert nd(r["tox.gr3.fatigue"]) == (1, 10)
    assert nd(r["tox.any_event"]) == (6, 10)
    assert nd(r["tox.any_gr3"]) == (3, 10)


def test_bad_input_lists_every_problem(d):
    adtte = d["adtte"].copy()
    adtte.loc[0, "CNSR"] = 3
    adtte.loc[1, "AVAL"] = -1.0
    adsl = d["adsl"].drop(columns=["MAYO04"])
    adae = d["adae"].assign(USUBJID=lambda x: x["USUBJID"].where(x.index != 2, "P99"))
    files = {"adsl": "adsl.csv", "adtte": "adtte.csv", "adae": "adae.csv"}
    with pytest.raises(T.StatsInputError) as err:
        T.check_inputs({"adsl": adsl, "adtte": adtte, "adae": adae}, files, "stats_survival")
    msg = str(err.value)
    assert "rule stats_survival" in msg
    assert "adsl.csv: column MAYO04: required column missing" in msg
    assert "adtte.csv: row 2, column CNSR" in msg  # first data row is line 2
    assert "adtte.csv: row 3, column AVAL" in msg
    assert "adae.csv: row 4, column USUBJID" in msg and "P99" in msg


def test_outputs_are_deterministic(d, tmp_path):
    recs = T.survival(d["adsl"], d["adtte"], d["adrs"])
    T.write_outputs(recs, tmp_path / "a.csv", tmp_path / "a.json", ["note"])
    T.write_outputs(recs, tmp_path / "b.csv", tmp_path / "b.json", ["note"])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    table = pd.read_csv(tmp_path / "a.csv")
    assert {"key", "formatted", "estimate", "ci_low", "ci_high", "n", "denominator", "p"} <= set(
        table.columns
    )
    part = json.loads((tmp_path / "a.json").read_text())
    assert set(part["os.median"]) == set(T.FIELDS)
    obj = T.collect([tmp_path / "a.json"], tmp_path / "r.json", {"alpha": 0.05})
    assert list(obj["results"]) == sorted(obj["results"])
    with pytest.raises(ValueError, match="defined in both"):
        T.collect([tmp_path / "a.json", tmp_path / "b.json"], tmp_path / "r2.json", {})


def test_no_nan_in_json(d, tmp_path):
    recs = T.survival(d["adsl"], d["adtte"], d["adrs"])
    T.write_outputs(recs, tmp_path / "a.csv", tmp_path / "a.json")
    text = (tmp_path / "a.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    part = json.loads(text)
    assert part["os.landmark_6m.non_responder.median"]["ci_high"] is None or not math.isnan(
        part["os.landmark_6m.non_responder.median"]["ci_high"]
    )


def test_survival_without_events_keeps_every_key(d):
    """Nobody died: no median (NR), the Cox model is not estimable - said in the note, keys kept."""
    adtte = d["adtte"].assign(CNSR=d["adtte"]["CNSR"].replace({0: 1, 2: 1}))
    full = by_key(T.survival(d["adsl"], d["adtte"], d["adrs"]))
    r = by_key(T.survival(d["adsl"], adtte, d["adrs"]))
    assert set(r) >= {k for k in full if k.startswith("os.cox.")}
    assert r["os.events"]["estimate"] == 0
    assert math.isnan(r["os.median"]["estimate"]) and r["os.median"]["formatted"].startswith("NR")
    cox = r["os.cox.naive_vs_exposed.hr"]
    assert cox["estimate"] is None and "not estimable" in cox["note"]
