"""Per-(person, offer) affinity features, offer candidates, and the browsable profile_features table."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from feature_store.definitions import FEATURE_SERVICES, FEATURE_VIEWS, NEXT_BEST_OFFER, ON_DEMAND_FEATURES
from feature_store.materialise import materialise_profile_features
from feature_store.offer_affinity import offer_candidates
from feature_store.point_in_time import training_set
from feature_store.sources import check_offer_field
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import connect, read_table

AS_OF = datetime(2024, 6, 1)


@pytest.fixture
def con():
    """Ann buys shoes and views hats; Bob and Cy buy socks; Dee only browses."""
    con = connect(":memory:")

    def order(rid: str, oid: str, when: datetime, amount: float, category: str) -> dict:
        return {
            "record_id": rid,
            "order_id": oid,
            "ordered_at": when,
            "amount": amount,
            "product_category": category,
            "product_id": f"{category}-1",
        }

    write_staging(
        con,
        orders=[
            order("ann", "a1", datetime(2024, 2, 1), 40.0, "shoes"),
            order("ann", "a2", datetime(2024, 5, 1), 40.0, "shoes"),
            order("ann", "a2", datetime(2024, 5, 1), 20.0, "socks"),
            order("ann", "a3", datetime(2024, 6, 5), 50.0, "hats"),  # after as_of
            order("bob", "b1", datetime(2024, 5, 10), 5.0, "socks"),
            order("cy", "c1", datetime(2024, 5, 11), 5.0, "socks"),
            order("cy", "c2", datetime(2022, 5, 11), 5.0, "gloves"),  # long ago: not a candidate
        ],
        events=[
            {
                "record_id": "ann",
                "message_id": "v1",
                "type": "track",
                "event": "Product Viewed",
                "timestamp": datetime(2024, 5, 25),
                "properties": {"category": "hats", "product_id": "hats-1"},
            },
            {"record_id": "dee", "message_id": "v2", "type": "page", "timestamp": datetime(2024, 5, 25)},
        ],
    )
    return con


def test_candidates_are_own_offers_plus_the_popular_ones(con):
    spine = pl.DataFrame({"profile_id": ["ann", "cy"], "as_of": [AS_OF, AS_OF]})
    pairs = offer_candidates(con, spine, offer_field="product_category", n_popular=1)
    by_person = {p: sorted(g["offer_id"].to_list()) for (p,), g in pairs.group_by("profile_id")}
    # socks is the most bought offer (3 buyers in 90 days); hats only viewed; gloves too old.
    assert by_person == {"ann": ["hats", "shoes", "socks"], "cy": ["socks"]}


def test_affinity_features_by_hand(con):
    spine = pl.DataFrame(
        {"profile_id": ["ann", "ann", "bob"], "offer_id": ["shoes", "hats", "socks"], "as_of": [AS_OF] * 3}
    )
    frame = training_set(con, spine, NEXT_BEST_OFFER)
    shoes, hats, socks = frame.rows(named=True)
    assert shoes["offer_purchases_90d"] == 1 and shoes["offer_purchases_365d"] == 2
    assert shoes["offer_spend_share_365d"] == pytest.approx(80.0 / 100.0)
    assert shoes["offer_days_since_last_purchase"] == pytest.approx(31.0)
    assert shoes["offer_views_90d"] == 0
    assert hats["offer_purchases_365d"] == 0  # the hats order is after as_of
    assert hats["offer_views_30d"] == 1
    assert hats["offer_days_since_last_view"] == pytest.approx(7.0)
    assert hats["offer_buyers_share_90d"] == pytest.approx(0.0)
    # 3 of the 3 people who ordered in the last 90 days bought socks.
    assert socks["offer_buyers_share_90d"] == pytest.approx(1.0)
    assert socks["offer_buyers_share_30d"] == pytest.approx(1.0)  # bob and cy; ann ordered 31 days before
    assert socks["orders_365d"] == 1


def test_offer_field_must_be_a_known_column():
    assert check_offer_field("product_id") == "product_id"
    with pytest.raises(ValueError, match="product_category"):
        check_offer_field("amount; DROP TABLE x")


def test_materialise_writes_one_row_per_profile(con):
    rows = materialise_profile_features(con, AS_OF)
    table = read_table(con, "features.profile_features")
    assert rows == table.height == 4
    assert sorted(table["profile_id"].to_list()) == ["ann", "bob", "cy", "dee"]
    assert table["as_of"].unique().to_list() == [AS_OF]
    ann = table.filter(pl.col("profile_id") == "ann").row(0, named=True)
    assert ann["orders_365d"] == 2 and ann["revenue_365d"] == pytest.approx(100.0)


def test_materialise_defaults_to_the_day_after_the_latest_fact(con):
    materialise_profile_features(con)
    assert read_table(con, "features.profile_features")["as_of"].unique().to_list() == [datetime(2024, 6, 6)]


def test_docs_describe_every_feature_and_service():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "features.md").read_text()
    documented = set(re.findall(r"`([a-z0-9_]+)`", docs))
    declared = {f.name for view in FEATURE_VIEWS for f in view.features} | {
        f.name for f in ON_DEMAND_FEATURES
    }
    assert declared - documented == set()
    assert set(FEATURE_SERVICES) - documented == set()
