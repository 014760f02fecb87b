"""Statistics tables on a hand-built 10-patient cohort (tests/stats_data.small_cohort):
every expected count below is read off the cohort by hand (see the comments)."""

from __future__ import annotations

import json
import math
import re
import os
import sys

import pandas as pd
import pytest

from config_defaults import stats_params
from helpers import REPO
from stats_data import small_cohort, write_derived

sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from alsalvage.rulelog import rule_log  # noqa: E402
from alsalvage.stats import records as R  # noqa: E402
from alsalvage.stats import response, time_to_event, treatment  # noqa: E402
from alsalvage.stats.checks import stats_problems  # noqa: E402
from alsalvage.stats.registry import BY_NAME, NAMES  # noqa: E402
from alsalvage.stats.run import (  # noqa: E402
    StatsAnalysisError,
    StatsInputError,
    run_analyses,
    run_analysis,
    run_stats,
)


@pytest.fixture(scope="module")
def d():
    return small_cohort()


def analyse(d, name, **params):
    """The records of analysis ``name`` on cohort ``d`` (its registry entry: the datasets and
    params it reads), at the configuration defaults but ``params``."""
    return run_analysis(BY_NAME[name], d, stats_params(**params))[0]


def by_key(records):
    out = {r["key"]: r for r in records}
    assert len(out) == len(records), "duplicate keys"
    return out


def nd(r):
    return (r["n"], r["denominator"])


def test_table1(d):
    r = by_key(analyse(d, "table1"))
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
    assert nd(r["baseline.sex.by_pexgrp.refractory.male"]) == (3, 5)  # P06 P08 P09
    assert r["baseline.age.by_pexgrp.naive.median"]["estimate"] == 60  # 50, 60, 70
    assert nd(r["prior.exposure.exposed"]) == (7, 10)
    assert nd(r["prior.exposure.refractory"]) == (5, 10)


def test_response(d):
    r = by_key(analyse(d, "response", landmarks=(3, 6)))
    # best: CR P01, VGPR P02 P09, PR P04 P07, LOWDFLC P05, NR P03 P06 P08, none P10 (-> NR)
    assert nd(r["hem.itt.ge_pr"]) == (6, 10)
    assert nd(r["hem.itt.ge_vgpr"]) == (4, 10)  # CR + 2 VGPR + low-dFLC (counted)
    assert nd(r["hem.itt.nr"]) == (4, 10)
    assert nd(r["hem.evaluable.ge_pr"]) == (6, 8)  # P08, P10 not evaluable
    assert nd(r["hem.by_exposure.exposed.ge_pr"]) == (4, 7)  # P04 P05 P07 P09
    assert nd(r["hem.by_exposure.naive.ge_pr"]) == (2, 3)
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
    r = by_key(analyse(d, "response", low_dflc_counts=False))
    assert nd(r["hem.itt.ge_pr"]) == (5, 10)  # P05's low-dFLC response no longer counts
    assert nd(r["hem.itt.lowdflc"]) == (1, 10)


def test_organ(d):
    r = by_key(analyse(d, "organ", landmarks=(3, 6)))
    # evaluable for >= 1 organ: P01-P07 (P08-P10 not); responders P01 (renal), P03 (liver)
    assert nd(r["organ.any"]) == (2, 7)
    assert nd(r["organ.renal"]) == (1, 5)
    # progression ever (PROG* rows), not the best call: P04 (best PROG) and P03 (best
    # STABLE after a progression); P02 is NE (not in the denominator)
    assert nd(r["organ.renal.progression"]) == (2, 5)
    assert nd(r["organ.cardiac.progression"]) == (1, 5)  # P02
    assert nd(r["organ.liver.progression"]) == (0, 1)
    assert nd(r["organ.cardiac"]) == (0, 5)
    assert nd(r["organ.liver"]) == (1, 1)
    assert r["organ.cardiac.imid_flagged"]["estimate"] == 2  # P01, P02
    assert r["organ.cardiac.egfr_flagged"]["estimate"] == 1  # P02
    # hematologic responders (best >= PR: P01 CR, P02 VGPR, P04 PR, P07 PR, P09 VGPR, and P05
    # LOWDFLC, counted by default) evaluable for cardiac response (P01 P02 P04 P05 P07): all
    # five; NT-proBNP progression: P02
    assert nd(r["organ.cardiac.hem_responders_progressing"]) == (1, 5)
    # 3 months = 91.3 days +- 30: P01 d95 300 -> 450 (+50%), P02 d85 2000 -> 3000 (+50%),
    # P04 d120 1500 -> 1500 (0%), P05 d91 5000 -> 4000 (-20%); P07 d60 is outside the window
    assert r["organ.ntprobnp.pct_change_3m.median"]["estimate"] == pytest.approx(25.0)
    assert r["organ.ntprobnp.pct_change_3m.median"]["n"] == 4
    assert nd(r["organ.ntprobnp.rise_3m"]) == (2, 4)
    # 6 months: P01 d180 -33.3%, P02 d200 -50%
    assert r["organ.ntprobnp.pct_change_6m.median"]["estimate"] == pytest.approx((-100 / 3 - 50) / 2)


@pytest.mark.parametrize("low_dflc_counts,expected", [(False, (1, 4)), (True, (1, 5))])
def test_hem_cardiac_discordance_follows_the_responder_rule(d, low_dflc_counts, expected):
    # P05 (best LOWDFLC, cardiac-evaluable, no progression) is a responder only when
    # low-dFLC responses count: the denominator grows, the count does not
    assert response.hem_cardiac_discordance(d["adsl"], d["adrs"], low_dflc_counts) == expected


def test_renal(d):
    r = by_key(analyse(d, "renal", timepoints=(12, 24)))
    assert nd(r["renal.dialysis.crude"]) == (3, 8)  # P02 P04 P09 of the 8 not on dialysis
    assert nd(r["renal.dialysis.crude_of_treated"]) == (3, 10)
    # times: 2 death, 6 dialysis, 10 death, 12+, 15+, 18 dialysis, 20 dialysis, 30+
    # all-cause KM: 7/8 after 2, 6/8 after 6, 5/8 after 10, 5/12 after 18
    # CIF dialysis: 6: 7/8 * 1/7 = 1/8; 18: + 5/8 * 1/3; 20: + 5/12 * 1/2
    assert r["renal.dialysis.cif_12m"]["estimate"] == pytest.approx(1 / 8)
    assert r["renal.dialysis.cif_24m"]["estimate"] == pytest.approx(1 / 8 + 5 / 24 + 5 / 24)
    # competing: 2: 1/8; 10: + 6/8 * 1/6
    assert r["renal.death_no_dialysis.cif_12m"]["estimate"] == pytest.approx(1 / 4)


def test_renal_by_bortezomib_group(d):
    """TTDIAL by group (CAUSEN: 1 dialysis, 2 death without dialysis, 0 censored):
    naive P01 30+, P02 6 dialysis; sensitive P04 18 dialysis, P05 10 death;
    refractory P06 15+, P08 2 death, P09 20 dialysis, P10 12+.
    CIF by hand: naive 1/2 from 6 on; sensitive 0 until 18 (S = 1/2 after the death at
    10, the last one at risk starts dialysis: 1/2), last time 18 < 24 -> NA at 24;
    refractory 0 until 20, last time 20 < 24 -> NA.
    Gray's test pinned to R (cmprsk 2.2-11):
      T <- c(30,6,18,10,15,2,20,12); s <- c(0,1,1,2,0,2,1,0)
      g <- c("naive","naive","sensitive","sensitive","refractory","refractory","refractory","refractory")
      cuminc(T, s, g)$Tests["1", ]                      # 0.251871632881100, p 0.881671433778304, df 2
      i <- g != "naive"; cuminc(T[i], s[i], g[i])$Tests["1", ]   # 0.526315789473684, p 0.468159909854428
      cuminc(T, s, ifelse(g == "naive", "naive", "exposed"))$Tests["1", ]  # 0.0497045750704724, p 0.823578134605271
    """
    r = by_key(analyse(d, "renal", timepoints=(12, 24)))
    est = lambda k: r[f"renal.dialysis.by_pexgrp.{k}"]["estimate"]  # noqa: E731
    assert (est("naive.cif_12m"), est("naive.cif_24m")) == (pytest.approx(0.5), pytest.approx(0.5))
    assert est("sensitive.cif_12m") == 0 and math.isnan(est("sensitive.cif_24m"))
    assert est("refractory.cif_12m") == 0 and math.isnan(est("refractory.cif_24m"))
    assert r["renal.dialysis.by_pexgrp.naive.cif_12m"]["group"] == "naive"
    assert r["renal.dialysis.by_pexgrp.refractory.cif_12m"]["n"] == 4
    for key, stat, p, df in (
        ("by_pexgrp", 0.251871632881100, 0.881671433778304, 2),
        ("sensitive_vs_refractory", 0.526315789473684, 0.468159909854428, 1),
        ("naive_vs_exposed", 0.0497045750704724, 0.823578134605271, 1),
    ):
        rec = r[f"renal.dialysis.{key}.gray_p"]
        assert (rec["statistic"], rec["p"], rec["df"]) == (pytest.approx(stat, abs=1e-9), pytest.approx(p, abs=1e-9), df)


def test_survival(d):
    r = by_key(analyse(d, "survival", timepoints=(12, 24), landmarks=(3, 6)))
    # OS: 2, 3.5, 4, 10 deaths; 12+, 15+; 20, 24 deaths; 30+, 40+
    # KM: .9 .8 .7 .6, then 20: .6 * 3/4 = .45 -> median 20; S(24) = .45 * 2/3 = .3
    assert r["os.events"]["estimate"] == 6
    assert r["os.median"]["estimate"] == 20.0
    assert r["os.surv_12m"]["estimate"] == pytest.approx(0.6)
    assert r["os.surv_24m"]["estimate"] == pytest.approx(0.3)
    # reverse KM: censorings 12 (6 at risk), 15 (5), 30 (2): 5/6, 4/6, 2/6 -> 30
    assert r["os.followup_median"]["estimate"] == 30.0
    assert r["os.by_pexgrp.logrank_p"]["df"] == 2
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
    r = by_key(analyse(d, "exposure"))
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
    r = by_key(analyse(d, "toxicity"))
    assert nd(r["tox.any.anemia"]) == (4, 10)  # P01 P02 P03 P08
    assert nd(r["tox.gr3.anemia"]) == (2, 10)  # P02 (3), P03 (4)
    assert nd(r["tox.any.rash_maculo_papular"]) == (2, 10)  # two spellings, one slug
    assert nd(r["tox.gr3.rash_maculo_papular"]) == (1, 10)
    assert nd(r["tox.gr3.fatigue"]) == (1, 10)
    assert nd(r["tox.any_event"]) == (6, 10)  # not P04 (its only event, pneumonitis, has TRTEMFL N)
    assert nd(r["tox.any_gr3"]) == (3, 10)  # P02 P03 P08; P01's grade-3 anemia is not treatment-emergent
    assert "tox.any.pneumonitis" not in r and "tox.gr3.pneumonitis" not in r


def test_toxicity_footnote_says_treatment_emergent_only(d):
    _, footnotes = run_analysis(BY_NAME["toxicity"], d, stats_params())
    assert any("TRTEMFL = Y" in f and "exposure.teae_days_after_last_dose" in f for f in footnotes)


def test_bad_input_lists_every_problem(d):
    adtte = d["adtte"].copy()
    adtte.loc[0, "CNSR"] = 3
    adtte.loc[1, "AVAL"] = -1.0
    adsl = d["adsl"].drop(columns=["MAYO04"])
    adae = d["adae"].assign(USUBJID=lambda x: x["USUBJID"].where(x.index != 2, "P99"))
    files = {"adsl": "adsl.csv", "adtte": "adtte.csv", "adae": "adae.csv"}
    problems = stats_problems({"adsl": adsl, "adtte": adtte, "adae": adae}, files)
    every = "table1, response, organ, renal, survival, exposure, toxicity"  # all read ADSL
    assert problems == [
        f"file adsl.csv: column 'MAYO04' is missing (needed by rule stats) (analyses: {every})",
        # first data row is line 2
        "adtte.csv: row 2, column CNSR: not 0/1 (value 3) (analyses: renal, survival, exposure)",
        "adtte.csv: row 3, column AVAL: missing or negative time (value -1.0) (analyses: renal, survival, exposure)",
        "adae.csv: row 4, column USUBJID: patient not in ADSL (value 'P99') (analyses: toxicity)",
    ]


def test_adtte_cause_is_checked_against_cnsr(d):
    """ADTTE rows: 0 P01 OS CNSR 1, 1 P02 OS CNSR 0, 10 P01 TTDIAL CNSR 1 (CAUSEN 0),
    13 P05 TTDIAL CNSR 1 CAUSEN 2 (competing death). A CNSR of 2 (the old coding of the
    competing event) is refused; CAUSEN must be 0/1/2, agree with CNSR (CAUSEN 1 exactly
    when CNSR 0) and be 2 only on TTDIAL; without CAUSEN only the renal analysis stops."""
    adtte = d["adtte"].copy()
    adtte.loc[13, "CNSR"] = 2  # old coding: competing as CNSR 2
    adtte.loc[0, "CAUSEN"] = 1  # OS censored but cause says event
    adtte.loc[1, "CAUSEN"] = 2  # competing event in OS (and disagrees: CNSR 0)
    adtte.loc[10, "CAUSEN"] = 5
    files = {"adsl": "adsl.csv", "adtte": "adtte.csv"}
    problems = stats_problems({"adsl": d["adsl"], "adtte": adtte}, files)
    users = "(analyses: renal, survival, exposure)"
    assert problems == [
        f"adtte.csv: row 15, column CNSR: not 0/1 (value 2) {users}",
        f"adtte.csv: row 12, column CAUSEN: not 0/1/2 (value 5) {users}",
        f"adtte.csv: row 2, column CAUSEN: disagrees with CNSR (value 1) {users}",
        f"adtte.csv: row 3, column CAUSEN: disagrees with CNSR (value 2) {users}",
        f"adtte.csv: row 3, column CAUSEN: competing event outside TTDIAL (value 2) {users}",
    ]
    no_cause = stats_problems({"adsl": d["adsl"], "adtte": d["adtte"].drop(columns="CAUSEN")}, files)
    assert no_cause == ["file adtte.csv: column 'CAUSEN' is missing (needed by rule stats) (analyses: renal)"]


def test_outputs_are_deterministic(d, tmp_path):
    recs = analyse(d, "survival")
    R.write_table(recs, tmp_path / "a.csv", ["note"])
    R.write_table(recs, tmp_path / "b.csv", ["note"])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    table = pd.read_csv(tmp_path / "a.csv")
    assert {"key", "formatted", "estimate", "ci_low", "ci_high", "n", "denominator", "p"} <= set(
        table.columns
    )
    assert table["key"].iloc[-1] == "footnote.1" and table["label"].iloc[-1] == "note"
    part = R.to_records_json(recs)
    assert set(part["os.median"]) == set(R.FIELDS)
    obj = R.merge_results({"survival": part}, {"alpha": 0.05})
    assert obj["meta"] == {"alpha": 0.05}
    R.dump_json(obj, tmp_path / "r.json")
    assert list(json.loads((tmp_path / "r.json").read_text())["results"]) == sorted(obj["results"])
    with pytest.raises(ValueError, match="produced by both analysis a and analysis b"):
        R.merge_results({"b": part, "a": part}, {})


def test_no_nan_in_json(d, tmp_path):
    recs = analyse(d, "survival")
    R.dump_json(R.to_records_json(recs), tmp_path / "a.json")
    text = (tmp_path / "a.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    part = json.loads(text)
    assert part["os.landmark_6m.non_responder.median"]["ci_high"] is None or not math.isnan(
        part["os.landmark_6m.non_responder.median"]["ci_high"]
    )


def test_survival_without_events_keeps_every_key(d):
    """Nobody died: no median (NR), the Cox model is not estimable - said in the note, keys kept."""
    adtte = d["adtte"].assign(CNSR=1, CAUSEN=0)
    full = by_key(analyse(d, "survival"))
    r = by_key(analyse({**d, "adtte": adtte}, "survival"))
    assert set(r) >= {k for k in full if k.startswith("os.cox.")}
    assert r["os.events"]["estimate"] == 0
    assert math.isnan(r["os.median"]["estimate"]) and r["os.median"]["formatted"].startswith("NR")
    cox = r["os.cox.naive_vs_exposed.hr"]
    assert cox["estimate"] is None and "not estimable" in cox["note"]


# --------------------------------------------------------------------------- the stats job
PARAMS = stats_params()  # the configuration defaults (workflow/schemas/config.schema.yaml)
META = {"schema": "alsalvage-results/1", "synthetic": True, "reference_date": "2026-01-01", "alpha": 0.05}


def stats_job(project, workers, params=PARAMS):
    """run_stats on the small cohort placed in project/ as the workflow would place it;
    returns the output paths (tables by analysis, results.json, log)."""
    if not (project / "results" / "derived" / "adsl.parquet").exists():
        write_derived(project, small_cohort())
    inputs = {k: project / "results" / "derived" / f"{k}.parquet" for k in ("adsl", "adrs", "adtte", "adae")}
    inputs["labs"] = project / "results" / "validated" / "labs.parquet"
    tables = {n: project / "results" / "tables" / f"{n}.csv" for n in NAMES}
    out = {"tables": tables, "results": project / "results" / "stats" / "results.json", "log": project / "stats.log"}
    with rule_log(str(out["log"]), "stats", inputs.values()) as log:  # as workflow/scripts/stats.py
        run_stats(inputs, tables, out["results"], log, dict(params), dict(META), workers=workers)
    return out


def written(out) -> dict:
    files = [*out["tables"].values(), out["results"]]
    return {p.name: p.read_bytes() for p in files if p.exists()}


def test_stats_job_bytes_do_not_depend_on_the_number_of_workers(tmp_path):
    got = {w: written(stats_job(tmp_path / f"w{w}", w)) for w in (1, 2, 3)}
    assert len(got[1]) == 8  # seven tables and results.json
    assert got[2] == got[1] and got[3] == got[1]
    obj = json.loads(got[1]["results.json"])
    assert obj["meta"]["n_treated"] == 10  # all ten patients of the small cohort are treated
    # every analysis contributes its keys: one per table
    for key in ("baseline.n", "hem.itt.ge_pr", "organ.any", "renal.dialysis.crude", "os.median",
                "exposure.dose.median", "tox.any_event"):
        assert key in obj["results"], key
    assert nd(obj["results"]["renal.dialysis.crude"]) == (3, 8)  # P02 P04 P09 of the 8 not on dialysis


def test_stats_job_log_names_each_analysis_and_its_warnings(tmp_path):
    out = stats_job(tmp_path, 2)
    log = out["log"].read_text()
    assert "workers: 2" in log
    for name in NAMES:
        assert f"analysis {name}: " in log
    # 6 deaths among the 9 patients with a Mayo stage, 3 model parameters (see test_survival)
    assert "WARNING 6 events for 3 parameters" in log and "(analysis survival)" in log


def test_analyses_leave_their_inputs_unchanged(d):
    """Analyses running one after another in one worker share the input frames: none may
    modify them, or the outputs would depend on which analyses share a worker."""
    frames = {k: v.copy(deep=True) for k, v in d.items()}
    res = run_analyses(frames, PARAMS, workers=1)
    assert [n for n, r in res.items() if r.error] == []
    for k in d:
        pd.testing.assert_frame_equal(frames[k], d[k], check_exact=True)


def test_input_problems_are_listed_once_with_the_analyses_they_stop(d):
    adtte = d["adtte"].copy()
    adtte.loc[0, "CNSR"] = 7
    adsl = d["adsl"].drop(columns=["STDOS"])
    frames = {**d, "adtte": adtte, "adsl": adsl}
    files = {k: f"{k}.csv" for k in frames}
    problems = stats_problems(frames, files)
    # adtte is read by renal, survival and exposure; STDOS is needed by exposure only
    assert problems == [
        "adtte.csv: row 2, column CNSR: not 0/1 (value 7) (analyses: renal, survival, exposure)",
        "file adsl.csv: column 'STDOS' is missing (needed by rule stats) (analyses: exposure)",
    ]


def test_bad_input_stops_the_stats_job_before_any_output(tmp_path):
    data = small_cohort()
    data["adtte"].loc[0, "CNSR"] = 7  # first data row: CSV line 2
    data["adtte"].loc[3, "AVAL"] = -2.0  # line 5
    write_derived(tmp_path, data)
    with pytest.raises(StatsInputError) as err:
        stats_job(tmp_path, 2)
    msg = str(err.value)
    assert msg.startswith("rule stats: 2 problem(s)")
    assert "results/derived/adtte.csv: row 2, column CNSR" in msg
    assert "results/derived/adtte.csv: row 5, column AVAL" in msg
    assert "(analyses: renal, survival, exposure)" in msg
    assert msg in (tmp_path / "stats.log").read_text()
    assert not (tmp_path / "results" / "tables").exists() and not (tmp_path / "results" / "stats").exists()


def test_unreadable_input_is_named(tmp_path):
    write_derived(tmp_path, small_cohort())
    (tmp_path / "results" / "derived" / "adae.parquet").write_bytes(b"not parquet")
    with pytest.raises(StatsInputError, match=r"adae\.parquet: cannot read"):
        stats_job(tmp_path, 2)
    assert "adae.parquet: cannot read" in (tmp_path / "stats.log").read_text()
    assert not (tmp_path / "results" / "stats").exists()


def _boom(*args, **kwargs):
    raise ZeroDivisionError("injected failure")


@pytest.mark.parametrize("workers", [1, 2])
def test_every_failing_analysis_is_named_and_nothing_is_written(tmp_path, monkeypatch, workers):
    # forked workers inherit the patched module
    monkeypatch.setattr(time_to_event, "renal", _boom)
    monkeypatch.setattr(treatment, "toxicity", _boom)
    with pytest.raises(StatsAnalysisError) as err:
        stats_job(tmp_path, workers)
    msg = str(err.value)
    assert msg.startswith("rule stats: 2 of 7 analyses failed")
    assert "analysis renal: ZeroDivisionError: injected failure" in msg
    assert "analysis toxicity: ZeroDivisionError: injected failure" in msg
    log = (tmp_path / "stats.log").read_text()
    assert msg in log and "Traceback" in log and "_boom" in log
    assert not (tmp_path / "results" / "tables").exists() and not (tmp_path / "results" / "stats").exists()


def _die(*args, **kwargs):
    os._exit(9)  # a worker killed (e.g. out of memory) without a Python exception


def test_a_dead_worker_fails_the_job(tmp_path, monkeypatch):
    monkeypatch.setattr(response, "organ", _die)
    with pytest.raises(StatsAnalysisError) as err:
        stats_job(tmp_path, 2)
    assert "analysis organ: the worker process running it died" in str(err.value)
    assert not (tmp_path / "results" / "stats").exists()


# ------------------------------------------------------------------ one registry, one owner
PACKAGE = REPO / "workflow" / "scripts" / "alsalvage"
RULES = REPO / "workflow" / "rules"


def _string_collections(path):
    """(line, strings) of every list/tuple/set literal and dict's keys in a Python file."""
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)) and items:
            strings = {x.value for x in items if isinstance(x, ast.Constant) and isinstance(x.value, str)}
            yield node.lineno, strings


@pytest.mark.parametrize(
    "registry, names",
    [
        ("stats/registry.py", set(NAMES)),
        ("figure_registry.py", {"km_os", "km_os_by_group", "landmark_os", "cif_dialysis", "forest_cox", "flow"}),
    ],
)
def test_only_the_registry_lists_the_analyses_or_figures(registry, names):
    """A second list of the analyses (or figures) anywhere in the package or the rule files
    (as once ANALYSES, CPU_AT_100K, EXTRA_REQUIRED, STATS, FIGURE_INPUTS in figures.smk)
    would drift from the registry: any literal naming three or more of them fails."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == registry:
            continue
        offenders += [f"{path.relative_to(REPO)}:{line}" for line, s in _string_collections(path) if len(s & names) >= 3]
    for path in sorted(RULES.glob("*.smk")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if sum(f'"{n}"' in line for n in names) >= 3 or any(re.match(rf'^\s+"{n}": ', line) for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{i}")
    assert not offenders, f"a second list of {sorted(names)[:3]}...: {offenders}"


def test_the_landmark_responder_is_derived_once():
    """"Responded by the landmark" (HEMRESP rows with ADY <= the landmark) is computed in
    stats/responders.py alone: the response and survival analyses and the landmark figure
    call it. Fails on any other comparison of ADY against a bound in the package."""
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "stats/responders.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.LtE, ast.Lt)) for op in node.ops):
                if any(isinstance(c, ast.Constant) and c.value == "ADY" for c in ast.walk(node)):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"ADY compared against a landmark outside stats/responders.py: {offenders}"


def test_registry_matches_the_analysis_functions():
    """Each analysis function takes the registry's datasets (positional, in order) and params
    (keyword-only): the run passes exactly those, and none has a default (the configuration
    schema is the one source of defaults)."""
    import inspect

    from alsalvage.stats.run import _load

    for a in BY_NAME.values():
        sig = inspect.signature(_load(a.function))
        positional = [p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
        keyword = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
        assert positional == list(a.datasets) and set(keyword) == set(a.params), a.name
        assert all(p.default is p.empty for p in sig.parameters.values()), a.name
    from alsalvage.stats.registry import WORDING_PARAMS

    assert set(stats_params()) == {p for a in BY_NAME.values() for p in a.params} | set(WORDING_PARAMS)


def test_registries_load_without_heavy_libraries():
    """The rule files load both registries at DAG build time: by path, importing nothing
    heavy (a no-op rerun must not pay for pandas, scipy, lifelines or matplotlib)."""
    import subprocess

    code = (
        "import importlib.util, sys\n"
        "for i, p in enumerate(sys.argv[1:]):\n"
        "    spec = importlib.util.spec_from_file_location(f'r{i}', p)\n"
        "    m = importlib.util.module_from_spec(spec); sys.modules[spec.name] = m; spec.loader.exec_module(m)\n"
        "heavy = {'pandas', 'numpy', 'scipy', 'lifelines', 'matplotlib', 'alsalvage'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(PACKAGE / "stats" / "registry.py"), str(PACKAGE / "figure_registry.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
