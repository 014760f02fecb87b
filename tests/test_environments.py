"""The conda environments of the rules pin exactly the versions the tests run with."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from helpers import REPO

ENVS = sorted((REPO / "workflow" / "envs").glob("*.yaml"))
# conda-forge package name -> PyPI distribution name, where they differ
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "pandera-base": "pandera", "et_xmlfile": "et-xmlfile"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)\s*=\s*([0-9][^\s=]*)$")


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = ver
    return pins


def env_pins(path: Path) -> list[tuple[str, str]]:
    spec = yaml.safe_load(path.read_text())
    pins = []
    for dep in spec["dependencies"]:
        assert isinstance(dep, str), f"{path.name}: pip sections are not used"
        m = PIN.match(dep.strip())
        assert m, f"{path.name}: {dep!r} is not pinned exactly (name =version)"
        pins.append((m.group(1), m.group(2)))
    return pins


def test_there_are_envs():
    assert len(ENVS) >= 1


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_uses_conda_forge_only(path):
    spec = yaml.safe_load(path.read_text())
    assert spec["channels"][0] == "conda-forge"
    assert "defaults" not in spec["channels"]


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_pins_equal_tested_versions(path):
    reqs = requirement_pins()
    for name, pinned in env_pins(path):
        if name == "python":
            running = f"{sys.version_info.major}.{sys.version_info.minor}"
            assert pinned == running, f"{path.name}: python ={pinned}, tests run {running}"
            continue
        dist = CONDA_TO_PYPI.get(name, name)
        installed = version(dist)
        assert pinned == installed, f"{path.name}: {name} ={pinned}, tests run {installed}"
        assert reqs.get(dist.lower()) == pinned, (
            f"{path.name}: {name} ={pinned}, requirements.txt pins {reqs.get(dist.lower())}"
        )


def test_requirements_are_what_is_installed():
    for name, pinned in requirement_pins().items():
        assert version(name) == pinned, f"requirements.txt {name}=={pinned}, installed {version(name)}"


def test_every_rule_env_exists():
    used = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r'"\.\./envs/([\w\-]+\.yaml)"', smk.read_text()))
    assert used, "no rule names a conda env"
    assert used <= {p.name for p in ENVS}
