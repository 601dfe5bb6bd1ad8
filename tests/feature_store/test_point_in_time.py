"""Point-in-time features: hand-checked values, no future fact leaks, and thin inputs."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl
import pytest

from feature_store.definitions import CHURN_RISK, LEAD_SCORE, NEXT_BEST_OFFER, PROFILE_FEATURES
from feature_store.point_in_time import FeatureDefinitionError, latest_features, training_set
from feature_store.sources import default_as_of
from feature_store.vocabulary import FeatureService
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import connect

AS_OF = datetime(2024, 6, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """One person `ann` (two source records) with a little of everything, some of it after AS_OF."""
    con = connect(":memory:")
    write_staging(
        con,
        people=[
            {
                "record_id": "crm-1",
                "crm_object": "Lead",
                "created_at": datetime(2024, 1, 1),
                "lead_source": " Web ",
                "job_title": "VP of Sales",
                "company": "Acme",
            }
        ],
        orders=[
            {
                "record_id": "shop-1",
                "order_id": "o1",
                "ordered_at": datetime(2023, 5, 1),
                "amount": 100.0,
                "product_category": "shoes",
            },
            {
                "record_id": "shop-1",
                "order_id": "o2",
                "ordered_at": datetime(2024, 4, 1),
                "amount": 30.0,
                "product_category": "shoes",
            },
            {
                "record_id": "shop-1",
                "order_id": "o2",
                "ordered_at": datetime(2024, 4, 1),
                "amount": 20.0,
                "product_category": "socks",
            },
            {
                "record_id": "shop-1",
                "order_id": "o3",
                "ordered_at": datetime(2024, 5, 22),
                "amount": 10.0,
                "product_category": "hats",
            },
            # Exactly at as_of and after it: never part of AS_OF's features.
            {
                "record_id": "shop-1",
                "order_id": "o4",
                "ordered_at": AS_OF,
                "amount": 999.0,
                "product_category": "hats",
            },
            {
                "record_id": "shop-1",
                "order_id": "o5",
                "ordered_at": datetime(2024, 7, 1),
                "amount": 999.0,
                "product_category": "hats",
            },
        ],
        events=[
            {"record_id": "web-1", "message_id": "e1", "type": "page", "timestamp": datetime(2024, 5, 20)},
            {"record_id": "web-1", "message_id": "e2", "type": "page", "timestamp": datetime(2024, 4, 1)},
            {
                "record_id": "web-1",
                "message_id": "e3",
                "type": "track",
                "event": "Product Viewed",
                "timestamp": datetime(2024, 5, 30),
                "properties": {"category": "hats"},
            },
            {
                "record_id": "web-1",
                "message_id": "e4",
                "type": "track",
                "event": "email_opened",
                "timestamp": datetime(2024, 3, 15),
            },
            {
                "record_id": "web-1",
                "message_id": "e5",
                "type": "track",
                "event": "Email Link Clicked",
                "timestamp": datetime(2024, 3, 15, 0, 5),
            },
            {
                "record_id": "web-1",
                "message_id": "e6",
                "type": "track",
                "event": "Unsubscribed",
                "timestamp": datetime(2024, 6, 2),
            },
            {"record_id": "web-1", "message_id": "e7", "type": "page", "timestamp": datetime(2024, 6, 3)},
        ],
        cases=[
            {
                "record_id": "shop-1",
                "case_id": "k1",
                "opened_at": datetime(2024, 5, 1),
                "closed_at": datetime(2024, 6, 10),
            },
            {
                "record_id": "shop-1",
                "case_id": "k2",
                "opened_at": datetime(2023, 1, 1),
                "closed_at": datetime(2023, 1, 5),
            },
        ],
        profiles={"crm-1": "ann", "shop-1": "ann", "web-1": "ann"},
    )
    return con


def _row(frame: pl.DataFrame) -> dict:
    assert frame.height == 1
    return frame.row(0, named=True)


def test_hand_checked_profile_features(con):
    spine = pl.DataFrame({"profile_id": ["ann"], "as_of": [AS_OF]})
    row = _row(training_set(con, spine, PROFILE_FEATURES))
    assert row["orders_30d"] == 1  # o3
    assert row["orders_90d"] == 2  # o2 (two lines, one order) and o3
    assert row["orders_365d"] == 2  # o1 is 397 days before
    assert row["revenue_90d"] == pytest.approx(60.0)
    assert row["revenue_365d"] == pytest.approx(60.0)
    assert row["avg_order_value_365d"] == pytest.approx(30.0)
    assert row["days_since_last_order"] == pytest.approx(10.0)
    assert row["days_since_first_order"] == pytest.approx((AS_OF - datetime(2023, 5, 1)).days)
    assert row["distinct_categories_365d"] == 3
    assert row["page_views_30d"] == 1  # e1; e7 is after as_of
    assert row["page_views_90d"] == 2
    assert row["product_views_30d"] == 1
    assert row["email_opens_90d"] == 1  # "email_opened" spelled the tracker's way still counts
    assert row["email_clicks_90d"] == 1
    assert row["email_click_rate_90d"] == pytest.approx(1.0)
    assert row["unsubscribed"] is False  # the unsubscribe happened after as_of
    assert row["days_since_last_event"] == pytest.approx(2.0)
    assert row["cases_180d"] == 1
    assert row["cases_365d"] == 1
    assert row["open_cases"] == 1  # k1 closed after as_of, so it was open then
    assert row["days_since_last_case"] == pytest.approx(31.0)
    assert row["tenure_days"] == pytest.approx((AS_OF - datetime(2023, 1, 1)).days)
    assert row["lead_source"] == "web"
    assert row["title_seniority"] == "vp"
    assert row["has_company"] is True
    assert row["lead_age_days"] == pytest.approx((AS_OF - datetime(2024, 1, 1)).days)


def test_a_later_as_of_sees_the_later_facts(con):
    spine = pl.DataFrame({"profile_id": ["ann"], "as_of": [datetime(2024, 6, 4)]})
    row = _row(training_set(con, spine, CHURN_RISK))
    assert row["orders_30d"] == 2  # o3 and o4 (on 1 June)
    assert row["unsubscribed"] is True
    assert row["open_cases"] == 1


def test_no_fact_at_or_after_as_of_leaks(con):
    """Features with the future present equal features computed after deleting the future."""
    cutoffs = [datetime(2024, 3, 1), datetime(2024, 4, 1, 12), AS_OF, datetime(2024, 6, 2, 12)]
    spine = pl.DataFrame({"profile_id": ["ann"] * len(cutoffs), "as_of": cutoffs})
    with_future = training_set(con, spine, PROFILE_FEATURES)
    for i, cutoff in enumerate(cutoffs):
        past = connect(":memory:")
        for table, column in (
            ("orders", "ordered_at"),
            ("events", "timestamp"),
            ("cases", "opened_at"),
            ("people", "created_at"),
        ):
            rows = con.sql(f"SELECT * FROM staging.{table} WHERE {column} < ?", params=[cutoff]).pl()
            past.execute("CREATE SCHEMA IF NOT EXISTS staging")
            past.register("rows", rows.to_arrow())
            past.execute(f"CREATE TABLE staging.{table} AS SELECT * FROM rows")
            past.unregister("rows")
        # Closing dates are facts about the future too: a case closed later was open at the cut-off.
        past.execute("UPDATE staging.cases SET closed_at = NULL WHERE closed_at >= ?", [cutoff])
        xref = con.sql("SELECT * FROM identity.record_xref").pl()
        past.register("xref", xref.to_arrow())
        past.execute("CREATE TABLE identity.record_xref AS SELECT * FROM xref")
        only_past = training_set(past, spine.slice(i, 1), PROFILE_FEATURES)
        assert only_past.row(0) == with_future.row(i), f"a fact at or after {cutoff} leaked"


def test_spine_order_duplicates_and_labels_are_kept(con):
    spine = pl.DataFrame(
        {
            "profile_id": ["nobody", "ann", "ann", "ann"],
            "as_of": [date(2024, 6, 1), date(2024, 6, 1), date(2024, 5, 1), date(2024, 6, 1)],
            "label": [0, 1, 0, 1],
        }
    )
    frame = training_set(con, spine, CHURN_RISK)
    assert frame.columns == ["profile_id", "as_of", "label", *CHURN_RISK.features]
    assert frame["profile_id"].to_list() == ["nobody", "ann", "ann", "ann"]
    assert frame["label"].to_list() == [0, 1, 0, 1]
    assert frame["orders_90d"].to_list() == [0, 2, 1, 2]
    # Someone with no facts has zero counts and unknown recency, not zero recency.
    assert frame["days_since_last_order"][0] is None


def test_empty_or_missing_inputs_give_zeros_not_errors():
    con = connect(":memory:")  # no staging tables, no record_xref at all
    spine = pl.DataFrame({"profile_id": ["p"], "as_of": [AS_OF]})
    row = _row(training_set(con, spine, LEAD_SCORE))
    assert row["page_views_30d"] == 0
    assert row["lead_source"] is None
    assert default_as_of(con) is None
    assert latest_features(con, CHURN_RISK, AS_OF).height == 0


def test_default_as_of_is_midnight_after_the_latest_fact(con):
    assert default_as_of(con) == datetime(2024, 7, 2)


def test_a_service_naming_an_undeclared_feature_fails(con):
    spine = pl.DataFrame({"profile_id": ["ann"], "as_of": [AS_OF]})
    with pytest.raises(FeatureDefinitionError, match="no_such_feature"):
        training_set(con, spine, FeatureService("broken", ("orders_90d", "no_such_feature")))


def test_offer_features_need_an_offer_in_the_spine(con):
    spine = pl.DataFrame({"profile_id": ["ann"], "as_of": [AS_OF]})
    with pytest.raises(FeatureDefinitionError, match="offer_id"):
        training_set(con, spine, NEXT_BEST_OFFER)


def test_latest_features_describe_every_profile(con):
    frame = latest_features(con, CHURN_RISK, AS_OF)
    assert frame["profile_id"].to_list() == ["ann"]
    assert frame.columns[2:] == list(CHURN_RISK.features)
