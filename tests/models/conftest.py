"""Model tests use real MLflow on SQLite inside each test's KINDRED_HOME.

MLflow's first touch of a new database runs its whole chain of schema migrations (2 s on an idle
machine, 8 s on a busy one), so a migrated, empty database is made once per session and copied
into every home a test uses. MLflow sees an up-to-date schema and does no migration.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models import registry


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow database with its schema in place."""
    home = tmp_path_factory.mktemp("mlflow_template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KINDRED_HOME", str(home))
        assert registry.champion("no_such_model") is None
    return home / "mlflow.db"


def prepare_home(home: Path, template: Path) -> Path:
    """Create a KINDRED_HOME holding a copy of the migrated MLflow database."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "mlflow.db")
    return home


@pytest.fixture(autouse=True)
def _migrated_mlflow(kindred_home: Path, mlflow_template: Path) -> None:
    prepare_home(kindred_home, mlflow_template)
