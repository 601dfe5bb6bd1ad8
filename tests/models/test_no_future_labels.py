"""A run at as_of learns and scores from the past only: label windows, and a whole run with the future cut."""

from __future__ import annotations

from datetime import datetime, timedelta

from models import churn_risk, lead_score, next_best_offer
from tests.feature_store.staging_frames import write_staging
from tests.models.conftest import prepare_home
from tests.models.synthetic import build_shop
from warehouse.connection import connect, read_table

T = datetime(2024, 3, 1)


def test_churn_label_window_is_as_of_to_as_of_plus_horizon():
    con = connect(":memory:")
    write_staging(
        con,
        orders=[
            {"record_id": "gone", "ordered_at": datetime(2024, 1, 5), "amount": 1.0},
            {"record_id": "gone", "ordered_at": T + timedelta(days=30), "amount": 1.0},  # just outside
            {"record_id": "stays", "ordered_at": datetime(2024, 1, 5), "amount": 1.0},
            {"record_id": "stays", "ordered_at": T + timedelta(days=30, seconds=-1), "amount": 1.0},
            {"record_id": "new", "ordered_at": T, "amount": 1.0},  # not a customer at T
        ],
    )
    labels = churn_risk.population(con, [T], 30)
    assert dict(labels.select("profile_id", "label").iter_rows()) == {"gone": 1, "stays": 0}


def test_lead_label_window_and_population():
    con = connect(":memory:")
    lead = {"crm_object": "Lead", "created_at": datetime(2024, 1, 1)}
    write_staging(
        con,
        people=[
            {**lead, "record_id": "in", "converted": True, "converted_at": T},
            {**lead, "record_id": "late", "converted": True, "converted_at": T + timedelta(days=30)},
            {**lead, "record_id": "before", "converted": True, "converted_at": T - timedelta(seconds=1)},
            {**lead, "record_id": "unknown", "converted": True},  # converted, no date
            {**lead, "record_id": "open"},
            {"record_id": "future", "crm_object": "Lead", "created_at": T},  # not created before T
            {"record_id": "contact", "crm_object": "Contact", "created_at": datetime(2024, 1, 1)},
        ],
    )
    labels = lead_score.population(con, [T], 30)
    assert dict(labels.select("profile_id", "label").iter_rows()) == {"in": 1, "late": 0, "open": 0}


def _past_only(con, cutoff: datetime):
    """A copy of the warehouse holding only what was known before `cutoff`."""
    past = connect(":memory:")
    for table, column in (
        ("orders", "ordered_at"),
        ("events", "timestamp"),
        ("cases", "opened_at"),
        ("people", "created_at"),
    ):
        past.register(
            "rows",
            con.sql(f"SELECT * FROM staging.{table} WHERE {column} < ?", params=[cutoff]).pl().to_arrow(),
        )
        past.execute(f"CREATE TABLE staging.{table} AS SELECT * FROM rows")
        past.unregister("rows")
    past.execute(
        "UPDATE staging.people SET converted = false, converted_at = NULL WHERE converted_at >= ?", [cutoff]
    )
    past.execute("UPDATE staging.cases SET closed_at = NULL WHERE closed_at >= ?", [cutoff])
    past.register("xref", read_table(con, "identity.record_xref").to_arrow())
    past.execute("CREATE TABLE identity.record_xref AS SELECT * FROM xref")
    return past


def test_a_run_is_the_same_with_or_without_the_future(tmp_path, monkeypatch, mlflow_template):
    con = connect(":memory:")
    build_shop(con, seed=5)
    as_of = datetime(2024, 4, 15)
    past = _past_only(con, as_of)
    runs = {}
    for name, warehouse in (("with_future", con), ("past_only", past)):
        monkeypatch.setenv("KINDRED_HOME", str(prepare_home(tmp_path / name, mlflow_template)))
        # Fewer trees keep the test quick; the comparison does not depend on the model's size.
        runs[name] = [
            model.train_and_score(warehouse, as_of=as_of, horizon_days=45, lgbm_params={"n_estimators": 100})
            for model in (churn_risk, lead_score, next_best_offer)
        ]
    for with_future, past_only in zip(runs["with_future"], runs["past_only"], strict=True):
        assert with_future.skipped is None
        assert (with_future.metrics, with_future.n_train, with_future.n_scored) == (
            past_only.metrics,
            past_only.n_train,
            past_only.n_scored,
        )

    def scores(c):
        return (
            read_table(c, "scores.predictions")
            .select("model", "profile_id", "score", "top_factors")
            .sort("model", "profile_id")
        )

    assert scores(con).equals(scores(past))
    assert set(scores(con)["model"]) == {"churn_risk", "lead_score"}
    assert scores(con)["score"].n_unique() > 1

    def offers(c):
        return (
            read_table(c, "scores.offers")
            .select("profile_id", "rank", "offer_id", "score")
            .sort("profile_id", "rank")
        )

    assert offers(con).height > 0
    assert offers(con).equals(offers(past))
