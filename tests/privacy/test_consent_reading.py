"""Which consent row applies to a purpose and channel: the most recent covering one."""

from datetime import datetime

import pytest

from privacy.consent import is_permitted, permitted_condition
from warehouse.connection import connect


@pytest.fixture
def con():
    con = connect(":memory:")
    con.execute(
        "CREATE TABLE profiles.consent (profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, status VARCHAR, "
        "source VARCHAR, record_id VARCHAR, recorded_at TIMESTAMP)"
    )
    rows = [
        # p1 opted out of email marketing, then opted back in to all marketing later.
        ("p1", "email", "marketing", "opted_out", "crm", "L1", datetime(2024, 1, 1)),
        ("p1", "any", "marketing", "opted_in", "prefs", "P1", datetime(2024, 3, 1)),
        # p2 opted in to email marketing, then said "do not contact" for everything.
        ("p2", "email", "marketing", "opted_in", "crm", "C2", datetime(2024, 1, 1)),
        ("p2", "any", "any", "opted_out", "crm", "C2", datetime(2024, 2, 1)),
        # p3 objected to profiling only.
        ("p3", "any", "profiling", "opted_out", "support", "K3", datetime(2024, 1, 1)),
        # p4 opted out of SMS only.
        ("p4", "sms", "marketing", "opted_out", "web", "W4", datetime(2024, 1, 1)),
    ]
    con.executemany("INSERT INTO profiles.consent VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    yield con
    con.close()


@pytest.mark.parametrize(
    ("profile", "purpose", "channel", "expected"),
    [
        ("p1", "marketing", "email", True),
        ("p2", "marketing", "email", False),
        ("p2", "profiling", None, False),
        ("p3", "profiling", None, False),
        ("p3", "marketing", "email", True),
        ("p4", "marketing", "sms", False),
        ("p4", "marketing", "email", True),
        ("nobody", "marketing", "email", True),
    ],
)
def test_the_latest_covering_row_decides(con, profile, purpose, channel, expected):
    assert is_permitted(con, profile, purpose=purpose, channel=channel) is expected


def test_opt_in_required_admits_only_recorded_opt_ins(con):
    assert is_permitted(con, "p1", purpose="marketing", channel="email", opt_in_required=True)
    assert not is_permitted(con, "nobody", purpose="marketing", channel="email", opt_in_required=True)
    assert not is_permitted(con, "p2", purpose="marketing", channel="email", opt_in_required=True)


def test_without_a_consent_table_everyone_is_permitted_by_default():
    with connect(":memory:") as con:
        assert is_permitted(con, "p1", purpose="marketing", channel="email")
        assert not is_permitted(con, "p1", purpose="marketing", channel="email", opt_in_required=True)


@pytest.mark.parametrize("bad", ["Email", "email'; DROP TABLE x; --", "", "e mail"])
def test_channel_and_purpose_names_are_checked(con, bad):
    with pytest.raises(ValueError, match="consent"):
        permitted_condition(con, "profile_id", purpose="marketing", channel=bad)
    with pytest.raises(ValueError, match="consent"):
        permitted_condition(con, "profile_id", purpose=bad, channel="email")
