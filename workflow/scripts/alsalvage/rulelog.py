"""Logging for rule scripts: every failure, expected or not, ends up in the rule's log.

Snakemake keeps a failed job's log and shows it with ``--show-failed-logs``; a traceback
that only reaches Snakemake's stderr is lost to a user reading ``logs/<rule>.log``.
"""

from __future__ import annotations

import logging
import traceback
from contextlib import contextmanager
from typing import Iterable, Iterator

FORMAT = "%(levelname)s %(message)s"


@contextmanager
def rule_log(log_path: str, rule: str, inputs: Iterable[str] = (),
             expected: tuple[type[BaseException], ...] = ()) -> Iterator[logging.Logger]:
    """Send logging to ``log_path`` (overwritten) for the body of the ``with``; on any
    exception, write what failed (rule, error, the inputs it was reading, the traceback)
    to the log and re-raise, so that the job fails with its reason on record.

    Exceptions of the ``expected`` types are a proper refusal the body has already
    reported in the log (e.g. validation findings): re-raised without a traceback."""
    logging.basicConfig(filename=log_path, filemode="w", level=logging.INFO, format=FORMAT, force=True)
    log = logging.getLogger(rule)
    try:
        yield log
    except expected:
        raise
    except Exception as err:
        log.error("rule %s failed: %s: %s", rule, type(err).__name__, err)
        names = [str(p) for p in inputs]
        if names:
            log.error("inputs: %s", ", ".join(names))
        log.error("%s", traceback.format_exc().rstrip())
        raise
    finally:
        logging.shutdown()
