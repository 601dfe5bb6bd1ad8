"""Each deterministic rule, and the guard that keeps a switchboard from merging a company."""

import json

import polars as pl

from identity_resolution.deterministic import (
    ContactGuard,
    contact_links,
    deterministic_links,
    guarded_values,
    identify_call_links,
    same_id_namespace_links,
    without_guarded_values,
)
from identity_resolution.normalise import normalise_people
from identity_resolution.records import person_records
from tests.identity_resolution.conftest import EVENTS, ts, write_staging


def records(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if "id_namespace" not in frame.columns:
        frame = frame.with_columns(pl.col("source").alias("id_namespace"))
    return normalise_people(frame)


def pairs(links: pl.DataFrame) -> set[tuple[str, str]]:
    return {
        (f"{a}/{b}", f"{c}/{d}")
        for a, b, c, d in links.select("source_l", "record_id_l", "source_r", "record_id_r").iter_rows()
    }


def test_identify_call_links_anonymous_visitor_to_user(warehouse):
    links = identify_call_links(warehouse, person_records(warehouse))
    assert pairs(links) == {("web/anon-1", "web/u-1")}
    assert links["rule"].to_list() == ["identify_call"]
    assert json.loads(links["explanation"][0]) == {"field": "anonymous_id", "identify_events": 1}


def test_identify_call_leaves_a_shared_device_unlinked(warehouse):
    shared = [
        *EVENTS,
        dict(
            person="Y",
            source="web",
            message_id="m9",
            type="identify",
            anonymous_id="anon-1",
            user_id="u-2",
            timestamp=ts("2024-04-05 12:00"),
        ),
    ]
    write_staging(warehouse, "events", shared)
    assert identify_call_links(warehouse, person_records(warehouse)).height == 0
    assert identify_call_links(warehouse, person_records(warehouse), max_users_per_device=2).height == 2


def test_same_id_namespace_links_across_sources_only():
    recs = records(
        [
            dict(source="web", record_id="u-1", id_namespace="account"),
            dict(source="shop", record_id="u-1", id_namespace="account"),
            dict(source="crm", record_id="u-1", id_namespace="crm"),
        ]
    )
    assert pairs(same_id_namespace_links(recs)) == {("shop/u-1", "web/u-1")}


def test_email_rule_matches_normalised_values():
    recs = records(
        [
            dict(source="crm", record_id="1", first_name="Ann", email=" ANN@example.com"),
            dict(source="shop", record_id="9", first_name="Ann", email="ann@example.com"),
            dict(source="shop", record_id="8", first_name="Ann", email="ann@example.org"),
        ]
    )
    links = contact_links(recs, "email_norm", "email", ContactGuard())
    assert pairs(links) == {("crm/1", "shop/9")}
    assert links["match_probability"].to_list() == [1.0]


def test_phone_rule_matches_format_variants():
    recs = records(
        [
            dict(source="crm", record_id="1", first_name="Bob", phone="(415) 555-0101"),
            dict(source="shop", record_id="2", first_name="Robert", phone="+1 415 555 0101"),
            dict(source="shop", record_id="3", phone="415.555.0101"),  # no name: joins the only one
        ]
    )
    links = contact_links(recs, "phone_norm", "phone", ContactGuard())
    # Every pair that agrees on the person is a link (not a star): each was checked on its own.
    assert pairs(links) == {("crm/1", "shop/2"), ("crm/1", "shop/3"), ("shop/2", "shop/3")}


def test_switchboard_guard_stops_a_company_phone_merging_colleagues():
    colleagues = ["Alice", "Omar", "Li", "Maria", "Tom"]
    recs = records(
        [
            dict(source="crm", record_id=f"L{i}", first_name=name, phone="(212) 555-0000")
            for i, name in enumerate(colleagues)
        ]
        + [
            dict(source="crm", record_id="C1", first_name="Bob", phone="212 555 0101"),
            dict(source="shop", record_id="S1", first_name="Bob", phone="2125550101"),
        ]
    )
    guarded = guarded_values(recs, "phone_norm", ContactGuard())
    assert guarded["value"].to_list() == ["+12125550000"]
    assert guarded["n_first_names"].to_list() == [5]
    links = contact_links(recs, "phone_norm", "phone", ContactGuard())
    assert pairs(links) == {("crm/C1", "shop/S1")}
    # With a looser guard the switchboard would have linked two colleagues with the same name only.
    loose = contact_links(recs, "phone_norm", "phone", ContactGuard(max_first_names=10))
    assert ("crm/L0", "crm/L1") not in pairs(loose)


def test_shared_landline_keeps_household_members_apart():
    recs = records(
        [
            dict(source="crm", record_id="1", first_name="Ann", last_name="Lee", phone="415 555 0123"),
            dict(source="shop", record_id="2", first_name="Ann", last_name="Lee", phone="4155550123"),
            dict(source="shop", record_id="3", first_name="David", last_name="Lee", phone="4155550123"),
            dict(source="shop", record_id="4", phone="4155550123"),  # two names on the line: stays out
        ]
    )
    assert pairs(contact_links(recs, "phone_norm", "phone", ContactGuard())) == {("crm/1", "shop/2")}


def test_loyalty_id_rule():
    recs = records(
        [
            dict(source="store", record_id="s1", loyalty_id="loy 0042"),
            dict(source="store", record_id="s2", loyalty_id="LOY-0042"),
            dict(source="crm", record_id="c1", loyalty_id="LOY0043"),
        ]
    )
    links = contact_links(recs, "loyalty_id_norm", "loyalty_id", ContactGuard())
    assert pairs(links) == {("store/s1", "store/s2")}
    assert links["rule"].to_list() == ["loyalty_id"]


def test_deterministic_links_on_the_small_company(warehouse):
    links = deterministic_links(warehouse, person_records(warehouse))
    by_rule = dict(links.group_by("rule").len().iter_rows())
    assert by_rule == {"identify_call": 1, "same_id_namespace": 1, "email": 4, "phone": 3, "loyalty_id": 1}
    # No link touches the Acme leads (they only share the switchboard).
    acme = {f"crm/L{i}" for i in range(2, 7)}
    assert not any(a in acme or b in acme for a, b in pairs(links))


def test_guarded_values_are_blanked_for_the_probabilistic_model():
    recs = records(
        [
            dict(
                source="crm",
                record_id=f"L{i}",
                first_name=name,
                phone="(212) 555-0000",
                email=f"{name}@acme.com",
            )
            for i, name in enumerate(["Alice", "Omar", "Li", "Maria"])
        ]
        + [dict(source="crm", record_id="C1", first_name="Bob", phone="212 555 0101")]
    )
    masked = without_guarded_values(recs, ContactGuard())
    assert masked.filter(pl.col("record_id") == "L0")["phone_norm"][0] is None
    assert masked.filter(pl.col("record_id") == "C1")["phone_norm"][0] == "+12125550101"
    assert masked["email_norm"].null_count() == 1  # only Bob has no email; the others are personal
