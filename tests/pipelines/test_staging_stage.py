"""The ingest and staging stages materialised by Dagster against a warehouse in tmp_path."""

import os
import time
from datetime import date

import dagster as dg
import pytest

from pipelines.defs.ingest.assets import raw_asset
from pipelines.defs.ingest.automation import day_ranges
from pipelines.defs.staging.assets import staging_asset
from pipelines.defs.staging.backfill import backfill_days
from pipelines.defs.staging.checks import accounting_check, expectations_check
from pipelines.defs.staging.daily import DAILY_KEYS, daily_asset, daily_checks
from pipelines.resources import KindredResource
from tests.warehouse.conftest import write_landing
from warehouse.canonical import KINDS
from warehouse.config import ConfigError, load_config
from warehouse.connection import open_warehouse


def test_ingest_and_staging_materialise_with_checks(tmp_path, kindred_home):
    config_path = write_landing(tmp_path / "landing")
    config = load_config(config_path)
    assets = [raw_asset(s) for s in config.sources] + [staging_asset(config.sources)]
    checks = [make(kind) for kind in KINDS for make in (expectations_check, accounting_check)]
    result = dg.materialize(
        [*assets, *checks], resources={"kindred": KindredResource(config_path=str(config_path))}
    )
    assert result.success
    evaluations = {
        (
            e.asset_check_evaluation_data.asset_key.to_user_string(),
            e.asset_check_evaluation_data.check_name,
        ): e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert len(evaluations) == 8
    assert all(evaluations.values()), evaluations
    staged = {
        e.asset_key.to_user_string(): e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "staging"
    }
    assert staged == {"staging/people": 1, "staging/events": 2, "staging/orders": 2, "staging/cases": 1}
    assert (kindred_home / "warehouse.duckdb").is_file()
    with open_warehouse() as con:
        assert con.sql("SELECT count(*) FROM quarantine.web").fetchall()[0][0] == 4


def test_a_failing_expectation_blocks_downstream(tmp_path, kindred_home):
    config_path = write_landing(tmp_path / "landing")
    # An order dated far in the future passes typing but breaks the suite.
    with open(config_path.parent / "orders.csv", "a") as handle:
        handle.write("c9,i9,2999-01-01,5,p9,toys\n")
    config = load_config(config_path)
    staged = staging_asset(config.sources)

    @dg.asset(deps=[dg.AssetKey(["staging", "orders"])])
    def downstream() -> None:
        return None

    result = dg.materialize(
        [*[raw_asset(s) for s in config.sources], staged, downstream, expectations_check("orders")],
        resources={"kindred": KindredResource(config_path=str(config_path))},
        raise_on_error=False,
    )
    assert not result.success
    assert not any(e.asset_key.path == ["downstream"] for e in result.get_asset_materialization_events())


# Incremental, partitioned ingestion: daily assets, the sensors, and backfills.


def landing_definitions(tmp_path, monkeypatch):
    """The whole code location over the small landing folder, with files old enough to be settled."""
    config_path = write_landing(tmp_path / "landing")
    monkeypatch.setenv("KINDRED_CONFIG", str(config_path))
    for file in config_path.parent.rglob("*.*"):
        os.utime(file, (time.time() - 3600, time.time() - 3600))
    from pipelines.definitions import defs

    return config_path, defs()


def test_a_daily_partition_re_stages_its_day(tmp_path, kindred_home):
    config_path = write_landing(tmp_path / "landing")
    config = load_config(config_path)
    result = dg.materialize(
        [
            *[raw_asset(s) for s in config.sources],
            *[daily_asset(k, config) for k in ("events", "orders")],
            *[c for k in ("events", "orders") for c in daily_checks(k)],
        ],
        resources={"kindred": KindredResource(config_path=str(config_path))},
        partition_key="2025-01-02",
    )
    assert result.success
    daily = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[1].endswith("_daily")
    }
    assert daily["staging/orders_daily"]["dagster/row_count"].value == 1
    assert daily["staging/orders_daily"]["window"].value == "2025-01-02 to 2025-01-03 (exclusive)"
    assert daily["staging/events_daily"]["dagster/row_count"].value == 0
    checks = {
        (
            e.asset_check_evaluation_data.asset_key.to_user_string(),
            e.asset_check_evaluation_data.check_name,
        ): (e.asset_check_evaluation_data.passed)
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks == {
        ("staging/events_daily", "great_expectations"): True,
        ("staging/events_daily", "every_row_accounted_for"): True,
        ("staging/orders_daily", "great_expectations"): True,
        ("staging/orders_daily", "every_row_accounted_for"): True,
    }
    with open_warehouse() as con:
        # New file versions are staged whatever their day: the ledger balances after one partition.
        assert con.sql("SELECT count(*) FROM staging.orders").fetchall() == [(2,)]


def test_the_unpartitioned_run_still_runs_with_the_daily_assets_in_the_graph(
    tmp_path, kindred_home, monkeypatch
):
    config_path, definitions = landing_definitions(tmp_path, monkeypatch)
    job = definitions.resolve_implicit_global_asset_job_def()
    keys = [k for k in definitions.resolve_all_asset_keys() if k.path[0] in ("raw", "staging")]
    result = job.execute_in_process(asset_selection=keys, raise_on_error=False)
    assert result.success
    notes = [
        e.materialization.metadata["note"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[1].endswith("_daily")
    ]
    assert notes == ["not a partitioned run; nothing re-staged"] * 2
    failed = [
        e.asset_check_evaluation_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    assert failed == []


def test_backfill_days_runs_one_range_and_refuses_days_outside_the_partitions(
    tmp_path, kindred_home, monkeypatch
):
    landing_definitions(tmp_path, monkeypatch)
    with dg.instance_for_test() as instance:
        outcome = backfill_days(date(2025, 1, 1), date(2025, 1, 31), instance=instance)
        assert outcome.success, outcome.error
        assert outcome.staged == {"events": 2, "orders": 1}
        assert outcome.quarantined == {"web": 4, "shop": 3}
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].tags["dagster/asset_partition_range_end"] == "2025-01-31"
        materialized = instance.get_materialized_partitions(DAILY_KEYS["events"])
        assert len(materialized) == 31
    with pytest.raises(ConfigError, match="between 2020-01-01"):
        backfill_days(date(2019, 12, 1), date(2020, 1, 2))
    with pytest.raises(ConfigError, match="before --from"):
        backfill_days(date(2025, 2, 1), date(2025, 1, 1))


def test_the_landing_sensor_requests_loads_of_new_and_changed_files(tmp_path, kindred_home, monkeypatch):
    config_path, definitions = landing_definitions(tmp_path, monkeypatch)
    sensor = definitions.resolve_sensor_def("landing_files")
    first = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions))
    assert len(first.run_requests) == 1
    assert sorted(k.to_user_string() for k in first.run_requests[0].asset_selection) == [
        "raw/crm_leads",
        "raw/shop",
        "raw/support",
        "raw/web",
    ]
    again = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions, cursor=first.cursor))
    assert again.run_requests == [] and again.skip_message
    # A changed file: only its source; a file still being written waits for the next tick.
    orders = config_path.parent / "orders.csv"
    orders.write_text(orders.read_text() + "c8,i8,2025-03-01,1,p8,toys\n")
    waiting = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions, cursor=first.cursor))
    assert waiting.run_requests == []
    os.utime(orders, (time.time() - 60, time.time() - 60))
    changed = sensor.evaluate_tick(dg.build_sensor_context(definitions=definitions, cursor=first.cursor))
    assert [k.to_user_string() for k in changed.run_requests[0].asset_selection] == ["raw/shop"]


def test_the_restage_sensor_requests_the_days_raw_loads_touched(tmp_path, kindred_home, monkeypatch):
    config_path, definitions = landing_definitions(tmp_path, monkeypatch)
    config = load_config(config_path)
    with dg.instance_for_test() as instance:
        dg.materialize(
            [raw_asset(s) for s in config.sources],
            instance=instance,
            resources={"kindred": KindredResource(config_path=str(config_path))},
        )
        sensor = definitions.resolve_sensor_def("restage_touched_days")
        context = dg.build_multi_asset_sensor_context(
            monitored_assets=[dg.AssetKey(["raw", s.name]) for s in config.sources],
            instance=instance,
            definitions=definitions,
        )
        requests = sensor(context)
    by_job = {}
    for request in requests:
        by_job.setdefault(request.job_name, []).append(request)
    ranges = sorted(
        (
            r.asset_selection[0].to_user_string(),
            r.tags["dagster/asset_partition_range_start"],
            r.tags["dagster/asset_partition_range_end"],
        )
        for r in by_job["stage_days"]
    )
    # Orders fall on 2025-01-02, 2025-01-03 and 2025-02-01; the events on 2025-01-01.
    assert ranges == [
        ("staging/events_daily", "2025-01-01", "2025-01-01"),
        ("staging/orders_daily", "2025-01-02", "2025-01-03"),
        ("staging/orders_daily", "2025-02-01", "2025-02-01"),
    ]
    assert sorted(k.to_user_string() for k in by_job["stage_people_and_cases"][0].asset_selection) == [
        "staging/cases",
        "staging/people",
    ]


def test_day_ranges_join_consecutive_days_and_cap_the_number_of_runs():
    days = [date(2025, 1, d) for d in (1, 2, 3, 5, 9, 10)]
    assert day_ranges(days, date(2025, 1, 2), date(2025, 1, 31)) == [
        (date(2025, 1, 2), date(2025, 1, 3)),
        (date(2025, 1, 5), date(2025, 1, 5)),
        (date(2025, 1, 9), date(2025, 1, 10)),
    ]
    scattered = [date(2025, 1, d) for d in range(1, 31, 2)]
    assert day_ranges(scattered, date(2020, 1, 1), date(2025, 12, 31)) == [
        (date(2025, 1, 1), date(2025, 1, 29))
    ]
