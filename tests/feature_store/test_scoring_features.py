"""Scoring reads profile features from the run's `features.profile_features` only when it is fresh,
and gets the values `training_set` computes from staging."""

from __future__ import annotations

import polars as pl
import pytest

from benchmarks.scoring_company import END, build_company
from feature_store.definitions import CHURN_RISK, LEAD_SCORE, NEXT_BEST_OFFER
from feature_store.materialise import (
    features_for_scoring,
    materialise_profile_features,
    stored_features_fresh,
)
from feature_store.offer_affinity import offer_candidates
from feature_store.point_in_time import training_set
from warehouse.connection import connect


@pytest.fixture(scope="module")
def company():
    """A 300-person company with leads, orders, events, cases and consent; features stored at END."""
    con = connect(":memory:")
    build_company(con, 300, seed=3)
    materialise_profile_features(con, END)
    return con


def _spine(con, n: int = 120) -> pl.DataFrame:
    # Not in table order, so the result must follow the spine's own order.
    ids = con.sql("SELECT profile_id FROM identity.record_xref GROUP BY ALL ORDER BY profile_id DESC").pl()
    return ids.head(n).with_columns(as_of=pl.lit(END).cast(pl.Datetime("us")))


def _assert_same(stored: pl.DataFrame, computed: pl.DataFrame) -> None:
    assert stored.columns == computed.columns and stored.height == computed.height > 0
    for column in stored.columns:
        a, b = stored[column], computed[column]
        if a.dtype.is_numeric() and b.dtype.is_numeric():
            both_null = a.is_null() & b.is_null()
            close = (
                (a.cast(pl.Float64) - b.cast(pl.Float64)).abs() <= 1e-9 * (1 + b.cast(pl.Float64).abs())
            ).fill_null(False)
            assert (both_null | close).all(), column
        else:
            assert a.equals(b), column


@pytest.mark.parametrize("service", [LEAD_SCORE, CHURN_RISK], ids=lambda s: s.name)
def test_profile_services_read_the_table_and_equal_training_set(company, service):
    spine = _spine(company)
    assert stored_features_fresh(company, END)
    _assert_same(features_for_scoring(company, spine, service), training_set(company, spine, service))


def test_offer_pairs_equal_training_set(company):
    pairs = offer_candidates(company, _spine(company), offer_field="product_category", n_popular=3)
    _assert_same(
        features_for_scoring(company, pairs, NEXT_BEST_OFFER), training_set(company, pairs, NEXT_BEST_OFFER)
    )


def test_the_table_is_read_and_people_it_lacks_are_computed(company):
    spine = _spine(company, 5)
    first, second = spine["profile_id"][0], spine["profile_id"][1]
    true_orders = training_set(company, spine, LEAD_SCORE)["orders_365d"].to_list()
    company.execute("UPDATE features.profile_features SET orders_365d = 999 WHERE profile_id = ?", [first])
    company.execute("DELETE FROM features.profile_features WHERE profile_id = ?", [second])
    try:
        orders = features_for_scoring(company, spine, LEAD_SCORE)["orders_365d"].to_list()
        assert orders == [999, *true_orders[1:]]
    finally:
        materialise_profile_features(company, END)


def test_a_changed_input_or_another_as_of_computes_instead(company):
    spine = _spine(company, 5)
    company.execute("UPDATE features.profile_features SET orders_365d = 999")
    try:
        assert not stored_features_fresh(company, END.replace(day=2))
        company.execute(
            "UPDATE staging.people SET job_title = 'CEO' WHERE record_id = ?", [spine["profile_id"][0]]
        )
        assert not stored_features_fresh(company, END)
        _assert_same(
            features_for_scoring(company, spine, LEAD_SCORE), training_set(company, spine, LEAD_SCORE)
        )
    finally:
        materialise_profile_features(company, END)


def test_a_table_built_with_other_feature_definitions_is_not_read(company, monkeypatch):
    from feature_store import materialise

    assert stored_features_fresh(company, END)
    monkeypatch.setattr(materialise, "_DEFINITIONS", materialise._DEFINITIONS + " changed")
    assert not stored_features_fresh(company, END)
