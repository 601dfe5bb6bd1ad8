"""The champion gate against a real MLflow registry in the test's KINDRED_HOME."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models import registry
from models.estimator import MissingFeatureError, fit_pipeline, model_input
from models.promotion import challenge


@pytest.fixture
def champion_v1():
    """Version 1 of model `m`, champion, measured at ROC-AUC 0.8 on holdout `h1`."""
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"x": rng.normal(size=200)})
    y = (frame["x"].to_numpy() > 0).astype(int)
    x = model_input(frame, ["x"], [])
    pipeline = fit_pipeline(x, y, [], calibrate=False, params={"n_estimators": 5})
    version = registry.log_version(
        "m",
        pipeline,
        input_example=x.head(3),
        params={},
        metrics={"roc_auc": 0.8},
        tags={"holdout": "h1", "holdout_roc_auc": "0.8", "offer_field": "product_id"},
    )
    registry.promote("m", version)
    return version


def _never(model):
    raise AssertionError("the champion's logged figure should have been used")


def test_the_first_version_is_promoted():
    assert challenge("fresh", metric_name="roc_auc", metric=0.1, holdout="h1", evaluate=_never) == (
        True,
        "first version",
    )


def test_same_holdout_uses_the_logged_figure(champion_v1):
    assert challenge("m", metric_name="roc_auc", metric=0.79, holdout="h1", evaluate=_never)[0] is False
    assert challenge("m", metric_name="roc_auc", metric=0.8, holdout="h1", evaluate=_never)[0] is False
    assert challenge("m", metric_name="roc_auc", metric=0.81, holdout="h1", evaluate=_never)[0] is True


def test_another_holdout_scores_the_champion_on_it(champion_v1):
    seen = []

    def evaluate(model):
        seen.append(list(model.feature_names_in_))
        return 0.9

    promote, why = challenge("m", metric_name="roc_auc", metric=0.85, holdout="h2", evaluate=evaluate)
    assert (promote, seen) == (False, [["x"]])
    assert "0.9000" in why


def test_an_incomparable_champion_is_replaced(champion_v1):
    promote, why = challenge(
        "m",
        metric_name="roc_auc",
        metric=0.1,
        holdout="h1",
        evaluate=_never,
        must_match={"offer_field": "product_category"},
    )
    assert promote and "offer_field" in why

    def missing(model):
        raise MissingFeatureError("the frame lacks feature(s) ['x']")

    assert challenge("m", metric_name="roc_auc", metric=0.1, holdout="h2", evaluate=missing)[0] is True
