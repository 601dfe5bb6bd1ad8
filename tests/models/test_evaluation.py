"""Holdout figures by hand: hit rate, recall and reciprocal rank at k, and the binary metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from models.bootstrap import figure, metric_values, paired_difference, resample_weights
from models.evaluation import binary_metrics, deciles, keep_top_k, ranking_metrics


def test_ranking_metrics_by_hand():
    scored = pl.DataFrame(
        {
            "profile_id": ["a", "a", "a", "b", "b", "b", "c"],
            "offer_id": ["x", "y", "z", "x", "y", "z", "x"],
            "score": [0.9, 0.5, 0.1, 0.2, 0.8, 0.7, 0.4],
        }
    )
    top = keep_top_k(scored, 2)
    assert top.filter(pl.col("profile_id") == "b")["offer_id"].to_list() == ["y", "z"]
    bought = pl.DataFrame({"profile_id": ["a", "a", "b", "d"], "offer_id": ["y", "z", "x", "x"]})
    metrics = ranking_metrics(top, bought, 2)
    # Buyers a, b, d: a bought y (rank 2) and z (not shown); b bought x (not shown); d got nothing.
    assert metrics["buyers"] == 3
    assert metrics["hr_at_1"] == pytest.approx(0.0)
    assert metrics["hr_at_2"] == pytest.approx(1 / 3)
    assert metrics["recall_at_2"] == pytest.approx((1 / 2) / 3)
    assert metrics["mrr_at_2"] == pytest.approx((1 / 2) / 3)


def test_top_k_equals_each_profiles_own_ordering_with_rows_interleaved_and_missing_values():
    rng = np.random.default_rng(4)
    n = 400
    scored = pl.DataFrame(
        {
            "profile_id": rng.choice(["a", "b", "c", "d", "e"], n),
            "offer_id": [f"o{i}" for i in range(n)],
            "own": pl.Series(rng.integers(0, 3, n).astype(float)).scatter(
                np.flatnonzero(rng.random(n) < 0.2), None
            ),
            "popular": rng.random(n).round(1),
        }
    )
    top = keep_top_k(scored, 3, by=["own", "popular"])
    assert top["profile_id"].to_list() == sorted(top["profile_id"].to_list())
    for (profile,), rows in scored.group_by(["profile_id"]):
        # Descending, missing values first as in any polars sort, then offer_id.
        expected = rows.sort(["own", "popular", "offer_id"], descending=[True, True, False]).head(3)
        got = top.filter(pl.col("profile_id") == profile)
        assert got["offer_id"].to_list() == expected["offer_id"].to_list()
        assert got["rank"].to_list() == [1, 2, 3]


def test_ties_break_by_offer_id_and_nobody_buying_gives_no_figures():
    scored = pl.DataFrame({"profile_id": ["a", "a"], "offer_id": ["y", "x"], "score": [0.5, 0.5]})
    assert keep_top_k(scored, 1)["offer_id"].to_list() == ["x"]
    assert ranking_metrics(keep_top_k(scored, 1), scored.head(0).select("profile_id", "offer_id"), 1) == {
        "buyers": 0.0
    }


def test_binary_metrics():
    y = np.array([0, 0, 1, 1])
    metrics = binary_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx(np.mean((np.array([0.1, 0.4, 0.35, 0.8]) - y) ** 2))
    assert "brier" not in binary_metrics(y, np.array([3.0, 1.0, 2.0, 9.0]), probability=False)


def test_weighted_figures_match_scikit_learn_with_ties():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 3000)
    score = np.round(rng.random(3000) * 0.5 + y * 0.3, 2)  # many ties
    weights = rng.integers(0, 4, (2, 3000)).astype(float)
    for row in weights:
        assert metric_values("roc_auc", y, score, row[None])[0] == pytest.approx(
            roc_auc_score(y, score, sample_weight=row)
        )
        assert metric_values("pr_auc", y, score, row[None])[0] == pytest.approx(
            average_precision_score(y, score, sample_weight=row)
        )
        assert metric_values("log_loss", y, score, row[None])[0] == pytest.approx(
            log_loss(y, score, sample_weight=row), rel=1e-5
        )


def test_intervals_hold_the_figure_and_narrow_with_more_rows():
    rng = np.random.default_rng(6)
    y = (rng.random(20000) < 0.2).astype(int)
    score = rng.random(20000) + 0.6 * y
    small = figure("roc_auc", y[:200], score[:200])
    large = figure("roc_auc", y, score)
    for f in (small, large):
        assert f.lower <= f.value <= f.upper
    assert (small.upper - small.lower) > 5 * (large.upper - large.lower)
    assert large.value == pytest.approx(roc_auc_score(y, score))


def test_stratified_resamples_keep_the_class_counts():
    y = np.array([1] * 13 + [0] * 561)
    for weights in resample_weights(y, 50):
        assert (weights[:, y == 1].sum(axis=1) == 13).all()
        assert (weights[:, y == 0].sum(axis=1) == 561).all()


def test_a_model_compared_with_itself_differs_by_nothing():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 500)
    score = rng.random(500) + 0.3 * y
    assert paired_difference("roc_auc", y, score, score) == (0.0, 0.0)
    difference, spread = paired_difference("roc_auc", y, score, rng.random(500))
    assert difference > 2 * spread > 0


def test_deciles_give_lift_and_gain():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 10)
    score = np.where(y == 1, 0.9, 0.1) + np.linspace(0, 0.01, 100)
    table = deciles(y, score)
    assert table["decile"].to_list() == list(range(1, 11))
    assert table["rate"][0] == pytest.approx(1.0) and table["lift"][0] == pytest.approx(5.0)
    assert table["gain"][1] == pytest.approx(1.0)
    assert table["gain"][-1] == pytest.approx(1.0)
