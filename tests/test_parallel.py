"""parallel.fork_map: the forked worker pool of the stats rule."""

from __future__ import annotations

import os

import pytest

from alsalvage.parallel import DIED, error_summary, fork_map


def square(x):
    return x * x


def fail_on_three(x):
    if x == 3:
        raise ValueError("bad item 3")
    return 10 * x


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_values_come_back_in_the_order_given(workers):
    # 5, 1, 4, 2, 3 squared, in that order: 25, 1, 16, 4, 9
    assert fork_map(square, [5, 1, 4, 2, 3], workers) == [(25, None), (1, None), (16, None), (4, None), (9, None)]


def test_one_and_two_workers_give_the_same_results():
    items = list(range(-4, 9))
    assert fork_map(square, items, 2) == fork_map(square, items, 1) == [(x * x, None) for x in items]


def test_two_workers_run_the_items_in_forked_processes_sharing_a_closure():
    parent = os.getpid()
    table = {"a": 1, "b": 2, "c": 3}  # reached through the closure, never pickled

    def lookup(key):  # a local function: it cannot be pickled, only inherited by a fork
        return table[key], os.getpid()

    got = fork_map(lookup, ["c", "a", "b"], 2)
    assert [value for (value, _), _ in got] == [3, 1, 2]
    assert all(error is None for _, error in got)
    assert parent not in {pid for (_, pid), _ in got}
    # one worker: everything runs here
    assert {pid for (_, pid), _ in fork_map(lookup, ["c", "a", "b"], 1)} == {parent}


@pytest.mark.parametrize("workers", [1, 2])
def test_an_item_that_raises_is_reported_with_its_traceback_and_the_others_complete(workers):
    got = fork_map(fail_on_three, [1, 2, 3, 4], workers)
    assert [value for value, _ in got] == [10, 20, None, 40]
    assert [error is None for _, error in got] == [True, True, False, True]
    error = got[2][1]
    assert error.startswith("Traceback (most recent call last):")
    assert "in fail_on_three" in error and error.endswith("ValueError: bad item 3")
    assert error_summary(error) == "ValueError: bad item 3"


def die_on_three(x):
    if x == 3:
        os._exit(9)  # as if killed (out of memory): no Python exception, no answer
    return x


def test_a_killed_worker_is_reported_not_waited_for():
    got = fork_map(die_on_three, [1, 2, 3, 4, 5], 2)
    assert len(got) == 5
    value, error = got[2]
    assert value is None and error.startswith(DIED + ": BrokenProcessPool")
    # the broken pool also loses the items still pending: each either finished or is
    # reported the same way, never silently missing
    for item, (value, error) in zip([1, 2, 4, 5], got[:2] + got[3:]):
        assert (value, error) == (item, None) or (value is None and error.startswith(DIED)), (item, value, error)
    # the next call gets a fresh pool
    assert fork_map(square, [2, 3], 2) == [(4, None), (9, None)]


def test_warm_up_runs_once_here_and_only_before_a_fork():
    calls = []

    def warm_up():
        calls.append(os.getpid())

    fork_map(square, [1, 2, 3], 1, warm_up=warm_up)
    fork_map(square, [1], 2, warm_up=warm_up)  # one item: no fork
    assert calls == []
    fork_map(square, [1, 2, 3], 2, warm_up=warm_up)
    assert calls == [os.getpid()]


def test_a_value_that_cannot_come_back_is_reported_and_the_others_complete():
    # a worker's value is pickled back to the parent: a lambda cannot be, so that item
    # fails with the pickling error while the other items still return their values
    out = fork_map(lambda x: (lambda: x) if x == 2 else x * 10, [1, 2, 3], workers=2)
    assert out[0] == (10, None) and out[2] == (30, None)
    assert out[1][0] is None and "pickle" in out[1][1].lower()


def test_no_items_no_results():
    assert fork_map(square, [], 4) == []


DEAD = f"{DIED}: BrokenProcessPool: A process in the process pool was terminated abruptly"
ZERO = """Traceback (most recent call last):
  File "x.py", line 3, in f
    return 1 / 0
           ~~^~~
ZeroDivisionError: division by zero
"""
MULTILINE = """Traceback (most recent call last):
  File "run.py", line 9, in run
    raise StatsInputError(msg)
alsalvage.stats.records.StatsInputError: rule stats: 2 problem(s):
  a.csv: row 2, column CNSR
  a.csv: row 5, column AVAL"""
CHAINED = """Traceback (most recent call last):
  File "a.py", line 2, in f
    d["x"]
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "a.py", line 4, in f
    raise ValueError("no x")
ValueError: no x"""


@pytest.mark.parametrize(
    "error, summary",
    [
        (ZERO, "ZeroDivisionError: division by zero"),  # frames and caret line dropped
        (
            MULTILINE,  # every line of the message kept, its indented lines too
            "alsalvage.stats.records.StatsInputError: rule stats: 2 problem(s):\n"
            "  a.csv: row 2, column CNSR\n  a.csv: row 5, column AVAL",
        ),
        (CHAINED, "ValueError: no x"),  # the last exception raised
        (DEAD, DEAD),  # no frames: the whole text
    ],
)
def test_error_summary(error, summary):
    assert error_summary(error) == summary
