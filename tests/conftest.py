"""Shared pytest fixtures."""

import pytest


@pytest.fixture(autouse=True)
def keras_home(tmp_path_factory, monkeypatch):
    """Point KERAS_HOME at a fresh folder, so no test reads or writes ~/.keras."""
    home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home
