"""Shared helpers for the tests: project paths, temporary project copies, Snakemake runs."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

# One copy of the project for the tests and the benchmark command (workflow/scripts is on
# pytest's pythonpath): what a run of the workflow needs from the repository.
from benchmark_scale import PROJECT_FILES, copy_project  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"
BIN = Path(sys.executable).parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip locally when an external tool is missing; in CI a missing tool is a failure."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def snakemake_env() -> dict[str, str]:
    """The environment for Snakemake runs: this interpreter's venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def snakemake(workdir: Path, *args: str, check: bool = False, timeout: int = 900):
    """Run Snakemake in workdir with this interpreter's environment."""
    cmd = [str(BIN / "snakemake"), "--cores", "2", "--nolock", *args]
    proc = subprocess.run(
        cmd, cwd=workdir, env=snakemake_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def pandas_write_dataset(df, csv_path, parquet_path, sort_by):
    """The reference writer of a derived dataset, with pandas only: sorted by ``sort_by``
    (stable), CSV with ISO dates, floats as %.10g, empty missing cells and \\n line ends,
    Parquet through pandas. ``alsalvage.csvout.write_dataset`` must give the same bytes."""
    out = df.sort_values(list(sort_by), kind="mergesort").reset_index(drop=True)
    out.to_csv(csv_path, index=False, float_format="%.10g", date_format="%Y-%m-%d", lineterminator="\n", na_rep="")
    out.to_parquet(parquet_path, index=False, engine="pyarrow", compression="snappy")
    return out


def _schema_defaults(schema: dict):
    if "properties" in schema:
        out = dict(schema.get("default") or {})
        for name, sub in schema["properties"].items():
            value = _schema_defaults(sub)
            if value is not None:
                out[name] = value
        return out
    return schema.get("default")


@functools.cache
def _schema_config() -> dict:
    """The schema defaults, with study.regimen resolved as workflow/rules/common.smk does."""
    import yaml

    from alsalvage import study

    cfg = _schema_defaults(yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()))
    cfg["study"] = study.resolve(cfg["study"])
    return cfg


def schema_defaults() -> dict:
    """The configuration the schema's defaults make (workflow/schemas/config.schema.yaml, the
    one source of config defaults), a fresh copy: what package functions are given in tests,
    since they repeat none of it."""
    import copy

    return copy.deepcopy(_schema_config())


def validation_settings(cfg: dict | None = None) -> dict:
    """The settings rule validate passes validation.check_all / validate_tables (its params),
    from a configuration (default: the schema defaults)."""
    cfg = cfg or schema_defaults()
    return {
        "limits": cfg["validation"],
        "window_days": cfg["baseline"]["window_days"],
        "involvement": {
            "kidney_proteinuria_g": cfg["renal"]["involvement_proteinuria_g"],
            "heart_ntprobnp_ng_l": cfg["cardiac"]["involvement_ntprobnp_ng_l"],
            "liver_alp_x_uln": cfg["liver"]["involvement_alp_x_uln"],
        },
        "upcr_as_proteinuria": cfg["renal"]["upcr_as_proteinuria"],
        "drugs": cfg["drugs"],
        "agents": cfg["study"]["agents"],
    }


def schema_default(dotted: str):
    """The schema default of one config key (``section.key``), e.g. ``stats.alpha``."""
    node = schema_defaults()
    for part in dotted.split("."):
        node = node[part]
    return node
