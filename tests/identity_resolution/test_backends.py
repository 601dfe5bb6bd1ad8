"""Splink on DuckDB and on Spark: the same settings, the same input, the same clusters.

The Spark test shares one real `local[2]` session per module (started the way
`identity.backend: spark` starts it) and is marked slow; it runs in CI because `make install`
installs the `spark` extra, and is skipped only where pyspark is not installed. Its input has
enough records to train (u by sampling, m by EM) yet few enough pairs that u is counted on every
pair on both engines, so the two models see the same data.
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys

import polars as pl
import pytest
from faker import Faker

from identity_resolution.backends import SparkEngines, engine_factory, spark_session
from identity_resolution.probabilistic import MIN_RECORDS_TO_TRAIN
from identity_resolution.resolve import resolve_frames
from warehouse.identity_config import SparkSettings

MAPPING = {"first_name": "first", "last_name": "last", "date_of_birth": "born", "city": "town"}


def test_the_duckdb_path_never_imports_pyspark():
    script = (
        "import sys, polars as pl\n"
        "from identity_resolution.backends import engine_factory\n"
        "from identity_resolution.resolve import resolve_records\n"
        "people = pl.DataFrame({'id': ['1', '2'], 'first_name': ['Ann', 'Ann'], 'last_name': ['Lee', 'Lee']})\n"
        "with engine_factory('duckdb') as engines:\n"
        "    resolve_records({'crm': people}, 'id', engine_factory=engines)\n"
        "assert 'pyspark' not in sys.modules, 'pyspark was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_spark_without_pyspark_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with engine_factory("spark") as engines:
        assert isinstance(engines, SparkEngines)
        with pytest.raises(RuntimeError, match=r"install the `spark` extra"):
            engines()


def test_an_unknown_backend_is_refused():
    with (
        pytest.raises(ValueError, match="unknown identity backend 'hive'; use one of: duckdb, spark"),
        engine_factory("hive"),
    ):
        pass


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    """620 people, three in four of them entered twice with a typo or a missing value."""
    fake, pick = Faker("en_GB"), random.Random(11)
    Faker.seed(11)
    rows = []
    for i in range(620):
        row = {
            "id": f"r{i}",
            "first": fake.first_name(),
            "last": fake.last_name(),
            "born": fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
            "town": fake.city(),
        }
        rows.append(row)
        if pick.random() < 0.75:
            twin = dict(row, id=f"r{i}-2")
            field = pick.choice(["last", "town", "born"])
            twin[field] = None if field != "last" else row["last"][:-1] + "e"
            rows.append(twin)
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def spark():
    """One Spark session for the module: the run's factory joins it instead of starting its own
    (Spark's start-up is most of a small run)."""
    pytest.importorskip("pyspark")
    with spark_session(SparkSettings(conf={"spark.sql.shuffle.partitions": "2"})) as session:
        yield session


def clusters(resolved: pl.DataFrame) -> set[frozenset[str]]:
    return {frozenset(ids) for ids in resolved.group_by("profile_id").agg("record_id")["record_id"].to_list()}


@pytest.mark.slow
def test_a_model_trained_on_spark_gives_the_same_clusters(people, spark):
    assert people.height >= MIN_RECORDS_TO_TRAIN  # so both engines train, not just score
    on_duckdb, duckdb_model = resolve_frames({"people": people}, "id", MAPPING)
    with engine_factory("spark") as engines:
        on_spark, spark_model = resolve_frames({"people": people}, "id", MAPPING, engine_factory=engines)
    assert duckdb_model.trained and spark_model.trained
    assert on_spark.height == people.height
    assert clusters(on_spark) == clusters(on_duckdb)
    # The ids derive from the clusters, so they agree too; and the file really was linked.
    assert on_spark.equals(on_duckdb)
    assert on_duckdb["profile_id"].n_unique() < people.height - 300
    # The run joined the module's session, left it running and dropped the views it made.
    assert spark.getActiveSession() is not None
    assert not [t for t in spark.catalog.listTables() if t.isTemporary]


def test_a_given_model_is_scored_with_not_refitted(people, caplog):
    # resolve_frames(model=...) used to fit a new model anyway: the given one had no settings
    # fingerprint, so it never "fitted the data".
    first, model = resolve_frames({"people": people}, "id", MAPPING)
    assert model is not None and model.trained
    with caplog.at_level(logging.INFO, logger="identity_resolution.matching"):
        again, used = resolve_frames({"people": people}, "id", MAPPING, model=model)
    assert used is model
    assert "fitting a match model" not in caplog.text
    assert "scoring with the given match model" in caplog.text
    assert again.equals(first)
