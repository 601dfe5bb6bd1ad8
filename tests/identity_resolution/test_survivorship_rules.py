"""Survivorship rules: each rule with the case that shows why it matters, the address kept whole,
empty and invalid values left out, and the provenance of every surviving value.

Each test stages one person's records, puts them all in one profile (survivorship runs after
matching, whatever it decided) and reads the golden record and its provenance back.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from identity_resolution.records import collect_contact_values
from identity_resolution.survivorship import golden_records
from tests.identity_resolution.conftest import ts, write_staging
from warehouse.connection import connect
from warehouse.identity_config import AttributeSurvivorship, SurvivorshipConfig

RESOLVED_AT = dt.datetime(2025, 6, 1)


def person(source: str, record_id: str, updated: str, **attributes) -> dict:
    """One CRM-style record of the same person."""
    return dict(source=source, record_id=record_id, loyalty_id="L-42", updated_at=ts(updated), **attributes)


def golden(rows: list[dict], settings: SurvivorshipConfig | None = None) -> tuple[dict, pl.DataFrame]:
    """The golden record of the one profile `rows` make, and its provenance by attribute."""
    con = connect(":memory:")
    write_staging(con, "people", rows)
    xref = con.sql("SELECT DISTINCT source, record_id, 'p1' AS profile_id FROM staging.people").pl()
    result = golden_records(con, xref, collect_contact_values(con), updated_at=RESOLVED_AT, settings=settings)
    con.close()
    assert result.profiles.height == 1
    return result.profiles.row(0, named=True), result.provenance


def provenance_of(provenance: pl.DataFrame, attribute: str) -> dict:
    return provenance.filter(pl.col("attribute") == attribute).row(0, named=True)


def chain(**rules: list[str]) -> SurvivorshipConfig:
    return SurvivorshipConfig(attributes={a: AttributeSurvivorship(rules=r) for a, r in rules.items()})


def test_most_recent_follows_a_changed_job_title():
    rows = [
        person("crm", "1", "2023-01-01", first_name="Ann", job_title="Analyst"),
        person("crm", "2", "2024-06-01", first_name="Ann", job_title="Head of Data"),
        person("crm", "3", "2023-05-01", first_name="Ann", job_title="Analyst"),
    ]
    profile, provenance = golden(rows)
    # Two older records agree on the old title, yet the person was promoted: the newest wins.
    assert profile["job_title"] == "Head of Data"
    source = provenance_of(provenance, "job_title")
    assert (source["record_id"], source["observed_at"], source["rule"]) == (
        "2",
        dt.datetime(2024, 6, 1),
        "most_recent",
    )


def test_most_frequent_outvotes_a_recent_typo():
    rows = [
        person("crm", "1", "2023-01-01", first_name="Ann", last_name="Smith"),
        person("shop", "2", "2023-03-01", first_name="Ann", last_name="smith"),
        person("web", "3", "2024-06-01", first_name="Ann", last_name="Smiht"),
    ]
    profile, provenance = golden(rows)  # last_name defaults to most frequent, then most recent
    assert profile["last_name"].lower() == "smith"
    assert provenance_of(provenance, "last_name")["rule"] == "most_frequent"
    # The same records under most recent alone keep the typo: the case the rule exists for.
    recent, _ = golden(rows, chain(last_name=["most_recent"]))
    assert recent["last_name"] == "Smiht"


def test_source_priority_prefers_the_crm_then_its_newest_record():
    rows = [
        person("crm", "1", "2023-01-01", first_name="Robert", phone="+1 212 555 0101"),
        person("crm", "2", "2023-09-01", first_name="Robert", phone="+1 212 555 0102"),
        person("web", "3", "2024-06-01", first_name="Bobby", phone="+1 212 555 0199"),
    ]
    settings = SurvivorshipConfig(
        source_priority=["crm"],
        attributes={
            "first_name": AttributeSurvivorship(rules=["source_priority", "most_recent"]),
            "phone": AttributeSurvivorship(rules=["source_priority", "most_recent"]),
        },
    )
    profile, provenance = golden(rows, settings)
    # A name typed into a web form loses to the CRM's, however recent.
    assert profile["first_name"] == "Robert"
    assert provenance_of(provenance, "first_name")["rule"] == "source_priority"
    # Two CRM phones: the chain's second rule breaks the tie, and provenance says so.
    assert profile["phone"] == "+12125550102"
    assert (provenance_of(provenance, "phone")["record_id"], provenance_of(provenance, "phone")["rule"]) == (
        "2",
        "most_recent",
    )
    # Without the priority the web's newer values would win.
    recent, _ = golden(rows, chain(first_name=["most_recent"], phone=["most_recent"]))
    assert (recent["first_name"], recent["phone"]) == ("Bobby", "+12125550199")


def test_an_attribute_can_have_its_own_source_order():
    rows = [
        person("crm", "1", "2024-01-01", first_name="Ann", company="Acme Corp"),
        person("billing", "2", "2023-01-01", first_name="Ann", company="ACME Corporation Ltd"),
    ]
    settings = SurvivorshipConfig(
        source_priority=["crm", "billing"],
        attributes={"company": AttributeSurvivorship(rules=["source_priority"], source_priority=["billing"])},
    )
    profile, _ = golden(rows, settings)
    assert profile["company"] == "ACME Corporation Ltd"


def test_most_complete_keeps_the_full_name_over_an_initial():
    rows = [
        person("crm", "1", "2023-01-01", full_name="John Quincy Adams"),
        person("web", "2", "2024-06-01", full_name="J. Adams"),
    ]
    profile, provenance = golden(rows, chain(full_name=["most_complete", "most_recent"]))
    assert profile["full_name"] == "John Quincy Adams"
    assert provenance_of(provenance, "full_name")["rule"] == "most_complete"


def test_the_address_survives_whole_from_one_record():
    rows = [
        person(
            "crm",
            "1",
            "2023-01-01",
            address_line1="12 Main St",
            city="Boston",
            state="MA",
            postcode="02110",
            country="US",
        ),
        # Moved: the new address has no postcode yet. Taking each part's newest value would
        # give "5 Oak Ave, Chicago, 02110", an address nobody lives at.
        person("crm", "2", "2024-06-01", address_line1="5 Oak Ave", city="Chicago", state="IL"),
    ]
    profile, provenance = golden(rows, chain(address=["most_recent"]))
    assert (profile["address_line1"], profile["city"], profile["state"], profile["postcode"]) == (
        "5 Oak Ave",
        "Chicago",
        "IL",
        None,
    )
    assert profile["country"] is None
    parts = provenance.filter(pl.col("attribute").is_in(["address_line1", "city", "state"]))
    assert parts["record_id"].unique().to_list() == ["2"]
    assert parts["rule"].unique().to_list() == ["most_recent"]


def test_a_full_address_beats_a_newer_city_alone_by_default():
    rows = [
        person("crm", "1", "2023-01-01", address_line1="12 Main St", city="Boston", postcode="02110"),
        person("web", "2", "2024-06-01", city="Cambridge"),  # a geo-IP guess, no street
    ]
    profile, provenance = golden(rows)
    assert (profile["address_line1"], profile["city"], profile["postcode"]) == (
        "12 Main St",
        "Boston",
        "02110",
    )
    assert provenance_of(provenance, "city")["rule"] == "most_complete"


def test_empty_placeholder_and_invalid_values_never_survive():
    rows = [
        person(
            "crm",
            "1",
            "2022-01-01",
            first_name="Ann",
            last_name="Lee",
            email="ann.lee@example.org",
            phone="(415) 555-0123",
            date_of_birth="1985-04-12",
            job_title="Engineer",
        ),
        person(
            "web",
            "2",
            "2024-06-01",
            first_name="12345",  # no letter: not a name
            last_name="N/A",
            email="ann.lee@",  # does not validate
            phone="12",  # does not parse
            date_of_birth="2999-01-01",  # in the future
            job_title="unknown",
        ),
        person(
            "shop",
            "3",
            "2024-07-01",
            email="test@example.com",
            phone="000-000-0000",
            date_of_birth="1850-03-02",  # before 1900
            job_title="   ",
        ),
        person("shop", "4", "2024-08-01", date_of_birth="01/01/1900"),  # the CRM "unknown" date
    ]
    profile, provenance = golden(rows, chain(**{a: ["most_recent"] for a in ("first_name", "last_name")}))
    assert (profile["first_name"], profile["last_name"]) == ("Ann", "Lee")
    assert (profile["email"], profile["phone"]) == ("ann.lee@example.org", "+14155550123")
    assert (profile["date_of_birth"], profile["job_title"]) == ("1985-04-12", "Engineer")
    assert set(provenance.filter(pl.col("attribute") != "loyalty_id")["record_id"]) == {"1"}


def test_a_profile_with_only_invalid_values_has_none():
    profile, provenance = golden(
        [person("web", "1", "2024-01-01", email="nobody", date_of_birth="2999-12-31")]
    )
    assert (profile["email"], profile["date_of_birth"]) == (None, None)
    assert set(provenance["attribute"]) == {"loyalty_id"}


def test_dates_of_birth_survive_in_iso_form_and_agree_across_formats():
    rows = [
        person("crm", "1", "2023-01-01", date_of_birth="04/12/1985"),
        person("shop", "2", "2023-02-01", date_of_birth="1985-04-12"),
        person("web", "3", "2024-06-01", date_of_birth="1985-04-21"),  # a typo, newest
    ]
    profile, provenance = golden(rows)
    # 04/12/1985 (month first by default) and 1985-04-12 are one date: two records against one.
    assert profile["date_of_birth"] == "1985-04-12"
    assert provenance_of(provenance, "date_of_birth")["rule"] == "most_frequent"


def test_provenance_has_one_row_per_surviving_value_and_says_when_only_one_existed():
    rows = [
        person("crm", "1", "2023-01-01", first_name="Ann", email="ann@example.org"),
        person("crm", "2", "2024-01-01", first_name="Ann"),
    ]
    profile, provenance = golden(rows)
    assert provenance.columns == [
        "profile_id",
        "attribute",
        "value",
        "source",
        "record_id",
        "observed_at",
        "rule",
    ]
    assert provenance.select("profile_id", "attribute").is_unique().all()
    assert provenance["profile_id"].unique().to_list() == [profile["profile_id"]]
    email = provenance_of(provenance, "email")
    assert (email["value"], email["record_id"], email["rule"]) == ("ann@example.org", "1", "only_value")
    # Both records say "Ann": the newest is the source, and no rule had to choose between values.
    first = provenance_of(provenance, "first_name")
    assert (first["record_id"], first["rule"]) == ("2", "only_value")
    for attribute, value in provenance.select("attribute", "value").iter_rows():
        assert profile[attribute] == value


def test_equal_candidates_fall_to_a_repeatable_tie_break():
    rows = [
        person("crm", "b", "2024-01-01", company="Beta"),
        person("crm", "a", "2024-01-01", company="Alpha"),
    ]
    settings = SurvivorshipConfig(
        source_priority=["crm"], attributes={"company": AttributeSurvivorship(rules=["source_priority"])}
    )
    first, provenance = golden(rows, settings)
    again, _ = golden(list(reversed(rows)), settings)
    # Same source, same time: the rule cannot choose, and the result must not depend on row order.
    assert first["company"] == again["company"]
    assert provenance_of(provenance, "company")["rule"] == "tie_break"


def test_most_frequent_counts_records_not_rows():
    rows = [
        # One record loaded three times (three staging rows) against two records that agree.
        person("crm", "1", "2023-01-01", last_name="Smyth"),
        person("crm", "1", "2023-02-01", last_name="Smyth"),
        person("crm", "1", "2023-03-01", last_name="Smyth"),
        person("shop", "2", "2022-01-01", last_name="Smith"),
        person("web", "3", "2022-02-01", last_name="Smith"),
    ]
    profile, provenance = golden(rows)
    assert profile["last_name"] == "Smith"
    assert provenance_of(provenance, "last_name")["rule"] == "most_frequent"


def test_provenance_keeps_the_exact_time_and_record_of_the_value():
    rows = [
        person("crm", "1", "2019-03-04 05:06:07.891011", job_title="Analyst"),
        person("web", "2", "2024-06-01 12:34:56.789012", job_title="Head of Data"),
    ]
    _, provenance = golden(rows)
    title = provenance_of(provenance, "job_title")
    assert (title["source"], title["record_id"], title["observed_at"]) == (
        "web",
        "2",
        dt.datetime(2024, 6, 1, 12, 34, 56, 789012),
    )
