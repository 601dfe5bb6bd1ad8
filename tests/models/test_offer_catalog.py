"""Next best offer with an offer catalog: eligibility as of the run, consent per offer channel, an
offer that is not a product ranked next to products, and a whole run that never sees the future."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from models import next_best_offer
from models.offer_catalog import (
    BOUGHT_RECENTLY,
    ENDED,
    INACTIVE,
    NOT_STARTED,
    TAKEN_BEFORE,
    eligible_offers,
    offer_rules,
    write_catalog,
)
from tests.feature_store.staging_frames import write_staging
from tests.models.conftest import prepare_home
from tests.models.synthetic import build_shop
from tests.models.test_no_future_labels import _past_only
from warehouse.connection import connect, read_table
from warehouse.offer_config import OfferConfig

AS_OF = datetime(2024, 6, 1)
FAST = {"n_estimators": 60}


def _offer(offer_id: str, **settings) -> OfferConfig:
    return OfferConfig.model_validate({"id": offer_id, "name": offer_id.title(), **settings})


def _pairs(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"profile_id": pl.String, "offer_id": pl.String}, orient="row")


def _excluded(con, catalog: list[OfferConfig], pairs: pl.DataFrame, as_of: datetime = AS_OF) -> dict:
    write_catalog(con, catalog, ["email"])
    return {(p, o): why for p, o, why in offer_rules(con, pairs, as_of).iter_rows()}


def _order(record_id: str, category: str, at: datetime) -> dict:
    return {"record_id": record_id, "ordered_at": at, "amount": 20.0, "product_category": category}


def test_a_paused_offer_is_offered_to_nobody():
    # Out of stock: the offer stays in the catalog (and its history in the model) but reaches no one.
    con = connect(":memory:")
    write_staging(con, orders=[_order("ann", "Tents", datetime(2024, 1, 1))])
    catalog = [
        _offer("tents", covers={"categories": ["Tents"]}, active=False),
        _offer("bags", covers={"categories": ["Bags"]}),
    ]
    assert _excluded(con, catalog, _pairs(("ann", "tents"), ("ann", "bags"), ("ann", "gone"))) == {
        ("ann", "tents"): INACTIVE,
        ("ann", "bags"): None,
        ("ann", "gone"): INACTIVE,  # no longer in the catalog
    }


def test_the_offer_window_is_read_on_the_run_as_of_day():
    # A spring sale is offered from its first day through its last, on the day the run predicts from.
    con = connect(":memory:")
    write_staging(con, orders=[_order("ann", "A", datetime(2024, 1, 1))])
    catalog = [
        _offer("later", covers={"categories": ["A"]}, starts=date(2024, 6, 2)),
        _offer("starts_today", covers={"categories": ["A"]}, starts=date(2024, 6, 1)),
        _offer("ends_today", covers={"categories": ["A"]}, ends=date(2024, 6, 1)),
        _offer("over", covers={"categories": ["A"]}, ends=date(2024, 5, 31)),
    ]
    pairs = _pairs(*(("ann", o.id) for o in catalog))
    assert _excluded(con, catalog, pairs) == {
        ("ann", "later"): NOT_STARTED,
        ("ann", "starts_today"): None,
        ("ann", "ends_today"): None,
        ("ann", "over"): ENDED,
    }
    # The same catalog a day later: the offer that ended yesterday is gone, the next one has begun.
    later = _excluded(con, catalog, pairs, AS_OF + timedelta(days=1))
    assert (later[("ann", "ends_today")], later[("ann", "later")]) == (ENDED, None)


def test_not_bought_within_days_counts_only_purchases_before_as_of():
    # Someone who bought boots last week should not be sent a boots offer; someone who bought them two
    # months ago may be; a purchase after as_of is the future and must not decide anything.
    con = connect(":memory:")
    write_staging(
        con,
        orders=[
            _order("recent", "Boots", AS_OF - timedelta(days=7)),
            _order("edge", "Boots", AS_OF - timedelta(days=30, seconds=1)),
            _order("old", "Boots", AS_OF - timedelta(days=60)),
            _order("future", "Boots", AS_OF + timedelta(days=1)),
        ],
    )
    catalog = [_offer("boots", covers={"categories": ["Boots"]}, eligibility={"not_bought_within_days": 30})]
    pairs = _pairs(*((p, "boots") for p in ("recent", "edge", "old", "future")))
    assert _excluded(con, catalog, pairs) == {
        ("recent", "boots"): BOUGHT_RECENTLY,
        ("edge", "boots"): None,
        ("old", "boots"): None,
        ("future", "boots"): None,
    }


def test_a_programme_joined_once_is_not_offered_again():
    # A loyalty programme is joined once: the join event of two years ago rules the person out for good.
    con = connect(":memory:")
    joined = {
        "record_id": "member",
        "type": "track",
        "event": "loyalty_programme-joined",
        "timestamp": datetime(2022, 5, 1),
    }
    write_staging(
        con, events=[{**joined, "message_id": "m1"}], orders=[_order("other", "A", datetime(2024, 1, 1))]
    )
    catalog = [
        _offer("loyalty", taken={"event": "Loyalty Programme Joined"}, eligibility={"once_per_person": True})
    ]
    assert _excluded(con, catalog, _pairs(("member", "loyalty"), ("other", "loyalty"))) == {
        ("member", "loyalty"): TAKEN_BEFORE,
        ("other", "loyalty"): None,
    }


def test_each_offer_goes_only_to_people_consented_on_one_of_its_channels():
    # Opted out of email but not SMS: the SMS offer still reaches them, the email-only one does not.
    con = connect(":memory:")
    write_staging(con, orders=[_order(p, "A", datetime(2024, 1, 1)) for p in ("all", "no_email", "none")])
    con.execute(
        "CREATE TABLE profiles.consent (profile_id VARCHAR, channel VARCHAR, purpose VARCHAR, status VARCHAR, "
        "source VARCHAR, record_id VARCHAR, recorded_at TIMESTAMP)"
    )
    at = datetime(2024, 1, 1)
    con.executemany(
        "INSERT INTO profiles.consent VALUES (?, ?, 'marketing', 'opted_out', 'prefs', ?, ?)",
        [("no_email", "email", "no_email", at), ("none", "email", "none", at), ("none", "sms", "none", at)],
    )
    write_catalog(
        con,
        [
            _offer("by_email", covers={"categories": ["A"]}),
            _offer("by_sms", covers={"categories": ["A"]}, channels=["email", "sms"]),
        ],
        ["email"],
    )
    pairs = _pairs(*((p, o) for p in ("all", "no_email", "none") for o in ("by_email", "by_sms")))
    kept, left_out, unreachable = eligible_offers(con, pairs, as_of=AS_OF, consent=None)
    assert kept.rows() == [("all", "by_email"), ("all", "by_sms"), ("no_email", "by_sms")]
    assert (left_out, unreachable) == ({"no consented channel": 3}, 1)


def _add_care_plans(con) -> set[str]:
    """Care plans bought right after orders: often by a fifth of the customers, rarely by the rest.

    Returns:
        The customers who take plans often.
    """
    careful = {f"c{i}" for i in range(0, 240, 5)}
    con.register("_careful", pl.DataFrame({"record_id": sorted(careful)}).to_arrow())
    con.execute(
        """INSERT INTO staging.events (source, message_id, type, event, record_id, timestamp, properties)
        SELECT 'web', 'plan-' || o.order_id, 'track', 'Care Plan Purchased', o.record_id,
               o.ordered_at + INTERVAL 1 MINUTE, '{"revenue": 19.99}'
        FROM staging.orders o
        WHERE hash(o.order_id) % 100 < CASE WHEN o.record_id IN (SELECT record_id FROM _careful) THEN 60 ELSE 3 END"""
    )
    con.execute(
        """INSERT INTO identity.record_xref (source, record_id, profile_id)
        SELECT DISTINCT 'web', record_id, record_id FROM staging.events e
        WHERE NOT EXISTS (SELECT 1 FROM identity.record_xref x WHERE x.source = 'web' AND x.record_id = e.record_id)"""
    )
    con.unregister("_careful")
    return careful


CATALOG = [
    _offer("books", covers={"categories": ["books"]}),
    _offer("garden_and_kitchen", covers={"categories": ["garden", "kitchen"]}),
    _offer(
        "toys",
        covers={"product_ids": ["toys-0", "toys-1", "toys-2"]},
        eligibility={"not_bought_within_days": 30},
    ),
    _offer("outdoor", covers={"categories": ["outdoor"]}, active=False),
    _offer("summer", covers={"categories": ["outdoor"]}, ends=date(2024, 5, 31)),
    # Sold per order (a plan covers one purchase): not offered again within a week of the last one.
    _offer("care_plan", taken={"event": "Care Plan Purchased"}, eligibility={"not_bought_within_days": 7}),
]


@pytest.fixture(scope="module")
def catalog_runs(tmp_path_factory, mlflow_template):
    """Next best offer with the catalog, run once on the whole warehouse and once on its past only."""
    con = connect(":memory:")
    build_shop(con, seed=5, with_leads=False)
    careful = _add_care_plans(con)
    past = _past_only(con, AS_OF)
    runs = {}
    for name, warehouse in (("with_future", con), ("past_only", past)):
        home = prepare_home(tmp_path_factory.mktemp(name), mlflow_template)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("KINDRED_HOME", str(home))
            runs[name] = next_best_offer.train_and_score(
                warehouse, as_of=AS_OF, horizon_days=45, top_k=3, lgbm_params=FAST, catalog=CATALOG
            )
    return con, past, runs, careful


def test_next_best_offer_with_a_catalog_is_the_same_with_or_without_the_future(catalog_runs):
    con, past, runs, _ = catalog_runs
    with_future, past_only = runs["with_future"], runs["past_only"]
    assert with_future.skipped is None
    assert with_future.n_scored > 0
    assert (with_future.metrics, with_future.n_train, with_future.n_scored) == (
        past_only.metrics,
        past_only.n_train,
        past_only.n_scored,
    )

    def offers(c):
        return (
            read_table(c, "scores.offers")
            .select("profile_id", "rank", "offer_id", "score")
            .sort("profile_id", "rank")
        )

    assert offers(con).equals(offers(past))


def test_offers_are_catalog_ids_and_only_eligible_ones(catalog_runs):
    con, _, runs, _ = catalog_runs
    offers = read_table(con, "scores.offers")
    assert set(offers["offer_id"]) <= {o.id for o in CATALOG}
    # Paused, and ended the day before as_of: never offered, however likely to be bought.
    assert not set(offers["offer_id"]) & {"outdoor", "summer"}
    left_out = runs["with_future"].offers_left_out
    assert left_out[INACTIVE] == left_out[ENDED] == offers["profile_id"].n_unique()
    assert left_out[BOUGHT_RECENTLY] > 0
    assert offers.group_by("profile_id").len()["len"].max() == 3
    toys_last_month = set(
        con.sql(
            "SELECT record_id FROM staging.orders WHERE product_id LIKE 'toys-%' AND ordered_at >= ? AND ordered_at < ?",
            params=[AS_OF - timedelta(days=30), AS_OF],
        ).pl()["record_id"]
    )
    assert toys_last_month
    assert not set(offers.filter(pl.col("offer_id") == "toys")["profile_id"]) & toys_last_month
    assert read_table(con, "scores.offer_catalog")["offer_id"].to_list() == [o.id for o in CATALOG]


def test_a_care_plan_is_ranked_first_for_people_who_take_plans(catalog_runs):
    con, _, _, careful = catalog_runs
    offers = read_table(con, "scores.offers")
    took_plan_lately = set(
        con.sql(
            "SELECT record_id FROM staging.events WHERE event = 'Care Plan Purchased' AND timestamp >= ? AND timestamp < ?",
            params=[AS_OF - timedelta(days=7), AS_OF],
        ).pl()["record_id"]
    )
    first = offers.filter(pl.col("rank") == 1)
    plan_first = set(first.filter(pl.col("offer_id") == "care_plan")["profile_id"])
    # The model learnt who takes plans: among careful customers who may still be offered one (none in
    # the last week), it comes first far more often than for everyone else.
    eligible_careful = (careful - took_plan_lately) & set(first["profile_id"])
    others = set(first["profile_id"]) - careful - took_plan_lately
    assert plan_first, "the offer that is not a product is never ranked first"
    assert not plan_first & took_plan_lately  # not_bought_within_days: 7
    share = len(plan_first & eligible_careful) / max(len(eligible_careful), 1)
    assert share > 0.3
    assert share > 3 * len(plan_first & others) / max(len(others), 1), (
        share,
        len(plan_first & others),
        len(others),
    )


def test_a_catalog_nothing_ever_matched_skips_with_a_reason():
    # A catalog naming categories the orders never use (a typo, another language) must say so.
    con = connect(":memory:")
    write_staging(con, orders=[_order("ann", "Tents", datetime(2024, 1, 1))])
    run = next_best_offer.train_and_score(
        con, as_of=AS_OF, catalog=[_offer("tents", covers={"categories": ["Tent"]})]
    )
    assert run.skipped == (
        "no offers: no order line of a profile is covered by a catalog offer, and no catalog offer's event was seen"
    )
