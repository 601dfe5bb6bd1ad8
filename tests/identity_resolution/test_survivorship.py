"""The golden record takes the most recent non-empty value of each attribute."""

import datetime as dt

import polars as pl

from identity_resolution.records import person_records
from identity_resolution.resolve import resolve_identities
from tests.identity_resolution.conftest import ts, write_staging
from warehouse.connection import connect, read_table

PEOPLE = [
    dict(
        source="crm",
        record_id="1",
        first_name="Ann",
        last_name="Lee",
        email="ANN.LEE@old.com",
        phone="(415) 555-0123",
        city="Boston",
        loyalty_id="L-1",
        updated_at=ts("2024-01-01"),
    ),
    dict(
        source="crm",
        record_id="2",
        first_name="Ann",
        last_name="Lee",
        email="ann.lee@new.com",
        phone=None,
        city="Chicago",
        loyalty_id="L1",
        updated_at=ts("2024-06-01"),
    ),
]
EVENTS = [
    dict(
        source="web",
        message_id="e1",
        type="identify",
        user_id="u-1",
        email="first@x.com",
        city="Reno",
        timestamp=ts("2024-02-01"),
    ),
    dict(
        source="web",
        message_id="e2",
        type="identify",
        user_id="u-1",
        email="second@x.com",
        timestamp=ts("2024-03-01"),
    ),
    dict(source="web", message_id="e3", type="track", user_id="u-1", timestamp=ts("2024-04-01")),
]


def test_person_record_takes_latest_non_empty_value_per_attribute():
    con = connect(":memory:")
    write_staging(con, "events", EVENTS)
    record = person_records(con).row(0, named=True)
    assert record["email"] == "second@x.com"
    assert record["city"] == "Reno"  # the later rows had no city: empty never wins
    assert record["first_seen"] == dt.datetime(2024, 2, 1)
    assert record["last_seen"] == dt.datetime(2024, 4, 1)
    assert record["n_rows"] == 3


def test_unified_profile_and_contact_points():
    con = connect(":memory:")
    write_staging(con, "people", PEOPLE)
    summary = resolve_identities(con)
    assert summary.profiles == 1 and summary.links_by_rule["loyalty_id"] == 1
    profile = read_table(con, "profiles.unified_profile").row(0, named=True)
    assert profile["city"] == "Chicago"  # newest record
    assert profile["phone"] == "+14155550123"  # newest non-empty, normalised
    assert profile["email"] == "ann.lee@new.com"
    assert (profile["n_records"], profile["n_sources"], profile["sources"]) == (2, 1, ["crm"])
    assert (profile["first_seen"], profile["last_seen"]) == (dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1))
    points = read_table(con, "profiles.contact_points").sort("kind", "value")
    assert points.select("kind", "value", "record_id", "is_primary").rows() == [
        ("email", "ann.lee@new.com", "2", True),
        ("email", "ann.lee@old.com", "1", False),
        ("phone", "+14155550123", "1", True),
    ]
    assert points["profile_id"].n_unique() == 1 and points["profile_id"][0] == profile["profile_id"]


def test_contact_points_keep_every_email_a_record_had():
    con = connect(":memory:")
    write_staging(con, "events", EVENTS)
    resolve_identities(con)
    emails = read_table(con, "profiles.contact_points").filter(pl.col("kind") == "email")
    assert sorted(emails["value"]) == ["first@x.com", "second@x.com"]
    assert emails.filter(pl.col("is_primary"))["value"].to_list() == ["second@x.com"]
