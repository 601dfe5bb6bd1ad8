"""One real `kindred run` of a small demo company, shared by the end-to-end tests of a module.

The run is a subprocess (`python -m pipelines.cli`), exactly as a user starts it, with its own
KINDRED_HOME, so the Dagster instance, MLflow store and warehouse are all real and isolated.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from demo.generate import generate_demo_data

REPO = Path(__file__).resolve().parents[2]
DEMO_PEOPLE = 500


@dataclass
class KindredRun:
    """A finished run: its folder, home, exit code and output."""

    folder: Path
    home: Path
    returncode: int
    output: str

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.home / "warehouse.duckdb"), read_only=True) as con:
            return con.sql(query, params=params).fetchall()


def kindred(
    folder: Path, home: Path, *args: str, timeout: int = 600, env: dict[str, str] | None = None
) -> KindredRun:
    """Run the `kindred` CLI in `folder` with `KINDRED_HOME=home` (and `env` on top of ours)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KINDRED_", "DAGSTER_"))} | (env or {})
    env["KINDRED_HOME"] = str(home)
    process = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return KindredRun(folder, home, process.returncode, process.stdout + process.stderr)


def demo_folder(root: Path, people: int = DEMO_PEOPLE) -> Path:
    """A folder with the demo kindred.yaml and a small demo company under data/demo."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "kindred.yaml", root / "kindred.yaml")
    generate_demo_data(root / "data" / "demo", people=people, seed=11)
    return root


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> KindredRun:
    """`kindred run` on a 500-person demo company."""
    folder = demo_folder(tmp_path_factory.mktemp("demo"))
    return kindred(folder, folder / "home", "run")
