"""Each model trains, registers in MLflow, scores and writes the scores tables; the gate and thin data."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import polars as pl
import pytest

from feature_store.definitions import CHURN_RISK, LEAD_SCORE
from feature_store.vocabulary import FeatureService
from models import churn_risk, lead_score, next_best_offer, registry
from models.binary_model import score_population
from models.model_input import MissingFeatureError
from models.score_tables import write_predictions
from tests.models.conftest import prepare_home
from tests.models.synthetic import END, build_shop
from warehouse.connection import connect, read_table, row_count

HORIZON = 60


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory, mlflow_template):
    """All three models trained once on the synthetic shop, in a KINDRED_HOME of their own."""
    home = prepare_home(tmp_path_factory.mktemp("trained_home"), mlflow_template)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KINDRED_HOME", str(home))
        con = connect(":memory:")
        build_shop(con)
        runs = {
            "churn_risk": churn_risk.train_and_score(con, horizon_days=HORIZON),
            "lead_score": lead_score.train_and_score(con, horizon_days=HORIZON),
            "next_best_offer": next_best_offer.train_and_score(con, horizon_days=HORIZON, top_k=2),
        }
    return con, runs, home


@pytest.fixture
def trained(trained_once, monkeypatch):
    """The trained models, with KINDRED_HOME pointing at their registry for this test."""
    monkeypatch.setenv("KINDRED_HOME", str(trained_once[2]))
    return trained_once


def test_each_model_trains_registers_and_scores(trained):
    con, runs, home = trained
    for name, run in runs.items():
        assert run.skipped is None, f"{name}: {run.skipped}"
        assert run.as_of == END
        assert (run.version, run.promoted, run.scored_with) == ("1", True, "1")
        assert run.n_train > run.n_holdout > 0
        assert run.n_scored > 0
        assert registry.champion(name).version == "1"
        assert (home / "mlartifacts" / name).is_dir()
    assert (home / "mlflow.db").is_file()
    assert registry.tracking_uri() == f"sqlite:///{home / 'mlflow.db'}"


def test_planted_signal_beats_the_baselines(trained):
    _, runs, _ = trained
    churn, lead, offers = runs["churn_risk"], runs["lead_score"], runs["next_best_offer"]
    assert set(churn.metrics) == {"roc_auc", "pr_auc", "log_loss", "brier"}
    assert set(churn.baseline_metrics) == {"roc_auc", "pr_auc"}  # recency is a rank, not a probability
    assert churn.classic == "BG/NBD" and set(churn.classic_figures) == set(churn.metrics)
    assert churn.metrics["roc_auc"] > 0.9
    for run in (churn, lead):
        for figure in run.figures.values():
            assert figure.lower <= figure.value <= figure.upper
        assert run.n_holdout_positive == int(run.n_holdout_positive) > 0
        assert run.decision.promote and run.decision.comparison("baseline").beaten
    assert lead.baseline == "conversion rate of the lead source" and set(lead.baseline_metrics) == set(
        lead.metrics
    )
    assert lead.metrics["roc_auc"] > lead.baseline_metrics["roc_auc"]
    assert lead.metrics["brier"] < 0.25
    assert set(offers.metrics) == {"hr_at_1", "hr_at_2", "recall_at_2", "mrr_at_2"}
    assert offers.metrics["hr_at_2"] >= 0.9


def test_predictions_hold_calibrated_scores_and_reasons(trained):
    con, runs, _ = trained
    predictions = read_table(con, "scores.predictions")
    for name, service in (("churn_risk", CHURN_RISK), ("lead_score", LEAD_SCORE)):
        rows = predictions.filter(pl.col("model") == name)
        assert rows.height == runs[name].n_scored
        assert rows["profile_id"].n_unique() == rows.height
        assert rows["model_version"].unique().to_list() == ["1"]
        assert rows["as_of"].unique().to_list() == [END]
        assert rows["score"].is_between(0, 1).all()
        assert rows["score_1_99"].is_between(1, 99).all()
        for factors in rows["top_factors"].head(20):
            items = json.loads(factors)
            assert 0 < len(items) <= 5
            assert {item["feature"] for item in items} <= set(service.features)
            strengths = [abs(item["contribution"]) for item in items]
            assert strengths == sorted(strengths, reverse=True)


def test_offers_are_ranked_per_person(trained):
    con, runs, _ = trained
    offers = read_table(con, "scores.offers")
    assert offers["profile_id"].n_unique() == runs["next_best_offer"].n_scored
    ranks = offers.group_by("profile_id").agg(pl.col("rank").sort(), pl.col("score").sort_by("rank"))
    for rank, score in ranks.select("rank", "score").iter_rows():
        assert rank == list(range(1, len(rank) + 1)) and len(rank) <= 2
        assert score == sorted(score, reverse=True)


def test_metrics_sit_next_to_their_baselines(trained):
    con, _, _ = trained
    metrics = read_table(con, "scores.model_metrics")
    assert set(metrics["model"]) == {"churn_risk", "lead_score", "next_best_offer"}
    roc = metrics.filter(pl.col("metric") == "roc_auc")
    assert roc.height == 2 and roc["baseline_value"].is_not_null().all()
    assert metrics["baseline"].is_not_null().all() and (metrics["n_holdout"] > 0).all()


def test_scoring_fails_loudly_when_the_service_lacks_a_feature(trained):
    con, _, _ = trained
    lacking = FeatureService("churn_risk", tuple(f for f in CHURN_RISK.features if f != "tenure_days"))
    with pytest.raises(MissingFeatureError, match="tenure_days"):
        score_population(
            con, dataclasses.replace(churn_risk.SPEC, service=lacking), END, horizon_days=HORIZON
        )


def test_a_worse_model_does_not_move_the_champion(kindred_home):
    con = connect(":memory:")
    build_shop(con, leads=0)
    first = churn_risk.train_and_score(con, horizon_days=HORIZON)
    # No split can satisfy min_child_samples: a constant model, ROC-AUC 0.5.
    worse = churn_risk.train_and_score(con, horizon_days=HORIZON, lgbm_params={"min_child_samples": 10**6})
    assert first.promoted and first.version == "1"
    assert worse.version == "2" and not worse.promoted
    assert worse.metrics["roc_auc"] == pytest.approx(0.5)
    assert registry.champion("churn_risk").version == "1"
    assert worse.scored_with == "1"
    assert read_table(con, "scores.predictions")["model_version"].unique().to_list() == ["1"]


def test_writing_one_models_predictions_keeps_the_others():
    con = connect(":memory:")

    def rows(model: str, n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "profile_id": [f"p{i}" for i in range(n)],
                "model": model,
                "model_version": "1",
                "as_of": END,
                "score": 0.5,
                "score_1_99": 50,
                "top_factors": "[]",
                "scored_at": END,
            }
        )

    write_predictions(con, "lead_score", rows("lead_score", 3))
    write_predictions(con, "churn_risk", rows("churn_risk", 2))
    write_predictions(con, "churn_risk", rows("churn_risk", 4))
    counts = dict(con.sql("SELECT model, count(*) FROM scores.predictions GROUP BY model").fetchall())
    assert counts == {"lead_score": 3, "churn_risk": 4}
    with pytest.raises(ValueError, match="lead_score"):
        write_predictions(con, "lead_score", rows("churn_risk", 1))


def test_thin_data_is_skipped_with_a_reason():
    empty = connect(":memory:")
    assert "no timestamped data" in churn_risk.train_and_score(empty).skipped
    assert row_count(empty, "scores.predictions") == 0  # the tables exist for readers, empty

    shop_only = connect(":memory:")
    build_shop(shop_only, customers=30, leads=0)
    assert lead_score.train_and_score(shop_only).skipped.startswith("no leads")

    crm_only = connect(":memory:")
    build_shop(crm_only, customers=0, leads=30)
    assert churn_risk.train_and_score(crm_only).skipped.startswith("no orders")
    assert next_best_offer.train_and_score(crm_only).skipped.startswith("no offers")

    few = connect(":memory:")
    build_shop(few, customers=0, leads=6)
    assert "too few labels" in lead_score.train_and_score(few, horizon_days=HORIZON).skipped

    short = connect(":memory:")
    build_shop(short, customers=30, leads=0)
    assert churn_risk.train_and_score(short, horizon_days=400).skipped.startswith("not enough history")
    assert registry.champion("churn_risk") is None  # nothing was registered for skipped runs
    assert registry.champion("lead_score") is None


def test_the_offer_field_is_checked():
    con = connect(":memory:")
    with pytest.raises(ValueError, match="offer_field"):
        next_best_offer.train_and_score(con, offer_field="amount", as_of=datetime(2024, 1, 1))


def test_scores_from_stored_features_and_compiled_trees_equal_the_computed_ones(trained, monkeypatch):
    """Scoring that reads the run's `features.profile_features` (and ranks offers with compiled
    trees) writes the scores the training run wrote by computing every feature from staging."""
    from feature_store.materialise import materialise_profile_features, stored_features_fresh
    from models import compiled_trees
    from models.next_best_offer import score_offers

    con, _, _ = trained
    before = {
        "predictions": read_table(con, "scores.predictions").sort("model", "profile_id"),
        "offers": read_table(con, "scores.offers").sort("profile_id", "rank"),
    }
    materialise_profile_features(con, END)
    assert stored_features_fresh(con, END)
    monkeypatch.setattr(compiled_trees, "COMPILE_ABOVE", 0)
    for spec in (lead_score.SPEC, churn_risk.spec()):
        score_population(con, spec, END, horizon_days=HORIZON)
    score_offers(con, END, offer_field="product_category", top_k=2)
    after = {
        "predictions": read_table(con, "scores.predictions").sort("model", "profile_id"),
        "offers": read_table(con, "scores.offers").sort("profile_id", "rank"),
    }
    for table, keys in (
        ("predictions", ["profile_id", "model"]),
        ("offers", ["profile_id", "rank", "offer_id"]),
    ):
        assert after[table].height == before[table].height > 0
        assert after[table].select(keys).equals(before[table].select(keys)), table
        difference = (after[table]["score"] - before[table]["score"]).abs().max()
        assert difference < 1e-12, f"{table}: scores differ by {difference}"
