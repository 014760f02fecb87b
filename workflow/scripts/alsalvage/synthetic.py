"""Seeded synthetic demo cohort: six raw tables that satisfy ``contract.py``.

The generator first PLANS every patient's course so that the cohort, run through the
real derivations, lands on the figures of the seed study (docs/synthetic-cohort.md),
and then writes only raw observations (demographics, prior lines, cycles, outcomes,
labs, adverse events).  No derived category (response, stage, refractoriness,
evaluability) appears in the output: each planned category is realised through the
raw values, with a wide margin from the thresholds of the clinical criteria so that
lab noise cannot flip it.

* Category sizes are exact: the counts planned for the 50-patient reference cohort
  (``PLAN_50``) are scaled to ``n`` by largest-remainder allocation and assigned to
  patients through a seeded permutation.  For n = 50 the counts are the planned ones.
* Everything is vectorised over patients / visits (numpy arrays per table); there is
  no per-patient Python loop, so n = 100,000 (about 10 million lab rows) is cheap.
* Determinism: one ``numpy.random.Generator`` seeded from ``seed``; no clock; fixed
  float formatting (values rounded, then written in shortest round-trip form); rows
  sorted by each table's key; UTF-8, ``\\n`` line endings, ISO dates.

* Any study: ``study_from_description`` turns a study description (YAML: size, seed,
  salvage agent and doses, published targets) into the plan of another study; what it
  leaves out keeps the seed study's proportions (docs/synthetic-cohort.md, "Any study").

Run ``python -m alsalvage.synthetic --n 50 --seed 20190607 --out resources/demo``
(or ``--study studies/pomalidomide/cohort.yaml --out DIR``) from ``workflow/scripts``
(or with ``PYTHONPATH=workflow/scripts``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from alsalvage import contract, egfr, survival

log = logging.getLogger(__name__)

REFERENCE_N = 50
CREATININE_CAP_MG_DL = 20.0  # highest follow-up creatinine written (contract ceiling: 30)
DAYS_PER_MONTH = 30.4375
EPOCH = np.datetime64("1970-01-01", "D")

# ---------------------------------------------------------------------------
# The plan for the 50-patient reference cohort (hand-derived from the seed study,
# see docs/synthetic-cohort.md for the arithmetic and the tolerance of each row).
# ---------------------------------------------------------------------------
PLAN_50 = {
    "male": 33,  # 67% of 50 = 33.5
    "kappa": 13,  # about 1:3 kappa:lambda
    "heart": 36,  # 72%
    "kidney": 37,  # 75% = 37.5
    "nerve": 16,  # 33% = 16.5
    "liver": 12,  # 24%
    "autonomic": 8,
    "soft_tissue": 6,
    "gi": 5,
    "dialysis": 6,  # 12% on dialysis at start
    "mayo": (10, 21, 19),  # Mayo 2004 I / II / III (21% / 41% / 38%)
    "bortezomib": (14, 15, 21),  # naive / potentially sensitive / refractory (28/30/42%)
    # >= PR per bortezomib group: 8/14 (57%) naive, 11/15 sensitive, 9/21 (43%)
    # refractory; exposed 20/36 (56%), non-refractory 19/29 (66%), ITT 28/50 (56%)
    "responders": (8, 11, 9),
    "hem_levels": (2, 12, 14),  # CR / VGPR / PR among the 28 responders
    "renal_evaluable": 31,  # kidney involved, not on dialysis (all with proteinuria >= 1 g)
    "renal_responders": 3,  # 11% of evaluable ~ 3/31
    "liver_responders": 1,  # 8% of 12 liver-evaluable
    "dialysis_progression": 10,  # 10 patients start chronic dialysis after index
    "stops": {  # stop reasons; 5 + 13 + 5 = 23 early discontinuations (46%), 8 deaths
        "death": 8,
        "toxicity": 13,
        "progression": 3,
        "no_response": 2,
        "patient_decision": 3,
        "physician_decision": 2,
        "completed": 19,
    },
    "deaths_by_group": (1, 3, 4),  # deaths on therapy: naive / sensitive / refractory
    "prior_lines": (27, 13, 7, 3),  # 1 / 2 / 3 / 4 prior lines: median 1, range 1-4
    "start_dose": (8, 30, 12),  # 5 / 10 / 15 mg starting dose: median 10, range 5-15
    "partner": (28, 17, 5),  # none / cyclophosphamide / melphalan
    "grade3": {  # patients with a grade >= 3 event of each CTCAE v5 term
        "platelet count decreased": 3,  # thrombocytopenia 6%
        "anemia": 7,  # 15% = 7.5
        "neutrophil count decreased": 3,  # neutropenia 6%
        "diarrhea": 5,  # 9% = 4.5
        "fatigue": 8,  # 15% = 7.5
        "rash maculo-papular": 7,  # skin rash 15% = 7.5
        "pneumonitis": 2,  # 4%
        "acute kidney injury": 4,  # acute renal failure 8%
    },
}
STOP_ORDER = tuple(PLAN_50["stops"])
GRADE3_TERMS = tuple(PLAN_50["grade3"])
LOW_GRADE_TERMS = (
    "fatigue",
    "rash maculo-papular",
    "diarrhea",
    "constipation",
    "peripheral edema",
    "anemia",
    "platelet count decreased",
    "neutrophil count decreased",
    "creatinine increased",
    "upper respiratory infection",
)

# Planned targets for continuous baseline figures.
AGE_MEDIAN, AGE_MIN, AGE_MAX = 63, 42, 82
EGFR_MEDIAN = 53.0
NTPROBNP_MEDIAN = 2369.0
FL_TO_INDEX_MONTHS = (14.0, 1.0, 108.0)  # median, min, max
DURATION_MEDIAN_DAYS = 219  # 7.2 months = 7 cycles of 28 days with 24 days of delays
OS_MEDIAN_DAYS = 883  # 29 months
OS_MEDIAN_TOL_DAYS = 8  # accept a Kaplan-Meier median within 29 months +- 8 days
CYCLE_DAYS = 28
# Gaps that decide bortezomib sensitivity (threshold 182.6 days): kept far away.
SENSITIVE_GAP_MIN_DAYS = 270
REFRACTORY_GAP_MAX_DAYS = 120
# Window of dates.
INDEX_FIRST = np.datetime64("2010-01-15", "D")
DATA_CUTOFF = np.datetime64("2019-06-30", "D")
# Survival model: log hazard ratios (naive vs exposed, Mayo II / III vs I, responders).
LOG_HR = {"naive": np.log(0.30), "stage2": np.log(1.7), "stage3": np.log(3.2), "responder": np.log(0.6)}

SURVIVAL_TRIES = 40
OUTPUT_TABLES = tuple(contract.TABLES)

# The study the generator plans for: the seed study unless a study description says
# otherwise (study_from_description, docs/synthetic-cohort.md, "Any study").
DEFAULT_STUDY = {
    "reference_n": REFERENCE_N,  # the cohort size the plan's counts are for
    "plan": PLAN_50,
    "age": (AGE_MEDIAN, AGE_MIN, AGE_MAX),
    "egfr_median": EGFR_MEDIAN,
    "ntprobnp_median": NTPROBNP_MEDIAN,
    "fl_to_index_months": FL_TO_INDEX_MONTHS,
    "duration_median_days": DURATION_MEDIAN_DAYS,
    "os_median_days": OS_MEDIAN_DAYS,
    # planned survival contrasts across the prior-bortezomib groups (naive better, adjusted
    # for Mayo stage; sensitive and refractory alike): off for a study without grouping
    "exposure_contrasts": True,
    "dose_column": "lenalidomide_mg",
    "start_doses": (5.0, 10.0, 15.0),  # one per count of plan["start_dose"]
    "dose_step": 5.0,  # a dose-reducing adverse event lowers the dose by this much ...
    "min_dose": 5.0,  # ... but not below this
}


# ---------------------------------------------------------------------------
# Allocation helpers
# ---------------------------------------------------------------------------
def allocate(counts, n: int, reference_n: int = REFERENCE_N) -> np.ndarray:
    """Scale reference counts (for 50 patients) to ``n`` by largest remainder.

    The result sums to round(sum(counts) * n / 50) (half up); ties in the
    remainders go to the earlier category.  For n = 50 the counts are returned.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(np.floor(counts.sum() * n / reference_n + 0.5))
    exact = counts * n / reference_n
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    if rest > 0:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:rest]] += 1
    return base


def share(count50: int, denom50: int, denom_n: int) -> int:
    """Scale a count planned out of ``denom50`` to a denominator ``denom_n`` (half up)."""
    if denom50 == 0:
        return 0
    return int(np.floor(count50 * denom_n / denom50 + 0.5))


def labels(rng: np.random.Generator, counts, values=None) -> np.ndarray:
    """A seeded permutation of a list holding exactly ``counts[i]`` copies of value i."""
    values = np.arange(len(counts)) if values is None else np.asarray(values)
    return rng.permutation(np.repeat(values, counts))


def pick(rng: np.random.Generator, eligible: np.ndarray, k: int, weight=None) -> np.ndarray:
    """Boolean mask with exactly ``k`` patients chosen among ``eligible`` (weighted)."""
    idx = np.flatnonzero(eligible)
    k = min(k, idx.size)
    out = np.zeros(eligible.size, dtype=bool)
    if k <= 0:
        return out
    if weight is None:
        chosen = rng.choice(idx, size=k, replace=False)
    else:
        w = np.asarray(weight, dtype=float)[idx]
        # weighted sampling without replacement via exponential keys (Efraimidis-Spirakis)
        keys = rng.exponential(size=idx.size) / w
        chosen = idx[np.argsort(keys, kind="stable")[:k]]
    out[chosen] = True
    return out


def force_order_stats(values: np.ndarray, median: float, lo=None, hi=None, half_gap=0.0) -> np.ndarray:
    """Sorted copy of ``values`` whose median is exactly ``median`` (and min/max if given).

    For an even count the two middle values become median -/+ half_gap.  Values are
    clipped so that the sorted order is preserved.
    """
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n == 0:
        return v
    if lo is not None:
        v = np.maximum(v, lo)
        v[0] = lo
    if hi is not None:
        v = np.minimum(v, hi)
        v[-1] = hi
    m = n // 2
    if n % 2:
        v[m] = median
        v[:m] = np.minimum(v[:m], median)
        v[m + 1 :] = np.maximum(v[m + 1 :], median)
    elif n >= 2:
        v[m - 1], v[m] = median - half_gap, median + half_gap
        v[: m - 1] = np.minimum(v[: m - 1], median - half_gap)
        v[m + 1 :] = np.maximum(v[m + 1 :], median + half_gap)
    if lo is not None:
        v[0] = lo
    if hi is not None and n > 1:
        v[-1] = hi
    return v


def assign_sorted(values_sorted: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Give the k-th smallest value to the patient with the k-th smallest score."""
    out = np.empty_like(values_sorted)
    out[np.argsort(score, kind="stable")] = values_sorted
    return out


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median by the statistics stage's own function (survival.km_median,
    R's convention), inf if not reached. The generator calibrates the demo cohort's
    median overall survival with it (see docs/methods.md, "Statistics")."""
    med = survival.km_median(time, event)
    return float("inf") if np.isnan(med) else med


def km_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan-Meier survival at time ``at`` (events at ``at`` count)."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    s = 1.0
    for t in np.unique(time[event & (time <= at)]):
        s *= 1.0 - np.sum(event & (time == t)) / np.sum(time >= t)
    return s


def egfr_ckd_epi_2009(scr, age, female):
    """CKD-EPI 2009 eGFR (no race factor), by alsalvage.egfr (the one copy of the equation)."""
    return egfr.ckd_epi(scr, age, np.where(female, "F", "M"), "ckd_epi_2009")


def creatinine_for_egfr(egfr_value, age, female):
    """Invert CKD-EPI 2009: the creatinine (mg/dL) that gives ``egfr_value``."""
    return egfr.creatinine_for(egfr_value, age, female, "ckd_epi_2009")


# ---------------------------------------------------------------------------
# Any study: a study description (YAML, docs/synthetic-cohort.md) -> what to plan for
# ---------------------------------------------------------------------------
DESCRIPTION_KEYS = {"n_patients", "seed", "agent", "partner", "targets", "prior_exposure", "grade3_patients"}
AGENT_KEYS = {"name", "dose_column", "start_doses", "dose_step", "min_dose"}
# Targets the plan meets by construction (counts and forced order statistics) ...
PLANNED_TARGETS = {
    "age_median",
    "age_range",
    "months_diagnosis_to_start_median",
    "cardiac_involvement_pct",
    "response_rate_pct",
    "organ_responders",
    "os_median_months",
    "time_to_response_median_months",
    "pfs_median_months",
    "pfs_1y_pct",  # through the shape of the progression law (with pfs_median_months)
}
# ... and targets that follow from the planned courses (the survival draw): recorded in
# the description, checked against the run.
CHECKED_TARGETS = {"os_1y_pct"}
EXPOSURE_GROUPS = ("naive", "sensitive", "refractory")
DIAGNOSIS_TO_FIRST_LINE_DAYS = 33.5  # mean of the 7-60 days drawn in build_tables (then shifted)


def _half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _spread(total: int, weights) -> tuple[int, ...]:
    """``total`` split in proportion to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum() if w.sum() > 0 else np.zeros_like(w)
    base = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return tuple(int(v) for v in base)


def study_from_description(desc: dict) -> tuple[dict, int, int]:
    """A study description (the YAML of docs/synthetic-cohort.md, "Any study") ->
    (study, n, seed) for plan_cohort / generate / write_cohort.  What the description leaves
    out keeps the seed study's proportions, scaled to its n.  Unknown keys are errors."""
    unknown = set(desc) - DESCRIPTION_KEYS
    if unknown:
        raise ValueError(f"study description: unknown key(s) {sorted(unknown)}")
    n, seed = int(desc["n_patients"]), int(desc["seed"])
    if n < 10:
        raise ValueError(f"study description: n_patients must be >= 10 (got {n})")
    targets = dict(desc.get("targets") or {})
    unknown = set(targets) - PLANNED_TARGETS - CHECKED_TARGETS
    if unknown:
        raise ValueError(f"study description: unknown target(s) {sorted(unknown)}")
    agent = dict(desc.get("agent") or {})
    unknown = set(agent) - AGENT_KEYS
    if unknown:
        raise ValueError(f"study description: unknown agent key(s) {sorted(unknown)}")

    def scaled(key):
        v = PLAN_50[key]
        if isinstance(v, dict):
            return dict(zip(v, (int(c) for c in allocate(list(v.values()), n))))
        if isinstance(v, tuple):
            return tuple(int(c) for c in allocate(v, n))
        return int(allocate([v, REFERENCE_N - v], n)[0])

    plan = {k: scaled(k) for k in PLAN_50}
    pct = lambda key: _half_up(float(targets[key]) * n / 100.0)  # noqa: E731
    if "cardiac_involvement_pct" in targets:
        plan["heart"] = pct("cardiac_involvement_pct")
    # Mayo 2004 stage I has no cardiac involvement: at most n - heart patients
    stage1 = min(plan["mayo"][0], n - plan["heart"])
    plan["mayo"] = (stage1,) + _spread(n - stage1, plan["mayo"][1:])
    prior = desc.get("prior_exposure")
    if prior:
        unknown = set(prior) - {f"{g}_pct" for g in EXPOSURE_GROUPS}
        if unknown:
            raise ValueError(f"study description: unknown prior_exposure key(s) {sorted(unknown)}")
        groups = [_half_up(float(prior.get(f"{g}_pct", 0)) * n / 100.0) for g in EXPOSURE_GROUPS[1:]]
        plan["bortezomib"] = (n - sum(groups), *groups)
    n_resp = pct("response_rate_pct") if "response_rate_pct" in targets else sum(plan["responders"])
    plan["responders"] = _spread(n_resp, plan["bortezomib"])
    plan["hem_levels"] = _spread(n_resp, PLAN_50["hem_levels"])
    # deaths on therapy among each group's non-responders
    deaths = _spread(plan["stops"]["death"], plan["bortezomib"])
    plan["deaths_by_group"] = tuple(min(d, b - r) for d, b, r in zip(deaths, plan["bortezomib"], plan["responders"]))
    plan["renal_evaluable"] = plan["kidney"] - plan["dialysis"]  # dialysis patients are kidney-involved
    if "organ_responders" in targets:
        organ = int(targets["organ_responders"])
        plan["liver_responders"] = min(1, organ, plan["liver"])
        plan["renal_responders"] = organ - plan["liver_responders"]
    partner = desc.get("partner", None)
    if partner is not None:
        if partner not in contract.PARTNERS:
            raise ValueError(f"study description: partner must be one of {list(contract.PARTNERS)}")
        plan["partner"] = tuple(n if p == partner else 0 for p in contract.PARTNERS)
    grade3 = desc.get("grade3_patients")
    if grade3:  # {CTCAE term: patients}; the terms left out keep the seed study's shares
        unknown = set(grade3) - set(GRADE3_TERMS)
        if unknown:
            raise ValueError(f"study description: grade3_patients: unknown term(s) {sorted(unknown)}; known: {list(GRADE3_TERMS)}")
        bad = {t: v for t, v in grade3.items() if not (isinstance(v, int) and 0 <= v <= n)}
        if bad:
            raise ValueError(f"study description: grade3_patients: counts must be whole numbers 0-{n} (got {bad})")
        plan["grade3"] = {t: int(grade3.get(t, c)) for t, c in plan["grade3"].items()}
    study = dict(DEFAULT_STUDY, plan=plan, reference_n=n, exposure_contrasts=False, targets=targets)
    if "start_doses" in agent:  # {dose: patients}
        doses = {float(k): int(v) for k, v in agent["start_doses"].items()}
        if sum(doses.values()) != n:
            raise ValueError(f"study description: agent.start_doses must add up to n_patients ({n})")
        study["start_doses"] = tuple(sorted(doses))
        plan["start_dose"] = tuple(doses[d] for d in sorted(doses))
    for key in ("dose_column", "dose_step", "min_dose"):
        if key in agent:
            study[key] = agent[key] if key == "dose_column" else float(agent[key])
    if "age_median" in targets:
        med = int(targets["age_median"])
        lo, hi = targets.get("age_range", (med - (AGE_MEDIAN - AGE_MIN), med + (AGE_MAX - AGE_MEDIAN)))
        study["age"] = (med, int(lo), int(hi))
    if "months_diagnosis_to_start_median" in targets:
        months = float(targets["months_diagnosis_to_start_median"])
        study["dx_to_index_median_days"] = _half_up(months * DAYS_PER_MONTH)
        med = months - DIAGNOSIS_TO_FIRST_LINE_DAYS / DAYS_PER_MONTH
        study["fl_to_index_months"] = (med, max(1.0, med / 10.0), max(FL_TO_INDEX_MONTHS[2], 3.0 * med))
    if "time_to_response_median_months" in targets:
        study["ttr_median_days"] = _half_up(float(targets["time_to_response_median_months"]) * DAYS_PER_MONTH)
    if "pfs_median_months" in targets:
        study["pfs_median_days"] = _half_up(float(targets["pfs_median_months"]) * DAYS_PER_MONTH)
        if "pfs_1y_pct" in targets:
            study["pfs_1y"] = float(targets["pfs_1y_pct"]) / 100.0
    if "os_median_months" in targets:
        study["os_median_days"] = _half_up(float(targets["os_median_months"]) * DAYS_PER_MONTH)
    return study, n, seed


def load_study(path) -> tuple[dict, int, int]:
    """Read a study description (YAML) -> (study, n, seed)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        return study_from_description(yaml.safe_load(fh))

# ---------------------------------------------------------------------------
# Planning (one value per patient)
# ---------------------------------------------------------------------------
def plan_cohort(n: int, seed: int, study: dict | None = None) -> dict[str, np.ndarray]:
    """Plan every patient's course; returns a dict of per-patient arrays.  ``study``: what
    to plan for (DEFAULT_STUDY, the seed study, when None; study_from_description)."""
    if n < 10:
        raise ValueError(f"synthetic cohort: n must be >= 10 (got {n})")
    S = DEFAULT_STUDY if study is None else study
    PLAN, ref_n = S["plan"], S["reference_n"]
    rng = np.random.default_rng(seed)
    P: dict[str, np.ndarray] = {"n": np.array(n), "_study": S}

    def allocate(counts, n):  # noqa: F811 (the plan's counts are for ref_n patients)
        return globals()["allocate"](counts, n, ref_n)

    one = lambda key: int(allocate([PLAN[key], ref_n - PLAN[key]], n)[0])  # noqa: E731

    # --- demographics and clone
    P["female"] = labels(rng, [one("male"), n - one("male")], [False, True])
    P["kappa"] = labels(rng, [one("kappa"), n - one("kappa")], [True, False])

    # --- Mayo 2004 stage (0 = I, 1 = II, 2 = III) and organ involvement
    stage = labels(rng, allocate(PLAN["mayo"], n))
    P["stage"] = stage
    n_heart = one("heart")
    # Stage I: neither marker high -> no heart involvement.  Stage II/III patients are
    # heart-involved except a few, who are the ones on dialysis (NT-proBNP raised by renal failure).
    non_heart_23 = max(0, n - n_heart - int((stage == 0).sum()))
    n_dial = one("dialysis")
    w_dial = np.where(stage > 0, 1.0, 0.0)
    dial = pick(rng, stage > 0, n_dial, w_dial)
    heart = stage > 0
    nh = pick(rng, dial, min(non_heart_23, n_dial))
    nh |= pick(rng, heart & ~nh & ~dial, non_heart_23 - int(nh.sum()))
    heart &= ~nh
    P["heart"], P["dialysis"] = heart, dial
    kidney = dial | pick(rng, ~dial, one("kidney") - int(dial.sum()))
    P["kidney"] = kidney
    for organ in ("liver", "nerve", "autonomic", "soft_tissue", "gi"):
        P[organ] = pick(rng, np.ones(n, bool), one(organ))

    # --- bortezomib history (0 naive, 1 potentially sensitive, 2 refractory)
    bort_counts = allocate(PLAN["bortezomib"], n)
    bort = labels(rng, bort_counts)
    P["bort"] = bort

    # --- hematologic response plan: 0 NR, 1 PR, 2 VGPR, 3 CR
    resp = np.zeros(n, dtype=np.int64)
    responder = np.zeros(n, dtype=bool)
    for g in range(3):
        k = share(PLAN["responders"][g], PLAN["bortezomib"][g], int(bort_counts[g]))
        responder |= pick(rng, bort == g, k)
    n_resp = int(responder.sum())
    lev = allocate(PLAN["hem_levels"], n)  # CR, VGPR, PR
    lev = np.floor(lev * n_resp / max(lev.sum(), 1) + 0.0).astype(np.int64)
    lev[2] += n_resp - lev.sum()  # remainder to PR
    resp[responder] = labels(rng, [lev[2], lev[1], lev[0]], [1, 2, 3])
    P["resp"] = resp

    # --- stop reasons (deaths and progression/no-response stops are non-responders)
    stop = np.full(n, -1, dtype=np.int64)
    stop_counts = allocate(list(PLAN["stops"].values()), n)
    code = {s: i for i, s in enumerate(STOP_ORDER)}
    # deaths on therapy: a fixed number per bortezomib group (proportional among the exposed,
    # so that sensitive and refractory do not differ), mostly Mayo stage III
    w_death = np.choose(stage, [0.3, 1.0, 4.0])
    death = np.zeros(n, dtype=bool)
    for g in range(3):
        k = share(PLAN["deaths_by_group"][g], PLAN["bortezomib"][g], int(bort_counts[g]))
        death |= pick(rng, ~responder & (bort == g), k, w_death)
    stop_counts[code["death"]] = int(death.sum())
    stop[death] = code["death"]
    for s in ("progression", "no_response"):
        m = pick(rng, ~responder & (stop < 0), int(stop_counts[code[s]]))
        stop[m] = code[s]
    rest = np.flatnonzero(stop < 0)
    remaining = [int(stop_counts[code[s]]) for s in ("toxicity", "patient_decision", "physician_decision", "completed")]
    remaining[-1] = rest.size - sum(remaining[:-1])
    stop[rest] = labels(
        rng, remaining, [code[s] for s in ("toxicity", "patient_decision", "physician_decision", "completed")]
    )
    P["stop"] = stop

    # --- measurability of dFLC at baseline: all responders; 3 in 4 non-responders
    meas = responder | (rng.random(n) < 0.75)
    P["measurable"] = meas

    # --- duration of therapy (days from index to salvage end); median exactly 219
    d = np.exp(rng.normal(np.log(S["duration_median_days"]), 0.75, n))
    d_sorted = force_order_stats(np.clip(d, 14, 1000), S["duration_median_days"], half_gap=0)
    base = np.choose(
        stop, [0.0, 1.0, 1.2, 1.2, 1.8, 1.8, 3.0]
    )  # death, toxicity, progression, no_response, patient, physician, completed
    score = base + 0.8 * responder + rng.normal(0, 0.6, n)
    dur = np.rint(assign_sorted(d_sorted, score)).astype(np.int64)
    dur = np.where(responder, np.maximum(dur, 84), dur)  # responders reach their nadir on therapy
    dur = np.where(stop == code["toxicity"], np.maximum(dur, 35), dur)
    P["dur"] = dur
    n_cyc = np.maximum(dur - 27, 0) // CYCLE_DAYS + 1
    P["n_cycles"] = n_cyc
    P["delay_total"] = np.maximum(dur - 27, 0) - CYCLE_DAYS * (n_cyc - 1)  # 0..27 days

    # --- organ responses (renal, liver), among hematologic responders with long therapy
    renal_eval = kidney & ~dial
    long_resp = responder & (dur >= 180)
    k_ren = share(PLAN["renal_responders"], PLAN["renal_evaluable"], int(renal_eval.sum()))
    ren_resp = pick(rng, renal_eval & long_resp, k_ren)
    if ren_resp.sum() < k_ren:  # small cohorts: fall back on the longest responders
        ren_resp |= pick(rng, renal_eval & responder & ~ren_resp, k_ren - int(ren_resp.sum()), dur)
    k_liv = share(PLAN["liver_responders"], PLAN["liver"], int(P["liver"].sum()))
    liv_resp = pick(rng, P["liver"] & long_resp & ~ren_resp, k_liv)
    if liv_resp.sum() < k_liv:
        liv_resp |= pick(rng, P["liver"] & responder & ~ren_resp & ~liv_resp, k_liv - int(liv_resp.sum()), dur)
    P["renal_resp"], P["liver_resp"] = ren_resp, liv_resp

    # --- first response day (a study with a time-to-response target only): drawn around
    # the target, median exactly on it, never after the end of therapy; the labs of that
    # day show the response for the first time (_labs)
    ttr = S.get("ttr_median_days")
    if ttr is not None:
        rd = np.flatnonzero(responder)
        f = np.exp(rng.normal(np.log(ttr), 0.35, rd.size))
        f_sorted = force_order_stats(np.clip(f, 21, 150), ttr)
        first = np.full(n, -1, dtype=np.int64)
        first[rd] = np.minimum(np.rint(rng.permutation(f_sorted)), dur[rd] - 7).astype(np.int64)
        P["first_resp_day"] = first

    # --- progression to dialysis after index
    k_dp = one("dialysis_progression")
    w_dp = np.where(responder, 0.4, 1.0) * np.choose(stage, [0.6, 1.0, 1.3])
    dprog = pick(rng, renal_eval & ~ren_resp & (stop != code["death"]), k_dp, w_dp)
    P["dial_prog"] = dprog

    # --- age (integer years at index): median 63, range exactly 42-82
    ages = force_order_stats(np.rint(rng.normal(S["age"][0], 9.0, n)), *S["age"])
    P["age"] = rng.permutation(ages).astype(np.int64)

    # --- baseline eGFR for patients not on dialysis (median 53), lowest for dialysis progressors
    nd = ~dial
    eg = np.exp(rng.normal(np.log(S["egfr_median"]), 0.42, int(nd.sum())))
    eg_sorted = force_order_stats(np.clip(eg, 9, 118), S["egfr_median"], half_gap=0.1)
    eg_score = -3.0 * dprog[nd] - 0.6 * kidney[nd] + 0.02 * (S["age"][0] - P["age"][nd]) + rng.normal(0, 0.6, nd.sum())
    egfr = np.full(n, np.nan)
    egfr[nd] = assign_sorted(eg_sorted, eg_score)
    egfr = np.where(dprog, np.minimum(egfr, 40.0), egfr)  # progression to dialysis from CKD 3b-4
    P["egfr_target"] = egfr
    cr = creatinine_for_egfr(egfr, P["age"], P["female"])
    cr = np.where(dial, rng.uniform(4.5, 8.5, n), cr)
    P["creat0"] = np.round(cr, 2)

    # --- cardiac markers: Mayo 2004 stage by NT-proBNP >= 332 and cTnT >= 35 ng/L
    nt = np.where(
        stage == 0,
        rng.uniform(60, 280, n),
        np.where(
            stage == 1,
            np.exp(rng.normal(np.log(1500), 0.6, n)),
            np.exp(rng.normal(np.log(4800), 0.7, n)),
        ),
    )
    nt = np.where(stage > 0, np.clip(nt, 700, 30000), nt)
    nt_sorted = force_order_stats(nt, S["ntprobnp_median"], half_gap=9.0)
    nt = assign_sorted(nt_sorted, nt)  # same patients keep their rank
    P["ntprobnp0"] = np.rint(nt)
    ctnt = np.where(stage == 2, np.clip(np.exp(rng.normal(np.log(90), 0.6, n)), 48, 900), rng.uniform(5, 24, n))
    P["ctnt0"] = np.rint(ctnt)
    P["nyha0"] = np.where(heart, np.choose(stage, [1, 2, 2]) + (rng.random(n) < 0.3), 1)
    P["lvef0"] = np.rint(np.where(heart, rng.uniform(45, 65, n), rng.uniform(55, 68, n)))

    # --- FLC: uninvolved chain, baseline dFLC, nadir (fraction of baseline dFLC)
    unv = rng.uniform(6, 24, n) * np.where(dial | (egfr < 30), 2.5, 1.0)
    d0 = np.select(
        [resp == 1, resp >= 2, meas],
        [
            np.clip(np.exp(rng.normal(np.log(450), 0.5, n)), 250, 2500),
            rng.uniform(90, 600, n),
            np.clip(np.exp(rng.normal(np.log(300), 0.6, n)), 90, 2500),
        ],
        rng.uniform(2, 12, n),
    )
    nadir = np.select(
        [resp == 1, resp == 2, resp == 3],
        [rng.uniform(0.25, 0.38, n), rng.uniform(5, 20, n) / d0, np.zeros(n)],
        rng.uniform(0.78, 1.1, n),
    )
    P["uflc0"], P["dflc0"], P["dflc_nadir"] = np.round(unv, 1), np.round(d0, 1), nadir

    # --- proteinuria and ALP
    prot = np.where(
        renal_eval,
        np.clip(np.exp(rng.normal(np.log(4.0), 0.7, n)), 1.0, 14.0),
        np.where(kidney, rng.uniform(0.8, 3.0, n), rng.uniform(0.05, 0.3, n)),
    )
    P["prot0"] = np.round(prot, 2)
    uln = rng.choice(np.array([104.0, 120.0, 129.0]), n)
    alp = np.where(P["liver"], uln * rng.uniform(2.0, 5.0, n), uln * rng.uniform(0.35, 0.9, n))
    P["uln"], P["alp0"] = uln, np.rint(alp)

    # --- blood counts
    P["hb0"] = np.round(np.where(dial, rng.uniform(10.0, 11.5, n), rng.uniform(10.5, 14.5, n)), 1)
    P["plt0"] = np.rint(rng.uniform(160, 380, n))
    P["anc0"] = np.round(rng.uniform(2.2, 6.5, n), 2)

    # --- prior lines and time from first-line start to index
    n_lines = labels(rng, allocate(PLAN["prior_lines"], n), [1, 2, 3, 4])
    P["n_lines"] = n_lines
    sens = bort == 1
    seg_min = 35
    bort_seg_min = 480  # sensitive: >= 56 days of therapy + >= 270 days to progression + pre
    span_min = np.where(sens, bort_seg_min + seg_min * (n_lines - 1), 28 + seg_min * (n_lines - 1))
    med, lo, hi = S["fl_to_index_months"]
    months = np.exp(rng.normal(np.log(med), 0.9, n))
    months_sorted = force_order_stats(np.clip(months, lo, hi), med, lo, hi)
    span_sorted = np.rint(months_sorted * DAYS_PER_MONTH)
    sp_score = span_min + 150.0 * (n_lines - 1) + 350.0 * sens - 80.0 * (bort == 2) + rng.uniform(0, 300, n)
    span = assign_sorted(span_sorted, sp_score).astype(np.int64)
    P["span"] = np.maximum(span, span_min)
    # Position of the (only) bortezomib line: line 1 mostly (bortezomib-based primary therapy).
    pos = np.where(rng.random(n) < 0.7, 1, rng.integers(1, n_lines + 1))
    P["bort_line"] = np.where(bort > 0, np.minimum(pos, n_lines), 0)
    P["refr_nr"] = (bort == 2) & (rng.random(n) < 0.5)  # refractory by no response (else early relapse)

    # --- exposure to the salvage agent
    sd = labels(rng, allocate(PLAN["start_dose"], n), list(S["start_doses"]))
    # 5 mg goes preferentially to dialysis / low eGFR: swap by sorting within the permutation
    sd_sorted = np.sort(sd)
    sd_score = np.where(dial, -100.0, np.nan_to_num(egfr, nan=0.0)) + rng.normal(0, 15, n)
    P["dose0"] = assign_sorted(sd_sorted, sd_score)
    P["partner"] = labels(rng, allocate(PLAN["partner"], n))
    P["dex"] = np.where(P["age"] >= 70, 20.0, 40.0)

    # --- index dates, independent of the course (censoring must not differ between groups):
    # the longest therapy (1000 days) ends at least 90 days before the data cut-off
    latest = (DATA_CUTOFF - EPOCH).astype(np.int64) - 1090
    first = (INDEX_FIRST - EPOCH).astype(np.int64)
    idx = first + np.floor(rng.random(n) * np.maximum(latest - first, 1)).astype(np.int64)
    P["index"] = idx

    _plan_survival(P, rng, code)
    _plan_followup(P, rng, code)
    if S.get("pfs_median_days") is not None:
        _plan_progression(P, rng, code)
    return P


def cox_wald_p(time, event, X) -> tuple[np.ndarray, np.ndarray]:
    """Cox proportional-hazards fit (Breslow ties, Newton-Raphson): coefficients and Wald p."""
    from math import erfc, sqrt

    order = np.argsort(time, kind="stable")
    t, e, X = time[order], event[order].astype(float), X[order].astype(float)
    # first index of each tied-time group: risk set = everyone from there on
    first = np.r_[0, np.flatnonzero(np.diff(t)) + 1]
    grp_first = np.repeat(first, np.diff(np.r_[first, t.size]))
    p = X.shape[1]
    b = np.zeros(p)
    info = np.eye(p)
    for _ in range(30):
        w = np.exp(X @ b)
        s0 = np.cumsum(w[::-1])[::-1][grp_first]
        s1 = np.cumsum((w[:, None] * X)[::-1], axis=0)[::-1][grp_first]
        s2 = np.cumsum((w[:, None, None] * X[:, :, None] * X[:, None, :])[::-1], axis=0)[::-1][grp_first]
        ev = e > 0
        xbar = s1[ev] / s0[ev, None]
        grad = (X[ev] - xbar).sum(axis=0)
        info = (s2[ev] / s0[ev, None, None] - xbar[:, :, None] * xbar[:, None, :]).sum(axis=0)
        step = np.linalg.solve(info + 1e-9 * np.eye(p), grad)
        b = b + step
        if np.max(np.abs(step)) < 1e-9:
            break
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    pv = np.array([erfc(abs(bi / si) / sqrt(2)) for bi, si in zip(b, se)])
    return b, pv


def logrank_p(time, event, group) -> float:
    """Two-group log-rank test p-value (chi-square, 1 df)."""
    from math import erfc, sqrt

    order = np.argsort(time, kind="stable")
    t, e, g = time[order], event[order].astype(float), group[order].astype(float)
    _, first = np.unique(t, return_index=True)
    d = np.add.reduceat(e, first)
    d1 = np.add.reduceat(e * g, first)
    n_at = t.size - first
    n1_at = np.cumsum(g[::-1])[::-1][first]
    m = (d > 0) & (n_at > 1)
    exp1 = d[m] * n1_at[m] / n_at[m]
    var = d[m] * (n1_at[m] / n_at[m]) * (1 - n1_at[m] / n_at[m]) * (n_at[m] - d[m]) / (n_at[m] - 1)
    z = (d1[m].sum() - exp1.sum()) / np.sqrt(max(var.sum(), 1e-12))
    return erfc(abs(z) / sqrt(2))


def match_margins(t: np.ndarray, group: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Within ``mask``, give groups 1 and 2 the same distribution: each value is replaced,
    rank for rank within its group, by the pooled quantile at its mid-rank.  The order
    inside each group is kept (so responders still live longer than non-responders)."""
    out = t.astype(float).copy()
    sel = np.flatnonzero(mask & ((group == 1) | (group == 2)))
    if sel.size == 0:
        return out
    pooled = np.sort(out[sel])
    g = group[sel]
    order = np.lexsort((out[sel], g))
    gsize = np.array([(g == 1).sum(), (g == 2).sum()])
    gstart = np.array([0, gsize[0]])
    rank = np.empty(sel.size, dtype=np.int64)
    rank[order] = np.arange(sel.size) - np.repeat(gstart, gsize)
    q = (rank + 0.5) / gsize[g - 1]
    out[sel] = pooled[np.minimum((q * sel.size).astype(np.int64), sel.size - 1)]
    return out


def _plan_survival(P, rng, code):
    """Overall survival.  Deaths on therapy die at salvage end; the others get a time from
    a proportional-hazards model (uniforms stratified within each bortezomib group), scaled
    by bisection so that the Kaplan-Meier median is 29 months.  The draw is repeated (same
    generator, next numbers) until the planned contrasts hold with a margin: bortezomib-naive
    better than exposed adjusted for Mayo stage (Cox Wald p < 0.03) and potentially
    sensitive vs refractory not different (log-rank p > 0.2).  At most SURVIVAL_TRIES draws;
    the number used is logged."""
    n = int(P["n"])
    dur = P["dur"]
    cutoff = (DATA_CUTOFF - EPOCH).astype(np.int64)
    # last possible contact: data cut-off minus a few weeks; a few lost to follow-up
    cens = cutoff - P["index"] - rng.integers(0, 45, n)
    lost = rng.random(n) < 0.05
    cens = np.where(lost, dur + 90 + np.floor((cens - dur - 90) * rng.uniform(0.3, 0.9, n)), cens)
    cens = np.maximum(cens, dur + 60).astype(np.int64)
    bort, stage = P["bort"], P["stage"]
    S = P["_study"]
    contrasts = S["exposure_contrasts"]
    os_median = S["os_median_days"]
    lp = (
        LOG_HR["naive"] * (bort == 0) * contrasts
        + LOG_HR["stage2"] * (stage == 1)
        + LOG_HR["stage3"] * (stage == 2)
        + LOG_HR["responder"] * (P["resp"] > 0)
    )
    on_tx = P["stop"] == code["death"]
    exposed_after = (bort > 0) & ~on_tx
    X = np.column_stack([bort == 0, stage == 1, stage == 2]).astype(float)
    sr = bort > 0
    best = None
    for attempt in range(SURVIVAL_TRIES):
        # uniforms stratified within each bortezomib group
        key = rng.random(n)
        order = np.lexsort((key, bort))
        rank = np.empty(n, dtype=np.int64)
        gsize = np.bincount(bort, minlength=3)
        gstart = np.cumsum(gsize) - gsize
        rank[order] = np.arange(n) - np.repeat(gstart, gsize)
        u = (rank + rng.random(n)) / gsize[bort]
        x = -np.log1p(-u) / np.exp(lp)

        def observed(k):
            t = dur + 45 + np.rint(k * x * 365.25)
            t = np.maximum(match_margins(t, bort, exposed_after), dur + 45)
            t = np.where(on_tx, dur, t).astype(np.int64)
            return np.minimum(t, cens), t <= cens

        lo_k, hi_k = 0.02, 20.0
        while hi_k / lo_k > 1.0005:  # bisection on the time scale: KM median -> 29 months
            mid = np.sqrt(lo_k * hi_k)
            obs, ev = observed(mid)
            med = km_median(obs, ev)
            if med == os_median:
                hi_k = mid
                break
            if med < os_median:
                lo_k = mid
            else:
                hi_k = mid
        obs, ev = observed(hi_k)
        off = abs(km_median(obs, ev) - os_median)
        if contrasts:
            b, pv = cox_wald_p(obs.astype(float), ev, X)
            p_sr = logrank_p(obs[sr].astype(float), ev[sr], bort[sr] == 1)
        else:  # no planned contrast: the median alone decides
            b, pv, p_sr = np.array([-1.0]), np.array([0.0]), 1.0
        ok = b[0] < 0 and pv[0] < 0.03 and p_sr > 0.2 and off <= OS_MEDIAN_TOL_DAYS
        log.debug("survival draw %d: p_naive=%.4f p_sr=%.3f median off %d days", attempt, pv[0], p_sr, off)
        score = (pv[0] if b[0] < 0 else 1.0) + max(0.0, 0.2 - p_sr) + off / 100.0
        if best is None or score < best[0]:
            best = (score, obs, ev, attempt, pv[0], p_sr)
        if ok:
            break
    _, obs, ev, attempt, p_naive, p_sr = best
    if not contrasts:
        log.info("survival draw %d: Kaplan-Meier median %.0f days (planned %d)", attempt, km_median(obs, ev), os_median)
    else:
        log.info(
            "survival draw %d: Cox naive-vs-exposed p=%.4f (Mayo-adjusted), log-rank sensitive-vs-refractory p=%.3f",
            attempt,
            p_naive,
            p_sr,
        )
    P["os_days"], P["death"], P["os_attempt"] = obs, ev, np.array(attempt)


PFS_WEIBULL_SHAPES = tuple(np.round(np.arange(0.5, 5.01, 0.1), 2))


def _plan_progression(P, rng, code):
    """Hematologic progression (a study with a PFS target only).  Progression-free survival
    is progression or death: each patient gets a progression day from a Weibull law, scaled
    by bisection so that the Kaplan-Meier median of min(progression, death or last contact)
    is the planned median; its shape is the one of a grid whose survival at one year is
    nearest the planned one (pfs_1y_pct; else shape 1.5).  Those stopping for progression progress at the end of therapy;
    a responder progresses no earlier than 60 days after the first response.  A patient
    whose drawn day falls after death or last contact does not progress."""
    S = P["_study"]
    n = int(P["n"])
    obs, dead, dur = P["os_days"], P["death"].astype(bool), P["dur"]
    med = float(S["pfs_median_days"])
    s1y = S.get("pfs_1y")
    e = -np.log1p(-rng.random(n))  # unit exponential draws: x = e ** (1 / shape)
    floor = np.where(P["resp"] > 0, np.maximum(P.get("first_resp_day", np.zeros(n, np.int64)), 0) + 60, 28)
    prog_stop = P["stop"] == code["progression"]

    def planned(k):
        d = np.maximum(np.rint(k * x), floor)
        d = np.where(prog_stop, dur, d)
        return np.where(d < obs, d, -1).astype(np.int64)

    def pfs(k):
        d = planned(k)
        return np.where(d > 0, d, obs), (d > 0) | dead

    def calibrated():  # the scale whose Kaplan-Meier median is the planned one
        lo_k, hi_k = 1.0, 20000.0
        while hi_k / lo_k > 1.0005:
            mid = np.sqrt(lo_k * hi_k)
            if km_median(*pfs(mid)) < med:
                lo_k = mid
            else:
                hi_k = mid
        return hi_k

    # the Weibull shape: the one (of a grid) whose calibrated PFS is nearest the planned
    # survival at one year (deaths are events too); 1.5 without that target
    best = None
    for shape in PFS_WEIBULL_SHAPES if s1y is not None else (1.5,):
        x = e ** (1.0 / shape)
        k = calibrated()
        off = abs(km_at(*pfs(k), 365.25) - s1y) if s1y is not None else 0.0
        if best is None or off < best[0] - 1e-12:
            best = (off, shape, k)
    _, shape, k = best
    x = e ** (1.0 / shape)
    P["prog_day"] = planned(k)
    t, ev = pfs(k)
    log.info(
        "progression: shape %.2f, Kaplan-Meier PFS median %.0f days (planned %.0f), at 1 year %.3f",
        shape,
        km_median(t, ev),
        med,
        km_at(t, ev, 365.25),
    )


def _plan_followup(P, rng, code):
    """Dialysis start, next line of therapy, last contact."""
    n = int(P["n"])
    obs, dur = P["os_days"], P["dur"]
    # chronic dialysis: before index for those on dialysis at start; after it for progressors
    dial_t = np.where(
        P["dialysis"],
        -rng.integers(60, 900, n),
        np.clip(np.rint(rng.uniform(0.25, 0.8, n) * obs), 30, obs - 1),
    )
    P["dial_day"] = np.where(P["dialysis"] | P["dial_prog"], dial_t, np.iinfo(np.int64).min)
    # next line: soon after a stop for progression / no response; later after a relapse
    early = np.isin(P["stop"], [code["progression"], code["no_response"]])
    late = (P["stop"] != code["death"]) & (rng.random(n) < np.where(P["resp"] > 0, 0.4, 0.6))
    room = obs - dur
    nl = np.where(early, dur + rng.integers(20, 90, n), dur + np.rint(room * rng.uniform(0.3, 0.9, n)))
    has = (early | late) & (nl < obs - 14) & (room > 90 + 14 * early)
    has |= early & (nl < obs - 14)
    P["next_line_day"] = np.where(has, nl, np.iinfo(np.int64).min)


# ---------------------------------------------------------------------------
# Writing the tables
# ---------------------------------------------------------------------------
def _date(days) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def _opt_date(days, present) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=~np.asarray(present, bool))


def _num(values, decimals: int, present=None) -> pa.Array:
    v = np.round(np.asarray(values, dtype=float), decimals)
    v = np.where(v == 0, 0.0, v)  # no "-0"
    mask = None if present is None else ~np.asarray(present, bool)
    return pc.cast(pa.array(v, type=pa.float64(), mask=mask), pa.string())


def patient_ids(n: int) -> np.ndarray:
    width = max(3, len(str(n)))
    return np.char.add("SYN-", np.char.zfill(np.arange(1, n + 1).astype(str), width))


def build_tables(P: dict, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng([seed, 1])  # stream for the observation layer
    n = int(P["n"])
    ids = patient_ids(n)
    ids_pa = pa.array(ids)
    idx = P["index"]
    out = {}

    # ---------------- patients
    birth = idx - np.rint((P["age"] + rng.uniform(0.06, 0.94, n)) * 365.25).astype(np.int64)
    fl_start = idx - P["span"]
    lag = rng.integers(7, 60, n)
    target = P["_study"].get("dx_to_index_median_days")
    if target is not None:  # shift every lag alike (ranks kept): the median lands on the target
        total = P["span"] + lag
        lag = np.maximum(lag + int(np.rint(target - np.median(total))), 1)
    diag = fl_start - lag
    cols = {
        "patient_id": ids_pa,
        "sex": pa.array(np.where(P["female"], "F", "M")),
        "birth_date": _date(birth),
        "diagnosis_date": _date(diag),
        "isotype": pa.array(np.where(P["kappa"], "kappa", "lambda")),
    }
    for o in contract.ORGANS:
        cols[o] = pa.array(P[o].astype(np.int8))
    out["patients"] = pa.table(cols)

    out["therapy_lines"] = _therapy_lines(P, rng, ids)
    cycles, cyc_day, cyc_pat = _salvage_cycles(P, rng)
    ae_tab, ae_info = _adverse_events(P, rng, ids)
    out["salvage_cycles"] = _finish_cycles(P, cycles, ae_info["reduce_from"])
    out["adverse_events"] = ae_tab
    out["outcomes"] = _outcomes(P, ids)
    P["_labs_ctx"] = (cyc_day, cyc_pat, ae_info)
    return out


LAB_CHUNK = 10_000  # patients per block of lab rows (fixed: part of the output definition)


def lab_chunks(P: dict, seed: int):
    """Yield the labs table in blocks of LAB_CHUNK patients (rows stay in key order,
    since patient ids are zero-padded).  Each block has its own seeded generator, so
    memory is bounded by the block size and the result does not depend on anything
    but n and the seed."""
    n = int(P["n"])
    cyc_day, cyc_pat, ae = P["_labs_ctx"]
    ids = P["_ids"]
    for c, lo in enumerate(range(0, n, LAB_CHUNK)):
        hi = min(n, lo + LAB_CHUNK)
        sub = {
            k: (v[lo:hi] if isinstance(v, np.ndarray) and v.ndim == 1 and v.shape[0] == n else v) for k, v in P.items()
        }
        sub["n"] = np.array(hi - lo)
        a, b = np.searchsorted(cyc_pat, [lo, hi])
        m = (ae["p"] >= lo) & (ae["p"] < hi)
        sub_ae = {"p": ae["p"][m] - lo, "term": ae["term"][m], "day": ae["day"][m]}
        rng = np.random.default_rng([seed, 3, c])
        yield _labs(sub, rng, ids[lo:hi], cyc_day[a:b], cyc_pat[a:b] - lo, sub_ae)


REG_BORT = (
    ("CyBorD", "cyclophosphamide;bortezomib;dexamethasone"),
    ("VD", "bortezomib;dexamethasone"),
    ("VMDex", "bortezomib;melphalan;dexamethasone"),
)
REG_OTHER = (
    ("MDex", "melphalan;dexamethasone"),
    ("HDM-ASCT", "melphalan"),
    ("CTD", "cyclophosphamide;thalidomide;dexamethasone"),
    ("TD", "thalidomide;dexamethasone"),
    ("BDex", "bendamustine;dexamethasone"),
)


def _therapy_lines(P, rng, ids) -> pa.Table:
    n = int(P["n"])
    L = P["n_lines"]
    rows_pat = np.repeat(np.arange(n), L)
    line = np.arange(rows_pat.size) - np.repeat(np.cumsum(L) - L, L) + 1
    is_b = line == P["bort_line"][rows_pat]
    sens = (P["bort"][rows_pat] == 1) & is_b
    refr = (P["bort"][rows_pat] == 2) & is_b
    # segment lengths: the sensitive bortezomib line gets >= 480 days, the rest share the span
    span = P["span"][rows_pat].astype(float)
    Lr = L[rows_pat]
    w = rng.uniform(0.6, 1.4, rows_pat.size)
    has_sens = np.repeat(np.bincount(rows_pat, weights=sens, minlength=n) > 0, L)
    bseg = np.where(Lr == 1, span, np.maximum(480.0, 0.5 * span))
    other_span = np.where(has_sens, span - bseg, span)
    w = np.where(sens, 0.0, w)
    wsum = np.bincount(rows_pat, weights=w, minlength=n)[rows_pat]
    seg = np.where(sens, bseg, other_span * w / np.where(wsum > 0, wsum, 1))
    seg = np.floor(seg).astype(np.int64)
    # give rounding leftovers to the last line so that segments sum to the span exactly
    seg_sum = np.bincount(rows_pat, weights=seg, minlength=n).astype(np.int64)
    last = line == Lr
    seg = seg + np.where(last, (P["span"] - seg_sum)[rows_pat], 0)
    seg_start = np.cumsum(seg) - seg
    seg_start = seg_start - np.repeat(
        np.cumsum(np.bincount(rows_pat, weights=seg, minlength=n)) - np.bincount(rows_pat, weights=seg, minlength=n), L
    ).astype(np.int64)
    fl_start = P["index"][rows_pat] - P["span"][rows_pat]
    start = fl_start + seg_start
    g = seg.astype(float)
    pre = np.minimum(np.floor(rng.uniform(7, 40, g.size)), np.floor(0.1 * g)) + 1
    # gap = progression - end of line
    gap_refr = np.where(
        P["refr_nr"][rows_pat], rng.integers(0, 30, g.size), rng.integers(35, REFRACTORY_GAP_MAX_DAYS, g.size)
    )
    dur_refr = np.clip(g - pre - gap_refr, 7, 270)
    dur_sens = np.clip(np.floor(0.3 * g), 56, 180)
    dur_other = np.clip(np.floor(rng.uniform(0.2, 0.55, g.size) * g), 7, 400)
    dur = np.where(refr, dur_refr, np.where(sens, dur_sens, dur_other))
    dur = np.minimum(dur, np.maximum(g - pre - 1, 1))
    gap = np.where(refr, np.minimum(gap_refr, g - pre - dur), g - pre - dur)
    gap = np.maximum(gap, 0)
    end = start + dur
    prog = end + gap
    # best response of each line
    br = rng.choice(np.array(["CR", "VGPR", "PR", "NR"]), g.size, p=[0.15, 0.3, 0.35, 0.2])
    br = np.where(sens, rng.choice(np.array(["CR", "VGPR", "PR"]), g.size, p=[0.2, 0.4, 0.4]), br)
    br = np.where(refr, np.where(P["refr_nr"][rows_pat], "NR", rng.choice(np.array(["VGPR", "PR"]), g.size)), br)
    # progression date recorded except for some earlier non-bortezomib lines (imputed downstream)
    prog_known = is_b | last | (rng.random(g.size) > 0.15)
    rb = rng.integers(0, len(REG_BORT), g.size)
    ro = rng.integers(0, len(REG_OTHER), g.size)
    reg = np.where(is_b, np.array([r[0] for r in REG_BORT])[rb], np.array([r[0] for r in REG_OTHER])[ro])
    agents = np.where(is_b, np.array([r[1] for r in REG_BORT])[rb], np.array([r[1] for r in REG_OTHER])[ro])
    last_b = end - np.minimum(rng.integers(0, 8, g.size), dur)
    return pa.table(
        {
            "patient_id": pa.array(ids[rows_pat]),
            "line": pa.array(line.astype(np.int64)),
            "regimen": pa.array(reg),
            "agents": pa.array(agents),
            "start_date": _date(start),
            "end_date": _date(end),
            "best_response": pa.array(br),
            "progression_date": _opt_date(prog, prog_known),
            "last_bortezomib_date": _opt_date(last_b, is_b),
        }
    )


def _salvage_cycles(P, rng):
    n = int(P["n"])
    nc = P["n_cycles"]
    rows_pat = np.repeat(np.arange(n), nc)
    cyc = np.arange(rows_pat.size) - np.repeat(np.cumsum(nc) - nc, nc) + 1
    # the total delay of each patient is taken before one cycle (2..n), chosen at random
    delay_cycle = np.where(nc >= 2, 2 + np.floor(rng.random(n) * np.maximum(nc - 1, 1)).astype(np.int64), 0)
    P["delay_cycle"] = delay_cycle
    add = np.where(cyc >= delay_cycle[rows_pat], P["delay_total"][rows_pat], 0)
    add = np.where(delay_cycle[rows_pat] == 0, 0, add)
    day = (cyc - 1) * CYCLE_DAYS + add
    start = P["index"][rows_pat] + day
    return (
        {"rows_pat": rows_pat, "cycle": cyc, "day": day, "start": start},
        day,
        rows_pat,
    )


def _finish_cycles(P, cyc, reduce_from) -> pa.Table:
    """Dose per cycle: starting dose, one level lower from the cycle after a dose-reducing AE."""
    rows_pat = cyc["rows_pat"]
    dose0 = P["dose0"][rows_pat]
    reduced = cyc["cycle"] >= reduce_from[rows_pat]
    S = P["_study"]
    dose = np.where(reduced, np.maximum(dose0 - S["dose_step"], S["min_dose"]), dose0)
    partner = np.array(contract.PARTNERS)[P["partner"][rows_pat]]
    dex = P["dex"][rows_pat]
    return pa.table(
        {
            "patient_id": pa.array(P["_ids"][rows_pat]),
            "cycle": pa.array(cyc["cycle"].astype(np.int64)),
            "start_date": _date(cyc["start"]),
            P["_study"]["dose_column"]: _num(dose, 1),
            "dexamethasone_mg": _num(dex, 1),
            "partner": pa.array(partner),
        }
    )


def _adverse_events(P, rng, ids):
    """Grade >= 3 events in exactly the planned number of patients per term; one of them
    discontinues the salvage agent in each toxicity stop; grade 1-2 events for realism."""
    n = int(P["n"])
    code = {s: i for i, s in enumerate(STOP_ORDER)}
    nc, dur = P["n_cycles"], P["dur"]
    tox = P["stop"] == code["toxicity"]
    S = P["_study"]
    g3_counts = dict(zip(GRADE3_TERMS, allocate(list(S["plan"]["grade3"].values()), n, S["reference_n"])))
    rows_p, rows_term, rows_day, rows_grade, rows_act = [], [], [], [], []
    # the discontinuing event of each toxicity stop: term drawn from the planned pool
    pool = np.repeat(np.arange(len(GRADE3_TERMS)), list(g3_counts.values()))
    pool = rng.permutation(pool)
    tox_idx = np.flatnonzero(tox)
    k = min(tox_idx.size, pool.size)
    disc_term = np.full(n, -1)
    disc_term[tox_idx[:k]] = pool[:k]
    # acute kidney injury cannot stop a patient on dialysis or a planned renal responder
    aki_t = GRADE3_TERMS.index("acute kidney injury")
    bad = (disc_term == aki_t) & (P["dialysis"] | P["renal_resp"])
    if bad.any():
        swap = np.flatnonzero((disc_term >= 0) & (disc_term != aki_t) & ~P["dialysis"] & ~P["renal_resp"])
        swap = swap[: int(bad.sum())]
        b_idx = np.flatnonzero(bad)[: swap.size]
        disc_term[b_idx], disc_term[swap] = disc_term[swap], aki_t
    last_start = dur - np.where(dur >= 27, 27, dur)  # day of the last cycle start
    disc_day = np.minimum(last_start + rng.integers(5, 21, n), dur - 1)
    disc_day = np.maximum(disc_day, 1)
    has_disc = disc_term >= 0
    rows_p.append(np.flatnonzero(has_disc))
    rows_term.append(disc_term[has_disc])
    rows_day.append(disc_day[has_disc])
    rows_grade.append(np.where(rng.random(n) < 0.85, 3, 4)[has_disc])
    rows_act.append(np.full(int(has_disc.sum()), "discontinued"))
    used = np.bincount(disc_term[has_disc], minlength=len(GRADE3_TERMS))
    # other grade >= 3 events: during an earlier cycle, action dose_reduced (or interrupted at 5 mg)
    reduce_from = np.full(n, 10**6)
    eligible = (nc >= 2) & (P["stop"] != code["death"])
    ae_cycle = np.full((n, len(GRADE3_TERMS)), -1)
    for t, term in enumerate(GRADE3_TERMS):
        need = int(g3_counts[term]) - int(used[t])
        ok = eligible & (disc_term != t)
        if term == "acute kidney injury":  # not on dialysis, and not in a planned renal responder
            ok &= ~P["dialysis"] & ~P["renal_resp"]
        chosen = pick(rng, ok, need)
        c = np.flatnonzero(chosen)
        cyc = 1 + np.floor(rng.random(c.size) * (nc[c] - 1)).astype(np.int64)  # 1..n-1
        ae_cycle[c, t] = cyc
        start_day = (cyc - 1) * CYCLE_DAYS + np.where(
            (P["delay_cycle"][c] > 0) & (cyc >= P["delay_cycle"][c]), P["delay_total"][c], 0
        )
        day = start_day + rng.integers(7, 21, c.size)
        at5 = P["dose0"][c] <= S["min_dose"]
        act = np.where(at5 | (reduce_from[c] < 10**6), "interrupted", "dose_reduced")
        reduce_from[c] = np.where(act == "dose_reduced", np.minimum(reduce_from[c], cyc + 1), reduce_from[c])
        rows_p.append(c)
        rows_term.append(np.full(c.size, t))
        rows_day.append(day)
        rows_grade.append(np.where(rng.random(c.size) < 0.85, 3, 4))
        rows_act.append(act)
    # grade 5 for nobody (deaths on therapy are AL-related, not toxicity)
    g3_p = np.concatenate(rows_p)
    g3_t = np.concatenate(rows_term)
    g3_day = np.concatenate(rows_day)
    g3_grade = np.concatenate(rows_grade)
    g3_act = np.concatenate(rows_act)
    g3_term = np.array(GRADE3_TERMS)[g3_t]
    # grade 1-2 events: Poisson count per patient, on therapy
    lam = np.minimum(nc, 12) * 0.35
    k_low = rng.poisson(lam)
    lp = np.repeat(np.arange(n), k_low)
    lterm = np.array(LOW_GRADE_TERMS)[rng.integers(0, len(LOW_GRADE_TERMS), lp.size)]
    lday = np.floor(rng.random(lp.size) * np.maximum(dur[lp] - 1, 1)).astype(np.int64) + 1
    lgrade = rng.integers(1, 3, lp.size)
    lact = np.where(rng.random(lp.size) < 0.1, "interrupted", "none")
    p_all = np.concatenate([g3_p, lp])
    term_all = np.concatenate([g3_term, lterm])
    day_all = np.concatenate([g3_day, lday])
    grade_all = np.concatenate([g3_grade, lgrade])
    act_all = np.concatenate([g3_act, lact])
    # unique key (patient, term, onset date): keep the first (grade >= 3 rows come first)
    order = np.lexsort((np.arange(p_all.size), day_all, term_all, p_all))
    p_all, term_all, day_all, grade_all, act_all = (a[order] for a in (p_all, term_all, day_all, grade_all, act_all))
    dup = np.zeros(p_all.size, bool)
    dup[1:] = (p_all[1:] == p_all[:-1]) & (term_all[1:] == term_all[:-1]) & (day_all[1:] == day_all[:-1])
    keep = ~dup
    p_all, term_all, day_all, grade_all, act_all = (a[keep] for a in (p_all, term_all, day_all, grade_all, act_all))
    tab = pa.table(
        {
            "patient_id": pa.array(ids[p_all]),
            "term": pa.array(term_all),
            "grade": pa.array(grade_all.astype(np.int64)),
            "onset_date": _date(P["index"][p_all] + day_all),
            "action": pa.array(act_all),
        }
    )
    info = {"p": g3_p, "term": g3_term, "day": g3_day, "reduce_from": reduce_from}
    return tab, info


def _outcomes(P, ids) -> pa.Table:
    idx = P["index"]
    never = np.iinfo(np.int64).min
    died = P["death"]
    last = idx + P["os_days"]
    return pa.table(
        {
            "patient_id": pa.array(ids),
            "salvage_end_date": _date(idx + P["dur"]),
            "stop_reason": pa.array(np.array(STOP_ORDER)[P["stop"]]),
            "next_line_date": _opt_date(
                idx + np.where(P["next_line_day"] == never, 0, P["next_line_day"]), P["next_line_day"] != never
            ),
            "dialysis_start_date": _opt_date(
                idx + np.where(P["dial_day"] == never, 0, P["dial_day"]), P["dial_day"] != never
            ),
            "last_contact_date": _date(last),
            "death_date": _opt_date(last, died),
        }
    )


# Lab panels: (analyte, decimals in canonical unit)
LAB_ANALYTES = (
    "alp",
    "anc",
    "creatinine",
    "ctnt",
    "egfr",
    "flc_kappa",
    "flc_lambda",
    "hemoglobin",
    "lvef",
    "ntprobnp",
    "nyha",
    "platelets",
    "proteinuria_24h",
    "serum_ife",
    "urine_ife",
)


# every unit string the labs table uses (None = immunofixation, no unit)
UNITS = [None] + sorted(
    {u for a in LAB_ANALYTES for u in contract.ANALYTES[a].units if u}
    | {"mg/dL", "umol/L", "pg/mL", "ug/L", "g/L", "/mm3"}
)
UNIT_CODE = {u: i for i, u in enumerate(UNITS)}
UNIT_CODE[""] = 0


def _noise(rng, size, sd):
    return np.exp(np.clip(rng.normal(0.0, sd, size), -2 * sd, 2 * sd))


def _labs(P, rng, ids, cyc_day, cyc_pat, ae_info) -> pa.Table:
    """Long-format labs: baseline, each cycle start, AE visits, end of therapy, follow-up."""
    n = int(P["n"])
    dur, obs = P["dur"], P["os_days"]
    # ---- visits (patient, day from index, kind): 0 baseline, 1 cycle, 2 AE, 3 EOT, 4 follow-up
    base_day = -rng.integers(1, 26, n)
    cyc_mask = cyc_day > 0
    v_p = [np.arange(n), cyc_pat[cyc_mask]]
    v_d = [base_day, cyc_day[cyc_mask]]
    v_k = [np.zeros(n, np.int8), np.ones(int(cyc_mask.sum()), np.int8)]
    ae_lab = np.isin(
        ae_info["term"], ["anemia", "platelet count decreased", "neutrophil count decreased", "acute kidney injury"]
    )
    v_p.append(ae_info["p"][ae_lab])
    v_d.append(ae_info["day"][ae_lab])
    v_k.append(np.full(int(ae_lab.sum()), 2, np.int8))
    eot = dur + rng.integers(14, 29, n)
    has_eot = eot < obs
    v_p.append(np.flatnonzero(has_eot))
    v_d.append(eot[has_eot])
    v_k.append(np.full(int(has_eot.sum()), 3, np.int8))
    # follow-up every 60-90 days after the end-of-therapy visit, until last contact
    step = rng.integers(90, 151, n)
    n_fu = np.where(has_eot, np.maximum((obs - eot) // step, 0), 0)
    fp = np.repeat(np.arange(n), n_fu)
    j = np.arange(fp.size) - np.repeat(np.cumsum(n_fu) - n_fu, n_fu) + 1
    fday = eot[fp] + j * step[fp]
    v_p.append(fp)
    v_d.append(fday)
    v_k.append(np.full(fp.size, 4, np.int8))
    # the planned first response day is a lab visit (a study with a time-to-response target)
    if "first_resp_day" in P:
        fr = np.flatnonzero(P["first_resp_day"] > 0)
        v_p.append(fr)
        v_d.append(P["first_resp_day"][fr])
        v_k.append(np.ones(fr.size, np.int8))
    if "prog_day" in P:  # ... and the planned progression day
        pr = np.flatnonzero(P["prog_day"] > 0)
        v_p.append(pr)
        v_d.append(P["prog_day"][pr])
        v_k.append(np.full(pr.size, 4, np.int8))
    # the last contact is a visit too (when not already one)
    v_p.append(np.arange(n))
    v_d.append(obs)
    v_k.append(np.full(n, 4, np.int8))
    vp = np.concatenate(v_p)
    vd = np.concatenate(v_d).astype(np.int64)
    vk = np.concatenate(v_k)
    order = np.lexsort((vk, vd, vp))
    vp, vd, vk = vp[order], vd[order], vk[order]
    first = np.ones(vp.size, bool)
    first[1:] = (vp[1:] != vp[:-1]) | (vd[1:] != vd[:-1])
    vp, vd, vk = vp[first], vd[first], vk[first]
    vp_ok = vd <= obs[vp]
    vp, vd, vk = vp[vp_ok], vd[vp_ok], vk[vp_ok]
    V = vp.size
    t = np.maximum(vd, 0).astype(float)
    D = dur[vp].astype(float)
    on_tx = (vd >= 0) & (vd <= D)
    post = vd > D
    # ordinal of the visit within the patient (0 = baseline)
    starts = np.flatnonzero(np.r_[True, vp[1:] != vp[:-1]])
    counts = np.diff(np.r_[starts, V])
    vno = np.arange(V) - np.repeat(starts, counts)
    base = vk == 0

    # ---- FLC
    u0 = P["uflc0"][vp]
    d0 = P["dflc0"][vp]
    nad = P["dflc_nadir"][vp]
    resp = P["resp"][vp]
    tt = np.minimum(t, D)
    r = nad + (1 - nad) * np.exp(-tt / 14.0)
    if "first_resp_day" in P:  # responders: a slow fall short of PR, the response on the planned day
        F = P["first_resp_day"][vp].astype(float)
        late = (resp > 0) & (F > 0)
        settled = nad + (1 - nad) * np.exp(-(tt - F + 56.0) / 14.0)
        r = np.where(late, np.where(tt < F, 1.0 - 0.4 * tt / np.maximum(F, 1.0), settled), r)
    code = {s: i for i, s in enumerate(STOP_ORDER)}
    prog_stop = P["stop"][vp] == code["progression"]
    # after therapy: responders hold their nadir for 6 months, then relapse slowly
    relapse = np.clip((t - D - 180) / 365.0, 0, None)
    if "prog_day" in P:  # planned progression: no other rise; from the planned day a clear one
        G = P["prog_day"][vp]
        r = np.where((G > 0) & (t >= G), np.maximum(2.0, 250.0 / np.maximum(d0, 1.0)), r)
    else:
        r = np.where(prog_stop & (t > 0.5 * D), r * (1 + 1.5 * (t - 0.5 * D) / np.maximum(D, 1)), r)
        r = np.where(post, np.where(resp > 0, r * (1 + relapse) + relapse * 0.3, r * (1 + 0.5 * relapse)), r)
    dflc = d0 * r
    cr = resp == 3
    inv = np.where(cr & (t >= 70) & (t <= D + 180), 1.1 * u0, u0 + dflc)
    inv = np.where(base, u0 + d0, inv * _noise(rng, V, 0.05))
    uninv = np.where(base, u0, u0 * _noise(rng, V, 0.05))
    kappa = P["kappa"][vp]
    k_val = np.where(kappa, inv, uninv)
    l_val = np.where(kappa, uninv, inv)
    ife_neg = cr & (t >= 70) & (t <= D + 180)
    urine_pos0 = rng.random(n) < 0.65

    # ---- NT-proBNP: rises under lenalidomide in most patients, never falls > 16%
    riser = rng.random(n) < 0.85
    peak = np.where(riser, rng.uniform(1.35, 2.5, n), rng.uniform(1.0, 1.15, n))[vp]
    rise = 1 + (peak - 1) * (1 - np.exp(-tt / 60.0))
    rise = np.where(post, 1 + (rise - 1) * np.maximum(0.5, np.exp(-(t - D) / 180.0)), rise)
    dp = P["dial_prog"][vp]
    dial_day = P["dial_day"][vp].astype(float)
    pre_dial = dp & (t < dial_day)
    on_dial = (P["dialysis"][vp]) | (dp & (t >= dial_day))
    nt = P["ntprobnp0"][vp] * rise * np.where(dp, 1 + 0.6 * np.clip(t / np.maximum(dial_day, 1), 0, 1), 1.0)
    nt = np.where(base, P["ntprobnp0"][vp], nt * _noise(rng, V, 0.08))
    ctnt = np.where(base, P["ctnt0"][vp], P["ctnt0"][vp] * (1 + 0.1 * (t > 0)) * _noise(rng, V, 0.08))

    # ---- creatinine / eGFR
    c0 = P["creat0"][vp]
    frac = np.clip(t / np.maximum(dial_day, 1), 0, 1)
    creat = np.where(pre_dial, c0 * np.exp(np.log(4.0) * frac**1.5), c0)
    creat = np.where(on_dial & ~P["dialysis"][vp], rng.uniform(5.0, 8.0, V), creat)
    creat = np.where(P["renal_resp"][vp], c0 * (1 - 0.05 * np.minimum(t / 180, 1)), creat)
    aki = np.zeros(V, bool)
    ak = ae_info["term"] == "acute kidney injury"
    if ak.any():
        key_v = vp.astype(np.int64) * 100000 + vd
        key_a = ae_info["p"][ak].astype(np.int64) * 100000 + ae_info["day"][ak]
        aki = np.isin(key_v, key_a)
    creat = np.where(aki, creat * 2.4, creat)
    # An AKI on top of a pre-dialysis rise can compound past anything a clinic records
    # (and the contract's 30 mg/dL ceiling) in cohorts of 10,000+; cap follow-up values at
    # CREATININE_CAP_MG_DL. No random draw depends on it: cohorts below the cap are unchanged.
    creat = np.where(base, c0, np.minimum(creat * _noise(rng, V, 0.05), CREATININE_CAP_MG_DL))
    creat = np.round(creat, 2)
    age = P["age"][vp] + np.floor(np.maximum(vd, 0) / 365.25)
    egfr_val = egfr_ckd_epi_2009(creat, age, P["female"][vp])

    # ---- proteinuria
    p0 = P["prot0"][vp]
    ren = P["renal_resp"][vp]
    pf = np.where(ren, 0.45 + 0.55 * np.exp(-t / 50.0), 1 + rng.uniform(0.0, 0.4, n)[vp] * np.minimum(t / 365, 1))
    prot = np.where(base, p0, p0 * pf * _noise(rng, V, 0.08))

    # ---- ALP
    a0 = P["alp0"][vp]
    lr = P["liver_resp"][vp]
    af = np.where(lr, 0.35 + 0.65 * np.exp(-t / 45.0), rng.uniform(0.9, 1.3, n)[vp])
    af = np.where(P["liver"][vp] | lr, af, 1.0)
    alp = np.where(base, a0, a0 * af * _noise(rng, V, 0.06))

    # ---- blood counts: mild fall under therapy, dips on grade >= 3 cytopenia visits
    def dip(term):
        m = ae_info["term"] == term
        if not m.any():
            return np.zeros(V, bool)
        return np.isin(vp.astype(np.int64) * 100000 + vd, ae_info["p"][m].astype(np.int64) * 100000 + ae_info["day"][m])

    hb = P["hb0"][vp] * np.where(on_tx & ~base, 0.93, 1.0)
    hb = np.where(base, P["hb0"][vp], hb * _noise(rng, V, 0.03))
    hb = np.where(dip("anemia"), rng.uniform(6.6, 7.7, V), hb)
    plt = P["plt0"][vp] * np.where(on_tx & ~base, 0.78, 1.0)
    plt = np.where(base, P["plt0"][vp], plt * _noise(rng, V, 0.08))
    plt = np.where(dip("platelet count decreased"), rng.uniform(18, 45, V), plt)
    anc = P["anc0"][vp] * np.where(on_tx & ~base, 0.75, 1.0)
    anc = np.where(base, P["anc0"][vp], anc * _noise(rng, V, 0.1))
    anc = np.where(dip("neutrophil count decreased"), rng.uniform(0.3, 0.9, V), anc)

    # ---- which analytes are measured at which visit
    regular = vk != 2
    every2 = (vno % 2 == 0) | base
    every3 = (vno % 3 == 0) | base
    fu = vk == 4  # follow-up visits carry a smaller panel
    measured = {
        "alp": regular & every2,
        "anc": ~fu,
        "creatinine": np.ones(V, bool),
        "ctnt": regular & every3,
        "egfr": regular & P["egfr_reported"][vp],
        "flc_kappa": regular,
        "flc_lambda": regular,
        "hemoglobin": np.ones(V, bool),
        "lvef": regular & every3 & P["heart"][vp] & ~fu,
        "ntprobnp": regular,
        "nyha": regular & every3 & P["heart"][vp] & ~fu,
        "platelets": ~fu | every2,
        "proteinuria_24h": regular & every3,
        "serum_ife": regular & every3,
        "urine_ife": regular & every3,
    }
    measured["egfr"] = measured["egfr"] & ~on_dial & np.isfinite(egfr_val)
    values = {
        "alp": (alp, 0),
        "anc": (anc, 2),
        "creatinine": (creat, 2),
        "ctnt": (ctnt, 0),
        "egfr": (egfr_val, 0),
        "flc_kappa": (k_val, 1),
        "flc_lambda": (l_val, 1),
        "hemoglobin": (hb, 1),
        "lvef": (P["lvef0"][vp] + np.rint(rng.uniform(-2, 2, V)), 0),
        "ntprobnp": (nt, 0),
        "nyha": (P["nyha0"][vp].astype(float), 0),
        "platelets": (plt, 0),
        "proteinuria_24h": (prot, 2),
    }

    # protected rows (never missing): baseline; FLC/IFE at the response visit of responders
    # (and at a planned first response and the visit after it, which confirms it);
    # proteinuria / ALP at the first visit after day 120 for organ responders
    def first_visit_after(mask_patient, min_day, analyte_mask):
        cand = mask_patient[vp] & (vd >= min_day) & (vd <= D + 60) & analyte_mask
        pos = np.flatnonzero(cand)
        keep = np.zeros(V, bool)
        if pos.size:
            firsts = pos[np.r_[True, vp[pos][1:] != vp[pos][:-1]]]
            keep[firsts] = True
        return keep

    prot_flc = first_visit_after(P["resp"] > 0, 70, regular & every3)
    for planned_day in ("first_resp_day", "prog_day"):  # the planned first response, progression
        if planned_day in P:
            prot_flc |= (P[planned_day][vp] > 0) & (vd == P[planned_day][vp])
    if "first_resp_day" in P:  # ... and the next FLC visit, which confirms the first response
        fr = P["first_resp_day"]
        prot_flc |= first_visit_after(fr > 0, fr[vp] + 1, regular)
    prot_org = first_visit_after(P["renal_resp"], 120, regular & every3) | first_visit_after(
        P["liver_resp"], 120, regular & every2
    )

    # ---- units: a fifth of the patients report some analytes in an alternative unit
    alt = {a: rng.random(n) < 0.2 for a in ("flc", "creatinine", "ntprobnp", "ctnt", "hemoglobin", "platelets")}

    # ---- one (visit x analyte) grid; flattened row-major it is already in key order
    # (visits sorted by patient and date, LAB_ANALYTES in lexical order)
    A = len(LAB_ANALYTES)
    M = np.zeros((V, A), dtype=bool)  # measured and reported
    VAL = np.zeros((V, A))  # value in the reported unit (IFE: 1 positive / 0 negative)
    DEC = np.zeros((V, A), dtype=np.int8)  # decimals written
    UNIT = np.zeros((V, A), dtype=np.int8)  # index into UNITS
    for j, a in enumerate(LAB_ANALYTES):
        m = measured[a]
        keep_always = base.copy()
        if a in ("flc_kappa", "flc_lambda", "serum_ife", "urine_ife"):
            keep_always |= prot_flc
        if a in ("proteinuria_24h", "alp"):
            keep_always |= prot_org
        M[:, j] = m & ((rng.random(V) >= 0.05) | keep_always)  # about 5% missing per analyte
        UNIT[:, j] = UNIT_CODE[contract.ANALYTES[a].canonical_unit]
        if a == "serum_ife":
            VAL[:, j] = ~ife_neg
            continue
        if a == "urine_ife":
            VAL[:, j] = urine_pos0[vp] & ~ife_neg
            continue
        v, dec = values[a]
        v = np.round(v, dec)
        dec = np.full(V, dec, dtype=np.int8)
        if a in ("flc_kappa", "flc_lambda"):
            sel = alt["flc"][vp]
            v, dec = np.where(sel, v / 10.0, v), np.where(sel, dec + 1, dec)
            UNIT[sel, j] = UNIT_CODE["mg/dL"]
        elif a == "creatinine":
            sel = alt["creatinine"][vp]
            v = np.where(sel, np.rint(v * 88.4), v)
            UNIT[sel, j] = UNIT_CODE["umol/L"]
        elif a == "ntprobnp":
            UNIT[alt["ntprobnp"][vp], j] = UNIT_CODE["pg/mL"]
        elif a == "ctnt":
            sel = alt["ctnt"][vp]
            v, dec = np.where(sel, v / 1000.0, v), np.where(sel, 3, dec)
            UNIT[sel, j] = UNIT_CODE["ug/L"]
        elif a == "hemoglobin":
            sel = alt["hemoglobin"][vp]
            v = np.where(sel, v * 10.0, v)
            UNIT[sel, j] = UNIT_CODE["g/L"]
        elif a == "platelets":
            sel = alt["platelets"][vp]
            v = np.where(sel, v * 1000.0, v)
            UNIT[sel, j] = UNIT_CODE["/mm3"]
        VAL[:, j], DEC[:, j] = v, dec
    flat = M.ravel()
    pos = np.flatnonzero(flat)
    row_v, row_a = pos // A, pos % A
    scale = 10.0 ** DEC.ravel()[pos]
    val = np.round(VAL.ravel()[pos] * scale) / scale + 0.0  # + 0.0: no "-0"
    text = pc.cast(pa.array(val, type=pa.float64()), pa.string())
    is_ife = (row_a == LAB_ANALYTES.index("serum_ife")) | (row_a == LAB_ANALYTES.index("urine_ife"))
    ife_text = pc.if_else(pa.array(val > 0.5), pa.scalar("positive"), pa.scalar("negative"))
    text = pc.if_else(pa.array(is_ife), ife_text, text)
    is_alp = row_a == LAB_ANALYTES.index("alp")
    p = vp[row_v]
    return pa.table(
        {
            "patient_id": pa.array(ids).take(pa.array(p)),
            "date": _date(P["index"][p] + vd[row_v]),
            "analyte": pa.array(LAB_ANALYTES).take(pa.array(row_a)),
            "value": text,
            "unit": pa.array(UNITS, type=pa.string()).take(pa.array(UNIT.ravel()[pos])),
            "uln": _num(np.where(is_alp, P["uln"][p], 0.0), 0, is_alp),
        }
    )


def _prepare(n: int, seed: int, study: dict | None = None):
    P = plan_cohort(n, seed, study)
    P["_ids"] = patient_ids(n)
    rng = np.random.default_rng([seed, 2])
    P["egfr_reported"] = rng.random(n) < 0.15
    tables = build_tables(P, seed)
    return P, tables


def generate(n: int, seed: int, study: dict | None = None) -> dict[str, pa.Table]:
    """Plan and build the six raw tables in memory (pyarrow tables, rows in key order)."""
    P, tables = _prepare(n, seed, study)
    tables["labs"] = pa.concat_tables(list(lab_chunks(P, seed)))
    return {name: tables[name] for name in OUTPUT_TABLES}


def _header(name: str, block: pa.Table) -> list[str]:
    """The columns of a table in contract order; the salvage agent's dose column takes
    the place of the contract's dose column when the study names another."""
    # contract order; optional columns the generator does not make (centre) left out
    header = [c.name for c in contract.TABLES[name].columns if not c.omit_when_absent]
    extra = [c for c in block.column_names if c not in header]
    return [c if c in block.column_names or not extra else extra.pop(0) for c in header] + extra


def write_cohort(n: int, seed: int, outdir, study: dict | None = None) -> dict[str, int]:
    """Generate and write the six CSV files into ``outdir``; returns rows per table.

    Each file is written to a temporary name and renamed when complete."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    P, tables = _prepare(n, seed, study)
    rows = {}
    opts = pacsv.WriteOptions(include_header=False, delimiter=",", quoting_style="none")
    for name in OUTPUT_TABLES:
        path = outdir / f"{name}.csv"
        tmp = path.with_suffix(".csv.tmp")
        blocks = lab_chunks(P, seed) if name == "labs" else [tables[name]]
        rows[name] = 0
        header = None
        with pa.OSFile(str(tmp), "wb") as fh:
            for block in blocks:
                if header is None:
                    header = _header(name, block)  # contract order
                    fh.write((",".join(header) + "\n").encode("utf-8"))
                pacsv.write_csv(block.select(header), fh, write_options=opts)
                rows[name] += block.num_rows
        tmp.replace(path)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=REFERENCE_N, help="number of patients")
    ap.add_argument("--seed", type=int, help="seed of the random generator")
    ap.add_argument("--study", help="a study description (YAML): its n_patients and seed, unless given")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    study, n, seed = (None, args.n, args.seed) if args.study is None else load_study(args.study)
    if args.study is not None and args.seed is not None:
        seed = args.seed
    if seed is None:
        ap.error("--seed is required without --study")
    rows = write_cohort(n, seed, args.out, study)
    log.info("wrote %s to %s", ", ".join(f"{k}: {v} rows" for k, v in rows.items()), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
