"""Membership and its history: entries and exits once each, nothing on a quiet re-run, atomic writes."""

from datetime import datetime

import duckdb
import pytest

from activation.segments import SegmentError, build_profile_fields, load_catalog
from activation.segments.membership import (
    definition_hash,
    latest_evaluations,
    refresh_segment,
    retire_removed_segments,
    size_trend,
)
from tests.activation.segments.conftest import AS_OF, build_warehouse
from warehouse.connection import connect
from warehouse.segment_config import SegmentConfig

T1, T2, T3 = datetime(2026, 6, 1, 6), datetime(2026, 6, 2, 6), datetime(2026, 6, 3, 6)


@pytest.fixture
def warehouse():
    con = connect(":memory:")
    build_warehouse(con)
    yield con
    con.close()


def segment(name: str = "at_risk", threshold: float = 0.5) -> SegmentConfig:
    return SegmentConfig.model_validate(
        {
            "name": name,
            "purpose": "marketing",
            "where": {"field": "churn_risk", "op": ">=", "value": threshold},
        }
    )


def membership(con, name: str = "at_risk") -> dict[str, datetime]:
    return dict(
        con.execute(
            "SELECT profile_id, entered_at FROM segments.membership WHERE segment = ?", [name]
        ).fetchall()
    )


def history(con) -> list[tuple]:
    return con.sql(
        "SELECT segment, profile_id, change, changed_at, run_id FROM segments.membership_history "
        "ORDER BY changed_at, segment, change, profile_id"
    ).fetchall()


def set_churn(con, profile: str, score: float) -> None:
    """A new score, and the profile fields rebuilt as the next run would."""
    con.execute(
        "UPDATE scores.predictions SET score = ? WHERE profile_id = ? AND model = 'churn_risk' AND as_of = ?",
        [score, profile, AS_OF],
    )
    build_profile_fields(con)


def test_first_refresh_everyone_enters(warehouse):
    refresh = refresh_segment(warehouse, segment(), run_id="r1", now=T1)
    assert (refresh.size, refresh.previous_size, refresh.entered, refresh.exited) == (3, 0, 3, 0)
    assert refresh.as_of == AS_OF and "?" in refresh.sql and "0.5" not in refresh.sql
    assert membership(warehouse) == {"p1": T1, "p4": T1, "p5": T1}
    assert history(warehouse) == [("at_risk", p, "entered", T1, "r1") for p in ("p1", "p4", "p5")]
    assert warehouse.sql("SELECT DISTINCT as_of FROM segments.membership_history").fetchall() == [(AS_OF,)]


def test_a_quiet_rerun_adds_no_history_and_keeps_entry_times(warehouse):
    refresh_segment(warehouse, segment(), run_id="r1", now=T1)
    again = refresh_segment(warehouse, segment(), run_id="r2", now=T2)
    assert (again.size, again.previous_size, again.entered, again.exited) == (3, 3, 0, 0)
    assert membership(warehouse) == {"p1": T1, "p4": T1, "p5": T1}
    assert len(history(warehouse)) == 3
    assert size_trend(warehouse, "at_risk") == [3, 3]


def test_entries_and_exits_between_runs(warehouse):
    refresh_segment(warehouse, segment(), run_id="r1", now=T1)
    set_churn(warehouse, "p1", 0.1)  # p1 leaves
    set_churn(warehouse, "p2", 0.9)  # p2 joins
    refresh = refresh_segment(warehouse, segment(), run_id="r2", now=T2)
    assert (refresh.size, refresh.entered, refresh.exited) == (3, 1, 1)
    assert membership(warehouse) == {"p2": T2, "p4": T1, "p5": T1}
    assert history(warehouse)[3:] == [
        ("at_risk", "p2", "entered", T2, "r2"),
        ("at_risk", "p1", "exited", T2, "r2"),
    ]
    # p1 comes back: a new entry with a new entry time.
    set_churn(warehouse, "p1", 0.95)
    refresh_segment(warehouse, segment(), run_id="r3", now=T3)
    assert membership(warehouse)["p1"] == T3
    assert history(warehouse)[-1] == ("at_risk", "p1", "entered", T3, "r3")
    assert size_trend(warehouse, "at_risk") == [3, 3, 4]


def test_segments_are_kept_apart(warehouse):
    refresh_segment(warehouse, segment("at_risk", 0.5), now=T1)
    refresh_segment(warehouse, segment("very_risky", 0.75), now=T1)
    refresh_segment(warehouse, segment("at_risk", 0.5), now=T2)
    assert set(membership(warehouse, "very_risky")) == {"p1"}
    assert set(membership(warehouse, "at_risk")) == {"p1", "p4", "p5"}
    assert len(history(warehouse)) == 4


def test_a_segment_taken_out_of_the_config_is_retired(warehouse):
    refresh_segment(warehouse, segment("at_risk"), now=T1)
    refresh_segment(warehouse, segment("empty", 2.0), now=T1)
    assert retire_removed_segments(warehouse, ["other"], run_id="r9", now=T2) == {"at_risk": 3, "empty": 0}
    assert warehouse.sql("SELECT count(*) FROM segments.membership").fetchall()[0][0] == 0
    exits = [h for h in history(warehouse) if h[2] == "exited"]
    assert exits == [("at_risk", p, "exited", T2, "r9") for p in ("p1", "p4", "p5")]
    last = latest_evaluations(warehouse)
    assert last["at_risk"]["removed"] and last["at_risk"]["size"] == 0 and last["at_risk"]["exited"] == 3
    assert last["empty"]["removed"]
    # Nothing left to retire: a second pass writes nothing.
    assert retire_removed_segments(warehouse, ["other"], now=T3) == {}
    assert len(history(warehouse)) == 6


def test_a_segment_kept_in_the_config_is_not_retired(warehouse):
    refresh_segment(warehouse, segment("at_risk"), now=T1)
    assert retire_removed_segments(warehouse, ["at_risk"], now=T2) == {}
    assert len(membership(warehouse)) == 3


def test_a_failed_write_leaves_the_previous_membership(warehouse):
    refresh_segment(warehouse, segment(), run_id="r1", now=T1)
    set_churn(warehouse, "p1", 0.1)
    # The run log refuses the new row, after membership and history were written in the same
    # transaction: all of it must roll back.
    warehouse.execute("DROP TABLE segments.evaluations")
    warehouse.execute(
        "CREATE TABLE segments.evaluations (segment VARCHAR, run_id VARCHAR CHECK (run_id = 'r1'), "
        "evaluated_at TIMESTAMP, as_of TIMESTAMP, definition_hash VARCHAR, size BIGINT, entered BIGINT, "
        "exited BIGINT, removed BOOLEAN)"
    )
    with pytest.raises(duckdb.ConstraintException):
        refresh_segment(warehouse, segment(), run_id="r2", now=T2)
    assert membership(warehouse) == {"p1": T1, "p4": T1, "p5": T1}
    assert len(history(warehouse)) == 3


def test_a_definition_that_does_not_fit_writes_nothing(warehouse):
    bad = SegmentConfig.model_validate(
        {"name": "bad", "purpose": "marketing", "where": {"field": "churn_risk", "op": ">", "value": "high"}}
    )
    with pytest.raises(SegmentError, match="segment 'bad', field 'churn_risk'"):
        refresh_segment(warehouse, bad)
    assert warehouse.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'segments'"
    ).fetchall() == [("profile_fields",)]


def test_the_definition_hash_follows_the_where_only():
    a = segment("a", 0.5)
    assert definition_hash(a) == definition_hash(segment("b", 0.5))
    assert definition_hash(a) != definition_hash(segment("a", 0.6))
    assert len(definition_hash(a)) == 16


def test_refresh_reads_the_runs_as_of_for_relative_dates(warehouse):
    lapsed = SegmentConfig.model_validate(
        {
            "name": "lapsed",
            "purpose": "marketing",
            "where": {"field": "last_seen", "op": "<", "value": {"days_ago": 60}},
        }
    )
    assert refresh_segment(warehouse, lapsed, now=T1).size == 1  # p2, as of the features' as-of
    later = refresh_segment(warehouse, lapsed, as_of=datetime(2026, 9, 1), now=T2)
    assert (later.size, later.entered, later.as_of) == (4, 3, datetime(2026, 9, 1))
    assert load_catalog(warehouse).as_of == AS_OF
