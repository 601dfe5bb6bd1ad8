"""Exports: the last run's members with the segment's columns, consent of its purpose and channel applied."""

from datetime import datetime

import polars as pl
import pytest

from activation.segments import SegmentError, build_profile_fields
from activation.segments.export import export_format, export_segment, read_export, write_export
from activation.segments.membership import refresh_segment
from tests.activation.segments.conftest import AS_OF, build_warehouse
from warehouse.connection import connect
from warehouse.segment_config import SegmentConfig

EVERYONE_SEEN = {"field": "last_seen", "op": "is not null"}  # p1, p2, p4, p5


def segment(channel: str | None = "email", where: dict = EVERYONE_SEEN, **settings) -> SegmentConfig:
    return SegmentConfig.model_validate(
        {"name": "seen", "purpose": "marketing", "channel": channel, "where": where, **settings}
    )


@pytest.fixture
def warehouse():
    con = connect(":memory:")
    build_warehouse(con)
    refresh_segment(con, segment(), now=datetime(2026, 6, 1, 6))
    yield con
    con.close()


def ids(con, export) -> list[str]:
    return read_export(con, export)["profile_id"].to_list()


def test_consent_of_the_purpose_and_channel_is_applied(warehouse):
    by_email = export_segment(warehouse, segment("email"))
    # p2 opted out of email marketing, p5 of everything.
    assert ids(warehouse, by_email) == ["p1", "p4"]
    assert (by_email.members, by_email.exported, by_email.left_out_for_consent) == (4, 2, 2)
    by_sms = export_segment(warehouse, segment("sms"))
    assert ids(warehouse, by_sms) == ["p1", "p2", "p4"]
    assert (by_sms.exported, by_sms.left_out_for_consent) == (3, 1)
    # Without a channel only opt-outs of every channel apply.
    assert ids(warehouse, export_segment(warehouse, segment(None))) == ["p1", "p2", "p4"]


def test_opt_in_required_exports_only_recorded_opt_ins(warehouse):
    warehouse.execute(
        "INSERT INTO profiles.consent VALUES ('p4', 'email', 'marketing', 'opted_in', 'web', 'W4', ?)",
        [AS_OF],
    )
    result = export_segment(warehouse, segment("email"), opt_in_required=True)
    assert ids(warehouse, result) == ["p4"]
    assert result.left_out_for_consent == 3


def test_without_a_consent_table_nobody_is_left_out():
    with connect(":memory:") as con:
        build_warehouse(con, consent=False)
        refresh_segment(con, segment())
        result = export_segment(con, segment())
        assert len(ids(con, result)) == result.exported == 4 and result.left_out_for_consent == 0


def test_the_columns_are_the_segments_in_order_with_features_scores_and_offer(warehouse):
    columns = [
        "first_name",
        "churn_risk_1_99",
        "best_offer",
        "revenue_365d",
        "last_seen",
        "sources",
        "profile_id",
    ]
    frame = read_export(warehouse, export_segment(warehouse, segment("sms", columns=columns)))
    assert frame.columns == columns
    first = frame.row(0, named=True)
    assert first == {
        "first_name": "Jane",
        "churn_risk_1_99": 80,
        "best_offer": "Outdoor Gear",
        "revenue_365d": 900.0,
        "last_seen": datetime(2026, 5, 27),
        "sources": ["web_events", "crm_contacts"],
        "profile_id": "p1",
    }
    # p4 has no offer: an empty value, not a dropped row.
    assert frame.filter(pl.col("profile_id") == "p4")["best_offer"].to_list() == [None]


def test_export_reads_membership_not_a_fresh_evaluation(warehouse):
    # The data changes after the run: the export still holds the run's members...
    warehouse.execute("UPDATE profiles.unified_profile SET last_seen = NULL WHERE profile_id = 'p1'")
    build_profile_fields(warehouse)
    assert ids(warehouse, export_segment(warehouse, segment("sms"))) == ["p1", "p2", "p4"]
    # ...and a changed definition is flagged, while the members stay those of the last run.
    changed = segment("sms", where={"field": "country", "op": "=", "value": "Canada"})
    result = export_segment(warehouse, changed)
    assert result.definition_changed and not export_segment(warehouse, segment("sms")).definition_changed
    assert ids(warehouse, result) == ["p1", "p2", "p4"]


def test_a_segment_never_built_or_a_bad_column_is_an_error(warehouse):
    never = SegmentConfig.model_validate({"name": "never", "purpose": "marketing", "where": EVERYONE_SEEN})
    with pytest.raises(SegmentError, match="segment 'never' has not been built yet: run `kindred run`"):
        export_segment(warehouse, never)
    with pytest.raises(SegmentError, match="segment 'seen', column 'phone_number': unknown field"):
        export_segment(warehouse, segment(columns=["profile_id", "phone_number"]))


def test_formats_by_extension_and_lists_written_as_text_in_csv(warehouse, tmp_path):
    assert export_format(".CSV") == "csv" and export_format(".parquet") == "parquet"
    with pytest.raises(ValueError, match=r"must end in .csv or .parquet"):
        export_format(".xlsx")
    with_list = segment("sms", columns=["profile_id", "sources", "last_seen"])
    write_export(warehouse, export_segment(warehouse, with_list, fmt="csv"), tmp_path / "a.csv")
    csv = pl.read_csv(tmp_path / "a.csv", try_parse_dates=True)
    assert csv.row(0) == ("p1", "web_events; crm_contacts", datetime(2026, 5, 27))
    write_export(warehouse, export_segment(warehouse, with_list, fmt="parquet"), tmp_path / "a.parquet")
    parquet = pl.read_parquet(tmp_path / "a.parquet")
    assert parquet.row(0) == ("p1", ["web_events", "crm_contacts"], datetime(2026, 5, 27))
    assert parquet.height == csv.height == 3
