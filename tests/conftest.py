import pytest

from helpers import DEMO, REPO, copy_project


@pytest.fixture
def project(tmp_path):
    """A fresh copy of the workflow in a temporary directory."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def demo_dir():
    return DEMO
