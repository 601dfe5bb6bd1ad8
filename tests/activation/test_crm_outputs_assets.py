"""The Dagster assets that take the crm tables out of the warehouse: the PostgreSQL mirror (run when
kindred.yaml names a target, skipped with a reason when not) and the per-run Parquet snapshot."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from pipelines.defs.activation.crm_outputs import crm_snapshot, postgres_mirror
from pipelines.resources import KindredResource
from tests.activation.crm_mirror import PASSWORD, assert_mirror_equals_warehouse, crm_warehouse, new_target

_SOURCES = "sources:\n  - {name: crm, kind: people, path: people.csv}\n"


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("crm_assets") / "warehouse.duckdb"
    crm_warehouse(path)
    return path


@pytest.fixture
def home(kindred_home, monkeypatch, built_warehouse):
    kindred_home.mkdir(parents=True)
    shutil.copyfile(built_warehouse, kindred_home / "warehouse.duckdb")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    return kindred_home


def materialise(config_path, *, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [postgres_mirror, crm_snapshot],
        resources={"kindred": KindredResource(config_path=str(config_path))},
        raise_on_error=raise_on_error,
    )


def metadata(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}


def test_with_a_target_the_run_syncs_and_snapshots(home, tmp_path, postgres_server):
    target = new_target(postgres_server)
    config = tmp_path / "kindred.yaml"
    config.write_text(_SOURCES + f"crm_sync:\n  target: {target.url}\n  snapshots: {{keep: 2}}\n")

    first = materialise(config)
    second = materialise(config)

    assert {
        k: metadata(first, ["crm", "postgres_mirror"])[k] for k in ("inserted", "updated", "deleted")
    } == {
        "inserted": 8,
        "updated": 0,
        "deleted": 0,
    }
    assert metadata(first, ["crm", "postgres_mirror"])["target"] == target.url
    assert metadata(second, ["crm", "postgres_mirror"])["inserted"] == 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert_mirror_equals_warehouse(con, target)
    snapshot = metadata(second, ["exports", "crm_snapshot"])
    assert snapshot["rows"] == {"record_scores.parquet": 4, "grounding.parquet": 4}
    assert str(home / "exports" / "crm") in snapshot["path"]


def test_without_a_target_the_sync_is_skipped_with_the_reason(home, tmp_path):
    config = tmp_path / "kindred.yaml"
    config.write_text(_SOURCES + "crm_sync:\n  snapshots: {keep: 0}\n")

    result = materialise(config)

    assert metadata(result, ["crm", "postgres_mirror"]) == {"skipped": "no crm_sync.target in kindred.yaml"}
    assert metadata(result, ["exports", "crm_snapshot"]) == {"skipped": "crm_sync.snapshots.keep is 0"}
    assert not (home / "exports").exists()


def test_a_failing_sync_fails_the_asset_without_the_password(home, tmp_path, postgres_server, monkeypatch):
    target = new_target(postgres_server)
    monkeypatch.setenv("PGPASSWORD", "Not-the-Pa55word-zz")
    config = tmp_path / "kindred.yaml"
    config.write_text(_SOURCES + f"crm_sync:\n  target: {target.url}\n")

    result = materialise(config, raise_on_error=False)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = str(failure.event_specific_data)
    assert "password authentication failed" in text
    assert "Not-the-Pa55word-zz" not in text
