"""Configuration: every key documented and defaulted, bad keys and types stop the run."""

from __future__ import annotations

import yaml

from helpers import REPO, snakemake

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def walk(schema, path=()):
    for key, sub in schema.get("properties", {}).items():
        yield path + (key,), sub
        yield from walk(sub, path + (key,))


def test_every_schema_key_has_description_and_default():
    for path, sub in walk(SCHEMA):
        assert sub.get("description"), f"{'.'.join(path)} has no description"
        assert "default" in sub, f"{'.'.join(path)} has no default"


def test_objects_reject_unknown_keys():
    assert SCHEMA["additionalProperties"] is False
    for path, sub in walk(SCHEMA):
        if sub.get("type") == "object":
            assert sub.get("additionalProperties") is False, ".".join(path)


def test_config_yaml_values_equal_schema_defaults():
    """config.yaml spells out the defaults; the two must not drift apart."""
    for path, sub in walk(SCHEMA):
        if sub.get("type") == "object":
            continue
        node = CONFIG
        for key in path:
            node = node[key]
        assert node == sub["default"], f"{'.'.join(path)}: config {node!r} vs schema default {sub['default']!r}"


def _write_config(project, mutate):
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    mutate(cfg)
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))


def test_unknown_key_stops_the_run_naming_it(project):
    _write_config(project, lambda c: c["cardiac"].update(respnse_fall_pct=30))
    proc = snakemake(project, "-n")
    assert proc.returncode != 0
    assert "cardiac" in proc.stderr + proc.stdout
    assert "respnse_fall_pct" in proc.stderr + proc.stdout


def test_wrong_type_stops_the_run_naming_the_key(project):
    _write_config(project, lambda c: c["hematologic"].update(vgpr_dflc_below_mg_l="forty"))
    proc = snakemake(project, "-n")
    out = proc.stderr + proc.stdout
    assert proc.returncode != 0
    assert "hematologic.vgpr_dflc_below_mg_l" in out
    assert "forty" in out


def test_missing_keys_take_schema_defaults(project):
    _write_config(project, lambda c: c.pop("cardiac"))
    proc = snakemake(project, "-n")
    assert proc.returncode == 0, proc.stderr
