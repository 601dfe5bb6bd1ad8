"""With an offer catalog, the offer features read catalog offers: covered order lines, taken events
and views of covered products, each under the catalog id."""

from datetime import datetime

import polars as pl

from feature_store.definitions import NEXT_BEST_OFFER
from feature_store.fact_sources import OFFER_ORDERS, OFFER_VIEWS
from feature_store.offer_affinity import offer_candidates
from feature_store.point_in_time import training_set
from feature_store.sources import CATALOG, source_sql
from models.offer_catalog import write_catalog
from tests.feature_store.staging_frames import write_staging
from warehouse.connection import connect
from warehouse.offer_config import OfferConfig

AS_OF = datetime(2024, 6, 1)


def _warehouse():
    con = connect(":memory:")
    write_staging(
        con,
        orders=[
            # One line, two offers: its product is in one, its category in the other.
            {
                "record_id": "ann",
                "order_id": "o1",
                "ordered_at": datetime(2024, 5, 1),
                "amount": 50.0,
                "product_id": "TENT-1",
                "product_category": "Camping",
            },
            {
                "record_id": "ann",
                "order_id": "o2",
                "ordered_at": datetime(2024, 5, 2),
                "amount": 9.0,
                "product_id": "MUG-1",
                "product_category": "Kitchen",
            },
        ],
        events=[
            {
                "record_id": "ann",
                "message_id": "e1",
                "type": "track",
                "event": "care_plan_purchased",
                "timestamp": datetime(2024, 5, 1, 0, 1),
                "properties": {"revenue": 19.99},
            },
            {
                "record_id": "bob",
                "message_id": "e2",
                "type": "track",
                "event": "Product Viewed",
                "timestamp": datetime(2024, 5, 20),
                "properties": {"product_id": "TENT-1", "category": "Camping"},
            },
        ],
    )
    write_catalog(
        con,
        [
            OfferConfig(id="tents", name="Tents", covers={"product_ids": ["TENT-1"]}),
            OfferConfig(id="camping", name="Camping", covers={"categories": ["Camping"]}),
            OfferConfig(id="care_plan", name="Care plan", taken={"event": "Care Plan Purchased"}),
        ],
        ["email"],
    )
    return con


def test_order_lines_and_taken_events_become_catalog_offer_facts():
    con = _warehouse()
    facts = con.sql(
        f"SELECT profile_id, offer_id, amount FROM ({source_sql(con, OFFER_ORDERS, CATALOG)})"
    ).pl()
    assert sorted(facts.iter_rows()) == [
        ("ann", "camping", 50.0),
        ("ann", "care_plan", 19.99),
        ("ann", "tents", 50.0),
    ]
    views = con.sql(f"SELECT profile_id, offer_id FROM ({source_sql(con, OFFER_VIEWS, CATALOG)})").pl()
    assert sorted(views.iter_rows()) == [("bob", "camping"), ("bob", "tents")]


def test_every_catalog_offer_is_a_candidate_with_its_features():
    con = _warehouse()
    spine = pl.DataFrame({"profile_id": ["ann", "bob"], "as_of": [AS_OF, AS_OF]})
    pairs = offer_candidates(con, spine, offer_field=CATALOG, n_popular=0)
    assert pairs.height == 6
    frame = training_set(con, pairs, NEXT_BEST_OFFER, offer_field=CATALOG)
    row = {r["offer_id"]: r for r in frame.filter(pl.col("profile_id") == "ann").iter_rows(named=True)}
    assert (row["care_plan"]["offer_purchases_90d"], row["tents"]["offer_purchases_90d"]) == (1, 1)
    bob = {
        r["offer_id"]: r["offer_views_30d"]
        for r in frame.filter(pl.col("profile_id") == "bob").iter_rows(named=True)
    }
    assert bob == {"tents": 1, "camping": 1, "care_plan": 0}
