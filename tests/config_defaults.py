"""The configuration's defaults, read from the schema (workflow/schemas/config.schema.yaml,
their one source), for tests that call the package's functions directly: the functions
take every setting explicitly, as the rules pass them (params)."""

from __future__ import annotations

import sys

from helpers import REPO, schema_defaults

sys.path.insert(0, str(REPO / "workflow" / "scripts"))


def config_defaults() -> dict:
    """The configuration as the schema completes an empty one (a fresh copy)."""
    return schema_defaults()


def stats_params(**overrides) -> dict:
    """Rule stats' params at the configuration defaults (alsalvage.stats.registry.PARAM_CONFIG)."""
    from alsalvage.stats.registry import rule_params

    return {**rule_params(config_defaults()), **overrides}


def analysis_params(name: str, **overrides) -> dict:
    """The keyword params analysis ``name`` takes, at the configuration defaults."""
    from alsalvage.stats.registry import BY_NAME

    params = stats_params(**overrides)
    return {p: params[p] for p in BY_NAME[name].params}


def figure_settings(name: str | None = None) -> dict:
    """Every figure setting (or those of figure ``name``) at the configuration defaults."""
    from alsalvage.figure_registry import SETTING_CONFIG, settings

    cfg = config_defaults()
    if name is not None:
        return settings(cfg, name)
    return {k: cfg[section][key] for k, (section, key) in SETTING_CONFIG.items()}


def figure_params(**overrides):
    """FigureParams with every setting at the configuration default, but ``overrides``."""
    from alsalvage.figures import SETTING_TYPES, FigureParams

    values = {k: SETTING_TYPES[k](v) for k, v in figure_settings().items()}
    return FigureParams(**{**values, **overrides})
