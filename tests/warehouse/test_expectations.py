"""The Great Expectations suites pass on clean staging and fail on what typing cannot catch."""

from datetime import datetime

from warehouse.config import load_config
from warehouse.connection import connect
from warehouse.expectations import validate_staging
from warehouse.ingest import ingest_sources
from warehouse.staging import build_staging
from warehouse.timeline import resolve_as_of


def staged(landing):
    config = load_config(landing)
    con = connect(":memory:")
    ingest_sources(con, config)
    build_staging(con, config)
    return con


def test_clean_staging_passes(landing):
    con = staged(landing)
    for kind in ("people", "events", "orders", "cases"):
        report = validate_staging(con, kind, now=datetime(2026, 1, 1))
        assert report.success, report.summary()


def test_future_timestamps_and_unknown_event_types_fail(landing):
    con = staged(landing)
    con.execute("UPDATE staging.events SET type = 'clicky' WHERE message_id = 'm2'")
    report = validate_staging(con, "events", now=datetime(2026, 1, 1))
    assert not report.success
    assert [f["expectation"] for f in report.failures] == ["expect_column_values_to_be_in_set"]
    orders = validate_staging(con, "orders", now=datetime(2025, 1, 15))
    assert not orders.success
    assert orders.failures[0]["unexpected_count"] == 1


def test_as_of_defaults_to_the_day_after_the_newest_fact(landing):
    con = staged(landing)
    # The newest fact is the order of 2025-02-01; a CRM record updated later does not count.
    assert str(resolve_as_of(con, None)) == "2025-02-02"
    assert str(resolve_as_of(con, "2025-01-15")) == "2025-01-15"
