"""Records which alsalvage modules a rule's script really loaded (tests only).

Active only when ALSALVAGE_IMPORT_TRACE names a directory (the tests put this folder on
PYTHONPATH for a traced run): at exit, each Python process that loaded the package writes
`<pid>.txt` there, holding its script path (first line) and the loaded modules."""

import atexit
import os
import sys

_DIR = os.environ.get("ALSALVAGE_IMPORT_TRACE")


def _pkg_name(name: str) -> str:
    """As pkg() names modules: alsalvage -> __init__, alsalvage.stats.run -> stats/run,
    alsalvage.stats -> stats/__init__."""
    parts = name.split(".")[1:]
    if not parts:
        return "__init__"
    if parts[0] == "stats":
        return "/".join(parts) if len(parts) > 1 else "stats/__init__"
    return parts[0]


def _write() -> None:
    mods = sorted(
        _pkg_name(name) for name in sys.modules if name == "alsalvage" or name.startswith("alsalvage.")
    )
    if mods:
        with open(os.path.join(_DIR, f"{os.getpid()}.txt"), "w") as fh:
            fh.write("\n".join([sys.argv[0] if sys.argv else "", *mods]) + "\n")


if _DIR:
    atexit.register(_write)
