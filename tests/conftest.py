"""Shared fixtures. Every test gets its own KINDRED_HOME so runs never see each other's state."""

import pytest


@pytest.fixture(autouse=True)
def kindred_home(tmp_path, monkeypatch):
    """An empty KINDRED_HOME per test: the warehouse, MLflow and Dagster files land in tmp_path."""
    home = tmp_path / "kindred_home"
    monkeypatch.setenv("KINDRED_HOME", str(home))
    monkeypatch.delenv("KINDRED_CONFIG", raising=False)
    monkeypatch.delenv("KINDRED_AS_OF", raising=False)
    return home
