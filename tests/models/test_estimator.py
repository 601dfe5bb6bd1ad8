"""The pipeline, its reasons (top_factors) and the scorer's refusal to invent missing features."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from models.estimator import LGBM_PARAMS, choose_trees, fit_pipeline
from models.explanations import contributions, top_factors
from models.model_input import MissingFeatureError, model_input, pipeline_features


@pytest.fixture(scope="module")
def planted():
    """`visits` decides the label; `channel` helps a little; `noise_*` does nothing."""
    rng = np.random.default_rng(3)
    n = 600
    visits = rng.integers(0, 20, n).astype(float)
    channel = rng.choice(["referral", "web", "paid"], n)
    frame = pl.DataFrame(
        {
            "visits": visits,
            "channel": channel,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("channel")).alias("channel")
    )
    label = ((visits > 10) | ((channel == "referral") & (rng.random(n) < 0.3))).astype(int)
    features = ["visits", "channel", "noise_a", "noise_b"]
    x = model_input(frame, features, ["channel"])
    pipeline = fit_pipeline(x, label, ["channel"], calibrate=True, groups=np.arange(n) % 50)
    return frame, features, x, pipeline


def test_probabilities_are_calibrated_and_ranked(planted):
    frame, features, x, pipeline = planted
    p = pipeline.predict_proba(x)[:, 1]
    assert ((p >= 0) & (p <= 1)).all()
    assert p[frame["visits"].to_numpy() > 12].mean() > 0.8
    assert p[frame["visits"].to_numpy() < 8].mean() < 0.4


def test_pipeline_remembers_its_features(planted):
    _, features, _, pipeline = planted
    assert pipeline_features(pipeline) == (features, ["channel"])


def test_top_factors_shape_and_order(planted):
    frame, features, x, pipeline = planted
    factors = [json.loads(f) for f in top_factors(pipeline, x.head(50), n=3)]
    assert len(factors) == 50
    for row, items in zip(frame.head(50).iter_rows(named=True), factors, strict=True):
        assert 0 < len(items) <= 3
        assert all(set(item) == {"feature", "value", "contribution"} for item in items)
        strengths = [abs(item["contribution"]) for item in items]
        assert strengths == sorted(strengths, reverse=True)
        for item in items:
            assert item["feature"] in features
            # The value is the input as the user knows it: the category's text, not its code.
            assert item["value"] == (
                round(row[item["feature"]], 4)
                if isinstance(row[item["feature"]], float)
                else row[item["feature"]]
            )
    assert sum(items[0]["feature"] == "visits" for items in factors) > 40


def test_contributions_add_up_to_the_raw_score(planted):
    _, _, x, pipeline = planted
    contrib = contributions(pipeline, x.head(20))
    assert list(contrib.columns) == list(x.columns)
    booster = pipeline.named_steps["classify"].calibrated_classifiers_[0].estimator
    raw = booster.predict_proba(pipeline.named_steps["prepare"].transform(x.head(20)), raw_score=True)
    bias = raw - contrib.sum(axis=1).to_numpy()
    assert np.allclose(bias, bias[0])


def test_scorer_fails_loudly_on_a_missing_feature(planted):
    frame, features, _, pipeline = planted
    with pytest.raises(MissingFeatureError, match="noise_b"):
        model_input(frame.drop("noise_b"), features, ["channel"])


def test_unseen_categories_are_scored_as_missing(planted):
    frame, features, _, pipeline = planted
    new = frame.head(3).with_columns(channel=pl.lit("carrier pigeon"))
    missing = frame.head(3).with_columns(channel=pl.lit(None, pl.String))
    p_new = pipeline.predict_proba(model_input(new, features, ["channel"]))[:, 1]
    p_missing = pipeline.predict_proba(model_input(missing, features, ["channel"]))[:, 1]
    assert np.allclose(p_new, p_missing)


def test_calibration_copes_with_positives_from_one_person():
    rng = np.random.default_rng(1)
    n = 200
    frame = pl.DataFrame({"x": rng.normal(size=n), "channel": rng.choice(["a", "b"], n)})
    y = np.zeros(n, dtype=int)
    y[:8] = 1
    groups = np.where(y == 1, 0, 1 + np.arange(n) % 20)  # every positive is the same person
    x = model_input(frame, ["x", "channel"], ["channel"])
    pipeline = fit_pipeline(x, y, ["channel"], calibrate=True, groups=groups)
    p = pipeline.predict_proba(x)[:, 1]
    assert ((p > 0) & (p < 1)).all()


def _planted_rows(n: int, seed: int = 4):
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({"x": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = (frame["x"].to_numpy() + 0.5 * rng.normal(size=n) > 0).astype(int)
    return model_input(frame, ["x", "noise"], []), y


def test_scoring_models_keep_the_fewest_trees_that_predict_as_well():
    x, y = _planted_rows(6000)
    rates = ({"learning_rate": 0.03}, {"learning_rate": 0.3})
    chosen = choose_trees(x, y, [], candidates=rates, loss_tolerance=0.01)
    slow = choose_trees(x, y, [], candidates=rates[:1])
    # One strong feature: the fast rate gets as low a log loss with far fewer trees.
    assert chosen["learning_rate"] == 0.3
    assert chosen["n_estimators"] < slow["n_estimators"] / 3
    assert choose_trees(x, y, [], candidates=rates, params={"learning_rate": 0.03}) == slow


def test_too_few_validation_rows_keep_the_given_settings():
    x, y = _planted_rows(1500)
    chosen = choose_trees(x, y, [], candidates=({"learning_rate": 0.3},), loss_tolerance=0.01)
    assert chosen["learning_rate"] == LGBM_PARAMS["learning_rate"]


def test_churn_keeps_one_learning_rate_and_lead_score_chooses_among_several():
    # The faster rates cost churn 0.006 ROC-AUC on the demo's holdout, below 1.01x BG/NBD.
    from models import churn_risk, lead_score
    from models.estimator import SCORING_CANDIDATES

    assert churn_risk.SPEC.tree_candidates == ()
    assert lead_score.SPEC.tree_candidates == SCORING_CANDIDATES
