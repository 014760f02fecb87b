"""Rule stats' entry (``run_stats``): read each input once, check them all, run the
analyses of the registry (stats/registry.py) in worker processes forked after the imports
(parallel.fork_map; the bytes do not depend on their number), write
results/tables/<name>.csv per analysis and results/stats/results.json.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass

import pandas as pd

from ..parallel import error_summary, fork_map
from ..study import Wording
from .checks import stats_problems
from .records import StatsInputError, dump_json, merge_results, to_records_json, write_table
from .registry import BY_NAME, NAMES, Analysis


def _load(dotted: str):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def run_analysis(analysis: Analysis, frames: dict, params: dict) -> tuple[list, list]:
    """One analysis on the derived datasets ``frames`` with the rule's ``params``, each passed
    by the name the registry gives it: (records, footnotes of its table)."""
    function = _load(analysis.function)
    records = function(
        **{ds: frames[ds] for ds in analysis.datasets}, **{p: params[p] for p in analysis.params}
    )
    footnotes = list(analysis.footnotes)
    if analysis.params_footnotes:
        footnotes += _load(analysis.params_footnotes)(params)
    # labels and footnotes write the regimen as "{regimen}": the study's words go in here
    wording = Wording.from_params(params, params["prior_exposure"])
    for rec in records:
        rec["label"] = wording.fill(rec["label"])
    return records, [wording.fill(f) for f in footnotes]


# The only lab rows an analysis reads (organ: NT-proBNP change at the landmarks). At
# 100,000 patients the validated labs hold about 15 million rows; reading only these
# keeps the organ analysis at a third of the memory.
STATS_LAB_ANALYTES = ("ntprobnp",)


def _read_input(name: str, path) -> pd.DataFrame:
    if name == "labs":
        import pyarrow.parquet as pq

        if "analyte" in pq.read_schema(path).names:  # else stats_problems names the missing column
            return pd.read_parquet(path, filters=[("analyte", "in", list(STATS_LAB_ANALYTES))])
    return pd.read_parquet(path)


class StatsAnalysisError(RuntimeError):
    """One or more analyses failed: the message names each one and its error."""


@dataclass
class AnalysisResult:
    name: str
    records: list | None = None
    footnotes: list | None = None
    part: dict | None = None  # key -> record, as in results.json
    error: str | None = None  # exception type and message, or how the worker died
    detail: str = ""  # traceback, for the log
    cpu_s: float = 0.0


def _import_for_workers(names) -> None:
    """Import here what the analyses import lazily (the survival module, lifelines: about
    a second), so that the forked workers share it instead of each importing it again."""
    if "survival" in {m for n in names for m in BY_NAME[n].uses}:
        import lifelines  # noqa: F401
        import lifelines.statistics  # noqa: F401
        import lifelines.utils  # noqa: F401

        from .. import survival  # noqa: F401


def run_analyses(frames: dict, params: dict, workers: int = 1, names=None) -> dict[str, AnalysisResult]:
    """Run the analyses (default: all), in `workers` processes forked from this one (the
    imports and inputs are shared, not repeated); with one worker, in this process. The
    results do not depend on the number of workers: each analysis is a pure function of
    its inputs (nothing is random). A failed analysis comes
    back with its error (type and message) and traceback instead of records."""
    names = list(NAMES if names is None else names)
    order = sorted(names, key=lambda n: -BY_NAME[n].cpu_at_100k)
    for name in names:  # the analyses' modules, here: the forked workers share them
        importlib.import_module(f"{__package__}.{BY_NAME[name].module}")

    def run(name: str):
        start = time.process_time()
        records, footnotes = run_analysis(BY_NAME[name], frames, params)
        return records, footnotes, to_records_json(records), time.process_time() - start

    results = {}
    done = fork_map(run, order, workers, warm_up=lambda: _import_for_workers(names))
    for name, (value, error) in zip(order, done):
        if error is None:
            records, footnotes, part, cpu_s = value
            results[name] = AnalysisResult(name, records, footnotes, part, cpu_s=cpu_s)
        else:
            results[name] = AnalysisResult(name, error=error_summary(error), detail=error)
    return results


def _read_inputs(inputs: dict) -> dict:
    frames, problems = {}, []
    for k, v in inputs.items():
        try:
            frames[k] = _read_input(k, v)
        except Exception as exc:
            problems.append(f"{v}: cannot read: {type(exc).__name__}: {str(exc).strip()}")
    if problems:
        raise StatsInputError(f"rule stats: {len(problems)} unreadable input(s):\n  " + "\n  ".join(problems))
    return frames


def run_stats(
    inputs: dict, tables: dict, results_path, log: logging.Logger, params: dict, meta: dict, workers: int = 1
):
    """Entry of rule `stats`: read each input once, check them all, run the seven analyses
    in `workers` processes, then write results/tables/<name>.csv and results.json.

    Any input problem (file, row, column, the analyses it stops) or failed analysis (named,
    with its error; each traceback logged to `log`) fails the job with every problem
    listed, and nothing is written. The script runs this inside rulelog.rule_log, which
    records the failure in the rule's log. On success `log` gets each analysis's number
    of results, CPU seconds and warnings (the records' notes)."""
    if set(tables) != set(NAMES):
        raise ValueError(f"rule stats: tables for {sorted(tables)}, expected {sorted(NAMES)}")
    # derived datasets are named by their CSV export (same rows, header = line 1)
    files = {
        k: str(v).replace(".parquet", ".csv") if "derived" in str(v) else str(v) for k, v in inputs.items()
    }
    frames = _read_inputs(inputs)
    problems = stats_problems(frames, files)
    if problems:
        raise StatsInputError(
            f"rule stats: {len(problems)} problem(s) in the derived data:\n  " + "\n  ".join(problems)
        )
    results = run_analyses(frames, params, workers)
    failed = [results[n] for n in NAMES if results[n].error]
    for r in failed:
        log.error("analysis %s failed:\n%s", r.name, r.detail)
    if failed:
        raise StatsAnalysisError(
            f"rule stats: {len(failed)} of {len(NAMES)} analyses failed:\n  "
            + "\n  ".join(f"analysis {r.name}: {r.error}" for r in failed)
        )
    obj = merge_results({n: results[n].part for n in NAMES}, meta)
    for n in NAMES:
        write_table(results[n].records, tables[n], results[n].footnotes)
    dump_json(obj, results_path)
    log.info("rule stats: %d results from %s", len(obj["results"]), ", ".join(sorted(files.values())))
    log.info("workers: %d", max(1, min(workers, len(NAMES))))
    for n in NAMES:
        r = results[n]
        log.info("analysis %s: %d results, %.1f s CPU", n, len(r.records), r.cpu_s)
        for note in sorted({x["note"] for x in r.records if x["note"]}):
            log.warning("%s (analysis %s)", note, n)
    return obj
