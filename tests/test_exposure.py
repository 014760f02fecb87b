"""Prior-exposure categories, bortezomib by default (clinical-criteria section 7; Rajkumar 2011 for refractory_60d).

Day counts are done by hand next to each case (2018 is not a leap year: Jan 31, Feb 28,
Mar 31, Apr 30, May 31, Jun 30, Jul 31, Aug 31 days). Thresholds: sensitive when the
relapse came > 182.6 days after the last dose and the line reached >= PR; refractory_60d
when NR/NE or a documented progression <= 60 days after the last dose (an imputed date,
PEXPDIM = 1, may only support "potentially sensitive").
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from alsalvage.contract import config_problems, drug_dictionary
from alsalvage.exposure import NO_GROUP, contains_agents, exposure_categories
from helpers import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
CFG = CONFIG["prior_exposure"]
DRUGS = drug_dictionary(CONFIG["drugs"])  # the shipped dictionary (config drugs is empty)
INDEX = "2019-06-01"
BZ = "bortezomib;dexamethasone"
MDEX = "melphalan;dexamethasone"

# Each case: lines (line, agents, start, end, best, progression, last_bortezomib_date),
# index date, expected (PEXGRP, PEXR60, PEXPDIM), hand reasoning.
CASES = {
    "naive": (
        [(1, MDEX, "2017-01-01", "2017-06-01", "PR", "2018-01-01", None)],
        INDEX, ("naive", 0, 0), "no bortezomib line",
    ),
    "relapse_182_days": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2018-07-02", None)],
        INDEX, ("refractory", 0, 0), "end 2018-01-01 -> 2018-07-02 = 31+28+31+30+31+30+1 = 182 d, not > 182.6",
    ),
    "relapse_183_days": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2018-07-03", None)],
        INDEX, ("sensitive", 0, 0), "2018-01-01 -> 2018-07-03 = 183 d > 182.6 with PR",
    ),
    "last_dose_date_wins_over_end_date": (
        [(1, BZ, "2017-07-01", "2018-01-01", "VGPR", "2018-06-15", "2017-12-01")],
        INDEX, ("sensitive", 0, 0), "2017-12-01 -> 2018-06-15 = 31+165 = 196 d (from end_date only 165 d)",
    ),
    "late_relapse_without_response": (
        [(1, BZ, "2017-07-01", "2018-01-01", "NR", "2018-12-01", None)],
        INDEX, ("refractory", 1, 0), "NR: never sensitive, and refractory_60d by no response",
    ),
    "ne_counts_as_no_response": (
        [(1, BZ, "2017-07-01", "2018-01-01", "NE", "2018-12-01", None)],
        INDEX, ("refractory", 1, 0), "NE: not evaluable is not a response",
    ),
    "progression_60_days": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2018-03-02", None)],
        INDEX, ("refractory", 1, 0), "2018-01-01 -> 2018-03-02 = 31+28+1 = 60 d <= 60",
    ),
    "progression_61_days": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2018-03-03", None)],
        INDEX, ("refractory", 0, 0), "61 d: refractory by the seed rule (<= 182.6) but not refractory_60d",
    ),
    "progression_on_therapy": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2017-11-01", None)],
        INDEX, ("refractory", 1, 0), "progression before the last dose: -61 d",
    ),
    "missing_progression_next_line": (
        [
            (1, BZ, "2017-07-01", "2018-01-01", "PR", None, None),
            (2, MDEX, "2018-09-01", "2019-01-01", "PR", "2019-05-01", None),
        ],
        INDEX, ("sensitive", 0, 1), "imputed 2018-09-01: 31+28+31+30+31+30+31+31 = 243 d > 182.6, flagged",
    ),
    "missing_progression_salvage_start": (
        [(1, BZ, "2017-07-01", "2018-01-01", "CR", None, None)],
        "2018-05-01", ("refractory", 0, 1), "last line: imputed index 2018-05-01 = 120 d; flagged",
    ),
    "earlier_line_not_most_recent": (
        [
            (1, BZ, "2015-01-01", "2015-06-01", "PR", "2016-12-01", None),
            (2, "thalidomide;dexamethasone", "2017-01-01", "2017-06-01", "PR", "2018-01-01", None),
            (3, "bortezomib;cyclophosphamide;dexamethasone", "2018-02-01", "2018-06-01", "NR", "2018-07-01", None),
        ],
        INDEX, ("refractory", 1, 0), "line 1 was sensitive (549 d) but line 3 is the most recent: NR",
    ),
    "earlier_refractory_then_sensitive": (
        [
            (1, BZ, "2015-01-01", "2015-06-01", "NR", "2015-07-01", None),
            (2, "daratumumab;Bortezomib;dexamethasone", "2016-01-01", "2017-01-01", "CR", "2018-01-01", None),
        ],
        INDEX, ("sensitive", 0, 0), "line 2 (upper-case name matched): 2017-01-01 -> 2018-01-01 = 365 d, CR",
    ),
    "bortezomib_only_after_index": (
        [
            (1, MDEX, "2017-01-01", "2017-06-01", "PR", "2018-01-01", None),
            (2, BZ, "2019-07-01", "2019-12-01", "PR", None, None),
        ],
        INDEX, ("naive", 0, 0), "line 2 starts after the index date: not prior therapy",
    ),
    # imputed progression dates (PEXPDIM = 1): they may support "potentially sensitive"
    # (above: 243 d), never refractoriness by the 60-day rule
    "imputed_45_days_responder": (
        [
            (1, BZ, "2017-07-01", "2018-01-01", "PR", None, None),
            (2, MDEX, "2018-02-15", "2018-08-01", "PR", "2019-01-01", None),
        ],
        INDEX, ("refractory", 0, 1),
        "imputed 2018-02-15 = 31+14 = 45 d: no documented progression, so not refractory_60d; "
        "not potentially sensitive (45 d < 182.6), so refractory by the seed definition",
    ),
    "documented_45_days_responder": (
        [(1, BZ, "2017-07-01", "2018-01-01", "PR", "2018-02-15", None)],
        INDEX, ("refractory", 1, 0), "the same 45 d, documented: refractory_60d",
    ),
    "imputed_31_days_salvage_start": (
        [(1, BZ, "2017-07-01", "2018-01-01", "CR", None, None)],
        "2018-02-01", ("refractory", 0, 1), "last line: imputed index 2018-02-01 = 31 d, not documented",
    ),
    "imputed_151_days_responder": (
        [
            (1, BZ, "2017-07-01", "2018-01-01", "VGPR", None, None),
            (2, MDEX, "2018-06-01", "2018-12-01", "PR", "2019-03-01", None),
        ],
        INDEX, ("refractory", 0, 1),
        "imputed 2018-06-01 = 31+28+31+30+31 = 151 d < 182.6: not sensitive, not refractory_60d",
    ),
    "imputed_no_response": (
        [
            (1, BZ, "2017-07-01", "2018-01-01", "NR", None, None),
            (2, MDEX, "2018-12-01", "2019-03-01", "PR", None, None),
        ],
        INDEX, ("refractory", 1, 1), "NR: refractory_60d by no response, whatever the (imputed) date",
    ),
    "missing_progression_earlier_line": (
        [
            (1, BZ, "2017-01-01", "2017-06-01", "VGPR", None, None),
            (2, MDEX, "2017-08-01", "2018-01-01", "PR", "2019-01-01", None),
        ],
        INDEX, ("refractory", 0, 1), "imputed from line 2: 2017-06-01 -> 2017-08-01 = 30+31 = 61 d",
    ),
}  # fmt: skip


def _frame(cases):
    rows, idx = [], []
    for pid, (lines, index, _, _) in cases.items():
        idx.append((pid, index))
        for line, agents, start, end, best, prog, lastbz in lines:
            rows.append((pid, line, agents, agents, start, end, best, prog, lastbz))
    lines = pd.DataFrame(
        rows,
        columns=[
            "patient_id", "line", "regimen", "agents", "start_date", "end_date",
            "best_response", "progression_date", "last_bortezomib_date",
        ],
    )  # fmt: skip
    for c in ("start_date", "end_date", "progression_date", "last_bortezomib_date"):
        lines[c] = pd.to_datetime(lines[c])
    lines["line"] = lines["line"].astype("int64")
    index = pd.DataFrame(idx, columns=["patient_id", "index_date"])
    index["index_date"] = pd.to_datetime(index["index_date"])
    return lines, index


@pytest.fixture(scope="module")
def result():
    lines, index = _frame(CASES)
    return exposure_categories(lines, index, CFG, DRUGS).set_index("patient_id")


@pytest.mark.parametrize("pid", list(CASES))
def test_bortezomib_category(result, pid):
    grp, r60, pdim = CASES[pid][2]
    row = result.loc[pid]
    why = CASES[pid][3]
    assert row["PEXGRP"] == grp, why
    assert row["PEXR60"] == r60, why
    assert row["PEXPDIM"] == pdim, why
    assert row["PEXFL"] == (0 if grp == "naive" else 1), why


def test_every_patient_gets_a_row_even_without_lines():
    lines, index = _frame(CASES)
    extra = pd.DataFrame({"patient_id": ["nolines"], "index_date": pd.to_datetime(["2019-01-01"])})
    out = exposure_categories(lines, pd.concat([index, extra]), CFG, DRUGS).set_index("patient_id")
    assert out.loc["nolines", "PEXGRP"] == "naive"
    assert len(out) == len(CASES) + 1


@pytest.mark.parametrize(
    "agents,expected",
    [
        ("bortezomib", True),
        ("cyclophosphamide;bortezomib;dexamethasone", True),
        ("Bortezomib; dexamethasone", True),
        ("carfilzomib;dexamethasone", False),
        ("ixazomib", False),
        ("", False),
    ],
)
def test_contains_bortezomib(agents, expected):
    assert bool(contains_agents(pd.Series([agents]), ("bortezomib",))[0]) is expected


def test_threshold_is_a_parameter():
    # the 183-day relapse becomes refractory when the threshold is 200 days
    lines, index = _frame({"p": CASES["relapse_183_days"]})
    out = exposure_categories(lines, index, {**CFG, "sensitive_relapse_after_days": 200}, DRUGS)
    assert out.loc[0, "PEXGRP"] == "refractory"


def test_default_config_is_bortezomib():
    assert CFG["agents"] == ["bortezomib"] and CFG["classes"] == [] and CFG["label"] == "bortezomib"
    assert DRUGS.exposure_agents(CFG) == ("bortezomib",)


@pytest.mark.parametrize(
    "agents,classes,expected",
    [
        (["bortezomib"], [], ("bortezomib",)),
        (["Daratumumab"], [], ("daratumumab",)),
        (["velcade"], [], ("bortezomib",)),
        ([], ["anti-CD38"], ("daratumumab", "isatuximab")),
        ([], ["IMiD"], ("lenalidomide", "pomalidomide", "thalidomide")),
        (["venetoclax"], ["proteasome inhibitor"], ("bortezomib", "carfilzomib", "ixazomib", "venetoclax")),
    ],
)
def test_defining_agents(agents, classes, expected):
    assert DRUGS.exposure_agents({"agents": agents, "classes": classes}) == expected


@pytest.mark.parametrize(
    "cfg",
    [
        {"agents": [], "classes": []},
        {"agents": [], "classes": ["no-such-class"]},
        {"agents": ["daratumab"], "classes": []},  # misspelt: would group no one
    ],
)
def test_defining_agents_rejects_an_empty_or_unknown_definition(cfg):
    with pytest.raises(ValueError, match="prior_exposure"):
        DRUGS.exposure_agents(cfg)


# Exposure by another agent or class: (lines, expected PEXGRP, why). Index 2019-06-01.
DARA = "daratumumab;bortezomib;dexamethasone"
OTHER_CASES = {
    # dara line 2017-01..2017-06 PR, progression 2018-06-01: 365 days > 182.6 -> sensitive
    "dara_sensitive": (
        [(1, DARA, "2017-01-01", "2017-06-01", "PR", "2018-06-01", "2017-03-01")],
        {"agents": ["daratumumab"]}, "sensitive",
        "gap counted from end_date (2017-06-01), not last_bortezomib_date",
    ),
    # bortezomib alone: last dose 2017-03-01 -> progression 2017-08-01 is 153 days -> refractory
    "bz_alone_uses_last_bortezomib_date": (
        [(1, DARA, "2017-01-01", "2017-06-01", "PR", "2017-08-01", "2017-03-01")],
        {"agents": ["bortezomib"]}, "refractory", "153 days after the last bortezomib dose",
    ),
    # by daratumumab: end 2017-06-01 -> 2017-08-01 is 61 days -> refractory too (not > 182.6)
    "dara_refractory": (
        [(1, DARA, "2017-01-01", "2017-06-01", "PR", "2017-08-01", "2017-03-01")],
        {"classes": ["anti-CD38"]}, "refractory", "61 days after end_date",
    ),
    "bz_only_is_dara_naive": (
        [(1, BZ, "2017-01-01", "2017-06-01", "PR", "2018-06-01", "2017-06-01")],
        {"agents": ["daratumumab"]}, "naive", "no daratumumab line",
    ),
    "imid_class": (
        [(1, "lenalidomide;dexamethasone", "2017-01-01", "2017-06-01", "NR", "2017-07-01", None)],
        {"classes": ["IMiD"]}, "refractory", "lenalidomide line, no response",
    ),
}


@pytest.mark.parametrize("pid", list(OTHER_CASES))
def test_exposure_by_other_agents_and_classes(pid):
    lines_, cfg, grp, why = OTHER_CASES[pid]
    lines, index = _frame({pid: (lines_, INDEX, (grp, 0, 0), why)})
    cfg = {**CFG, "agents": [], "classes": [], **cfg}
    out = exposure_categories(lines, index, cfg, DRUGS).set_index("patient_id")
    assert out.loc[pid, "PEXGRP"] == grp, why


def test_no_grouping_gives_none_and_zero_flags():
    lines, index = _frame(CASES)
    out = exposure_categories(lines, index, None, DRUGS)
    assert set(out["PEXGRP"]) == {NO_GROUP}
    assert (out[["PEXFL", "PEXR60", "PEXPDIM"]] == 0).all().all()
    assert len(out) == len(CASES)


# --------------------------------------------------------------------------- the study's drug dictionary
# Config drugs adds agents (with a class) and aliases; the grouping looks its agents and
# classes up in the merged dictionary, as the validator does the lines' agents.
CUSTOM = {"agents": {"iberdomide": "IMiD", "mezigdomide": "CELMoD", "xyz-cel": "GPRC5D CAR-T"},
          "aliases": {"iber-d": ["iberdomide", "dexamethasone"], "iberdo": ["iberdomide"]}}
MERGED = drug_dictionary(CUSTOM)


@pytest.mark.parametrize("agents,classes,expected", [
    (["iberdomide"], [], ("iberdomide",)),  # a config agent
    (["Iberdomide"], [], ("iberdomide",)),
    (["iberdo"], [], ("iberdomide",)),  # a config brand name stands for its generic name
    ([], ["IMiD"], ("iberdomide", "lenalidomide", "pomalidomide", "thalidomide")),  # joins a shipped class
    ([], ["celmod"], ("mezigdomide",)),  # a class only config drugs knows, any case
    (["xyz-cel"], ["anti-CD38"], ("daratumumab", "isatuximab", "xyz-cel")),
    (["bortezomib"], [], ("bortezomib",)),  # the shipped names stay
])
def test_defining_agents_take_config_drugs(agents, classes, expected):
    assert MERGED.exposure_agents({"agents": agents, "classes": classes}) == expected


@pytest.mark.parametrize("cfg, match", [
    ({"agents": ["iberdomide"], "classes": []}, "prior_exposure.agents: unknown agent 'iberdomide'.*drugs.agents"),
    ({"agents": [], "classes": ["CELMoD"]}, "prior_exposure.classes: no agent of class 'CELMoD'"),
])
def test_config_agents_are_unknown_to_the_shipped_dictionary(cfg, match):
    with pytest.raises(ValueError, match=match):
        DRUGS.exposure_agents(cfg)


@pytest.mark.parametrize("pex, grp", [
    ({"agents": ["iberdomide"]}, "refractory"),
    ({"classes": ["IMiD"]}, "refractory"),
    ({"agents": ["lenalidomide"]}, "naive"),
])
def test_a_line_of_a_config_agent_is_an_exposure(pex, grp):
    """An iberdomide line (NR) before the index: exposed (refractory) when the grouping
    names iberdomide or its class IMiD; lenalidomide-naive otherwise."""
    lines, index = _frame({"p": ([(1, "iberdomide;dexamethasone", "2017-01-01", "2017-06-01", "NR", "2017-07-01",
                                    None)], INDEX, (grp, 0, 0), "")})
    out = exposure_categories(lines, index, {**CFG, "agents": [], "classes": [], **pex}, MERGED)
    assert out.loc[0, "PEXGRP"] == grp


# config_problems: what the workflow refuses before any job (workflow/rules/common.smk)
BZ_PEX = {"label": "bortezomib", "agents": ["bortezomib"], "classes": []}
LEN_AGENT = [{"name": "lenalidomide"}]


@pytest.mark.parametrize("drugs, agents, pex, expected", [
    ({}, LEN_AGENT, BZ_PEX, []),  # the default configuration
    ({}, LEN_AGENT, None, []),  # no grouping
    (CUSTOM, LEN_AGENT, {"label": "iberdomide", "agents": ["iberdomide"], "classes": []}, []),
    (CUSTOM, LEN_AGENT, {"label": "CELMoD", "agents": [], "classes": ["CELMoD"]}, []),
    ({}, LEN_AGENT, {"label": "iberdomide", "agents": ["iberdomide"], "classes": []},
     ["prior_exposure.agents: unknown agent 'iberdomide'"]),
    ({}, LEN_AGENT, {"label": "CELMoD", "agents": [], "classes": ["CELMoD"]},
     ["prior_exposure.classes: no agent of class 'CELMoD'"]),
    ({}, LEN_AGENT, {"label": "x", "agents": [], "classes": []}, ["prior_exposure: name at least one"]),
    ({}, [{"name": "iberdomide"}], None, ["study.agents: 'iberdomide' is not in the drug dictionary"]),
    ({"aliases": {"xd": ["nodrug"]}}, LEN_AGENT, BZ_PEX, ["drugs.aliases: 'xd' stands for unknown"]),
    # a label naming a drug or class the grouping does not stand for: a configuration laid
    # over config.yaml that changed the agents but kept label: bortezomib, or set classes
    # but kept agents: [bortezomib]
    ({}, LEN_AGENT, {"label": "bortezomib", "agents": ["daratumumab"], "classes": []},
     ["prior_exposure.label: 'bortezomib' names a drug that does not define the exposure"]),
    ({}, LEN_AGENT, {"label": "anti-CD38", "agents": ["bortezomib"], "classes": ["anti-CD38"]},
     ["prior_exposure.label: 'anti-CD38' names a class the exposure agents bortezomib are not of"]),
    ({}, LEN_AGENT, {"label": "daratumumab", "agents": [], "classes": ["anti-CD38"]}, []),
    ({}, LEN_AGENT, {"label": "velcade", "agents": ["velcade"], "classes": []}, []),
    # a regimen abbreviation would make every dexamethasone line an exposure
    ({}, LEN_AGENT, {"label": "bortezomib", "agents": ["vd"], "classes": []},
     ["prior_exposure.agents: 'vd' is a regimen of several drugs (bortezomib, dexamethasone)"]),
    (CUSTOM, LEN_AGENT, {"label": "iberdomide", "agents": ["iber-d"], "classes": []},
     ["prior_exposure.agents: 'iber-d' is a regimen of several drugs"]),
    ({}, LEN_AGENT, {"label": "prior PI or IMiD", "agents": [], "classes": ["IMiD", "proteasome inhibitor"]}, []),
])
def test_config_problems(drugs, agents, pex, expected):
    got = config_problems(drugs, agents, pex)
    assert len(got) == len(expected), got
    for message, start in zip(got, expected):
        assert message.startswith(start), message
