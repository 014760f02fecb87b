"""Records which alsalvage modules a rule's script really loaded (tests only).

Active only when ALSALVAGE_IMPORT_TRACE names a directory (the tests put this folder on
PYTHONPATH for a traced run): at exit, each Python process that loaded the package writes
`<pid>.txt` there, holding its script path (first line) and the loaded modules."""

import atexit
import os
import sys

_DIR = os.environ.get("ALSALVAGE_IMPORT_TRACE")


def _write() -> None:
    mods = sorted(
        "__init__" if name == "alsalvage" else name.split(".", 1)[1]
        for name in sys.modules
        if name == "alsalvage" or name.startswith("alsalvage.")
    )
    if mods:
        with open(os.path.join(_DIR, f"{os.getpid()}.txt"), "w") as fh:
            fh.write("\n".join([sys.argv[0] if sys.argv else "", *mods]) + "\n")


if _DIR:
    atexit.register(_write)
