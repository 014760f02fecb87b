"""One function over several items in worker processes forked from this one.

The stats rule imports its libraries and reads its inputs once, then spreads its analyses
over ``threads`` workers (the figures, one job each since issue 16, no longer use it). The workers are forked, so
they share the parent's imports and data (copy-on-write) instead of receiving pickled
copies; the function itself is never pickled (a closure is fine). Each item's outcome
comes back as (value, None) or (None, error text): an item that raises does not stop the
others, and a worker that dies (killed, out of memory) is reported instead of hanging.
"""

from __future__ import annotations

import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable

# Error text of an item whose worker process died before answering.
DIED = "the worker process running it died (killed, or out of memory)"

# The function and items of the current fork_map call: set before the fork, so that the
# workers inherit them and receive only an item's position.
_WORK: dict = {}


def _call(func: Callable, item) -> tuple[Any, str | None]:
    """(func(item), None), or (None, traceback text) if it raises; never raises."""
    try:
        return func(item), None
    except Exception:
        return None, traceback.format_exc().rstrip()


def _call_at(i: int) -> tuple[Any, str | None]:
    return _call(_WORK["func"], _WORK["items"][i])


def fork_map(
    func: Callable, items: Iterable, workers: int = 1, warm_up: Callable[[], None] | None = None
) -> list[tuple[Any, str | None]]:
    """[(value, error)] for each item, in the order given: ``value`` is ``func(item)`` and
    ``error`` None, or ``value`` is None and ``error`` the traceback of what it raised (or
    DIED and the pool's error if its worker process died).

    With ``workers`` > 1 (and more than one item) the items go to that many processes
    forked from this one, handed out in the order given (put the longest first, so that
    the last to finish is a short one); ``warm_up`` runs in this process just before the
    fork (e.g. imports every worker would otherwise repeat). With 1 worker the items run
    here, one after another, and ``warm_up`` is not called. A value must be picklable."""
    items = list(items)
    workers = max(1, min(int(workers), len(items)))
    if workers == 1:
        return [_call(func, item) for item in items]
    _WORK.update(func=func, items=items)
    try:
        if warm_up is not None:
            warm_up()
        out = []
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_call_at, i) for i in range(len(items))]
            for future in futures:
                try:
                    out.append(future.result())
                except BrokenProcessPool as err:
                    out.append((None, f"{DIED}: {type(err).__name__}: {err}"))
                except Exception:  # e.g. a value that cannot be pickled back
                    out.append((None, traceback.format_exc().rstrip()))
        return out
    finally:
        _WORK.clear()


def error_summary(error: str) -> str:
    """The exception part of an error text from fork_map ("Type: message", without the
    stack frames); an error text without frames (a dead worker) is returned whole."""
    lines = error.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    start = frames[-1] + 1 if frames else 0
    while start < len(lines) - 1 and lines[start].startswith(" "):  # the frame's source lines
        start += 1
    return "\n".join(lines[start:])
