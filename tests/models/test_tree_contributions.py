"""TreeSHAP once per pattern of split sides gives LightGBM's own `pred_contrib`, row for row."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from lightgbm import LGBMClassifier

from models import tree_contributions as module
from models.tree_contributions import tree_contributions


@pytest.fixture(scope="module")
def rows():
    """Numbers with missing values and exact zeros, and a categorical column with missing codes."""
    rng = np.random.default_rng(11)
    n = 3000
    visits = rng.integers(0, 20, n).astype(float)
    zeros = np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n))
    gaps = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
    channel = rng.integers(0, 6, n).astype(float)
    channel[rng.random(n) < 0.1] = np.nan
    x = np.column_stack([channel, visits, zeros, gaps])
    y = (
        (visits > 10) ^ (rng.random(n) < 0.2) | ((channel == 2) & (rng.random(n) < 0.5)) | (gaps > 1)
    ).astype(int)
    return x, y


@pytest.mark.parametrize(
    "settings",
    [
        {"num_leaves": 15, "learning_rate": 0.3},
        {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 5},
        {"num_leaves": 7, "zero_as_missing": True},
    ],
)
def test_equals_lightgbm_pred_contrib(rows, settings):
    x, y = rows
    model = LGBMClassifier(n_estimators=40, verbose=-1, random_state=1, **settings)
    model.fit(x, y, categorical_feature=[0])
    scored = x.copy()
    scored[:20, 0] = 9.0  # a category never seen in training
    scored[20:40, 0] = -1.0  # a negative code counts as missing
    expected = model.booster_.predict(scored, pred_contrib=True)
    got = tree_contributions(model.booster_, scored, min_rows=0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_falls_back_to_lightgbm_when_sides_disagree(rows, monkeypatch, caplog):
    x, y = rows
    model = LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1, random_state=1).fit(
        x, y, categorical_feature=[0]
    )
    monkeypatch.setattr(
        module, "_goes_left", lambda column, missing, split: np.zeros(len(column), dtype=bool)
    )
    with caplog.at_level(logging.WARNING, logger=module.__name__):
        got = tree_contributions(model.booster_, x, min_rows=0)
    np.testing.assert_allclose(got, model.booster_.predict(x, pred_contrib=True), rtol=0, atol=1e-10)
    assert "do not match" in caplog.text


def test_the_check_catches_a_wrong_row_sum_and_wrong_values_that_add_up(rows):
    x, y = rows
    model = LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1, random_state=1).fit(x, y)
    exact = model.booster_.predict(x, pred_contrib=True)
    assert module._agrees_with_lightgbm(model.booster_, x, exact)
    # One row's total off: its contributions no longer add up to LightGBM's raw score.
    one_row = exact.copy()
    one_row[2999, -1] += 1e-6
    assert not module._agrees_with_lightgbm(model.booster_, x, one_row)
    # Every row's sum right but the values shared out wrongly (as a wrong side at a split off a
    # row's path would): the rows compared in full catch it.
    shifted = exact.copy()
    shifted[:, 1] += 0.01
    shifted[:, 2] -= 0.01
    assert not module._agrees_with_lightgbm(model.booster_, x, shifted)
