"""Domain logic of the AL amyloidosis salvage-therapy outcome workflow.

Each Snakemake rule calls one module of this package through a thin script in
``workflow/scripts/``; the modules are importable and unit-tested on their own.
Modules import only what they need, so that a rule does not pay for libraries
it does not use (validation never imports lifelines or matplotlib).
"""

__version__ = "0.1.0"
