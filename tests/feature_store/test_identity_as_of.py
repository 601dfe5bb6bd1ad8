"""Identity as of a cut-off: links count from the time of their evidence, not from today."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from feature_store.definitions import LEAD_SCORE
from feature_store.identity_as_of import PART_SEPARATOR, as_of_keys
from feature_store.point_in_time import training_set
from identity_resolution.resolve import resolve_identities
from models import lead_score
from models.consent_filter import may_profile
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import connect, read_table

LOGIN = datetime(2024, 3, 10)
BEFORE_LOGIN = datetime(2024, 2, 1)
AFTER_LOGIN = datetime(2024, 4, 1)


@pytest.fixture(scope="module")
def con():
    """A visitor browses anonymously in January; the same person is a CRM lead from 2 January;
    only a login on 10 March (an identify call with the lead's email) ties the browsing to the lead."""
    con = connect(":memory:")
    browsing = [
        {
            "source": "web",
            "record_id": "anon-1",
            "anonymous_id": "anon-1",
            "message_id": f"view-{day}",
            "type": "page",
            "timestamp": datetime(2024, 1, day),
        }
        for day in range(3, 8)
    ]
    login = {
        "source": "web",
        "record_id": "user-1",
        "anonymous_id": "anon-1",
        "user_id": "user-1",
        "message_id": "login",
        "type": "identify",
        "timestamp": LOGIN,
        "email": "Ann.Lee@example.com",
        "first_name": "Ann",
    }
    lead = {
        "record_id": "lead-1",
        "crm_object": "Lead",
        "created_at": datetime(2024, 1, 2),
        "email": "ann.lee@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "lead_source": "web",
    }
    write_staging(con, events=[*browsing, login], people=[lead])
    con.execute("DELETE FROM identity.record_xref")  # resolved from scratch below
    resolve_identities(con)
    return con


def test_links_carry_the_time_of_their_evidence(con):
    links = read_table(con, "identity.links")
    evidence = {
        (rule, left, right): at
        for rule, left, right, at in links.select(
            "rule", "record_id_l", "record_id_r", "evidence_at"
        ).iter_rows()
    }
    # The identify call, and the email shared only from the login on: both known from the login.
    assert evidence[("identify_call", "anon-1", "user-1")] == LOGIN
    assert evidence[("email", "lead-1", "user-1")] == LOGIN
    xref = read_table(con, "identity.record_xref")
    assert xref["profile_id"].n_unique() == 1  # today, one person


def test_browsing_linked_only_by_a_later_login_is_not_the_leads_before_it(con):
    profile = read_table(con, "identity.record_xref")["profile_id"][0]
    spine = pl.DataFrame({"profile_id": [profile, profile], "as_of": [BEFORE_LOGIN, AFTER_LOGIN]})
    features = training_set(con, spine, LEAD_SCORE)
    views = dict(zip(features["as_of"], features["page_views_90d"], strict=True))
    # Before the login, the lead was not known to be the visitor: none of the five page views.
    assert views[BEFORE_LOGIN] == 0
    assert views[AFTER_LOGIN] == 5


def test_the_browsing_is_its_own_person_before_the_login(con):
    profile = read_table(con, "identity.record_xref")["profile_id"][0]
    keys = as_of_keys(con, [BEFORE_LOGIN, AFTER_LOGIN])
    # Only the cut-off before the login splits the profile; the lead keeps the profile id
    # (its record came first), the browsing gets a key of its own.
    assert keys["as_of"].unique().to_list() == [BEFORE_LOGIN]
    assert set(keys["record_id"]) == {"anon-1", "user-1"}
    anon_key = keys.filter(pl.col("record_id") == "anon-1")["profile_id"][0]
    assert anon_key.startswith(profile + PART_SEPARATOR)
    spine = pl.DataFrame({"profile_id": [anon_key], "as_of": [BEFORE_LOGIN]})
    assert training_set(con, spine, LEAD_SCORE)["page_views_90d"].to_list() == [5]


def test_the_lead_population_is_keyed_by_the_person_as_known_then(con):
    profile = read_table(con, "identity.record_xref")["profile_id"][0]
    people = lead_score.population(con, [BEFORE_LOGIN, AFTER_LOGIN], 30)
    assert people.select("profile_id", "as_of").rows() == [(profile, BEFORE_LOGIN), (profile, AFTER_LOGIN)]


def test_a_warehouse_resolved_before_evidence_times_uses_todays_identity(con):
    old = connect(":memory:")
    for table in ("staging.events", "staging.people", "identity.record_xref", "identity.person_records"):
        old.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        old.register("rows", read_table(con, table).to_arrow())
        old.execute(f"CREATE TABLE {table} AS SELECT * FROM rows")
        old.unregister("rows")
    old.register("rows", read_table(con, "identity.links").drop("evidence_at").to_arrow())
    old.execute("CREATE TABLE identity.links AS SELECT * FROM rows")
    assert as_of_keys(old, [BEFORE_LOGIN]).height == 0


def test_an_objection_covers_every_part_of_the_person(con):
    profile = read_table(con, "identity.record_xref")["profile_id"][0]
    part = as_of_keys(con, [BEFORE_LOGIN])["profile_id"][0]
    con.execute(
        "CREATE OR REPLACE TABLE profiles.consent (profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, "
        "status VARCHAR, source VARCHAR, record_id VARCHAR, recorded_at TIMESTAMP)"
    )
    rows = pl.DataFrame({"profile_id": [profile, part, "someone-else"]})
    try:
        assert may_profile(con, rows, None)[0]["profile_id"].to_list() == [profile, part, "someone-else"]
        con.execute(
            "INSERT INTO profiles.consent VALUES (?, 'any', 'profiling', 'opted_out', 'prefs', 'lead-1', ?)",
            [profile, BEFORE_LOGIN],
        )
        kept, withheld = may_profile(con, rows, None)
        assert kept["profile_id"].to_list() == ["someone-else"]
        assert withheld == 2
    finally:
        con.execute("DROP TABLE profiles.consent")
