"""Fixtures for the demo-company tests.

One demo data set is generated per test session and shared: generation takes a few seconds, and
every test only reads it. The size (1,500 people) is the smallest at which the planted signals
stand clear of sampling noise.
"""

import glob
import json
from pathlib import Path

import polars as pl
import pytest

from demo.generate import DemoSummary, generate_demo_data

SIGNAL_PEOPLE = 1500


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    """The shared demo data set, written under `<tmp>/data/demo` as the CLI would."""
    root = tmp_path_factory.mktemp("demo_root")
    return generate_demo_data(root / "data" / "demo", people=SIGNAL_PEOPLE, seed=11)


def event_lines(out: Path, folder: str) -> list[dict]:
    """Every JSON line of one event folder, parsed."""
    lines = []
    for file in sorted(glob.glob(str(out / "events" / folder / "*.jsonl"))):
        with open(file, encoding="utf-8") as handle:
            lines.extend(json.loads(line) for line in handle)
    return lines


def read_csv(out: Path, relative: str) -> pl.DataFrame:
    """A CSV source file with every column read as text, as an ingest would see it."""
    return pl.read_csv(out / relative, infer_schema=False)


@pytest.fixture(scope="session")
def truth(demo: DemoSummary) -> pl.DataFrame:
    """ground_truth/records.csv."""
    return read_csv(demo.out, "ground_truth/records.csv")


@pytest.fixture(scope="session")
def people(demo: DemoSummary) -> pl.DataFrame:
    """ground_truth/people.csv."""
    return read_csv(demo.out, "ground_truth/people.csv")
