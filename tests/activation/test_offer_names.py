"""Offer names from the catalog reach activation (grounding reads the latest offers view; the API
and MCP read scores.offers) without changing the columns of scores.offers."""

from datetime import datetime

from activation.scores_context import _offers
from activation.warehouse_inputs import input_views
from models.offer_catalog import write_catalog
from warehouse.connection import connect
from warehouse.offer_config import OfferConfig

AS_OF = datetime(2025, 6, 1)


def _scored(with_catalog: bool):
    con = connect(":memory:")
    con.execute("CREATE SCHEMA IF NOT EXISTS scores")
    con.execute(
        "CREATE TABLE scores.offers (profile_id VARCHAR, rank INTEGER, offer_id VARCHAR, score DOUBLE, "
        "model_version VARCHAR, as_of TIMESTAMP)"
    )
    con.executemany(
        "INSERT INTO scores.offers VALUES ('p1', ?, ?, ?, '3', ?)",
        [(1, "care_plan", 0.4, AS_OF), (2, "trail", 0.2, AS_OF)],
    )
    if with_catalog:
        catalog = [
            OfferConfig(id="trail", name="Trail ready", covers={"categories": ["Footwear"]}),
            OfferConfig(id="care_plan", name="Care Plan", taken={"event": "Care Plan Purchased"}),
        ]
        write_catalog(con, catalog, ["email"])
    return con


def test_grounding_and_the_api_show_catalog_names():
    con = _scored(with_catalog=True)
    with input_views(con):
        rows = con.sql(
            "SELECT offer_id, offer_name FROM activation_latest_offers ORDER BY position"
        ).fetchall()
    assert rows == [("care_plan", "Care Plan"), ("trail", "Trail ready")]
    offers, as_of = _offers(con, "p1", 5)
    assert [(o["offer"], o["name"]) for o in offers] == [("care_plan", "Care Plan"), ("trail", "Trail ready")]
    assert as_of == AS_OF


def test_without_a_catalog_offers_have_no_name():
    con = _scored(with_catalog=False)
    with input_views(con):
        rows = con.sql(
            "SELECT offer_id, offer_name FROM activation_latest_offers ORDER BY position"
        ).fetchall()
    assert rows == [("care_plan", None), ("trail", None)]
    assert [o["name"] for o in _offers(con, "p1", 5)[0]] == [None, None]
