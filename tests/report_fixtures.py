"""A small, hand-shaped cohort for the figure and report tests.

Derived datasets (docs/interfaces.md), validated labs, validation findings and a
results.json with the key scheme of docs/results.md, written to a directory. The numbers
are invented for the tests (they are not produced by the statistics code): the report
must copy them, not recompute them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from helpers import REPO

XSS = "<script>alert(1)</script>"
DPM = 30.4375


def make_derived(n: int = 24, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"SYN-{i:04d}" for i in range(1, n + 1)]
    start = pd.Timestamp("2012-01-15") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    dur_days = rng.integers(30, 500, n)
    ongoing = np.arange(n) % 11 == 0
    trtedt = pd.Series(start + pd.to_timedelta(dur_days, unit="D")).where(~ongoing)
    fu_days = dur_days + rng.integers(20, 900, n)
    died = np.arange(n) % 3 == 0
    dialbl = (np.arange(n) % 8 == 1).astype(int)
    dial_event = (np.arange(n) % 5 == 2) & (dialbl == 0)
    dial_days = (dur_days * 0.7).astype(int)
    grp = np.array(["naive", "sensitive", "refractory"])[np.arange(n) % 3]
    hemeval = np.array(["measurable", "measurable", "low_dflc", "not_measurable"])[np.arange(n) % 4]
    dflcbl = np.where(hemeval == "measurable", 120.0 + 10 * np.arange(n), np.where(hemeval == "low_dflc", 30.0, 5.0))
    adsl = pd.DataFrame(
        {
            "USUBJID": ids,
            "SEX": np.where(np.arange(n) % 3 == 0, "F", "M"),
            "AGE": 50 + np.arange(n),
            "TRTSDT": start,
            "TRTEDT": trtedt.to_numpy(),
            "ISOTYPE": np.where(np.arange(n) % 4 == 0, "kappa", "lambda"),
            "HEART": (np.arange(n) % 4 != 3).astype(int),
            "KIDNEY": (np.arange(n) % 4 != 0).astype(int),
            "LIVER": (np.arange(n) % 4 == 2).astype(int),
            "NERVE": (np.arange(n) % 3 == 1).astype(int),
            "DFLCBL": dflcbl,
            "NTPROBL": 500.0 + 150 * np.arange(n),
            "DIALBL": dialbl,
            "PEXGRP": grp,
            "PEXFL": (grp != "naive").astype(int),
            "HEMEVAL": hemeval,
            "TRTDURM": dur_days / DPM,
            "DTHDT": pd.Series(start + pd.to_timedelta(fu_days, unit="D")).where(died).to_numpy(),
            "LSTCNTDT": start + pd.to_timedelta(fu_days, unit="D"),
            "DIALDT": pd.Series(start + pd.to_timedelta(dial_days, unit="D")).where(dial_event).to_numpy(),
            "SAFFL": "Y",
            "ITTFL": "Y",
        }
    )
    # adrs: monthly hematologic assessments for the first 8 months, best rows, organ best rows
    visits = np.arange(1, 9)
    hem = pd.DataFrame(
        {
            "USUBJID": np.repeat(ids, len(visits)),
            "ADY": np.tile(visits * 30, n),
        }
    )
    idx = np.repeat(np.arange(n), len(visits))
    hem["ADT"] = np.repeat(start, len(visits)) + pd.to_timedelta(hem["ADY"], unit="D")
    best = np.array(["CR", "VGPR", "PR", "NR", "LOWDFLC", "NR"])[np.arange(n) % 6]
    best = np.where(hemeval == "not_measurable", np.where(np.arange(n) % 2 == 0, "CR", "NR"), best)
    best = np.where((hemeval == "low_dflc") & (best != "NR"), "LOWDFLC", best)
    best = np.where((hemeval == "measurable") & (best == "LOWDFLC"), "PR", best)
    reached = hem["ADY"].to_numpy() >= 60
    hem["AVALC"] = np.where(reached, best[idx], "NR")
    hem["PARAMCD"] = "HEMRESP"
    hem["EVALFL"] = np.where(hemeval[idx] == "not_measurable", "N", "Y")
    hem["ANL01FL"] = np.where(hem["ADY"].to_numpy() <= dur_days[idx] + 60, "Y", "N")
    besthem = pd.DataFrame(
        {"USUBJID": ids, "PARAMCD": "BESTHEM", "AVALC": best, "ADY": np.nan, "EVALFL": np.where(hemeval == "not_measurable", "N", "Y"), "ANL01FL": "Y"}
    )
    prog = pd.DataFrame(
        {"USUBJID": ids, "PARAMCD": "HEMPROG", "AVALC": np.where(np.arange(n) % 4 == 1, "PD", "N"), "ADY": np.minimum(dur_days + 10, 400).astype(float), "EVALFL": "Y", "ANL01FL": "Y"}
    )
    organ = []
    for paramcd, flag in (("BESTCARD", adsl["HEART"] == 1), ("BESTREN", (adsl["KIDNEY"] == 1) & (dialbl == 0)), ("BESTLIV", adsl["LIVER"] == 1)):
        ev = flag & (np.arange(n) % 5 != 4)
        organ.append(
            pd.DataFrame({"USUBJID": ids, "PARAMCD": paramcd, "AVALC": np.where(ev, "STABLE", "NE"), "ADY": np.nan, "EVALFL": np.where(ev, "Y", "N"), "ANL01FL": "Y"})
        )
    adrs = pd.concat([hem, besthem, prog, *organ], ignore_index=True)
    # adtte
    os_ = pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": fu_days / DPM, "CNSR": np.where(died, 0, 1), "CAUSEN": np.where(died, 1, 0)})
    ttd = pd.DataFrame(
        {
            "USUBJID": ids,
            "PARAMCD": "TTDIAL",
            "AVAL": np.where(dial_event, dial_days, fu_days) / DPM,
            "CNSR": np.where(dial_event, 0, 1),
            "CAUSEN": np.where(dial_event, 1, np.where(died, 2, 0)),
            "CRSKFL": "Y",
        }
    ).loc[dialbl == 0]
    adtte = pd.concat([os_, ttd], ignore_index=True)
    # labs: FLC at assessment dates (iFLC falls for responders), NT-proBNP rising on therapy
    ifl_base = dflcbl + 10.0
    factor = np.select([best == "CR", best == "VGPR", best == "PR", best == "LOWDFLC"], [0.15, 0.3, 0.45, 0.2], 1.1)
    frac = np.clip(hem["ADY"].to_numpy() / 90.0, 0, 1)
    ifl = ifl_base[idx] * (1 - frac * (1 - factor[idx]))
    kappa_iso = adsl["ISOTYPE"].to_numpy()[idx] == "kappa"
    labs_flc = pd.concat(
        [
            pd.DataFrame({"patient_id": hem["USUBJID"], "date": hem["ADT"], "analyte": "flc_kappa", "value": np.where(kappa_iso, ifl, 10.0)}),
            pd.DataFrame({"patient_id": hem["USUBJID"], "date": hem["ADT"], "analyte": "flc_lambda", "value": np.where(kappa_iso, 10.0, ifl)}),
        ]
    )
    base_nt = pd.DataFrame({"patient_id": ids, "date": start, "analyte": "ntprobnp", "value": adsl["NTPROBL"]})
    nt = pd.DataFrame(
        {
            "patient_id": hem["USUBJID"],
            "date": hem["ADT"],
            "analyte": "ntprobnp",
            "value": adsl["NTPROBL"].to_numpy()[idx] * (1 + 0.08 * hem["ADY"].to_numpy() / 30 * (1 + idx % 3)),
        }
    )
    labs = pd.concat([labs_flc, base_nt, nt], ignore_index=True)
    labs["unit"] = ""
    labs["uln"] = np.nan
    return {"adsl": adsl, "adrs": adrs, "adtte": adtte, "labs": labs}


def rec(estimate=None, *, n=None, denominator=None, p=None, ci=(None, None), unit="proportion", label="", formatted=None, method="", note=None, formatted_ci=None):
    return {
        "estimate": estimate,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "n": n,
        "denominator": denominator,
        "p": p,
        "statistic": None,
        "df": None,
        "unit": unit,
        "method": method,
        "label": label,
        "formatted": formatted,
        "formatted_ci": formatted_ci,
        "note": note,
    }


def prop(n, d, label, method="Clopper-Pearson exact 95% CI"):
    # Percentages computed by hand for the chosen counts (half-up rounding).
    return rec(n / d, n=n, denominator=d, label=label, method=method)


def make_results(tox_label: str = "Anemia") -> dict:
    """results.json with hand-chosen values. `formatted` strings are written by hand."""
    r = {}

    def put(key, record, formatted):
        record["formatted"] = formatted
        r[key] = record

    put("baseline.n", rec(50, n=50, unit="count", label="Treated patients"), "50")
    put("baseline.age.median", rec(63.0, n=50, unit="years", label="Age, years", method="median (range)"), "63 (42-82)")
    put("baseline.age.min", rec(42.0, unit="years", label="Age min"), "42")
    put("baseline.age.max", rec(82.0, unit="years", label="Age max"), "82")
    for g, k in (("naive", 14), ("sensitive", 15), ("refractory", 21)):  # as stats.table1 keys them
        put(f"baseline.by_pexgrp.{g}.n", rec(k, n=k, unit="count", label=f"Patients, {g}"), str(k))
    put("baseline.age.by_pexgrp.naive.median", rec(61.0, unit="years", label="Age"), "61 (45-80)")
    put("baseline.sex.male", prop(33, 50, "Male"), "33 (66%)")  # 33/50 = 66%
    put("baseline.sex.by_pexgrp.refractory.male", prop(15, 21, "Male"), "15 (71%)")  # 71.4%
    for organ, k in (("heart", 36), ("kidney", 37), ("nerve", 17), ("liver", 12)):
        put(f"baseline.organ.{organ}", prop(k, 50, organ), f"{k} ({2 * k}%)")
    put("baseline.egfr.median", rec(53.4, n=44, unit="ml_min_1_73m2", label="eGFR"), "53 (12-110)")
    put("baseline.dialysis", prop(6, 50, "On dialysis"), "6 (12%)")
    put("baseline.ntprobnp.median", rec(2369.0, n=50, unit="ng_l", label="NT-proBNP"), "2369 (900-5400)")
    put("baseline.mayo2004.I", prop(10, 48, "Mayo 2004 stage I"), "10 (21%)")  # 20.8
    put("baseline.mayo2004.II", prop(20, 48, "Mayo 2004 stage II"), "20 (42%)")  # 41.7
    put("baseline.mayo2004.III", prop(18, 48, "Mayo 2004 stage III"), "18 (38%)")  # 37.5
    put("prior.fl_to_index_months.median", rec(14.2, n=50, unit="months", label="Months first line to lenalidomide"), "14 (1-108)")
    put("prior.fl_to_index_months.min", rec(1.1, unit="months", label="min"), "1.1")
    put("prior.fl_to_index_months.max", rec(107.9, unit="months", label="max"), "107.9")
    put("prior.lines.median", rec(1.0, unit="count", label="Prior lines"), "1 (1-4)")
    put("prior.lines.min", rec(1.0, unit="count", label="min"), "1")
    put("prior.lines.max", rec(4.0, unit="count", label="max"), "4")
    put("prior.exposure.exposed", prop(36, 50, "Prior bortezomib"), "36 (72%)")
    put("prior.exposure.refractory", prop(21, 50, "Refractory"), "21 (42%)")
    put("prior.exposure.sensitive", prop(15, 50, "Potentially sensitive"), "15 (30%)")
    put("hem.itt.ge_pr", prop(28, 50, "Response >= PR (ITT)"), "28 (56%)")
    r["hem.itt.ge_pr"]["formatted_ci"] = "41-70"
    put("hem.itt.cr", prop(3, 50, "CR"), "3 (6%)")
    put("hem.itt.vgpr", prop(12, 50, "VGPR"), "12 (24%)")
    put("hem.itt.pr", prop(13, 50, "PR"), "13 (26%)")
    put("hem.by_exposure.exposed.ge_pr", prop(20, 36, ">= PR, exposed"), "20 (56%)")  # 55.6
    put("hem.by_exposure.naive.ge_pr", prop(8, 14, ">= PR, naive"), "8 (57%)")  # 57.1
    put("hem.refractory_vs_non.refractory.ge_pr", prop(8, 21, ">= PR, refractory"), "8 (38%)")  # 38.1
    put("hem.refractory_vs_non.non_refractory.ge_pr", prop(20, 29, ">= PR, non-refractory"), "20 (69%)")  # 68.97
    put("hem.refractory_vs_non.p_fisher", rec(None, p=0.0842, unit="p", label="Fisher p", method="Fisher's exact test"), "0.084")
    put("organ.any", prop(4, 40, "Any organ response"), "4 (10%)")
    put("organ.renal", prop(4, 35, "Renal response"), "4 (11%)")  # 11.4
    put("organ.liver", prop(1, 12, "Liver response"), "1 (8%)")  # 8.3
    put("organ.cardiac", prop(0, 30, "Cardiac response"), "0 (0%)")
    put("renal.dialysis.crude", prop(10, 44, "Dialysis"), "10 (23%)")
    put("renal.dialysis.crude_of_treated", prop(10, 50, "Dialysis of treated"), "10 (20%)")
    for key, p, shown in (("by_pexgrp", 0.52, "0.520"), ("sensitive_vs_refractory", 0.031, "0.031"), ("naive_vs_exposed", 0.0004, "< 0.001")):
        put(f"renal.dialysis.{key}.gray_p", rec(None, p=p, unit="p", label=f"Dialysis {key}: Gray's test p", method="Gray's test"), shown)
    put("os.median", rec(29.3, ci=(18.2, None), n=50, unit="months", label="Median OS", method="Kaplan-Meier, log(-log) CI"), "29.3 (18.2-NR)")
    put("os.events", rec(30, n=50, unit="count", label="Deaths"), "30")
    put("os.by_pexgrp.logrank_p", rec(None, p=0.041, unit="p", label="Log-rank 3 groups", method="multivariate log-rank"), "0.041")
    put("os.sensitive_vs_refractory.logrank_p", rec(None, p=0.395, unit="p", label="Log-rank sensitive vs refractory", method="log-rank"), "0.395")
    put("os.naive_vs_exposed.logrank_p", rec(None, p=0.012, unit="p", label="Log-rank naive vs exposed", method="log-rank"), "0.012")
    put("os.cox.naive_vs_exposed.hr", rec(0.41, ci=(0.19, 0.91), p=0.028, n=48, unit="ratio", label="HR naive vs exposed", method="Cox proportional hazards, Efron ties"), "0.41 (0.19-0.91)")
    put("os.cox.mayo2004_II.hr", rec(1.8, ci=(0.7, 4.6), p=0.22, n=48, unit="ratio", label="HR Mayo II vs I"), "1.80 (0.70-4.60)")
    put("os.cox.mayo2004_III.hr", rec(3.1, ci=(1.2, 8.0), p=0.019, n=48, unit="ratio", label="HR Mayo III vs I"), "3.10 (1.20-8.00)")
    put("os.cox.events", rec(29, n=48, unit="count", label="Events in the Cox model"), "29")
    for lm, p in ((3, 0.2), (6, 0.0004)):
        put(f"os.landmark_{lm}m.logrank_p", rec(None, p=p, unit="p", label=f"Landmark {lm} months log-rank"), "0.200" if lm == 3 else "< 0.001")
    put("exposure.dose.median", rec(10.0, unit="mg", label="Starting dose"), "10 (5-15)")
    put("exposure.dose.min", rec(5.0, unit="mg", label="min"), "5")
    put("exposure.dose.max", rec(15.0, unit="mg", label="max"), "15")
    put("exposure.dose_max.n_25mg", rec(0, n=0, unit="count", label="Ever 25 mg"), "0")
    put("exposure.duration.median", rec(7.2, unit="months", label="Duration"), "7.2 (0.5-30.1)")
    put("exposure.cycles.median", rec(7.0, unit="count", label="Cycles"), "7 (1-30)")
    put("discontinuation.early", prop(23, 50, "Stopped early"), "23 (46%)")
    put("discontinuation.reason.progression_or_no_response", prop(5, 50, "Progression or no response"), "5 (10%)")
    put("discontinuation.reason.toxicity", prop(13, 50, "Toxicity"), "13 (26%)")
    put("discontinuation.reason.decision", prop(5, 50, "Decision"), "5 (10%)")
    put("discontinuation.death_on_therapy", prop(8, 50, "Died on therapy"), "8 (16%)")
    for term, k in (("platelet_count_decreased", 3), ("anemia", 8), ("neutrophil_count_decreased", 3), ("diarrhea", 4), ("fatigue", 7), ("rash_maculo_papular", 7), ("pneumonitis", 2)):
        put(f"tox.gr3.{term}", prop(k, 50, tox_label if term == "anemia" else term), f"{k} ({2 * k}%)")
        put(f"tox.any.{term}", prop(k + 5, 50, tox_label if term == "anemia" else term), f"{k + 5} ({2 * (k + 5)}%)")
    put("tox.any.acute_kidney_injury", prop(4, 50, "Acute kidney injury"), "4 (8%)")
    return {"meta": {"schema": "alsalvage-results/1", "synthetic": True, "reference_date": "2026-01-01", "alpha": 0.05, "n_treated": 50}, "results": dict(sorted(r.items()))}


def make_findings(ids: list[str], text: str = "lambda") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"severity": "warning", "file": "patients.csv", "row": 3, "column": "heart", "value": "0", "rule": "involvement_vs_biomarker", "message": f"patient {ids[1]} NT-proBNP 900 ng/L on 2013-04-02 but heart flag 0"},
            {"severity": "warning", "file": "therapy_lines.csv", "row": 7, "column": "regimen", "value": text, "rule": "free_text", "message": f"regimen {text} not recognised"},
        ]
    )


def load_config() -> tuple[dict, dict]:
    """The repository's config.yaml resolved against its schema defaults."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    return cfg, schema


def write_fixture(dest: Path, n: int = 24, seed: int = 7, tox_label: str = "Anemia", finding_text: str = "lambda") -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    d = make_derived(n, seed)
    paths = {}
    for name, df in d.items():
        paths[name] = dest / f"{name}.parquet"
        df.to_parquet(paths[name], index=False)
    results = make_results(tox_label)
    paths["results"] = dest / "results.json"
    paths["results"].write_text(json.dumps(results, indent=2, sort_keys=True))
    paths["findings"] = dest / "findings.csv"
    make_findings(list(d["adsl"]["USUBJID"]), finding_text).to_csv(paths["findings"], index=False)
    raw = {}
    for t in ("patients", "therapy_lines", "salvage_cycles", "outcomes", "labs", "adverse_events"):
        raw[t] = dest / f"raw_{t}.csv"
        raw[t].write_text("patient_id,x\nA,1\nB,2\n")
    paths["raw"] = raw
    # what validate records of them (results/validated/inputs.json): path, SHA-256, data rows
    record = {t: {"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "rows": 2} for t, p in raw.items()}
    paths["inputs"] = dest / "inputs.json"
    paths["inputs"].write_text(json.dumps(record, indent=2))
    return paths
