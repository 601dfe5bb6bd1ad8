"""Which consent row applies to a purpose and channel: the most recent covering one."""

from datetime import datetime

import pytest

from privacy.consent import (
    Use,
    is_permitted,
    permitted_condition,
    permitted_profiles,
    reachable_condition,
    status_sql,
)
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


def test_at_equal_times_the_opt_out_wins_with_its_own_source(con):
    con.executemany(
        "INSERT INTO profiles.consent VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("p5", "email", "marketing", "opted_in", "prefs", "P5", datetime(2024, 5, 1)),
            ("p5", "any", "marketing", "opted_out", "crm", "C5", datetime(2024, 5, 1)),
            ("p6", "email", "marketing", "opted_out", "crm", "C6", None),
            ("p6", "email", "marketing", "opted_in", "prefs", "P6", datetime(2020, 1, 1)),
        ],
    )
    assert not is_permitted(con, "p5", purpose="marketing", channel="email")
    sql, params = status_sql(con, purpose="marketing", channel="email")
    rows = {r[0]: r[1:] for r in con.sql(sql, params=params).fetchall()}
    assert rows["p5"] == ("opted_out", "crm", "C5", datetime(2024, 5, 1))
    # A row without a time is older than any dated one.
    assert rows["p6"] == ("opted_in", "prefs", "P6", datetime(2020, 1, 1))


@pytest.mark.parametrize(
    ("profile", "channels", "opt_in_channels", "expected"),
    [
        ("p4", ["sms"], [], False),
        ("p4", ["sms", "email"], [], True),
        ("p2", ["sms", "email"], [], False),  # do not contact at all
        ("nobody", ["email"], [], True),
        ("nobody", ["email"], ["email"], False),
        ("p1", ["sms", "email"], ["sms", "email"], True),  # p1's latest word is an opt-in to marketing
        ("p1", [], [], False),
    ],
)
def test_reachable_on_at_least_one_channel(con, profile, channels, opt_in_channels, expected):
    condition, params = reachable_condition(
        con, "candidate.profile_id", purpose="marketing", channels=channels, opt_in_channels=opt_in_channels
    )
    rows = con.sql(
        f"SELECT count(*) FROM (SELECT CAST(? AS VARCHAR) AS profile_id) AS candidate WHERE {condition}",
        params=[profile, *params],
    ).fetchall()
    assert (rows[0][0] == 1) is expected


def test_permitted_profiles_answers_several_questions_at_once(con):
    uses = {
        "email": Use("marketing", "email"),
        "profiling": Use("profiling", None),
        "email_opt_in": Use("marketing", "email", opt_in_required=True),
    }
    answers = permitted_profiles(con, ["p2", "p3", None, "p3", "p1"], uses)
    assert answers == {
        "p2": {"email": False, "profiling": False, "email_opt_in": False},
        "p3": {"email": True, "profiling": False, "email_opt_in": False},
        None: {"email": True, "profiling": True, "email_opt_in": False},
        "p1": {"email": True, "profiling": True, "email_opt_in": True},
    }
    assert permitted_profiles(con, [], uses) == {}
