"""Configuration: every key documented and defaulted, bad keys and types stop the run."""

from __future__ import annotations

import ast

import pytest
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
        if sub.get("type") in ("object", ["object", "null"]):
            if "propertyNames" in sub:  # a map (e.g. drugs.agents): keys by pattern, values typed
                assert sub["propertyNames"].get("pattern") and isinstance(sub["additionalProperties"], dict), path
                continue
            assert sub.get("additionalProperties") is False, ".".join(path)


def test_config_yaml_values_equal_schema_defaults():
    """config.yaml spells out the defaults; the two must not drift apart."""
    for path, sub in walk(SCHEMA):
        if sub.get("type") in ("object", ["object", "null"]):  # a section (null: e.g. no grouping)
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


# --------------------------------------------------------------------------- one source of defaults
PACKAGE = REPO / "workflow" / "scripts" / "alsalvage"
def schema_leaf_defaults(schema=SCHEMA) -> dict[str, list]:
    """Leaf key name -> the defaults of the schema leaves of that name."""
    out: dict[str, list] = {}
    for path, sub in walk(schema):
        if sub.get("type") != "object":
            out.setdefault(path[-1], []).append(sub["default"])
    return out


def same_value(a, b) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def default_repetitions(source: str, leaves: dict[str, list]) -> set[tuple[str, str]]:
    """(function, parameter) of every parameter whose literal default equals the schema
    default of a configuration key of the same name."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        a = node.args
        pos = a.posonlyargs + a.args
        pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults))
        pairs += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
        for param, default in pairs:
            try:
                value = ast.literal_eval(default)
            except ValueError:
                continue
            if any(same_value(value, d) for d in leaves.get(param.arg, [])):
                found.add((getattr(node, "name", "<lambda>"), param.arg))
    return found


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def f(x, alpha=0.05): pass", {("f", "alpha")}),
        ("def f(*, window_days=30): pass", {("f", "window_days")}),
        ("def f(upcr_as_proteinuria=False): pass", {("f", "upcr_as_proteinuria")}),
        ("def f(alpha=0.1, days=30, window_days=None): pass", set()),  # other value, other name
        ("def f(upcr_as_proteinuria=0): pass", set()),  # 0 is not False
        ("def f(alpha): pass", set()),
    ],
)
def test_default_repetition_finder(source, expected):
    assert default_repetitions(source, schema_leaf_defaults()) == expected


def test_package_functions_do_not_repeat_schema_defaults():
    """The config schema is the one source of every setting's default: a package function
    whose parameter is named like a config key must not default to that key's schema value
    (the rules pass it from the config; tests pass it explicitly)."""
    leaves = schema_leaf_defaults()
    found = {
        (str(path.relative_to(PACKAGE)), fn, param)
        for path in sorted(PACKAGE.rglob("*.py"))
        for fn, param in default_repetitions(path.read_text(encoding="utf-8"), leaves)
    }
    assert sorted(found) == []


def test_old_bortezomib_section_is_refused_with_a_migration_message(tmp_path):
    """Issue 13: `bortezomib:` became `prior_exposure:`; an old config says how to migrate."""
    cfg = tmp_path / "old.yaml"
    cfg.write_text("bortezomib:\n  sensitive_relapse_after_days: 182.6\n")
    proc = snakemake(REPO, "-n", "--configfile", str(cfg), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key bortezomib: replaced by prior_exposure" in out


@pytest.mark.parametrize("layer, refused", [
    # a grouping by an agent outside the shipped dictionary: refused before any job...
    ("prior_exposure:\n  label: iberdomide\n  agents: [iberdomide]\n",
     "config key prior_exposure.agents: unknown agent 'iberdomide'"),
    ("prior_exposure:\n  label: CELMoD\n  agents: []\n  classes: [CELMoD]\n",
     "config key prior_exposure.classes: no agent of class 'CELMoD'"),
    # ... accepted once config drugs names it (agent or class)
    ("drugs:\n  agents: {iberdomide: CELMoD}\nprior_exposure:\n  label: iberdomide\n  agents: [iberdomide]\n", None),
    ("drugs:\n  agents: {iberdomide: CELMoD}\nprior_exposure:\n  label: CELMoD\n  agents: []\n  classes: [CELMoD]\n",
     None),
    # laid over config.yaml, a new grouping keeps label: bortezomib unless it sets its own
    ("prior_exposure:\n  agents: [daratumumab]\n",
     "config key prior_exposure.label: 'bortezomib' names a drug that does not define the exposure"),
])
def test_drug_names_of_the_grouping_are_checked_before_any_job(tmp_path, layer, refused):
    """Issue 13: prior_exposure's agents and classes are looked up in the shipped drug
    dictionary with config drugs merged in (contract.config_problems, run by common.smk at
    DAG build time): a name neither knows stops the dry run, naming the key."""
    cfg = tmp_path / "layer.yaml"
    cfg.write_text(layer)
    proc = snakemake(REPO, "-n", "--configfile", str(cfg), timeout=300)
    out = proc.stdout + proc.stderr
    if refused is None:
        assert proc.returncode == 0, out[-2000:]
    else:
        assert proc.returncode != 0
        assert "Invalid configuration (drug names" in out and refused in out, out[-2000:]
