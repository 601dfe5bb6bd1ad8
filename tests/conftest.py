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


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (one per xdist worker), stopped at the end.

    Started from Debian's server binaries in a temporary folder (see tests/postgres_server.py);
    durability is off because nothing in a test cluster must survive a crash.
    """
    from tests.postgres_server import PostgresServer

    server = PostgresServer(settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
    server.start()
    yield server
    server.stop()
