"""Per-job resource probe for workflow/scripts/benchmark_scale.py (benchmark runs only).

Active only when ALSALVAGE_BENCH_PROBE names a directory; the benchmark command puts this
folder first on PYTHONPATH for the Snakemake runs it times. At exit, every Python process
that ran a rule's script (Snakemake injects ``snakemake`` into ``__main__``) writes one JSON
file: the rule, its wildcards, its exact CPU time (user + sys, from getrusage) and its peak
resident memory (``ru_maxrss``, kernel high-water mark), and which heavy libraries it
imported. Snakemake's own benchmark files sample memory and CPU every 0.5 s (every 30 s
after the first 15 s), so they can miss a short peak; this probe cannot.

With ALSALVAGE_BENCH_PROFILE also set (``--profile``), a rule's script (Snakemake runs it
as ``.snakemake/scripts/tmpXXXX.<name>.py``) runs under cProfile, and the statistics go to
``<rule>[.<wildcards>].prof`` plus a text summary (top functions by cumulative time).
"""

import atexit
import json
import os
import resource
import sys
import time

_DIR = os.environ.get("ALSALVAGE_BENCH_PROBE")
_PROFILE = os.environ.get("ALSALVAGE_BENCH_PROFILE")
_START = time.monotonic()
_PROFILER = None
HEAVY = ("pandas", "pyarrow", "numpy", "scipy", "lifelines", "matplotlib", "jinja2", "pandera")


def _write() -> None:
    sm = getattr(sys.modules.get("__main__"), "snakemake", None)
    if sm is None or not hasattr(sm, "rule"):
        return
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    wildcards = {k: str(v) for k, v in sm.wildcards.items()}
    record = {
        "rule": sm.rule,
        "wildcards": wildcards,
        "wall_s": round(time.monotonic() - _START, 3),
        "cpu_s": round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 3),
        "peak_mib": round(max(own.ru_maxrss, kids.ru_maxrss) / 1024, 1),  # Linux: KiB
        "imports": sorted(m for m in HEAVY if m in sys.modules),
    }
    name = sm.rule + "".join(f".{v}" for v in wildcards.values())
    with open(os.path.join(_DIR, f"{name}.{os.getpid()}.json"), "w") as fh:
        json.dump(record, fh, sort_keys=True)
    if _PROFILER is not None:
        import io
        import pstats

        _PROFILER.disable()
        _PROFILER.dump_stats(os.path.join(_PROFILE, f"{name}.prof"))
        text = io.StringIO()
        pstats.Stats(_PROFILER, stream=text).sort_stats("cumulative").print_stats(40)
        with open(os.path.join(_PROFILE, f"{name}.txt"), "w") as fh:
            fh.write(text.getvalue())


if _DIR:
    if _PROFILE and "/.snakemake/scripts/tmp" in (sys.argv[0] if sys.argv else ""):
        import cProfile

        _PROFILER = cProfile.Profile()
        _PROFILER.enable()
    atexit.register(_write)
