"""The files look like what real systems export: Segment JSON lines, Salesforce and POS CSVs."""

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from tests.demo.conftest import event_lines, read_csv

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SF_DATETIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$"
WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 10, 31, 23, 59, 59, 999000, tzinfo=UTC))
TRACKS = {
    "web": {"Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Care Plan Purchased"},
    "app": {"Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Care Plan Purchased"},
    "email": {"Email Delivered", "Email Opened", "Email Link Clicked", "Unsubscribed"},
}


@pytest.fixture(scope="module")
def events(demo):
    return {folder: event_lines(demo.out, folder) for folder in ("web", "app", "email")}


@pytest.mark.parametrize("folder", ["web", "app", "email"])
def test_every_line_is_a_valid_segment_call(events, folder):
    lines = events[folder]
    assert lines
    ids = set()
    for call in lines:
        assert call["type"] in {"track", "page", "screen", "identify"}
        assert call.get("userId") or call.get("anonymousId"), call
        assert ISO_Z.match(call["timestamp"]), call["timestamp"]
        moment = datetime.fromisoformat(call["timestamp"].replace("Z", "+00:00"))
        assert WINDOW[0] <= moment <= WINDOW[1]
        assert isinstance(call["context"], dict) and call["context"]
        if call["type"] == "track":
            assert call["event"] in TRACKS[folder]
            assert isinstance(call["properties"], dict)
        elif call["type"] in ("page", "screen"):
            assert call["name"]
        else:
            assert "@" in call["traits"]["email"]
        ids.add(call["messageId"])
    assert len(ids) == len(lines)
    stamps = [c["timestamp"] for c in lines]
    assert stamps[:1000] == sorted(stamps[:1000])


def test_web_visitors_are_anonymous_until_an_identify_call(events):
    web = events["web"]
    identified = {c["anonymousId"]: c["userId"] for c in web if c["type"] == "identify" and c.get("userId")}
    assert identified and all(u.startswith("acc_") for u in identified.values())
    anonymous_only = {c["anonymousId"] for c in web if c["userId"] is None} - set(identified)
    form_fills = {c["anonymousId"] for c in web if c["type"] == "identify" and c["userId"] is None}
    assert form_fills, "prospects identify through the contact form without an account"
    assert anonymous_only - form_fills, "some visitors never identify"
    # Before its first identify call a device sends no userId; afterwards it always does.
    first_identify = {}
    for call in web:
        if call["type"] == "identify" and call.get("userId"):
            first_identify.setdefault(call["anonymousId"], call["timestamp"])
    for call in web:
        start = first_identify.get(call["anonymousId"])
        if start is not None and call["timestamp"] > start:
            assert call["userId"] == identified[call["anonymousId"]]


def test_app_shares_account_ids_but_not_anonymous_ids_with_web(events):
    web_users = {c["userId"] for c in events["web"] if c.get("userId")}
    app_users = {c["userId"] for c in events["app"] if c.get("userId")}
    assert app_users and app_users & web_users
    assert not {c["anonymousId"] for c in events["app"]} & {c["anonymousId"] for c in events["web"]}
    assert {c["context"]["os"]["name"] for c in events["app"]} == {"iOS", "Android"}


def test_email_events_are_keyed_by_the_recipient_address(events):
    for call in events["email"]:
        assert call["userId"] == call["context"]["traits"]["email"]
        assert call["properties"]["campaign_id"].startswith("cmp_")
    clicks = [c for c in events["email"] if c["event"] == "Email Link Clicked"]
    assert clicks and all(c["properties"]["link_url"].startswith("https://") for c in clicks)


def test_order_completed_events_match_the_shop_order_export(demo, events):
    shop = read_csv(demo.out, "orders/shop_orders.csv").with_columns(pl.col("line_amount").cast(pl.Float64))
    totals = dict(shop.group_by("order_id").agg(pl.col("line_amount").sum()).iter_rows())
    completed = [c for c in events["web"] + events["app"] if c.get("event") == "Order Completed"]
    seen = {c["properties"]["order_id"]: c["properties"]["revenue"] for c in completed}
    assert set(seen) == set(totals)
    assert all(abs(seen[k] - totals[k]) < 0.01 for k in seen)
    by_order = {c["properties"]["order_id"]: c["userId"] for c in completed}
    accounts = dict(shop.select("order_id", "account_id").unique().iter_rows())
    assert by_order == accounts


def test_salesforce_exports_use_salesforce_ids_and_timestamps(demo):
    files = {"crm/leads.csv": "00Q", "crm/contacts.csv": "003", "crm/cases.csv": "500"}
    for relative, prefix in files.items():
        table = read_csv(demo.out, relative)
        assert table["Id"].str.contains(f"^{prefix}[0-9A-Za-z]{{15}}$").all(), relative
        assert table["Id"].n_unique() == table.height
        assert table["CreatedDate"].str.contains(SF_DATETIME).all(), relative
    leads = read_csv(demo.out, "crm/leads.csv")
    converted = leads.filter(pl.col("IsConverted") == "true")
    assert set(leads["IsConverted"].unique()) == {"true", "false"}
    assert converted["ConvertedContactId"].str.starts_with("003").all()
    assert converted["ConvertedDate"].str.contains(r"^\d{4}-\d\d-\d\d$").all()
    contacts = read_csv(demo.out, "crm/contacts.csv")
    assert set(converted["ConvertedContactId"]) <= set(contacts["Id"])
    cases = read_csv(demo.out, "crm/cases.csv")
    closed = cases.filter(pl.col("Status") == "Closed")
    assert closed["ClosedDate"].str.contains(SF_DATETIME).all()
    assert cases.filter(pl.col("Status") != "Closed")["ClosedDate"].null_count() > 0


def test_store_export_writes_day_first_local_times_and_no_email(demo):
    store = read_csv(demo.out, "orders/store_orders.csv")
    assert not [c for c in store.columns if "mail" in c.lower()]
    parsed = store["transaction_time"].str.strptime(pl.Datetime, "%d/%m/%Y %H:%M")
    assert parsed.null_count() == 0
    assert parsed.dt.hour().min() >= 9 and parsed.dt.hour().max() <= 20
    # Day-first: some days exceed 12, which a month-first reader would reject.
    assert (store["transaction_time"].str.slice(0, 2).cast(pl.Int32) > 12).any()
